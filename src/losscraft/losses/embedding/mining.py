r"""Triplet mining: choose (anchor, positive, negative) index triplets in a labelled batch.

A reusable component, independent of any loss: :func:`mine_triplets` takes a pairwise
distance matrix and integer labels and returns three index tensors; :func:`pairwise_distances`
builds the matrix. :func:`losscraft.losses.embedding.batch_triplet.batch_triplet_loss` uses both,
and the triplets can feed :func:`~losscraft.losses.embedding.triplet.triplet_loss` or any other
triplet-based objective::

    d = pairwise_distances(emb, "euclidean", normalize=True)
    a, p, n = mine_triplets(d, labels, "semihard", margin=0.2)
    loss = triplet_loss(emb[a], emb[p], emb[n], margin=0.2)

A *valid* triplet has ``labels[a] == labels[p]``, ``a != p`` and ``labels[n] != labels[a]``.
Strategies (``d`` is the distance matrix):

* ``"all"``: every valid triplet (Hermans, Beyer & Leibe 2017, "batch all").
* ``"hard"``: per anchor with at least one positive and one negative, the *hardest* positive
  (largest $d(a, p)$) and the hardest negative (smallest $d(a, n)$) — "batch hard" (Hermans et
  al. 2017). Ties go to the lowest index.
* ``"semihard"``: every valid triplet with $d(a, p) < d(a, n) < d(a, p) + m$, the negatives
  that are farther than the positive but still inside the margin (Schroff, Kalenichenko &
  Philbin 2015, FaceNet). Unlike TensorFlow Addons' ``TripletSemiHardLoss`` (one negative per
  pair, falling back to the farthest negative when none is semi-hard), every semi-hard triplet
  is kept and there is no fallback.

Mining is a selection, not a differentiable operation: it reads ``d`` without gradient.
A NaN distance is never mined away: ``"hard"`` picks it (``argmax``/``argmin`` propagate
NaN) and ``"semihard"`` keeps every triplet with a NaN, so a NaN embedding reaches the loss.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from ..._core.checks import check_floating, fmt_shape
from ..._core.distributed import gather_batch
from ..._core.errors import LosscraftError
from ..._core.numerics import safe_norm, safe_normalize
from ._common import check_labels

__all__ = ["DISTANCES", "STRATEGIES", "mine_triplets", "pair_masks", "pairwise_distances", "triplet_mask"]

STRATEGIES = ("all", "hard", "semihard")
"""Mining strategies accepted by :func:`mine_triplets`."""

DISTANCES = ("euclidean", "squared", "cosine")
"""Distances accepted by :func:`pairwise_distances`."""

Strategy = Literal["all", "hard", "semihard"]
Distance = Literal["euclidean", "squared", "cosine"]


def pairwise_distances(
    x: Tensor, distance: Distance = "euclidean", *, normalize: bool = False, rows: slice | None = None
) -> Tensor:
    r"""All pairwise distances between the rows of ``x``, with finite gradients everywhere.

    * ``"euclidean"``: $\lVert x_i - x_j\rVert_2$, gradient 0 (a subgradient) at coincident
      points instead of NaN.
    * ``"squared"``: $\lVert x_i - x_j\rVert_2^2$ (FaceNet's distance).
    * ``"cosine"``: $1 - \cos(x_i, x_j)$ in [0, 2]; a zero vector has cosine 0 with everything.

    Euclidean and squared distances are computed from the differences $x_i - x_j$, not from
    $\lVert x_i\rVert^2 + \lVert x_j\rVert^2 - 2 x_i\cdot x_j$, which loses every digit of the
    distance between near-duplicates to cancellation; the price is an ``(N, N, D)``
    intermediate.

    Args:
        x: embeddings of shape ``(N, D)``, floating point.
        distance: ``"euclidean"`` (default), ``"squared"`` or ``"cosine"``.
        normalize: L2-normalise the rows first (zero rows stay 0). Implied by ``"cosine"``.
        rows: only the distances from these rows of ``x`` to every row (e.g. this rank's
            anchors against a gathered batch); ``None`` (default): every row.

    Returns:
        The ``(N, N)`` distance matrix in ``x``'s dtype; ``(len(rows), N)`` with ``rows``.

    Raises:
        LosscraftError: ``x`` is not a floating ``(N, D)`` tensor, or ``distance`` is unknown.

    Examples:
        >>> import torch
        >>> from losscraft.losses.embedding.mining import pairwise_distances
        >>> x = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]])
        >>> pairwise_distances(x)
        tensor([[0.0000, 5.0000, 1.0000],
                [5.0000, 0.0000, 4.2426],
                [1.0000, 4.2426, 0.0000]])
    """
    fn = "pairwise_distances"
    check_floating(fn, "x", x)
    if x.dim() != 2:
        raise LosscraftError(f"{fn}: 'x' must have shape (N, D), got {fmt_shape(x)}")
    if distance not in DISTANCES:
        raise LosscraftError(
            f"{fn}: 'distance' must be one of 'euclidean', 'squared', 'cosine', got {distance!r}"
        )
    if normalize or distance == "cosine":
        x = safe_normalize(x, dim=-1)
    a = x if rows is None else x[rows]
    if distance == "cosine":
        return 1.0 - a @ x.transpose(0, 1)
    diff = a.unsqueeze(1) - x.unsqueeze(0)
    if distance == "squared":
        return (diff * diff).sum(dim=-1)
    # safe_norm, not sqrt(sum(diff**2)): exact where the squares overflow (float32 entries
    # ~1e20, whose distances are representable), gradient 0 at coincident points.
    return safe_norm(diff, dim=-1)


def pair_masks(labels: Tensor, rows: slice | None = None) -> tuple[Tensor, Tensor]:
    """Boolean ``(N, N)`` masks of positive pairs (same label, ``i != j``) and negative pairs.

    ``rows``: only the pairs whose first member is one of these rows, ``(len(rows), N)``.

    Examples:
        >>> import torch
        >>> from losscraft.losses.embedding.mining import pair_masks
        >>> pos, neg = pair_masks(torch.tensor([0, 0, 1]))
        >>> pos.int()
        tensor([[0, 1, 0],
                [1, 0, 0],
                [0, 0, 0]], dtype=torch.int32)
    """
    if rows is None:
        same = labels.unsqueeze(0) == labels.unsqueeze(1)
        eye = torch.eye(labels.shape[0], dtype=torch.bool, device=labels.device)
        return same & ~eye, ~same
    same = labels[rows].unsqueeze(1) == labels.unsqueeze(0)
    return same & ~self_mask(rows, labels.shape[0], labels.device), ~same


def anchor_cosines(fn: str, x: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Cosine similarities of this rank's anchors with every sample, and the label-pair masks.

    Inside ``losscraft.distributed.global_batch`` the embeddings and labels of every rank are
    gathered (``gather_batch``, with gradient) and this rank's rows are the anchors; outside it,
    or on one rank, every row is an anchor and the matrix is square. Returns ``(sim, same,
    is_self)``, each ``(M, N)``: the cosines, "same label" and "the anchor itself".
    """
    (x, labels), rows = gather_batch(fn, x, labels)
    n = x.shape[0]
    z = safe_normalize(x, dim=-1)
    if rows.stop - rows.start == n:
        sim = z @ z.transpose(0, 1)
        is_self = torch.eye(n, dtype=torch.bool, device=x.device)
        mine = labels
    else:
        sim = z[rows] @ z.transpose(0, 1)
        is_self = self_mask(rows, n, x.device)
        mine = labels[rows]
    return sim, mine.unsqueeze(1) == labels.unsqueeze(0), is_self


