"""Mean squared logarithmic error."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..._core.checks import check_params, prepare_real_pair
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
from ..._core.sampling import uniform
from ..._core.spec import (
    Call,
    Curve,
    Family,
    InputKind,
    LossSpec,
    Property,
    Ref,
    Relation,
    TargetKind,
    Task,
)
from ._robust import check_greater_than


def _sample(n: int, *, generator: torch.Generator, dtype: torch.dtype, **_: object) -> Call:
    """Log-uniform predictions and targets in [0.14, 6] of shape ``(n, 3)``.

    Bounded so that the contract suite's inputs scaled by 1e4 still fit in float16 (65504).
    """
    pred = uniform((n, 3), generator, torch.float64, -2.0, 1.8).exp()
    target = uniform((n, 3), generator, torch.float64, -2.0, 1.8).exp()
    return Call((pred.to(dtype), target.to(dtype)))


def _curve(x: Tensor, **_: object) -> Call:
    """Prediction ``x > -1`` against target 0: the loss is ``log1p(x)^2``."""
    return Call((x, torch.zeros_like(x)))


def _log1p_pair(c: Call) -> Call:
    return Call(tuple(torch.log1p(a) for a in c.args), dict(c.kwargs))


SPEC = LossSpec(
    name="msle",
    family=Family.REGRESSION,
    tasks=(Task.REGRESSION,),
    input_kind=InputKind.REAL,
    target_kind=TargetKind.REAL,
    params=(),
    # Along the prediction (target 0): log1p(x)^2 is non-convex beyond x = e - 1 and its
    # gradient 2 log1p(x) / (1 + x) blows up as x -> -1.
    properties=frozenset({Property.NONNEGATIVE, Property.ZERO_AT_MATCH, Property.SMOOTH}),
    formula=r"\ell_i = \left(\log(1 + \hat y_i) - \log(1 + y_i)\right)^2",
    summary="Mean squared logarithmic error: MSE between log1p values, penalising relative (ratio) errors.",
    references=(
        Ref(
            "F. Pedregosa et al.",
            "Scikit-learn: Machine Learning in Python (mean_squared_log_error)",
            "Journal of Machine Learning Research 12",
            2011,
            "https://scikit-learn.org/stable/modules/model_evaluation.html#mean-squared-log-error",
        ),
    ),
    sample=_sample,
    curve=Curve("residual", (-0.9, 9.0), _curve, zero=0.0, extent=(-1.0, math.inf)),
    relations=(
        Relation("mse", transform=_log1p_pair, rtol=1e-12, note="MSE on log1p(input), log1p(target)"),
    ),
    when_to_use=(
        "Non-negative targets spanning orders of magnitude (prices, counts, populations) where "
        "relative error matters: a 10% miss costs about the same at 100 and at 100 000. "
        "Equivalently, regress log1p(y) with MSE. Predictions must stay above -1 (e.g. a "
        "softplus or exp head)."
    ),
    when_not_to_use=(
        "Not when the metric is on the original scale or the mean is the target: its minimiser "
        "is exp(E[log(1 + y)]) - 1, below the mean whenever y varies, so use mse, or tweedie / "
        "gamma_deviance (log link, consistent for the mean) for skewed positive targets. Not "
        "for counts (poisson_nll), nor for targets that can reach -1 or below (mse, huber)."
    ),
)


@register(SPEC, aliases=("mean_squared_log_error", "mean_squared_logarithmic_error"))
def msle_loss(
    input: Tensor, target: Tensor, *, weight: Tensor | None = None, reduction: Reduction = "mean"
) -> Tensor:
    r"""Mean squared logarithmic error: MSE between log1p values, penalising relative (ratio) errors.

    Use it for non-negative targets spanning orders of magnitude, when the *ratio*
    $(1 + \hat y)/(1 + y)$ matters rather than the difference. Under-prediction costs more than
    over-prediction by the same amount.

    $$\ell_i = \left(\log(1 + \hat y_i) - \log(1 + y_i)\right)^2$$

    reduced as described in *Reductions* (``docs/conventions.md``). Equals
    ``mse_loss(log1p(input), log1p(target))``; the square root of the mean is RMSLE.

    **Domain:** ``input`` and ``target`` must be $> -1$, where ``log1p`` is finite (validated:
    an error rather than NaN). scikit-learn's ``mean_squared_log_error`` also raises on
    out-of-domain values (historically on any negative value); Keras' MSLE silently clamps
    both to at least its epsilon ($10^{-7}$) first, which hides a broken prediction head. losscraft computes the
    formula as written for every value above $-1$, so on non-negative data all three agree.

    **Gradient:** $\partial\ell/\partial\hat y = \dfrac{2\left(\log(1 + \hat y) -
    \log(1 + y)\right)}{1 + \hat y}$: vanishes for large predictions, unbounded as
    $\hat y \to -1$.

    Args:
        input: predictions $\hat y > -1$, any shape, floating point.
        target: targets $y > -1$ (usually $\ge 0$), same shape as ``input``.
        weight: optional non-negative weights broadcastable to ``input``'s shape.
        reduction: ``"mean"`` (weighted mean), ``"sum"`` or ``"none"`` (``input``'s shape).

    Returns:
        A scalar, or a tensor of ``input``'s shape for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: shapes differ, non-floating input, a value of ``input`` or
            ``target`` that is not $> -1$ (the message names the first one), bad ``weight`` or
            ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import msle_loss
        >>> y = torch.tensor([9.0, 99.0, 999.0])
        >>> msle_loss(1.1 * y + 0.1, y, reduction="none")  # 10% too high everywhere
        tensor([0.0091, 0.0091, 0.0091])

    References:
        F. Pedregosa et al. (2011). Scikit-learn: Machine Learning in Python
            (mean_squared_log_error). Journal of Machine Learning Research 12.
            https://scikit-learn.org/stable/modules/model_evaluation.html#mean-squared-log-error
    """
    fn = "msle_loss"
    x, y = prepare_real_pair(fn, input, target)
    check_params(SPEC, {"reduction": reduction})
    check_greater_than(fn, "input", x, -1.0)
    check_greater_than(fn, "target", y, -1.0)
    check_weight(fn, weight, x.shape)
    d = torch.log1p(x) - torch.log1p(y)
    return reduce(d * d, reduction, weight)


class MSLELoss(LossModule, spec=SPEC, fn=msle_loss):
    """Module form of :func:`losscraft.functional.msle_loss`."""

    def __init__(self, *, reduction: Reduction = "mean") -> None:
        super().__init__(reduction=reduction)
