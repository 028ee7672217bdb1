"""batch_triplet: triplets mined in the batch against a brute-force loop reference.

References: triplets by brute-force enumeration (Schroff et al. 2015; Hermans et al. 2017) and
``torch.cdist`` for distances. "mean" averages over all mined triplets per anchor
(pytorch-metric-learning: over non-zero ones). The miner itself: ``test_mining.py``.
"""

from __future__ import annotations

import pytest
import torch

from losscraft import LosscraftError
from losscraft.losses.embedding import (
    BatchTripletLoss,
    batch_triplet_loss,
    mine_triplets,
    pairwise_distances,
    triplet_loss,
)
from losses.embedding.helpers import D64, _assert_value_and_grad, _grads, _randn, brute_force_triplets


def _ref_dist(u: torch.Tensor, v: torch.Tensor, kind: str, normalize: bool) -> torch.Tensor:
    if normalize or kind == "cosine":
        u, v = u / torch.sqrt((u * u).sum()), v / torch.sqrt((v * v).sum())
    if kind == "cosine":
        return 1 - (u * v).sum()
    sq = ((u - v) ** 2).sum()
    return sq if kind == "squared" else torch.sqrt(sq)


def ref_batch_triplet(x, labels, margin, mining, kind, normalize):
    """Per-anchor mean hinge over brute-force-mined triplets, and the kept-anchor mask."""
    n = len(labels)
    d = torch.stack(
        [
            torch.stack(
                [_ref_dist(x[i], x[j], kind, normalize) if i != j else x.new_zeros(()) for j in range(n)]
            )
            for i in range(n)
        ]
    )
    triplets = brute_force_triplets(d.detach(), labels, mining, margin)
    vals, keep = [], []
    for a in range(n):
        mine = [(p, k) for (aa, p, k) in triplets if aa == a]
        hinges = [torch.clamp(d[a, p] - d[a, k] + margin, min=0) for p, k in mine]
        vals.append(sum(hinges) / len(hinges) if hinges else x.new_zeros(()))
        keep.append(
            any(labels[p] == labels[a] for p in range(n) if p != a)
            and any(labels[k] != labels[a] for k in range(n))
        )
    return torch.stack(vals), torch.tensor(keep)


@pytest.mark.parametrize("mining", ["all", "hard", "semihard"])
@pytest.mark.parametrize(
    ("kind", "normalize", "margin"),
    [("squared", True, 0.2), ("euclidean", False, 1.0), ("cosine", False, 0.3), ("euclidean", True, 0.5)],
)
def test_batch_triplet_matches_loop_reference(mining: str, kind: str, normalize: bool, margin: float) -> None:
    labels = [0, 0, 0, 1, 1, 2, 2, 3]
    y = torch.tensor(labels)
    x = _randn(8, 4, seed=24)
    kw = {"margin": margin, "mining": mining, "distance": kind, "normalize": normalize}
    ref, keep = ref_batch_triplet(x, labels, margin, mining, kind, normalize)
    torch.testing.assert_close(batch_triplet_loss(x, y, reduction="none", **kw), ref)
    torch.testing.assert_close(batch_triplet_loss(x, y, **kw), ref[keep].mean())
    assert ref.abs().sum() > 0, "the case must exercise active triplets"
    _assert_value_and_grad(
        lambda a: batch_triplet_loss(a, y, **kw),
        lambda a: ref_batch_triplet(a, labels, margin, mining, kind, normalize)[0][keep].mean(),
        (x,),
    )


def test_batch_triplet_hard_equals_triplet_loss_on_mined_triplets() -> None:
    x = _randn(6, 3, seed=25, scale=0.5)
    y = torch.tensor([0, 0, 1, 1, 2, 2])
    kw = {"margin": 1.0, "distance": "euclidean", "normalize": False}
    a, p, n = mine_triplets(pairwise_distances(x), y, "hard")
    assert a.tolist() == list(range(6))
    explicit = triplet_loss(x[a], x[p], x[n], margin=1.0, reduction="none")
    _assert_value_and_grad(
        lambda t: batch_triplet_loss(t, y, mining="hard", reduction="none", **kw).sum(),
        lambda t: triplet_loss(t[a], t[p], t[n], margin=1.0, reduction="none").sum(),
        (x,),
    )
    torch.testing.assert_close(batch_triplet_loss(x, y, mining="hard", reduction="none", **kw), explicit)


def test_batch_triplet_all_on_pk_batch_is_mean_over_triplets_vs_pml_nonzero() -> None:
    """P x K batch: per-anchor means average to the all-triplet mean; PML averages non-zero."""
    x = _randn(9, 3, seed=26)
    y = torch.arange(9) // 3  # P = 3 identities, K = 3 images
    d = pairwise_distances(x, "squared", normalize=True)
    a, p, n = mine_triplets(d, y, "all")
    hinge = (d[a, p] - d[a, n] + 0.2).clamp_min(0)
    torch.testing.assert_close(batch_triplet_loss(x, y), hinge.mean())
    pml_avg_nonzero = hinge.sum() / (hinge > 0).sum()
    assert pml_avg_nonzero > batch_triplet_loss(x, y)


