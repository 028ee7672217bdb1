"""ApproxNDCG: one minus NDCG with each rank replaced by a sum of sigmoids (Qin, Liu & Li 2010)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..._core.checks import check_params
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
from ..._core.spec import Curve, Family, InputKind, Interval, LossSpec, Param, Property, Ref, TargetKind, Task
from ._common import IGNORE_PARAM, list_curve_call, list_sample, prepare_lists

QIN_2010 = Ref(
    "T. Qin, T.-Y. Liu, H. Li",
    "A General Approximation Framework for Direct Optimization of Information Retrieval Measures",
    "Information Retrieval 13(4)",
    2010,
    "https://doi.org/10.1007/s10791-009-9124-x",
)

SPEC = LossSpec(
    name="approx_ndcg",
    family=Family.RANKING,
    tasks=(Task.RANKING,),
    input_kind=InputKind.REAL,
    target_kind=TargetKind.COUNT,
    params=(
        Param(
            "temperature",
            1.0,
            Interval(0.0, math.inf, low_closed=False),
            "T > 0 of the smooth rank's sigmoids sigmoid((s_j - s_i) / T) (Qin et al.'s 1 / alpha)",
        ),
        IGNORE_PARAM,
    ),
    # On the curve (labels (1, 0), scores (x, 0)): 1 - 1 / log2(2 + sigmoid(-x / T)): smooth,
    # bounded in [0, 1 - 1/log2(3)], slope bounded, not convex, never exactly 0.
    properties=frozenset({Property.NONNEGATIVE, Property.SMOOTH, Property.BOUNDED_GRADIENT}),
    formula=(
        r"\ell_q = 1 - \frac{1}{\mathrm{IDCG}_q} \sum_i \frac{2^{y_{qi}} - 1}{\log_2(1 + \hat\pi_{qi})},"
        r"\quad \hat\pi_{qi} = 1 + \sum_{j \ne i} \sigma\Bigl(\frac{s_{qj} - s_{qi}}{T}\Bigr)"
    ),
    summary="ApproxNDCG loss: one minus NDCG computed with smooth ranks, sums of sigmoids of score differences.",
    references=(QIN_2010,),
    sample=list_sample,
    curve=Curve("margin", (-6.0, 6.0), list_curve_call, label="labels (1, 0), scores (x, 0)"),
    none_shape="sample",
    ignore_index=True,
    when_to_use=(
        "Learning to rank when the evaluation metric is NDCG: the loss is 1 - NDCG with each "
        "item's rank smoothed by sigmoids of score differences, so gains at the top weigh most. "
        "Lower the temperature to approach the true NDCG (steeper, noisier gradients). Plot "
        "axis: score margin of the relevant item over the irrelevant one in a two-item query."
    ),
    when_not_to_use=(
        "Not from scratch on hard problems: its gradients vanish on confidently misordered "
        "items (the sigmoids saturate); warm-start with ranknet or listnet. Not convex. Not "
        "when every pair matters equally: ranknet."
    ),
)


@register(SPEC)
def approx_ndcg_loss(
    input: Tensor,
    target: Tensor,
    *,
    temperature: float = 1.0,
    ignore_index: int = -1,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""ApproxNDCG loss: one minus NDCG computed with smooth ranks, sums of sigmoids of score differences.

    Use it to optimise NDCG directly: the rank of item $i$, $1 + \#\{j : s_j > s_i\}$, is
    replaced by the smooth $\hat\pi_i$ below, and the gains $2^{y_i} - 1$ are discounted by
    $\log_2(1 + \hat\pi_i)$ and normalised by the ideal DCG (the labels sorted, true ranks).

    $$\ell_q = 1 - \frac{1}{\mathrm{IDCG}_q} \sum_i \frac{2^{y_{qi}} - 1}{\log_2(1 + \hat\pi_{qi})},\quad \hat\pi_{qi} = 1 + \sum_{j \ne i} \sigma\Bigl(\frac{s_{qj} - s_{qi}}{T}\Bigr)$$

    In ``[0, 1)``: 0 would be a perfect NDCG reached with hard ranks. Sums run over the real
    items; a query with no relevant item (``IDCG = 0``: no NDCG) or none at all is 0 and left
    out of the mean. As optax / rax ``approx_t12n(ndcg_metric)``, up to the sign and the
    constant 1. Finite for scores of any size (the sigmoids saturate, ranks stay >= 1).

    **Gradient:** $\partial\ell_q/\partial s_{qi}$ sums, over the pairs $(i, j)$, the
    discount derivative times $\sigma'((s_j - s_i)/T)/T$: bounded by a constant over $T$, and
    vanishing when all pairs are far from a tie (no signal on confidently misordered items).

    Args:
        input: scores $s$ of shape ``(Q, L)``, floating point.
        target: relevance labels $y$ of shape ``(Q, L)``, finite values ``>= 0``, or
            ``ignore_index`` for a padded item.
        temperature: $T > 0$ of the smooth ranks; the hard rank is the limit $T \to 0$. Default 1.
        ignore_index: the target value of a padded item. Default -1.
        weight: optional non-negative per-query weights broadcastable to ``(Q,)``.
        reduction: ``"mean"`` (weighted mean over queries with a relevant item), ``"sum"`` or
            ``"none"`` (shape ``(Q,)``).

    Returns:
        A scalar, or a tensor of shape ``(Q,)`` for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: ``input`` not floating or not 2-D, ``target`` not of ``input``'s shape
            or with a negative or non-finite label, bad ``temperature``, ``weight`` or
            ``reduction``.

    Examples:
        >>> import torch, losscraft.functional as LF
        >>> s = torch.tensor([[2.0, 1.0, 0.0], [0.5, 1.0, 0.0]])
        >>> y = torch.tensor([[2, 1, 0], [1, 0, -1]])
        >>> LF.approx_ndcg_loss(s, y, reduction="none")
        tensor([0.1683, 0.2811])

    References:
        T. Qin, T.-Y. Liu, H. Li (2010). A General Approximation Framework for Direct
            Optimization of Information Retrieval Measures. Information Retrieval 13(4).
            https://doi.org/10.1007/s10791-009-9124-x
    """
    fn = "approx_ndcg_loss"
    check_params(SPEC, {"temperature": temperature, "ignore_index": ignore_index, "reduction": reduction})
    s, rel, valid = prepare_lists(fn, input, target, ignore_index)
    length = s.shape[1]
    # pairs (i, j) of real items, j != i
    others = valid.unsqueeze(1) & ~torch.eye(length, dtype=torch.bool, device=s.device)
    above = torch.sigmoid((s.unsqueeze(1) - s.unsqueeze(2)) / temperature)  # [q, i, j]: sigma((s_j - s_i)/T)
    rank = 1.0 + torch.where(others, above, torch.zeros_like(above)).sum(dim=2)  # >= 1: finite discount
    gain = torch.expm1(rel * math.log(2.0))  # 2^y - 1, 0 for padded items (rel = 0 there)
    dcg = (gain / torch.log2(1.0 + rank)).sum(dim=1)
    # ideal DCG: the gains sorted down at the true ranks 1, 2, ...; padded gains are 0
    ideal = torch.sort(gain, dim=1, descending=True).values
    discount = torch.log2(torch.arange(length, device=s.device, dtype=s.dtype) + 2.0)
    idcg = (ideal / discount).sum(dim=1)
    keep = idcg > 0  # no relevant item: NDCG is undefined
    values = 1.0 - dcg / torch.where(keep, idcg, torch.ones_like(idcg))
    values = torch.where(keep, values, torch.zeros_like(values))
    check_weight(fn, weight, values.shape)
    return reduce(values, reduction, weight, keep)


class ApproxNDCGLoss(LossModule, spec=SPEC, fn=approx_ndcg_loss):
    """Module form of :func:`losscraft.functional.approx_ndcg_loss`."""

    def __init__(
        self, *, temperature: float = 1.0, ignore_index: int = -1, reduction: Reduction = "mean"
    ) -> None:
        super().__init__(temperature=temperature, ignore_index=ignore_index, reduction=reduction)
