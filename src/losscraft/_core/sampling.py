"""Shared helpers for ``LossSpec.sample`` and ``LossSpec.curve`` factories."""

from __future__ import annotations

import torch
from torch import Tensor

from .spec import Call

__all__ = ["randn", "real_pair_sample", "residual_curve_call", "uniform"]


def randn(shape: tuple[int, ...], generator: torch.Generator, dtype: torch.dtype) -> Tensor:
    """Standard normal values drawn in float64 (so every dtype sees the same numbers)."""
    return torch.randn(shape, generator=generator, dtype=torch.float64).to(dtype)


def uniform(
    shape: tuple[int, ...],
    generator: torch.Generator,
    dtype: torch.dtype,
    low: float = 0.0,
    high: float = 1.0,
) -> Tensor:
    """Uniform values in ``[low, high)`` drawn in float64."""
    return (low + (high - low) * torch.rand(shape, generator=generator, dtype=torch.float64)).to(dtype)


def real_pair_sample(n: int, *, generator: torch.Generator, dtype: torch.dtype, **_: object) -> Call:
    """``input`` and ``target`` of shape ``(n, 3)`` with standard normal values."""
    return Call((randn((n, 3), generator, dtype), randn((n, 3), generator, dtype)))


def residual_curve_call(x: Tensor, **_: object) -> Call:
    """Residual curve: prediction ``x``, target 0."""
    return Call((x, torch.zeros_like(x)))
