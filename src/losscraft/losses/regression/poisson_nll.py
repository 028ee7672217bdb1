"""Poisson negative log-likelihood for count targets."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from ..._core.checks import check_finite_range, check_params, prepare_real_pair
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
from ..._core.sampling import randn, uniform
from ..._core.spec import (
    Call,
    Choice,
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

_TWO_PI = 2.0 * math.pi


def _sample(
    n: int, *, generator: torch.Generator, dtype: torch.dtype, log_input: bool = True, **_: object
) -> Call:
    """Counts drawn from rates in [0.37, 12] and predictions off by a factor ~exp(N(0, 0.3^2)).

    ``input`` is the predicted log-rate (``log_input=True``) or the rate itself; counts
    include zeros (a COUNT target is not differentiated by the contract suite).
    """
    log_rate = uniform((n, 3), generator, torch.float64, -1.0, 2.5)
    counts = torch.poisson(log_rate.exp(), generator=generator)
    pred = log_rate + 0.3 * randn((n, 3), generator, torch.float64)
    return Call(((pred if log_input else pred.exp()).to(dtype), counts.to(dtype)))


def _curve_maker(count: float) -> Callable[..., Call]:
    def make(x: Tensor, log_input: bool = True, **_: object) -> Call:
        return Call((x if log_input else x.exp(), torch.full_like(x, count)))

    make.__doc__ = (
        f"Predicted log-rate ``x`` (the rate ``exp(x)`` if not ``log_input``) for a count of {count:g}."
    )
    return make


SPEC = LossSpec(
    name="poisson_nll",
    family=Family.REGRESSION,
    tasks=(Task.REGRESSION, Task.COUNT),
    input_kind=InputKind.REAL,
    target_kind=TargetKind.COUNT,
    params=(
        Param(
            "log_input",
            True,
            Choice((True, False)),
            "input is the log-rate (True, exp link) or the rate itself (False)",
        ),
        Param("full", False, Choice((True, False)), "add the Stirling term of log(target!)"),
        Param(
            "eps",
            1e-8,
            Interval(0.0, math.inf, low_closed=False, high_closed=False),
            "added to the rate inside the log when log_input=False",
        ),
    ),
    # Along the log-rate: exp(x) - y x is convex and smooth; its minimum y - y log y is not
    # zero (and negative for y > e), and its gradient exp(x) - y is unbounded.
    properties=frozenset({Property.CONVEX, Property.SMOOTH}),
    formula=r"\ell_i = e^{\hat\eta_i} - y_i\,\hat\eta_i\;\big[+\,S(y_i)\big]",
    summary="Poisson negative log-likelihood of count targets given a predicted (log-)rate.",
    references=(
        Ref(
            "J. A. Nelder, R. W. M. Wedderburn",
            "Generalized Linear Models",
            "Journal of the Royal Statistical Society A 135(3)",
            1972,
            "https://doi.org/10.2307/2344614",
        ),
    ),
    sample=_sample,
    # the loss is exp(log-rate): beyond ~88 the true value overflows float32 in any implementation
    extreme=20.0,
    curve=Curve("log_rate", (-4.0, 4.0), _curve_maker(1.0), zero=0.0, label="count 1"),
    more_curves=(Curve("log_rate", (-4.0, 4.0), _curve_maker(4.0), zero=math.log(4.0), label="count 4"),),
    relations=(
        Relation(
            "poisson_nll",
            params={"log_input": False, "eps": 1e-300},
            transform=lambda c: Call((torch.log(c.args[0]), *c.args[1:]), dict(c.kwargs)),
            rtol=1e-12,
            atol=1e-12,
            note="on rates (eps -> 0) = on log-rates",
        ),
    ),
    when_to_use=(
        "Non-negative counts (events, clicks, reads), especially with many zeros or variance "
        "close to the mean. Predict the log-rate (log_input=True, the default): positive "
        "rates for free and the canonical, convex link. Overdispersed counts may need a "
        "negative-binomial likelihood instead."
    ),
    when_not_to_use=(
        "Not for overdispersed counts (variance well above the mean) or non-negative amounts "
        "with exact zeros and a long right tail: use tweedie. Not for counts with more zeros "
        "than a Poisson predicts (zero_inflated_poisson), nor for positive continuous amounts "
        "whose spread grows with the mean (gamma_deviance)."
    ),
)


@register(SPEC, aliases=("poisson",))
def poisson_nll_loss(
    input: Tensor,
    target: Tensor,
    *,
    log_input: bool = True,
    full: bool = False,
    eps: float = 1e-8,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Poisson negative log-likelihood of count targets given a predicted (log-)rate.

    Use it for non-negative counts: it is the loss of Poisson regression, whose prediction
    is the conditional mean rate. With ``log_input=True`` (default) ``input`` is the
    log-rate $\hat\eta = \log\hat\lambda$ and

    $$\ell_i = e^{\hat\eta_i} - y_i\,\hat\eta_i\;\big[+\,S(y_i)\big]$$

    with ``log_input=False`` ``input`` is the rate $\hat\lambda \ge 0$ and
    $\ell_i = \hat\lambda_i - y_i \log(\hat\lambda_i + \varepsilon)$. ``full=True`` adds
    Stirling's approximation of $\log y!$,
    $S(y) = y\log y - y + \tfrac12\log(2\pi y)$ for $y > 1$ (0 for $y \le 1$), making the
    loss the full negative log-likelihood (approximately). Reduced as described in
    *Reductions* (``docs/conventions.md``). Values and gradients equal
    ``torch.nn.functional.poisson_nll_loss`` for every option; one difference: with
    ``full=True`` the gradient w.r.t. a ``target`` of 0 is 0 here and NaN in torch
    (``0 * log 0`` inside its masked term).

    **Gradient:** $\partial\ell/\partial\hat\eta = e^{\hat\eta} - y$ (``log_input=True``:
    unbounded above, so a log-rate of 1e4 overflows like torch), or
    $1 - y/(\hat\lambda + \varepsilon)$ on rates.

    Args:
        input: predicted log-rates (``log_input=True``) or rates $\ge 0$, any shape,
            floating point.
        target: counts $y \ge 0$, same shape as ``input`` (non-integer values are accepted:
            quasi-Poisson).
        log_input: whether ``input`` is the log-rate. Default True (PyTorch).
        full: add the Stirling term $S(y)$. Default False (PyTorch): the loss is then the
            NLL up to the constant $\log y!$ and can be negative.
        eps: $\varepsilon > 0$ added to the rate inside the log when ``log_input=False``.
            Default 1e-8 (PyTorch).
        weight: optional non-negative weights broadcastable to ``input``'s shape.
        reduction: ``"mean"`` (weighted mean), ``"sum"`` or ``"none"`` (``input``'s shape).

    Returns:
        A scalar, or a tensor of ``input``'s shape for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: shapes differ, non-floating input, a negative (or NaN) count, a
            negative rate when ``log_input=False``, ``eps`` not in (0, inf), bad ``weight`` or
            ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import poisson_nll_loss
        >>> counts = torch.tensor([0.0, 2.0, 5.0])
        >>> poisson_nll_loss(torch.tensor([0.0, 2.0, 5.0]).log1p(), counts, reduction="none")
        tensor([ 1.0000,  0.8028, -2.9588])
        >>> poisson_nll_loss(counts + 1.0, counts, log_input=False, full=True, reduction="none")
        tensor([1.0000, 1.4546, 1.8120])

    References:
        J. A. Nelder, R. W. M. Wedderburn (1972). Generalized Linear Models. Journal of the Royal
            Statistical Society A 135(3). https://doi.org/10.2307/2344614
    """
    fn = "poisson_nll_loss"
    x, y = prepare_real_pair(fn, input, target)
    check_params(SPEC, {"log_input": log_input, "full": full, "eps": eps, "reduction": reduction})
    check_finite_range(fn, "target", y, 0.0, math.inf, "counts")
    if log_input:
        values = torch.exp(x) - y * x
    else:
        check_finite_range(fn, "input", x, 0.0, math.inf, "rates (log_input=False)")
        values = x - y * torch.log(x + eps)
    if full:
        # Double where: the masked-out counts (<= 1, including 0) never reach log().
        big = y > 1
        ys = torch.where(big, y, torch.full_like(y, 2.0))
        stirling = ys * torch.log(ys) - ys + 0.5 * torch.log(_TWO_PI * ys)
        values = values + torch.where(big, stirling, torch.zeros_like(ys))
    check_weight(fn, weight, values.shape)
    return reduce(values, reduction, weight)


class PoissonNLLLoss(LossModule, spec=SPEC, fn=poisson_nll_loss):
    """Module form of :func:`losscraft.functional.poisson_nll_loss`."""

    def __init__(
        self,
        *,
        log_input: bool = True,
        full: bool = False,
        eps: float = 1e-8,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(log_input=log_input, full=full, eps=eps, reduction=reduction)
