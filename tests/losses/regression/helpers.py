"""Inputs, strategies and Barron references shared by the regression test files."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import strategies as st

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


def _pair(seed: int = 0, shape: tuple[int, ...] = (7, 5)) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(shape, generator=g, dtype=torch.float64) * 3,
        torch.randn(shape, generator=g, dtype=torch.float64) * 3,
    )


def _grads(fn, x, y, **kw):
    x = x.clone().requires_grad_(True)
    y = y.clone().requires_grad_(True)
    out = fn(x, y, **kw)
    out.backward(torch.ones_like(out))
    return out.detach(), x.grad, y.grad


def _xy(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(50, generator=g, dtype=torch.float64) * 3, torch.randn(
        50, generator=g, dtype=torch.float64
    )


f64 = torch.float64
scales = st.floats(0.05, 20.0)


def _spread_pair(seed: int, shape=(6, 4), spread: float = 3.0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(shape, generator=g, dtype=f64) * spread,
        torch.randn(shape, generator=g, dtype=f64) * spread,
    )


# Straight from Barron (2019), eq. 1 and its special cases, in float64 numpy.
def ref_barron(r: np.ndarray, alpha: float, c: float) -> np.ndarray:
    z = (r / c) ** 2
    if alpha == 2:
        return 0.5 * z
    if alpha == 0:
        return np.log1p(0.5 * z)
    if alpha == -np.inf:
        return -np.expm1(-0.5 * z)
    b = abs(alpha - 2)
    return b / alpha * ((z / b + 1) ** (alpha / 2) - 1)


def ref_barron_grad(r: np.ndarray, alpha: float, c: float) -> np.ndarray:
    """Barron (2019), eq. 6: d f / d x."""
    z = (r / c) ** 2
    if alpha == 2:
        return r / c**2
    if alpha == 0:
        return 2 * r / (r**2 + 2 * c**2)
    if alpha == -np.inf:
        return r / c**2 * np.exp(-0.5 * z)
    return r / c**2 * (z / abs(alpha - 2) + 1) ** (alpha / 2 - 1)
