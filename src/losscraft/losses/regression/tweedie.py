"""Tweedie deviance on a log-link prediction, for non-negative amounts and counts."""

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
    Relation,
    Role,
    TargetKind,
    Task,
)

JORGENSEN_1987 = Ref(
    "B. Jørgensen",
    "Exponential Dispersion Models",
    "Journal of the Royal Statistical Society B 49(2)",
    1987,
    "https://doi.org/10.1111/j.2517-6161.1987.tb01685.x",
)
JORGENSEN_1997 = Ref("B. Jørgensen", "The Theory of Dispersion Models", "Chapman & Hall", 1997)
MCCULLAGH_NELDER = Ref(
    "P. McCullagh, J. A. Nelder",
    "Generalized Linear Models (2nd ed.)",
    "Chapman & Hall",
    1989,
    "https://doi.org/10.1007/978-1-4899-3242-6",
)


def _rel_expm1(c: float, t: Tensor) -> Tensor:
    """``expm1(c t) / c``, exactly ``t`` at ``c = 0`` (the Poisson / Gamma ends, no 0/0)."""
    if c == 0.0:
        return t
    return torch.expm1(c * t) / c


def half_tweedie_deviance(x: Tensor, y: Tensor, power: float) -> Tensor:
    r"""Half the Tweedie unit deviance $d_p(y, e^x) / 2$ (validated inputs, compute dtype).

    With $t = \log y - x$ (the log of $y/\mu$), $a = p - 1$ and $b = 2 - p$ the deviance
    factors as $d/2 = y^{b} E_a(t) - \mu^{b} E_b(t)$ with $E_c(t) = (e^{ct} - 1)/c$
    ($E_0(t) = t$): the same expression for every $p \in [1, 2]$, exact at both ends, and
    ``expm1`` keeps it accurate near the match. A zero target (only for $p < 2$) gives
    $\mu^{b}/b$.
    """
    a, b = power - 1.0, 2.0 - power
    pos = y > 0
    # Double where: zero targets never reach log() (their branch is the closed form below).
    ys = torch.where(pos, y, torch.ones_like(y))
    t = torch.log(ys) - x
    mu_b = torch.exp(b * x)  # mu^(2-p)
    values = torch.exp(b * torch.log(ys)) * _rel_expm1(a, t) - mu_b * _rel_expm1(b, t)
    if b == 0.0:  # p = 2: targets are positive (validated), there is no zero branch
        return values
    return torch.where(pos, values, mu_b / b)


def _sample(
    n: int, *, generator: torch.Generator, dtype: torch.dtype, power: float = 1.5, **_: object
) -> Call:
    """Log-means in [-0.6, 0.6], predictions within 0.7 of 0, and targets around the mean.

    Targets are exponential amounts with the predicted mean, a quarter of them set to 0 when
    ``power < 2`` (compound Poisson-gamma data: zeros and positive amounts); all positive for
    ``power = 2``. The input stays small so that the contract suite can scale it by 1e3.
    """
    eta = uniform((n, 3), generator, torch.float64, -0.6, 0.6)
    u = uniform((n, 3), generator, torch.float64, 1e-3, 1.0)
    y = eta.exp() * -torch.log(u)  # exponential with mean exp(eta)
    if power < 2.0:
        y = torch.where(uniform((n, 3), generator, torch.float64) < 0.25, torch.zeros_like(y), y)
    pred = (eta + 0.2 * randn((n, 3), generator, torch.float64)).clamp(-0.7, 0.7)
    return Call((pred.to(dtype), y.to(dtype)))


def _curve_maker(amount: float) -> Callable[..., Call]:
    def make(x: Tensor, **_: object) -> Call:
        return Call((x, torch.full_like(x, amount)))

    make.__doc__ = f"Predicted log-mean ``x`` for a target of {amount:g}."
    return make


