"""Batch triplet loss over labelled embeddings, with online triplet mining."""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

from ..._core.checks import check_params, functorch_active
from ..._core.distributed import gather_batch
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
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
from ._common import check_labels, labelled_sample, prepare_batch_embeddings, unit_at_cosine
from .mining import DISTANCES, STRATEGIES, mine_triplets, pair_masks, pairwise_distances, triplet_mask

# Largest distance between unit vectors, per distance kind; the probe curve centres the
# anchor-positive and anchor-negative distances on half of it.
_MAX_UNIT_DISTANCE = {"squared": 4.0, "euclidean": 2.0, "cosine": 2.0}


def _cosine_at(d: Tensor, distance: str) -> Tensor:
    """Cosine between unit vectors at distance ``d`` of the given kind."""
    if distance == "squared":
        return 1.0 - 0.5 * d
    if distance == "euclidean":
        return 1.0 - 0.5 * d * d
    return 1.0 - d


def _probe(x: Tensor, *, distance: str = "squared", **_: object) -> Call:
    """Anchor ``e1`` with one positive and one negative (labels 0, 0, 1), all unit vectors.

    ``x = d(a, n) - d(a, p)`` is the achieved margin, with the two distances at ``c -+ x/2``
    around half the largest unit-vector distance ``c`` (``|x| < 2c``). With mining ``"all"``
    or ``"hard"`` the anchor's loss is ``max(0, margin - x)``; with ``"semihard"`` it is that
    hinge inside the window ``0 < x < margin`` and 0 outside.
    """
    c = 0.5 * _MAX_UNIT_DISTANCE[distance]
    e = torch.eye(3, dtype=x.dtype, device=x.device)
    pos = unit_at_cosine(_cosine_at(c - 0.5 * x, distance), 3)
    # the negative lives in the (e1, e3) plane
    neg = unit_at_cosine(_cosine_at(c + 0.5 * x, distance), 3)[[0, 2, 1]]
    return Call((torch.stack([e[0], pos, neg]), torch.tensor([0, 0, 1], device=x.device)))


SPEC = LossSpec(
    name="batch_triplet",
    batch_coupling="embeddings",
    family=Family.EMBEDDING,
    tasks=(Task.METRIC_LEARNING,),
    input_kind=InputKind.EMBEDDINGS,
    # Integer identity labels (any values), never differentiated: see supcon.
    target_kind=TargetKind.IDENTITY,
    params=(
        Param(
            "margin",
            0.2,
            Interval(0.0, math.inf, low_closed=False, high_closed=False),
            "required gap d(a, n) - d(a, p), in units of the distance (FaceNet: 0.2 on squared "
            "distances of normalised embeddings)",
        ),
        Param(
            "mining",
            "all",
            Choice(STRATEGIES),
            "'all' valid triplets, 'hard' (hardest positive and negative per anchor) or "
            "'semihard' (d(a,p) < d(a,n) < d(a,p) + margin)",
        ),
        Param(
            "distance",
            "squared",
            Choice(DISTANCES),
            "'squared' Euclidean (FaceNet), 'euclidean' or 'cosine' (1 - cos)",
        ),
        Param(
            "normalize",
            True,
            Choice((False, True)),
            "L2-normalise the embeddings first (the cosine distance always does)",
        ),
    ),
    # On the probe curve at the defaults (mining 'all', x = achieved margin): the hinge
    # max(0, 0.2 - x): convex, zero from the margin on, kink at x = margin.
    properties=frozenset(
        {
            Property.NONNEGATIVE,
            Property.ZERO_AT_MATCH,
            Property.CONVEX,
            Property.BOUNDED_GRADIENT,
            Property.SCALE_INVARIANT,
        }
    ),
    formula=r"\ell_i = \frac{1}{|T_i|}\sum_{(i,p,n)\in T_i}\max\bigl(0,\ d(z_i, z_p) - d(z_i, z_n) + m\bigr)",
    summary=(
        "Triplet margin loss over a labelled batch, with 'all', 'hard' or 'semihard' triplets mined online."
    ),
    references=(
        Ref(
            "F. Schroff, D. Kalenichenko, J. Philbin",
            "FaceNet: A Unified Embedding for Face Recognition and Clustering",
            "CVPR",
            2015,
            "https://arxiv.org/abs/1503.03832",
        ),
        Ref(
            "A. Hermans, L. Beyer, B. Leibe",
            "In Defense of the Triplet Loss for Person Re-Identification",
            "arXiv:1703.07737",
            2017,
            "https://arxiv.org/abs/1703.07737",
        ),
    ),
    sample=labelled_sample,
    curve=Curve(
        "margin",
        (-1.0, 1.0),
        _probe,
        zero=0.2,
        extent=(-4.0, 4.0),
        pointwise=True,
        label="one positive, one negative",
    ),
    none_shape="sample",
    when_to_use=(
        "Metric learning from labelled batches (face / person re-identification, retrieval) "
        "when triplets are formed online. Sample P x K batches (P identities, K images each). "
        "'hard' (batch hard) is Hermans et al.'s recommendation; 'semihard' is FaceNet's and "
        "avoids collapse early in training. Plot axis: the achieved margin d(a,n) - d(a,p)."
    ),
    when_not_to_use=(
        "Not without labels: anchors without a positive in the batch are dropped, so use "
        "info_nce on augmented views; with explicit triplets use triplet. For large batches, "
        "mining 'all' and 'semihard' build an (N, N, N) mask: use mining='hard' or supcon, "
        "which needs only N x N similarities."
    ),
)


