"""Poly-1 loss: cross-entropy plus epsilon (1 - p_t) (Leng et al. 2022)."""

from __future__ import annotations

import math

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
from ._common import (
    gather_class,
    multiclass_curve_call,
    multiclass_sample,
    one_minus_exp,
    prepare_index_logits,
)

SPEC = LossSpec(
    name="poly",
    family=Family.CLASSIFICATION,
    tasks=(Task.MULTICLASS,),
    input_kind=InputKind.LOGITS,
    target_kind=TargetKind.CLASS_INDEX,
    params=(
        Param(
            "epsilon",
            1.0,
            Interval(-1.0, math.inf),
            "coefficient of the first polynomial term (1 - p_t); >= -1 keeps the loss >= 0",
        ),
        Param(
            "label_smoothing",
            0.0,
            Interval(0.0, 1.0),
            "the target becomes (1 - s) one-hot + s / C, in the CE term and in p_t",
        ),
        Param(
            "ignore_index",
            -100,
            Interval(-math.inf, math.inf, integer=True),
            "class-index target value that is skipped",
        ),
    ),
    # CONVEX at epsilon = 1 along the curve: d2/dz2 = p (1 - p) (1 - eps (1 - 2p)) = 2 p^2 (1 - p).
    properties=frozenset(
        {
            Property.NONNEGATIVE,
            Property.CONVEX,
            Property.SMOOTH,
            Property.BOUNDED_GRADIENT,
            Property.NEEDS_LOGITS,
        }
    ),
    formula=(
        r"\ell_i = -\sum_{c=1}^{C} q_{ic} \log p_{ic} + \varepsilon\,(1 - p_{t,i}),\qquad "
        r"p_{t,i} = \sum_{c} q_{ic}\, p_{ic}"
    ),
    summary=(
        "Poly-1 loss (Leng et al. 2022): cross-entropy plus epsilon (1 - p_t); epsilon=0 is cross_entropy."
    ),
    references=(
        Ref(
            "Z. Leng, M. Tan, C. Liu, E. D. Cubuk, X. Shi, S. Cheng, D. Anguelov",
            "PolyLoss: A Polynomial Expansion Perspective of Classification Loss Functions",
            "ICLR",
            2022,
            "https://arxiv.org/abs/2204.12511",
        ),
    ),
    sample=multiclass_sample,
    curve=Curve("logit", (-6.0, 6.0), multiclass_curve_call),
    relations=(
        Relation("cross_entropy", params={"epsilon": 0.0}, note="epsilon = 0 drops the poly term"),
        Relation(
            "cross_entropy",
            params={"epsilon": 0.0, "label_smoothing": 0.2},
            other_params={"label_smoothing": 0.2},
            note="also with label smoothing",
        ),
        Relation(
            "sce",
            params={"epsilon": 1.0},
            other_params={"alpha": 1.0, "beta": 0.25},
            note="CE + (1 - p_y) = CE + 0.25 RCE with log 0 := -4",
        ),
    ),
    none_shape="sample",
    ignore_index=True,
    when_to_use=(
        "Drop-in replacement for cross-entropy when tuning one more knob is affordable: "
        "epsilon > 0 (e.g. 1-2) helped ImageNet-scale classification; negative epsilon can help "
        "when the model is over-confident. The best epsilon is task dependent."
    ),
    when_not_to_use=(
        "Not without a budget to tune epsilon: the best value is task dependent (positive "
        "helped ImageNet, some detection settings preferred negative), so start with "
        "cross_entropy (epsilon=0). Not with noisy labels (gce, sce) nor for multi-label "
        "targets (bce_with_logits)."
    ),
)


