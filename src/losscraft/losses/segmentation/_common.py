r"""Shared machinery of the overlap losses (Dice, Jaccard): validation, per-class sums, samples.

Both losses reduce to three per-(sample, class) sums over the spatial positions,

* ``inter`` $= \sum_i \min(p_i, g_i)$ (soft true positives),
* ``psum``  $= \sum_i p_i$ (soft predicted volume),
* ``gsum``  $= \sum_i g_i$ (target volume),

The intersection is the fuzzy-set one, $\min(p, g)$, not the product $p g$: the two are
equal, bit for bit, on hard targets $g \in \{0, 1\}$ (and multiclass targets are always hard),
and with it ``psum + gsum - 2 inter`` $= \sum_i |p_i - g_i|$, so every overlap loss built on
these sums is the semimetric loss of Wang & Blaschko (2023) on soft targets: zero exactly
when the prediction equals the (soft) target (the product gives $\sum_i p_i (1 - p_i) > 0$
there: a Dice loss of about 0.35 at a uniform soft target).

so they share one function that validates the inputs for the three modes, applies the
activation (sigmoid or softmax) and computes the sums; ``aggregate="batch"`` sums them over the
batch as well. In multiclass mode the target is never expanded to a one-hot float tensor: the
intersection gathers the probability of each pixel's own class and scatters it into its class
bin, and the target volume is a per-class pixel count.

The sums are computed by custom autograd Functions (:class:`_SoftmaxSums`,
:class:`_SigmoidSums`) that work block by block and save no full-size tensor: the loss depends
on each position only through the per-(sample, class) sums, so its gradient with respect to
the probabilities is two ``(N, C)`` constants, and backward recomputes the activation block by
block and writes the logits' gradient straight into its buffer. Peak memory of forward plus
backward is the gradient plus one block, instead of the probabilities, their masks and
gathers kept by autograd (MONAI's ``DiceLoss`` peaks at about three times the input). The
composed formula is used where ``_core.kernels.use_lean`` says so (``torch.compile`` tracing,
vmap/functorch, non-CPU devices, ``lean_kernels(False)``) and for ``create_graph=True``
backward passes (second-order gradients).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..._core.checks import (
    check_class_index,
    check_finite_range,
    check_floating,
    check_same_shape,
    check_softmax_classes,
    compute_dtype,
    fmt_shape,
    to_compute,
    values_are_concrete,
)
from ..._core.errors import LosscraftError
from ..._core.kernels import use_lean
from ..._core.sampling import randn, uniform
from ..._core.spec import Call, Choice, Interval, Param, Ref

__all__ = [
    "AGGREGATES",
    "DML_REF",
    "JML_REF",
    "MODES",
    "NONE_SHAPE",
    "OverlapSums",
    "check_multiclass",
    "lovasz_extension",
    "make_curve",
    "overlap_params",
    "overlap_sample",
    "overlap_sums",
    "safe_pow",
    "safe_ratio",
    "tversky_loss_from_sums",
]

MODES = ("binary", "multiclass", "multilabel")
AGGREGATES = ("sample", "batch")
NONE_SHAPE = "(N, C) per sample and class; (C,) with aggregate='batch' (binary: C = 1)"

DML_REF = Ref(
    "Z. Wang, T. Popordanoska, J. Bertels, R. Lemmens, M. B. Blaschko",
    "Dice Semimetric Losses: Optimizing the Dice Score with Soft Labels",
    "MICCAI 2023",
    2023,
    "https://arxiv.org/abs/2303.16296",
)
JML_REF = Ref(
    "Z. Wang, X. Ning, M. B. Blaschko",
    "Jaccard Metric Losses: Optimizing the Jaccard Index with Soft Labels",
    "NeurIPS 2023",
    2023,
    "https://arxiv.org/abs/2302.05666",
)

# Spatial size of the images produced by ``overlap_sample``.
_SPATIAL = (4, 5)
_CLASSES = 3


def overlap_params() -> tuple[Param, ...]:
    """The hyperparameters shared by Dice and Jaccard, in signature order."""
    return (
        Param(
            "mode",
            "binary",
            Choice(MODES),
            "'binary' (one foreground channel, sigmoid), 'multiclass' (class-index target, "
            "softmax over dim 1) or 'multilabel' (one sigmoid channel per class)",
        ),
        Param(
            "smooth",
            1.0,
            Interval(0.0, math.inf),
            "additive smoothing in numerator and denominator; > 0 makes empty masks a "
            "perfect score and keeps gradients alive on empty images",
        ),
        Param(
            "ignore_index",
            None,
            Interval(optional=True, integer=True),
            "target value whose positions are excluded from every sum (None: keep all)",
        ),
        Param(
            "aggregate",
            "sample",
            Choice(AGGREGATES),
            "'sample': one score per image and class; 'batch': sums over the whole batch first",
        ),
    )


@dataclass
class OverlapSums:
    r"""Per-(sample, class) sums ``(N, C)``, or per-class ``(C,)`` with ``aggregate="batch"``.

    ``mask`` is ``None`` without ``ignore_index``; otherwise it marks the entries that kept at
    least one position (entries whose positions are all ignored are excluded by ``reduce``).
    ``inter`` is $\sum_i \min(p_i, g_i)$ (equal to $\sum_i p_i g_i$ on hard targets), so
    ``psum + gsum - 2 inter`` is $\sum_i |p_i - g_i|$ and ``psum - inter``, ``gsum - inter``
    are $\sum_i (p_i - g_i)_+$ and $\sum_i (g_i - p_i)_+$.
    """

    inter: Tensor
    psum: Tensor
    gsum: Tensor
    mask: Tensor | None


def _shape_error(fn: str, expected: str, input: Tensor, target: Tensor, mode: str) -> LosscraftError:
    return LosscraftError(
        f"{fn}: 'target' must have shape {expected} for mode={mode!r}, got input "
        f"{fmt_shape(input)} and target {fmt_shape(target)}"
    )


def overlap_sums(
    fn: str,
    input: Tensor,
    target: Tensor,
    *,
    mode: str,
    ignore_index: int | None,
    aggregate: str,
    lean: bool | None = None,
) -> OverlapSums:
    """Validate ``input``/``target`` for ``mode`` and return the overlap sums.

    ``mode``, ``ignore_index`` and ``aggregate`` must already be validated (``check_params``).
    ``lean`` selects the blocked custom-autograd kernels (:class:`_SoftmaxSums`,
    :class:`_SigmoidSums`); ``None`` (the default) follows ``_core.kernels.use_lean``: the
    composed formula while ``torch.compile`` traces (inductor fuses it; the blocked loop would
    unroll into a huge graph), under vmap/functorch, off the CPU and inside
    ``lean_kernels(False)``. Both give the same values and gradients.
    """
    check_floating(fn, "input", input)
    if lean is None:
        lean = use_lean(input)
    if mode == "multiclass":
        n, c, npos = check_multiclass(fn, input, target, ignore_index)
        dt = compute_dtype(input)
        x3 = input.reshape(n, c, npos)
        t2 = target.reshape(n, npos)
        if lean:
            inter, psum, gsum, count = _SoftmaxSums.apply(x3, t2, ignore_index, dt)  # type: ignore[no-untyped-call]
            sums = (inter, psum, gsum, None if ignore_index is None else count)
        else:
            sums = _multiclass_sums(x3, t2, ignore_index, dt)
    else:
        n, c, npos = _check_sigmoid(fn, input, target, mode, ignore_index)
        dt = compute_dtype(input, target)
        x3 = input.reshape(n, c, npos)
        g3 = target.reshape(n, c, npos)
        if lean:
            inter, psum, gsum, count = _SigmoidSums.apply(x3, g3, ignore_index, dt)  # type: ignore[no-untyped-call]
            sums = (inter, psum, gsum, None if ignore_index is None else count)
        else:
            sums = _sigmoid_sums(x3, g3, ignore_index, dt)
    inter, psum, gsum, count = sums
    mask = None
    if aggregate == "batch":
        inter, psum, gsum = inter.sum(0), psum.sum(0), gsum.sum(0)
        if count is not None:
            count = count.sum(0)
    if count is not None:
        mask = (count > 0).expand_as(inter)
    return OverlapSums(inter, psum, gsum, mask)


def _check_sigmoid(
    fn: str, input: Tensor, target: Tensor, mode: str, ignore_index: int | None
) -> tuple[int, int, int]:
    """Binary / multilabel: float target of the input's shape in [0, 1] (or ``ignore_index``).

    Returns ``(N, C, P)``: binary has one channel and every non-batch dim is spatial;
    multilabel has its classes on dim 1.
    """
    check_floating(fn, "target", target)
    min_dim = 1 if mode == "binary" else 2
    if input.dim() < min_dim:
        layout = "(N, *) or (N, 1, *)" if mode == "binary" else "(N, C, *)"
        raise LosscraftError(
            f"{fn}: 'input' must have shape {layout} for mode={mode!r}, got {fmt_shape(input)}"
        )
    check_same_shape(fn, input, target)
    if ignore_index is None:
        check_finite_range(fn, "target", target, 0.0, 1.0)
    elif values_are_concrete(target):
        td = target.detach()
        check_finite_range(fn, "target", td[td != ignore_index], 0.0, 1.0)
    n = input.shape[0]
    c = 1 if mode == "binary" else input.shape[1]
    npos = math.prod(input.shape[1:]) if mode == "binary" else math.prod(input.shape[2:])
    return n, c, npos


# --------------------------------------------------------------------------- composed sums
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


def _multiclass_sums(
    x3: Tensor, t2: Tensor, ignore_index: int | None, dt: torch.dtype
) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    """Composed reference of :class:`_SoftmaxSums`: ``(N, C, P)`` logits, ``(N, P)`` indices."""
    n, c, npos = x3.shape
    x = to_compute(x3, dt)
    # int64 for gather/scatter (uint8/int32 targets are accepted) and for comparing with ignore_index.
    t = t2.reshape(n, 1, npos).long()
    count = None
    if ignore_index is not None:
        keep = t != ignore_index
        keep_f = keep.to(dt)
        # Ignored pixels: a valid dummy class for the gather/scatter, and zero weight everywhere
        # (where, not multiply: a NaN logit at an ignored pixel enters no sum, as in torch's CE;
        # replaced before the softmax too, whose backward would turn the zero gradient into NaN).
        t = torch.where(keep, t, t.new_zeros(()))
        probs = torch.softmax(torch.where(keep, x, x.new_zeros(())), dim=1)
        probs = torch.where(keep, probs, probs.new_zeros(()))
        count = keep.sum(-1)  # (N, 1): kept pixels of each image, shared by all classes
        ones = keep_f
    else:
        probs = torch.softmax(x, dim=1)
        ones = probs.new_ones(n, 1, npos)
    # No one-hot: the intersection of class k is the sum of p_k over the pixels labelled k, so
    # gather each pixel's own-class probability and scatter-add it into its class bin.
    own = probs.gather(1, t)
    inter = probs.new_zeros(n, c).scatter_add(1, t.reshape(n, npos), own.reshape(n, npos))
    gsum = probs.new_zeros(n, c).scatter_add(1, t.reshape(n, npos), ones.reshape(n, npos))
    return inter, probs.sum(-1), gsum, count


# --------------------------------------------------------------------------- lean sums
# Values per (samples, C, positions) block: 1/32 of the logits, within [2**16, 2**20]. Large
# enough that the loop's per-op overhead is negligible (few, big kernels), small enough that
# the block temporaries (several per block in backward) add a few percent to the peak memory
# (the gradient itself is 100%). Unlike the focal kernel, images are cut even when they would
# fit 2**20: whole-image blocks measured 1.22-1.25x peak on 32 MB inputs, cuts 1.06x.
_BLOCK_MIN = 1 << 16
_BLOCK_MAX = 1 << 20


def _blocks(n: int, c: int, npos: int) -> Iterator[tuple[slice, slice]]:
    """(sample slice, position slice) pairs tiling ``(N, P)``, ~1/32 of the logits each.

    Whole images are grouped while ``C * P`` fits the block (contiguous blocks); larger
    images are cut along the positions, one image at a time.
    """
    budget = min(_BLOCK_MAX, max(_BLOCK_MIN, n * c * npos // 32))  # globals read per call
    row = max(c, 1) * npos
    if row <= budget:
        step = max(1, budget // max(row, 1))
        for n0 in range(0, n, step):
            yield slice(n0, min(n0 + step, n)), slice(0, npos)
        return
    step = max(1, budget // max(c, 1))
    for n0 in range(n):
        for p0 in range(0, npos, step):
            yield slice(n0, n0 + 1), slice(p0, min(p0 + step, npos))


def _keep_and_safe(tb: Tensor, ignore_index: int | None) -> tuple[Tensor, Tensor | None]:
    """Class indices with ignored positions mapped to class 0, and the kept mask (or None)."""
    tb = tb.long()
    if ignore_index is None:
        return tb, None
    keep = tb != ignore_index
    return tb.masked_fill(~keep, 0), keep


def _softmax_into(xb: Tensor, out: Tensor) -> Tensor:
    """``softmax(xb, dim=1)`` written into ``out`` (any strides, ``out``'s dtype).

    Why not ``torch.softmax``: along dim 1 of a strided ``(N, C, P)`` block it first copies
    the block to contiguous memory and cannot write into a view; composed from primitives
    it measured 2x faster on ``(1, 4, 262144)`` blocks (2 threads) and writes straight into
    the gradient buffer.
    """
    xc = xb if xb.dtype == out.dtype else xb.to(out.dtype)
    torch.sub(xc, xc.amax(1, keepdim=True), out=out).exp_()
    return out.div_(out.sum(1, keepdim=True))


def _block_buffer(x3: Tensor, dt: torch.dtype) -> Tensor:
    """A flat scratch buffer for the largest block of :func:`_blocks` (the first one)."""
    n, c, npos = x3.shape
    first = next(_blocks(n, c, npos), None)
    size = 0 if first is None else x3[first[0], :, first[1]].numel()
    return torch.empty(size, dtype=dt, device=x3.device)


class _SoftmaxSums(torch.autograd.Function):
    r"""Multiclass overlap sums without keeping any ``(N, C, P)`` tensor for backward.

    Forward: block by block, ``p = softmax(x)``; ``psum = Σ_i p``, ``inter`` scatter-adds each
    position's own-class probability into its class bin, ``gsum`` counts the labels (exact
    beyond 2**24 positions). Backward: the loss depends on the positions only through
    ``inter`` and ``psum``, so ``∂L/∂p_{ci} = gp_c + gi_c [y_i = c]`` with per-(sample, class)
    constants ``gi = ∂L/∂inter``, ``gp = ∂L/∂psum``; the softmax Jacobian-vector product is
    ``∂L/∂x_{ci} = p_{ci} (gp_c - s_i) + p_{ci} gi_c [y_i = c]`` with
    ``s_i = Σ_k p_{ki} gp_k + p_{y_i i} gi_{y_i}``. Softmax is recomputed block by block, so
    only the logits and the targets (both held by the caller) are saved, and the gradient is
    written straight into its output buffer: peak memory is the gradient plus one block.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, x3: Tensor, t2: Tensor, ignore_index: int | None, dt: torch.dtype
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        n, c, npos = x3.shape
        inter = torch.zeros((n, c), dtype=dt, device=x3.device)
        psum = torch.zeros_like(inter)
        # Label counts: a float64 accumulator of per-block float counts (a block holds < 2**24
        # positions, so each is exact, and so is their float64 sum); a float scatter_add is
        # about twice as fast as an int64 one on CPU.
        gcount = torch.zeros((n, c), dtype=torch.float64, device=x3.device)
        count = torch.zeros((n, 1), dtype=torch.long, device=x3.device)
        one = torch.ones((), dtype=dt, device=x3.device)
        buf = _block_buffer(x3, dt)
        for ns, ps in _blocks(n, c, npos):
            xb = x3[ns, :, ps]
            p = _softmax_into(xb, buf[: xb.numel()].view(xb.shape))
            tb, keep = _keep_and_safe(t2[ns, ps], ignore_index)
            if keep is not None:
                p.masked_fill_(~keep.unsqueeze(1), 0.0)  # ignored positions (even NaN) enter no sum
                count[ns, 0] += keep.sum(-1)
            psum[ns] += p.sum(-1)
            inter[ns].scatter_add_(1, tb, p.gather(1, tb.unsqueeze(1)).squeeze(1))
            src = one.expand(tb.shape) if keep is None else keep.to(dt)
            gcount[ns] += torch.zeros_like(psum[ns]).scatter_add_(1, tb, src)
        ctx.save_for_backward(x3, t2)
        ctx.ignore_index = ignore_index
        ctx.dt = dt
        gsum = gcount.to(dt)
        ctx.mark_non_differentiable(gsum, count)
        return inter, psum, gsum, count

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: Any, g_inter: Tensor, g_psum: Tensor, _g_gsum: Tensor, _g_count: Tensor
    ) -> tuple[Tensor | None, None, None, None]:
        x3, t2 = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None, None
        dt: torch.dtype = ctx.dt
        if torch.is_grad_enabled():
            # create_graph=True: differentiate the composed sums (exact, differentiable again).
            with torch.enable_grad():
                inter, psum, _, _ = _multiclass_sums(x3, t2, ctx.ignore_index, dt)
                (g,) = torch.autograd.grad((inter, psum), x3, (g_inter, g_psum), create_graph=True)
            return g, None, None, None
        n, c, npos = x3.shape
        gi, gp = g_inter.to(dt), g_psum.to(dt)
        grad = torch.empty_like(x3, memory_format=torch.contiguous_format)
        direct = x3.dtype == dt  # else: compute the block in dt, then round into the half grad
        tmp_buf = _block_buffer(x3, dt)
        p_buf = None if direct else _block_buffer(x3, dt)
        for ns, ps in _blocks(n, c, npos):
            xb = x3[ns, :, ps]
            tmp = tmp_buf[: xb.numel()].view(xb.shape)
            # p straight into the gradient's (strided) block, or into scratch for half grads
            p = _softmax_into(xb, grad[ns, :, ps] if p_buf is None else p_buf[: xb.numel()].view(xb.shape))
            tb, keep = _keep_and_safe(t2[ns, ps], ignore_index=ctx.ignore_index)
            idx = tb.unsqueeze(1)
            own = p.gather(1, idx)  # p_y
            gi_y = gi[ns].gather(1, tb).unsqueeze(1)
            # s = Σ_k p_k gp_k (a batched mat-vec: no (C, P) temporary) + p_y gi_y
            s = torch.bmm(gp[ns].unsqueeze(1), p).addcmul_(gi_y, own)
            p.mul_(torch.sub(gp[ns].unsqueeze(-1), s, out=tmp)).scatter_add_(1, idx, gi_y.mul_(own))
            if keep is not None:
                p.masked_fill_(~keep.unsqueeze(1), 0.0)
            if p_buf is not None:
                grad[ns, :, ps] = p
        return grad, None, None, None


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
        for ns, ps in _blocks(n, c, npos):
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
        buf = None if direct else _block_buffer(x3, dt)
        for ns, ps in _blocks(n, c, npos):
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


