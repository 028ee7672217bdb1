"""Quantile (pinball) loss."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
from torch import Tensor

from ..._core.checks import check_floating, check_params, compute_dtype, fmt_shape, to_compute
from ..._core.errors import LosscraftError
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
from ..._core.sampling import randn
from ..._core.spec import (
    Call,
    Curve,
    Family,
    FloatSeq,
    InputKind,
    Interval,
    LossSpec,
    Param,
    Property,
    Ref,
    Relation,
    Role,
    TargetKind,
    Task,
)


def _sample(
    n: int,
    *,
    generator: torch.Generator,
    dtype: torch.dtype,
    quantiles: float | Sequence[float] = 0.5,
    **_: object,
) -> Call:
    target = randn((n, 3), generator, dtype)
    if isinstance(quantiles, (list, tuple)):
        return Call((randn((n, 3, len(quantiles)), generator, dtype), target))
    return Call((randn((n, 3), generator, dtype), target))


def _curve(x: Tensor, quantiles: float | Sequence[float] = 0.5, **_: object) -> Call:
    if isinstance(quantiles, (list, tuple)):
        raise LosscraftError("quantile_loss: the curve is defined for a single quantile level")
    return Call((x, torch.zeros_like(x)))


SPEC = LossSpec(
    name="quantile",
    family=Family.REGRESSION,
    tasks=(Task.REGRESSION, Task.QUANTILE_REGRESSION),
    input_kind=InputKind.REAL,
    target_kind=TargetKind.REAL,
    params=(
        Param(
            "quantiles",
            0.5,
            FloatSeq(Interval(0.0, 1.0, low_closed=False, high_closed=False)),
            "quantile level tau, or a sequence of levels matching input's trailing dimension",
            role=Role.QUANTILE_LEVEL,
        ),
    ),
    # Properties at the default (tau = 0.5, i.e. half the absolute error).
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
    formula=r"\rho_\tau(u_i) = \max\big(\tau u_i,\ (\tau - 1) u_i\big),\qquad u_i = y_i - \hat y_i",
    summary="Quantile (pinball) loss for one or several quantile levels; its minimiser is the tau-quantile.",
    references=(
        Ref(
            "R. Koenker, G. Bassett",
            "Regression Quantiles",
            "Econometrica 46(1)",
            1978,
            "https://doi.org/10.2307/1913643",
        ),
    ),
    sample=_sample,
    curve=Curve("residual", (-4.0, 4.0), _curve),
    relations=(Relation("mae", params={"quantiles": 0.5}, factor=0.5, note="the median's pinball loss"),),
    when_to_use=(
        "Predicting quantiles or intervals (levels a/2 and 1-a/2), or asymmetric costs: "
        "under-prediction costing c_u and over-prediction c_o gives tau = c_u / (c_u + c_o)."
    ),
    when_not_to_use=(
        "Not when the mean is the target (mse, or huber for robustness): the pinball loss is "
        "consistent for the tau-quantile, not the mean. Not when the cost grows quadratically "
        "with the error (asymmetric_squared, an expectile) or exponentially on one side "
        "(linex)."
    ),
)


@register(SPEC, aliases=("pinball",))
def quantile_loss(
    input: Tensor,
    target: Tensor,
    *,
    quantiles: float | Sequence[float] = 0.5,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Quantile (pinball) loss for one or several quantile levels; its minimiser is the tau-quantile.

    $$\rho_\tau(u_i) = \max\big(\tau u_i,\ (\tau - 1) u_i\big),\qquad u_i = y_i - \hat y_i$$

    Under-prediction ($u > 0$) costs $\tau$ per unit and over-prediction $1 - \tau$, so the
    minimiser is the $\tau$-quantile of $y$. With a sequence of $Q$ levels, ``input`` carries a
    trailing dimension of size $Q$ (one prediction per level) and the target is shared.
    Reduced as described in *Reductions* (``docs/conventions.md``); ``"mean"`` averages over
    elements and levels. At $\tau = \tfrac12$ it is half the absolute error.

    **Gradient:** $\partial\rho/\partial\hat y = \mathbb 1[y < \hat y] - \tau$ (bounded), with
    the subgradient $\tfrac12 - \tau$ at $u = 0$.

    Args:
        input: predictions. Shape of ``target`` for a single level; ``target.shape + (Q,)``
            when ``quantiles`` is a sequence of ``Q`` levels.
        target: targets, floating point.
        quantiles: level $\tau \in (0, 1)$ or a sequence of levels. Default 0.5 (median).
        weight: optional non-negative weights broadcastable to ``input``'s shape.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (``input``'s shape).

    Returns:
        A scalar, or a tensor of ``input``'s shape for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: a level outside (0, 1), shapes that do not match the levels,
            non-floating input, bad ``weight`` or ``reduction``.

    Examples:
        >>> import torch, losscraft.functional as LF
        >>> y = torch.tensor([1.0, 2.0])
        >>> q = torch.tensor([[0.0, 1.0, 2.0], [2.0, 2.0, 2.0]])
        >>> LF.quantile_loss(q, y, quantiles=(0.1, 0.5, 0.9), reduction="none")
        tensor([[0.1000, 0.0000, 0.1000],
                [0.0000, 0.0000, 0.0000]])

    References:
        R. Koenker, G. Bassett (1978). Regression Quantiles. Econometrica 46(1).
            https://doi.org/10.2307/1913643
    """
    fn = "quantile_loss"
    check_floating(fn, "input", input)
    check_floating(fn, "target", target)
    check_params(SPEC, {"quantiles": quantiles, "reduction": reduction})
    dt = compute_dtype(input, target)
    x, y = to_compute(input, dt), to_compute(target, dt)
    if isinstance(quantiles, (list, tuple)):
        expected = (*target.shape, len(quantiles))
        if tuple(input.shape) != expected:
            raise LosscraftError(
                f"{fn}: 'input' must have shape target.shape + (number of quantiles,) = "
                f"{fmt_shape(expected)}, got {fmt_shape(input)}"
            )
        tau: Tensor | float = torch.tensor(quantiles, dtype=dt, device=x.device)
        u = y.unsqueeze(-1) - x
    else:
        if input.shape != target.shape:
            raise LosscraftError(
                f"{fn}: 'input' and 'target' must have the same shape for a single quantile "
                f"level, got input {fmt_shape(input)} and target {fmt_shape(target)}"
            )
        tau = float(cast(float, quantiles))
        u = y - x
    check_weight(fn, weight, x.shape)
    # max(tau*u, (tau-1)*u) rather than a where(): one fused op, gradient (tau - 1[u<0])·du.
    return reduce(torch.maximum(tau * u, (tau - 1.0) * u), reduction, weight)


class QuantileLoss(LossModule, spec=SPEC, fn=quantile_loss):
    """Module form of :func:`losscraft.functional.quantile_loss`."""

    def __init__(self, *, quantiles: float | Sequence[float] = 0.5, reduction: Reduction = "mean") -> None:
        super().__init__(quantiles=quantiles, reduction=reduction)
