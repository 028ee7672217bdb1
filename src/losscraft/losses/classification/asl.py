"""Asymmetric loss (ASL) for multi-label classification (Ridnik et al. 2021)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..._core.checks import check_params
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
from ._common import binary_curve_call, binary_logits_sample, binary_negative_curve_call, prepare_binary

SPEC = LossSpec(
    name="asl",
    family=Family.CLASSIFICATION,
    tasks=(Task.MULTILABEL, Task.BINARY),
    input_kind=InputKind.LOGITS,
    target_kind=TargetKind.BINARY,
    params=(
        Param(
            "gamma_neg",
            4.0,
            Interval(0.0, math.inf),
            "focusing exponent of negatives: p_m^gamma_neg down-weights easy negatives",
        ),
        Param(
            "gamma_pos",
            1.0,
            Interval(0.0, math.inf),
            "focusing exponent of positives: (1 - p)^gamma_pos (paper 0, official code 1)",
        ),
        Param(
            "clip",
            0.05,
            Interval(0.0, 1.0, high_closed=False, optional=True),
            "probability margin m: negatives use p_m = max(p - m, 0); 0 or None disables",
        ),
    ),
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
        r"\ell = -y\,(1 - p)^{\gamma_+} \log p - (1 - y)\, p_m^{\gamma_-} \log(1 - p_m),\qquad "
        r"p = \sigma(x),\ p_m = \max(p - m, 0)"
    ),
    summary=(
        "Asymmetric loss (Ridnik et al. 2021): multi-label focal loss with a probability margin on negatives."
    ),
    references=(
        Ref(
            "T. Ridnik, E. Ben-Baruch, N. Zamir, A. Noy, I. Friedman, M. Protter, L. Zelnik-Manor",
            "Asymmetric Loss For Multi-Label Classification",
            "ICCV",
            2021,
            "https://arxiv.org/abs/2009.14119",
        ),
    ),
    sample=binary_logits_sample,
    curve=Curve("logit", (-6.0, 6.0), binary_curve_call, label="positive"),
    more_curves=(Curve("logit", (-6.0, 6.0), binary_negative_curve_call, label="negative"),),
    relations=(
        Relation(
            "bce_with_logits",
            params={"gamma_neg": 0.0, "gamma_pos": 0.0, "clip": None},
            rtol=1e-9,
            atol=1e-12,
            note="no focusing, no margin",
        ),
    ),
    when_to_use=(
        "Multi-label classification with many labels and few positives per sample (tagging, "
        "multi-label image recognition): gamma_neg=4, gamma_pos=0-1, clip=0.05. The margin "
        "also ignores negatives the model is very sure are positive (likely missing labels)."
    ),
    when_not_to_use=(
        "Not for single-label classification (cross_entropy). Not when positives are not rare "
        "(label density above ~0.1): bce_with_logits is the simpler default, without three "
        "hyperparameters. For dense detection or segmentation flooded with easy negatives, "
        "binary_focal with prior bias initialisation is the established choice."
    ),
)


@register(SPEC, aliases=("asymmetric_loss",))
def asl_loss(
    input: Tensor,
    target: Tensor,
    *,
    gamma_neg: float = 4.0,
    gamma_pos: float = 1.0,
    clip: float | None = 0.05,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Asymmetric loss (Ridnik et al. 2021): multi-label focal loss with a probability margin on negatives.

    A sigmoid focal loss with separate focusing exponents for positives ($\gamma_+$) and
    negatives ($\gamma_-$), plus a probability margin $m$ that shifts the negatives'
    probability down: negatives with $p \le m$ contribute nothing, and the gradient of very
    confident negatives (often missing labels) shrinks. Use it for multi-label problems with
    many labels and few positives per sample.

    $$\ell = -y\,(1 - p)^{\gamma_+} \log p - (1 - y)\, p_m^{\gamma_-} \log(1 - p_m),\qquad p = \sigma(x),\ p_m = \max(p - m, 0)$$

    Soft targets $y \in [0, 1]$ enter linearly (the official code mixes them into one
    focusing weight; both agree for hard targets). Computed in log space:
    $\log p = \log\sigma(x)$, $(1 - p)^{\gamma_+} = e^{\gamma_+ \log\sigma(-x)}$ and, for
    $m > 0$, $\log(1 - p_m) = \log(\sigma(-x) + m) \ge \log m$ where $p > m$ (else 0), so the
    value and gradient are finite for logits of any size. Reduced as described in
    *Reductions* (``docs/conventions.md``): ``"mean"`` averages over all elements (the
    official code sums them; multiply by the number of elements to match it).

    **Gradient:** differentiated through the focusing weights, as in focal loss (the
    official code detaches them by default, ``disable_torch_grad_focal_loss=True``, so its
    gradient differs while its value is the same). For a positive,
    $\partial\ell/\partial x = (1 - p)^{\gamma_+}(\gamma_+ p \log p + p - 1)$; for a
    negative it is 0 where $p \le m$. Bounded in both branches.

    Args:
        input: logits $x$, any shape (typically ``(N, C)``), floating point.
        target: multi-hot targets $y \in \{0, 1\}$ (soft values in [0, 1] accepted), same
            shape as ``input`` (validated).
        gamma_neg: focusing exponent $\gamma_- \ge 0$ of negatives. Default 4.0 (paper and
            official code).
        gamma_pos: focusing exponent $\gamma_+ \ge 0$ of positives. Default 1.0 (official
            code; the paper's default is 0).
        clip: probability margin $m \in [0, 1)$; ``0`` or ``None`` disables it. Default 0.05.
        weight: optional non-negative per-element weights broadcastable to ``input``'s shape.
        reduction: ``"mean"`` (weighted mean over elements), ``"sum"`` or ``"none"``
            (``input``'s shape).

    Returns:
        A scalar, or a tensor of ``input``'s shape for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: shapes differ, non-floating tensors, ``target`` outside [0, 1],
            negative ``gamma_neg`` / ``gamma_pos``, ``clip`` outside [0, 1), bad ``weight`` or
            ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import asl_loss
        >>> x = torch.tensor([[2.0, -1.0, -3.0, 1.0]])
        >>> y = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
        >>> asl_loss(x, y, reduction="none")
        tensor([[0.0151, 0.9601, 0.0000, 0.2459]])

    References:
        T. Ridnik, E. Ben-Baruch, N. Zamir, A. Noy, I. Friedman, M. Protter, L. Zelnik-Manor (2021).
            Asymmetric Loss For Multi-Label Classification. ICCV. https://arxiv.org/abs/2009.14119
    """
    fn = "asl_loss"
    check_params(SPEC, {"gamma_neg": gamma_neg, "gamma_pos": gamma_pos, "clip": clip, "reduction": reduction})
    x, y = prepare_binary(fn, input, target)
    check_weight(fn, weight, x.shape)
    log_p = F.logsigmoid(x)
    log_1mp = F.logsigmoid(-x)  # log(1 - p), exact for large positive x
    pos = -log_p
    if gamma_pos != 0.0:
        pos = pos * torch.exp(gamma_pos * log_1mp)
    m = 0.0 if clip is None else float(clip)
    if m > 0.0:
        u = torch.sigmoid(x) - m  # p - m; p_m = max(u, 0)
        keep = u > 0
        # 1 - p_m = 1 - p + m in log space: logaddexp(log sigma(-x), log m) >= log m, finite.
        log_1mpm = torch.logaddexp(log_1mp, torch.full_like(log_1mp, math.log(m)))
        neg = -torch.where(keep, log_1mpm, torch.zeros_like(log_1mpm))
        if gamma_neg != 0.0:
            # u is 0 or at least one ulp of m away from it, so u^(gamma - 1) stays finite for
            # gamma < 1; the inner where keeps log() off the non-positive branch.
            u_safe = torch.where(keep, u, torch.ones_like(u))
            w = torch.where(keep, torch.exp(gamma_neg * torch.log(u_safe)), torch.zeros_like(u))
            neg = neg * w
    else:
        neg = -log_1mp
        if gamma_neg != 0.0:
            neg = neg * torch.exp(gamma_neg * log_p)
    values = y * pos + (1.0 - y) * neg
    return reduce(values, reduction, weight)


class ASLLoss(LossModule, spec=SPEC, fn=asl_loss):
    """Module form of :func:`losscraft.functional.asl_loss`."""

    def __init__(
        self,
        *,
        gamma_neg: float = 4.0,
        gamma_pos: float = 1.0,
        clip: float | None = 0.05,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(gamma_neg=gamma_neg, gamma_pos=gamma_pos, clip=clip, reduction=reduction)
