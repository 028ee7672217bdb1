"""Validation, distances and sample/curve factories shared by the embedding losses."""

from __future__ import annotations

import torch
from torch import Tensor

from ..._core.checks import (
    check_floating,
    check_same_shape,
    check_tensor,
    compute_dtype,
    fmt_shape,
    to_compute,
)
from ..._core.errors import LosscraftError
from ..._core.numerics import safe_norm, safe_normalize

__all__ = [
    "EMBED_DIM",
    "check_pair_target",
    "cosine",
    "euclidean",
    "prepare_embeddings",
]

EMBED_DIM = 5
"""Embedding size used by the ``sample`` factories."""


def prepare_embeddings(fn: str, names: tuple[str, ...], *tensors: Tensor) -> tuple[Tensor, ...]:
    """Validate float embeddings of shape ``(*, D)``, identical shapes, and cast to the compute dtype.

    Shapes must match exactly: paired embeddings are never broadcast against each other.
    """
    for name, t in zip(names, tensors, strict=True):
        check_floating(fn, name, t)
    for name, t in zip(names[1:], tensors[1:], strict=True):
        check_same_shape(fn, tensors[0], t, (names[0], name))
    if tensors[0].dim() == 0:
        raise LosscraftError(
            f"{fn}: '{names[0]}' must have shape (*, D) with the embedding in the last dimension, "
            "got a 0-dimensional tensor"
        )
    dt = compute_dtype(*tensors)
    return tuple(to_compute(t, dt) for t in tensors)


def check_pair_target(fn: str, target: object, batch_shape: torch.Size, dtype: torch.dtype) -> Tensor:
    """A real or integer label tensor of shape ``batch_shape`` (the inputs' shape minus ``D``).

    Returns it in ``dtype``; the *values* are checked by the caller.
    """
    t = check_tensor(fn, "target", target)
    if t.is_complex():
        raise LosscraftError(f"{fn}: 'target' must be a real or integer tensor, got {t.dtype}")
    if t.shape != batch_shape:
        raise LosscraftError(
            f"{fn}: 'target' must have shape {fmt_shape(batch_shape)} (the inputs' shape without "
            f"the embedding dimension), got {fmt_shape(t)}"
        )
    return t.to(dtype)


def euclidean(a: Tensor, b: Tensor) -> Tensor:
    """``||a - b||`` over the last dimension, with gradient 0 (a subgradient) at ``a == b``.

    Why not ``torch.pairwise_distance``: it adds ``eps = 1e-6`` to the difference, which biases
    every distance; ``safe_norm`` is exact and still finite at zero distance.
    """
    return safe_norm(a - b, dim=-1)


def cosine(a: Tensor, b: Tensor) -> Tensor:
    """Cosine similarity over the last dimension; 0 (with zero gradient) for a zero vector.

    Why normalise first: ``a·b / (||a|| ||b||)`` overflows in float16 for large embeddings and
    is 0/0 at zero vectors; normalised vectors have dot products in [-1, 1].
    """
    return (safe_normalize(a, dim=-1) * safe_normalize(b, dim=-1)).sum(dim=-1)
