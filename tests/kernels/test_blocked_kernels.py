"""What the blocked kernels (softmax focal, overlap sums) share.

Exact higher-order gradients (through the composed formula), repeated backward through a
retained graph, and the ``lean_kernels`` switch and ``torch.func`` transforms taking the
composed path.
"""

from __future__ import annotations

import torch

import losscraft.functional as LF
from kernels.helpers import MODES, D, _class_case, _gen, _grads, _overlap_case, _saved_numels
from losscraft._core.kernels import lean_kernels


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
