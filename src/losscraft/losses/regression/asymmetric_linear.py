"""Asymmetric linear (weighted absolute) loss."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..._core.checks import check_params, prepare_real_pair
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
from ..._core.sampling import real_pair_sample, residual_curve_call
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

_COST = Interval(0.0, math.inf, low_closed=False, high_closed=False)

SPEC = LossSpec(
    name="asymmetric_linear",
    family=Family.REGRESSION,
    tasks=(Task.REGRESSION, Task.QUANTILE_REGRESSION),
    input_kind=InputKind.REAL,
    target_kind=TargetKind.REAL,
    params=(
        Param("under", 1.0, _COST, "cost per unit of under-prediction (prediction below target)"),
        Param("over", 1.0, _COST, "cost per unit of over-prediction (prediction above target)"),
    ),
    # Measured at the default (equal) costs, where it is the absolute error.
    properties=frozenset(
        {
            Property.NONNEGATIVE,
            Property.ZERO_AT_MATCH,
            Property.SYMMETRIC,
            Property.CONVEX,
            Property.BOUNDED_GRADIENT,
            Property.ROBUST_TO_OUTLIERS,
        }
    ),
    formula=(
        r"\ell_i = c_u \max(y_i - \hat y_i, 0) + c_o \max(\hat y_i - y_i, 0) = (c_u + c_o)\,\rho_\tau(y_i "
        r"- \hat y_i),\qquad \tau = \frac{c_u}{c_u + c_o}"
    ),
    summary=(
        "Asymmetric linear loss: per-unit costs differ for under- and over-prediction; minimiser: a quantile."
    ),
    references=(
        Ref(
            "R. Koenker, G. Bassett",
            "Regression Quantiles",
            "Econometrica 46(1)",
            1978,
            "https://doi.org/10.2307/1913643",
        ),
        Ref(
            "K. J. Arrow, T. Harris, J. Marschak",
            "Optimal Inventory Policy",
            "Econometrica 19(3)",
            1951,
            "https://doi.org/10.2307/1906813",
        ),
    ),
    sample=real_pair_sample,
    curve=Curve("residual", (-4.0, 4.0), residual_curve_call),
    relations=(
        Relation(
            "quantile",
            params={"under": 3.0, "over": 1.0},
            other_params={"quantiles": 0.75},
            factor=4.0,
            note="(c_u + c_o) x pinball at tau = c_u / (c_u + c_o)",
        ),
        Relation("mae", note="equal costs of 1"),
    ),
    when_to_use=(
        "Costs of errors are linear but unequal (under-stocking vs over-stocking): the Bayes-optimal "
        "forecast is the c_u / (c_u + c_o) quantile (newsvendor critical fractile)."
    ),
    when_not_to_use=(
        "Not when the costs grow faster than linearly with the error: use asymmetric_squared "
        "(quadratic) or linex (exponential on one side). For several quantile levels at once "
        "(intervals) use quantile, which takes a tuple of levels in one call; with both costs "
        "1 it is mae."
    ),
)


@register(SPEC, aliases=("weighted_absolute", "newsvendor"))
def asymmetric_linear_loss(
    input: Tensor,
    target: Tensor,
    *,
    under: float = 1.0,
    over: float = 1.0,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Asymmetric linear loss: per-unit costs differ for under- and over-prediction; minimiser: a quantile.

    $$\ell_i = c_u \max(y_i - \hat y_i, 0) + c_o \max(\hat y_i - y_i, 0) = (c_u + c_o)\,\rho_\tau(y_i - \hat y_i),\qquad \tau = \frac{c_u}{c_u + c_o}$$

    so it is the quantile (pinball) loss at $\tau = c_u/(c_u+c_o)$ scaled by $c_u + c_o$, and
    its minimiser is that quantile: with under-stock costing 3 and over-stock 1, predict the
    75th percentile of demand (the newsvendor fractile of Arrow, Harris & Marschak). Reduced
    as described in *Reductions* (``docs/conventions.md``).

    **Gradient:** $-c_u$ below the target, $+c_o$ above it (bounded); the subgradient at a
    zero residual is $(c_o - c_u)/2$.

    Args:
        input: predictions, any shape, floating point.
        target: targets, same shape as ``input``.
        under: cost $c_u > 0$ per unit of under-prediction. Default 1.0.
        over: cost $c_o > 0$ per unit of over-prediction. Default 1.0 (with ``under=1`` the
            absolute error).
        weight: optional non-negative weights broadcastable to ``input``'s shape.
        reduction: ``"mean"`` (weighted mean), ``"sum"`` or ``"none"`` (``input``'s shape).

    Returns:
        A scalar, or a tensor of ``input``'s shape for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: shapes differ, non-floating input, a cost that is not > 0, bad
            ``weight`` or ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import asymmetric_linear_loss
        >>> y = torch.tensor([10.0, 10.0])
        >>> asymmetric_linear_loss(torch.tensor([8.0, 12.0]), y, under=3.0, over=1.0, reduction="none")
        tensor([6., 2.])

    References:
        R. Koenker, G. Bassett (1978). Regression Quantiles. Econometrica 46(1).
            https://doi.org/10.2307/1913643
        K. J. Arrow, T. Harris, J. Marschak (1951). Optimal Inventory Policy. Econometrica 19(3).
            https://doi.org/10.2307/1906813
    """
    fn = "asymmetric_linear_loss"
    x, y = prepare_real_pair(fn, input, target)
    check_params(SPEC, {"under": under, "over": over, "reduction": reduction})
    check_weight(fn, weight, x.shape)
    u = y - x
    # max(c_u u, -c_o u): one fused op; at u = 0 the tie splits the subgradient evenly.
    return reduce(torch.maximum(under * u, -over * u), reduction, weight)


class AsymmetricLinearLoss(LossModule, spec=SPEC, fn=asymmetric_linear_loss):
    """Module form of :func:`losscraft.functional.asymmetric_linear_loss`."""

    def __init__(self, *, under: float = 1.0, over: float = 1.0, reduction: Reduction = "mean") -> None:
        super().__init__(under=under, over=over, reduction=reduction)
