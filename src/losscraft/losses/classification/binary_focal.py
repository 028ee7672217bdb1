"""Sigmoid (binary) focal loss."""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..._core.checks import (
    check_finite_range,
    check_floating,
    check_params,
    check_same_shape,
    compute_dtype,
    to_compute,
)
from ..._core.kernels import Workspace, elementwise_loss, use_lean, write_grad
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
from ..._core.spec import (
    Curve,
    Family,
    InputKind,
    Interval,
    LossSpec,
    Param,
    Property,
    Ref,
    Relation,
    TargetKind,
    Task,
)
from ._common import binary_curve_call, binary_logits_sample
from .bce_with_logits import bce_with_logits_impl

FOCAL_REF = Ref(
    "T.-Y. Lin, P. Goyal, R. Girshick, K. He, P. Dollár",
    "Focal Loss for Dense Object Detection",
    "ICCV",
    2017,
    "https://arxiv.org/abs/1708.02002",
)

SPEC = LossSpec(
    name="binary_focal",
    family=Family.CLASSIFICATION,
    tasks=(Task.BINARY, Task.MULTILABEL),
    input_kind=InputKind.LOGITS,
    target_kind=TargetKind.BINARY,
    params=(
        Param(
            "gamma",
            2.0,
            Interval(0.0, math.inf),
            "focusing parameter: (1 - p_t)^gamma down-weights well-classified elements",
        ),
        Param(
            "alpha",
            0.25,
            Interval(0.0, 1.0, optional=True),
            "weight of the positive class (1 - alpha for negatives); None disables",
        ),
    ),
    # Not CONVEX: with gamma = 2 the curve x -> alpha sigma(-x)^2 softplus(-x) is concave
    # around x ~ -3.8 (second difference < 0, measured on the (-6, 6) grid).
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
        r"\ell(x, y) = \alpha_t (1 - p_t)^\gamma\, \mathrm{BCE}(x, y),\quad "
        r"p_t = p y + (1 - p)(1 - y),\ \alpha_t = \alpha y + (1 - \alpha)(1 - y),\ p = \sigma(x)"
    ),
    summary="BCE scaled by (1 - p_t)^gamma: easy examples count less; dense detection, rare positives.",
    references=(FOCAL_REF,),
    sample=binary_logits_sample,
    curve=Curve("logit", (-6.0, 6.0), binary_curve_call),
    relations=(
        Relation("bce_with_logits", params={"gamma": 0.0, "alpha": None}, rtol=0.0, atol=0.0, note="exactly"),
    ),
    when_to_use=(
        "Dense prediction with a flood of easy negatives (detection anchors, sparse masks). "
        "gamma=2, alpha=0.25 with prior bias init b = -log((1 - pi) / pi), pi = 0.01. Do not "
        "default to alpha=0.25 for tabular imbalance."
    ),
)


def _log_one_minus_pt(x: Tensor, y: Tensor) -> Tensor:
    """``log(1 - p_t)`` with ``1 - p_t = y sigma(-x) + (1 - y) sigma(x)``, stable for any logit.

    Why: factoring out the larger sigmoid leaves a convex combination in ``[e^{-|x|}, 1]``,

    * ``x >= 0``: ``log sigma(x)  + log((1 - y) + y e^{-x})``
    * ``x <  0``: ``log sigma(-x) + log(y + (1 - y) e^{x})``

    so nothing overflows, ``log y`` is never formed (its ``1/y`` gradient at a hard target
    would be ``inf * 0 = NaN``; here the target gradient is exact), and both branches have the
    same value and slope at ``x = 0``. The bracket is 0 only if ``e^{-|x|}`` underflows for a
    confidently correct hard target; its log is then exactly ``-|x|``.
    """
    pos = x >= 0
    # e^{-|x|}; the clamps (not abs) keep the one-sided slope at x = 0 exact.
    e = torch.exp(torch.where(pos, -x.clamp_min(0.0), x.clamp_max(0.0)))
    s = torch.where(pos, 1.0 - y, y)  # weight of the larger sigmoid
    inner = s + (1.0 - s) * e
    ok = inner > 0
    log_inner = torch.where(ok, torch.log(torch.where(ok, inner, torch.ones_like(inner))), -x.abs())
    return F.logsigmoid(torch.where(pos, x, -x)) + log_inner


