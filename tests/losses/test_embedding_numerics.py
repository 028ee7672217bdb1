"""Numerics of the losses that normalise embeddings: extreme scales, zero vectors, NaN and inf.

``1 - cos`` and every L2 normalisation are scale invariant, so a loss on ``s * x`` must equal
the loss on ``x`` at any scale the dtype can hold, although the squared norms overflow
(float32 beyond ~1e19) or underflow (below ~1e-19). Only an *exact* zero vector takes the
zero-vector rule (cosine 0, gradient 0). A NaN reaches the loss as NaN; an infinite entry
gives the limit (the direction of that axis) where there is one.

Expected values are independent float64 computations at unit scale: numpy dot products,
``torch.nn.functional`` (``cosine_similarity``, ``cosine_embedding_loss``,
``triplet_margin_with_distance_loss``, ``normalize``) and loops written from the papers.
Scales are powers of two where possible, so ``s * x`` holds exactly the direction of ``x``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import losscraft._core.numerics as numerics
from losscraft.functional import (
    batch_triplet_loss,
    cosine_embedding_loss,
    cosine_similarity_loss,
    info_nce_loss,
    supcon_loss,
    triplet_loss,
)
from losscraft.losses.embedding.mining import pairwise_distances

D64 = torch.float64
NAN, INF = math.nan, math.inf

# float32: squares of 2^+-80 overflow / underflow; 1e-30 and 1e20 are the examples;
# 2^-140 is subnormal itself (the direction is then that of the rounded values).
F32_SCALES = [2.0**-140, 1e-30, 2.0**-80, 1e-10, 1e10, 2.0**80, 1e20, 2.0**120]
F64_SCALES = [2.0**-1000, 2.0**-600, 2.0**600, 2.0**1000]


def _randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=D64)


def _np_cos(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    """Row cosines in float64 numpy, from the exact values of ``a`` and ``b``."""
    x, y = a.double().numpy(), b.double().numpy()
    # rescale each row exactly by a power of two first: float64 squares of 2^-1000 underflow
    x = x / 2.0 ** np.floor(np.log2(np.abs(x).max(axis=-1, keepdims=True)))
    y = y / 2.0 ** np.floor(np.log2(np.abs(y).max(axis=-1, keepdims=True)))
    return (x * y).sum(-1) / (np.sqrt((x * x).sum(-1)) * np.sqrt((y * y).sum(-1)))


# --------------------------------------------------------------------------- cosine_similarity
@pytest.mark.parametrize("scale", F32_SCALES, ids=lambda s: f"{s:.0e}")
def test_cosine_similarity_is_scale_invariant_in_float32(scale: float) -> None:
    x, y = _randn(6, 16, seed=1), _randn(6, 16, seed=2)
    xs, ys = (scale * x).float(), (scale * y).float()
    # x with itself: 0 (old code: NaN at 1e20, 1.0 at 1e-10 and below)
    torch.testing.assert_close(
        cosine_similarity_loss(xs, xs, reduction="none"), torch.zeros(6), atol=1e-6, rtol=0
    )
    expected = torch.from_numpy(1.0 - _np_cos(xs, ys))
    torch.testing.assert_close(
        cosine_similarity_loss(xs, ys, reduction="none").double(), expected, atol=1e-6, rtol=0
    )
    # mixed scales in one call: one huge input against an ordinary target
    torch.testing.assert_close(
        cosine_similarity_loss(xs, y.float(), reduction="none").double(),
        torch.from_numpy(1.0 - _np_cos(xs, y.float())),
        atol=1e-6,
        rtol=0,
    )


@pytest.mark.parametrize("scale", F64_SCALES, ids=lambda s: f"{s:.0e}")
def test_cosine_similarity_is_scale_invariant_in_float64(scale: float) -> None:
    x, y = _randn(5, 7, seed=3), _randn(5, 7, seed=4)
    expected = 1.0 - F.cosine_similarity(x, y, dim=-1)  # unit scale
    torch.testing.assert_close(cosine_similarity_loss(scale * x, scale * y, reduction="none"), expected)
    torch.testing.assert_close(cosine_similarity_loss(scale * x, y, reduction="none"), expected)


def test_half_precision_tiny_vectors_are_compared_by_direction() -> None:
    """fp16 vectors of norm ~1e-6 (subnormal fp16 entries) are not zero vectors."""
    x, y = _randn(4, 8, seed=5), _randn(4, 8, seed=6)
    xh, yh = (1e-6 * x).half(), (1e-6 * y).half()
    assert (xh != 0).any(dim=-1).all()
    out = cosine_similarity_loss(xh, yh, reduction="none")
    torch.testing.assert_close(out.double(), torch.from_numpy(1.0 - _np_cos(xh, yh)), atol=1e-6, rtol=0)


def test_only_an_exact_zero_vector_takes_the_zero_rule() -> None:
    x = torch.tensor([[0.0, 0.0, 0.0], [1e-30, 0.0, 0.0], [0.0, 0.0, 0.0], [3e-39, 1e-39, 0.0]])
    y = torch.tensor([[1.0, 2.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [-3.0, -1.0, 0.0]])
    xr, yr = x.clone().requires_grad_(True), y.clone().requires_grad_(True)
    out = cosine_similarity_loss(xr, yr, reduction="none")
    # exact zeros: loss 1; a tiny vector along y: 0; a tiny (subnormal) vector opposite y: 2
    torch.testing.assert_close(out, torch.tensor([1.0, 0.0, 1.0, 2.0]), atol=1e-6, rtol=0)
    out.sum().backward()
    assert torch.isfinite(xr.grad).all() and torch.isfinite(yr.grad).all()
    assert (xr.grad[[0, 2]] == 0).all() and (yr.grad[[0, 2]] == 0).all()


@pytest.mark.parametrize("tiny_row", [False, True], ids=["fast-path", "scaled-path"])
def test_zero_rows_among_ordinary_rows(tiny_row: bool) -> None:
    """Zero padding: zero rows give loss 1 and gradient 0; the other rows are untouched."""
    x, y = _randn(6, 5, seed=7), _randn(6, 5, seed=8)
    x[1] = 0.0
    y[4] = 0.0
    if tiny_row:  # forces the scaled path for the whole call
        x[2] *= 2.0**-600
    xr, yr = x.clone().requires_grad_(True), y.clone().requires_grad_(True)
    out = cosine_similarity_loss(xr, yr, reduction="none")
    rest = [0, 2, 3, 5]
    torch.testing.assert_close(out[rest], torch.from_numpy(1.0 - _np_cos(x[rest], y[rest])))
    torch.testing.assert_close(out[[1, 4]], torch.ones(2, dtype=D64))
    out.sum().backward()
    assert (xr.grad[1] == 0).all() and (yr.grad[1] == 0).all()
    assert (xr.grad[4] == 0).all() and (yr.grad[4] == 0).all()
    ref_x = x.clone().requires_grad_(True)
    (1 - F.cosine_similarity(ref_x[[0, 3, 5]], y[[0, 3, 5]], dim=-1)).sum().backward()
    torch.testing.assert_close(xr.grad[[0, 3, 5]], ref_x.grad[[0, 3, 5]])


# --------------------------------------------------------------------------- NaN and inf
def test_cosine_nan_reaches_only_its_row() -> None:
    x, y = _randn(4, 5, seed=9), _randn(4, 5, seed=10)
    x[1, 2] = NAN
    y[3] = 0.0
    y[3, 0] = NAN  # a NaN next to zeros: not a zero vector
    out = cosine_similarity_loss(x, y, reduction="none")
    assert torch.isnan(out[[1, 3]]).all()
    torch.testing.assert_close(out[[0, 2]], 1 - F.cosine_similarity(x[[0, 2]], y[[0, 2]], dim=-1))
    assert torch.isnan(cosine_similarity_loss(x, y))
    z = torch.zeros(1, 3, dtype=D64)  # a zero vector against a NaN vector: NaN, not the zero rule
    assert torch.isnan(cosine_similarity_loss(z, torch.tensor([[NAN, 0.0, 0.0]], dtype=D64)))


def test_cosine_of_an_infinite_entry_is_the_limit() -> None:
    x = torch.tensor([[INF, 0.0, 5.0], [-INF, 3.0, 1.0], [INF, INF, 0.0], [INF, -INF, 1.0]], dtype=D64)
    y = torch.tensor([[1.0, 2.0, 0.0], [2.0, 1.0, 2.0], [1.0, 1.0, 0.0], [1.0, 0.0, 0.0]], dtype=D64)
    xr, yr = x.clone().requires_grad_(True), y.clone().requires_grad_(True)
    out = cosine_similarity_loss(xr, yr, reduction="none")
    # one infinite entry: the direction tends to that axis, cos -> +-y_k / ||y||
    torch.testing.assert_close(out[:2], torch.tensor([1 - 1 / math.sqrt(5), 1 + 2 / 3], dtype=D64))
    # the limit agrees with a huge finite entry
    big = x[:2].clone()
    big[:, 0] = big[:, 0].sign() * 1e300
    torch.testing.assert_close(out[:2], 1 - F.cosine_similarity(big / 1e300, y[:2], dim=-1))
    # several infinite entries: no limit (it depends on the rates), NaN
    assert torch.isnan(out[2:]).all()
    out[:2].sum().backward()
    assert (xr.grad[:2] == 0).all()  # the limit of a gradient of size 1/||x||
    assert torch.isfinite(yr.grad[:2]).all()
    # cos(e1-direction, y) as a function of y
    ref_y = y[:2].clone().requires_grad_(True)
    axis = torch.tensor([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]], dtype=D64)
    (1 - F.cosine_similarity(axis, ref_y, dim=-1)).sum().backward()
    torch.testing.assert_close(yr.grad[:2], ref_y.grad)


def test_nan_is_kept_by_the_shared_helpers() -> None:
    x = _randn(4, 3, seed=11)
    x[2, 0] = NAN
    for kind in ("euclidean", "squared", "cosine"):
        d = pairwise_distances(x, kind)
        assert torch.isnan(d[2]).all() and torch.isnan(d[:, 2]).all(), kind
        ok = torch.tensor([0, 1, 3])
        assert torch.isfinite(d[ok][:, ok]).all(), kind
    labels = torch.tensor([0, 0, 1, 1])
    for mining in ("all", "hard", "semihard"):
        out = batch_triplet_loss(x, labels, mining=mining, reduction="none")
        assert torch.isnan(out[2]) and torch.isnan(batch_triplet_loss(x, labels, mining=mining)), mining


# --------------------------------------------------------------------------- every normaliser
def _info_nce_ref(z1: torch.Tensor, z2: torch.Tensor, tau: float) -> torch.Tensor:
    """SimCLR's NT-Xent written out: per pair, the mean of both anchors' terms."""
    z = F.normalize(torch.cat([z1, z2]), dim=-1)
    n = z1.shape[0]
    out = []
    for i in range(n):
        terms = []
        for k, pos in ((i, i + n), (i + n, i)):
            sims = [float(z[k] @ z[j]) / tau for j in range(2 * n) if j != k]
            terms.append(-(float(z[k] @ z[pos]) / tau - math.log(sum(math.exp(s) for s in sims))))
        out.append(0.5 * (terms[0] + terms[1]))
    return torch.tensor(out, dtype=D64)


def _supcon_ref(x: torch.Tensor, labels: torch.Tensor, tau: float) -> torch.Tensor:
    """Khosla et al.'s L_out written out."""
    z = F.normalize(x, dim=-1)
    n = x.shape[0]
    out = []
    for i in range(n):
        den = sum(math.exp(float(z[i] @ z[a]) / tau) for a in range(n) if a != i)
        pos = [p for p in range(n) if p != i and labels[p] == labels[i]]
        out.append(-sum(float(z[i] @ z[p]) / tau - math.log(den) for p in pos) / max(len(pos), 1))
    return torch.tensor(out, dtype=D64)


