"""Margin ranking loss on score pairs with +-1 labels (torch's MarginRankingLoss)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..._core.checks import (
    check_floating,
    check_params,
    check_same_shape,
    check_tensor,
    check_values_in,
    compute_dtype,
    fmt_shape,
    to_compute,
)
from ..._core.errors import LosscraftError
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
from ..._core.sampling import randn
from ..._core.spec import (
    Call,
    Curve,
    Family,
    InputKind,
    Interval,
    LossSpec,
    Param,
    Property,
    Ref,
    TargetKind,
    Task,
)


def _sample(n: int, *, generator: torch.Generator, dtype: torch.dtype, **_: object) -> Call:
    """Score pairs ``(n,)``; labels alternate +1, -1."""
    target = torch.where(torch.arange(n) % 2 == 0, 1.0, -1.0).to(dtype)
    return Call((randn((n,), generator, dtype), randn((n,), generator, dtype), target))


def _curve(x: Tensor, **_: object) -> Call:
    """``x1 = x``, ``x2 = 0``, label +1: ``x`` is the margin by which the first item wins."""
    return Call((x, torch.zeros_like(x), torch.ones_like(x)))


SPEC = LossSpec(
    name="margin_ranking",
    family=Family.RANKING,
    tasks=(Task.RANKING,),
    input_kind=InputKind.REAL,
    target_kind=TargetKind.SIGN,
    inputs=("input1", "input2", "target"),
    params=(
        Param("margin", 0.0, Interval(-math.inf, math.inf), "score gap m the preferred item must win by"),
    ),
    properties=frozenset(
        {Property.NONNEGATIVE, Property.CONVEX, Property.BOUNDED_GRADIENT, Property.ZERO_AT_MATCH}
    ),
    formula=r"\ell_i = \max\bigl(0,\ -y_i (x_{1i} - x_{2i}) + m\bigr)",
    summary="Margin ranking loss: a hinge on the score difference of a pair, signed by which item should rank first.",
    references=(
        Ref(
            "PyTorch contributors",
            "torch.nn.MarginRankingLoss",
            "PyTorch documentation",
            2017,
            "https://pytorch.org/docs/stable/generated/torch.nn.MarginRankingLoss.html",
        ),
        Ref(
            "R. Herbrich, T. Graepel, K. Obermayer",
            "Large Margin Rank Boundaries for Ordinal Regression",
            "Advances in Large Margin Classifiers, MIT Press",
            2000,
        ),
    ),
    sample=_sample,
    curve=Curve("margin", (-3.0, 3.0), _curve, label="label +1, scores (x, 0)"),
    none_shape="element",
    when_to_use=(
        "Pairwise preferences given as explicit pairs (x1 should rank above x2 when y = 1, below "
        "when y = -1): a ranking SVM objective, torch's MarginRankingLoss. Set margin > 0 to ask "
        "for a gap. Plot axis: the preferred item's score minus the other's."
    ),
    when_not_to_use=(
        "Not when the data are lists of items with relevance labels per query: ranknet compares "
        "every pair of a list, and listnet / approx_ndcg weigh the list as a whole. The hinge is "
        "not smooth and gives no gradient once a pair wins by the margin."
    ),
)


@register(SPEC)
def margin_ranking_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    *,
    margin: float = 0.0,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Margin ranking loss: a hinge on the score difference of a pair, signed by which item should rank first.

    Use it on explicit preference pairs: $y_i = 1$ says the first score should be the larger
    by at least $m$, $y_i = -1$ the second. The same as ``torch.nn.functional.margin_ranking_loss``
    (values and gradients), with losscraft's checks and per-pair weights.

    $$\ell_i = \max\bigl(0,\ -y_i (x_{1i} - x_{2i}) + m\bigr)$$

    **Gradient:** $\partial\ell_i/\partial x_{1i} = -y_i$ where the hinge is active
    ($y_i(x_{1i} - x_{2i}) < m$), else 0; the opposite for $x_{2i}$.

    Args:
        input1: scores of the first items, floating point, any shape.
        input2: scores of the second items, the same shape.
        target: labels $y \in \{-1, 1\}$ of the same shape (floating point).
        margin: the gap $m$ (any real; torch's default 0).
        weight: optional non-negative weights broadcastable to the pairs' shape.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (the pairs' shape).

    Returns:
        A scalar, or a tensor of the pairs' shape for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: inputs not floating or of different shapes, ``target`` not in
            ``{-1, 1}``, bad ``margin``, ``weight`` or ``reduction``.

    Examples:
        >>> import torch, losscraft.functional as LF
        >>> x1, x2 = torch.tensor([1.0, 0.2, -0.5]), torch.tensor([0.0, 0.5, 0.5])
        >>> LF.margin_ranking_loss(x1, x2, torch.tensor([1.0, 1.0, -1.0]), margin=0.5, reduction="none")
        tensor([0.0000, 0.8000, 0.0000])

    References:
        PyTorch contributors (2017). torch.nn.MarginRankingLoss. PyTorch documentation.
            https://pytorch.org/docs/stable/generated/torch.nn.MarginRankingLoss.html
        R. Herbrich, T. Graepel, K. Obermayer (2000). Large Margin Rank Boundaries for Ordinal
            Regression. Advances in Large Margin Classifiers, MIT Press.
    """
    fn = "margin_ranking_loss"
    check_params(SPEC, {"margin": margin, "reduction": reduction})
    check_floating(fn, "input1", input1)
    check_floating(fn, "input2", input2)
    check_same_shape(fn, input1, input2, ("input1", "input2"))
    t = check_tensor(fn, "target", target)
    if t.shape != input1.shape or t.is_complex() or t.dtype == torch.bool:
        raise LosscraftError(
            f"{fn}: 'target' must be a real tensor of the inputs' shape {fmt_shape(input1)}, got a "
            f"{t.dtype} tensor of shape {fmt_shape(t)}"
        )
    check_values_in(fn, "target", t, (-1, 1), "-1 (second item first) or 1 (first item first)")
    dtype = compute_dtype(input1)
    x1, x2, y = to_compute(input1, dtype), to_compute(input2, dtype), to_compute(target, dtype)
    values = torch.clamp_min(margin - y * (x1 - x2), 0.0)
    check_weight(fn, weight, values.shape)
    return reduce(values, reduction, weight)


class MarginRankingLoss(LossModule, spec=SPEC, fn=margin_ranking_loss):
    """Module form of :func:`losscraft.functional.margin_ranking_loss`."""

    def __init__(self, *, margin: float = 0.0, reduction: Reduction = "mean") -> None:
        super().__init__(margin=margin, reduction=reduction)
