"""Cosine-similarity loss 1 - cos(input, target)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..._core.checks import check_params
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
from ..._core.sampling import randn
from ..._core.spec import (
    Call,
    Curve,
    Family,
    InputKind,
    LossSpec,
    Property,
    Ref,
    TargetKind,
    Task,
)
from ._common import EMBED_DIM, cosine, prepare_embeddings


def _sample(n: int, *, generator: torch.Generator, dtype: torch.dtype, **_: object) -> Call:
    """Two standard normal embeddings of shape ``(n, 5)``."""
    return Call((randn((n, EMBED_DIM), generator, dtype), randn((n, EMBED_DIM), generator, dtype)))


def _curve(x: Tensor, **_: object) -> Call:
    """``x`` is the angle (radians) between ``input = [cos x, sin x]`` and ``target = [1, 0]``."""
    input = torch.stack([torch.cos(x), torch.sin(x)], dim=-1)
    target = torch.zeros_like(input)
    target[..., 0] = 1.0
    return Call((input, target))


SPEC = LossSpec(
    name="cosine_similarity",
    family=Family.EMBEDDING,
    tasks=(Task.METRIC_LEARNING, Task.DISTILLATION),
    input_kind=InputKind.EMBEDDINGS,
    target_kind=TargetKind.REAL,
    params=(),
    # On the curve (x = angle, loss 1 - cos x on [-pi, pi]): not convex beyond |x| = pi/2.
    properties=frozenset(
        {
            Property.NONNEGATIVE,
            Property.ZERO_AT_MATCH,
            Property.SYMMETRIC,
            Property.SMOOTH,
            Property.BOUNDED_GRADIENT,
            Property.SCALE_INVARIANT,
        }
    ),
    formula=r"\ell_i = 1 - \cos(x_i, y_i) = 1 - \frac{x_i \cdot y_i}{\lVert x_i\rVert\,\lVert y_i\rVert}",
    summary=(
        "Cosine-similarity loss: one minus the cosine of two vectors; aligns directions, ignores lengths."
    ),
    references=(
        Ref(
            "G. Salton, A. Wong, C. S. Yang",
            "A Vector Space Model for Automatic Indexing",
            "Communications of the ACM 18(11)",
            1975,
            "https://doi.org/10.1145/361219.361220",
        ),
    ),
    sample=_sample,
    curve=Curve("cosine", (-math.pi, math.pi), _curve, zero=0.0, extent=(-math.pi, math.pi)),
    none_shape="sample",
    when_to_use=(
        "Regressing onto target embeddings or directions where only the direction matters "
        "(feature distillation, text/image embedding alignment). Plot axis: the angle between "
        "the vectors, in radians."
    ),
    when_not_to_use=(
        "Not when the vectors' lengths matter (regressing exact values): use mse. It only "
        "pulls together: with two learned embeddings and no negatives it has a trivial "
        "solution (everything pointing the same way), so use info_nce, or cosine_embedding for "
        "labelled similar and dissimilar pairs."
    ),
)


@register(SPEC)
def cosine_similarity_loss(
    input: Tensor,
    target: Tensor,
    *,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Cosine-similarity loss: one minus the cosine of two vectors; aligns directions, ignores lengths.

    Use it when only the direction of an embedding matters (feature or embedding
    distillation, aligning representations): it is invariant to rescaling either vector and
    lies in [0, 2]. Computed over the **last** dimension:

    $$\ell_i = 1 - \cos(x_i, y_i) = 1 - \frac{x_i \cdot y_i}{\lVert x_i\rVert\,\lVert y_i\rVert}$$

    An exact zero vector has cosine 0 with every vector, so its loss is 1 with zero gradient,
    instead of torch's clamped-denominator value; any other vector, however short or long, is
    compared by direction (exact at every float32 scale, where torch's squared norms underflow
    below ~1e-19 and overflow beyond ~1e19). A NaN gives NaN; a vector with one infinite entry
    points along that axis (the limit). Reduced as described in *Reductions*
    (``docs/conventions.md``). Equals
    ``1 - torch.nn.functional.cosine_similarity(input, target, dim=-1)`` for non-zero vectors
    of ordinary norms.

    **Gradient:** $\partial\ell/\partial x = -\bigl(\hat y - \cos(x, y)\,\hat x\bigr)/\lVert x\rVert$
    (hats: unit vectors): orthogonal to $x$, so it only rotates $x$; it grows like
    $1/\lVert x\rVert$ for short vectors and is 0 at a zero vector.

    Args:
        input: embeddings of shape ``(*, D)``, floating point.
        target: embeddings of the same shape (no broadcasting).
        weight: optional non-negative weights broadcastable to the per-vector shape ``(*,)``.
        reduction: ``"mean"`` (weighted mean over vectors), ``"sum"`` or ``"none"`` (shape
            ``(*,)``).

    Returns:
        A scalar, or a tensor of shape ``input.shape[:-1]`` for ``reduction="none"``; float32
        for float16/bfloat16 inputs.

    Raises:
        LosscraftError: shapes differ, 0-dimensional or non-floating input, bad ``weight`` or
            ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import cosine_similarity_loss
        >>> x = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
        >>> y = torch.tensor([[2.0, 0.0], [-1.0, 0.0], [1.0, 0.0]])
        >>> cosine_similarity_loss(x, y, reduction="none")
        tensor([0.0000, 1.7071, 1.0000])

    References:
        G. Salton, A. Wong, C. S. Yang (1975). A Vector Space Model for Automatic Indexing.
            Communications of the ACM 18(11). https://doi.org/10.1145/361219.361220
    """
    fn = "cosine_similarity_loss"
    x, y = prepare_embeddings(fn, ("input", "target"), input, target)
    check_params(SPEC, {"reduction": reduction})
    values = 1.0 - cosine(x, y)
    check_weight(fn, weight, values.shape)
    return reduce(values, reduction, weight)


class CosineSimilarityLoss(LossModule, spec=SPEC, fn=cosine_similarity_loss):
    """Module form of :func:`losscraft.functional.cosine_similarity_loss`."""

    def __init__(self, *, reduction: Reduction = "mean") -> None:
        super().__init__(reduction=reduction)
