"""Gamma deviance on a log-link prediction, for positive skewed amounts."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from ..._core.checks import check_finite_range, check_params, prepare_real_pair, values_are_concrete
from ..._core.errors import LosscraftError
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
from ..._core.sampling import randn, uniform
from ..._core.spec import Call, Curve, Family, InputKind, LossSpec, Property, TargetKind, Task
from .tweedie import MCCULLAGH_NELDER


def _sample(n: int, *, generator: torch.Generator, dtype: torch.dtype, **_: object) -> Call:
    """Log-means in [-0.6, 0.6], predictions within 0.7 of 0, positive exponential targets.

    The input stays small so that the contract suite can scale it by 1e3 (``y / mu`` stays
    finite in float64).
    """
    eta = uniform((n, 3), generator, torch.float64, -0.6, 0.6)
    y = eta.exp() * -torch.log(uniform((n, 3), generator, torch.float64, 1e-3, 0.999))
    pred = (eta + 0.2 * randn((n, 3), generator, torch.float64)).clamp(-0.7, 0.7)
    return Call((pred.to(dtype), y.to(dtype)))


def _curve_maker(amount: float) -> Callable[..., Call]:
    def make(x: Tensor, **_: object) -> Call:
        return Call((x, torch.full_like(x, amount)))

    make.__doc__ = f"Predicted log-mean ``x`` for a target of {amount:g}."
    return make


SPEC = LossSpec(
    name="gamma_deviance",
    family=Family.REGRESSION,
    tasks=(Task.REGRESSION,),
    input_kind=InputKind.REAL,
    target_kind=TargetKind.REAL,
    params=(),
    # Along the log-mean x: 2(x - log y + y e^-x - 1) has second derivative 2 y e^-x > 0
    # (convex), its minimum 0 at mu = y; the gradient 2(1 - y/mu) is unbounded as mu -> 0.
    properties=frozenset(
        {
            Property.NONNEGATIVE,
            Property.ZERO_AT_MATCH,
            Property.CONVEX,
            Property.SMOOTH,
            Property.DISPERSION_WEIGHTED,  # Var ~ mu^2
        }
    ),
    formula=r"\ell_i = 2\Big[\log\frac{\mu_i}{y_i} + \frac{y_i}{\mu_i} - 1\Big],\quad \mu_i = e^{\hat\eta_i}",
    summary="Gamma deviance of positive targets given a predicted log-mean.",
    references=(MCCULLAGH_NELDER,),
    sample=_sample,
    # y / mu = y exp(-x): beyond ~88 the true value overflows float32 in any implementation
    extreme=20.0,
    curve=Curve("log_rate", (-4.0, 4.0), _curve_maker(1.0), zero=0.0, label="target 1"),
    more_curves=(Curve("log_rate", (-4.0, 4.0), _curve_maker(4.0), zero=math.log(4.0), label="target 4"),),
    when_to_use=(
        "Positive, right-skewed amounts whose spread grows in proportion to their mean (costs, "
        "durations, sizes): errors count relative to the mean, so a 10% miss costs the same on "
        "small and large targets. Predict the log-mean. Targets with exact zeros need tweedie "
        "with power < 2."
    ),
    when_not_to_use=(
        "Targets with exact zeros make the Gamma deviance infinite: use tweedie with power in "
        "[1, 2) for amounts with zeros, or poisson_nll for counts. For targets that can be "
        "negative or whose spread does not grow with the mean, use mse (or huber with outliers)."
    ),
)


@register(SPEC)
def gamma_deviance_loss(
    input: Tensor,
    target: Tensor,
    *,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Gamma deviance of positive targets given a predicted log-mean.

    Use it for positive, right-skewed amounts whose standard deviation grows in proportion to
    the mean (costs, durations): it is the deviance of a Gamma GLM, which scores the ratio
    $y/\mu$, so relative errors count alike on small and large targets. ``input`` is the
    log-mean $\hat\eta = \log\mu$ (log link) and, as in scikit-learn's
    ``mean_gamma_deviance(y, mu)``,

    $$\ell_i = 2\Big[\log\frac{\mu_i}{y_i} + \frac{y_i}{\mu_i} - 1\Big],\quad \mu_i = e^{\hat\eta_i}$$

    computed as $2[\operatorname{expm1}(t) - t]$ with $t = \log y - \hat\eta$ (accurate near
    the match). It is ``tweedie(power=2)``. Non-negative, zero at $\mu = y$, convex in
    $\hat\eta$. Reduced as described in *Reductions* (``docs/conventions.md``).

    **Gradient:** $\partial\ell/\partial\hat\eta = 2(1 - y/\mu)$ (bounded by 2 above,
    unbounded as $\mu \to 0$); $\partial\ell/\partial y = 2(1/\mu - 1/y)$.

    Args:
        input: predicted log-means $\hat\eta$, any shape, floating point.
        target: positive amounts $y > 0$, same shape as ``input``.
        weight: optional non-negative weights broadcastable to ``input``'s shape.
        reduction: ``"mean"`` (weighted mean), ``"sum"`` or ``"none"`` (``input``'s shape).

    Returns:
        A scalar, or a tensor of ``input``'s shape for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: shapes differ, non-floating input, a target that is not positive and
            finite (0 included: the deviance is infinite there), bad ``weight`` or
            ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import gamma_deviance_loss
        >>> y = torch.tensor([1.0, 2.0, 10.0])
        >>> gamma_deviance_loss(torch.tensor([0.0, 0.0, 2.0]), y, reduction="none")
        tensor([0.0000, 0.6137, 0.1015])

    References:
        P. McCullagh, J. A. Nelder (1989). Generalized Linear Models (2nd ed.). Chapman & Hall.
            https://doi.org/10.1007/978-1-4899-3242-6
    """
    fn = "gamma_deviance_loss"
    x, y = prepare_real_pair(fn, input, target)
    check_params(SPEC, {"reduction": reduction})
    check_finite_range(fn, "target", y, 0.0, math.inf, "amounts")
    if y.numel() and values_are_concrete(y) and bool((y == 0).any()):
        raise LosscraftError(
            f"{fn}: 'target' must contain positive amounts (> 0), got 0 (the Gamma deviance is "
            "infinite at y = 0); use tweedie with power < 2 for targets with zeros"
        )
    t = torch.log(y) - x  # log(y / mu)
    values = 2.0 * (torch.expm1(t) - t)
    check_weight(fn, weight, values.shape)
    return reduce(values, reduction, weight)


class GammaDevianceLoss(LossModule, spec=SPEC, fn=gamma_deviance_loss):
    """Module form of :func:`losscraft.functional.gamma_deviance_loss`."""

    def __init__(self, *, reduction: Reduction = "mean") -> None:
        super().__init__(reduction=reduction)