def _batch_triplet_ref(x: torch.Tensor, labels: torch.Tensor, margin: float) -> torch.Tensor:
    """Batch-all triplet loss on squared distances of L2-normalised embeddings (FaceNet)."""
    z = F.normalize(x, dim=-1)
    n = x.shape[0]
    out = []
    for a in range(n):
        hinges = [
            max(0.0, float(((z[a] - z[p]) ** 2).sum() - ((z[a] - z[q]) ** 2).sum()) + margin)
            for p in range(n)
            for q in range(n)
            if p != a and labels[p] == labels[a] and labels[q] != labels[a]
        ]
        out.append(sum(hinges) / max(len(hinges), 1))
    return torch.tensor(out, dtype=D64)


def _cos_dist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return 1 - F.cosine_similarity(a, b, dim=-1)


LABELS = torch.tensor([0, 0, 1, 1, 2, 2])
PAIR_Y = torch.tensor([1.0, -1.0, 1.0, -1.0, -1.0, 1.0])

# (name, loss on float tensors, independent float64 reference at unit scale, number of inputs)
NORMALISERS = [
    (
        "cosine_embedding",
        lambda a, b: cosine_embedding_loss(a, b, PAIR_Y, margin=0.1, reduction="none"),
        lambda a, b: F.cosine_embedding_loss(a, b, PAIR_Y, margin=0.1, reduction="none"),
        2,
    ),
    (
        "triplet_cosine",
        lambda a, p, n: triplet_loss(a, p, n, distance="cosine", margin=0.5, reduction="none"),
        lambda a, p, n: F.triplet_margin_with_distance_loss(
            a, p, n, distance_function=_cos_dist, margin=0.5, reduction="none"
        ),
        3,
    ),
    (
        "info_nce",
        lambda a, b: info_nce_loss(a, b, temperature=0.5, reduction="none"),
        lambda a, b: _info_nce_ref(a, b, 0.5),
        2,
    ),
    (
        "supcon",
        lambda x: supcon_loss(x, LABELS, temperature=0.5, reduction="none"),
        lambda x: _supcon_ref(x, LABELS, 0.5),
        1,
    ),
    (
        "batch_triplet",
        lambda x: batch_triplet_loss(x, LABELS, margin=0.2, reduction="none"),
        lambda x: _batch_triplet_ref(x, LABELS, 0.2),
        1,
    ),
]
NORMALISER_IDS = [n[0] for n in NORMALISERS]


