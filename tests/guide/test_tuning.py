"""Tuning constants of the robust losses against literature values and closed forms.

References: Huber (1964) for Huber's 1.345 and the efficiency formula; Holland & Welsch (1977),
"Robust regression using iteratively reweighted least-squares", Table 1, for Cauchy 2.3849,
Welsch 2.9846 and Tukey's biweight 4.6851 (95% asymptotic efficiency at the normal).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest
import torch

import losscraft
from losscraft._core.errors import LosscraftError
from losscraft._core.registry import LossEntry, catalog, get
from losscraft._core.spec import Role
from losscraft.guide.tuning import asymptotic_efficiency, efficiency_constant

stats = pytest.importorskip("scipy.stats")
optimize = pytest.importorskip("scipy.optimize")

assert losscraft  # the import registers the catalog

SQRT2 = math.sqrt(2.0)


def _robust_entries() -> list[LossEntry]:
    return [e for e in catalog() if any(p.role == Role.ROBUST_SCALE for p in e.spec.params)]


def _eff_huber(k: float) -> float:
    """Closed form (Huber 1964): E psi' = 2 Phi(k) - 1, E psi^2 = 2 Phi(k) - 1 - 2 k phi(k) + 2 k^2 (1 - Phi(k))."""
    p, d = stats.norm.cdf(k), stats.norm.pdf(k)
    return float((2 * p - 1) ** 2 / (2 * p - 1 - 2 * k * d + 2 * k * k * (1 - p)))


def _eff_welsch(c: float) -> float:
    """Closed form for our Welsch, psi(r) = r exp(-r^2 / (2 c^2)) (up to a constant factor).

    With Z ~ N(0, 1) and E[exp(-a Z^2)] = (1 + 2a)^(-1/2), E[Z^2 exp(-a Z^2)] = (1 + 2a)^(-3/2):
    E psi' = E[(1 - Z^2/c^2) exp(-Z^2/(2c^2))] = (1 + 1/c^2)^(-3/2) and
    E psi^2 = E[Z^2 exp(-Z^2/c^2)] = (1 + 2/c^2)^(-3/2), so eff = (1 + 1/c^2)^-3 (1 + 2/c^2)^(3/2).
    """
    return (1 + 1 / c**2) ** -3 * (1 + 2 / c**2) ** 1.5


def _eff_finite_differences(entry: LossEntry, params: dict[str, Any]) -> float:
    """eff = (E psi')^2 / E psi^2 from loss *values* only: psi and psi' by first and second
    differences on a fine grid, expectations by the trapezoid rule. Independent of the module's
    method (autograd first derivative and Stein's identity E psi' = E[Z psi])."""
    h = 1e-4
    n = 120_000  # |z| <= 12
    z = torch.arange(-n, n + 1, dtype=torch.float64) * h
    assert entry.spec.curve is not None
    with torch.no_grad():
        rho = entry.spec.curve.values(entry.function, z, **params).numpy()
    zs = z.numpy()
    psi = np.diff(rho) / h  # at the midpoints
    mid = 0.5 * (zs[1:] + zs[:-1])
    dpsi = np.diff(psi) / h  # at the interior nodes
    inner = zs[1:-1]
    phi = stats.norm.pdf
    e_dpsi = float(np.sum(dpsi * phi(inner)) * h)
    e_psi2 = float(np.sum(psi * psi * phi(mid)) * h)
    return e_dpsi**2 / e_psi2


def _tukey_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    scale: float = 1.0,
    reduction: str = "mean",
    weight: Any = None,
) -> torch.Tensor:
    """Tukey's biweight, rho = c^2/6 (1 - (1 - (r/c)^2)^3) for |r| <= c, c^2/6 beyond (Beaton & Tukey 1974)."""
    u = (input - target) / scale
    inside = 1 - (1 - u * u) ** 3
    out = torch.where(u.abs() <= 1, inside, torch.ones_like(u)) * (scale * scale / 6)
    return out if reduction == "none" else out.mean()


def _custom(name: str, function: Any, like: str = "cauchy") -> LossEntry:
    """An unregistered entry: ``like``'s spec (one ROBUST_SCALE ``scale``) under ``name`` with ``function``."""
    return LossEntry(dataclasses.replace(get(like).spec, name=name), function)


# --------------------------------------------------------------------------- literature constants
def test_huber_is_1_345() -> None:
    k = efficiency_constant("huber")
    assert k is not None
    assert round(k, 3) == 1.345


def test_cauchy_matches_holland_welsch() -> None:
    # Holland & Welsch: rho = c'^2/2 log(1 + (r/c')^2), c' = 2.3849. Ours: log(1 + (r/c)^2 / 2)
    # = log(1 + (r / (sqrt2 c))^2): the same function of r up to a positive factor (which leaves
    # the M-estimator unchanged) when c' = sqrt2 c, so our constant is 2.3849 / sqrt2 = 1.6864.
    k = efficiency_constant("cauchy")
    assert k is not None
    assert k * SQRT2 == pytest.approx(2.3849, abs=1e-4)


def test_welsch_matches_holland_welsch() -> None:
    # Holland & Welsch: rho = c'^2/2 (1 - exp(-(r/c')^2)), c' = 2.9846. Ours: 1 - exp(-(r/c)^2 / 2)
    # = 1 - exp(-(r / (sqrt2 c))^2): c' = sqrt2 c, so our constant is 2.9846 / sqrt2 = 2.1104.
    k = efficiency_constant("welsch")
    assert k is not None
    assert k * SQRT2 == pytest.approx(2.9846, abs=1e-4)