def check_multiclass(
    fn: str,
    input: Tensor,
    target: Tensor,
    ignore_index: int | None,
    suggestion: str = "for one foreground channel use mode='binary' (sigmoid)",
    what: str = "mode='multiclass' (a softmax over the classes)",
) -> tuple[int, int, int]:
    """Validate ``(N, C, *)`` logits, ``C >= 2``, against an ``(N, *)`` class-index target.

    ``C = 1`` raises (``what`` names the softmax, ``suggestion`` the one-channel form): a
    softmax over one class is 1 everywhere, so the loss would be exactly 0 with zero gradient.
    Returns ``(N, C, P)`` with ``P`` the number of spatial positions.
    """
    check_floating(fn, "input", input)
    if input.dim() < 2:
        raise LosscraftError(
            f"{fn}: 'input' must have shape (N, C, *) for mode='multiclass', got {fmt_shape(input)}"
        )
    check_softmax_classes(fn, input, suggestion, what)
    n, c = input.shape[0], input.shape[1]
    spatial = tuple(input.shape[2:])
    check_class_index(fn, "target", target, c, ignore_index)
    if tuple(target.shape) != (n, *spatial):
        raise _shape_error(
            fn, fmt_shape((n, *spatial)) + " (input's shape without dim 1)", input, target, "multiclass"
        )
    return n, c, math.prod(spatial)


