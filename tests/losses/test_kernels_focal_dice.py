"""Lean kernels of the softmax focal loss and of the overlap (Dice/Jaccard/Tversky) sums.

Each lean path (a blocked custom ``autograd.Function`` that saves no full-size tensor) is
checked against the straightforward composed formula kept next to it (values and gradients,
float64, with a non-uniform upstream gradient), against a float64 closed-form gradient, with
``gradcheck``, with tiny blocks (many blocks, images cut along their positions), in half
precision, at extreme logits, on empty / all-ignored batches, and for what autograd keeps:
no tensor of the logits' size other than the logits themselves.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import torch
import torch.nn.functional as F

import losscraft.functional as LF
from losscraft._core.kernels import lean_kernels
from losscraft.losses.classification import focal_kernel
from losscraft.losses.segmentation import _common as overlap_mod

D = torch.float64
HALF = [torch.float16, torch.bfloat16]


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@contextmanager
def _saved_numels() -> Iterator[list[tuple[int, int]]]:
    """Record ``(numel, data_ptr)`` of every tensor autograd saves for backward."""
    seen: list[tuple[int, int]] = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        seen.append((t.numel(), t.untyped_storage().data_ptr()))
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        yield seen


def _small_blocks(monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    """Force blocks of ``size`` values in the shared planner: many blocks, images cut."""
    monkeypatch.setattr("losscraft._core.blocks.BLOCK_MIN", size)
    monkeypatch.setattr("losscraft._core.blocks.BLOCK_MAX", size)


def _grads(fn: Callable[..., torch.Tensor], x: torch.Tensor, *args: Any, **kw: Any):
    xr = x.detach().clone().requires_grad_(True)
    out = fn(xr, *args, **kw)
    up = torch.rand(out.shape, generator=_gen(99), dtype=out.dtype) + 0.5  # non-uniform
    (g,) = torch.autograd.grad(out, xr, grad_outputs=up)
    return out.detach(), g


# ==================================================================================== focal
def _class_case(shape: tuple[int, ...], seed: int, ignore: int | None = -100, scale: float = 3.0):
    g = _gen(seed)
    x = torch.randn(shape, generator=g, dtype=D) * scale
    t = torch.randint(0, shape[1], (shape[0], *shape[2:]), generator=g)
    if ignore is not None:
        t.view(-1)[::5] = ignore
    return x, t


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


# ================================================================================ overlap
MODES = ("binary", "multiclass", "multilabel")


def _overlap_case(mode: str, shape: tuple[int, ...], seed: int, ignore: int | None):
    g = _gen(seed)
    x = torch.randn(shape, generator=g, dtype=D) * 2
    if mode == "multiclass":
        t = torch.randint(0, shape[1], (shape[0], *shape[2:]), generator=g)
    else:
        t = (torch.rand(shape, generator=g, dtype=D) < 0.4).to(D)
    if ignore is not None:
        t.view(-1)[::6] = ignore
        if mode != "multiclass":
            t.view(-1)[1::6] = 0.3  # soft values among the kept
    return x, t


def _sums(x, t, mode, ignore, aggregate, lean):
    s = overlap_mod.overlap_sums(
        "dice_loss", x, t, mode=mode, ignore_index=ignore, aggregate=aggregate, lean=lean
    )
    return s


def _sums_grads(x, t, mode, ignore, aggregate, lean, target_grad=False):
    xr = x.detach().clone().requires_grad_(True)
    tr = t.detach().clone().requires_grad_(target_grad)
    s = _sums(xr, tr, mode, ignore, aggregate, lean)
    g = _gen(3)
    # independent random weights of the three sums: gi, gp and gg all differ per entry
    total = sum((torch.rand(v.shape, generator=g, dtype=D) - 0.3) * v for v in (s.inter, s.psum, s.gsum))
    total = total.sum()
    inputs = [xr, tr] if target_grad else [xr]
    grads = torch.autograd.grad(total, inputs)
    return (s.inter.detach(), s.psum.detach(), s.gsum.detach(), s.mask), grads


OVERLAP_SHAPES = {
    "binary": [(3, 1, 4, 5), (2, 7), (2, 1, 3000)],
    "multiclass": [(3, 3, 4, 5), (2, 4, 3000), (4, 2, 6)],  # C = 1 raises
    "multilabel": [(3, 3, 4, 5), (2, 2, 3000)],
}


@pytest.mark.parametrize(
    ("mode", "shape"), [(m, s) for m in MODES for s in OVERLAP_SHAPES[m]], ids=lambda v: str(v)
)
@pytest.mark.parametrize("ignore", [None, 255, 0])
@pytest.mark.parametrize("aggregate", ["sample", "batch"])
@pytest.mark.parametrize("block", [None, 7])
def test_overlap_lean_sums_match_composed(mode, shape, ignore, aggregate, block, monkeypatch) -> None:
    x, t = _overlap_case(mode, shape, 11, ignore)
    if block is not None:  # ~20+ blocks; images cut along their positions
        _small_blocks(monkeypatch, max(block, x.numel() // 20))
    soft = mode != "multiclass"
    got_s, got_g = _sums_grads(x, t, mode, ignore, aggregate, True, target_grad=soft)
    want_s, want_g = _sums_grads(x, t, mode, ignore, aggregate, False, target_grad=soft)
    for a, b in zip(got_s[:3], want_s[:3], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-13, atol=1e-12)
    assert (got_s[3] is None) == (want_s[3] is None)
    if got_s[3] is not None:
        assert torch.equal(got_s[3], want_s[3])
    for a, b in zip(got_g, want_g, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["dice", "jaccard", "tversky", "focal_tversky", "generalized_dice"])
@pytest.mark.parametrize("mode", MODES)
def test_overlap_losses_lean_match_composed(name, mode, monkeypatch) -> None:
    fn = getattr(LF, f"{name}_loss")
    x, t = _overlap_case(mode, (3, 3, 5, 4) if mode != "binary" else (3, 1, 5, 4), 12, 255)
    kw = {"mode": mode, "ignore_index": 255, "reduction": "none"}
    got = _grads(fn, x, t, **kw)
    real = overlap_mod.overlap_sums
    monkeypatch.setattr(overlap_mod, "overlap_sums", lambda *a, **k: real(*a, **{**k, "lean": False}))
    mod = __import__(f"losscraft.losses.segmentation.{name}", fromlist=["overlap_sums"])
    monkeypatch.setattr(mod, "overlap_sums", overlap_mod.overlap_sums)
    want = _grads(fn, x, t, **kw)
    torch.testing.assert_close(got[0], want[0], rtol=1e-13, atol=1e-14)
    torch.testing.assert_close(got[1], want[1], rtol=1e-11, atol=1e-14)


def _dice_closed_form_grad(x, t, smooth):
    """d/dx of sum_{n,c} (1 - (2I + s)/(S + s)) for multiclass, through the softmax, float64."""
    p = torch.softmax(x, 1)
    g = F.one_hot(t, x.shape[1]).movedim(-1, 1).to(x.dtype)
    dims = tuple(range(2, x.dim()))
    inter = (p * g).sum(dims, keepdim=True)
    den = p.sum(dims, keepdim=True) + g.sum(dims, keepdim=True) + smooth
    v = -(2 * g * den - (2 * inter + smooth)) / den**2  # dL/dp
    return p * (v - (p * v).sum(1, keepdim=True))


@pytest.mark.parametrize("block", [None, 5])
def test_dice_multiclass_matches_closed_form_gradient(block, monkeypatch) -> None:
    if block is not None:
        _small_blocks(monkeypatch, block)
    x, t = _overlap_case("multiclass", (2, 4, 6, 5), 13, None)
    xr = x.clone().requires_grad_(True)
    LF.dice_loss(xr, t, mode="multiclass", smooth=0.5, reduction="sum").backward()
    torch.testing.assert_close(xr.grad, _dice_closed_form_grad(x, t, 0.5), rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("aggregate", ["sample", "batch"])
def test_overlap_lean_gradcheck_small_blocks(mode, aggregate, monkeypatch) -> None:
    _small_blocks(monkeypatch, 5)
    shape = (2, 3, 3, 4) if mode != "binary" else (2, 1, 3, 4)
    x, t = _overlap_case(mode, shape, 14, 255)
    for fn in (LF.dice_loss, LF.jaccard_loss):
        assert torch.autograd.gradcheck(
            lambda z, f=fn: f(z, t, mode=mode, ignore_index=255, aggregate=aggregate, reduction="none"),
            (x.clone().requires_grad_(True),),
        )
    if mode != "multiclass":  # soft targets are differentiable
        tt = torch.rand(shape, generator=_gen(15), dtype=D)
        assert torch.autograd.gradcheck(
            lambda z, y: LF.dice_loss(z, y, mode=mode, aggregate=aggregate, reduction="none"),
            (x.clone().requires_grad_(True), tt.requires_grad_(True)),
        )


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", HALF)
def test_overlap_lean_half_is_float32_on_the_same_values(mode, dtype) -> None:
    shape = (2, 3, 8, 9) if mode != "binary" else (2, 1, 8, 9)
    x, t = _overlap_case(mode, shape, 16, None)
    x = x.to(dtype)
    t = t if mode == "multiclass" else t.to(dtype)
    xh = x.clone().requires_grad_(True)
    xf = x.float().requires_grad_(True)
    tf = t if mode == "multiclass" else t.float()
    vh = LF.dice_loss(xh, t, mode=mode, reduction="none")
    vf = LF.dice_loss(xf, tf, mode=mode, reduction="none")
    assert vh.dtype == torch.float32
    torch.testing.assert_close(vh, vf, rtol=0, atol=0)
    vh.sum().backward()
    vf.sum().backward()
    assert xh.grad is not None and xf.grad is not None and xh.grad.dtype == dtype
    assert torch.equal(xh.grad, xf.grad.to(dtype))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [torch.float32, *HALF])
def test_overlap_lean_finite_at_extremes(mode, dtype) -> None:
    shape = (2, 3, 4, 5) if mode != "binary" else (2, 1, 4, 5)
    x, t = _overlap_case(mode, shape, 17, None)
    x = (torch.sign(x) * 1e4).to(dtype).requires_grad_(True)
    t = t if mode == "multiclass" else t.to(dtype)
    for fn in (LF.dice_loss, LF.jaccard_loss):
        out = fn(x, t, mode=mode)
        assert torch.isfinite(out)
        (g,) = torch.autograd.grad(out, x)
        assert torch.isfinite(g).all()


@pytest.mark.parametrize("mode", MODES)
def test_overlap_lean_empty_and_all_ignored(mode) -> None:
    c = 1 if mode == "binary" else 3
    x = torch.randn(0, c, 4, requires_grad=True)
    t = torch.zeros(0, 4, dtype=torch.long) if mode == "multiclass" else torch.zeros(0, c, 4)
    out = LF.dice_loss(x, t, mode=mode)
    assert out.item() == 0.0 and out.requires_grad
    out.backward()
    x = torch.randn(2, c, 4, requires_grad=True)
    t = torch.full((2, 4), 255) if mode == "multiclass" else torch.full((2, c, 4), 255.0)
    out = LF.jaccard_loss(x, t, mode=mode, ignore_index=255)
    assert out.item() == 0.0 and out.requires_grad
    out.backward()
    assert x.grad is not None and torch.equal(x.grad, torch.zeros_like(x))


def test_overlap_lean_non_contiguous_and_int_targets() -> None:
    x, t = _overlap_case("multiclass", (3, 4, 5, 6), 18, None)
    nc = x.transpose(2, 3).contiguous().transpose(2, 3)
    got = _grads(LF.dice_loss, nc, t, mode="multiclass", reduction="none")
    want = _grads(LF.dice_loss, x, t, mode="multiclass", reduction="none")
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    for dt in (torch.uint8, torch.int32):
        torch.testing.assert_close(
            _grads(LF.dice_loss, x, t.to(dt), mode="multiclass", reduction="none"), want, rtol=0, atol=0
        )


@pytest.mark.parametrize("mode", MODES)
def test_overlap_lean_keeps_no_full_size_tensor(mode) -> None:
    c = 1 if mode == "binary" else 4
    x = torch.randn(2, c, 16, 16, requires_grad=True)
    multiclass = mode == "multiclass"
    t = torch.randint(0, c, (2, 16, 16)) if multiclass else (torch.rand(2, c, 16, 16) < 0.5).float()
    with _saved_numels() as seen:
        loss = LF.dice_loss(x, t, mode=mode, ignore_index=255)
    own = {x.untyped_storage().data_ptr(), t.untyped_storage().data_ptr()}
    big = [(n, ptr) for n, ptr in seen if n >= 64]
    assert all(ptr in own for _, ptr in big), big
    loss.backward()


def test_overlap_gsum_counts_are_exact_integers() -> None:
    x = torch.zeros(1, 2, 3)
    t = torch.tensor([[0, 1, 1]])
    s = _sums(x, t, "multiclass", None, "sample", True)
    assert s.gsum.tolist() == [[1.0, 2.0]]


# ======================================================================= both: autograd extras
def test_second_order_gradients_are_exact() -> None:
    """create_graph=True differentiates the composed formula: gradgradcheck passes."""
    x, t = _class_case((3, 4, 5), 21, scale=1.0)
    assert torch.autograd.gradgradcheck(
        lambda z: LF.focal_loss(z, t, gamma=1.5, reduction="none"), (x.clone().requires_grad_(True),)
    )
    for mode in MODES:
        shape = (2, 3, 2, 3) if mode != "binary" else (2, 1, 2, 3)
        xo, to = _overlap_case(mode, shape, 22, 255)
        assert torch.autograd.gradgradcheck(
            lambda z, m=mode, y=to: LF.dice_loss(z, y, mode=m, ignore_index=255, reduction="none"),
            (xo.clone().requires_grad_(True),),
        )
    xb, _ = _overlap_case("binary", (2, 1, 2, 3), 23, None)
    tb = torch.rand(xb.shape, generator=_gen(24), dtype=D)
    assert torch.autograd.gradgradcheck(
        lambda z, y: LF.jaccard_loss(z, y, reduction="none"),
        (xb.clone().requires_grad_(True), tb.requires_grad_(True)),
    )


def test_repeated_backward_with_retain_graph_agrees() -> None:
    x, t = _class_case((3, 4, 6), 25)
    xr = x.clone().requires_grad_(True)
    for out in (LF.focal_loss(xr, t), LF.dice_loss(xr, t.clamp_min(0), mode="multiclass")):
        (g1,) = torch.autograd.grad(out, xr, retain_graph=True)
        (g2,) = torch.autograd.grad(out, xr)
        assert torch.equal(g1, g2)


def test_lean_kernels_switch_and_torch_func_use_the_composed_path() -> None:
    x, t = _class_case((3, 4, 6), 26)
    tm = t.clamp_min(0)
    lean = [_grads(LF.focal_loss, x, t), _grads(LF.dice_loss, x, tm, mode="multiclass")]
    with lean_kernels(False), _saved_numels() as seen:
        LF.dice_loss(x.clone().requires_grad_(True), tm, mode="multiclass")
        composed = [_grads(LF.focal_loss, x, t), _grads(LF.dice_loss, x, tm, mode="multiclass")]
    assert any(n == x.numel() and ptr != x.untyped_storage().data_ptr() for n, ptr in seen)  # softmax kept
    for a, b in zip(lean, composed, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)
    # torch.func transforms cannot run a custom Function without setup_context: composed path.
    for fn, y, kw in ((LF.focal_loss, t, {}), (LF.dice_loss, tm, {"mode": "multiclass"})):
        g = torch.func.grad(lambda z, f=fn, yy=y, k=kw: f(z, yy, **k))(x)
        xr = x.clone().requires_grad_(True)
        (ref,) = torch.autograd.grad(fn(xr, y, **kw), xr)
        torch.testing.assert_close(g, ref, rtol=1e-12, atol=1e-14)