SPEC = LossSpec(
    name="tweedie",
    family=Family.REGRESSION,
    tasks=(Task.COUNT, Task.REGRESSION),
    input_kind=InputKind.REAL,
    target_kind=TargetKind.COUNT,
    params=(
        Param(
            "power",
            1.5,
            Interval(1.0, 2.0),
            "variance power p (Var y = phi mu^p): 1 Poisson, 2 Gamma, between compound Poisson-gamma",
            role=Role.VARIANCE_POWER,
        ),
    ),
    # Along the log-mean x: d''(x) = 2[(p-1) y mu^(1-p) + (2-p) mu^(2-p)] >= 0 (convex), zero
    # only at mu = y; the gradient 2 mu^(1-p) (mu - y) is unbounded (as mu -> inf for p < 2,
    # as mu -> 0 for p = 2). At the default p = 1.5 it is 8 sqrt(y) (cosh(t/2) - 1), t = log(y/mu):
    # symmetric in the log-ratio (at that power only; properties describe the defaults).
    properties=frozenset(
        {
            Property.NONNEGATIVE,
            Property.ZERO_AT_MATCH,
            Property.CONVEX,
            Property.SMOOTH,
            Property.SYMMETRIC,
            Property.DISPERSION_WEIGHTED,  # Var ~ mu^p with p = 1.5 by default
        }
    ),
    formula=(
        r"\ell_i = 2\Big[\frac{y_i^{2-p}}{(1-p)(2-p)} - \frac{y_i\,\mu_i^{1-p}}{1-p}"
        r" + \frac{\mu_i^{2-p}}{2-p}\Big],\quad \mu_i = e^{\hat\eta_i}"
    ),
    summary="Tweedie deviance with power p in [1, 2] of non-negative targets given a predicted log-mean.",
    references=(JORGENSEN_1987, JORGENSEN_1997, MCCULLAGH_NELDER),
    sample=_sample,
    # mu^(2-p) = exp((2-p) x): beyond ~88 the true value overflows float32 in any implementation
    extreme=20.0,
    curve=Curve("log_rate", (-4.0, 4.0), _curve_maker(1.0), zero=0.0, label="target 1"),
    more_curves=(Curve("log_rate", (-4.0, 4.0), _curve_maker(4.0), zero=math.log(4.0), label="target 4"),),
    relations=(Relation("gamma_deviance", params={"power": 2.0}, note="p = 2 is the Gamma deviance"),),
    when_to_use=(
        "Non-negative amounts with exact zeros and a long right tail (insurance claims, spend, "
        "rainfall, sales), or overdispersed counts: the variance grows like mu^p. Predict the "
        "log-mean; p = 1.5 is the usual start (LightGBM, XGBoost), tune p in (1, 2) by the "
        "validation deviance. p = 1 is the Poisson deviance, p = 2 the Gamma deviance."
    ),
    when_not_to_use=(
        "For plain counts whose variance is close to the mean, use poisson_nll (the same minimiser "
        "as power=1, and the usual count likelihood). For positive amounts without zeros whose "
        "spread is proportional to the mean, gamma_deviance is power=2. When the zeros come from a "
        "separate process (structural zeros), zero_inflated_poisson models their share. For "
        "targets that can be negative, use mse or huber: the deviance needs y >= 0."
    ),
)


