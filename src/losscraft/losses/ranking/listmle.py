"""ListMLE: Plackett-Luce likelihood of the relevance-sorted permutation (Xia et al. 2008)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..._core.checks import check_params
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
from ..._core.spec import Curve, Family, InputKind, LossSpec, Property, Ref, TargetKind, Task
from ._common import IGNORE_PARAM, list_curve_call, list_sample, prepare_lists

XIA_2008 = Ref(
    "F. Xia, T.-Y. Liu, J. Wang, W. Zhang, H. Li",
    "Listwise Approach to Learning to Rank: Theory and Algorithm",
    "ICML",
    2008,
    "https://doi.org/10.1145/1390156.1390306",
)

SPEC = LossSpec(
    name="listmle",
    family=Family.RANKING,
    tasks=(Task.RANKING,),
    input_kind=InputKind.REAL,
    target_kind=TargetKind.COUNT,
    params=(IGNORE_PARAM,),
    # On the curve (two items, labels (1, 0), scores (x, 0)): softplus(-x), as RankNet's.
    properties=frozenset({Property.NONNEGATIVE, Property.CONVEX, Property.SMOOTH, Property.BOUNDED_GRADIENT}),
    formula=(
        r"\ell_q = \sum_{k=1}^{n_q} \Bigl(\log \sum_{m=k}^{n_q} e^{s_{q\pi(m)}} - s_{q\pi(k)}\Bigr),"
        r"\quad y_{q\pi(1)} \ge y_{q\pi(2)} \ge \dots"
    ),
    summary="ListMLE listwise loss: negative Plackett-Luce log-likelihood of the items sorted by relevance.",
    references=(XIA_2008,),
    sample=list_sample,
    curve=Curve("margin", (-6.0, 6.0), list_curve_call, label="labels (1, 0), scores (x, 0)"),
    none_shape="sample",
    ignore_index=True,
    when_to_use=(
        "Learning to rank when the labels define the order to reproduce (many distinct relevance "
        "grades, or a full ranking per query): the whole permutation's likelihood is maximised. "
        "Plot axis: score margin of the relevant item over the irrelevant one in a two-item query."
    ),
    when_not_to_use=(
        "Not with few grades and many ties (binary clicks): the tie order is arbitrary (here: "
        "list position) and the loss asks for it anyway; use listnet or ranknet. For NDCG at a "
        "cut-off: approx_ndcg."
    ),
)


@register(SPEC)
def listmle_loss(
    input: Tensor,
    target: Tensor,
    *,
    ignore_index: int = -1,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""ListMLE listwise loss: negative Plackett-Luce log-likelihood of the items sorted by relevance.

    Use it to learn to rank when the labels give the order to reproduce: $\pi$ sorts each
    query's real items by decreasing label, and the loss is the negative log-probability of
    drawing them in that order from the scores' Plackett-Luce model (each step a softmax over
    the items not yet drawn).

    $$\ell_q = \sum_{k=1}^{n_q} \Bigl(\log \sum_{m=k}^{n_q} e^{s_{q\pi(m)}} - s_{q\pi(k)}\Bigr),\quad y_{q\pi(1)} \ge y_{q\pi(2)} \ge \dots$$

    Ties rule: items of equal label keep their order in the list (a stable sort: the earlier
    item is drawn first), so the value is deterministic; shuffle the lists beforehand for the
    random tie order of optax / rax ``listmle_loss``. Sums run over the real items (padded
    ones, ``target == ignore_index``, are never drawn); a query with one real item is 0 and a
    query with none is 0 and left out of the mean. Finite for scores of any size (log-sum-exp).

    **Gradient:** $\partial\ell_q/\partial s_{q\pi(m)} = \sum_{k \le m} \operatorname{softmax}_{k..n}(s)_{\pi(m)} - 1$:
    between -1 and $n_q - 1$.

    Args:
        input: scores $s$ of shape ``(Q, L)``, floating point.
        target: relevance labels $y$ of shape ``(Q, L)``, finite values ``>= 0``, or
            ``ignore_index`` for a padded item.
        ignore_index: the target value of a padded item. Default -1.
        weight: optional non-negative per-query weights broadcastable to ``(Q,)``.
        reduction: ``"mean"`` (weighted mean over queries with an item), ``"sum"`` or
            ``"none"`` (shape ``(Q,)``).

    Returns:
        A scalar, or a tensor of shape ``(Q,)`` for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: ``input`` not floating or not 2-D, ``target`` not of ``input``'s shape
            or with a negative or non-finite label, bad ``weight`` or ``reduction``.

    Examples:
        >>> import torch, losscraft.functional as LF
        >>> s = torch.tensor([[2.0, 1.0, 0.0], [0.5, 1.0, 0.0]])
        >>> y = torch.tensor([[2, 1, 0], [1, 0, -1]])
        >>> LF.listmle_loss(s, y, reduction="none")
        tensor([0.7209, 0.9741])

    References:
        F. Xia, T.-Y. Liu, J. Wang, W. Zhang, H. Li (2008). Listwise Approach to Learning to
            Rank: Theory and Algorithm. ICML. https://doi.org/10.1145/1390156.1390306
    """
    fn = "listmle_loss"
    check_params(SPEC, {"ignore_index": ignore_index, "reduction": reduction})
    s, rel, valid = prepare_lists(fn, input, target, ignore_index)
    length = s.shape[1]
    pos = torch.arange(length, device=s.device)
    # later[q, i, j]: item j is drawn at or after item i (lower label, or equal label and j >= i)
    yi, yj = rel.unsqueeze(2), rel.unsqueeze(1)
    later = (yj < yi) | ((yj == yi) & (pos.unsqueeze(0) >= pos.unsqueeze(1)))
    # every row keeps item i itself, so no row is empty (padded rows are dropped below)
    later = (later & valid.unsqueeze(1)) | torch.eye(length, dtype=torch.bool, device=s.device)
    rows = s.unsqueeze(1).expand(-1, length, -1).masked_fill(~later, -math.inf)
    step = torch.logsumexp(rows, dim=2) - s  # -log P(item i drawn next among those left)
    values = torch.where(valid, step, torch.zeros_like(step)).sum(dim=1)
    check_weight(fn, weight, values.shape)
    return reduce(values, reduction, weight, valid.any(dim=1))


class ListMLELoss(LossModule, spec=SPEC, fn=listmle_loss):
    """Module form of :func:`losscraft.functional.listmle_loss`."""

    def __init__(self, *, ignore_index: int = -1, reduction: Reduction = "mean") -> None:
        super().__init__(ignore_index=ignore_index, reduction=reduction)
