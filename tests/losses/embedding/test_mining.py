"""The triplet miner of batch_triplet and its pairwise distances.

``losscraft.losses.embedding.mining``: all / hard / semihard mining against brute-force
enumeration, and ``pairwise_distances`` against ``torch.cdist`` and numpy, at extreme scales
(squares that overflow or underflow) and with NaN rows.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from losscraft import LosscraftError
from losscraft.losses.embedding import batch_triplet_loss, mine_triplets, pairwise_distances
from losses.embedding.helpers import D64, NAN, _randn, brute_force_triplets


def _as_triplets(a: torch.Tensor, p: torch.Tensor, n: torch.Tensor) -> list[tuple[int, int, int]]:
    assert a.dtype == p.dtype == n.dtype == torch.long
    return list(zip(a.tolist(), p.tolist(), n.tolist(), strict=True))


@given(
    labels=st.lists(st.integers(0, 3), min_size=0, max_size=9),
    seed=st.integers(0, 10_000),
    strategy=st.sampled_from(["all", "hard", "semihard"]),
    margin=st.floats(0.01, 2.0),
)
def test_mining_matches_brute_force(labels: list[int], seed: int, strategy: str, margin: float) -> None:
    x = _randn(len(labels), 3, seed=seed)
    d = torch.cdist(x, x)
    got = _as_triplets(*mine_triplets(d, torch.tensor(labels, dtype=torch.long), strategy, margin=margin))
    expected = brute_force_triplets(d, labels, strategy, margin)
    if strategy == "hard":
        assert got == expected  # anchor order
    else:
        assert got == sorted(expected)  # lexicographic


def test_mining_hard_takes_the_extremes_and_first_tie() -> None:
    d = torch.tensor(
        [
            [0.0, 2.0, 2.0, 1.0, 1.0],
            [2.0, 0.0, 1.0, 3.0, 1.0],
            [2.0, 1.0, 0.0, 1.0, 4.0],
            [1.0, 3.0, 1.0, 0.0, 1.0],
            [1.0, 1.0, 4.0, 1.0, 0.0],
        ]
    )
    labels = torch.tensor([0, 0, 0, 1, 1])
    # anchor 0: positives 1, 2 tie at 2 -> 1; negatives 3, 4 tie at 1 -> 3
    assert _as_triplets(*mine_triplets(d, labels, "hard"))[0] == (0, 1, 3)
    # anchor 3: one positive (4); negatives 0 and 2 tie at 1 -> 0
    assert _as_triplets(*mine_triplets(d, labels, "hard"))[3] == (3, 4, 0)


def test_mining_empty_and_no_valid_triplets() -> None:
    for labels in ([], [0], [0, 0, 0], [0, 1, 2]):
        y = torch.tensor(labels, dtype=torch.long)
        d = torch.zeros(len(labels), len(labels))
        for s in ("all", "hard", "semihard"):
            a, p, n = mine_triplets(d, y, s, margin=1.0)
            assert a.numel() == p.numel() == n.numel() == 0


def test_mining_reads_distances_without_gradient() -> None:
    x = _randn(6, 3, seed=21).requires_grad_(True)
    d = pairwise_distances(x)
    a, _p, _n = mine_triplets(d, torch.tensor([0, 0, 1, 1, 2, 2]), "hard")
    assert not a.requires_grad and a.numel() == 6


def test_pairwise_distances_against_references() -> None:
    x = _randn(5, 4, seed=22)
    torch.testing.assert_close(pairwise_distances(x), torch.cdist(x, x), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(
        pairwise_distances(x, "squared"), torch.cdist(x, x) ** 2, rtol=1e-12, atol=1e-12
    )
    xn = x / x.norm(dim=1, keepdim=True)
    torch.testing.assert_close(
        pairwise_distances(x, "euclidean", normalize=True), torch.cdist(xn, xn), rtol=1e-12, atol=1e-12
    )
    torch.testing.assert_close(pairwise_distances(x, "cosine"), 1 - xn @ xn.T, rtol=1e-12, atol=1e-12)
    # near-duplicates keep their digits in float32 (no ||a||^2 + ||b||^2 - 2ab cancellation)
    y = torch.stack([x[0], x[0] + 1e-4]).float()
    exact = (y[0].double() - y[1].double()).norm()
    torch.testing.assert_close(pairwise_distances(y)[0, 1].double(), exact, rtol=1e-5, atol=0)
    gram = (y[0] @ y[0] + y[1] @ y[1] - 2 * y[0] @ y[1]).clamp_min(0).sqrt().double()
    assert abs(gram - exact) > 0.1 * exact


def test_pairwise_distances_finite_gradient_at_coincident_points() -> None:
    x = _randn(3, 4, seed=23)
    x = torch.cat([x, x[:1]]).requires_grad_(True)  # rows 0 and 3 coincide
    for kind in ("euclidean", "squared", "cosine"):
        (g,) = torch.autograd.grad(pairwise_distances(x, kind).sum(), x)
        assert torch.isfinite(g).all()
    z = torch.zeros(2, 3, dtype=D64, requires_grad=True)
    (g,) = torch.autograd.grad(pairwise_distances(z, "euclidean", normalize=True).sum(), z)
    assert (g == 0).all()


def test_mining_errors() -> None:
    d = torch.zeros(3, 3)
    y = torch.tensor([0, 0, 1])
    with pytest.raises(
        LosscraftError, match=r"mine_triplets: 'dist' must be a square \(N, N\) matrix, got \(3, 2\)"
    ):
        mine_triplets(d[:, :2], y)
    with pytest.raises(
        LosscraftError,
        match=r"mine_triplets: 'labels' must have shape \(3,\) \(one label per embedding\), got \(2,\)",
    ):
        mine_triplets(d, y[:2])
    with pytest.raises(LosscraftError, match=r"mine_triplets: 'labels' must be an integer tensor of labels"):
        mine_triplets(d, y.float())
    with pytest.raises(LosscraftError, match="mine_triplets: 'dist' must be a floating-point tensor"):
        mine_triplets(d.long(), y)
    with pytest.raises(
        LosscraftError, match="mine_triplets: 'strategy' must be one of 'all', 'hard', 'semihard', got 'easy'"
    ):
        mine_triplets(d, y, "easy")  # type: ignore[arg-type]
    for bad in (None, 0.0, -1.0, math.inf, True):
        with pytest.raises(
            LosscraftError,
            match=r"mine_triplets: 'margin' must be a float in \(0, inf\) for strategy 'semihard'",
        ):
            mine_triplets(d, y, "semihard", margin=bad)  # type: ignore[arg-type]
    with pytest.raises(LosscraftError, match="pairwise_distances: 'distance' must be one of"):
        pairwise_distances(torch.zeros(2, 2), "manhattan")  # type: ignore[arg-type]
    with pytest.raises(LosscraftError, match=r"pairwise_distances: 'x' must have shape \(N, D\)"):
        pairwise_distances(torch.zeros(2, 2, 2))


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


@given(
    labels=st.lists(st.integers(0, 3), min_size=1, max_size=9),
    bounds=st.tuples(st.integers(0, 9), st.integers(0, 9)),
    seed=st.integers(0, 10_000),
    strategy=st.sampled_from(["all", "hard", "semihard"]),
    margin=st.floats(0.01, 2.0),
)
def test_mining_for_a_slice_of_anchors(
    labels: list[int], bounds: tuple[int, int], seed: int, strategy: str, margin: float
) -> None:
    """``rows``: the anchors of one rank against a gathered batch, as the brute force restricted to them."""
    n = len(labels)
    lo, hi = sorted(min(b, n) for b in bounds)
    rows = slice(lo, hi)
    x = _randn(n, 3, seed=seed)
    d = torch.cdist(x, x)
    for distance in ("euclidean", "squared", "cosine"):
        full = pairwise_distances(x, distance)
        torch.testing.assert_close(pairwise_distances(x, distance, rows=rows), full[rows], rtol=0, atol=0)
    a, p, ng = mine_triplets(
        d[rows], torch.tensor(labels, dtype=torch.long), strategy, margin=margin, rows=rows
    )
    got = _as_triplets(a + lo, p, ng)  # anchors count within rows
    expected = [t for t in brute_force_triplets(d, labels, strategy, margin) if lo <= t[0] < hi]
    assert sorted(got) == sorted(expected)
    if strategy == "hard":
        assert got == expected


def test_mining_rows_must_match_the_distances() -> None:
    d = torch.zeros(2, 5)
    labels = torch.zeros(5, dtype=torch.long)
    with pytest.raises(
        LosscraftError, match=r"with rows=slice\(1, 4, None\), 'dist' must have shape \(len\(rows\), N\)"
    ):
        mine_triplets(d, labels, rows=slice(1, 4))
    with pytest.raises(LosscraftError, match="'dist' must have shape"):
        mine_triplets(d, labels, rows=slice(4, 6))
