"""Softmax (multi-class) focal loss."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ..._core.checks import (
    FloatVector,
    as_tensor_param,
    check_class_weight,
    check_params,
    compute_dtype,
    to_compute,
)
from ..._core.kernels import use_lean
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
from ..._core.spec import (
    Call,
    Curve,
    Family,
    InputKind,
    Interval,
    LossSpec,
    Param,
    Property,
    Relation,
    TargetKind,
    Task,
    TensorDomain,
)
from ._common import (
    check_class_input,
    check_index_target,
    multiclass_curve_call,
    multiclass_sample,
)
from .binary_focal import FOCAL_REF


def _sample(n: int, *, generator: torch.Generator, dtype: torch.dtype, **hparams: object) -> Call:
    return multiclass_sample(n, generator=generator, dtype=dtype, class_param="alpha", **hparams)


def _curve(x: Tensor, **hparams: object) -> Call:
    return multiclass_curve_call(x, class_param="alpha", **hparams)


SPEC = LossSpec(
    name="focal",
    family=Family.CLASSIFICATION,
    tasks=(Task.MULTICLASS,),
    input_kind=InputKind.LOGITS,
    target_kind=TargetKind.CLASS_INDEX,
    params=(
        Param(
            "gamma",
            2.0,
            Interval(0.0, math.inf),
            "focusing parameter: (1 - p_y)^gamma down-weights well-classified samples",
        ),
        Param(
            "alpha",
            None,
            TensorDomain(optional=True),
            "per-class weight alpha_c of shape (C,), like cross_entropy's weight; None = all 1",
        ),
        Param(
            "ignore_index",
            -100,
            Interval(-math.inf, math.inf, integer=True),
            "class-index target value that is skipped",
        ),
    ),
    # Not CONVEX: with gamma = 2 the curve on logits [x, 0, 0] (target 0) is concave around
    # x ~ -3.2 (second difference < 0, measured on the (-6, 6) grid).
    properties=frozenset(
        {
            Property.NONNEGATIVE,
            Property.SMOOTH,
            Property.BOUNDED_GRADIENT,
            Property.NEEDS_LOGITS,
            Property.HANDLES_IMBALANCE,
            Property.DOWNWEIGHTS_EASY,
        }
    ),
    formula=(
        r"\ell_i = -\alpha_{y_i} (1 - p_{i y_i})^\gamma \log p_{i y_i},\quad "
        r"p_i = \operatorname{softmax}(x_i)"
    ),
    summary="Softmax cross-entropy scaled by (1 - p_y)^gamma; gamma=0 is cross_entropy exactly.",
    references=(FOCAL_REF,),
    sample=_sample,
    curve=Curve("logit", (-6.0, 6.0), _curve),
    relations=(
        Relation("cross_entropy", params={"gamma": 0.0}, rtol=0.0, atol=0.0, note="exactly, same reduction"),
    ),
    none_shape="sample",
    ignore_index=True,
    when_to_use=(
        "Multi-class dense prediction (segmentation, detection heads) dominated by easy "
        "examples; long-tailed classification with small gamma (0.5) and class-balanced alpha."
    ),
)


@register(SPEC, aliases=("softmax_focal", "multiclass_focal"))
def focal_loss(
    input: Tensor,
    target: Tensor,
    *,
    gamma: float = 2.0,
    alpha: FloatVector | None = None,
    ignore_index: int = -100,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Softmax focal loss: multi-class cross-entropy scaled by $(1 - p_y)^\gamma$.

    The multi-class form of Lin et al.'s focal loss: samples (or pixels) the model already
    classifies confidently contribute little, so dense tasks are not swamped by easy
    examples. With ``gamma=0`` it equals :func:`cross_entropy_loss` with ``weight=alpha``
    exactly, for every reduction.

    $$\ell_i = -\alpha_{y_i}\,(1 - p_{i y_i})^\gamma \log p_{i y_i},\qquad
    p_i = \operatorname{softmax}(x_i) \text{ over dim 1}$$

    ($\alpha_c = 1$ when ``alpha=None``), reduced as described in *Reductions*
    (``docs/conventions.md``), with ``alpha`` acting like ``cross_entropy``'s class weight:
    ``"mean"`` is $\sum_i \ell_i / \sum_i \alpha_{y_i}$ over non-ignored positions (times the
    per-position ``weight`` if given, in both sums). This differs from MONAI's and kornia's
    softmax focal loss, which average over classes too (their ``gamma=0`` is CE / C, and
    kornia's scalar ``alpha`` scales every class).

    **Gradient:** with $p = p_{iy_i}$ and $u = 1 - p$:
    $\partial\ell/\partial x_{ic} = \alpha_{y_i} u^{\gamma-1}\big(u - \gamma p \log p\big)
    (p_{ic} - \mathbb 1[c = y_i])$ — bounded, vanishing as $p \to 1$; zero at ignored
    positions.

    Computed by a blocked kernel with one exponential per logit: when the logits need a
    gradient, the forward pass writes it into one buffer that backward scales in place, so
    forward plus backward peaks at about 1.1-1.4 times the logits' size (the gradient itself
    is 1) and takes 0.8-0.9x the time of torch's ``cross_entropy`` on 2 CPU threads, where the
    composed formula keeps ``log_softmax`` and its gather/scatter temporaries (about 3 times)
    and runs two exponential passes. ``gamma=0`` calls torch's ``cross_entropy`` kernel.

    Args:
        input: logits of shape ``(N, C)`` or ``(N, C, d1, ...)`` (classes on dim 1).
        target: class indices, integer tensor of shape ``(N,)`` / ``(N, d1, ...)``, values in
            ``[0, C)`` or ``ignore_index``.
        gamma: focusing parameter $\gamma \ge 0$. Default 2.0.
        alpha: per-class weights of shape ``(C,)`` (a tensor or a list), finite values $\ge 0$,
            or ``None``. Default ``None``.
        ignore_index: target value whose positions are skipped. Default -100.
        weight: optional non-negative per-position weights broadcastable to ``(N, d1, ...)``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per position, shape
            ``(N, d1, ...)``).

    Returns:
        A scalar, or a tensor of shape ``(N, d1, ...)`` for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: ``input`` not ``(N, C, ...)`` floating, or ``C = 1`` (use
        :func:`binary_focal_loss`); a class index outside
        ``[0, C)`` (the message names it); a target of the wrong shape or dtype; ``alpha`` not
        ``(C,)`` / negative; ``gamma < 0``; bad ``ignore_index``, ``weight`` or ``reduction``.

    Examples:
        >>> import torch, losscraft.functional as LF
        >>> x = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0], [1.0, 3.0, 0.0]])
        >>> y = torch.tensor([0, 2, -100])
        >>> LF.focal_loss(x, y, reduction="none")
        tensor([0.0041, 0.4883, 0.0000])
        >>> LF.focal_loss(x, y, gamma=0.0, reduction="none")  # cross-entropy
        tensor([0.1698, 1.0986, 0.0000])

    References:
        Lin, Goyal, Girshick, He & Dollár (2017), *Focal Loss for Dense Object Detection*,
        ICCV (TPAMI 2020).
    """
    fn = "focal_loss"
    alpha = as_tensor_param(alpha, input)  # a list or tuple: the same rule as the Module
    check_params(SPEC, {"gamma": gamma, "alpha": alpha, "ignore_index": ignore_index, "reduction": reduction})
    num_classes = check_class_input(fn, input)
    check_class_weight(fn, "alpha", alpha, num_classes)
    check_index_target(fn, input, target, ignore_index)
    dt = compute_dtype(input)
    t = target.long()
    mask = t != ignore_index
    check_weight(fn, weight, t.shape)
    w = None if alpha is None else alpha.to(device=input.device, dtype=dt)
    if gamma == 0.0:
        # Cross-entropy exactly: torch's native kernel and the same reducer as
        # cross_entropy_loss(weight=alpha), whose values already carry alpha_y.
        values = F.cross_entropy(
            to_compute(input, dt), t, weight=w, ignore_index=ignore_index, reduction="none"
        )
        if w is None:
            return reduce(values, reduction, weight, mask)
        a = w[torch.where(mask, t, torch.zeros_like(t))]
        if weight is not None:
            values, a = values * weight.to(dt), a * weight.to(dt)
        return reduce(values, reduction, mask=mask, denominator=a)
    if not use_lean(input):
        # torch.compile (inductor fuses the composed formula; the blocked loop would unroll),
        # vmap/functorch, non-CPU devices, or lean_kernels(False): the composed formula.
        values = _focal_values_composed(to_compute(input, dt), t, mask, gamma)
    else:
        n, c = input.shape[0], input.shape[1]
        npos = math.prod(input.shape[2:])
        x3, t2 = input.reshape(n, c, npos), t.reshape(n, npos)
        # float32/float64 logits that need a gradient: the gradient is computed in the
        # forward pass (one softmax per value); half precision recomputes it in backward.
        grad_now = input.dtype == dt and input.requires_grad and torch.is_grad_enabled()
        values = _SoftmaxFocal.apply(x3, t2, ignore_index, gamma, dt, grad_now)  # type: ignore[no-untyped-call]
        values = values.reshape(t.shape)
    if w is None:
        return reduce(values, reduction, weight, mask)
    # Ignored positions gather class 0 (finite); reduce() zeroes them through the mask.
    a = w[torch.where(mask, t, torch.zeros_like(t))]
    if weight is not None:
        a = a * weight.to(dt)
    # alpha acts like cross_entropy's class weight: "mean" divides by sum(alpha_y).
    return reduce(values * a, reduction, mask=mask, denominator=a)