@pytest.mark.parametrize("scale", [2.0**-100, 1e-30, 1e-10, 1e20, 2.0**100], ids=lambda s: f"{s:.0e}")
@pytest.mark.parametrize(("name", "loss", "ref", "k"), NORMALISERS, ids=NORMALISER_IDS)
def test_normalising_losses_are_scale_invariant_in_float32(name, loss, ref, k, scale: float) -> None:
    xs = [_randn(6, 8, seed=20 + i) for i in range(k)]
    # the float32 inputs at the extreme scale; the reference sees the same values at unit scale
    big = [(scale * x).float() for x in xs]
    unit = [b.double() / scale for b in big]
    torch.testing.assert_close(loss(*big).double(), ref(*unit), rtol=1e-5, atol=1e-5)
    # one input at an extreme scale, the others ordinary
    mixed = [big[0], *[x.float() for x in xs[1:]]]
    torch.testing.assert_close(
        loss(*mixed).double(), ref(unit[0], *[x.float().double() for x in xs[1:]]), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize(("name", "loss", "ref", "k"), NORMALISERS, ids=NORMALISER_IDS)
def test_normalising_losses_take_the_limit_of_an_infinite_entry(name, loss, ref, k) -> None:
    xs = [_randn(6, 8, seed=30 + i) for i in range(k)]
    inf_in = [x.clone() for x in xs]
    inf_in[0][1, 3] = -INF
    axis = [x.clone() for x in xs]
    axis[0][1] = 0.0
    axis[0][1, 3] = -1.0  # the limit of the row's direction
    torch.testing.assert_close(loss(*inf_in), ref(*axis))
    inf_in[0][1, 5] = INF  # two infinite entries: no limit
    assert torch.isnan(loss(*inf_in)).any()


@pytest.mark.parametrize("scale", [1.0, 2.0**-600, 2.0**600], ids=lambda s: f"{s:.0e}")
@pytest.mark.parametrize(("name", "loss", "ref", "k"), NORMALISERS, ids=NORMALISER_IDS)
def test_normalising_losses_gradcheck_at_every_scale(name, loss, ref, k, scale: float) -> None:
    xs = [_randn(6, 4, seed=40 + i).requires_grad_(True) for i in range(k)]
    # d/du loss(scale * u): O(1) at every scale, through the scaled path away from scale 1
    assert torch.autograd.gradcheck(lambda *us: loss(*[scale * u for u in us]), xs)


@pytest.mark.parametrize("scale", [1.0, 2.0**-600, 2.0**600], ids=lambda s: f"{s:.0e}")
def test_cosine_similarity_gradcheck_at_every_scale(scale: float) -> None:
    x, y = _randn(5, 4, seed=50).requires_grad_(True), _randn(5, 4, seed=51).requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda a, b: cosine_similarity_loss(scale * a, b, reduction="none"), (x, y)
    )