def safe_ratio(num: Tensor, den: Tensor) -> Tensor:
    """``num / den`` with ``0 / 0 -> 0`` (finite, zero gradient), used where ``den`` can vanish.

    Why the double ``where``: the untaken branch is still differentiated, so it must be finite.
    Why ``den == 0`` and not ``den > 0``: only an exactly empty denominator takes the 0 branch;
    a NaN (from a NaN logit) must reach the loss, and ``NaN > 0`` is False.
    """
    empty = den == 0
    return torch.where(empty, torch.zeros_like(num), num / torch.where(empty, torch.ones_like(den), den))


# --------------------------------------------------------------------------- sample and curve
def overlap_sample(
    n: int, *, generator: torch.Generator, dtype: torch.dtype, mode: str = "binary", **_: object
) -> Call:
    """Valid random small images of batch size ``n`` for ``mode``.

    Binary ``(n, 1, 4, 5)`` logits with a {0, 1} mask, multiclass ``(n, 3, 4, 5)`` logits with a
    ``(n, 4, 5)`` class-index target, multilabel ``(n, 3, 4, 5)`` with {0, 1} masks. Logits are
    standard normal.
    """
    if mode == "multiclass":
        x = randn((n, _CLASSES, *_SPATIAL), generator, dtype)
        t = torch.randint(0, _CLASSES, (n, *_SPATIAL), generator=generator)
        return Call((x, t))
    c = 1 if mode == "binary" else _CLASSES
    x = randn((n, c, *_SPATIAL), generator, dtype)
    t = (uniform((n, c, *_SPATIAL), generator, torch.float64) < 0.5).to(dtype)
    return Call((x, t))


