"""Zero-inflated Poisson negative log-likelihood for counts with excess zeros."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from ..._core.checks import (
    check_finite_range,
    check_floating,
    check_params,
    compute_dtype,
    fmt_shape,
    to_compute,
)
from ..._core.errors import LosscraftError
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
from ..._core.sampling import randn, uniform
from ..._core.spec import Call, Curve, Family, InputKind, LossSpec, Property, Ref, TargetKind, Task

LAMBERT_1992 = Ref(
    "D. Lambert",
    "Zero-Inflated Poisson Regression, with an Application to Defects in Manufacturing",
    "Technometrics 34(1)",
    1992,
    "https://doi.org/10.2307/1269547",
)


def _sample(n: int, *, generator: torch.Generator, dtype: torch.dtype, **_: object) -> Call:
    """``(n, 3, 2)`` inputs [log-rate, zero logit] within 0.7 of 0 and ``(n, 3)`` ZIP counts.

    Counts are Poisson with rates in [0.55, 1.8], a third of them replaced by structural zeros.
    The input stays small so that the contract suite can scale it by 1e3.
    """
    eta = uniform((n, 3), generator, torch.float64, -0.6, 0.6)
    counts = torch.poisson(eta.exp(), generator=generator)
    counts = torch.where(uniform((n, 3), generator, torch.float64) < 1 / 3, torch.zeros_like(counts), counts)
    log_rate = (eta + 0.2 * randn((n, 3), generator, torch.float64)).clamp(-0.7, 0.7)
    zero_logit = (-0.7 + 0.3 * randn((n, 3), generator, torch.float64)).clamp(-0.7, 0.7)
    return Call((torch.stack([log_rate, zero_logit], dim=-1).to(dtype), counts.to(dtype)))


def _curve_maker(count: float, zero_logit: float) -> Callable[..., Call]:
    def make(x: Tensor, **_: object) -> Call:
        return Call((torch.stack([x, torch.full_like(x, zero_logit)], dim=-1), torch.full_like(x, count)))

    make.__doc__ = f"Predicted log-rate ``x`` with zero logit {zero_logit:g}, for a count of {count:g}."
    return make


SPEC = LossSpec(
    name="zero_inflated_poisson",
    family=Family.REGRESSION,
    tasks=(Task.COUNT,),
    input_kind=InputKind.REAL,
    target_kind=TargetKind.COUNT,
    params=(),
    # The exact NLL of a discrete distribution: >= 0, never 0 at a finite rate, smooth. Along the
    # log-rate a zero count gives -log(pi + (1 - pi) e^-lambda), whose slope
    # lambda / (1 + e^(z + lambda)) rises then falls back to 0: not convex, and a positive count
    # gives the unbounded Poisson gradient lambda - y.
    properties=frozenset({Property.NONNEGATIVE, Property.SMOOTH, Property.ZERO_INFLATED}),
    formula=(
        r"\ell_i = -\log\!\big[\pi_i\,[y_i = 0] + (1-\pi_i)\,e^{-\lambda_i}\lambda_i^{y_i}/y_i!\big],"
        r"\quad \lambda_i = e^{\hat\eta_i},\ \pi_i = \sigma(\hat z_i)"
    ),
    summary="Zero-inflated Poisson negative log-likelihood of counts given a log-rate and a zero logit.",
    references=(LAMBERT_1992,),
    sample=_sample,
    none_shape="sample",
    # the rate is exp(log-rate): beyond ~88 the true value overflows float32 in any implementation
    extreme=20.0,
    curve=Curve("log_rate", (-4.0, 4.0), _curve_maker(2.0, 0.0), label="count 2, pi 0.5"),
    more_curves=(Curve("log_rate", (-4.0, 4.0), _curve_maker(0.0, 0.0), label="count 0, pi 0.5"),),
    when_to_use=(
        "Counts with more zeros than a Poisson with their mean predicts (defects, visits, "
        "claims): a share pi of structural zeros plus Poisson counts. The model outputs two "
        "values per target, the log-rate and the logit of pi (input[..., 0] and input[..., 1]); "
        "the predicted mean count is (1 - pi) e^eta."
    ),
    when_not_to_use=(
        "When the zeros are as frequent as a Poisson with the mean predicts, use poisson_nll: "
        "one output per target, and the zero logit would only drift towards -inf. For "
        "non-negative amounts that are not counts (claims, spend), use tweedie. The model needs "
        "two outputs per target; a one-output head needs poisson_nll or tweedie."
    ),
)


@register(SPEC)
def zero_inflated_poisson_loss(
    input: Tensor,
    target: Tensor,
    *,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Zero-inflated Poisson negative log-likelihood of counts given a log-rate and a zero logit.

    Use it for counts with excess zeros (Lambert's ZIP model): with probability $\pi$ a count
    is a structural zero, otherwise it is Poisson($\lambda$). ``input`` has shape
    ``(*, 2)``: ``input[..., 0]`` is the log-rate $\hat\eta = \log\lambda$ and
    ``input[..., 1]`` the logit $\hat z$ of $\pi$ (a two-output head); ``target`` has shape
    ``(*)``. The loss is the exact negative log-likelihood ($\log y!$ included, so it is
    ``statsmodels``' ``ZeroInflatedPoisson`` log-likelihood with the sign flipped)

    $$\ell_i = -\log\!\big[\pi_i\,[y_i = 0] + (1-\pi_i)\,e^{-\lambda_i}\lambda_i^{y_i}/y_i!\big],\quad \lambda_i = e^{\hat\eta_i},\ \pi_i = \sigma(\hat z_i)$$

    computed in log space: $\operatorname{softplus}(\hat z) - \operatorname{logaddexp}(\hat z,
    -\lambda)$ for $y = 0$ and $\operatorname{softplus}(\hat z) + \lambda - y\hat\eta +
    \log\Gamma(y + 1)$ for $y > 0$. As $\hat z \to -\infty$ ($\pi \to 0$) it tends to
    ``poisson_nll(input[..., 0], target) + lgamma(target + 1)`` (not a registered relation:
    the logit cannot be $-\infty$ in the sample). The predicted mean count is
    $(1-\pi)\lambda$. Reduced as described in *Reductions* (``docs/conventions.md``), over
    ``target``'s shape.

    **Gradient:** $\partial\ell/\partial\hat z = \sigma(\hat z) - [y = 0]\,\sigma(\hat z +
    \lambda)$ (bounded by 1); $\partial\ell/\partial\hat\eta = \lambda - y$ for $y > 0$
    (unbounded) and $\lambda/(1 + e^{\hat z + \lambda})$ for $y = 0$.

    Args:
        input: ``(*, 2)`` floating tensor: log-rates in ``[..., 0]``, logits of the
            structural-zero probability in ``[..., 1]``.
        target: counts $y \ge 0$ of shape ``(*)`` (non-integer values are accepted, with
            $\log\Gamma(y+1)$ as the normaliser).
        weight: optional non-negative weights broadcastable to ``target``'s shape.
        reduction: ``"mean"`` (weighted mean), ``"sum"`` or ``"none"`` (``target``'s shape).

    Returns:
        A scalar, or a tensor of ``target``'s shape for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: ``input`` is not floating or its last dimension is not 2, ``target``'s
            shape is not ``input.shape[:-1]``, a negative (or NaN, infinite) count, bad
            ``weight`` or ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import zero_inflated_poisson_loss
        >>> x = torch.tensor([[0.0, 0.0], [0.0, 0.0], [1.0, -2.0]])
        >>> zero_inflated_poisson_loss(x, torch.tensor([0.0, 1.0, 3.0]), reduction="none")
        tensor([0.3799, 1.6931, 1.6370])

    References:
        D. Lambert (1992). Zero-Inflated Poisson Regression, with an Application to Defects in
            Manufacturing. Technometrics 34(1). https://doi.org/10.2307/1269547
    """
    fn = "zero_inflated_poisson_loss"
    check_floating(fn, "input", input)
    check_floating(fn, "target", target)
    if input.dim() < 1 or input.shape[-1] != 2:
        raise LosscraftError(
            f"{fn}: 'input' must have shape (*, 2) (log-rate, zero logit), got {fmt_shape(input)}"
        )
    if target.shape != input.shape[:-1]:
        raise LosscraftError(
            f"{fn}: 'target' must have shape input.shape[:-1] = {fmt_shape(input.shape[:-1])}, got "
            f"{fmt_shape(target)}"
        )
    check_params(SPEC, {"reduction": reduction})
    dt = compute_dtype(input, target)
    x, y = to_compute(input, dt), to_compute(target, dt)
    check_finite_range(fn, "target", y, 0.0, math.inf, "counts")
    eta, z = x[..., 0], x[..., 1]
    rate = torch.exp(eta)
    # log(pi + (1-pi) e^-lambda) = -softplus(z) + logaddexp(z, -lambda): no 1 - pi, no log(0)
    zero = -torch.logaddexp(z, -rate)
    positive = rate - y * eta + torch.lgamma(y + 1.0)
    values = F.softplus(z) + torch.where(y == 0, zero, positive)
    check_weight(fn, weight, values.shape)
    return reduce(values, reduction, weight)


class ZeroInflatedPoissonLoss(LossModule, spec=SPEC, fn=zero_inflated_poisson_loss):
    """Module form of :func:`losscraft.functional.zero_inflated_poisson_loss`."""

    def __init__(self, *, reduction: Reduction = "mean") -> None:
        super().__init__(reduction=reduction)
