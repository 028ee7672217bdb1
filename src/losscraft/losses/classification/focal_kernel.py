r"""The blocked softmax-focal kernel: values and gradient with one exponential per logit.

Used by :func:`~losscraft.losses.classification.focal.focal_loss` on the CPU where
:func:`~losscraft._core.kernels.use_lean` holds; the composed reference formula
(:func:`focal_values_composed`) is used elsewhere (``torch.compile``, ``torch.func``
transforms, other devices, ``lean_kernels(False)``) and for higher-order gradients. The logits
are walked in blocks from the shared planner :func:`losscraft._core.blocks.blocks`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ..._core.blocks import blocks
from ..._core.checks import to_compute

__all__ = ["focal_values_composed", "softmax_focal_values"]


def softmax_focal_values(
    input: Tensor, t: Tensor, ignore_index: int, gamma: float, dt: torch.dtype
) -> Tensor:
    """Per-position focal values ``-(1 - p_y)^gamma log p_y`` of ``(N, C, ...)`` logits, blocked.

    ``t`` is the ``long`` class index of shape ``(N, ...)``; ignored positions hold 0 (masked
    by the reducer). Differentiable in ``input`` through :class:`_SoftmaxFocal`.
    """
    n, c = input.shape[0], input.shape[1]
    npos = math.prod(input.shape[2:])
    x3, t2 = input.reshape(n, c, npos), t.reshape(n, npos)
    # float32/float64 logits that need a gradient: the gradient is computed in the
    # forward pass (one softmax per value); half precision recomputes it in backward.
    grad_now = input.dtype == dt and input.requires_grad and torch.is_grad_enabled()
    values = _SoftmaxFocal.apply(x3, t2, ignore_index, gamma, dt, grad_now)  # type: ignore[no-untyped-call]
    out: Tensor = values.reshape(t.shape)
    return out


def focal_values_composed(x: Tensor, t: Tensor, mask: Tensor, gamma: float) -> Tensor:
    """The straightforward formula ``-(1 - p_y)^gamma log p_y`` (reference; used under compile)."""
    t_safe = torch.where(mask, t, torch.zeros_like(t))  # ignored: class 0 (masked by reduce)
    log_p = F.log_softmax(x, dim=1).gather(1, t_safe.unsqueeze(1)).squeeze(1)
    # 1 - p via -expm1(log p): full precision as p -> 1. clamp_min(tiny): at p == 1
    # exactly, u**gamma has slope gamma u^(gamma-1) = inf for gamma < 1 (and inf * 0 = NaN
    # in backward); clamped, the slope is finite and clamp's own gradient there is 0.
    u = (-torch.expm1(log_p)).clamp_min(torch.finfo(x.dtype).tiny)
    return -log_p * u.pow(gamma)


def _tiles(n: int, c: int, npos: int) -> Iterator[tuple[slice, slice]]:
    """The blocks of an ``(N, C, P)`` logits tensor: the shared planner, whole samples kept.

    Values per block: 1/32 of the logits, within ``[2**16, 2**20]`` (one whole sample if
    larger, up to ``2**20``); see :func:`losscraft._core.blocks.blocks`.
    """
    # Why never cut a sample that fits BLOCK_MAX: fewer, longer ops on contiguous memory.
    # Measured fwd+bwd, 2 threads, (8, 16, 256, 256): whole samples 53 ms, 256K-value cuts
    # 88 ms (torch cross_entropy 66 ms); (8, 19, 512, 512), samples of 5M: 1M-value cuts
    # 233 ms, whole samples 239 ms (torch cross_entropy 283 ms).
    return blocks(n, c, npos, whole_samples=True)


def _block_views(x3: Tensor, t2: Tensor, ns: slice, ps: slice, ignore_index: int) -> tuple[Tensor, Tensor]:
    """One block of logits and its class-index tensor (ignored positions -> class 0).

    Classes stay on dim 1 and the index has a singleton dim 1, so ``gather``/``scatter_add``
    along dim 1 address each position's own class. Without spatial dims the block is the 2-D
    ``(samples, C)`` slice, whose softmax runs along the contiguous last dim.
    """
    if x3.shape[2] == 1:
        xb, tb = x3[ns, :, 0], t2[ns]
    else:
        xb, tb = x3[ns, :, ps], t2[ns, ps].unsqueeze(1)
    return xb, tb.masked_fill(tb == ignore_index, 0)


def _target_index(idx: Tensor, c: int, npos: int, n0: int = 0, p0: int = 0) -> Tensor:
    """Row-major flat positions, in an ``(N, C, npos)`` tensor, of each block position's own class.

    ``idx`` is the block's ``(b, 1)`` (no spatial dims) or ``(b, 1, P)`` class index, the
    block starting at sample ``n0`` and position ``p0``. Why flat indices:
    ``take``/``put_``/``index_fill_`` are faster than ``gather``/``scatter_`` along the class
    dim, and they address a strided block inside the full buffer directly.
    """
    # take/put_/index_fill_ measured 2-4x faster than gather/scatter_ along the class dim.
    rows = torch.arange(n0, n0 + idx.shape[0], device=idx.device).mul_(c)
    if idx.dim() == 2:
        return (idx.squeeze(1) + rows).mul_(npos).add_(p0)
    lin = (idx.squeeze(1) + rows.unsqueeze(1)).mul_(npos)
    return lin.add_(torch.arange(p0, p0 + idx.shape[2], device=idx.device)).reshape(-1)


def _focal_block(
    xb: Tensor,
    idx: Tensor,
    x_y: Tensor,
    keep: Tensor,
    gamma: float,
    dt: torch.dtype,
    p: Tensor,
    at: tuple[Tensor, Tensor] | None,
) -> tuple[Tensor, Tensor]:
    r"""Focal values and ``coef`` of one block; with ``at``, ``coef (p - onehot)`` in ``p``.

    ``idx`` is the block's class index, ``x_y`` each position's own-class logit and ``keep``
    its 0/1 weight (all ``(b, 1[, P])``); ``p`` a contiguous buffer of ``xb``'s shape in dtype
    ``dt``, or, with ``at = (flat, lin)``, a view into the gradient whose own-class entries
    are ``flat[lin]``.
    One exponential per value: ``p = exp(x - max)`` (the softmax numerators, composed from
    primitives: faster than ``torch.softmax`` along dim 1), then the own-class
    numerator ``e_y`` is read and zeroed, so the class sum is ``o``, the sum of the *other*
    numerators, and ``s = o + e_y``. Hence, without cancellation:

    * ``u = 1 - p_y = o / s``, exact even where ``p_y`` rounds to 1;
    * ``log p_y = (x_y - max) - log s`` where ``u > 1/2`` (log-softmax, finite where ``p_y``
      underflows) and ``log1p(-u)`` where ``u <= 1/2``.

    Returns the values and ``coef`` (zero at ignored positions).
    """
    xc = xb if xb.dtype == dt else xb.to(dt)
    m = xc.amax(1, keepdim=True)
    torch.sub(xc, m, out=p).exp_()  # measured 1.5x faster than torch.softmax along dim 1
    if at is None:
        flat, lin = p.view(-1), _target_index(idx, xb.shape[1], idx.shape[2] if idx.dim() == 3 else 1)
    else:
        flat, lin = at
    e_y = flat.take(lin).view(idx.shape)
    flat.index_fill_(0, lin, 0.0)
    o = p.sum(1, keepdim=True)
    s = o + e_y
    u = o.div_(s)  # 1 - p_y
    log_sm = x_y.sub(m).sub_(s.log())
    nlp = torch.where(u > 0.5, log_sm, torch.log1p(u.neg())).neg_()  # -log p_y >= 0
    u.clamp_min_(torch.finfo(dt).tiny)  # the composed formula's clamp (p_y == 1 exactly)
    ug = u.pow(gamma)
    values = nlp * ug
    # coef = -d loss / d log p_y = u^gamma (1 + gamma r), r = p_y (-log p_y) / u in [0, 1]:
    # no u^(gamma - 1), which overflows as p_y -> 1.
    coef = nlp.mul_(e_y.div_(s)).div_(u).mul_(gamma).add_(1.0).mul_(ug).mul_(keep)
    if at is not None:
        p.mul_(coef / s)  # other classes: coef p_c = coef e_c / s
        flat.put_(lin, (coef * u).neg_().reshape(-1))  # own class: coef (p_y - 1) = -coef u
    return values, coef


def _focal_blocks(
    x3: Tensor, t2: Tensor, ignore_index: int, gamma: float, dt: torch.dtype, write_grad: bool
) -> tuple[Tensor, Tensor | None, Tensor | None]:
    """Block by block: values ``(N, P)``, and the gradient buffer ``(N, C, P)`` or ``coef``.

    With ``write_grad`` the gradient (for a unit upstream gradient) is written straight into
    its (strided) block of the buffer and ``coef`` is not kept (``None``); otherwise the
    gradient is ``None`` and ``coef`` ``(N, P)`` (zero at ignored positions) is returned for
    the recompute-in-backward schedule.
    """
    n, c, npos = x3.shape
    values = torch.empty((n, npos), dtype=dt, device=x3.device)
    coef = None if write_grad else torch.empty_like(values)
    grad = torch.empty_like(x3, dtype=dt, memory_format=torch.contiguous_format) if write_grad else None
    for ns, ps in _tiles(n, c, npos):
        xb, idx = _block_views(x3, t2, ns, ps, ignore_index)
        tb = t2[ns] if npos == 1 else t2[ns, ps].unsqueeze(1)
        lin = _target_index(idx, c, npos, ns.start, ps.start)
        x_y = x3.take(lin).view(idx.shape).to(dt)
        if grad is None:
            p = torch.empty(xb.shape, dtype=dt, device=x3.device)
            at = None
        else:
            p = grad[ns, :, 0] if npos == 1 else grad[ns, :, ps]
            at = (grad.view(-1), lin)
        vb, cb = _focal_block(xb, idx, x_y, (tb != ignore_index).to(dt), gamma, dt, p, at)
        values[ns, ps] = vb.reshape(values[ns, ps].shape)
        if coef is not None:
            coef[ns, ps] = cb.reshape(coef[ns, ps].shape)
    return values, grad, coef


class _SoftmaxFocal(torch.autograd.Function):
    r"""Per-position softmax focal loss ``-(1 - p_y)^gamma log p_y`` on ``(N, C, P)`` logits.

    The loss depends on the logits only through ``log p_y``, so its gradient is
    ``coef * (p - onehot(y))`` with the per-position scalar
    ``coef = -dl/dlog p_y = u^gamma (1 + gamma r)``, ``u = 1 - p_y``, ``r = p_y (-log p_y) / u``.
    Values come from one softmax per block (:func:`_focal_block`; a block is ~1/32 of the
    logits, whole samples when they fit), then one of two schedules:

    * ``grad_now`` (float32/float64 logits that require a gradient): the same pass writes the
      gradient for a unit upstream gradient into one logits-sized buffer; backward multiplies
      it in place by ``grad_out`` and hands it to autograd. One softmax in all, against
      ``log_softmax`` in forward plus ``softmax`` again in backward for the composed formula.
    * otherwise (half precision, or no gradient needed): only ``coef`` is kept (``1/C`` of the
      logits); backward recomputes the softmax per block in float32 and rounds the gradient
      once into the half-precision buffer.

    Either way the peak of forward plus backward is the gradient plus one block, and the
    values do not depend on the schedule. A second backward (``retain_graph=True``)
    recomputes the buffer the first one handed over; ``create_graph=True`` differentiates the
    composed formula (exact second order).
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, x3: Tensor, t2: Tensor, ignore_index: int, gamma: float, dt: torch.dtype, grad_now: bool
    ) -> Tensor:
        ctx.ignore_index, ctx.gamma, ctx.dt, ctx.grad_now = ignore_index, gamma, dt, grad_now
        values, ctx.buf, coef = _focal_blocks(x3, t2, ignore_index, gamma, dt, grad_now)
        ctx.save_for_backward(x3, t2, *(() if coef is None else (coef,)))
        return values

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, None, None, None, None, None]:  # type: ignore[override]
        x3, t2, *rest = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            ctx.buf = None
            return None, None, None, None, None, None
        dt: torch.dtype = ctx.dt
        if torch.is_grad_enabled():
            # create_graph=True: differentiate the composed formula instead (exact and
            # differentiable again, only slower); coef is a constant and cannot be.
            with torch.enable_grad():
                values = focal_values_composed(to_compute(x3, dt), t2, t2 != ctx.ignore_index, ctx.gamma)
                (g,) = torch.autograd.grad(values, x3, grad_out, create_graph=True)
            return g, None, None, None, None, None
        if ctx.grad_now:
            buf: Tensor | None = ctx.buf
            ctx.buf = None  # hand the buffer over: autograd adopts it as the gradient, no copy
            if buf is None:  # a second backward (retain_graph=True): recompute it
                buf = _focal_blocks(x3, t2, ctx.ignore_index, ctx.gamma, dt, True)[1]
                assert buf is not None
            return buf.mul_(grad_out.to(dt).unsqueeze(1)), None, None, None, None, None
        coef = rest[0]
        n, c, npos = x3.shape
        go = grad_out.to(dt)
        grad = torch.empty_like(x3, memory_format=torch.contiguous_format)
        for ns, ps in _tiles(n, c, npos):
            xb, idx = _block_views(x3, t2, ns, ps, ctx.ignore_index)
            # per-position scale of (p - onehot), per block: no second (N, P) buffer
            kb = (coef[ns, ps] * go[ns, ps]).reshape(idx.shape)
            gb = grad[ns, :, 0] if npos == 1 else grad[ns, :, ps]
            p = torch.softmax(xb, dim=1, dtype=dt)
            gb.copy_(p.mul_(kb).scatter_add_(1, idx, kb.neg()))  # rounded once into the buffer
        return grad, None, None, None, None, None
