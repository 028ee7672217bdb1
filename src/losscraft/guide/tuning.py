r"""Tuning constants of robust losses: the scale that gives a chosen efficiency at the normal.

A robust regression loss $\rho(r; c)$ with a scale hyperparameter $c$ (a
:class:`~losscraft.Role` ``ROBUST_SCALE`` parameter: huber's ``delta``, the others'
``scale``) is usually set to $c = k\,\hat\sigma$, a constant $k$ times a robust scale
$\hat\sigma$ of the residuals. The classical choice of $k$ makes the location M-estimator
$\hat\mu = \arg\min_\mu \sum_i \rho(y_i - \mu; k)$ 95% as efficient as the mean when the
noise is Gaussian. That constant depends on the loss: Huber's is 1.345, Cauchy's 2.3849,
Welsch's 2.9846, Tukey's biweight 4.6851 (Holland & Welsch 1977, in their
parameterisations). :func:`efficiency_constant` computes it from the loss function itself,
so a new robust loss gets its constant with no table to edit.

**Efficiency.** With $\psi = \partial\rho/\partial r$, the M-estimator's asymptotic
variance at $Z \sim N(0, 1)$ is $E[\psi(Z)^2] / E[\psi'(Z)]^2$ (Huber 1964), and the mean's
is 1, so

$$\operatorname{eff}(k) = \frac{E[\psi'(Z)]^2}{E[\psi(Z)^2]} = \frac{E[Z\,\psi(Z)]^2}{E[\psi(Z)^2]}.$$

The second form is Stein's identity $E[\psi'(Z)] = E[Z\,\psi(Z)]$ (integration by parts
against $\varphi'(z) = -z\,\varphi(z)$). It needs only the first derivative, which
autograd gives exactly, and its integrands are continuous wherever $\rho$ is $C^1$, so the
quadrature stays accurate for losses whose $\psi'$ jumps (Huber at $\pm k$, Tukey at $\pm c$);
$\psi'$ itself would make the integrand discontinuous. For a $\psi$ with jumps it is the
distributional derivative, which is the right one (the median: $\operatorname{eff} = 2/\pi$).

**Quadrature.** $E[g(Z)] \approx \sum_j g(z_j)\,\varphi(z_j)\,h$ on the uniform grid
$z_j = jh$, $|z_j| \le 12$, $h = 5 \times 10^{-4}$ (float64). For a smooth integrand the trapezoid rule
on a rapidly decaying function is exact to rounding; at a kink its error is $O(h^2)$: for
Huber (checked against the closed form in the tests) about $3 \times 10^{-9}$ in
$\operatorname{eff}$ at $k = 1.345$, below $5 \times 10^{-7}$ for every $k \ge 0.05$. Gauss-Hermite quadrature with
200 nodes is off by $3 \times 10^{-4}$ for Huber (the kink), which moves $k$ in the third decimal. $\psi$ comes from one backward pass of
the registry function on the residual curve (``spec.curve``: prediction $z$, target 0),
``reduction="none"``.

**Root.** $\operatorname{eff}(k)$ is evaluated on a log-spaced grid of
$k \in [0.05, 50]$; it must be non-decreasing there (true of every loss that flattens its
tails less as $k$ grows), and the crossing of the target is refined by Brent's method
(``scipy.optimize.brentq``) to $10^{-10}$ relative.

References:
    P. J. Huber (1964). Robust Estimation of a Location Parameter. Annals of Mathematical
    Statistics 35(1). https://doi.org/10.1214/aoms/1177703732

    P. W. Holland, R. E. Welsch (1977). Robust regression using iteratively reweighted
    least-squares. Communications in Statistics - Theory and Methods 6(9).
    https://doi.org/10.1080/03610927708827533

    C. M. Stein (1981). Estimation of the Mean of a Multivariate Normal Distribution.
    Annals of Statistics 9(6). https://doi.org/10.1214/aos/1176345632
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Hashable, Mapping
from typing import Any

import torch

from .._core.errors import LosscraftError
from .._core.registry import LossEntry, get
from .._core.spec import Param, Role

__all__ = ["asymptotic_efficiency", "efficiency_constant"]

BRACKET = (0.05, 50.0)
"""Range of the multiplier ``k`` searched by :func:`efficiency_constant`."""

_GRID_POINTS = 17  # log-spaced k at which monotonicity is checked (ratio ~1.54 between neighbours)
_STEP = 5e-4  # quadrature step in z (48001 nodes)
_HALF_WIDTH = 12.0  # phi(12) ~ 2e-32: the tails beyond add nothing in float64
_REL_TOL = 1e-10  # relative tolerance of the root in k
_MONOTONE_SLACK = 1e-12  # rounding allowed when eff is flat (eff ~ 1 at large k)


def _entry(entry_or_name: LossEntry | str) -> LossEntry:
    return entry_or_name if isinstance(entry_or_name, LossEntry) else get(entry_or_name)


def _scale_param(entry: LossEntry) -> Param | None:
    """The entry's single ROBUST_SCALE parameter (``None``: none, or several)."""
    found = [p for p in entry.spec.params if p.role == Role.ROBUST_SCALE]
    return found[0] if len(found) == 1 else None


