"""The blocked overlap-sum kernels (sigmoid and softmax) of the Dice/Jaccard/Tversky family.

Each lean path (a blocked custom ``autograd.Function`` that saves no full-size tensor) is
checked against the composed formula kept next to it (values and gradients, float64, with a
non-uniform upstream gradient), against a float64 closed-form gradient, with ``gradcheck``,
with tiny blocks, in half precision, at extreme logits, on empty / all-ignored batches, and
for what autograd keeps: no tensor of the logits' size other than the logits themselves.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import losscraft.functional as LF
from kernels.helpers import HALF, MODES, D, _gen, _grads, _overlap_case, _saved_numels, _small_blocks
from losscraft.losses.segmentation import _common as overlap_mod


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