def _focal_values_composed(x: Tensor, t: Tensor, mask: Tensor, gamma: float) -> Tensor:
    """The straightforward formula ``-(1 - p_y)^gamma log p_y`` (reference; used under compile)."""
    t_safe = torch.where(mask, t, torch.zeros_like(t))  # ignored: class 0 (masked by reduce)
    log_p = F.log_softmax(x, dim=1).gather(1, t_safe.unsqueeze(1)).squeeze(1)
    # 1 - p via -expm1(log p): full precision as p -> 1. clamp_min(tiny): at p == 1
    # exactly, u**gamma has slope gamma u^(gamma-1) = inf for gamma < 1 (and inf * 0 = NaN
    # in backward); clamped, the slope is finite and clamp's own gradient there is 0.
    u = (-torch.expm1(log_p)).clamp_min(torch.finfo(x.dtype).tiny)
    return -log_p * u.pow(gamma)


# Values per (samples, C, positions) block: 1/32 of the logits, within [2**16, 2**20] (one
# whole sample if larger, up to 2**20). Large enough that the loop's per-op overhead is
# negligible (few, big kernels), small enough that the block temporaries add a few percent to
# the peak memory (the gradient itself is 100%).
_BLOCK_MIN = 1 << 16
_BLOCK_MAX = 1 << 20


