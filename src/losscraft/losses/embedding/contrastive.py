"""Contrastive loss on embedding pairs (Hadsell, Chopra & LeCun 2006)."""

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
from ._common import EMBED_DIM, check_pair_target, euclidean, prepare_embeddings


def _sample(n: int, *, generator: torch.Generator, dtype: torch.dtype, **_: object) -> Call:
    """Pairs of ``(n, 5)`` embeddings with std 0.5; labels alternate 1 (similar) and 0.

    Distances are around the default margin 1, so both sides of the hinge are sampled.
    """
    target = (torch.arange(n) % 2 == 0).to(dtype)
    x1 = 0.5 * randn((n, EMBED_DIM), generator, torch.float64)
    x2 = 0.5 * randn((n, EMBED_DIM), generator, torch.float64)
    return Call((x1.to(dtype), x2.to(dtype), target))


def _curve(x: Tensor, **_: object) -> Call:
    """A *dissimilar* pair (label 0) at Euclidean distance ``x >= 0``: ``[x, 0]`` vs ``[0, 0]``.

    At the default margin 1 the loss is ``max(0, 1 - x)^2 / 2``: zero from the margin on. At
    ``x = 0`` the loss is a cone in embedding space (any direction separates the pair), so
    the gradient there is the subgradient 0 and the curve is not C1 at its left end.
    """
    input1 = torch.stack([x, torch.zeros_like(x)], dim=-1)
    return Call((input1, torch.zeros_like(input1), torch.zeros_like(x)))


def _curve_similar(x: Tensor, **_: object) -> Call:
    """A *similar* pair (label 1) at distance ``x``: the loss is ``x^2 / 2``."""
    input1 = torch.stack([x, torch.zeros_like(x)], dim=-1)
    return Call((input1, torch.zeros_like(input1), torch.ones_like(x)))


SPEC = LossSpec(
    name="contrastive",
    family=Family.EMBEDDING,
    tasks=(Task.METRIC_LEARNING,),
    input_kind=InputKind.EMBEDDINGS,
    target_kind=TargetKind.PAIR_LABEL,
    inputs=("input1", "input2", "target"),
    params=(
        Param(
            "margin",
            1.0,
            Interval(0.0, math.inf, low_closed=False, high_closed=False),
            "distance beyond which a dissimilar pair costs nothing (embedding units)",
        ),
    ),
    # On the curve (dissimilar pair vs distance on [0, 3]): a squared hinge, convex with a
    # bounded gradient; not C1 at distance 0 (the cone). Similar pairs cost D^2 / 2, whose
    # gradient grows with D.
    properties=frozenset(
        {
            Property.NONNEGATIVE,
            Property.ZERO_AT_MATCH,
            Property.CONVEX,
        }
    ),
    formula=(
        r"\ell_i = y_i\,\tfrac12 D_i^2 + (1 - y_i)\,\tfrac12\max(0,\ m - D_i)^2,\qquad "
        r"D_i = \lVert x_{1i} - x_{2i}\rVert_2"
    ),
    summary=(
        "Contrastive loss on embedding pairs: pulls similar pairs together, pushes others beyond a margin."
    ),
    references=(
        Ref(
            "R. Hadsell, S. Chopra, Y. LeCun",
            "Dimensionality Reduction by Learning an Invariant Mapping",
            "CVPR",
            2006,
            "https://doi.org/10.1109/CVPR.2006.100",
        ),
    ),
    sample=_sample,
    curve=Curve("distance", (0.0, 3.0), _curve, zero=1.0, extent=(0.0, math.inf), label="dissimilar pair"),
    more_curves=(
        Curve("distance", (0.0, 3.0), _curve_similar, zero=0.0, extent=(0.0, math.inf), label="similar pair"),
    ),
    none_shape="sample",
    when_to_use=(
        "Siamese networks trained on labelled pairs with Euclidean distances. Normalise the "
        "embeddings (distances then lie in [0, 2]) and keep margin around 1. Similar pairs cost "
        "D^2/2, so their gradient grows with D: not robust to mislabelled similar pairs."
    ),
    when_not_to_use=(
        "Not with possibly mislabelled similar pairs: their cost D^2/2 grows without bound, so "
        "use cosine_embedding (bounded) or triplet (gradient bounded per triplet). Not when "
        "only directions matter (cosine_embedding); with class labels, batch_triplet or supcon "
        "use every pair in a batch."
    ),
)