@register(SPEC, aliases=("poly1", "poly_cross_entropy"))
def poly_loss(
    input: Tensor,
    target: Tensor,
    *,
    epsilon: float = 1.0,
    label_smoothing: float = 0.0,
    ignore_index: int = -100,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Poly-1 loss (Leng et al. 2022): cross-entropy plus epsilon (1 - p_t); epsilon=0 is cross_entropy.

    Cross-entropy expands as $-\log p_t = \sum_{j \ge 1} (1 - p_t)^j / j$; Poly-1 adds
    $\varepsilon$ to the leading coefficient. $\varepsilon > 0$ pushes harder on
    already-likely targets (the paper's gains on ImageNet), $\varepsilon < 0$ softens that
    push; $\varepsilon = 0$ is :func:`cross_entropy_loss`, with the same label smoothing.

    $$\ell_i = -\sum_{c=1}^{C} q_{ic} \log p_{ic} + \varepsilon\,(1 - p_{t,i}),\qquad p_{t,i} = \sum_{c} q_{ic}\, p_{ic}$$

    with $p_i = \operatorname{softmax}(x_i)$ and $q_{ic} = (1 - s)\,\mathbb 1[c = y_i] +
    s/C$ for ``label_smoothing`` $s$ (so $p_t = p_{y_i}$ without smoothing). As in the
    paper's code, $p_t$ uses the smoothed target. For $\varepsilon \ge -1$ the loss is
    non-negative ($-\log p_t \ge 1 - p_t$). Reduced as described in *Reductions*
    (``docs/conventions.md``); ignored positions are excluded from the mean.

    **Gradient:** without smoothing, $\partial\ell_i/\partial x_{ic} = (1 + \varepsilon p_{iy})
    (p_{ic} - \mathbb 1[c = y_i])$: the cross-entropy gradient scaled by
    $1 + \varepsilon p_y$, bounded; zero at ignored positions.

    Args:
        input: logits of shape ``(N, C)`` or ``(N, C, d1, ...)`` (classes on dim 1).
        target: class indices, integer tensor of shape ``(N,)`` / ``(N, d1, ...)``, values in
            ``[0, C)`` or ``ignore_index``.
        epsilon: Poly-1 coefficient $\varepsilon \ge -1$. Default 1.0 (the paper's
            ImageNet setting; tune per task).
        label_smoothing: $s \in [0, 1]$, as in :func:`cross_entropy_loss`. Default 0.
        ignore_index: target value whose positions are skipped. Default -100.
        weight: optional non-negative per-position weights broadcastable to ``(N, d1, ...)``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per position, shape
            ``(N, d1, ...)``).

    Returns:
        A scalar, or a tensor of shape ``(N, d1, ...)`` for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: ``input`` not ``(N, C, ...)`` floating; a class index outside
            ``[0, C)`` (the message names it); a target of the wrong shape or dtype;
            ``epsilon < -1``; ``label_smoothing`` outside [0, 1]; bad ``ignore_index``,
            ``weight`` or ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import poly_loss
        >>> x = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
        >>> y = torch.tensor([0, 2])
        >>> poly_loss(x, y, reduction="none")  # CE + (1 - p_y)
        tensor([0.3261, 1.7653])
        >>> poly_loss(x, y, epsilon=0.0, reduction="none")  # cross-entropy
        tensor([0.1698, 1.0986])

    References:
        Z. Leng, M. Tan, C. Liu, E. D. Cubuk, X. Shi, S. Cheng, D. Anguelov (2022). PolyLoss: A
            Polynomial Expansion Perspective of Classification Loss Functions. ICLR.
            https://arxiv.org/abs/2204.12511
    """
    fn = "poly_loss"
    check_params(
        SPEC,
        {
            "epsilon": epsilon,
            "label_smoothing": label_smoothing,
            "ignore_index": ignore_index,
            "reduction": reduction,
        },
    )
    x, t_safe, mask = prepare_index_logits(fn, input, target, ignore_index)
    check_weight(fn, weight, t_safe.shape)
    log_p = F.log_softmax(x, dim=1)
    log_p_y = gather_class(log_p, t_safe)
    values = -log_p_y
    # 1 - p_y via -expm1(log p_y): exact as p_y -> 1.
    one_minus_pt = one_minus_exp(log_p_y)
    if label_smoothing != 0.0:
        num_classes = int(x.shape[1])
        # torch's smoothed CE: (1 - s) (-log p_y) + s mean_c(-log p_c).
        values = (1.0 - label_smoothing) * values - label_smoothing * log_p.mean(dim=1)
        # p_t = (1 - s) p_y + s / C, so 1 - p_t = (1 - s)(1 - p_y) + s (1 - 1/C).
        one_minus_pt = (1.0 - label_smoothing) * one_minus_pt + label_smoothing * (1.0 - 1.0 / num_classes)
    if epsilon != 0.0:
        values = values + epsilon * one_minus_pt
    return reduce(values, reduction, weight, mask)


class PolyLoss(LossModule, spec=SPEC, fn=poly_loss):
    """Module form of :func:`losscraft.functional.poly_loss`."""

    def __init__(
        self,
        *,
        epsilon: float = 1.0,
        label_smoothing: float = 0.0,
        ignore_index: int = -100,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            epsilon=epsilon, label_smoothing=label_smoothing, ignore_index=ignore_index, reduction=reduction
        )
