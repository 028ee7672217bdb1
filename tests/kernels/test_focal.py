"""The blocked softmax-focal kernel.

The lean path (a blocked custom ``autograd.Function`` that saves no full-size tensor) is
checked against the straightforward composed formula kept next to it (values and gradients,
float64, with a non-uniform upstream gradient), against a float64 closed-form gradient, with
``gradcheck``, with tiny blocks (many blocks, images cut along their positions), in half
precision, at extreme logits, on empty / all-ignored batches, and for what autograd keeps:
no tensor of the logits' size other than the logits themselves.
"""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

import losscraft.functional as LF
from kernels.helpers import HALF, D, _class_case, _gen, _grads, _saved_numels, _small_blocks
from losscraft._core.kernels import lean_kernels
from losscraft.losses.classification import focal_kernel


def _focal_composed(x, t, gamma, ignore_index=-100, alpha=None, weight=None, reduction="mean"):
    """The composed formula (focal_kernel.py's reference), reduced like focal_loss."""
    mask = t != ignore_index
    v = focal_kernel.focal_values_composed(x, t, mask, gamma)
    from losscraft import reduce

    if alpha is None:
        return reduce(v, reduction, weight, mask)
    a = alpha[torch.where(mask, t, torch.zeros_like(t))]
    if weight is not None:
        a = a * weight
    return reduce(v * a, reduction, mask=mask, denominator=a)


def _focal_closed_form_grad(x, t, gamma, ignore_index=-100):
    """d/dx of sum_i -(1-p_y)^g log p_y, written out: coef_i (p_i - onehot(y_i)) (float64)."""
    p = torch.softmax(x, 1)
    keep = t != ignore_index
    ts = torch.where(keep, t, 0)
    onehot = F.one_hot(ts, x.shape[1]).movedim(-1, 1).to(x.dtype)
    log_py = (torch.log_softmax(x, 1) * onehot).sum(1)  # finite also where p_y underflows to 0
    py = log_py.exp()
    u = 1 - py
    coef = u**gamma - gamma * u ** (gamma - 1) * py * log_py
    return (coef * keep).unsqueeze(1) * (p - onehot)