def test_a_new_loss_gets_its_constant_tukey_biweight() -> None:
    # A loss the library does not have, given only as a function: no table involved.
    k = efficiency_constant(_custom("tukey_biweight", _tukey_loss))
    assert k is not None
    assert k == pytest.approx(4.6851, abs=1e-4)


@pytest.mark.parametrize(("alpha", "literature"), [(0.0, 2.3849), (-math.inf, 2.9846)])
def test_barron_special_cases_take_alpha_from_params(alpha: float, literature: float) -> None:
    # barron(alpha=0) is our Cauchy, barron(alpha=-inf) our Welsch: same sqrt2 conversion as above.
    k = efficiency_constant("barron", {"alpha": alpha})
    assert k is not None
    assert k * SQRT2 == pytest.approx(literature, abs=1e-4)


def test_barron_alpha_2_is_least_squares_so_no_constant() -> None:
    # alpha = 2 is (r/c)^2 / 2 for every c: the mean, efficiency 1 at every scale, never 0.95.
    assert asymptotic_efficiency("barron", 0.3, {"alpha": 2.0}) == pytest.approx(1.0, abs=1e-9)
    assert efficiency_constant("barron", {"alpha": 2.0}) is None


# --------------------------------------------------------------------------- closed forms
@pytest.mark.parametrize("k", [0.1, 0.5, 1.0, 1.345, 2.0, 3.0])
def test_huber_efficiency_matches_closed_form(k: float) -> None:
    eff = asymptotic_efficiency("huber", k)
    assert eff is not None
    assert eff == pytest.approx(_eff_huber(k), abs=3e-7 if k < 0.5 else 5e-8)


@pytest.mark.parametrize("c", [0.3, 1.0, 2.1, 5.0])
def test_welsch_efficiency_matches_closed_form(c: float) -> None:
    eff = asymptotic_efficiency("welsch", c)
    assert eff is not None
    assert eff == pytest.approx(_eff_welsch(c), abs=1e-9)


@pytest.mark.parametrize("target", [0.7, 0.9, 0.95, 0.99])
def test_huber_constant_solves_the_closed_form(target: float) -> None:
    expected = optimize.brentq(lambda k: _eff_huber(k) - target, 1e-3, 10.0, xtol=1e-12)
    k = efficiency_constant("huber", efficiency=target)
    assert k is not None
    assert k == pytest.approx(expected, abs=1e-5)


def test_unreachable_efficiency_is_none() -> None:
    # Huber -> the median as k -> 0, whose efficiency is 2/pi = 0.637 (Huber 1964): 0.6 is never hit.
    assert _eff_huber(0.05) > 2 / math.pi > 0.6
    assert efficiency_constant("huber", efficiency=0.6) is None


def test_works_under_inference_mode() -> None:
    with torch.inference_mode():
        eff = asymptotic_efficiency("huber", 1.0)
    assert eff == pytest.approx(_eff_huber(1.0), abs=1e-7)


# --------------------------------------------------------------------------- every registry entry
@pytest.mark.parametrize("entry", _robust_entries(), ids=lambda e: e.name)
def test_every_robust_scale_entry_gets_a_constant(entry: LossEntry) -> None:
    k = efficiency_constant(entry)
    assert k is not None, f"{entry.name}: no 95% constant"
    assert math.isfinite(k) and 0.1 < k < 20
    scale = next(p.name for p in entry.spec.params if p.role == Role.ROBUST_SCALE)
    defaults = {p.name: p.default for p in entry.spec.params}
    assert _eff_finite_differences(entry, {**defaults, scale: k}) == pytest.approx(0.95, abs=1e-4)


def test_the_registry_has_robust_scale_entries() -> None:
    assert {"huber", "cauchy", "welsch"} <= {e.name for e in _robust_entries()}


# --------------------------------------------------------------------------- None and errors
def test_entry_without_robust_scale_is_none() -> None:
    assert efficiency_constant("mse") is None
    assert asymptotic_efficiency("mse", 1.0) is None


def test_non_monotone_efficiency_is_none() -> None:
    # Huber at delta = 1/scale: its efficiency *falls* as scale grows, so the search refuses it.
    def inverted(
        input: torch.Tensor, target: torch.Tensor, *, scale: float = 1.0, reduction: str = "mean"
    ) -> Any:
        return losscraft.functional.huber_loss(input, target, delta=1.0 / scale, reduction=reduction)

    entry = _custom("inverted_huber", inverted)
    assert asymptotic_efficiency(entry, 1 / 1.345) == pytest.approx(0.95, abs=1e-4)
    assert efficiency_constant(entry) is None


def test_cache_is_per_function_not_only_per_name() -> None:
    cauchy = efficiency_constant("cauchy")
    tukey = efficiency_constant(LossEntry(get("cauchy").spec, _tukey_loss))
    assert tukey == pytest.approx(4.6851, abs=1e-4)
    assert efficiency_constant("cauchy") == cauchy


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.5, math.nan, True, "0.95"])
def test_bad_efficiency_raises(bad: Any) -> None:
    with pytest.raises(LosscraftError, match="'efficiency' must be in"):
        efficiency_constant("huber", efficiency=bad)
