"""RankNet: pairwise logistic loss over the ordered pairs of each query (Burges et al. 2005)."""

from __future__ import annotations

import torch
from torch import Tensor

from ..._core.checks import check_params
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
from ..._core.spec import Curve, Family, InputKind, Interval, LossSpec, Param, Property, Ref, TargetKind, Task
from ._common import IGNORE_PARAM, list_curve_call, list_sample, prepare_lists

BURGES_2005 = Ref(
    "C. Burges, T. Shaked, E. Renshaw, A. Lazier, M. Deeds, N. Hamilton, G. Hullender",
    "Learning to Rank using Gradient Descent",
    "ICML",
    2005,
    "https://doi.org/10.1145/1102351.1102363",
)

SPEC = LossSpec(
    name="ranknet",
    family=Family.RANKING,
    tasks=(Task.RANKING,),
    input_kind=InputKind.REAL,
    target_kind=TargetKind.COUNT,
    params=(
        Param(
            "sigma",
            1.0,
            Interval(0.0, float("inf"), low_closed=False),
            "slope sigma of the pair probability sigmoid(sigma (s_i - s_j))",
        ),
        IGNORE_PARAM,
    ),
    properties=frozenset({Property.NONNEGATIVE, Property.CONVEX, Property.SMOOTH, Property.BOUNDED_GRADIENT}),
    formula=(
        r"\ell_q = \frac{1}{|P_q|} \sum_{(i,j) \in P_q} \log\bigl(1 + e^{-\sigma (s_{qi} - s_{qj})}\bigr),"
        r"\quad P_q = \{(i, j) : y_{qi} > y_{qj}\}"
    ),
    summary="RankNet pairwise logistic loss: the mean over a query's ordered pairs of softplus(-sigma (s_i - s_j)).",
    references=(BURGES_2005,),
    sample=list_sample,
    curve=Curve("margin", (-6.0, 6.0), list_curve_call, label="labels (1, 0), scores (x, 0)"),
    none_shape="sample",
    ignore_index=True,
    when_to_use=(
        "Learning to rank with graded relevance labels per query (search, recommendation): "
        "every pair of items with different labels should be ordered by score. Simple, convex "
        "in the scores and robust; the usual first choice. Plot axis: score margin of the "
        "relevant item over the irrelevant one in a two-item query."
    ),
    when_not_to_use=(
        "Not when only the top of the list matters (NDCG@k): every misordered pair costs the "
        "same wherever it sits, use approx_ndcg or listnet. Not for binary relevance on one "
        "pair at a time with a margin: margin_ranking."
    ),
)


@register(SPEC)
def ranknet_loss(
    input: Tensor,
    target: Tensor,
    *,
    sigma: float = 1.0,
    ignore_index: int = -1,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""RankNet pairwise logistic loss: the mean over a query's ordered pairs of softplus(-sigma (s_i - s_j)).

    Use it to learn a scoring function from graded relevance labels: each query's items are
    compared in every pair whose labels differ, and the model's probability that the better
    item ranks first, $\sigma(\sigma_s (s_i - s_j))$, is scored by cross-entropy against 1.
    Pairs of equal labels are not used (RankNet's target $\bar P_{ij} = 1/2$ for ties is left
    out, as in optax / rax ``pairwise_logistic_loss``).

    $$\ell_q = \frac{1}{|P_q|} \sum_{(i,j) \in P_q} \log\bigl(1 + e^{-\sigma (s_{qi} - s_{qj})}\bigr),\quad P_q = \{(i, j) : y_{qi} > y_{qj}\}$$

    Each query's value is the mean over its pairs, so short and long lists weigh the same.
    A query without a pair (all labels equal, or fewer than two real items) is 0 and left
    out of the mean, as an ignored sample. Padded items (``target == ignore_index``) form no
    pair. Finite for scores of any size (softplus as ``logaddexp``).

    **Gradient:** $\partial\ell_q/\partial s_{qi} = -\frac{\sigma}{|P_q|}\bigl(\sum_{j:(i,j)\in P_q} \sigma(-\sigma(s_i - s_j)) - \sum_{j:(j,i)\in P_q} \sigma(-\sigma(s_j - s_i))\bigr)$:
    bounded by $\sigma$, never saturating on a misordered pair.

    Args:
        input: scores $s$ of shape ``(Q, L)``, floating point: ``L`` items for each of ``Q`` queries.
        target: relevance labels $y$ of shape ``(Q, L)``, finite values ``>= 0`` (integer or
            floating), or ``ignore_index`` for a padded item.
        sigma: slope $\sigma > 0$ of the pair probability. Default 1.
        ignore_index: the target value of a padded item. Default -1.
        weight: optional non-negative per-query weights broadcastable to ``(Q,)``.
        reduction: ``"mean"`` (weighted mean over queries with a pair), ``"sum"`` or ``"none"``
            (shape ``(Q,)``).

    Returns:
        A scalar, or a tensor of shape ``(Q,)`` for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: ``input`` not floating or not 2-D, ``target`` not of ``input``'s shape
            or with a label that is negative or not finite (other than ``ignore_index``), bad
            ``sigma``, ``weight`` or ``reduction``.

    Examples:
        >>> import torch, losscraft.functional as LF
        >>> s = torch.tensor([[2.0, 1.0, 0.0], [0.5, 1.0, 0.0]])
        >>> y = torch.tensor([[2, 1, 0], [1, 0, -1]])
        >>> LF.ranknet_loss(s, y, reduction="none")
        tensor([0.2512, 0.9741])

    References:
        C. Burges, T. Shaked, E. Renshaw, A. Lazier, M. Deeds, N. Hamilton, G. Hullender (2005).
            Learning to Rank using Gradient Descent. ICML. https://doi.org/10.1145/1102351.1102363
    """
    fn = "ranknet_loss"
    check_params(SPEC, {"sigma": sigma, "ignore_index": ignore_index, "reduction": reduction})
    s, rel, valid = prepare_lists(fn, input, target, ignore_index)
    # pairs (i, j) of real items with y_i > y_j: (Q, L, L)
    pairs = (rel.unsqueeze(2) > rel.unsqueeze(1)) & valid.unsqueeze(2) & valid.unsqueeze(1)
    diff = s.unsqueeze(2) - s.unsqueeze(1)
    # softplus(-sigma d) as logaddexp: exact for any d, gradient sigmoid
    per_pair = torch.logaddexp(-sigma * diff, torch.zeros((), dtype=s.dtype, device=s.device))
    per_pair = torch.where(pairs, per_pair, torch.zeros_like(per_pair))
    count = pairs.sum(dim=(1, 2))
    has_pair = count > 0
    values = per_pair.sum(dim=(1, 2)) / count.clamp(min=1).to(s.dtype)
    check_weight(fn, weight, values.shape)
    return reduce(values, reduction, weight, has_pair)


class RankNetLoss(LossModule, spec=SPEC, fn=ranknet_loss):
    """Module form of :func:`losscraft.functional.ranknet_loss`."""

    def __init__(self, *, sigma: float = 1.0, ignore_index: int = -1, reduction: Reduction = "mean") -> None:
        super().__init__(sigma=sigma, ignore_index=ignore_index, reduction=reduction)
