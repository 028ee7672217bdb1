"""triplet: torch parity, the swap reference, and the Euclidean distance at extreme scales.

References: ``F.triplet_margin_loss`` and ``F.triplet_margin_with_distance_loss`` (values and
gradients, float64). Convention differences vs torch (asserted below):
* ``F.triplet_margin_loss`` measures ``||a - p + eps||`` with ``eps = 1e-6``; losscraft's
  Euclidean distance is exact. With ``eps=0`` torch matches to float64 precision; with the
  default eps the values differ by O(1e-6).
* Zero vectors (cosine distance): cosine 0 with zero gradient.
* Paired inputs must have identical shapes (torch broadcasts some of them).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import losscraft
from losscraft import LosscraftError
from losscraft.losses.embedding import TripletLoss, triplet_loss
from losses.embedding.helpers import D64, _assert_same, _emb, _randn


# ---------------------------------------------------------------- torch parity, references, errors
def _cos_dist(a, b):
    return 1 - F.cosine_similarity(a, b, dim=-1)


@pytest.mark.parametrize("margin", [0.2, 1.0, 3.0])
@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_triplet_euclidean_parity_with_torch(margin: float, swap: bool, reduction: str) -> None:
    a, p, n = _emb(16, 5, n=3, seed=16)
    # torch with eps=0 is the exact distance: agreement to float64 precision
    _assert_same(
        lambda *t: triplet_loss(*t, margin=margin, swap=swap, reduction=reduction).sum(),
        lambda *t: F.triplet_margin_loss(*t, margin=margin, swap=swap, eps=0.0, reduction=reduction).sum(),
        (a, p, n),
    )
    # torch's default eps=1e-6 adds a bias of O(1e-6) to each distance
    torch.testing.assert_close(
        triplet_loss(a, p, n, margin=margin, swap=swap, reduction=reduction),
        F.triplet_margin_loss(a, p, n, margin=margin, swap=swap, reduction=reduction),
        rtol=0,
        atol=1e-5,
    )


@pytest.mark.parametrize("margin", [0.1, 0.5])
@pytest.mark.parametrize("swap", [False, True])
def test_triplet_cosine_parity_with_torch(margin: float, swap: bool) -> None:
    a, p, n = _emb(16, 5, n=3, seed=17)
    _assert_same(
        lambda *t: triplet_loss(*t, margin=margin, distance="cosine", swap=swap, reduction="none").sum(),
        lambda *t: F.triplet_margin_with_distance_loss(
            *t, distance_function=_cos_dist, margin=margin, swap=swap, reduction="none"
        ).sum(),
        (a, p, n),
    )


def test_triplet_swap_reference() -> None:
    # d(a,p) = 1, d(a,n) = 3, d(p,n) = 2  ->  plain: max(0, 1 - 3 + 1.5) = 0; swap: 1 - 2 + 1.5 = 0.5
    a = torch.tensor([[0.0, 0.0]], dtype=D64)
    p = torch.tensor([[1.0, 0.0]], dtype=D64)
    n = torch.tensor([[3.0, 0.0]], dtype=D64)
    assert triplet_loss(a, p, n, margin=1.5).item() == 0.0
    assert triplet_loss(a, p, n, margin=1.5, swap=True).item() == pytest.approx(0.5, abs=1e-15)


def test_triplet_zero_distance_and_zero_vectors_finite() -> None:
    a = torch.tensor([[1.0, 2.0], [0.0, 0.0]], dtype=D64, requires_grad=True)
    p = torch.tensor([[1.0, 2.0], [0.0, 0.0]], dtype=D64, requires_grad=True)  # a == p
    n = torch.tensor([[1.5, 2.0], [0.0, 0.0]], dtype=D64, requires_grad=True)
    for distance in ("euclidean", "cosine"):
        for swap in (False, True):
            out = triplet_loss(a, p, n, distance=distance, swap=swap, reduction="none")
            assert torch.isfinite(out).all()
            grads = torch.autograd.grad(out.sum(), (a, p, n))
            assert all(torch.isfinite(g).all() for g in grads), (distance, swap)
    # Euclidean, a == p: loss = 0 - 0.5 + 1; the anchor is pushed away from n by a unit vector
    out = triplet_loss(a[:1], p[:1], n[:1], reduction="none")
    assert out.item() == pytest.approx(0.5)
    ga, gp, _ = torch.autograd.grad(out.sum(), (a, p, n))
    torch.testing.assert_close(ga[0], torch.tensor([1.0, 0.0], dtype=D64))
    assert (gp[0] == 0).all()
    # cosine, all-zero triplet: both distances are 1 (cosine 0), loss = margin, zero gradients
    out = triplet_loss(a[1:], p[1:], n[1:], distance="cosine", margin=0.3)
    assert out.item() == pytest.approx(0.3)
    assert all((g == 0).all() for g in torch.autograd.grad(out, (a, p, n)))


@pytest.mark.parametrize(("distance", "swap"), [("euclidean", True), ("cosine", False), ("cosine", True)])
def test_triplet_gradcheck_options(distance: str, swap: bool) -> None:
    a, p, n = _emb(6, 4, n=3, seed=18)
    w = torch.rand(6, dtype=D64)
    margin = 0.5 if distance == "cosine" else 1.0
    assert torch.autograd.gradcheck(
        lambda *t: triplet_loss(*t, margin=margin, distance=distance, swap=swap, weight=w, reduction="none"),
        tuple(t.requires_grad_(True) for t in (a, p, n)),
    )


@given(seed=st.integers(0, 10_000), shift=st.floats(-100, 100), scale=st.floats(1e-2, 1e2))
def test_triplet_invariances(seed: int, shift: float, scale: float) -> None:
    """Euclidean: invariant to translating all three; cosine: to rescaling each vector."""
    a, p, n = _emb(5, 4, n=3, seed=seed)
    base = triplet_loss(a, p, n, reduction="none")
    torch.testing.assert_close(
        triplet_loss(a + shift, p + shift, n + shift, reduction="none"), base, rtol=1e-9, atol=1e-9
    )
    cb = triplet_loss(a, p, n, distance="cosine", margin=0.3, reduction="none")
    torch.testing.assert_close(
        triplet_loss(scale * a, p / scale, n, distance="cosine", margin=0.3, reduction="none"),
        cb,
        rtol=1e-9,
        atol=1e-12,
    )
    assert (base >= 0).all() and (cb >= 0).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_triplet_half_precision(dtype: torch.dtype) -> None:
    a, p, n = _emb(32, 8, n=3, seed=19)
    half = [t.to(dtype) for t in (a, p, n)]
    for distance in ("euclidean", "cosine"):
        out = triplet_loss(*half, distance=distance, margin=0.5, reduction="none")
        assert out.dtype == torch.float32
        ref = triplet_loss(*(t.double() for t in half), distance=distance, margin=0.5, reduction="none")
        torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-5)


def test_triplet_errors() -> None:
    a, p, n = _emb(3, 4, n=3, seed=20)
    with pytest.raises(
        LosscraftError,
        match=r"triplet_loss: 'anchor' and 'negative' must have the same shape, "
        r"got anchor \(3, 4\) and negative \(3, 3\)",
    ):
        triplet_loss(a, p, n[:, :3])
    with pytest.raises(LosscraftError, match=r"'anchor' and 'positive' must have the same shape"):
        triplet_loss(a, p[:1], n)
    with pytest.raises(
        LosscraftError,
        match=r"triplet_loss: 'distance' must be one of 'euclidean', 'cosine', "
        r"got 'manhattan'",
    ):
        triplet_loss(a, p, n, distance="manhattan")  # type: ignore[arg-type]
    with pytest.raises(LosscraftError, match=r"triplet_loss: 'swap' must be one of False, True, got 1"):
        triplet_loss(a, p, n, swap=1)  # type: ignore[arg-type]
    with pytest.raises(
        LosscraftError, match=r"triplet_loss: 'margin' must be a float in \(0, inf\), got 0.0"
    ):
        triplet_loss(a, p, n, margin=0.0)
    with pytest.raises(LosscraftError, match=r"'weight' of shape \(3, 4\) must broadcast"):
        triplet_loss(a, p, n, weight=torch.ones(3, 4, dtype=D64))
    with pytest.raises(LosscraftError, match=r"'distance' must be one of"):
        TripletLoss(distance="l1")  # type: ignore[arg-type]


def test_triplet_module_and_registry() -> None:
    a, p, n = _emb(4, 3, n=3, seed=21)
    m = TripletLoss(margin=0.2, distance="cosine", swap=True)
    assert repr(m) == "TripletLoss(margin=0.2, distance='cosine', swap=True, reduction='mean')"
    torch.testing.assert_close(m(a, p, n), triplet_loss(a, p, n, margin=0.2, distance="cosine", swap=True))
    w = torch.tensor([1.0, 0.0, 2.0, 1.0], dtype=D64)
    torch.testing.assert_close(
        m(a, p, n, weight=w), triplet_loss(a, p, n, margin=0.2, distance="cosine", swap=True, weight=w)
    )
    assert losscraft.get("triplet_margin").module is TripletLoss


# -------------------------------------------------------- every normalising loss at extreme scales
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
