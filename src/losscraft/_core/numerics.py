"""Numerically stable primitives shared by the losses, each with the reason it exists."""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["LOG2", "log1mexp", "safe_norm", "safe_normalize"]

LOG2 = math.log(2.0)


def log1mexp(a: Tensor) -> Tensor:
    """``log(1 - exp(a))`` for ``a <= 0``, accurate everywhere (Maechler 2012).

    Why: ``log1p(-exp(a))`` loses all digits for ``a`` near 0 and ``log(-expm1(a))`` for very
    negative ``a``; switching at ``-log 2`` keeps full relative precision on both sides.
    """
    return torch.where(a > -LOG2, torch.log(-torch.expm1(a)), torch.log1p(-torch.exp(a)))


def safe_norm(x: Tensor, dim: int = -1, keepdim: bool = False) -> Tensor:
    """Euclidean norm over ``dim`` whose gradient is 0 (a subgradient) at the zero vector.

    Why: ``d||x||/dx = x/||x||`` is 0/0 at ``x = 0``; ``torch.linalg.vector_norm`` returns 0
    there in recent releases, but composing ``sqrt(sum(x**2))`` gives NaN. The double ``where``
    keeps the untaken branch finite so its gradient cannot poison the taken one.
    """
    sq = (x * x).sum(dim=dim, keepdim=keepdim)
    pos = sq > 0
    return torch.where(pos, torch.sqrt(torch.where(pos, sq, torch.ones_like(sq))), torch.zeros_like(sq))


def safe_normalize(x: Tensor, dim: int = -1, eps: float = 1e-8) -> Tensor:
    """``x / ||x||`` over ``dim``; vectors with ``||x|| <= eps`` map to 0 with zero gradient.

    Why: the true gradient of ``x/||x||`` grows like ``1/||x||``; below ``eps`` we take the
    subgradient 0 instead of dividing by a clamped ``eps`` (which gives gradients of ``1/eps``),
    so a zero embedding has bounded, finite gradients.
    """
    n = safe_norm(x, dim=dim, keepdim=True)
    big = n > eps
    return torch.where(big, x / torch.where(big, n, torch.ones_like(n)), torch.zeros_like(x))