def make_curve(fn: str, target: float = 1.0, *, per_class: bool = True) -> Callable[..., Call]:
    """Curve factory: logit ``x`` of a one-pixel image (target 1: foreground), per grid point.

    ``target=0.0`` gives the false-positive slice: one background pixel predicted with logit
    ``x``.

    Binary with ``aggregate="sample"``: a batch of ``G`` one-pixel images ``(G, 1)``;
    multilabel: one image with ``G`` one-pixel classes ``(1, G)``, which keeps one value per
    point under both aggregations, for losses with one value per class (``per_class``; not
    generalized Dice, which combines the classes). Multiclass (softmax couples the classes)
    and binary with ``aggregate="batch"`` (one value per batch) have no such slice.
    """

    def curve(x: Tensor, mode: str = "binary", aggregate: str = "sample", **_: object) -> Call:
        x = x.reshape(-1)
        t = torch.full_like(x, target)
        if mode == "multilabel" and per_class:
            return Call((x.reshape(1, -1), t.reshape(1, -1)))
        if mode == "binary" and aggregate == "sample":
            return Call((x.reshape(-1, 1), t.reshape(-1, 1)))
        allowed = "mode='multilabel', or mode='binary' with " if per_class else "mode='binary' with "
        raise LosscraftError(
            f"{fn}: the logit curve is defined for {allowed}aggregate='sample', "
            f"got mode={mode!r}, aggregate={aggregate!r}"
        )

    return curve


