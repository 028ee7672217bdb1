"""cosine_embedding: parity with ``F.cosine_embedding_loss`` (values and gradients, float64).

Convention differences vs torch (asserted below):
* Zero vectors: cosine 0 with zero gradient; torch adds 1e-12 to the squared norms.
* Paired inputs must have identical shapes (torch broadcasts some of them).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from losscraft import LosscraftError
from losscraft.losses.embedding import CosineEmbeddingLoss, cosine_embedding_loss, cosine_similarity_loss
from losses.embedding.helpers import D64, _assert_same, _emb


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
