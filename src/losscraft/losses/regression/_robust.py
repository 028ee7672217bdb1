r"""Shared math of the robust regression losses: Barron's family and its special cases.

Every robust loss here is a function of the *scale-normalised* residual
$t = (\hat y - y)/c$ and follows Barron (2019):

$$f(t, \alpha) = \frac{|\alpha - 2|}{\alpha}\left[\left(\frac{t^2}{|\alpha - 2|} + 1\right)^{\alpha/2}
- 1\right]$$

with the special cases (each computed by its own kernel, so that ``barron`` at those shapes
*is* the named loss, bit for bit):

==============  ========================================  ================
$\alpha$        $f(t, \alpha)$                            entry
==============  ========================================  ================
$2$             $\tfrac12 t^2$                            ``mse / 2``
$1$             $\sqrt{t^2 + 1} - 1$                      ``charbonnier``
$0$ (limit)     $\log(\tfrac12 t^2 + 1)$                  ``cauchy``
$-2$            $2 t^2 / (t^2 + 4)$                       ``geman_mcclure``
$-\infty$       $1 - \exp(-\tfrac12 t^2)$                 ``welsch``
==============  ========================================  ================

It also holds the log partition function $\log Z(\alpha)$ of Barron's distribution
$p(x) \propto e^{-f(x/c, \alpha)} / c$, needed by the adaptive loss.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from ..._core.checks import (
    check_floating,
    check_same_shape,
    compute_dtype,
    fmt_got,
    to_compute,
    values_are_concrete,
)
from ..._core.errors import LosscraftError
from ..._core.numerics import LOG2
from ..._core.spec import Interval, Param, Role

__all__ = [
    "SCALE_PARAM",
    "check_greater_than",
    "log_partition",
    "log_partition_table",
    "rho",
    "rho_cauchy",
    "rho_charbonnier",
    "rho_general",
    "rho_geman_mcclure",
    "rho_l2",
    "rho_tensor_alpha",
    "rho_welsch",
    "scaled_residual",
]

SCALE_PARAM = Param(
    "scale",
    1.0,
    Interval(0.0, math.inf, low_closed=False, high_closed=False),
    "residual size c where the loss leaves its quadratic bowl (target units)",
    role=Role.ROBUST_SCALE,
)


# --------------------------------------------------------------------------- validation
def scaled_residual(fn: str, input: Any, target: Any, scale: float) -> Tensor:
    """Validate an ``(input, target)`` pair and return ``t = (input - target) / scale``.

    Computed in float32 for half inputs (``compute_dtype``); ``scale`` is validated by the
    caller's ``check_params``.
    """
    check_floating(fn, "input", input)
    check_floating(fn, "target", target)
    check_same_shape(fn, input, target)
    dt = compute_dtype(input, target)
    return (to_compute(input, dt) - to_compute(target, dt)) / scale


def check_greater_than(fn: str, name: str, x: Tensor, low: float, what: str = "values") -> None:
    """All values of ``x`` are strictly greater than ``low`` (NaN fails).

    The strict counterpart of ``checks.check_finite_range`` (closed bounds), with the same
    message layout: ``msle_loss: 'input' must contain values > -1, got -1 (observed range ...)``.
    """
    if x.numel() == 0 or not values_are_concrete(x):
        return
    xd = x.detach()
    bad = ~(xd > low)
    if bool(bad.any()):
        got = fmt_got(xd, xd[bad].flatten()[0].item())  # counts NaN values, range of the others
        raise LosscraftError(f"{fn}: '{name}' must contain {what} > {low:g}, {got}")


# --------------------------------------------------------------------------- kernels
# Each kernel takes the scale-normalised residual t and is written so that it neither cancels
# near t = 0 nor overflows for large |t| (as long as t itself is finite).


def rho_l2(t: Tensor) -> Tensor:
    """``t^2 / 2`` (Barron, alpha = 2)."""
    return 0.5 * (t * t)


def rho_charbonnier(t: Tensor) -> Tensor:
    """``sqrt(t^2 + 1) - 1`` (alpha = 1).

    Why: ``sqrt(t^2 + 1) - 1`` cancels for small ``t`` (all digits lost below ``t ~ 1e-4`` in
    float32) and ``t^2`` overflows first; ``t * t / (hypot(t, 1) + 1)`` is the same number,
    exact to an ulp everywhere, and ``t / (hypot(t, 1) + 1)`` is bounded by 1.
    """
    return t * (t / (torch.hypot(t, torch.ones_like(t)) + 1.0))


def rho_cauchy(t: Tensor) -> Tensor:
    """``log(t^2 / 2 + 1)`` (alpha = 0, the limit of Barron's formula)."""
    return torch.log1p(0.5 * (t * t))


def rho_geman_mcclure(t: Tensor) -> Tensor:
    """``2 t^2 / (t^2 + 4)`` (alpha = -2).

    Why: ``s = t / hypot(t, 2)`` lies in (-1, 1) and ``2 s^2`` equals the formula without ever
    forming ``t^2 / t^2`` (``inf / inf`` for huge ``t``).
    """
    s = t / torch.hypot(t, torch.full_like(t, 2.0))
    return 2.0 * (s * s)


def _expm1_nonpositive(e: Tensor) -> Tensor:
    """``exp(e) - 1`` for ``e <= 0`` with an accurate value *and* gradient.

    Why: ``expm1`` keeps the digits of the value near 0, but torch differentiates it as
    ``grad * (expm1(e) + 1)``, which cancels as ``e -> -inf`` (the gradient ``exp(e)`` loses
    all relative precision, and is exactly 0 in float32 beyond ``e ~ -16``). Below
    ``-log 2``, ``exp(e) - 1`` has no cancellation and its gradient is ``exp(e)`` itself.
    """
    return torch.where(e > -LOG2, torch.expm1(e), torch.exp(e) - 1.0)


def rho_welsch(t: Tensor) -> Tensor:
    """``1 - exp(-t^2 / 2)`` (alpha -> -inf), accurate for small and large ``t`` (value and gradient)."""
    return -_expm1_nonpositive(-0.5 * (t * t))


def rho_general(t: Tensor, alpha: float) -> Tensor:
    r"""Barron's formula for a fixed ``alpha`` not in {0, 2, -inf}.

    Why: $(1 + z)^{\alpha/2} - 1$ is evaluated as ``expm1(alpha/2 * log1p(z))``, accurate for
    every ``alpha`` (no cancellation as ``alpha -> 0``, none near ``z = 0``) and free of the
    ``0/0`` of the textbook form.
    """
    b = abs(alpha - 2.0)
    e = (0.5 * alpha) * torch.log1p((t * t) / b)
    # alpha < 0: e <= 0 and the loss saturates; keep the redescending gradient's digits.
    return (b / alpha) * (_expm1_nonpositive(e) if alpha < 0 else torch.expm1(e))


def rho(t: Tensor, alpha: float) -> Tensor:
    """Barron's loss ``f(t, alpha)`` for a Python-float ``alpha``, special cases by kernel."""
    if alpha == 2.0:
        return rho_l2(t)
    if alpha == 1.0:
        return rho_charbonnier(t)
    if alpha == 0.0:
        return rho_cauchy(t)
    if alpha == -2.0:
        return rho_geman_mcclure(t)
    if alpha == -math.inf:
        return rho_welsch(t)
    return rho_general(t, alpha)


def rho_tensor_alpha(t: Tensor, alpha: Tensor) -> Tensor:
    """Barron's loss for a tensor ``alpha`` in ``[0, 2]`` broadcastable to ``t``.

    Differentiable in ``t`` and ``alpha``. ``alpha == 0`` and ``alpha == 2`` take the limit
    forms; the general branch is fed a safe ``alpha`` there (double ``where``) so its NaN
    cannot leak into the gradient.
    """
    t2 = t * t
    is0 = alpha == 0
    is2 = alpha == 2
    a = torch.where(is0 | is2, torch.ones_like(alpha), alpha)
    b = (a - 2.0).abs()
    general = (b / a) * torch.expm1((0.5 * a) * torch.log1p(t2 / b))
    return torch.where(is2, 0.5 * t2, torch.where(is0, torch.log1p(0.5 * t2), general))


# --------------------------------------------------------------------------- log Z(alpha)
_LOGZ_KNOTS = 513
_LOGZ_TABLE: tuple[Tensor, Tensor] | None = None
_LOGZ_CAST: dict[tuple[torch.device, torch.dtype], tuple[Tensor, Tensor]] = {}  # per device/dtype


def _log_singular(alpha: Tensor) -> Tensor:
    r"""$\tfrac14\,b\log b$ with $b = 2 - \alpha$ (0 at $b = 0$; double ``where``, no NaN)."""
    b = (2.0 - alpha).clamp_min(0.0)
    pos = b > 0
    safe = torch.where(pos, b, torch.ones_like(b))
    return torch.where(pos, 0.25 * safe * torch.log(safe), torch.zeros_like(b))


def _knot_coordinate(alpha: Tensor) -> Tensor:
    r"""$\theta = \arccos(1 - \alpha)/\pi \in [0, 1]$, i.e. $\alpha = 1 - \cos(\pi\theta)$.

    Even knots in $\theta$ crowd towards both ends of $[0, 2]$, where $\log Z$ varies fastest.
    The clamp (one ulp inside ``[-1, 1]``) keeps the gradient finite, 0, at exactly
    $\alpha \in \{0, 2\}$, where that of ``acos`` is infinite.
    """
    eps = torch.finfo(alpha.dtype).eps
    return torch.acos((1.0 - alpha).clamp(-1.0 + eps, 1.0 - eps)) / math.pi


def _quadrature_log_z(alpha: Tensor) -> Tensor:
    """Direct float64 quadrature of ``log Z`` for a 1-D tensor of ``alpha`` in [0, 2]."""
    h_u = 1.0 / 32.0
    u = torch.arange(-40.0, 50.0 + 0.5 * h_u, h_u, dtype=torch.float64)
    g = torch.exp(u[None, :] - rho_tensor_alpha(torch.exp(u)[None, :], alpha[:, None]))
    return torch.log(2.0 * h_u * (g.sum(dim=1) - 0.5 * (g[:, 0] + g[:, -1])))


def log_partition_table() -> tuple[Tensor, Tensor]:
    r"""Knot values and slopes of the spline behind :func:`log_partition` (float64, cached).

    $Z(\alpha) = \int_{-\infty}^{\infty} e^{-f(x, \alpha)}\,dx$ with $f$ at scale 1
    ($Z(2) = \sqrt{2\pi}$, $Z(0) = \pi\sqrt2$). Quadrature: with $x = e^u$ the integrand
    $e^{u - f(e^u, \alpha)}$ is analytic in a strip around the real axis and decays
    exponentially at both ends (at worst like $2e^{-u}$, the Cauchy tail), so the trapezoid
    rule on $u \in [-40, 50]$ with step $1/32$ is exact to float64 rounding. Computed once
    (513 knots, tens of milliseconds) and cached.

    $\log Z$ has a $-\tfrac14 b\log b$ singularity at $\alpha = 2$ ($b = 2 - \alpha$; its
    slope is infinite there), which is subtracted before interpolating; the smooth remainder
    $g = \log Z + \tfrac14 b\log b$ is tabulated at knots even in
    $\theta = \arccos(1 - \alpha)/\pi$, with slopes $dg/d\theta$ from fourth-order finite
    differences (one-sided at the ends).

    Returns:
        ``(g, dg/dtheta)`` at the 513 knots ``theta = linspace(0, 1, 513)``.
    """
    global _LOGZ_TABLE
    if _LOGZ_TABLE is None:
        with torch.inference_mode(False), torch.no_grad():
            theta = torch.linspace(0.0, 1.0, _LOGZ_KNOTS, dtype=torch.float64)
            alpha = 1.0 - torch.cos(math.pi * theta)
            alpha[0], alpha[-1] = 0.0, 2.0
            f = _quadrature_log_z(alpha) + _log_singular(alpha)
            h = 1.0 / (_LOGZ_KNOTS - 1)
            d = torch.empty_like(f)
            d[2:-2] = (f[:-4] - 8.0 * f[1:-3] + 8.0 * f[3:-1] - f[4:]) / (12.0 * h)
            d[0] = (-25.0 * f[0] + 48.0 * f[1] - 36.0 * f[2] + 16.0 * f[3] - 3.0 * f[4]) / (12.0 * h)
            d[1] = (-3.0 * f[0] - 10.0 * f[1] + 18.0 * f[2] - 6.0 * f[3] + f[4]) / (12.0 * h)
            d[-1] = (25.0 * f[-1] - 48.0 * f[-2] + 36.0 * f[-3] - 16.0 * f[-4] + 3.0 * f[-5]) / (12.0 * h)
            d[-2] = (3.0 * f[-1] + 10.0 * f[-2] - 18.0 * f[-3] + 6.0 * f[-4] - f[-5]) / (12.0 * h)
        _LOGZ_TABLE = (f, d)
    return _LOGZ_TABLE


def log_partition(alpha: Tensor) -> Tensor:
    r"""$\log Z(\alpha)$ of Barron's distribution for $\alpha \in [0, 2]$ (clamped outside).

    A cubic Hermite spline ($C^1$, differentiable in ``alpha``) through
    :func:`log_partition_table`, plus the exact $-\tfrac14 b\log b$ term. Agrees with direct
    quadrature to about ``1e-10`` in value and ``1e-5`` in slope (the slope grows like
    $\tfrac14\lvert\log(2 - \alpha)\rvert$ towards $\alpha = 2$).
    """
    key = (alpha.device, alpha.dtype)
    if key not in _LOGZ_CAST:
        # Normal (not inference-mode) tensors, so a table first built under
        # torch.inference_mode() can still be used by a later backward pass.
        with torch.inference_mode(False):
            table = log_partition_table()
            _LOGZ_CAST[key] = tuple(t.to(device=key[0], dtype=key[1]) for t in table)  # type: ignore[assignment]
    values, slopes = _LOGZ_CAST[key]
    a = alpha.clamp(0.0, 2.0)
    h = 1.0 / (_LOGZ_KNOTS - 1)
    q = _knot_coordinate(a) / h
    i = q.detach().floor().clamp(0, _LOGZ_KNOTS - 2).long()
    w = q - i.to(q.dtype)
    w2 = w * w
    w3 = w2 * w
    spline = (
        (2.0 * w3 - 3.0 * w2 + 1.0) * values[i]
        + (w3 - 2.0 * w2 + w) * (h * slopes[i])
        + (-2.0 * w3 + 3.0 * w2) * values[i + 1]
        + (w3 - w2) * (h * slopes[i + 1])
    )
    return spline - _log_singular(a)