def _freeze(value: Any) -> Hashable:
    """A hashable stand-in for a hyperparameter value (lists become tuples)."""
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    if isinstance(value, torch.Tensor):
        return ("tensor", tuple(value.detach().reshape(-1).tolist()), tuple(value.shape))
    return value if isinstance(value, Hashable) else repr(value)


def _other_params(entry: LossEntry, scale: Param, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """``params`` restricted to the entry's hyperparameters, without the scale itself."""
    names = {p.name for p in entry.spec.params}
    return {k: v for k, v in (params or {}).items() if k in names and k != scale.name}


@functools.lru_cache(maxsize=1)
def _grid() -> tuple[torch.Tensor, torch.Tensor]:
    """Quadrature nodes ``z`` and weights ``phi(z) h`` (float64, built once)."""
    with torch.inference_mode(False):
        n = round(_HALF_WIDTH / _STEP)
        z = torch.arange(-n, n + 1, dtype=torch.float64) * _STEP
        w = torch.exp(-0.5 * z * z) * (_STEP / math.sqrt(2.0 * math.pi))
    return z, w


def _efficiency(entry: LossEntry, scale: Param, k: float, others: Mapping[str, Any]) -> float:
    """``eff(k)`` by Stein's identity and the trapezoid rule (NaN when undefined)."""
    curve = entry.spec.curve
    if curve is None or curve.axis != "residual" or curve.pointwise:
        return math.nan
    z, w = _grid()
    with torch.inference_mode(False), torch.enable_grad():
        x = z.clone().requires_grad_(True)
        values = curve.values(entry.function, x, **{**others, scale.name: k})
        (psi,) = torch.autograd.grad(values.sum(), x)
    with torch.no_grad():
        slope = float((w * z * psi).sum())  # E[Z psi(Z)] = E[psi'(Z)]
        spread = float((w * psi * psi).sum())  # E[psi(Z)^2]
    if not (math.isfinite(slope) and math.isfinite(spread)) or slope <= 0.0 or spread <= 0.0:
        return math.nan
    return slope * slope / spread


def asymptotic_efficiency(
    entry_or_name: LossEntry | str, k: float, params: Mapping[str, Any] | None = None
) -> float | None:
    r"""Asymptotic efficiency at $N(0, 1)$ of the location M-estimator of a loss, scale ``k``.

    $$\operatorname{eff}(k) = \frac{E[\psi'(Z)]^2}{E[\psi(Z)^2]}
    = \frac{E[Z\,\psi(Z)]^2}{E[\psi(Z)^2]},\qquad \psi = \partial\rho/\partial r,\ Z \sim N(0, 1)$$

    with the entry's ROBUST_SCALE hyperparameter set to ``k`` and the others at ``params``
    (defaults where absent). See the module docstring for the quadrature (float64; for Huber
    within ``5e-7`` of the closed form for ``k >= 0.05``, ``3e-9`` at ``k = 1.345``).

    Args:
        entry_or_name: a registry entry or a name :func:`losscraft.get` resolves.
        k: value of the scale hyperparameter (the residual scale being 1).
        params: other hyperparameters (e.g. barron's ``alpha``); a value for the scale itself
            and names the loss does not take are ignored.

    Returns:
        The efficiency in ``(0, 1]``; NaN when it is undefined (no residual curve, a
        non-finite or non-positive $E[Z\psi(Z)]$); ``None`` when the entry has no single
        ROBUST_SCALE parameter.

    Raises:
        LosscraftError: unknown name, or a hyperparameter the loss rejects.

    Examples:
        >>> round(asymptotic_efficiency("huber", 1.345), 4)
        0.95
    """
    entry = _entry(entry_or_name)
    scale = _scale_param(entry)
    if scale is None:
        return None
    return _efficiency(entry, scale, float(k), _other_params(entry, scale, params))


def efficiency_constant(
    entry_or_name: LossEntry | str,
    params: Mapping[str, Any] | None = None,
    *,
    efficiency: float = 0.95,
) -> float | None:
    r"""The multiplier $k$ of a robust loss's scale for a given efficiency at the normal.

    Solves $\operatorname{eff}(k) = $ ``efficiency`` (see :func:`asymptotic_efficiency`) for
    the entry's ROBUST_SCALE hyperparameter, the others at ``params``: setting that
    hyperparameter to $k\,\hat\sigma$, with $\hat\sigma$ a robust scale of the residuals, makes
    the loss's location M-estimator that efficient relative to the mean under Gaussian noise
    (95%: Huber 1.345, Holland & Welsch 1977). Results are cached per loss, parameters and
    efficiency.

    Args:
        entry_or_name: a registry entry or a name :func:`losscraft.get` resolves.
        params: the other hyperparameters (e.g. barron's ``alpha``; defaults where absent); a
            value for the scale itself and names the loss does not take are ignored.
        efficiency: the target efficiency, in ``(0, 1)``.

    Returns:
        $k$, or ``None`` when the entry has no single ROBUST_SCALE parameter, has no residual
        curve, or the efficiency is not reached for $k$ in :data:`BRACKET` with
        $\operatorname{eff}$ non-decreasing there (the caller then falls back to Huber's 1.345
        and should say so).

    Raises:
        LosscraftError: unknown name, ``efficiency`` not in (0, 1), or a hyperparameter the loss
            rejects.

    Examples:
        >>> round(efficiency_constant("huber"), 3)
        1.345
    """
    if isinstance(efficiency, bool) or not isinstance(efficiency, (int, float)) or not 0 < efficiency < 1:
        raise LosscraftError(f"efficiency_constant: 'efficiency' must be in (0, 1), got {efficiency!r}")
    entry = _entry(entry_or_name)
    scale = _scale_param(entry)
    if scale is None:
        return None
    others = _other_params(entry, scale, params)
    key = (
        entry.name,
        entry.function,  # a loss re-registered under the same name gets its own entry
        tuple(sorted((name, _freeze(v)) for name, v in others.items())),
        float(efficiency),
    )
    if key not in _CACHE:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        _CACHE[key] = _solve(entry, scale, others, float(efficiency))
    return _CACHE[key]


_CACHE: dict[Hashable, float | None] = {}
_CACHE_SIZE = 1024


def _solve(entry: LossEntry, scale: Param, others: Mapping[str, Any], efficiency: float) -> float | None:
    """The root of ``eff(k) = efficiency`` in :data:`BRACKET` (``None``: see :func:`efficiency_constant`)."""

    def eff(k: float) -> float:
        return _efficiency(entry, scale, k, others)

    lo, hi = BRACKET
    ks = [lo * math.exp(math.log(hi / lo) * i / (_GRID_POINTS - 1)) for i in range(_GRID_POINTS)]
    effs = [eff(k) for k in ks]
    if not all(math.isfinite(e) for e in effs):
        return None
    if any(b < a - _MONOTONE_SLACK for a, b in itertools.pairwise(effs)):
        return None  # not monotone: the root need not be unique
    if not effs[0] < efficiency <= effs[-1]:
        return None
    i = next(j for j, e in enumerate(effs) if e >= efficiency)
    a, b = ks[i - 1], ks[i]
    if effs[i] == efficiency:
        return b
    from scipy.optimize import brentq  # the [guide] extra; Brent's method: ~10 evaluations, not ~40

    return float(brentq(lambda k: eff(k) - efficiency, a, b, xtol=_REL_TOL * a, rtol=_REL_TOL))