# --------------------------------------------------------------------------- Tversky family
def tversky_loss_from_sums(s: OverlapSums, alpha: float, beta: float, smooth: float) -> Tensor:
    r"""$1 - TI$ with $TI = (TP + s) / (TP + \alpha FP + \beta FN + s)$ from the overlap sums.

    ``TP = inter`` $= \sum \min(p, g)$, ``FP = psum - inter`` $= \sum (p - g)_+$ and
    ``FN = gsum - inter`` $= \sum (g - p)_+$ (clamped at 0 against rounding): the split of the
    Dice semimetric's $\|p - g\|_1$ into over- and under-prediction, so the loss is 0 exactly
    at a soft target, and Salehi et al.'s counts on hard targets. Written as
    ``err / (err + TP + s)`` with ``err = alpha FP + beta FN``: no cancellation in ``1 - TI``
    near a perfect score, and ``0 <= loss <= 1``; ``0 / 0`` (``smooth=0``, both empty) is 0.
    """
    fp = (s.psum - s.inter).clamp_min(0.0)
    fn = (s.gsum - s.inter).clamp_min(0.0)
    err = alpha * fp + beta * fn
    return safe_ratio(err, err + s.inter + smooth)


def safe_pow(u: Tensor, exponent: float) -> Tensor:
    """``u ** exponent`` for ``u >= 0`` with finite gradients, also for ``exponent < 1`` at 0.

    Why: the derivative ``e u^(e-1)`` is infinite at ``u = 0`` for ``e < 1`` (a perfect
    prediction), and autograd turns ``inf * 0`` into NaN. Below the smallest normal number
    of the dtype the base is clamped (its gradient is then 0), so ``u^(e-1) <= tiny^(e-1)``
    stays finite for every ``e > 0``; exactly 0 maps to 0 with gradient 0 (the limit of the
    true gradient along a sigmoid/softmax, whose derivative vanishes faster).
    """
    if exponent == 1.0:
        return u
    tiny = torch.finfo(u.dtype).tiny
    # == 0, not > 0: a NaN base (from a NaN logit) must stay NaN (clamp_min propagates it).
    return torch.where(u == 0, torch.zeros_like(u), u.clamp_min(tiny).pow(exponent))


