"""Loss-specific tests for the embedding family: cosine_similarity, cosine_embedding,
contrastive, triplet.

References used here:
* torch: ``1 - F.cosine_similarity``, ``F.cosine_embedding_loss``, ``F.triplet_margin_loss``
  and ``F.triplet_margin_with_distance_loss`` (values and gradients, float64);
* independent float64 loops written from Hadsell, Chopra & LeCun (2006) (contrastive) and
  from the triplet/cosine definitions.

Convention differences vs torch (asserted below):
* ``F.triplet_margin_loss`` measures ``||a - p + eps||`` with ``eps = 1e-6``; losscraft's
  Euclidean distance is exact. With ``eps=0`` torch matches to float64 precision; with the
  default eps the values differ by O(1e-6).
* Zero vectors: losscraft gives cosine 0 with zero gradient; torch clamps the denominator
  (``cosine_similarity``: eps 1e-8; ``cosine_embedding_loss``: adds 1e-12 to squared norms).
* Paired inputs must have identical shapes (torch broadcasts some of them).
* Contrastive labels: 1 = similar (Hadsell et al. use Y = 0 for similar pairs).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import losscraft
from losscraft import LosscraftError
from losscraft.losses.embedding import (
    ContrastiveLoss,
    CosineEmbeddingLoss,
    CosineSimilarityLoss,
    TripletLoss,
    contrastive_loss,
    cosine_embedding_loss,
    cosine_similarity_loss,
    triplet_loss,
)

D64 = torch.float64


def _emb(*shape: int, n: int = 2, seed: int = 0, scale: float = 1.0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [scale * torch.randn(shape, generator=g, dtype=D64) for _ in range(n)]


def _grad(fn, *tensors):
    ts = [t.detach().clone().requires_grad_(True) for t in tensors]
    out = fn(*ts)
    grads = torch.autograd.grad(out, ts)
    return out.detach(), grads


def _assert_same(fn_a, fn_b, tensors, rtol=1e-10, atol=1e-12) -> None:
    va, ga = _grad(fn_a, *tensors)
    vb, gb = _grad(fn_b, *tensors)
    torch.testing.assert_close(va, vb, rtol=rtol, atol=atol)
    for a, b in zip(ga, gb, strict=True):
        torch.testing.assert_close(a, b, rtol=rtol, atol=atol)


# =========================================================================== cosine_similarity
@pytest.mark.parametrize("shape", [(7, 6), (2, 3, 4), (5,)])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_cosine_similarity_parity_with_torch(shape: tuple[int, ...], reduction: str) -> None:
    x, y = _emb(*shape, seed=1)

    def ref(a, b):
        v = 1 - F.cosine_similarity(a, b, dim=-1)
        return {"none": v, "sum": v.sum(), "mean": v.mean()}[reduction]

    _assert_same(
        lambda a, b: cosine_similarity_loss(a, b, reduction=reduction).sum(),
        lambda a, b: ref(a, b).sum(),
        (x, y),
    )
    assert cosine_similarity_loss(x, y, reduction="none").shape == shape[:-1]


def test_cosine_similarity_numpy_reference() -> None:
    x, y = _emb(6, 3, seed=2)
    ref = [
        1 - float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))
        for a, b in zip(x.numpy(), y.numpy(), strict=True)
    ]
    np.testing.assert_allclose(
        cosine_similarity_loss(x, y, reduction="none").numpy(), ref, rtol=1e-12, atol=1e-14
    )


def test_cosine_similarity_zero_vectors_finite() -> None:
    x = torch.tensor([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [1e-9, 0.0, 0.0]], dtype=D64)
    y = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]], dtype=D64)
    xr, yr = x.clone().requires_grad_(True), y.clone().requires_grad_(True)
    out = cosine_similarity_loss(xr, yr, reduction="none")
    # an exact zero vector has cosine 0 with anything: loss 1, zero gradient; a short vector
    # (1e-9) still has a direction: aligned with y, loss 0 (and a zero gradient there too)
    torch.testing.assert_close(out, torch.tensor([1.0, 1.0, 1.0, 0.0], dtype=D64))
    out.sum().backward()
    assert torch.isfinite(xr.grad).all() and torch.isfinite(yr.grad).all()
    assert (xr.grad == 0).all() and (yr.grad == 0).all()


@given(
    c1=st.floats(1e-3, 1e3),
    c2=st.floats(1e-3, 1e3),
    seed=st.integers(0, 10_000),
)
def test_cosine_similarity_scale_invariant(c1: float, c2: float, seed: int) -> None:
    x, y = _emb(4, 5, seed=seed)
    base = cosine_similarity_loss(x, y, reduction="none")
    torch.testing.assert_close(
        cosine_similarity_loss(c1 * x, c2 * y, reduction="none"), base, rtol=1e-9, atol=1e-12
    )
    assert ((base >= -1e-12) & (base <= 2 + 1e-12)).all()


def test_cosine_similarity_half_precision_large_values() -> None:
    """fp16 embeddings of size 3e4: the squared norm (~1e9) overflows fp16, not float32."""
    x, y = _emb(8, 16, seed=3, scale=1.0)
    x = (x / x.abs().max() * 3e4).half()
    y = y.half()
    xr = x.clone().requires_grad_(True)
    out = cosine_similarity_loss(xr, y, reduction="none")
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    torch.testing.assert_close(
        out.double(), cosine_similarity_loss(x.double(), y.double(), reduction="none"), rtol=1e-5, atol=1e-6
    )
    out.sum().backward()
    assert torch.isfinite(xr.grad).all()


def test_cosine_similarity_gradcheck_and_weight() -> None:
    x, y = _emb(2, 3, 4, seed=4)
    w = torch.rand(2, 3, dtype=D64)
    assert torch.autograd.gradcheck(
        lambda a, b: cosine_similarity_loss(a, b, weight=w, reduction="none"),
        (x.requires_grad_(True), y.requires_grad_(True)),
    )
    none = cosine_similarity_loss(x, y, reduction="none")
    torch.testing.assert_close(cosine_similarity_loss(x, y, weight=w), (w * none).sum() / w.sum())


def test_cosine_similarity_errors() -> None:
    with pytest.raises(
        LosscraftError,
        match=r"cosine_similarity_loss: 'input' and 'target' must have the same "
        r"shape, got input \(3, 4\) and target \(1, 4\)",
    ):
        cosine_similarity_loss(torch.ones(3, 4), torch.ones(1, 4))
    with pytest.raises(LosscraftError, match="'input' must have shape \\(\\*, D\\)"):
        cosine_similarity_loss(torch.tensor(1.0), torch.tensor(1.0))
    with pytest.raises(LosscraftError, match="'target' must be a floating-point tensor"):
        cosine_similarity_loss(torch.ones(3, 4), torch.ones(3, 4, dtype=torch.long))
    assert repr(CosineSimilarityLoss()) == "CosineSimilarityLoss(reduction='mean')"


# =========================================================================== cosine_embedding
@pytest.mark.parametrize("margin", [-0.5, 0.0, 0.3, 1.0])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("target_dtype", [D64, torch.long])
def test_cosine_embedding_parity_with_torch(margin: float, reduction: str, target_dtype: torch.dtype) -> None:
    x1, x2 = _emb(10, 6, seed=5)
    y = torch.tensor([1, -1] * 5, dtype=target_dtype)
    _assert_same(
        lambda a, b: cosine_embedding_loss(a, b, y, margin=margin, reduction=reduction).sum(),
        lambda a, b: F.cosine_embedding_loss(a, b, y, margin=margin, reduction=reduction).sum(),
        (x1, x2),
    )


def test_cosine_embedding_unbatched_parity() -> None:
    x1, x2 = _emb(6, seed=6)
    for y in (torch.tensor(1.0, dtype=D64), torch.tensor(-1.0, dtype=D64)):
        out = cosine_embedding_loss(x1, x2, y, margin=-0.2, reduction="none")
        assert out.shape == ()
        torch.testing.assert_close(out, F.cosine_embedding_loss(x1, x2, y, margin=-0.2, reduction="none"))


def test_cosine_embedding_relations_and_zero_vectors() -> None:
    x1, x2 = _emb(5, 4, seed=7)
    ones = torch.ones(5, dtype=D64)
    torch.testing.assert_close(
        cosine_embedding_loss(x1, x2, ones, reduction="none"),
        cosine_similarity_loss(x1, x2, reduction="none"),
    )
    z = torch.zeros(2, 3, dtype=D64, requires_grad=True)
    v = torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]], dtype=D64, requires_grad=True)
    out = cosine_embedding_loss(z, v, torch.tensor([1.0, -1.0], dtype=D64), margin=-0.25, reduction="none")
    torch.testing.assert_close(out, torch.tensor([1.0, 0.25], dtype=D64))  # cos(0, v) = 0
    out.sum().backward()
    assert torch.isfinite(z.grad).all() and torch.isfinite(v.grad).all()


def test_cosine_embedding_gradcheck() -> None:
    x1, x2 = _emb(6, 4, seed=8)
    y = torch.tensor([1.0, -1.0, -1.0, 1.0, -1.0, -1.0], dtype=D64)
    w = torch.rand(6, dtype=D64)
    assert torch.autograd.gradcheck(
        lambda a, b: cosine_embedding_loss(a, b, y, margin=-0.3, weight=w, reduction="none"),
        (x1.requires_grad_(True), x2.requires_grad_(True)),
    )


@pytest.mark.parametrize("bad", [0.0, 2.0, 0.5])
def test_cosine_embedding_bad_target_value(bad: float) -> None:
    x1, x2 = _emb(3, 4, seed=9)
    y = torch.tensor([1.0, bad, -1.0])
    with pytest.raises(
        LosscraftError,
        match=rf"cosine_embedding_loss: 'target' must contain only -1 \(dissimilar\) or 1 \(similar\), "
        rf"got {bad:g}$",
    ):
        cosine_embedding_loss(x1, x2, y)


def test_cosine_embedding_other_errors() -> None:
    x1, x2 = _emb(3, 4, seed=10)
    with pytest.raises(
        LosscraftError,
        match=r"cosine_embedding_loss: 'target' must have shape \(3,\) \(the "
        r"inputs' shape without the embedding dimension\), got \(3, 1\)",
    ):
        cosine_embedding_loss(x1, x2, torch.ones(3, 1))
    with pytest.raises(LosscraftError, match=r"'input1' and 'input2' must have the same shape"):
        cosine_embedding_loss(x1, x2[:, :3], torch.ones(3))
    with pytest.raises(LosscraftError, match=r"'target' must be a torch.Tensor, got list"):
        cosine_embedding_loss(x1, x2, [1, 1, 1])  # type: ignore[arg-type]
    with pytest.raises(
        LosscraftError, match=r"cosine_embedding_loss: 'margin' must be a float in \[-1, 1\], got 1.5"
    ):
        cosine_embedding_loss(x1, x2, torch.ones(3), margin=1.5)
    with pytest.raises(LosscraftError, match=r"'margin' must be a float in \[-1, 1\], got -2"):
        CosineEmbeddingLoss(margin=-2)
    assert repr(CosineEmbeddingLoss(margin=0.5)) == "CosineEmbeddingLoss(margin=0.5, reduction='mean')"


# =========================================================================== contrastive
def _contrastive_ref(x1: torch.Tensor, x2: torch.Tensor, y: torch.Tensor, m: float):
    """Hadsell et al. (2006), Eq. 4 with the paper's Y = 1 - y; loss and dloss/dx1 per pair."""
    vals, grads = [], []
    for a, b, lab in zip(x1.tolist(), x2.tolist(), y.tolist(), strict=True):
        diff = [u - v for u, v in zip(a, b, strict=True)]
        dist = math.sqrt(sum(d * d for d in diff))
        Y = 1 - lab  # paper: Y = 0 similar, Y = 1 dissimilar
        vals.append((1 - Y) * 0.5 * dist**2 + Y * 0.5 * max(0.0, m - dist) ** 2)
        if Y == 0:
            grads.append(diff)
        elif dist < m:
            grads.append([-(m - dist) * d / dist for d in diff])
        else:
            grads.append([0.0] * len(diff))
    return torch.tensor(vals, dtype=D64), torch.tensor(grads, dtype=D64)


