r"""Binary/multilabel overlap sums: a blocked sigmoid kernel and its composed reference.

:func:`sigmoid_sums` returns the per-(sample, class) sums ``inter``, ``psum``, ``gsum`` (see
``_common.OverlapSums``) of ``(N, C, P)`` logits against float targets of the same shape, for
every overlap loss in ``mode="binary"`` (``C = 1``) and ``mode="multilabel"``. The
intersection is the soft one, $\sum_i \min(p_i, g_i)$ (:func:`_soft_min`), equal to
$\sum_i p_i g_i$ bit for bit on hard targets.

The lean path is a custom autograd Function (:class:`_SigmoidSums`) that works block by block
and saves no full-size tensor: backward recomputes the sigmoid block by block and writes the
logits' (and a soft target's) gradient straight into its buffer, so forward plus backward
peaks at about the gradient plus one block. The composed formula (:func:`_sigmoid_sums`) is
the reference, the path ``overlap_sums`` takes where the lean one does not apply, and what a
``create_graph=True`` backward differentiates (second-order gradients).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..._core.blocks import blocks
from ..._core.checks import to_compute
from ._block_buffer import block_buffer

__all__ = ["sigmoid_sums"]


def sigmoid_sums(
    x3: Tensor, g3: Tensor, ignore_index: int | None, dt: torch.dtype, *, lean: bool
) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    """``(inter, psum, gsum, count)`` of ``(N, C, P)`` logits and targets.

    The sums are ``(N, C)`` in ``dt``; ``count`` is the ``(N, C)`` number of kept positions,
    ``None`` without ``ignore_index``. ``lean`` picks the blocked kernel :class:`_SigmoidSums`,
    otherwise the composed formula; both give the same values and gradients.
    """
    if lean:
        inter, psum, gsum, count = _SigmoidSums.apply(x3, g3, ignore_index, dt)  # type: ignore[no-untyped-call]
        return inter, psum, gsum, None if ignore_index is None else count
    return _sigmoid_sums(x3, g3, ignore_index, dt)


def _sigmoid_sums(
    x3: Tensor, g3: Tensor, ignore_index: int | None, dt: torch.dtype
) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    """Composed reference of :class:`_SigmoidSums` on ``(N, C, P)`` logits and targets."""
    x = to_compute(x3, dt)
    g = to_compute(g3, dt)
    count = None
    keep = None
    if ignore_index is not None:
        keep = g != ignore_index
        # where, not multiply: the ignored target value (e.g. 255) and the prediction there
        # (even a NaN logit, as in torch's cross_entropy) must not enter any sum; the logit is
        # replaced before the sigmoid, else its backward turns the zero gradient into NaN.
        g = torch.where(keep, g, g.new_zeros(()))
        x = torch.where(keep, x, x.new_zeros(()))
        count = keep.sum(-1)
    p = torch.sigmoid(x)
    if keep is not None:
        p = torch.where(keep, p, p.new_zeros(()))
    return _soft_min(p, g).sum(-1), p.sum(-1), g.sum(-1), count


def _soft_min(p: Tensor, g: Tensor) -> Tensor:
    """``min(p, g)``, the soft intersection; equal to ``p * g`` exactly when ``g`` is 0 or 1.

    Why ``where(p > g, g, p)`` rather than ``torch.minimum``: a NaN ``p`` propagates either
    way, but at a tie the gradient goes to ``p`` alone (``torch.minimum`` splits it), the
    subgradient the lean kernel uses: ``d/dp = [p <= g]``, ``d/dg = [p > g]``.
    """
    return torch.where(p > g, g, p)


class _SigmoidSums(torch.autograd.Function):
    r"""Binary/multilabel overlap sums without keeping any full-size tensor for backward.

    Forward: block by block, ``p = sigmoid(x)`` and the three sums, with ``inter = Σ_i min(p_i,
    g_i)`` (:func:`_soft_min`; ``p_i g_i`` exactly on hard targets). Backward:
    ``∂L/∂x_i = p_i (1 - p_i) (gp + gi [p_i <= g_i])`` and, for a differentiable (soft)
    target, ``∂L/∂g_i = gi [p_i > g_i] + gg`` (``gg = ∂L/∂gsum``), both zero at ignored
    positions; on hard targets the first is the product rule's ``gp + gi g_i`` exactly (at
    ``p = g = 0`` the sigmoid factor is 0). Sigmoid is recomputed per block and the gradients
    are written straight into their buffers.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, x3: Tensor, g3: Tensor, ignore_index: int | None, dt: torch.dtype
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        n, c, npos = x3.shape
        inter = torch.zeros((n, c), dtype=dt, device=x3.device)
        psum = torch.zeros_like(inter)
        gsum = torch.zeros_like(inter)
        count = torch.zeros((n, c), dtype=torch.long, device=x3.device)
        # Blocks of 1/32 of the logits, within [2**16, 2**20]: large enough that the loop's
        # per-op overhead is negligible (few, big kernels), small enough that the block
        # temporaries (several per block in backward) add a few percent to the peak memory (the
        # gradient itself is 100%). Unlike the focal kernel, images are cut even when they would
        # fit 2**20 (whole_samples=False): whole-image blocks measured 1.22-1.25x peak on 32 MB
        # inputs, cuts 1.06x.
        for ns, ps in blocks(n, c, npos, whole_samples=False):
            p = torch.sigmoid(to_compute(x3[ns, :, ps], dt))
            g = to_compute(g3[ns, :, ps], dt)
            if ignore_index is not None:
                keep = g != ignore_index
                # where, not multiply: the ignored target value (e.g. 255) and the prediction
                # there (even a NaN logit) must enter no sum.
                g = torch.where(keep, g, g.new_zeros(()))
                p.masked_fill_(~keep, 0.0)
                count[ns] += keep.sum(-1)
            psum[ns] += p.sum(-1)
            gsum[ns] += g.sum(-1)
            # min(p, g), in place: the value of _soft_min (NaN included), p * g on hard targets
            inter[ns] += torch.minimum(p, g, out=p).sum(-1)
        ctx.save_for_backward(x3, g3)
        ctx.ignore_index = ignore_index
        ctx.dt = dt
        ctx.mark_non_differentiable(count)
        if not ctx.needs_input_grad[1]:
            ctx.mark_non_differentiable(gsum)
        return inter, psum, gsum, count

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: Any, g_inter: Tensor, g_psum: Tensor, g_gsum: Tensor, _g_count: Tensor
    ) -> tuple[Tensor | None, Tensor | None, None, None]:
        x3, g3 = ctx.saved_tensors
        need_x, need_g = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        dt: torch.dtype = ctx.dt
        ignore_index: int | None = ctx.ignore_index
        if torch.is_grad_enabled():
            # create_graph=True: differentiate the composed sums (exact, differentiable again).
            with torch.enable_grad():
                outs = _sigmoid_sums(x3, g3, ignore_index, dt)[:3]
                pairs = [
                    (o, g) for o, g in zip(outs, (g_inter, g_psum, g_gsum), strict=True) if o.requires_grad
                ]
                wrt = [t for t, need in zip((x3, g3), (need_x, need_g), strict=True) if need]
                grads = torch.autograd.grad(
                    [o for o, _ in pairs], wrt, [g for _, g in pairs], create_graph=True, allow_unused=True
                )
            it = iter(grads)
            gx = next(it) if need_x else None
            gg_ = next(it) if need_g else None
            return gx, gg_, None, None
        n, c, npos = x3.shape
        gi, gp, gg = (v.to(dt).unsqueeze(-1) for v in (g_inter, g_psum, g_gsum))
        grad_x = torch.empty_like(x3, memory_format=torch.contiguous_format) if need_x else None
        grad_g = torch.empty_like(g3, memory_format=torch.contiguous_format) if need_g else None
        # The logits' gradient is built in place in its own (strided) block when it has the
        # compute dtype; otherwise (half logits, or no logits' gradient) in a scratch block.
        direct = grad_x is not None and grad_x.dtype == dt
        buf = None if direct else block_buffer(x3, dt)
        for ns, ps in blocks(n, c, npos, whole_samples=False):  # the forward's blocks
            p = torch.sigmoid(to_compute(x3[ns, :, ps], dt))
            g = to_compute(g3[ns, :, ps], dt)
            keep = None
            if ignore_index is not None:
                keep = g != ignore_index
                g = torch.where(keep, g, g.new_zeros(()))
            # ∂min(p, g)/∂p = [p <= g] (the subgradient of _soft_min at ties) as 0/1 floats: a
            # comparison into the output block and addcmul, ~4x faster than a broadcast where.
            blk = grad_x[ns, :, ps] if direct else buf[: p.numel()].view(p.shape)  # type: ignore[index,union-attr]
            le = torch.le(p, g, out=blk)
            if grad_g is not None:
                # ∂inter/∂g = [p > g] = 1 - le, ∂gsum/∂g = 1: gg + gi - gi le
                dg = torch.addcmul(gg[ns] + gi[ns], gi[ns], le, value=-1.0)
                if keep is not None:
                    dg.masked_fill_(~keep, 0.0)
                grad_g[ns, :, ps] = dg
            if grad_x is not None:
                dx = torch.addcmul(gp[ns], gi[ns], le, out=le).mul_(p)  # (gp + gi [p <= g]) p
                dx.mul_(p.neg_().add_(1.0))  # ... (1 - p): the sigmoid derivative
                if keep is not None:
                    dx.masked_fill_(~keep, 0.0)
                if not direct:
                    grad_x[ns, :, ps] = dx
        return grad_x, grad_g, None, None
