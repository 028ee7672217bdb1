"""Softmax (multi-class) focal loss."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ..._core.checks import check_class_weight, check_params, compute_dtype, to_compute
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
    alpha: Tensor | None = None,
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

    Computed by a blocked kernel that keeps one value per position (this gradient's scale)
    and recomputes the softmax block by block in backward: forward plus backward peaks at
    about 1.2 times the logits' size (the gradient itself is 1), where the composed formula
    keeps ``log_softmax`` and its gather/scatter temporaries (about 3 times). ``gamma=0``
    calls torch's ``cross_entropy`` kernel.

    Args:
        input: logits of shape ``(N, C)`` or ``(N, C, d1, ...)`` (classes on dim 1).
        target: class indices, integer tensor of shape ``(N,)`` / ``(N, d1, ...)``, values in
            ``[0, C)`` or ``ignore_index``.
        gamma: focusing parameter $\gamma \ge 0$. Default 2.0.
        alpha: per-class weights of shape ``(C,)``, values $\ge 0$, or ``None``. Default
            ``None``.
        ignore_index: target value whose positions are skipped. Default -100.
        weight: optional non-negative per-position weights broadcastable to ``(N, d1, ...)``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per position, shape
            ``(N, d1, ...)``).

    Returns:
        A scalar, or a tensor of shape ``(N, d1, ...)`` for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: ``input`` not ``(N, C, ...)`` floating; a class index outside
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
        values = _SoftmaxFocal.apply(x3, t2, ignore_index, gamma, dt)  # type: ignore[no-untyped-call]
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
    # Why never cut a sample that fits _BLOCK_MAX: a whole sample is contiguous (softmax
    # writes straight into the gradient), a strided cut costs a copy each way (measured on
    # (8, 16, 256, 256), 2 threads: whole samples 12% faster than the composed formula,
    # 256K-logit cuts 12% slower).
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


class _SoftmaxFocal(torch.autograd.Function):
    r"""Per-position softmax focal loss ``-(1 - p_y)^gamma log p_y`` on ``(N, C, P)`` logits.

    The loss depends on the logits only through ``log p_y``, so its gradient is
    ``coef * (p - onehot(y))`` with the per-position scalar
    ``coef = -dl/dlog p_y = u^gamma (1 + gamma r)``, ``u = 1 - p_y``, ``r = p_y (-log p_y) / u``
    (``0 <= r <= 1``: no ``u^(gamma - 1)`` that would overflow as ``p_y -> 1``). Forward
    computes ``log p_y`` block by block (``log_softmax`` of one block, then a gather) and
    keeps only ``coef`` (one value per position, ``1/C`` of the logits); backward recomputes
    ``softmax`` per block and writes ``coef * grad_out * (p - onehot)`` straight into the
    gradient buffer. Peak memory is the gradient plus one block, instead of the full
    ``log_softmax``, its gather/scatter and ``log_softmax_backward`` temporaries.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, x3: Tensor, t2: Tensor, ignore_index: int, gamma: float, dt: torch.dtype
    ) -> Tensor:
        n, c, npos = x3.shape
        log_p = torch.empty((n, npos), dtype=dt, device=x3.device)
        for ns, ps in _blocks(n, c, npos):
            xb, idx = _block_views(x3, t2, ns, ps, ignore_index)
            lpb = torch.log_softmax(xb, dim=1, dtype=dt).gather(1, idx)
            log_p[ns, ps] = lpb.reshape(log_p[ns, ps].shape)
        p_y = torch.exp(log_p)
        # 1 - p_y via -expm1(log p_y), exact as p_y -> 1; the composed formula's clamp at tiny.
        u = torch.expm1(log_p).neg_().clamp_min_(torch.finfo(dt).tiny)
        nlp = log_p.neg_()  # -log p_y >= 0
        ug = u.pow(gamma)
        values = nlp * ug
        # coef = u^gamma + gamma p (-log p) u^(gamma-1) = u^gamma (1 + gamma r) with
        # r = p (-log p) / u in [0, 1]: no u^(gamma-1), which overflows as p_y -> 1.
        coef = nlp.mul_(p_y).div_(u).mul_(gamma).add_(1.0).mul_(ug)
        ctx.save_for_backward(x3, t2, coef)
        ctx.ignore_index, ctx.gamma, ctx.dt = ignore_index, gamma, dt
        return values

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, None, None, None, None]:  # type: ignore[override]
        x3, t2, coef = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None, None, None
        dt: torch.dtype = ctx.dt
        if torch.is_grad_enabled():
            # create_graph=True: differentiate the composed formula instead (exact and
            # differentiable again, only slower); coef is a constant and cannot be.
            with torch.enable_grad():
                values = _focal_values_composed(to_compute(x3, dt), t2, t2 != ctx.ignore_index, ctx.gamma)
                (g,) = torch.autograd.grad(values, x3, grad_out, create_graph=True)
            return g, None, None, None, None
        n, c, npos = x3.shape
        go = grad_out.to(dt)
        grad = torch.empty_like(x3, memory_format=torch.contiguous_format)
        direct = x3.dtype == dt  # else: compute the block in dt, then round into the half grad
        for ns, ps in _blocks(n, c, npos):
            xb, idx = _block_views(x3, t2, ns, ps, ctx.ignore_index)
            # per-position scale of (p - onehot), per block: no second (N, P) buffer
            kb = (coef[ns, ps] * go[ns, ps]).reshape(idx.shape)
            gb = grad[ns, :, 0] if npos == 1 else grad[ns, :, ps]
            if direct and gb.is_contiguous():
                # whole samples: softmax straight into the gradient buffer, no block temporary
                torch.ops.aten._softmax.out(xb, 1, False, out=gb)
                gb.mul_(kb)
            else:
                p = torch.softmax(xb, dim=1, dtype=dt)
                if direct:
                    torch.mul(p, kb, out=gb)
                else:
                    gb.copy_(p.mul_(kb).scatter_add_(1, idx, kb.neg()))  # round once into half
                    continue
            gb.scatter_add_(1, idx, kb.neg())  # - onehot(y) * coef * grad_out
        return grad, None, None, None, None


class FocalLoss(LossModule, spec=SPEC, fn=focal_loss):
    """Module form of :func:`losscraft.functional.focal_loss`."""

    def __init__(
        self,
        *,
        gamma: float = 2.0,
        alpha: Tensor | None = None,
        ignore_index: int = -100,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(gamma=gamma, alpha=alpha, ignore_index=ignore_index, reduction=reduction)