@pytest.mark.parametrize("margin", [0.5, 1.0, 2.0])
def test_contrastive_matches_paper_reference(margin: float) -> None:
    x1, noise = _emb(12, 3, seed=11)
    # distances spread from ~0.05 to ~4, so dissimilar pairs fall on both sides of every margin
    x2 = x1 + noise / noise.norm(dim=-1, keepdim=True) * torch.linspace(0.05, 4.0, 12, dtype=D64)[:, None]
    y = torch.tensor([1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0])
    ref_v, ref_g = _contrastive_ref(x1, x2, y, margin)
    assert (ref_v[y == 0] > 0).any() and (ref_v[y == 0] == 0).any()  # both sides of the margin
    xr = x1.clone().requires_grad_(True)
    out = contrastive_loss(xr, x2, y, margin=margin, reduction="none")
    torch.testing.assert_close(out.detach(), ref_v, rtol=1e-12, atol=1e-14)
    out.sum().backward()
    torch.testing.assert_close(xr.grad, ref_g, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(contrastive_loss(x1, x2, y, margin=margin), ref_v.mean())


def test_contrastive_label_dtypes_and_symmetry() -> None:
    x1, x2 = _emb(4, 3, seed=12)
    yf = torch.tensor([1.0, 0.0, 1.0, 0.0], dtype=D64)
    base = contrastive_loss(x1, x2, yf, reduction="none")
    for y in (yf.long(), yf.bool(), yf.float()):
        torch.testing.assert_close(contrastive_loss(x1, x2, y, reduction="none"), base)
    torch.testing.assert_close(contrastive_loss(x2, x1, yf, reduction="none"), base)


def test_contrastive_zero_distance_finite_gradients() -> None:
    a = torch.tensor([[0.3, -1.0, 2.0], [0.3, -1.0, 2.0]], dtype=D64)
    x1, x2 = a.clone().requires_grad_(True), a.clone().requires_grad_(True)
    out = contrastive_loss(x1, x2, torch.tensor([1, 0]), margin=2.0, reduction="none")
    torch.testing.assert_close(
        out.detach(), torch.tensor([0.0, 2.0], dtype=D64)
    )  # similar: 0; dissimilar: m^2/2
    out.sum().backward()
    assert torch.isfinite(x1.grad).all() and torch.isfinite(x2.grad).all()
    assert (x1.grad == 0).all()  # a subgradient: a cone tip for the dissimilar pair


def test_contrastive_gradcheck() -> None:
    x1, x2 = _emb(6, 3, seed=13, scale=0.5)
    y = torch.tensor([1, 0, 0, 1, 0, 0])
    assert torch.autograd.gradcheck(
        lambda a, b: contrastive_loss(a, b, y, margin=1.5, reduction="none"),
        (x1.requires_grad_(True), x2.requires_grad_(True)),
    )


@pytest.mark.parametrize("bad", [2, -1])
def test_contrastive_bad_target_value(bad: int) -> None:
    x1, x2 = _emb(3, 2, seed=14)
    with pytest.raises(
        LosscraftError,
        match=rf"contrastive_loss: 'target' must contain only 0 \(dissimilar\) or 1 \(similar\), got {bad}$",
    ):
        contrastive_loss(x1, x2, torch.tensor([1, bad, 0]))


def test_contrastive_other_errors() -> None:
    x1, x2 = _emb(3, 2, seed=15)
    with pytest.raises(LosscraftError, match=r"contrastive_loss: 'target' must have shape \(3,\)"):
        contrastive_loss(x1, x2, torch.ones(4))
    with pytest.raises(LosscraftError, match=r"'input1' must be a floating-point tensor"):
        contrastive_loss(x1.long(), x2, torch.ones(3))
    for bad in (0.0, -1.0, math.inf):
        with pytest.raises(
            LosscraftError, match=r"contrastive_loss: 'margin' must be a float in \(0, inf\), got"
        ):
            contrastive_loss(x1, x2, torch.ones(3), margin=bad)
    m = ContrastiveLoss(margin=0.5, reduction="sum")
    assert repr(m) == "ContrastiveLoss(margin=0.5, reduction='sum')"
    y = torch.tensor([1, 0, 1])
    torch.testing.assert_close(m(x1, x2, y), contrastive_loss(x1, x2, y, margin=0.5, reduction="sum"))


# =========================================================================== triplet
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