def _blocks(n: int, c: int, npos: int) -> Iterator[tuple[slice, slice]]:
    """(sample slice, position slice) pairs tiling ``(N, P)``, ~1/32 of the logits each.

    Whole samples are grouped while ``C * P`` fits the block (contiguous blocks); a sample of
    up to ``_BLOCK_MAX`` logits is never cut, larger ones are cut along the positions.
    """
    budget = min(_BLOCK_MAX, max(_BLOCK_MIN, n * c * npos // 32))  # globals read per call
    row = c * npos
    # Why never cut a sample that fits _BLOCK_MAX: fewer, longer ops on contiguous memory.
    # Measured fwd+bwd, 2 threads, (8, 16, 256, 256): whole samples 53 ms, 256K-value cuts
    # 88 ms (torch cross_entropy 66 ms); (8, 19, 512, 512), samples of 5M: 1M-value cuts
    # 233 ms, whole samples 239 ms (torch cross_entropy 283 ms).
    if row <= max(budget, _BLOCK_MAX):
        step = max(1, budget // max(row, 1))
        for n0 in range(0, n, step):
            yield slice(n0, min(n0 + step, n)), slice(0, npos)
        return
    step = max(1, budget // c)
    for n0 in range(n):
        for p0 in range(0, npos, step):
            yield slice(n0, n0 + 1), slice(p0, min(p0 + step, npos))


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
    ``take``/``put_``/``index_fill_`` measured 2-4x faster than ``gather``/``scatter_`` along
    the class dim, and they address a strided block inside the full buffer directly.
    """
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
    primitives: 1.5x faster than ``torch.softmax`` along dim 1), then the own-class
    numerator ``e_y`` is read and zeroed, so the class sum is ``o``, the sum of the *other*
    numerators, and ``s = o + e_y``. Hence, without cancellation:

    * ``u = 1 - p_y = o / s``, exact even where ``p_y`` rounds to 1;
    * ``log p_y = (x_y - max) - log s`` where ``u > 1/2`` (log-softmax, finite where ``p_y``
      underflows) and ``log1p(-u)`` where ``u <= 1/2``.

    Returns the values and ``coef`` (zero at ignored positions).
    """
    xc = xb if xb.dtype == dt else xb.to(dt)
    m = xc.amax(1, keepdim=True)
    torch.sub(xc, m, out=p).exp_()
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
    for ns, ps in _blocks(n, c, npos):
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
                values = _focal_values_composed(to_compute(x3, dt), t2, t2 != ctx.ignore_index, ctx.gamma)
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
        for ns, ps in _blocks(n, c, npos):
            xb, idx = _block_views(x3, t2, ns, ps, ctx.ignore_index)
            # per-position scale of (p - onehot), per block: no second (N, P) buffer
            kb = (coef[ns, ps] * go[ns, ps]).reshape(idx.shape)
            gb = grad[ns, :, 0] if npos == 1 else grad[ns, :, ps]
            p = torch.softmax(xb, dim=1, dtype=dt)
            gb.copy_(p.mul_(kb).scatter_add_(1, idx, kb.neg()))  # rounded once into the buffer
        return grad, None, None, None, None, None


class FocalLoss(LossModule, spec=SPEC, fn=focal_loss):
    """Module form of :func:`losscraft.functional.focal_loss`."""

    def __init__(
        self,
        *,
        gamma: float = 2.0,
        alpha: FloatVector | None = None,
        ignore_index: int = -100,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(gamma=gamma, alpha=alpha, ignore_index=ignore_index, reduction=reduction)
