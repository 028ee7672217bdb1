"""ListNet: cross-entropy between the top-one distributions of labels and scores (Cao et al. 2007)."""

from __future__ import annotations

import torch
from torch import Tensor

from ..._core.checks import check_params
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
from ..._core.spec import Choice, Curve, Family, InputKind, LossSpec, Param, Property, Ref, TargetKind, Task
from ._common import IGNORE_PARAM, list_curve_call, list_sample, masked_log_softmax, prepare_lists

CAO_2007 = Ref(
    "Z. Cao, T. Qin, T.-Y. Liu, M.-F. Tsai, H. Li",
    "Learning to Rank: From Pairwise Approach to Listwise Approach",
    "ICML",
    2007,
    "https://doi.org/10.1145/1273496.1273513",
)

SPEC = LossSpec(
    name="listnet",
    family=Family.RANKING,
    tasks=(Task.RANKING,),
    input_kind=InputKind.REAL,
    target_kind=TargetKind.COUNT,
    params=(
        Param(
            "target_distribution",
            "softmax",
            Choice(("softmax", "linear")),
            "labels' top-one distribution: softmax(y) (Cao et al.) or y / sum(y) (optax ranking_softmax_loss)",
        ),
        IGNORE_PARAM,
    ),
    # On the curve (labels (1, 0), scores (x, 0)): a logistic loss in x, smooth and convex
    # with slope bounded by 1; it never reaches 0 (the softmax target is not one-hot).
    properties=frozenset({Property.NONNEGATIVE, Property.CONVEX, Property.SMOOTH, Property.BOUNDED_GRADIENT}),
    formula=(
        r"\ell_q = -\sum_{i} P_y(i) \log \frac{e^{s_{qi}}}{\sum_{k} e^{s_{qk}}},"
        r"\quad P_y(i) = \frac{e^{y_{qi}}}{\sum_k e^{y_{qk}}} \text{ or } \frac{y_{qi}}{\sum_k y_{qk}}"
    ),
    summary="ListNet listwise loss: cross-entropy between the top-one distributions of the labels and the scores.",
    references=(CAO_2007,),
    sample=list_sample,
    curve=Curve("margin", (-6.0, 6.0), list_curve_call, label="labels (1, 0), scores (x, 0)"),
    none_shape="sample",
    ignore_index=True,
    when_to_use=(
        "Learning to rank from graded relevance with one softmax per query: cheap (linear in "
        "the list length), smooth, and it weighs the whole list at once. With binary clicks use "
        "target_distribution='linear' (optax's ranking_softmax_loss). Plot axis: score margin of "
        "the relevant item over the irrelevant one in a two-item query."
    ),
    when_not_to_use=(
        "Not when the metric is NDCG at a cut-off and the top positions matter most: "
        "approx_ndcg. Not when the labels give a full order to be reproduced exactly: listmle. "
        "A query's loss never reaches 0 with the softmax target (the minimum is its entropy)."
    ),
)


@register(SPEC)
def listnet_loss(
    input: Tensor,
    target: Tensor,
    *,
    target_distribution: str = "softmax",
    ignore_index: int = -1,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""ListNet listwise loss: cross-entropy between the top-one distributions of the labels and the scores.

    Use it to learn to rank from graded relevance: each query's scores become a distribution
    over its items (the probability of each item being ranked first, a softmax), fitted by
    cross-entropy to the labels' distribution.

    $$\ell_q = -\sum_{i} P_y(i) \log \frac{e^{s_{qi}}}{\sum_{k} e^{s_{qk}}},\quad P_y(i) = \frac{e^{y_{qi}}}{\sum_k e^{y_{qk}}} \text{ or } \frac{y_{qi}}{\sum_k y_{qk}}$$

    ``target_distribution="softmax"`` (default) is Cao et al.'s top-one probability of the
    labels; ``"linear"`` normalises the labels by their sum, as optax's
    ``ranking_softmax_loss`` (then a query with no relevant item, all labels 0, has no
    distribution: it is 0 and left out of the mean). Sums run over the real items only;
    a query whose items are all padded is 0 and left out of the mean. Finite for scores of
    any size (``log_softmax``).

    **Gradient:** $\partial\ell_q/\partial s_{qi} = \operatorname{softmax}(s_q)_i - P_y(i)$: bounded by 1.

    Args:
        input: scores $s$ of shape ``(Q, L)``, floating point.
        target: relevance labels $y$ of shape ``(Q, L)``, finite values ``>= 0``, or
            ``ignore_index`` for a padded item.
        target_distribution: ``"softmax"`` or ``"linear"`` (see above). Default ``"softmax"``.
        ignore_index: the target value of a padded item. Default -1.
        weight: optional non-negative per-query weights broadcastable to ``(Q,)``.
        reduction: ``"mean"`` (weighted mean over queries with a distribution), ``"sum"`` or
            ``"none"`` (shape ``(Q,)``).

    Returns:
        A scalar, or a tensor of shape ``(Q,)`` for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: ``input`` not floating or not 2-D, ``target`` not of ``input``'s shape
            or with a negative or non-finite label, bad ``target_distribution``, ``weight`` or
            ``reduction``.

    Examples:
        >>> import torch, losscraft.functional as LF
        >>> s = torch.tensor([[2.0, 1.0, 0.0], [0.5, 1.0, 0.0]])
        >>> y = torch.tensor([[2, 1, 0], [1, 0, -1]])
        >>> LF.listnet_loss(s, y, reduction="none")
        tensor([0.8324, 0.8396])
        >>> LF.listnet_loss(s, y, target_distribution="linear", reduction="none")
        tensor([0.7409, 0.9741])

    References:
        Z. Cao, T. Qin, T.-Y. Liu, M.-F. Tsai, H. Li (2007). Learning to Rank: From Pairwise
            Approach to Listwise Approach. ICML. https://doi.org/10.1145/1273496.1273513
    """
    fn = "listnet_loss"
    check_params(
        SPEC,
        {"target_distribution": target_distribution, "ignore_index": ignore_index, "reduction": reduction},
    )
    s, rel, valid = prepare_lists(fn, input, target, ignore_index)
    has_item = valid.any(dim=1)
    if target_distribution == "softmax":
        # the labels' top-one distribution over the real items (padded ones get exactly 0)
        p_y = masked_log_softmax(rel, valid).exp()
        keep = has_item
    else:
        total = rel.sum(dim=1, keepdim=True)
        keep = total.squeeze(1) > 0  # no relevant item: no distribution to fit
        p_y = rel / torch.where(total > 0, total, torch.ones_like(total))
    log_p = masked_log_softmax(s, valid)
    # padded items: log_p is -inf there; select 0 before the product (no 0 * inf, also backwards)
    values = -(p_y * torch.where(valid, log_p, torch.zeros_like(log_p))).sum(dim=1)
    check_weight(fn, weight, values.shape)
    return reduce(values, reduction, weight, keep)


class ListNetLoss(LossModule, spec=SPEC, fn=listnet_loss):
    """Module form of :func:`losscraft.functional.listnet_loss`."""

    def __init__(
        self, *, target_distribution: str = "softmax", ignore_index: int = -1, reduction: Reduction = "mean"
    ) -> None:
        super().__init__(
            target_distribution=target_distribution, ignore_index=ignore_index, reduction=reduction
        )