SHAPES = [(7, 5), (3, 4, 6, 5), (2, 3, 5000), (1, 2, 9), (6, 2)]  # C = 1 raises (softmax of one class)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("gamma", [0.25, 1.0, 2.0, 4.5])
@pytest.mark.parametrize("block", [None, 7])
def test_focal_lean_matches_composed(shape, gamma, block, monkeypatch) -> None:
    x, t = _class_case(shape, 1)
    if block is not None:  # ~20+ blocks; images cut along their positions
        _small_blocks(monkeypatch, max(block, x.numel() // 20))
    for reduction in ("none", "sum", "mean"):
        got = _grads(LF.focal_loss, x, t, gamma=gamma, reduction=reduction)
        want = _grads(_focal_composed, x, t, gamma, reduction=reduction)
        # blocked log_softmax may round its sum differently by an ulp
        torch.testing.assert_close(got[0], want[0], rtol=1e-14, atol=1e-16)
        torch.testing.assert_close(got[1], want[1], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_focal_lean_matches_closed_form_gradient(gamma) -> None:
    x, t = _class_case((4, 6, 3, 7), 2, scale=2.0)
    xr = x.clone().requires_grad_(True)
    LF.focal_loss(xr, t, gamma=gamma, reduction="sum").backward()
    torch.testing.assert_close(xr.grad, _focal_closed_form_grad(x, t, gamma), rtol=1e-11, atol=1e-13)


def test_focal_lean_with_alpha_and_weight_matches_composed() -> None:
    x, t = _class_case((5, 4, 3, 3), 3)
    alpha = torch.tensor([0.25, 1.0, 2.0, 0.5], dtype=D)
    w = torch.rand(5, 3, 3, generator=_gen(4), dtype=D) + 0.1
    for reduction in ("none", "sum", "mean"):
        kw = {"gamma": 1.5, "alpha": alpha, "weight": w, "reduction": reduction}
        got = _grads(LF.focal_loss, x, t, **kw)
        want = _grads(lambda z, y, r=reduction: _focal_composed(z, y, 1.5, -100, alpha, w, r), x, t)
        torch.testing.assert_close(got[0], want[0], rtol=1e-14, atol=0)
        torch.testing.assert_close(got[1], want[1], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("block", [None, 5])
def test_focal_lean_gradcheck(block, monkeypatch) -> None:
    if block is not None:
        _small_blocks(monkeypatch, block)
    x, t = _class_case((3, 4, 5), 5, ignore=2, scale=1.0)
    alpha = torch.tensor([0.5, 1.0, 2.0, 0.7], dtype=D)
    for gamma, reduction in itertools.product([0.5, 2.0], ["none", "mean"]):
        assert torch.autograd.gradcheck(
            lambda z, g=gamma, r=reduction: LF.focal_loss(
                z, t, gamma=g, alpha=alpha, ignore_index=2, reduction=r
            ),
            (x.clone().requires_grad_(True),),
        )


@pytest.mark.parametrize("ignore", [-100, 1])
@pytest.mark.parametrize("use_alpha", [False, True])
def test_focal_gamma0_is_torch_cross_entropy(ignore, use_alpha) -> None:
    x, t = _class_case((6, 4, 5), 6, ignore=ignore)
    a = torch.tensor([0.5, 2.0, 1.0, 3.0], dtype=D) if use_alpha else None
    for reduction in ("none", "sum", "mean"):
        got = _grads(LF.focal_loss, x, t, gamma=0.0, alpha=a, ignore_index=ignore, reduction=reduction)
        ce = _grads(LF.cross_entropy_loss, x, t, weight=a, ignore_index=ignore, reduction=reduction)
        assert torch.equal(got[0], ce[0]) and torch.equal(got[1], ce[1])
        ref = _grads(F.cross_entropy, x, t, weight=a, ignore_index=ignore, reduction=reduction)
        torch.testing.assert_close(got[0], ref[0], rtol=1e-14, atol=1e-15)
        torch.testing.assert_close(got[1], ref[1], rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("scale", [1.0, 1e4])
def test_focal_lean_half_is_float32_on_the_same_values(dtype, scale) -> None:
    x, t = _class_case((4, 5, 6), 7, scale=1.0)
    x = (torch.sign(x) * scale if scale != 1.0 else x).to(dtype)
    xh = x.clone().requires_grad_(True)
    xf = x.float().requires_grad_(True)
    vh = LF.focal_loss(xh, t, gamma=0.5, reduction="none")
    vf = LF.focal_loss(xf, t, gamma=0.5, reduction="none")
    assert vh.dtype == torch.float32
    assert torch.equal(vh, vf)
    up = torch.rand(vh.shape, generator=_gen(8))
    vh.backward(up)
    vf.backward(up)
    assert xh.grad is not None and xf.grad is not None and xh.grad.dtype == dtype
    assert torch.isfinite(xh.grad).all()
    assert torch.equal(xh.grad, xf.grad.to(dtype))  # computed in float32, rounded once


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, *HALF])
@pytest.mark.parametrize("gamma", [0.2, 1.0, 2.0])
def test_focal_lean_finite_at_extremes(dtype, gamma) -> None:
    # p_y == 1 exactly, p_y == 0, a tie, all at +-1e4
    x = torch.tensor([[1e4, -1e4, 0.0], [1e4, -1e4, 0.0], [1e4, 1e4, -1e4]], dtype=dtype, requires_grad=True)
    t = torch.tensor([0, 1, 0])
    v = LF.focal_loss(x, t, gamma=gamma, reduction="none")
    assert torch.isfinite(v).all()
    v.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    ref = _focal_closed_form_grad(x.detach().double(), t, gamma)
    torch.testing.assert_close(x.grad.double(), torch.nan_to_num(ref, nan=0.0), rtol=1e-2, atol=1e-3)


@pytest.mark.parametrize("gamma", [0.5, 2.0])
@pytest.mark.parametrize("need_grad", [True, False])
def test_focal_lean_float32_keeps_relative_precision_of_confident_positions(gamma, need_grad) -> None:
    """1 - p_y is summed from the other classes: exact where p_y rounds to 1 in float32.

    Margins 8..24 give 1 - p_y from 1e-3 down to 1e-10 (the loss stays above float32's
    smallest normal number); a float32 log-softmax returns log p_y = 0 beyond margin ~17, so
    the composed formula's loss and gradient become 0 there.
    Reference: the same formula in float64, where nothing rounds away.
    """
    margins = torch.tensor([8.0, 12.0, 16.0, 20.0, 24.0, 3.0, 0.5])
    x = torch.zeros(7, 4, 3)
    x[:, 1, :] = margins.unsqueeze(1)  # class 1 is the target at every position
    x[:, 2, :] = torch.linspace(-2.0, 1.0, 3)  # the others differ a little
    t = torch.ones(7, 3, dtype=torch.long)
    xd = x.double().requires_grad_(True)
    want_v = focal_kernel.focal_values_composed(xd, t, t >= 0, gamma)
    (want_g,) = torch.autograd.grad(want_v.sum(), xd)
    if need_grad:
        xr = x.clone().requires_grad_(True)
        got_v = LF.focal_loss(xr, t, gamma=gamma, reduction="none")
        (got_g,) = torch.autograd.grad(got_v.sum(), xr)
        torch.testing.assert_close(got_g.double(), want_g, rtol=1e-5, atol=0)
    else:
        got_v = LF.focal_loss(x, t, gamma=gamma, reduction="none")
    torch.testing.assert_close(got_v.detach().double(), want_v.detach(), rtol=1e-5, atol=0)
    assert (got_v > 0).all()
    with lean_kernels(False):  # the composed float32 formula loses them: this test can fail
        composed = LF.focal_loss(x, t, gamma=gamma, reduction="none")
    assert (composed[3:5] == 0).all()


@pytest.mark.parametrize("shape", [(0, 3), (0, 3, 4), (2, 3, 0)])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_focal_lean_empty(shape, reduction) -> None:
    x = torch.randn(shape, requires_grad=True)
    t = torch.zeros((shape[0], *shape[2:]), dtype=torch.long)
    out = LF.focal_loss(x, t, reduction=reduction)
    assert out.item() == 0.0 and out.requires_grad
    out.backward()
    assert x.grad is not None and x.grad.shape == x.shape


def test_focal_lean_all_ignored() -> None:
    x = torch.randn(3, 4, 5, requires_grad=True)
    t = torch.full((3, 5), -100)
    out = LF.focal_loss(x, t, alpha=torch.tensor([1.0, 2.0, 3.0, 4.0]))
    assert out.item() == 0.0 and out.requires_grad
    out.backward()
    assert x.grad is not None and torch.equal(x.grad, torch.zeros_like(x))


def test_focal_lean_non_contiguous_and_int_targets() -> None:
    x, t = _class_case((4, 3, 5, 6), 9)
    nc = x.transpose(2, 3).contiguous().transpose(2, 3)
    assert not nc.is_contiguous()
    got = _grads(LF.focal_loss, nc, t, reduction="none")
    want = _grads(LF.focal_loss, x, t, reduction="none")
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    t8 = torch.where(t == -100, 0, t).to(torch.uint8)
    torch.testing.assert_close(
        LF.focal_loss(x, t8, reduction="none"), LF.focal_loss(x, t8.long(), reduction="none"), rtol=0, atol=0
    )


def test_focal_lean_keeps_no_full_size_tensor() -> None:
    x = torch.randn(4, 8, 16, 16, requires_grad=True)
    t = torch.randint(0, 8, (4, 16, 16))
    with _saved_numels() as seen:
        loss = LF.focal_loss(x, t, alpha=torch.rand(8))
    big = [(n, ptr) for n, ptr in seen if n >= x.numel() // 8 * 2]
    assert all(ptr == x.untyped_storage().data_ptr() for _, ptr in big), big
    loss.backward()
