"""Declared properties are measured, in both directions, for every registry entry.

Properties in ``CHECKED_PROPERTIES`` are measured numerically at default hyperparameters, in
float64, on the entry's ``Curve`` (and, where stated, on random samples). A property that is
declared must hold; a property that holds must be declared. The measurement code here is
independent of any loss implementation.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from losscraft import CHECKED_PROPERTIES, InputKind, LossEntry, Property
from losscraft._core.spec import Curve

from lc_helpers import ENTRIES, IDS, defaults_kwargs, sample


def _curve_values(entry: LossEntry, curve: Curve, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Loss and d loss / d x along the curve (float64)."""
    x = x.detach().clone().requires_grad_(True)
    v = curve.values(entry.function, x, **defaults_kwargs(entry))
    assert v.numel() == x.numel(), "curve.make must give one loss value per grid point"
    (g,) = torch.autograd.grad(v.sum(), x)
    return v.detach(), g


def _grid(curve: Curve, n: int) -> torch.Tensor:
    if curve.pointwise:  # one small problem per point: a coarser grid (the 10x refinement stays)
        n = max(11, n // 4)
    lo, hi = curve.domain
    return torch.linspace(lo, hi, n, dtype=torch.float64)


def _approach(curve: Curve) -> list[torch.Tensor]:
    """Point sequences walking towards each end of the curve's extent."""
    lo, hi = curve.extent
    out = []
    for end, sign in ((lo, -1.0), (hi, 1.0)):
        if math.isinf(end):
            pts = [curve.zero + sign * 10.0**k for k in range(1, 5)]
        else:
            pts = [end - sign * 10.0 ** (-k) for k in range(2, 7)]
        out.append(torch.tensor(pts, dtype=torch.float64))
    return out


def measure_on_curve(entry: LossEntry, curve: Curve, prop: Property) -> bool:
    if prop is Property.NONNEGATIVE:
        v, _ = _curve_values(entry, curve, _grid(curve, 801))
        return bool((v >= -1e-12).all())
    if prop is Property.ZERO_AT_MATCH:
        v0, _ = _curve_values(entry, curve, torch.tensor([curve.zero], dtype=torch.float64))
        v, _ = _curve_values(entry, curve, _grid(curve, 801))
        return abs(v0.item()) < 1e-10 and bool((v >= v0.item() - 1e-12).all())
    if prop is Property.SYMMETRIC:
        half = min(curve.zero - curve.domain[0], curve.domain[1] - curve.zero)
        if half <= 0:
            return False  # the domain must extend on both sides of zero to show symmetry
        t = torch.linspace(0.0, half, 200, dtype=torch.float64)
        v, _ = _curve_values(entry, curve, torch.cat([curve.zero - t, curve.zero + t]))
        return bool(torch.allclose(v[:200], v[200:], rtol=1e-9, atol=1e-12))
    if prop is Property.CONVEX:
        v, _ = _curve_values(entry, curve, _grid(curve, 801))
        d2 = v[2:] - 2 * v[1:-1] + v[:-2]
        return bool((d2 >= -1e-9 * max(1.0, v.abs().max().item())).all())
    if prop is Property.SMOOTH:
        # C1: the largest jump of the gradient between neighbours shrinks ~10x when the grid
        # is refined 10x; at a kink it does not shrink.
        _, g1 = _curve_values(entry, curve, _grid(curve, 401))
        _, g2 = _curve_values(entry, curve, _grid(curve, 4001))
        j1 = (g1[1:] - g1[:-1]).abs().max().item()
        j2 = (g2[1:] - g2[:-1]).abs().max().item()
        return j1 < 1e-12 or j2 < 0.3 * j1
    if prop is Property.BOUNDED_GRADIENT:
        for pts in _approach(curve):
            _, g = _curve_values(entry, curve, pts)
            g = g.abs()
            if not torch.isfinite(g).all() or g[-1].item() > 4.0 * max(g[0].item(), 1e-6):
                return False
        return True
    raise AssertionError(f"no measurement for {prop}")


def measure(entry: LossEntry, prop: Property) -> bool:
    spec = entry.spec
    if prop is Property.NEEDS_LOGITS:
        return spec.input_kind is InputKind.LOGITS
    if prop is Property.SCALE_INVARIANT:
        c = sample(entry, 6, seed=3)
        base = entry.function(*c.args, reduction="none", **c.kwargs)
        for s in (0.37, 5.3):
            args = (c.args[0] * s, *c.args[1:])
            out = entry.function(*args, reduction="none", **c.kwargs)
            if not torch.allclose(out, base, rtol=1e-9, atol=1e-12):
                return False
        return True
    if not spec.curves:
        return False
    ok = all(measure_on_curve(entry, curve, prop) for curve in spec.curves)
    if prop is Property.NONNEGATIVE:
        for seed in range(3):
            c = sample(entry, 8, seed=seed)
            ok &= bool((entry.function(*c.args, reduction="none", **c.kwargs) >= -1e-12).all())
    return ok


CASES = [(e, p) for e in ENTRIES for p in sorted(CHECKED_PROPERTIES, key=str)]


@pytest.mark.parametrize(("entry", "prop"), CASES, ids=[f"{e.name}-{p}" for e, p in CASES])
def test_declared_property_is_measured(entry: LossEntry, prop: Property) -> None:
    declared = prop in entry.spec.properties
    measured = measure(entry, prop)
    assert declared == measured, (
        f"{entry.name}: property {prop} is {'declared' if declared else 'not declared'} "
        f"but measured {'true' if measured else 'false'}"
    )


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_every_entry_has_a_curve(entry: LossEntry) -> None:
    assert entry.spec.curve is not None
    for curve in entry.spec.curves:
        lo, hi = curve.domain
        assert lo < hi
        assert curve.extent[0] <= lo and hi <= curve.extent[1]
        v, g = _curve_values(entry, curve, _grid(curve, 11))
        assert torch.isfinite(v).all() and torch.isfinite(g).all()


NONNEG = [e for e in ENTRIES if Property.NONNEGATIVE in e.spec.properties]


@pytest.mark.parametrize("entry", NONNEG, ids=[e.name for e in NONNEG])
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 6), scale=st.floats(1e-3, 1e3))
def test_nonnegative_and_finite_on_random_inputs(entry: LossEntry, seed: int, n: int, scale: float) -> None:
    c = sample(entry, n, seed=seed)
    args = list(c.args)
    if entry.spec.input_kind in (InputKind.REAL, InputKind.LOGITS, InputKind.EMBEDDINGS):
        args[0] = args[0] * scale
    out = entry.function(*args, reduction="none", **c.kwargs)
    assert torch.isfinite(out).all()
    assert (out >= -1e-12).all()
    mean = entry.function(*args, **c.kwargs)
    assert mean.item() <= out.max().item() + 1e-9 or entry.spec.weight == "class"
