"""Generalized cross-entropy (L_q) for noisy labels (Zhang & Sabuncu 2018)."""

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
from ._common import gather_class, multiclass_curve_call, multiclass_sample, prepare_index_logits

SPEC = LossSpec(
    name="gce",
    family=Family.CLASSIFICATION,
    tasks=(Task.MULTICLASS,),
    input_kind=InputKind.LOGITS,
    target_kind=TargetKind.CLASS_INDEX,
    params=(
        Param(
            "q",
            0.7,
            Interval(0.0, 1.0, low_closed=False),
            "q -> 0 is cross-entropy, q = 1 is MAE on probabilities (1 - p_y)",
        ),
        Param(
            "ignore_index",
            -100,
            Interval(-math.inf, math.inf, integer=True),
            "class-index target value that is skipped",
        ),
    ),
    # Not CONVEX: along the curve l ~ 1/q - c e^{q x} for x -> -inf (concave); bounded by 1/q.
    properties=frozenset(
        {
            Property.NONNEGATIVE,
            Property.SMOOTH,
            Property.BOUNDED_GRADIENT,
            Property.NEEDS_LOGITS,
            Property.ROBUST_TO_OUTLIERS,
        }
    ),
    formula=r"\ell_i = \frac{1 - p_{i y_i}^{\,q}}{q},\qquad p_i = \operatorname{softmax}(x_i)",
    summary="Generalized cross-entropy (Zhang & Sabuncu 2018): between CE and MAE; robust to noisy labels.",
    references=(
        Ref(
            "Z. Zhang, M. R. Sabuncu",
            "Generalized Cross Entropy Loss for Training Deep Neural Networks with Noisy Labels",
            "NeurIPS",
            2018,
            "https://arxiv.org/abs/1805.07836",
        ),
    ),
    sample=multiclass_sample,
    curve=Curve("logit", (-6.0, 6.0), multiclass_curve_call),
    relations=(
        Relation(
            "cross_entropy",
            params={"q": 1e-9},
            rtol=1e-6,
            atol=1e-6,
            note="the q -> 0 limit; the error is about q (log p_y)^2 / 2",
        ),
    ),
    none_shape="sample",
    ignore_index=True,
    when_to_use=(
        "Single-label classification with noisy labels (estimated noise above ~10%): q=0.7 "
        "trades cross-entropy's fast fitting for MAE's noise robustness. Combine with early "
        "stopping; not needed on clean labels."
    ),
    when_not_to_use=(
        "Not on clean labels (cross_entropy): its gradient is cross-entropy's weighted by "
        "p_y^q, so hard but correctly labelled examples are learned slowly too. It takes class "
        "indices only: for soft or noisy target distributions use js_div, and for multi-label "
        "targets bce_with_logits."
    ),
)


@register(SPEC, aliases=("generalized_cross_entropy",))
def gce_loss(
    input: Tensor,
    target: Tensor,
    *,
    q: float = 0.7,
    ignore_index: int = -100,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Generalized cross-entropy (Zhang & Sabuncu 2018): between CE and MAE; robust to noisy labels.

    A negative Box-Cox transform of the target-class probability that interpolates between
    cross-entropy ($q \to 0$) and the mean absolute error on probabilities ($q = 1$, where
    $1 - p_y = \tfrac12 \sum_c |p_c - \mathbb 1[c = y]|$). Bounded by $1/q$, so a mislabelled
    sample cannot dominate the gradient: use it for classification with noisy labels.

    $$\ell_i = \frac{1 - p_{i y_i}^{\,q}}{q},\qquad p_i = \operatorname{softmax}(x_i)$$

    computed as $-\operatorname{expm1}(q \log p_{iy_i}) / q$ from the log-softmax, so it is
    accurate for $p_y \to 1$, for small $q$ and for logits of any size. Reduced as described
    in *Reductions* (``docs/conventions.md``); ignored positions are excluded from the mean.
    The paper's truncated variant is not included.

    **Gradient:** $\partial\ell_i/\partial x_{ic} = p_{iy_i}^{\,q}\,(p_{ic} - \mathbb 1[c = y_i])$:
    cross-entropy's gradient weighted by $p_y^q$, so samples the model finds implausible
    (possibly mislabelled) get little weight; bounded by 1.

    Args:
        input: logits of shape ``(N, C)`` or ``(N, C, d1, ...)`` (classes on dim 1).
        target: class indices, integer tensor of shape ``(N,)`` / ``(N, d1, ...)``, values in
            ``[0, C)`` or ``ignore_index``.
        q: exponent $q \in (0, 1]$. Default 0.7 (the paper's choice).
        ignore_index: target value whose positions are skipped. Default -100.
        weight: optional non-negative per-position weights broadcastable to ``(N, d1, ...)``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per position, shape
            ``(N, d1, ...)``).

    Returns:
        A scalar, or a tensor of shape ``(N, d1, ...)`` for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: ``input`` not ``(N, C, ...)`` floating; a class index outside
            ``[0, C)`` (the message names it); a target of the wrong shape or dtype; ``q``
            outside (0, 1]; bad ``ignore_index``, ``weight`` or ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import gce_loss
        >>> x = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
        >>> y = torch.tensor([0, 2])
        >>> gce_loss(x, y, reduction="none")
        tensor([0.1601, 0.7665])
        >>> gce_loss(x, y, q=1.0, reduction="none")  # 1 - p_y
        tensor([0.1562, 0.6667])

    References:
        Z. Zhang, M. R. Sabuncu (2018). Generalized Cross Entropy Loss for Training Deep Neural
            Networks with Noisy Labels. NeurIPS. https://arxiv.org/abs/1805.07836
    """
    fn = "gce_loss"
    check_params(SPEC, {"q": q, "ignore_index": ignore_index, "reduction": reduction})
    x, t_safe, mask = prepare_index_logits(fn, input, target, ignore_index)
    check_weight(fn, weight, t_safe.shape)
    log_p_y = gather_class(F.log_softmax(x, dim=1), t_safe)
    # p^q = exp(q log p): no underflow of p itself, and expm1 keeps (1 - p^q) / q exact as
    # p -> 1 and as q -> 0 (where it tends to -log p).
    values = -torch.expm1(q * log_p_y) / q
    return reduce(values, reduction, weight, mask)


class GCELoss(LossModule, spec=SPEC, fn=gce_loss):
    """Module form of :func:`losscraft.functional.gce_loss`."""

    def __init__(self, *, q: float = 0.7, ignore_index: int = -100, reduction: Reduction = "mean") -> None:
        super().__init__(q=q, ignore_index=ignore_index, reduction=reduction)