@register(SPEC, aliases=("sigmoid_focal",))
def binary_focal_loss(
    input: Tensor,
    target: Tensor,
    *,
    gamma: float = 2.0,
    alpha: float | None = 0.25,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Sigmoid focal loss (Lin et al. 2017) on logits, hard or soft binary targets.

    Binary cross-entropy scaled by $(1 - p_t)^\gamma$, so elements the model already gets
    right contribute little and training focuses on hard ones: the loss for dense detection
    or segmentation where easy negatives dominate. Same formulation as
    ``torchvision.ops.sigmoid_focal_loss`` (soft targets enter $p_t$ and $\alpha_t$ linearly).

    $$\ell_i = \alpha_t\,(1 - p_t)^\gamma\,\big[-y_i \log p_i - (1 - y_i)\log(1 - p_i)\big],
    \qquad p_i = \sigma(x_i)$$

    $$p_t = p_i y_i + (1 - p_i)(1 - y_i),\qquad \alpha_t = \alpha y_i + (1 - \alpha)(1 - y_i)$$

    ($\alpha_t = 1$ when ``alpha=None``), reduced as described in *Reductions*
    (``docs/conventions.md``): $\alpha_t$ is part of the loss, not a weight, so ``"mean"`` is
    the plain mean over elements (as torchvision). With ``gamma=0, alpha=None`` it equals
    :func:`bce_with_logits_loss` exactly.

    Computed in log space: $\log(1 - p_t) = \log\sigma(|x|) + \log(s + (1 - s)e^{-|x|})$
    with $s$ the target weight of the larger sigmoid, and $(1 - p_t)^\gamma =
    \exp(\gamma \log(1 - p_t))$, so the value and gradient are finite for every $\gamma \ge 0$
    (also $0 < \gamma < 1$, where $u^\gamma$ has an infinite slope at 0) and logits of any
    size, and the gradient with respect to a soft target is exact. On the CPU the same
    quantities are computed by a lean chunked kernel: loss and gradient together, from one
    $e^{-|x|}$ and one $\log(1 + e^{-|x|})$ per element, keeping only one gradient buffer of the
    input's size (peak memory ~1.1x the input instead of ~12x; see
    :mod:`losscraft._core.kernels`). The composed form above is used elsewhere, under
    ``torch.compile``, when ``target`` or ``weight`` requires a gradient, and for
    higher-order gradients.

    **Gradient:** for a hard target, with $x_t = \pm x$ and $p_t = \sigma(x_t)$:
    $\partial\ell/\partial x_t = \alpha_t (1 - p_t)^\gamma(\gamma p_t \log p_t + p_t - 1)$;
    bounded by $\max(\alpha, 1 - \alpha)$ and vanishing for confident correct logits.

    Args:
        input: logits $x$, any shape, floating point.
        target: targets $y \in [0, 1]$ (hard or soft), same shape as ``input`` (validated).
        gamma: focusing parameter $\gamma \ge 0$. Default 2.0 (paper).
        alpha: weight $\alpha \in [0, 1]$ of positives ($1 - \alpha$ of negatives), or
            ``None`` for no class weighting. Default 0.25 (paper, tuned jointly with
            $\gamma = 2$).
        weight: optional non-negative per-element weights broadcastable to ``input``'s shape.
        reduction: ``"mean"`` (weighted mean), ``"sum"`` or ``"none"`` (``input``'s shape).

    Returns:
        A scalar, or a tensor of ``input``'s shape for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: shapes differ, non-floating tensors, ``target`` outside [0, 1],
        ``gamma < 0``, ``alpha`` outside [0, 1], bad ``weight`` or ``reduction``.

    Examples:
        >>> import torch, losscraft.functional as LF
        >>> x = torch.tensor([3.0, 3.0, -1.0, 0.0])
        >>> y = torch.tensor([1.0, 0.0, 0.0, 0.5])
        >>> LF.binary_focal_loss(x, y, reduction="none")
        tensor([2.7321e-05, 2.0747e+00, 1.6994e-02, 8.6643e-02])

    References:
        Lin, Goyal, Girshick, He & Dollár (2017), *Focal Loss for Dense Object Detection*,
        ICCV (TPAMI 2020).
    """
    fn = "binary_focal_loss"
    check_params(SPEC, {"gamma": gamma, "alpha": alpha, "reduction": reduction})
    check_floating(fn, "input", input)
    check_floating(fn, "target", target)
    check_same_shape(fn, input, target)
    check_finite_range(fn, "target", target, 0.0, 1.0, "targets")
    check_weight(fn, weight, input.shape)
    if gamma == 0.0 and alpha is None:
        # the Relation with bce_with_logits is exact (rtol 0): literally the same code path
        return bce_with_logits_impl(input, target, None, 0.0, weight, reduction)

    def composed(x: Tensor) -> Tensor:
        return _composed(x, target, gamma, alpha, weight, reduction)

    if use_lean(input, target, weight):
        kernel = functools.partial(_focal_chunk, gamma=float(gamma), alpha=alpha)
        return elementwise_loss(
            kernel, input, target, weight=weight, aux=None, reduction=reduction, composed=composed
        )
    return composed(input)


def _composed(
    input: Tensor, target: Tensor, gamma: float, alpha: float | None, weight: Tensor | None, reduction: str
) -> Tensor:
    """The reference implementation: composed torch ops, differentiable in every argument."""
    dt = compute_dtype(input, target)
    x, y = to_compute(input, dt), to_compute(target, dt)
    values = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    if gamma != 0.0:
        # (1 - p_t)^gamma = exp(gamma log(1 - p_t)) in log space: exact when sigma(+-x)
        # underflows (|x| ~ 1e4), and the gradient is finite even for 0 < gamma < 1 (the
        # derivative gamma (1 - p_t)^(gamma - 1) is never formed).
        values = values * torch.exp(gamma * _log_one_minus_pt(x, y))
    if alpha is not None:
        values = values * (alpha * y + (1.0 - alpha) * (1.0 - y))
    return reduce(values, reduction, weight)


def _power(ws: Workspace, u: Tensor, gamma: float, out: Tensor) -> Tensor:
    """``u ** gamma`` (into ``out``, not aliasing ``u``) for ``u`` in [0, 1].

    Products for small integers, a square root for 1/2, else ``exp(gamma log u)``.

    Why: a general ``pow`` costs as much as ~40 multiplications per element; at ``u = 0``,
    ``log 0 = -inf`` and ``exp(-inf) = 0``, the right limit for ``gamma > 0``.
    """
    if gamma == 1.0:
        return u
    if gamma == 2.0:
        return torch.mul(u, u, out=out)
    if gamma == 3.0:
        return torch.mul(u, u, out=out).mul_(u)
    if gamma == 4.0:
        return torch.mul(u, u, out=out).mul_(out)
    if gamma == 0.5:
        return torch.sqrt(u, out=out)
    return torch.log(u, out=out).mul_(ws.c(gamma)).exp_()


def _focal_chunk(
    ws: Workspace,
    x: Tensor,
    y: Tensor,
    aux: Tensor | float | None,
    f: Tensor | float,
    vals: Tensor | None,
    grad: Tensor | None,
    gmul: float,
    *,
    gamma: float,
    alpha: float | None,
) -> Tensor | None:
    r"""Focal loss and its gradient on one chunk (see :mod:`losscraft._core.kernels`).

    With $e = e^{-|x|}$, $s$ the wrong-side target weight, $c = e + s(1 - e)$ (see
    :func:`~losscraft._core.kernels.wrong_side`), $u = 1 - p_t = c / (1 + e)$,
    $m = u^\gamma$, $b = |x| s + \log(1 + e)$ (the BCE) and $z = 1 - 2y$:

    $$\ell = \alpha_t m b,\qquad
    \frac{\partial\ell}{\partial x} = \frac{\alpha_t m}{1 + e}
    \Big[\mathrm{sgn}\,(2s - c) + \gamma z\,\frac{e}{c}\, b\Big]$$

    from $\partial u / \partial x = z\,\sigma(x)\sigma(-x) = z\,e / (1 + e)^2$ and
    $\partial b / \partial x = \sigma(x) - y = \mathrm{sgn}\,(2s - c) / (1 + e)$. The ratio
    $e / c \le 1$ stands for $u^{\gamma - 1}\sigma(x)\sigma(-x)(1 + e) / u^\gamma$:
    $u^{\gamma - 1}$ alone is infinite at $u = 0$ for $\gamma < 1$. Where $c = 0$ (hard target,
    $e$ underflowed) $m = 0$ and the ratio is taken as 0.

    Every torch call costs ~3 us of overhead per chunk, so the kernel works with halves to save
    calls: ``hs = sgn / 2``, ``zh = z / 2``, ``vh = zh + hs = sgn s`` (so ``s = |vh|``),
    ``hope = (1 + e) / 2``; then ``c / hope = 2u`` and ``(vh - hs c) / hope`` is the bracket's
    first term over ``1 + e``. The ``2^gamma`` of ``(2u)^gamma`` is folded into ``alpha_t``.
    22 torch calls per chunk (alpha, gamma = 2).
    """
    na, e, b, hope, hs, zh, vh, s, c, ut, mt, am_buf = ws.buffers(12)
    torch.copysign(x, ws.c(-1.0), out=na)  # -|x|
    torch.exp(na, out=e)
    torch.log1p(e, out=b)
    torch.add(ws.c(0.5), e, alpha=0.5, out=hope)  # (1 + e) / 2
    torch.copysign(ws.c(0.5), x, out=hs)  # sgn / 2, never 0
    torch.sub(ws.c(0.5), y, out=zh)  # (1 - 2y) / 2
    torch.add(zh, hs, out=vh)  # sgn s
    torch.abs(vh, out=s)  # exactly 0 or 1 for hard targets
    b.addcmul_(na, s, value=-1.0)  # bce = log(1 + e) + |x| s
    torch.lerp(e, ws.ones, s, out=c)  # c = e + s (1 - e) = (1 - p_t)(1 + e), exact for s = 0
    m: Tensor | None = None
    scale = 1.0  # the power of two folded into alpha_t
    if gamma != 0.0:
        u2 = torch.div(c, hope, out=ut)  # 2 (1 - p_t)
        if gamma > 64.0:  # (2u)^gamma could overflow: use u itself
            u2.mul_(ws.c(0.5))
        else:
            scale = 2.0**-gamma
        m = _power(ws, u2, gamma, out=mt)
    # am = alpha_t m f: alpha_t, the modulating factor and the per-element factor f (weights
    # and the reduction's 1/N) multiply both the loss and its gradient.
    am: Tensor
    if alpha is not None:
        a0, a1 = (1.0 - alpha) * scale, (2.0 * alpha - 1.0) * scale
        if isinstance(f, Tensor):
            am = torch.add(ws.c(a0), y, alpha=a1, out=am_buf).mul_(f)
        else:
            am = torch.add(ws.c(a0 * f), y, alpha=a1 * f, out=am_buf)
        if m is not None:
            am.mul_(m)
    elif m is not None:
        if isinstance(f, Tensor):
            am = torch.addcmul(ws.c(0.0), m, f, value=scale, out=am_buf)
        else:
            am = torch.mul(m, ws.c(f * scale), out=am_buf)
    else:  # pragma: no cover - gamma = 0 and alpha = None is routed to BCE-with-logits
        am = f if isinstance(f, Tensor) else torch.full_like(b, f)
    part: Tensor | None = None
    if vals is not None:
        torch.mul(b, am, out=vals)
    else:
        part = torch.dot(b, am)
    if grad is None:
        return part
    br = torch.addcmul(vh, hs, c, value=-1.0, out=na)  # sgn (2s - c) / 2
    if m is not None:
        # c = 0 only where e = 0 too (and then m = 0): the clamp makes the ratio 0, not NaN
        r = torch.div(e, c.clamp_min_(ws.c(torch.finfo(c.dtype).tiny)), out=c).mul_(b)
        br.addcmul_(r, zh, value=gamma)
    br.div_(hope)
    write_grad(ws, br, am, gmul, grad)
    return part


class BinaryFocalLoss(LossModule, spec=SPEC, fn=binary_focal_loss):
    """Module form of :func:`losscraft.functional.binary_focal_loss`."""

    def __init__(
        self, *, gamma: float = 2.0, alpha: float | None = 0.25, reduction: Reduction = "mean"
    ) -> None:
        super().__init__(gamma=gamma, alpha=alpha, reduction=reduction)