@register(SPEC, aliases=("batch_triplet_margin", "mined_triplet"))
def batch_triplet_loss(
    input: Tensor,
    target: Tensor,
    *,
    margin: float = 0.2,
    mining: Literal["all", "hard", "semihard"] = "all",
    distance: Literal["euclidean", "squared", "cosine"] = "squared",
    normalize: bool = True,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Triplet margin loss over a labelled batch, with 'all', 'hard' or 'semihard' triplets mined online.

    Use it for metric learning when each batch holds several samples per identity: every
    sample is an anchor, the other samples with its label are positives and the samples with
    another label negatives. The triplets $T_i$ of anchor $i$ are chosen by
    :func:`~losscraft.losses.embedding.mining.mine_triplets` (``mining``), and

    $$\ell_i = \frac{1}{|T_i|}\sum_{(i,p,n)\in T_i}\max\bigl(0,\ d(z_i, z_p) - d(z_i, z_n) + m\bigr)$$

    is anchor $i$'s mean hinge ($\ell_i = 0$ when no triplet is mined for it). ``"mean"``
    averages $\ell_i$ over the anchors that have at least one positive *and* one negative;
    the others are excluded (like ignored positions) and give 0 under ``"none"``. A batch
    without any valid triplet gives 0 with zero gradients, still attached to the graph.
    Reduced as described in *Reductions* (``docs/conventions.md``).

    Mining: ``"all"`` (default) keeps every valid triplet; ``"hard"`` takes the hardest
    positive and hardest negative per anchor (batch hard, Hermans et al. 2017), so $\ell_i$
    is one hinge; ``"semihard"`` keeps the triplets with $d(a,p) < d(a,n) < d(a,p) + m$
    (FaceNet). With P×K batches every anchor has the same number of valid triplets, so the
    ``"all"`` mean equals the mean over all triplets (Hermans' *batch all*). Averaging:
    losscraft averages over *all* mined triplets; pytorch-metric-learning (and Hermans'
    "batch all ≠ 0") average only over triplets with a positive loss, which gives larger
    values that jump as triplets become inactive. For explicit triplets, or another
    reduction, call ``mine_triplets`` and :func:`~losscraft.losses.embedding.triplet.triplet_loss`.

    Distances (``pairwise_distances``): ``"squared"`` $\lVert z_i - z_j\rVert^2$ (FaceNet;
    in [0, 4] on normalised embeddings, where it equals twice the cosine distance),
    ``"euclidean"`` $\lVert z_i - z_j\rVert$, or ``"cosine"`` $1 - \cos(z_i, z_j)$.
    Defaults: FaceNet's margin 0.2 on squared distances of L2-normalised embeddings
    (``normalize=True``); torch's ``TripletMarginLoss`` uses margin 1 on raw Euclidean
    distances. The ``(N, N, D)`` differences are materialised (exact distances for
    near-duplicates), and ``"all"`` / ``"semihard"`` build an ``(N, N, N)`` mask.

    **Gradient:** per active triplet, $\nabla d(z_i, z_p) - \nabla d(z_i, z_n)$ divided by
    $|T_i|$ (and by the number of kept anchors for ``"mean"``); 0 for inactive triplets.
    Euclidean distances have unit-vector gradients and gradient 0 (a subgradient) at zero
    distance; squared distances have gradient $2(z_i - z_j)$. Mining is a selection and is
    not differentiated. An exact zero embedding is left at 0 by the normalisation, with
    gradient 0. A NaN embedding makes the loss NaN (mining never drops a NaN distance).

    Args:
        input: embeddings of shape ``(N, D)``, floating point.
        target: integer labels of shape ``(N,)``; equal labels mark positives. Any integer
            values (identities, not indices into a class dimension).
        margin: $m > 0$ in units of the distance. Default 0.2 (FaceNet).
        mining: ``"all"`` (default), ``"hard"`` or ``"semihard"``.
        distance: ``"squared"`` (default), ``"euclidean"`` or ``"cosine"``.
        normalize: L2-normalise the embeddings before measuring distances. Default ``True``.
        weight: optional non-negative per-anchor weights of shape ``(N,)``.
        reduction: ``"mean"`` (over anchors with a positive and a negative), ``"sum"`` or
            ``"none"`` (one value per anchor, shape ``(N,)``).

    Returns:
        A scalar, or a tensor of shape ``(N,)`` for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: ``input`` not a floating ``(N, D)`` tensor; ``target`` not an integer
            tensor of shape ``(N,)``; ``margin`` not in (0, inf); unknown ``mining`` or
            ``distance``; non-bool ``normalize``; bad ``weight`` or ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import batch_triplet_loss
        >>> x = torch.tensor([[0.0], [1.0], [1.5], [3.0]])
        >>> labels = torch.tensor([0, 0, 1, 1])
        >>> kw = dict(distance="euclidean", normalize=False, margin=1.0)
        >>> batch_triplet_loss(x, labels, reduction="none", **kw)  # mean hinge per anchor
        tensor([0.2500, 0.7500, 1.5000, 0.2500])
        >>> batch_triplet_loss(x, labels, mining="hard", reduction="none", **kw)
        tensor([0.5000, 1.5000, 2.0000, 0.5000])
        >>> batch_triplet_loss(x, labels, mining="semihard", reduction="none", **kw)
        tensor([0.5000, 0.0000, 0.0000, 0.5000])
        >>> batch_triplet_loss(x, torch.tensor([0, 1, 2, 3]))  # no positive pair: 0
        tensor(0.)

    References:
        F. Schroff, D. Kalenichenko, J. Philbin (2015). FaceNet: A Unified Embedding for Face
            Recognition and Clustering. CVPR. https://arxiv.org/abs/1503.03832
        A. Hermans, L. Beyer, B. Leibe (2017). In Defense of the Triplet Loss for Person
            Re-Identification. arXiv:1703.07737. https://arxiv.org/abs/1703.07737
    """
    fn = "batch_triplet_loss"
    (x,) = prepare_batch_embeddings(fn, ("input",), input)
    check_params(
        SPEC,
        {
            "margin": margin,
            "mining": mining,
            "distance": distance,
            "normalize": normalize,
            "reduction": reduction,
        },
    )
    labels = check_labels(fn, target, x.shape[0]).to(x.device)
    # Inside losscraft.distributed.global_batch: this rank's anchors against every rank's
    # samples (rows=None outside it, or on one rank: the square computation).
    (x, labels), rows = gather_batch(fn, x, labels)
    mine: slice | None = None if rows.stop - rows.start == x.shape[0] else rows
    n = x.shape[0] if mine is None else rows.stop - rows.start
    dist = pairwise_distances(x, distance, normalize=normalize, rows=mine)
    pos, neg = pair_masks(labels, mine)
    if functorch_active() and n > 0:
        # torch.func (vmap): no data-dependent shapes, so the same per-anchor mean over the
        # dense (N, N, N) mask of the mined triplets instead of the list of their indices.
        mask = triplet_mask(dist.detach(), pos, neg, mining, margin)
        hinge3 = (dist.unsqueeze(2) - dist.unsqueeze(1) + margin).clamp_min(0.0)
        total = torch.where(mask, hinge3, hinge3.new_zeros(())).sum((1, 2))
        values = total / mask.sum((1, 2)).clamp_min(1).to(x.dtype)
    else:
        a, p, ng = mine_triplets(dist, labels, mining, margin=margin, rows=mine)
        hinge = (dist[a, p] - dist[a, ng] + margin).clamp_min(0.0)
        total = torch.zeros(n, dtype=x.dtype, device=x.device).index_add(0, a, hinge)
        count = torch.bincount(a, minlength=n).clamp_min(1).to(x.dtype)
        values = total / count
    check_weight(fn, weight, values.shape)
    return reduce(values, reduction, weight, mask=pos.any(dim=1) & neg.any(dim=1))


class BatchTripletLoss(LossModule, spec=SPEC, fn=batch_triplet_loss):
    """Module form of :func:`losscraft.functional.batch_triplet_loss`."""

    def __init__(
        self,
        *,
        margin: float = 0.2,
        mining: Literal["all", "hard", "semihard"] = "all",
        distance: Literal["euclidean", "squared", "cosine"] = "squared",
        normalize: bool = True,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            margin=margin, mining=mining, distance=distance, normalize=normalize, reduction=reduction
        )