@register(SPEC)
def tweedie_loss(
    input: Tensor,
    target: Tensor,
    *,
    power: float = 1.5,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Tweedie deviance with power p in [1, 2] of non-negative targets given a predicted log-mean.

    Use it for non-negative amounts with exact zeros and a long right tail (claims, spend,
    rainfall), whose variance grows like $\mu^p$, or for overdispersed counts. ``input`` is the
    log-mean $\hat\eta = \log\mu$ (log link, as ``poisson_nll(log_input=True)``) and the loss
    is the Tweedie unit deviance (McCullagh & Nelder's $d(y, \mu)$, the one scikit-learn's
    ``mean_tweedie_deviance(y, mu, power=p)`` averages):

    $$\ell_i = 2\Big[\frac{y_i^{2-p}}{(1-p)(2-p)} - \frac{y_i\,\mu_i^{1-p}}{1-p} + \frac{\mu_i^{2-p}}{2-p}\Big],\quad \mu_i = e^{\hat\eta_i}$$

    The two ends are the limits, computed exactly (no 0/0: the deviance is evaluated as
    $y^{2-p}E_{p-1}(t) - \mu^{2-p}E_{2-p}(t)$, $t = \log(y/\mu)$, $E_c(t) = (e^{ct}-1)/c$,
    $E_0(t) = t$): ``power=1`` is the Poisson deviance $2[y\log(y/\mu) - y + \mu]$, which is
    $2\,[\text{poisson\_nll}(\hat\eta, y) + y\log y - y]$ (same gradient up to the factor 2;
    not a constant multiple, so not a registered relation); ``power=2`` is the Gamma deviance
    $2[\log(\mu/y) + y/\mu - 1]$ (``gamma_deviance``). A zero target gives
    $2\mu^{2-p}/(2-p)$. Non-negative, zero at $\mu = y$ and convex in $\hat\eta$ for every
    $p \in [1, 2]$. Reduced as described in *Reductions* (``docs/conventions.md``).

    **Gradient:** $\partial\ell/\partial\hat\eta = 2\,\mu^{1-p}(\mu - y)$: unbounded, so a
    log-mean of 1e4 overflows (as with ``poisson_nll``).

    Args:
        input: predicted log-means $\hat\eta$, any shape, floating point.
        target: amounts $y \ge 0$ (zeros allowed for $p < 2$, $y > 0$ for $p = 2$), same
            shape as ``input``.
        power: the variance power $p \in [1, 2]$. Default 1.5 (LightGBM's and XGBoost's
            ``tweedie_variance_power``).
        weight: optional non-negative weights broadcastable to ``input``'s shape.
        reduction: ``"mean"`` (weighted mean), ``"sum"`` or ``"none"`` (``input``'s shape).

    Returns:
        A scalar, or a tensor of ``input``'s shape for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: shapes differ, non-floating input, a negative (or NaN, infinite)
            target, a zero target with ``power=2``, ``power`` not in [1, 2], bad ``weight`` or
            ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import tweedie_loss
        >>> y = torch.tensor([0.0, 1.0, 3.0])
        >>> tweedie_loss(torch.tensor([0.0, 0.0, 1.0]), y, power=1.5, reduction="none")
        tensor([4.0000, 0.0000, 0.0168])

    References:
        B. Jørgensen (1987). Exponential Dispersion Models. Journal of the Royal Statistical
            Society B 49(2). https://doi.org/10.1111/j.2517-6161.1987.tb01685.x
        B. Jørgensen (1997). The Theory of Dispersion Models. Chapman & Hall.
        P. McCullagh, J. A. Nelder (1989). Generalized Linear Models (2nd ed.). Chapman & Hall.
            https://doi.org/10.1007/978-1-4899-3242-6
    """
    fn = "tweedie_loss"
    x, y = prepare_real_pair(fn, input, target)
    check_params(SPEC, {"power": power, "reduction": reduction})
    p = float(power)
    check_finite_range(fn, "target", y, 0.0, math.inf, "amounts")
    if p == 2.0 and y.numel() and values_are_concrete(y) and bool((y == 0).any()):
        raise LosscraftError(
            f"{fn}: 'target' must contain positive amounts (> 0) for power=2 (the Gamma deviance "
            "is infinite at y = 0), got 0; use power < 2 for targets with zeros"
        )
    values = 2.0 * half_tweedie_deviance(x, y, p)
    check_weight(fn, weight, values.shape)
    return reduce(values, reduction, weight)


class TweedieLoss(LossModule, spec=SPEC, fn=tweedie_loss):
    """Module form of :func:`losscraft.functional.tweedie_loss`."""

    def __init__(self, *, power: float = 1.5, reduction: Reduction = "mean") -> None:
        super().__init__(power=power, reduction=reduction)