@register(SPEC)
def contrastive_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    *,
    margin: float = 1.0,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Contrastive loss on embedding pairs: pulls similar pairs together, pushes others beyond a margin.

    Use it to train siamese networks on labelled pairs: similar pairs are pulled together by
    a quadratic, dissimilar pairs are pushed apart until their distance exceeds the margin and
    then cost nothing. Per pair, with the Euclidean distance over the **last** dimension:

    $$\ell_i = y_i\,\tfrac12 D_i^2 + (1 - y_i)\,\tfrac12\max(0,\ m - D_i)^2,\qquad D_i = \lVert x_{1i} - x_{2i}\rVert_2$$

    **Label convention:** ``target = 1`` means *similar*, ``0`` *dissimilar*. The paper uses
    the opposite ($Y = 0$ for similar pairs); pass ``1 - Y`` for paper-style labels. Reduced
    as described in *Reductions* (``docs/conventions.md``).

    **Gradient:** similar pairs: $x_1 - x_2$ (grows with the distance); dissimilar pairs:
    $-(m - D)\,(x_1 - x_2)/D$ while $D < m$, else 0. The distance is computed without an
    ``eps`` and has gradient 0 (a subgradient) at $D = 0$, so coincident pairs give finite
    gradients (a dissimilar pair there sits on a cone tip and receives none).

    Args:
        input1: embeddings of shape ``(*, D)``, floating point.
        input2: embeddings of the same shape (no broadcasting).
        target: labels of shape ``(*,)`` (``input1.shape[:-1]``), bool, integer or float,
            each ``1`` (similar) or ``0`` (dissimilar).
        margin: $m > 0$ in embedding units. Default 1.0 (about right for L2-normalised
            embeddings, whose distances lie in [0, 2]).
        weight: optional non-negative weights broadcastable to the per-pair shape ``(*,)``.
        reduction: ``"mean"`` (weighted mean over pairs), ``"sum"`` or ``"none"`` (shape
            ``(*,)``).

    Returns:
        A scalar, or a tensor of shape ``input1.shape[:-1]`` for ``reduction="none"``;
        float32 for float16/bfloat16 inputs.

    Raises:
        LosscraftError: input shapes differ, target of the wrong shape or with a value other
            than 0 and 1, non-floating inputs, ``margin`` not in (0, inf), bad ``weight`` or
            ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import contrastive_loss
        >>> a = torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
        >>> b = torch.tensor([[0.6, 0.8], [0.3, 0.4], [3.0, 4.0]])
        >>> contrastive_loss(a, b, torch.tensor([1, 0, 0]), reduction="none")
        tensor([0.5000, 0.1250, 0.0000])

    References:
        R. Hadsell, S. Chopra, Y. LeCun (2006). Dimensionality Reduction by Learning an Invariant
            Mapping. CVPR. https://doi.org/10.1109/CVPR.2006.100
    """
    fn = "contrastive_loss"
    x1, x2 = prepare_embeddings(fn, ("input1", "input2"), input1, input2)
    check_params(SPEC, {"margin": margin, "reduction": reduction})
    y = check_pair_target(fn, target, x1.shape[:-1], x1.dtype)
    check_values_in(fn, "target", target, (0, 1), "0 (dissimilar) or 1 (similar)")
    diff = x1 - x2
    # D^2 straight from the squares: exact, smooth, and no square root for similar pairs.
    sq = (diff * diff).sum(dim=-1)
    hinge = (margin - euclidean(x1, x2)).clamp_min(0.0)
    # where() rather than y*a + (1-y)*b: the unused branch can never leak an inf as 0*inf.
    values = 0.5 * torch.where(y > 0, sq, hinge * hinge)
    check_weight(fn, weight, values.shape)
    return reduce(values, reduction, weight)


class ContrastiveLoss(LossModule, spec=SPEC, fn=contrastive_loss):
    """Module form of :func:`losscraft.functional.contrastive_loss`."""

    def __init__(self, *, margin: float = 1.0, reduction: Reduction = "mean") -> None:
        super().__init__(margin=margin, reduction=reduction)
