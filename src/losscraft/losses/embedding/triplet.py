"""Triplet margin loss (anchor, positive, negative) with Euclidean or cosine distance."""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

from ..._core.checks import check_params
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
from ..._core.sampling import randn
from ..._core.spec import (
    Call,
    Choice,
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
from ._common import EMBED_DIM, cosine, euclidean, prepare_embeddings

_CURVE_CENTER = 5.0  # anchor-positive and anchor-negative distances are 5 -+ x/2 on the curve


def _sample(n: int, *, generator: torch.Generator, dtype: torch.dtype, **_: object) -> Call:
    """Independent standard normal anchor, positive and negative of shape ``(n, 5)``."""
    return Call(tuple(randn((n, EMBED_DIM), generator, dtype) for _ in range(3)))


def _curve(x: Tensor, *, distance: str = "euclidean", **_: object) -> Call:
    """``x = d(a, n) - d(a, p)``, the achieved margin; the loss is ``max(0, margin - x)``.

    Euclidean: ``a = 0``, ``p = [5 - x/2, 0]``, ``n = [0, 5 + x/2]`` (valid for
    ``|x| < 10``). Cosine: ``a = [1, 0]`` and ``p``, ``n`` on the unit circle at cosine
    distances ``1 -+ x/2``, which only exist for ``|x| < 2`` (``x`` is clamped to that range).
    """
    if distance == "cosine":
        u = (0.5 * x).clamp(-0.999, 0.999)
        v = torch.sqrt(1.0 - u * u)
        anchor = torch.stack([torch.ones_like(x), torch.zeros_like(x)], dim=-1)
        return Call((anchor, torch.stack([u, v], dim=-1), torch.stack([-u, v], dim=-1)))
    zero = torch.zeros_like(x)
    positive = torch.stack([_CURVE_CENTER - 0.5 * x, zero], dim=-1)
    negative = torch.stack([zero, _CURVE_CENTER + 0.5 * x], dim=-1)
    return Call((torch.zeros_like(positive), positive, negative))


SPEC = LossSpec(
    name="triplet",
    family=Family.EMBEDDING,
    tasks=(Task.METRIC_LEARNING,),
    input_kind=InputKind.EMBEDDINGS,
    target_kind=TargetKind.NONE,
    inputs=("anchor", "positive", "negative"),
    params=(
        Param(
            "margin",
            1.0,
            Interval(0.0, math.inf, low_closed=False, high_closed=False),
            "required gap between the anchor-negative and anchor-positive distances",
        ),
        Param(
            "distance",
            "euclidean",
            Choice(("euclidean", "cosine")),
            "'euclidean' (L2 distance) or 'cosine' (1 - cosine similarity)",
        ),
        Param(
            "swap",
            False,
            Choice((False, True)),
            "use min(d(a, n), d(p, n)) as the negative distance (Balntas et al. 2016)",
        ),
    ),
    # On the curve (x = d(a,n) - d(a,p), loss max(0, 1 - x)): a hinge, convex, kink at x = 1.
    properties=frozenset(
        {
            Property.NONNEGATIVE,
            Property.ZERO_AT_MATCH,
            Property.CONVEX,
            Property.BOUNDED_GRADIENT,
        }
    ),
    formula=r"\ell_i = \max\bigl(0,\ d(a_i, p_i) - d(a_i, n_i) + m\bigr)",
    summary="Triplet margin loss: the positive must be closer to the anchor than the negative, by a margin.",
    references=(
        Ref(
            "F. Schroff, D. Kalenichenko, J. Philbin",
            "FaceNet: A Unified Embedding for Face Recognition and Clustering",
            "CVPR",
            2015,
            "https://arxiv.org/abs/1503.03832",
        ),
        Ref(
            "V. Balntas, E. Riba, D. Ponsa, K. Mikolajczyk",
            "Learning local feature descriptors with triplets and shallow convolutional neural networks",
            "BMVC",
            2016,
            "https://doi.org/10.5244/C.30.119",
        ),
    ),
    sample=_sample,
    curve=Curve("margin", (-4.0, 4.0), _curve, zero=1.0, extent=(-2 * _CURVE_CENTER, 2 * _CURVE_CENTER)),
    none_shape="sample",
    when_to_use=(
        "Metric learning with triplets (face or person re-identification, retrieval). Mine "
        "semi-hard or batch-hard triplets; with L2-normalised embeddings use a margin of about "
        "0.2 (FaceNet, on squared distances) rather than the default 1.0."
    ),
    when_not_to_use=(
        "Not for class-labelled batches: batch_triplet forms the triplets online (random "
        "triplets are mostly inactive and give no gradient), and supcon uses every positive "
        "and negative of the batch at once. Not without labels (info_nce on augmented views)."
    ),
)


def _distance(a: Tensor, b: Tensor, kind: str) -> Tensor:
    return euclidean(a, b) if kind == "euclidean" else 1.0 - cosine(a, b)


@register(SPEC, aliases=("triplet_margin",))
def triplet_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    *,
    margin: float = 1.0,
    distance: Literal["euclidean", "cosine"] = "euclidean",
    swap: bool = False,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Triplet margin loss: the positive must be closer to the anchor than the negative, by a margin.

    Use it for metric learning when you can form (anchor, positive, negative) triplets, e.g.
    by mining within P×K batches. Per triplet, with the distance over the **last** dimension:

    $$\ell_i = \max\bigl(0,\ d(a_i, p_i) - d(a_i, n_i) + m\bigr)$$

    with $d$ the Euclidean distance $\lVert u - v\rVert_2$ (``distance="euclidean"``) or the
    cosine distance $1 - \cos(u, v)$ (``distance="cosine"``, in [0, 2]). With ``swap=True``
    the negative distance is $\min\bigl(d(a, n), d(p, n)\bigr)$, the distance swap of
    Balntas et al. (2016). Reduced as described in *Reductions* (``docs/conventions.md``).

    Matches ``torch.nn.functional.triplet_margin_loss`` (Euclidean) and
    ``triplet_margin_with_distance_loss`` with a cosine distance, except that torch's
    Euclidean distance is $\lVert u - v + 10^{-6}\rVert$ (an ``eps`` added to the difference,
    a bias of order ``1e-6``); here it is exact. FaceNet's margin 0.2 applies to *squared*
    distances of L2-normalised embeddings; the default 1.0 (torch's) is for plain distances.

    **Gradient:** $\nabla_a d(a, p) - \nabla_a d(a, n)$ etc. while the hinge is active, 0
    otherwise; Euclidean distance gradients are unit vectors (bounded). The distance has
    gradient 0 (a subgradient) at zero distance (``anchor == positive``) and an exact zero
    vector has cosine 0 with zero gradient, so degenerate triplets give finite gradients.
    Distances and cosines are exact at every scale; a NaN gives NaN.

    Args:
        anchor: embeddings of shape ``(*, D)``, floating point.
        positive: embeddings of the same shape (no broadcasting).
        negative: embeddings of the same shape.
        margin: $m > 0$ in distance units. Default 1.0 (PyTorch).
        distance: ``"euclidean"`` (default) or ``"cosine"``.
        swap: use the distance swap. Default ``False``.
        weight: optional non-negative weights broadcastable to the per-triplet shape ``(*,)``.
        reduction: ``"mean"`` (weighted mean over triplets), ``"sum"`` or ``"none"`` (shape
            ``(*,)``).

    Returns:
        A scalar, or a tensor of shape ``anchor.shape[:-1]`` for ``reduction="none"``;
        float32 for float16/bfloat16 inputs.

    Raises:
        LosscraftError: shapes differ, 0-dimensional or non-floating input, ``margin`` not in
            (0, inf), unknown ``distance``, non-bool ``swap``, bad ``weight`` or ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import triplet_loss
        >>> a = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
        >>> p = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
        >>> n = torch.tensor([[0.0, 1.5], [0.0, 3.0]])
        >>> triplet_loss(a, p, n, reduction="none")
        tensor([0.5000, 0.0000])
        >>> a, p = torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 1.0]])  # cosine distance 0.2929
        >>> triplet_loss(a, p, torch.tensor([[0.0, 1.0]]), distance="cosine", margin=0.5)
        tensor(0.)
        >>> triplet_loss(a, p, torch.tensor([[1.0, 0.5]]), distance="cosine", margin=0.5)
        tensor(0.6873)

    References:
        F. Schroff, D. Kalenichenko, J. Philbin (2015). FaceNet: A Unified Embedding for Face
            Recognition and Clustering. CVPR. https://arxiv.org/abs/1503.03832
        V. Balntas, E. Riba, D. Ponsa, K. Mikolajczyk (2016). Learning local feature descriptors
            with triplets and shallow convolutional neural networks. BMVC.
            https://doi.org/10.5244/C.30.119
    """
    fn = "triplet_loss"
    a, p, n = prepare_embeddings(fn, ("anchor", "positive", "negative"), anchor, positive, negative)
    check_params(SPEC, {"margin": margin, "distance": distance, "swap": swap, "reduction": reduction})
    d_ap = _distance(a, p, distance)
    d_an = _distance(a, n, distance)
    if swap:
        d_an = torch.minimum(d_an, _distance(p, n, distance))
    values = (d_ap - d_an + margin).clamp_min(0.0)
    check_weight(fn, weight, values.shape)
    return reduce(values, reduction, weight)


class TripletLoss(LossModule, spec=SPEC, fn=triplet_loss):
    """Module form of :func:`losscraft.functional.triplet_loss`."""

    def __init__(
        self,
        *,
        margin: float = 1.0,
        distance: Literal["euclidean", "cosine"] = "euclidean",
        swap: bool = False,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(margin=margin, distance=distance, swap=swap, reduction=reduction)