# --------------------------------------------------------------------------- Lovasz
def lovasz_extension(errors: Tensor, fg: Tensor, valid: Tensor | None, *, hinge: bool) -> Tensor:
    r"""Lovász extension of the Jaccard loss, row-wise: ``(..., P)`` errors -> ``(...)``.

    Berman et al.'s algorithm (``lovasz_grad``): sort the errors in decreasing order; with
    ``g`` the foreground indicator in that order and $G = \sum g$, the Jaccard loss of the
    first ``k`` mispredicted positions is $1 - (G - \sum_{j \le k} g_j) / (G + \sum_{j \le k}
    (1 - g_j))$, and the loss is the dot product of the sorted errors with its increments.
    ``hinge=True`` applies ``relu`` to the sorted errors (binary hinge errors may be
    negative). The increments depend on the labels only (constants for autograd).

    Invalid (``valid == False``) positions are sorted last and get increment 0, so they drop
    out exactly; a row without valid positions is 0 with zero gradient. The sort is stable,
    so ties (e.g. saturated logits) are broken by position and every dtype takes the same
    subgradient.
    """
    key = errors if valid is None else torch.where(valid, errors, torch.full_like(errors, -math.inf))
    _, perm = torch.sort(key.detach(), dim=-1, descending=True, stable=True)
    err = errors.gather(-1, perm)
    g = fg.detach().to(errors.dtype).gather(-1, perm)
    if valid is not None:
        v = valid.gather(-1, perm).to(errors.dtype)
        g = g * v
        bg = (1.0 - g) * v
    else:
        bg = 1.0 - g
    gts = g.sum(-1, keepdim=True)
    inter = gts - g.cumsum(-1)
    union = gts + bg.cumsum(-1)
    jac = 1.0 - safe_ratio(inter, union)
    jac = torch.where(union > 0, jac, torch.zeros_like(jac))
    incr = torch.cat([jac[..., :1], jac[..., 1:] - jac[..., :-1]], dim=-1)
    if hinge:
        err = torch.relu(err)
    if valid is not None:
        err = torch.where(v > 0, err, torch.zeros_like(err))
    return (err * incr).sum(-1)
