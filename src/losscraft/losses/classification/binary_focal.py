"""Sigmoid (binary) focal loss."""

from __future__ import annotations

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
from ..._core.kernels import use_lean
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
from .binary_focal_kernel import binary_focal_lean

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
        r"\ell_i = \alpha_t\,(1 - p_t)^\gamma\,\big[-y_i \log p_i - (1 - y_i)\log(1 - p_i)\big],\qquad "
        r"p_i = \sigma(x_i),\quad p_t = p_i y_i + (1 - p_i)(1 - y_i),\quad "
        r"\alpha_t = \alpha y_i + (1 - \alpha)(1 - y_i)"
    ),
    summary=(
        "Sigmoid focal loss (Lin et al. 2017): BCE on logits times (1 - p_t)^gamma; easy examples count less."
    ),
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
    when_not_to_use=(
        "Not for tabular class imbalance: alpha=0.25 was the worst option measured there; use "
        "bce_with_logits with a capped pos_weight. Not with noisy labels: the (1 - p_t)^gamma "
        "factor shifts the weight towards the hard examples, mislabelled ones included. For "
        "multi-label tagging with few positives per sample, asl focuses positives and "
        "negatives separately."
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
    r"""Sigmoid focal loss (Lin et al. 2017): BCE on logits times (1 - p_t)^gamma; easy examples count less.

    Binary cross-entropy scaled by $(1 - p_t)^\gamma$, so elements the model already gets
    right contribute little and training focuses on hard ones: the loss for dense detection
    or segmentation where easy negatives dominate. Same formulation as
    ``torchvision.ops.sigmoid_focal_loss`` (soft targets enter $p_t$ and $\alpha_t$ linearly).

    $$\ell_i = \alpha_t\,(1 - p_t)^\gamma\,\big[-y_i \log p_i - (1 - y_i)\log(1 - p_i)\big],\qquad p_i = \sigma(x_i),\quad p_t = p_i y_i + (1 - p_i)(1 - y_i),\quad \alpha_t = \alpha y_i + (1 - \alpha)(1 - y_i)$$

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
        T.-Y. Lin, P. Goyal, R. Girshick, K. He, P. Dollár (2017). Focal Loss for Dense Object
            Detection. ICCV. https://arxiv.org/abs/1708.02002
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
        return binary_focal_lean(input, target, gamma, alpha, weight, reduction, composed)
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


class BinaryFocalLoss(LossModule, spec=SPEC, fn=binary_focal_loss):
    """Module form of :func:`losscraft.functional.binary_focal_loss`."""

    def __init__(
        self, *, gamma: float = 2.0, alpha: float | None = 0.25, reduction: Reduction = "mean"
    ) -> None:
        super().__init__(gamma=gamma, alpha=alpha, reduction=reduction)
