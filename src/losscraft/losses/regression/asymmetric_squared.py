"""Asymmetric squared (expectile) loss."""

from __future__ import annotations

import math

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
    name="asymmetric_squared",
    family=Family.REGRESSION,
    tasks=(Task.REGRESSION,),
    input_kind=InputKind.REAL,
    target_kind=TargetKind.REAL,
    params=(
        Param("under", 1.0, _COST, "cost weight of squared under-prediction"),
        Param("over", 1.0, _COST, "cost weight of squared over-prediction"),
    ),
    # Measured at the default (equal) costs, where it is the squared error.
    properties=frozenset(
        {Property.NONNEGATIVE, Property.ZERO_AT_MATCH, Property.SYMMETRIC, Property.CONVEX, Property.SMOOTH}
    ),
    formula=(
        r"\ell_i = c_u \max(y_i - \hat y_i, 0)^2 + c_o \max(\hat y_i - y_i, 0)^2 "
        r"= (c_u + c_o)\,\lvert\tau - \mathbb 1[y_i < \hat y_i]\rvert\,(y_i - \hat y_i)^2,\qquad "
        r"\tau = \frac{c_u}{c_u + c_o}"
    ),
    summary=(
        "Asymmetric squared (expectile) loss: squared error weighted apart for under- and over-prediction."
    ),
    references=(
        Ref(
            "W. K. Newey, J. L. Powell",
            "Asymmetric Least Squares Estimation and Testing",
            "Econometrica 55(4)",
            1987,
            "https://doi.org/10.2307/1911031",
        ),
    ),
    sample=real_pair_sample,
    curve=Curve("residual", (-4.0, 4.0), residual_curve_call),
    relations=(Relation("mse", note="equal costs of 1"),),
    when_to_use=(
        "Unequal costs that grow quadratically; the minimiser is the tau-expectile with "
        "tau = c_u / (c_u + c_o) (the mean when the costs are equal)."
    ),
    when_not_to_use=(
        "Not when the costs are linear in the error: its minimiser is an expectile, not the "
        "quantile that linear costs call for (use asymmetric_linear or quantile). Like mse it "
        "is sensitive to outliers (its gradient is unbounded): with heavy-tailed noise use "
        "asymmetric_linear."
    ),
)


@register(SPEC, aliases=("expectile",))
def asymmetric_squared_loss(
    input: Tensor,
    target: Tensor,
    *,
    under: float = 1.0,
    over: float = 1.0,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Asymmetric squared (expectile) loss: squared error weighted apart for under- and over-prediction.

    $$\ell_i = c_u \max(y_i - \hat y_i, 0)^2 + c_o \max(\hat y_i - y_i, 0)^2 = (c_u + c_o)\,\lvert\tau - \mathbb 1[y_i < \hat y_i]\rvert\,(y_i - \hat y_i)^2,\qquad \tau = \frac{c_u}{c_u + c_o}$$

    the expectile loss of Newey & Powell, whose minimiser is the
    $\tau$-expectile (the squared-error analogue of the quantile loss). Reduced as described
    in *Reductions* (``docs/conventions.md``).

    **Gradient:** $-2c_u(y - \hat y)$ below the target, $2c_o(\hat y - y)$ above; continuous
    (C1), with a kink in the curvature at 0 when $c_u \ne c_o$.

    Args:
        input: predictions, any shape, floating point.
        target: targets, same shape as ``input``.
        under: weight $c_u > 0$ of squared under-prediction. Default 1.0.
        over: weight $c_o > 0$ of squared over-prediction. Default 1.0 (the squared error).
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
        >>> from losscraft.functional import asymmetric_squared_loss
        >>> asymmetric_squared_loss(torch.tensor([8.0, 12.0]), torch.tensor([10.0, 10.0]), under=3.0,
        ...                         reduction="none")
        tensor([12.,  4.])

    References:
        W. K. Newey, J. L. Powell (1987). Asymmetric Least Squares Estimation and Testing.
            Econometrica 55(4). https://doi.org/10.2307/1911031
    """
    fn = "asymmetric_squared_loss"
    x, y = prepare_real_pair(fn, input, target)
    check_params(SPEC, {"under": under, "over": over, "reduction": reduction})
    check_weight(fn, weight, x.shape)
    u = y - x
    pos, neg = u.clamp(min=0.0), u.clamp(max=0.0)
    return reduce(under * pos * pos + over * neg * neg, reduction, weight)


class AsymmetricSquaredLoss(LossModule, spec=SPEC, fn=asymmetric_squared_loss):
    """Module form of :func:`losscraft.functional.asymmetric_squared_loss`."""

    def __init__(self, *, under: float = 1.0, over: float = 1.0, reduction: Reduction = "mean") -> None:
        super().__init__(under=under, over=over, reduction=reduction)