def test_scaled_path_matches_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under torch.compile / vmap (no data-dependent branch) the scaled path always runs."""
    x, y = _randn(6, 5, seed=60), _randn(6, 5, seed=61)
    x[2] = 0.0
    fast = [
        cosine_similarity_loss(x, y, reduction="none"),
        info_nce_loss(x, y, reduction="none"),
        pairwise_distances(x, "euclidean"),
    ]
    monkeypatch.setattr(numerics, "_can_branch", lambda *xs: False)
    scaled = [
        cosine_similarity_loss(x, y, reduction="none"),
        info_nce_loss(x, y, reduction="none"),
        pairwise_distances(x, "euclidean"),
    ]
    for a, b in zip(fast, scaled, strict=True):
        torch.testing.assert_close(a, b)


def test_euclidean_distance_does_not_overflow() -> None:
    """float32 triplet distances of ~1e20 (the squared norm overflows): exact, not inf - inf."""
    a, p, n = (_randn(4, 6, seed=70 + i) for i in range(3))
    s = 1e20
    expected = F.triplet_margin_loss(a, p, n, margin=1.0, eps=0.0, reduction="none")  # unit scale
    out = triplet_loss((s * a).float(), (s * p).float(), (s * n).float(), margin=s, reduction="none")
    torch.testing.assert_close(out.double() / s, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("scale", [1.0, 2.0**-600, 2.0**600], ids=lambda s: f"{s:.0e}")
def test_euclidean_triplet_gradcheck_at_every_scale(scale: float) -> None:
    a, p, n = (_randn(3, 4, seed=80 + i).requires_grad_(True) for i in range(3))
    assert torch.autograd.gradcheck(
        lambda a, p, n: triplet_loss(scale * a, scale * p, scale * n, margin=0.5 * scale) / scale, (a, p, n)
    )


def test_leading_dimensions_with_zero_and_tiny_rows() -> None:
    """``(*, D)`` inputs: the zero-row and rescaling bookkeeping works over every leading index."""
    x, y = _randn(2, 3, 4, seed=90), _randn(2, 3, 4, seed=91)
    x[1, 2] = 0.0
    x[0, 1] *= 2.0**-700
    out = cosine_similarity_loss(x, y, reduction="none")
    unit = x.clone()
    unit[0, 1] *= 2.0**700  # exact: the same direction at unit scale
    expected = 1 - F.cosine_similarity(unit, y, dim=-1)
    expected[1, 2] = 1.0
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize("scale", [1e-25, 2.0**-80, 1.0, 2.0**80, 1e20], ids=lambda s: f"{s:.0e}")
def test_pairwise_euclidean_distances_at_every_scale(scale: float) -> None:
    """``pairwise_distances`` (batch triplet's miner): float32 distances whose squares overflow
    (entries ~1e20) or underflow to 0 (entries ~1e-25) are exact, not inf or 0; the diagonal
    (a point and itself, an exact zero difference) stays 0 with a zero gradient.
    """
    x = _randn(5, 7, seed=95)
    diff = x.numpy()[:, None, :] - x.numpy()[None, :, :]
    expected = torch.from_numpy(np.sqrt((diff * diff).sum(-1)))  # float64, unit scale
    got = pairwise_distances((scale * x).float().requires_grad_(True), "euclidean")
    torch.testing.assert_close(got.double() / scale, expected, rtol=2e-6, atol=1e-6)
    assert torch.all(got.diagonal() == 0)
    xs = (scale * x).float().requires_grad_(True)
    pairwise_distances(xs, "euclidean").diagonal().sum().backward()
    assert xs.grad is not None and torch.all(xs.grad == 0)


def test_safe_norm_of_an_underflowing_row_is_not_zero() -> None:
    """Only an exact zero row has norm 0: a float32 row of 1e-25 (squares underflow) has its norm."""
    x = torch.tensor([[3e-25, 4e-25, 0.0], [0.0, 0.0, 0.0], [3.0, 4.0, 0.0]])
    torch.testing.assert_close(numerics.safe_norm(x), torch.tensor([5e-25, 0.0, 5.0]))
