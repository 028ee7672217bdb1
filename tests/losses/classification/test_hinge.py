"""hinge: scikit-learn's ``hinge_loss`` parity, a float64 reference, gradients, labels and errors.

Labels are {0, 1} (the catalog's binary convention); the sign 2y - 1 is taken inside, so a
{-1, +1} label is an error, never silently read as a negative class.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import hinge_loss as sk_hinge_loss

from losscraft import LosscraftError
from losscraft.losses.classification import HingeLoss, crammer_singer_loss, hinge_loss
from losses.classification.helpers import REDUCTIONS, TIGHT, D, _gen


def _case(seed: int, shape=(9,)):
    g = _gen(seed)
    x = torch.randn(shape, generator=g, dtype=D) * 2.0
    y = torch.randint(0, 2, shape, generator=g).to(D)
    return x, y


def _ref_values(x: torch.Tensor, y: torch.Tensor, margin: float) -> list[float]:
    """max(0, m - s x) with s = +1 for label 1 and -1 for label 0, one position at a time."""
    return [
        max(0.0, margin - (1.0 if yi == 1.0 else -1.0) * xi)
        for xi, yi in zip(x.tolist(), y.tolist(), strict=True)
    ]


def test_matches_sklearn_hinge_loss() -> None:
    for seed in range(3):
        x, y = _case(seed, (40,))
        want = sk_hinge_loss(y.long().numpy(), x.numpy())
        assert hinge_loss(x, y).item() == pytest.approx(want, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("margin", [1.0, 0.5, 0.0])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_reference_and_weight(margin: float, reduction: str) -> None:
    x, y = _case(1, (3, 4))
    w = torch.rand((3, 1), generator=_gen(2), dtype=D) + 0.1
    vals = torch.tensor(_ref_values(x.flatten(), y.flatten(), margin), dtype=D).reshape(3, 4)
    wv = vals * w
    ref = {"none": wv, "sum": wv.sum(), "mean": wv.sum() / w.expand(3, 4).sum()}[reduction]
    torch.testing.assert_close(hinge_loss(x, y, margin=margin, weight=w, reduction=reduction), ref, **TIGHT)


def test_gradient_is_minus_the_sign_inside_the_margin() -> None:
    x, y = _case(3, (50,))
    x = x.clone().requires_grad_(True)
    hinge_loss(x, y, reduction="sum").backward()
    s = 2.0 * y - 1.0
    want = torch.where(s * x.detach() < 1.0, -s, torch.zeros_like(s))
    torch.testing.assert_close(x.grad, want, rtol=0, atol=0)


def test_equals_crammer_singer_and_twice_torch_multi_margin_on_two_class_logits() -> None:
    x, y = _case(4, (30,))
    two = torch.stack([torch.zeros_like(x), x], dim=1)
    torch.testing.assert_close(
        hinge_loss(x, y, reduction="none"), crammer_singer_loss(two, y.long(), reduction="none")
    )
    torch.testing.assert_close(
        hinge_loss(x, y, margin=0.7, reduction="none"),
        2.0 * F.multi_margin_loss(two, y.long(), margin=0.7, reduction="none"),
        **TIGHT,
    )


def test_is_not_torch_hinge_embedding_loss() -> None:
    # torch's hinge_embedding_loss takes a distance: x itself for y = 1, max(0, m - x) for y = -1
    x = torch.tensor([2.0, 0.5], dtype=D)
    y = torch.tensor([1.0, 1.0], dtype=D)
    emb = F.hinge_embedding_loss(x, 2.0 * y - 1.0, reduction="none")
    assert not torch.allclose(hinge_loss(x, y, reduction="none"), emb)


def test_half_precision_is_computed_in_float32() -> None:
    x, y = _case(5, (20,))
    for dt in (torch.float16, torch.bfloat16):
        out = hinge_loss(x.to(dt), y.to(dt), reduction="none")
        assert out.dtype == torch.float32
        torch.testing.assert_close(out, hinge_loss(x.to(dt).double(), y, reduction="none").float())


def test_sign_labels_are_rejected_with_a_clear_message() -> None:
    x = torch.zeros(3)
    with pytest.raises(LosscraftError, match=r"hinge_loss: 'target' must contain only labels 0 or 1.*got -1"):
        hinge_loss(x, torch.tensor([1.0, -1.0, 1.0]))
    with pytest.raises(LosscraftError, match="'target' must contain only labels 0 or 1.*got 0.5"):
        hinge_loss(x, torch.tensor([1.0, 0.5, 0.0]))
    with pytest.raises(LosscraftError, match="margin"):
        hinge_loss(x, torch.zeros(3), margin=-1.0)
    with pytest.raises(LosscraftError, match="same shape"):
        hinge_loss(x, torch.zeros(4))


def test_module() -> None:
    x, y = _case(6)
    torch.testing.assert_close(HingeLoss(margin=0.5)(x, y), hinge_loss(x, y, margin=0.5))
    assert HingeLoss(margin=0.5).get_config()["margin"] == 0.5
