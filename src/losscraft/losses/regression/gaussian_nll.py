"""Gaussian negative log-likelihood with a predicted variance."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from ..._core.checks import (
    check_finite_range,
    check_floating,
    check_params,
    check_same_shape,
    compute_dtype,
    fmt_shape,
    to_compute,
)
from ..._core.errors import LosscraftError
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
    TargetKind,
    Task,
)

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def _sample(n: int, *, generator: torch.Generator, dtype: torch.dtype, **_: object) -> Call:
    """Means and targets of shape ``(n, 3)`` and variances in [0.5, 2] of the same shape."""
    mean = randn((n, 3), generator, torch.float64)
    target = randn((n, 3), generator, torch.float64)
    var = uniform((n, 3), generator, torch.float64, -0.7, 0.7).exp()
    return Call((mean.to(dtype), target.to(dtype), var.to(dtype)))


def _curve_maker(var: float) -> Callable[..., Call]:
    def make(x: Tensor, **_: object) -> Call:
        return Call((x, torch.zeros_like(x), torch.full_like(x, var)))

    make.__doc__ = (
        f"Predicted mean ``x`` for target 0 with variance {var:g}: ``(log {var:g} + x^2/{var:g}) / 2``."
    )
    return make


SPEC = LossSpec(
    name="gaussian_nll",
    family=Family.REGRESSION,
    tasks=(Task.REGRESSION,),
    input_kind=InputKind.REAL,
    target_kind=TargetKind.REAL,
    inputs=("input", "target", "var"),
    params=(
        Param("full", False, Choice((True, False)), "add the constant log(2 pi) / 2"),
        Param(
            "eps",
            1e-6,
            Interval(0.0, math.inf, low_closed=False, high_closed=False),
            "variances are clamped to at least eps (gradient passes straight through)",
        ),
    ),
    # Along the mean, for a fixed variance: a parabola (convex, smooth, symmetric, unbounded
    # gradient). It is not zero at a match (log var / 2, negative for var < 1).
    properties=frozenset({Property.SYMMETRIC, Property.CONVEX, Property.SMOOTH}),
    formula=(
        r"\ell_i = \tfrac12\left(\log v_i + \frac{(\hat\mu_i "
        r"- y_i)^2}{v_i}\right) \;\big[+\,\tfrac12\log 2\pi\big],\qquad v_i = \max(\sigma^2_i, \varepsilon)"
    ),
    summary="Gaussian negative log-likelihood with a predicted variance: fits a mean and its uncertainty.",
    references=(
        Ref(
            "D. A. Nix, A. S. Weigend",
            "Estimating the mean and variance of the target probability distribution",
            "IEEE International Conference on Neural Networks (ICNN)",
            1994,
            "https://doi.org/10.1109/ICNN.1994.374138",
        ),
    ),
    sample=_sample,
    curve=Curve("residual", (-4.0, 4.0), _curve_maker(1.0), label="variance 1"),
    more_curves=(
        Curve("residual", (-4.0, 4.0), _curve_maker(0.25), label="variance 0.25"),
        Curve("residual", (-4.0, 4.0), _curve_maker(4.0), label="variance 4"),
    ),
    when_to_use=(
        "When the model should also say how uncertain each prediction is (heteroscedastic "
        "noise, active learning, weighting downstream decisions). Predict the variance with a "
        "softplus (or exp) head. Hard examples get their variance inflated and their mean "
        "under-fitted; beta-NLL (Seitzer et al. 2022) or a warm-up with MSE helps."
    ),
    when_not_to_use=(
        "Not when only the mean is needed: mse fits it without a variance head that inflates "
        "on hard examples and under-fits them. Not for intervals under skewed or heavy-tailed "
        "noise, where mean +- z sigma is miscalibrated (quantile at the interval's levels), "
        "nor for counts (poisson_nll)."
    ),
)


def _broadcast_var(fn: str, input: Tensor, var: Tensor) -> Tensor:
    """Apply torch's rule: ``var`` has ``input``'s shape, ``input.shape[:-1]``, or one dim of size 1."""
    if var.shape == input.shape:
        return var
    if input.dim() >= 1 and var.shape == input.shape[:-1]:
        return var.unsqueeze(-1)
    if var.dim() == input.dim():
        diff = [(a, b) for a, b in zip(input.shape, var.shape, strict=True) if a != b]
        if len(diff) == 1 and diff[0][1] == 1:
            return var
    raise LosscraftError(
        f"{fn}: 'var' must have the shape of 'input' {fmt_shape(input)}, that shape with one "
        f"dimension of size 1, or input.shape[:-1] = {fmt_shape(input.shape[:-1])}, got "
        f"{fmt_shape(var)}"
    )


@register(SPEC, aliases=("gaussian", "heteroscedastic_gaussian"))
def gaussian_nll_loss(
    input: Tensor,
    target: Tensor,
    var: Tensor | float,
    *,
    full: bool = False,
    eps: float = 1e-6,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Gaussian negative log-likelihood with a predicted variance: fits a mean and its uncertainty.

    Use it when the model predicts a mean *and* a variance per target (heteroscedastic
    regression): residuals are scored relative to the predicted uncertainty, and the
    $\log\sigma^2$ term stops the variance from growing without bound.

    $$\ell_i = \tfrac12\left(\log v_i + \frac{(\hat\mu_i - y_i)^2}{v_i}\right) \;\big[+\,\tfrac12\log 2\pi\big],\qquad v_i = \max(\sigma^2_i, \varepsilon)$$

    reduced as described in *Reductions* (``docs/conventions.md``); the bracket is added with
    ``full=True``. Values and gradients equal ``torch.nn.functional.gaussian_nll_loss``,
    including its clamp: variances below $\varepsilon$ are raised to $\varepsilon$ in the
    forward pass while the gradient passes straight through (as if unclamped), so a variance
    head stuck at 0 still learns. With $\sigma^2 \equiv 1$ the loss is ``mse / 2``. Unlike
    torch, ``input`` and ``target`` must have the same shape (no broadcasting).

    **Gradient:** $\partial\ell/\partial\hat\mu = (\hat\mu - y)/v$ (unbounded);
    $\partial\ell/\partial\sigma^2 = \tfrac12\,(1/v - (\hat\mu - y)^2/v^2)$, zero at
    $v = (\hat\mu - y)^2$. In float16 the variance gradient overflows (65504) once
    $(\hat\mu - y)^2 / v^2$ exceeds about 1e5: keep the variance head in float32.

    Args:
        input: predicted means $\hat\mu$, any shape, floating point.
        target: targets $y$, same shape as ``input``.
        var: predicted variances $\sigma^2 \ge 0$ (not standard deviations), floating
            point, of ``input``'s shape (heteroscedastic); or that shape with one dimension
            of size 1, or ``input.shape[:-1]``, shared across it (homoscedastic over that
            dimension) — torch's rule; or a Python float for one fixed variance.
        full: add the constant $\tfrac12\log 2\pi$, making it the exact NLL. Default False
            (PyTorch).
        eps: $\varepsilon > 0$, the smallest variance used. Default 1e-6 (PyTorch).
        weight: optional non-negative weights broadcastable to ``input``'s shape.
        reduction: ``"mean"`` (weighted mean), ``"sum"`` or ``"none"`` (``input``'s shape).

    Returns:
        A scalar, or a tensor of ``input``'s shape for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: ``input``/``target`` shapes differ, ``var`` of another shape than
            the three above, non-floating input, a negative (or NaN) variance, ``eps`` not in
            (0, inf), bad ``weight`` or ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import gaussian_nll_loss
        >>> mean, y = torch.tensor([0.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 2.0])
        >>> gaussian_nll_loss(mean, y, torch.tensor([1.0, 1.0, 4.0]), reduction="none")
        tensor([0.0000, 0.5000, 1.1931])
        >>> gaussian_nll_loss(mean, y, torch.tensor([0.0, 1.0, 4.0]), reduction="none")  # clamp
        tensor([-6.9078,  0.5000,  1.1931])

    References:
        D. A. Nix, A. S. Weigend (1994). Estimating the mean and variance of the target probability
            distribution. IEEE International Conference on Neural Networks (ICNN).
            https://doi.org/10.1109/ICNN.1994.374138
    """
    fn = "gaussian_nll_loss"
    check_floating(fn, "input", input)
    check_floating(fn, "target", target)
    check_same_shape(fn, input, target)
    check_params(SPEC, {"full": full, "eps": eps, "reduction": reduction})
    if isinstance(var, Tensor):
        check_floating(fn, "var", var)
        v = _broadcast_var(fn, input, var)
    elif isinstance(var, (int, float)) and not isinstance(var, bool):
        if not float(var) >= 0.0:
            raise LosscraftError(f"{fn}: 'var' must be a variance >= 0, got {var!r}")
        v = torch.full_like(input, float(var), dtype=compute_dtype(input, target))
    else:
        raise LosscraftError(f"{fn}: 'var' must be a torch.Tensor or a float, got {type(var).__name__}")
    dt = compute_dtype(input, target, v)
    x, y = to_compute(input, dt), to_compute(target, dt)
    check_finite_range(fn, "var", v, 0.0, math.inf, "variances")
    # torch's clamp: in place on our own copy under no_grad, so the forward pass uses
    # max(var, eps) while the gradient flows through unchanged. copy_ of a clamped copy rather
    # than clamp_, which has no vmap batching rule (a slow fallback and a warning).
    v = to_compute(v, dt).clone()
    with torch.no_grad():
        v.copy_(v.clamp(min=eps))
    r = x - y
    values = 0.5 * (torch.log(v) + r * r / v)
    if full:
        values = values + _HALF_LOG_2PI
    check_weight(fn, weight, values.shape)
    return reduce(values, reduction, weight)


class GaussianNLLLoss(LossModule, spec=SPEC, fn=gaussian_nll_loss):
    """Module form of :func:`losscraft.functional.gaussian_nll_loss`."""

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: Reduction = "mean") -> None:
        super().__init__(full=full, eps=eps, reduction=reduction)
