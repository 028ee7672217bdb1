"""Cosine embedding loss on pairs with +-1 labels (torch's CosineEmbeddingLoss)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..._core.checks import check_params, check_values_in
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
from ..._core.sampling import randn
from ..._core.spec import (
    Call,
    Curve,
    Family,
    InputKind,
    Interval,
    LossSpec,
    Param,
    Property,
    Ref,
    TargetKind,
    Task,
)
from ._common import EMBED_DIM, check_pair_target, cosine, prepare_embeddings


def _sample(n: int, *, generator: torch.Generator, dtype: torch.dtype, **_: object) -> Call:
    """Pairs of ``(n, 5)`` embeddings; labels alternate +1, -1 so both branches appear."""
    target = torch.where(torch.arange(n) % 2 == 0, 1.0, -1.0).to(dtype)
    return Call((randn((n, EMBED_DIM), generator, dtype), randn((n, EMBED_DIM), generator, dtype), target))


def _curve(x: Tensor, **_: object) -> Call:
    """A *dissimilar* pair (label -1) at angle ``x`` (radians): ``[cos x, sin x]`` vs ``[1, 0]``.

    At the default margin 0 the loss is ``max(0, cos x)``: zero from ``x = pi/2`` on, where
    the cosine reaches the margin.
    """
    input1 = torch.stack([torch.cos(x), torch.sin(x)], dim=-1)
    input2 = torch.zeros_like(input1)
    input2[..., 0] = 1.0
    return Call((input1, input2, torch.full_like(x, -1.0)))


def _curve_similar(x: Tensor, **_: object) -> Call:
    """A *similar* pair (label 1) at angle ``x``: the loss is ``1 - cos x``."""
    input1 = torch.stack([torch.cos(x), torch.sin(x)], dim=-1)
    input2 = torch.stack([torch.ones_like(x), torch.zeros_like(x)], dim=-1)
    return Call((input1, input2, torch.ones_like(x)))


SPEC = LossSpec(
    name="cosine_embedding",
    family=Family.EMBEDDING,
    tasks=(Task.METRIC_LEARNING,),
    input_kind=InputKind.EMBEDDINGS,
    target_kind=TargetKind.SIGN,
    inputs=("input1", "input2", "target"),
    params=(Param("margin", 0.0, Interval(-1.0, 1.0), "cosine below which a dissimilar pair costs nothing"),),
    # On the curve (dissimilar pair, loss max(0, cos x)): a hinge at x = +-pi/2, so neither
    # smooth, convex nor symmetric about its zero; similar pairs cost 1 - cos (smooth).
    properties=frozenset(
        {
            Property.NONNEGATIVE,
            Property.ZERO_AT_MATCH,
            Property.BOUNDED_GRADIENT,
            Property.SCALE_INVARIANT,
        }
    ),
    formula=(
        r"\ell_i = \begin{cases} 1 - \cos(x_{1i}, x_{2i}) & y_i = 1 \\ "
        r"\max\bigl(0,\ \cos(x_{1i}, x_{2i}) - m\bigr) & y_i = -1 \end{cases}"
    ),
    summary="Cosine embedding loss: similar pairs to cosine 1, dissimilar pairs below a margin.",
    references=(
        Ref(
            "PyTorch contributors",
            "torch.nn.CosineEmbeddingLoss",
            "PyTorch documentation",
            2017,
            "https://pytorch.org/docs/stable/generated/torch.nn.CosineEmbeddingLoss.html",
        ),
        Ref(
            "R. Hadsell, S. Chopra, Y. LeCun",
            "Dimensionality Reduction by Learning an Invariant Mapping",
            "CVPR",
            2006,
            "https://doi.org/10.1109/CVPR.2006.100",
        ),
    ),
    sample=_sample,
    curve=Curve(
        "cosine",
        (-math.pi, math.pi),
        _curve,
        zero=math.pi / 2,
        extent=(-math.pi, math.pi),
        label="dissimilar pair",
    ),
    more_curves=(
        Curve(
            "cosine",
            (-math.pi, math.pi),
            _curve_similar,
            zero=0.0,
            extent=(-math.pi, math.pi),
            label="similar pair",
        ),
    ),
    none_shape="sample",
    when_to_use=(
        "Siamese training on labelled pairs when only directions matter (normalised "
        "embeddings, retrieval by cosine). margin 0 to 0.5 is usual. The curves show a "
        "dissimilar and a similar pair against the angle between the vectors, in radians."
    ),
    when_not_to_use=(
        "Not when the embedding's length carries information (Euclidean distances): use "
        "contrastive. With class labels rather than explicit pairs, batch_triplet or supcon "
        "use every pair in a batch instead of one pair at a time."
    ),
)


@register(SPEC)
def cosine_embedding_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    *,
    margin: float = 0.0,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Cosine embedding loss: similar pairs to cosine 1, dissimilar pairs below a margin.

    Use it for siamese training on labelled pairs when embeddings are compared by cosine
    similarity; it ignores vector lengths. Per pair, over the **last** dimension:

    $$\ell_i = \begin{cases} 1 - \cos(x_{1i}, x_{2i}) & y_i = 1 \\ \max\bigl(0,\ \cos(x_{1i}, x_{2i}) - m\bigr) & y_i = -1 \end{cases}$$

    Same semantics and defaults as ``torch.nn.functional.cosine_embedding_loss``, except
    that the target is validated (only ``-1`` and ``1``), shapes must match exactly, an exact
    zero vector has cosine 0 with zero gradient (torch adds ``1e-12`` to the squared norms), and
    the cosine is exact at every scale (see :func:`cosine_similarity_loss`; a NaN gives NaN).
    Reduced as described in *Reductions* (``docs/conventions.md``).

    **Gradient:** for $y = 1$ that of $1 - \cos$ (orthogonal to each vector, of size
    $\sim 1/\lVert x\rVert$); for $y = -1$ that of $\cos$ while $\cos > m$, else 0 (a hinge:
    well-separated dissimilar pairs contribute nothing).

    Args:
        input1: embeddings of shape ``(*, D)``, floating point.
        input2: embeddings of the same shape.
        target: labels of shape ``(*,)`` (``input1.shape[:-1]``), float or integer, each
            ``1`` (similar) or ``-1`` (dissimilar).
        margin: $m \in [-1, 1]$. Default 0.0 (PyTorch); 0 to 0.5 is usual.
        weight: optional non-negative weights broadcastable to the per-pair shape ``(*,)``.
        reduction: ``"mean"`` (weighted mean over pairs), ``"sum"`` or ``"none"`` (shape
            ``(*,)``).

    Returns:
        A scalar, or a tensor of shape ``input1.shape[:-1]`` for ``reduction="none"``;
        float32 for float16/bfloat16 inputs.

    Raises:
        LosscraftError: input shapes differ, target of the wrong shape or with a value other
            than -1 and 1, non-floating inputs, ``margin`` outside [-1, 1], bad ``weight`` or
            ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import cosine_embedding_loss
        >>> a = torch.tensor([[1.0, 0.0], [1.0, 1.0], [1.0, 1.0]])
        >>> b = torch.tensor([[1.0, 1.0], [1.0, 0.0], [-1.0, 0.0]])
        >>> y = torch.tensor([1, -1, -1])
        >>> cosine_embedding_loss(a, b, y, margin=0.5, reduction="none")
        tensor([0.2929, 0.2071, 0.0000])

    References:
        PyTorch contributors (2017). torch.nn.CosineEmbeddingLoss. PyTorch documentation.
            https://pytorch.org/docs/stable/generated/torch.nn.CosineEmbeddingLoss.html
        R. Hadsell, S. Chopra, Y. LeCun (2006). Dimensionality Reduction by Learning an Invariant
            Mapping. CVPR. https://doi.org/10.1109/CVPR.2006.100
    """
    fn = "cosine_embedding_loss"
    x1, x2 = prepare_embeddings(fn, ("input1", "input2"), input1, input2)
    check_params(SPEC, {"margin": margin, "reduction": reduction})
    y = check_pair_target(fn, target, x1.shape[:-1], x1.dtype)
    check_values_in(fn, "target", target, (-1, 1), "-1 (dissimilar) or 1 (similar)")
    cos = cosine(x1, x2)
    # Both branches are finite everywhere, so a plain where() has clean gradients.
    values = torch.where(y > 0, 1.0 - cos, (cos - margin).clamp_min(0.0))
    check_weight(fn, weight, values.shape)
    return reduce(values, reduction, weight)


class CosineEmbeddingLoss(LossModule, spec=SPEC, fn=cosine_embedding_loss):
    """Module form of :func:`losscraft.functional.cosine_embedding_loss`."""

    def __init__(self, *, margin: float = 0.0, reduction: Reduction = "mean") -> None:
        super().__init__(margin=margin, reduction=reduction)