def self_mask(rows: slice, n: int, device: torch.device) -> Tensor:
    """``(len(rows), n)`` boolean: entry ``(i, j)`` is True where ``j`` is row ``i`` itself (``rows.start + i``)."""
    mine = torch.arange(rows.start, rows.stop, device=device)
    return mine.unsqueeze(1) == torch.arange(n, device=device).unsqueeze(0)


def mine_triplets(
    dist: Tensor,
    labels: Tensor,
    strategy: Strategy = "all",
    *,
    margin: float | None = None,
    rows: slice | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    r"""Indices ``(anchor, positive, negative)`` of the triplets chosen by ``strategy``.

    See the module docstring for the strategies. ``"all"`` and ``"semihard"`` return triplets
    in lexicographic ``(a, p, n)`` order; ``"hard"`` returns one triplet per eligible anchor,
    in anchor order. A batch without any valid triplet (one label only, or no label seen
    twice) gives three empty tensors. ``"all"`` and ``"semihard"`` build an ``(N, N, N)``
    boolean mask.

    Args:
        dist: pairwise distances ``(N, N)`` (e.g. from :func:`pairwise_distances`); read
            without gradient. Any dissimilarity works where smaller means closer.
        labels: integer labels ``(N,)``; equal labels mark positives.
        strategy: ``"all"`` (default), ``"hard"`` or ``"semihard"``.
        margin: the margin $m > 0$ of the semi-hard window $d(a,p) < d(a,n) < d(a,p) + m$;
            required for ``"semihard"``, unused otherwise.
        rows: mine for these anchors only (e.g. this rank's rows of a gathered batch):
            ``dist`` is then ``(len(rows), N)`` (``pairwise_distances(..., rows=rows)``) and
            the returned anchor indices count within ``rows`` (0 is ``rows.start``), while
            positives and negatives index the whole batch. ``None`` (default): every anchor.

    Returns:
        Three ``torch.long`` tensors of equal length ``T`` on ``dist``'s device.

    Raises:
        LosscraftError: ``dist`` not a floating square matrix, ``labels`` not integer of
            shape ``(N,)``, unknown ``strategy``, or a missing / non-positive ``margin`` for
            ``"semihard"``.

    Examples:
        >>> import torch
        >>> from losscraft.losses.embedding.mining import mine_triplets, pairwise_distances
        >>> x = torch.tensor([[0.0], [1.0], [1.5], [3.0]])
        >>> labels = torch.tensor([0, 0, 1, 1])
        >>> d = pairwise_distances(x)
        >>> def triplets(a, p, n):
        ...     return list(zip(a.tolist(), p.tolist(), n.tolist()))
        >>> triplets(*mine_triplets(d, labels, "hard"))
        [(0, 1, 2), (1, 0, 2), (2, 3, 1), (3, 2, 1)]
        >>> triplets(*mine_triplets(d, labels, "semihard", margin=1.0))
        [(0, 1, 2), (3, 2, 1)]
        >>> len(triplets(*mine_triplets(d, labels)))  # "all": 2 anchors x 1 positive x 2 negatives, twice
        8

    References:
        Schroff, Kalenichenko & Philbin (2015), *FaceNet*, CVPR; Hermans, Beyer & Leibe
        (2017), *In Defense of the Triplet Loss for Person Re-Identification*, arXiv:1703.07737.
    """
    fn = "mine_triplets"
    check_floating(fn, "dist", dist)
    if rows is None:
        if dist.dim() != 2 or dist.shape[0] != dist.shape[1]:
            raise LosscraftError(f"{fn}: 'dist' must be a square (N, N) matrix, got {fmt_shape(dist)}")
        n = int(dist.shape[0])
    else:
        n = int(dist.shape[-1]) if dist.dim() == 2 else -1
        m = rows.stop - rows.start
        if dist.dim() != 2 or not 0 <= rows.start <= rows.stop <= n or dist.shape[0] != m:
            raise LosscraftError(
                f"{fn}: with rows={rows!r}, 'dist' must have shape (len(rows), N) with the rows "
                f"inside [0, N), got {fmt_shape(dist)}"
            )
    lab = check_labels(fn, labels, n, "labels").to(dist.device)
    if strategy not in STRATEGIES:
        raise LosscraftError(f"{fn}: 'strategy' must be one of 'all', 'hard', 'semihard', got {strategy!r}")
    if strategy == "semihard" and (
        margin is None
        or isinstance(margin, bool)
        or not isinstance(margin, (int, float))
        or not 0.0 < float(margin) < float("inf")
    ):
        raise LosscraftError(
            f"{fn}: 'margin' must be a float in (0, inf) for strategy 'semihard', got {margin!r}"
        )
    d = dist.detach()
    pos, neg = pair_masks(lab, rows)
    if n == 0 or d.shape[0] == 0:  # argmax/argmin over an empty dimension would raise
        empty = torch.zeros(0, dtype=torch.long, device=dist.device)
        return empty, empty.clone(), empty.clone()
    if strategy == "hard":
        eligible, hardest_p, hardest_n = _hardest(d, pos, neg)
        a = eligible.nonzero().reshape(-1)
        return a, hardest_p[a], hardest_n[a]
    a, p, ng = triplet_mask(d, pos, neg, strategy, margin).nonzero(as_tuple=True)
    return a, p, ng


def _hardest(d: Tensor, pos: Tensor, neg: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Anchors with a positive and a negative, their farthest positive and closest negative."""
    eligible = pos.any(dim=1) & neg.any(dim=1)
    hardest_p = torch.where(pos, d, torch.full_like(d, -float("inf"))).argmax(dim=1)
    hardest_n = torch.where(neg, d, torch.full_like(d, float("inf"))).argmin(dim=1)
    return eligible, hardest_p, hardest_n


def triplet_mask(d: Tensor, pos: Tensor, neg: Tensor, strategy: str, margin: float | None = None) -> Tensor:
    """The ``(N, N, N)`` boolean mask of the triplets ``(a, p, n)`` that ``strategy`` mines.

    :func:`mine_triplets` lists its nonzero entries; the fixed-shape mask itself is what
    ``torch.func.vmap`` can batch (no data-dependent shapes). ``d`` is the detached distance
    matrix, ``pos``/``neg`` come from :func:`pair_masks`, and ``strategy``/``margin`` are
    validated by the caller (``N >= 1``). With anchor rows (``pair_masks(labels, rows)``)
    ``d``, ``pos`` and ``neg`` are ``(M, N)`` and the mask is ``(M, N, N)``.
    """
    if strategy == "hard":
        eligible, hardest_p, hardest_n = _hardest(d, pos, neg)
        idx = torch.arange(d.shape[1], device=d.device)
        is_p, is_n = idx == hardest_p.unsqueeze(1), idx == hardest_n.unsqueeze(1)
        return eligible[:, None, None] & is_p.unsqueeze(2) & is_n.unsqueeze(1)
    mask = pos.unsqueeze(2) & neg.unsqueeze(1)
    if strategy == "semihard":
        d_ap = d.unsqueeze(2)
        d_an = d.unsqueeze(1)
        # Written as "not outside the window": a NaN distance fails every comparison, so a
        # triplet with a NaN is kept and its NaN reaches the loss instead of being dropped.
        mask = mask & ~((d_ap >= d_an) | (d_an >= d_ap + float(margin)))  # type: ignore[arg-type]
    return mask
