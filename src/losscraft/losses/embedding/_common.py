"""Validation, distances and sample/curve factories shared by the embedding losses."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..._core.checks import (
    check_class_input,
    check_floating,
    check_index_target,
    check_same_shape,
    check_tensor,
    compute_dtype,
    fmt_shape,
    to_compute,
    values_are_concrete,
)
from ..._core.errors import LosscraftError
from ..._core.numerics import row_cosine, safe_norm
from ..._core.sampling import randn
from ..._core.spec import Call

__all__ = [
    "COSINE_TOLERANCE",
    "EMBED_DIM",
    "check_cosines",
    "check_labels",
    "check_pair_target",
    "cosine",
    "euclidean",
    "group_labels",
    "labelled_sample",
    "margin_softmax_values",
    "prepare_cosine_logits",
    "prepare_batch_embeddings",
    "prepare_embeddings",
    "safe_sqrt",
    "unit_at_cosine",
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
    """Cosine similarity over the last dimension; 0 (with zero gradient) for an exact zero vector.

    ``a·b / (||a|| ||b||)`` from three row reductions, with no normalised copies of the inputs
    (2.75x torch's ``cosine_embedding_loss`` time on (65536, 128) that way). Exact at every
    scale: rows whose squared norms would overflow or underflow (float32 norms beyond ~1e9 or
    below ~1e-9) are rescaled by their largest entry first
    (:func:`~losscraft._core.numerics.row_cosine`). Only an exact zero vector takes the
    zero-vector rule; a NaN in either vector gives NaN, and a vector with one infinite entry
    points along that axis (the limit).
    """
    return row_cosine(a, b)


# --------------------------------------------------------------------------- batch (set) losses
def prepare_batch_embeddings(fn: str, names: tuple[str, ...], *tensors: Tensor) -> tuple[Tensor, ...]:
    """Like :func:`prepare_embeddings`, for losses that compare every sample with every other.

    Each tensor must be exactly 2-D, ``(N, D)``: the batch *is* the set of candidates, so
    there are no extra leading dimensions to broadcast or flatten silently.
    """
    out = prepare_embeddings(fn, names, *tensors)
    if tensors[0].dim() != 2:
        raise LosscraftError(
            f"{fn}: '{names[0]}' must have shape (N, D) (a batch of N embeddings), got "
            f"{fmt_shape(tensors[0])}"
        )
    return out


def check_labels(fn: str, target: object, n: int, name: str = "target") -> Tensor:
    """Integer identity labels of shape ``(N,)``: equal labels mark positives.

    Any integer values are allowed (they are identities, not indices into a class
    dimension). Returns the labels as ``torch.long``.
    """
    t = check_tensor(fn, name, target)
    if t.dtype == torch.bool or t.is_floating_point() or t.is_complex():
        raise LosscraftError(
            f"{fn}: '{name}' must be an integer tensor of labels (torch.long), got {t.dtype}"
        )
    if t.shape != (n,):
        raise LosscraftError(
            f"{fn}: '{name}' must have shape ({n},) (one label per embedding), got {fmt_shape(t)}"
        )
    return t.long()


def safe_sqrt(x: Tensor) -> Tensor:
    """``sqrt(x)`` for ``x >= 0`` whose gradient at ``x <= 0`` is 0 instead of inf/NaN.

    Why: ``d sqrt(x)/dx = 1/(2 sqrt x)`` is infinite at 0, and ``0 * inf`` is NaN when the
    result is discarded by a ``where``; the inner ``where`` keeps the untaken branch finite.
    The guard is ``not x <= 0`` rather than ``x > 0`` so that a NaN takes the square root and
    stays NaN instead of becoming 0.
    """
    pos = ~(x <= 0)
    return torch.where(pos, torch.sqrt(torch.where(pos, x, torch.ones_like(x))), torch.zeros_like(x))


def group_labels(n: int) -> Tensor:
    """Labels ``0, 0, 1, 1, 2, 2, ...`` for the ``sample`` factories.

    Every sample has a positive when ``n`` is even; for odd ``n >= 5`` the last sample joins
    the previous pair, so every anchor still has a positive and a negative (``n = 3`` gives
    ``[0, 0, 1]``: one anchor without a positive).
    """
    lab = torch.arange(n) // 2
    if n >= 5 and n % 2 == 1:
        lab[-1] = lab[-2]
    return lab


def labelled_sample(n: int, *, generator: torch.Generator, dtype: torch.dtype, **_: object) -> Call:
    """Standard normal embeddings ``(n, 5)`` and :func:`group_labels` ``(n,)``."""
    return Call((randn((n, EMBED_DIM), generator, dtype), group_labels(n)))


def unit_at_cosine(c: Tensor, dim: int = 4) -> Tensor:
    """Unit vectors ``[c, sqrt(1 - c^2), 0, ...]`` of length ``dim``: cosine ``c`` with ``e_1``.

    ``c`` is clamped to [-1, 1]; the square root uses :func:`safe_sqrt`.
    """
    c = c.clamp(-1.0, 1.0)
    zeros = [torch.zeros_like(c)] * (dim - 2)
    return torch.stack([c, safe_sqrt(1.0 - c * c), *zeros], dim=-1)


# --------------------------------------------------------------------------- margin heads
COSINE_TOLERANCE = 1e-2
"""Cosines may exceed [-1, 1] by this much (bfloat16 rounds 1 - 2^-9 up to 1.0078)."""


def check_cosines(fn: str, name: str, x: Tensor) -> None:
    """Every value of ``x`` is a cosine: in [-1, 1] up to :data:`COSINE_TOLERANCE` (NaN is not)."""
    if x.numel() == 0 or not values_are_concrete(x):
        return
    xd = x.detach()
    bad = ~(xd.abs() <= 1.0 + COSINE_TOLERANCE)
    if bool(bad.any()):
        first = xd[bad].flatten()[0].item()
        raise LosscraftError(
            f"{fn}: '{name}' must contain cosine similarities in [-1, 1] (e.g. "
            f"F.normalize(x) @ F.normalize(W).T; rounding up to {COSINE_TOLERANCE:g} beyond is "
            f"tolerated), got {first:g}"
        )


def prepare_cosine_logits(
    fn: str, input: Tensor, target: Tensor, ignore_index: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Validate cosines ``(N, C, *)`` and class indices ``(N, *)``; cast to the compute dtype.

    Returns ``(cos, t_safe, mask)``: the cosines in the compute dtype, the targets as ``long``
    with ignored positions replaced by class 0 (the gather stays in range and finite), and
    the keep-mask for :func:`reduce`.
    """
    check_class_input(fn, input)
    check_cosines(fn, "input", input)
    check_index_target(fn, input, target, ignore_index)
    cos = to_compute(input, compute_dtype(input))
    t = target.long()
    mask = t != ignore_index
    return cos, torch.where(mask, t, torch.zeros_like(t)), mask


def margin_softmax_values(
    cos: Tensor, target: Tensor, target_logit: Callable[[Tensor], Tensor], scale: float
) -> Tensor:
    r"""Per-position ``-log softmax(s * [cos with the target column replaced by psi])_y``.

    ``target_logit`` maps the target cosines ``(N, *)`` to the margin-penalised $\psi$. The
    cross-entropy is a max-subtracted ``logsumexp`` minus the target logit.
    """
    cos_y = cos.gather(1, target.unsqueeze(1)).squeeze(1)
    psi = target_logit(cos_y)
    classes = torch.arange(cos.shape[1], device=cos.device).reshape(1, -1, *([1] * (cos.dim() - 2)))
    is_target = classes == target.unsqueeze(1)
    logits = scale * torch.where(is_target, psi.unsqueeze(1), cos)
    return torch.logsumexp(logits, dim=1) - scale * psi