@pytest.mark.parametrize("labels", [[0, 0, 0, 0], [0, 1, 2, 3], [5], []])
@pytest.mark.parametrize("mining", ["all", "hard", "semihard"])
def test_batch_triplet_no_valid_triplet_is_zero_attached(labels: list[int], mining: str) -> None:
    y = torch.tensor(labels, dtype=torch.long)
    x = _randn(len(labels), 3, seed=27).requires_grad_(True)
    for red in ("mean", "sum"):
        out = batch_triplet_loss(x, y, mining=mining, reduction=red)
        assert out.item() == 0.0 and out.requires_grad
        (g,) = torch.autograd.grad(out, x)
        assert torch.isfinite(g).all() and (g == 0).all()


def test_batch_triplet_semihard_window_only() -> None:
    # 1-D embeddings, euclidean: d(a,p) = 1, negatives at 0.5 (hard), 1.5 (semi-hard), 3 (easy)
    x = torch.tensor([[0.0], [1.0], [0.5], [1.5], [3.0], [-7.0]], dtype=D64)
    y = torch.tensor([0, 0, 1, 2, 3, 0])
    kw = {"margin": 1.0, "distance": "euclidean", "normalize": False, "reduction": "none"}
    out = batch_triplet_loss(x, y, mining="semihard", **kw)
    # anchor 0: positives 1 (d=1) and 5 (d=7); with p = 1 only n = 3 (1.5) is semi-hard
    assert out[0].item() == pytest.approx(0.5)


def test_batch_triplet_zero_distance_and_zero_embedding_finite() -> None:
    x = _randn(6, 3, seed=28)
    x[1] = x[0]  # a positive at distance 0
    x[4] = 0.0  # a zero embedding
    y = torch.tensor([0, 0, 1, 1, 2, 2])
    for kind in ("euclidean", "squared", "cosine"):
        for normalize in (False, True):
            v, (g,) = _grads(
                lambda a, k=kind, nz=normalize: batch_triplet_loss(
                    a, y, distance=k, normalize=nz, margin=0.5
                ),
                x,
            )
            assert torch.isfinite(v) and torch.isfinite(g).all(), (kind, normalize)
            assert g.abs().max() < 1e3


@pytest.mark.parametrize("mining", ["all", "hard", "semihard"])
@pytest.mark.parametrize("kind", ["euclidean", "squared", "cosine"])
def test_batch_triplet_gradcheck(mining: str, kind: str) -> None:
    x = _randn(6, 3, seed=29).requires_grad_(True)
    y = torch.tensor([0, 0, 1, 1, 1, 2])
    kw = {"mining": mining, "distance": kind, "margin": 0.8}
    assert batch_triplet_loss(x, y, **kw).item() > 0
    for red in ("mean", "none"):
        assert torch.autograd.gradcheck(lambda a, r=red: batch_triplet_loss(a, y, reduction=r, **kw), (x,))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_batch_triplet_half_precision(dtype: torch.dtype) -> None:
    x = _randn(12, 8, seed=30).float()
    y = torch.arange(12) // 3
    for mining in ("all", "hard"):
        ref = batch_triplet_loss(x.to(dtype).double(), y, mining=mining)
        out = batch_triplet_loss(x.to(dtype), y, mining=mining)
        assert out.dtype == torch.float32
        torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-6)


def test_batch_triplet_errors_and_module() -> None:
    x = _randn(4, 3)
    y = torch.tensor([0, 0, 1, 1])
    with pytest.raises(
        LosscraftError,
        match=r"batch_triplet_loss: 'target' must have shape \(4,\) \(one label per embedding\), got \(4, 1\)",
    ):
        batch_triplet_loss(x, y[:, None])
    with pytest.raises(
        LosscraftError,
        match="batch_triplet_loss: 'mining' must be one of 'all', 'hard', 'semihard', got 'random'",
    ):
        batch_triplet_loss(x, y, mining="random")  # type: ignore[arg-type]
    with pytest.raises(
        LosscraftError,
        match="batch_triplet_loss: 'distance' must be one of 'euclidean', 'squared', 'cosine', got 'l1'",
    ):
        batch_triplet_loss(x, y, distance="l1")  # type: ignore[arg-type]
    with pytest.raises(
        LosscraftError, match=r"batch_triplet_loss: 'margin' must be a float in \(0, inf\), got 0"
    ):
        batch_triplet_loss(x, y, margin=0)
    with pytest.raises(
        LosscraftError, match="batch_triplet_loss: 'normalize' must be one of False, True, got 1"
    ):
        batch_triplet_loss(x, y, normalize=1)  # type: ignore[arg-type]
    with pytest.raises(LosscraftError, match=r"batch_triplet_loss: 'weight' of shape \(3,\) must broadcast"):
        batch_triplet_loss(x, y, weight=torch.ones(3, dtype=D64))
    m = BatchTripletLoss(mining="hard", margin=0.5)
    torch.testing.assert_close(m(x, y), batch_triplet_loss(x, y, mining="hard", margin=0.5))
    assert "mining='hard'" in repr(m)
