"""squared_hinge: a float64 reference, torch's multi_margin_loss(p=2) on two-class logits, gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from losscraft import LosscraftError
from losscraft.losses.classification import SquaredHingeLoss, hinge_loss, squared_hinge_loss
from losses.classification.helpers import REDUCTIONS, TIGHT, D, _gen


def _case(seed: int, shape=(9,)):
    g = _gen(seed)
    x = torch.randn(shape, generator=g, dtype=D) * 2.0
    y = torch.randint(0, 2, shape, generator=g).to(D)
    return x, y


@pytest.mark.parametrize("margin", [1.0, 2.5])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_reference(margin: float, reduction: str) -> None:
    x, y = _case(1, (12,))
    vals = [max(0.0, margin - (2 * yi - 1) * xi) ** 2 for xi, yi in zip(x.tolist(), y.tolist(), strict=True)]
    v = torch.tensor(vals, dtype=D)
    ref = {"none": v, "sum": v.sum(), "mean": v.mean()}[reduction]
    torch.testing.assert_close(squared_hinge_loss(x, y, margin=margin, reduction=reduction), ref, **TIGHT)


def test_is_the_square_of_hinge_and_twice_torch_multi_margin_p2() -> None:
    x, y = _case(2, (40,))
    h = hinge_loss(x, y, reduction="none")
    torch.testing.assert_close(squared_hinge_loss(x, y, reduction="none"), h * h, **TIGHT)
    two = torch.stack([torch.zeros_like(x), x], dim=1)
    torch.testing.assert_close(
        squared_hinge_loss(x, y, reduction="none"),
        2.0 * F.multi_margin_loss(two, y.long(), p=2, reduction="none"),
        **TIGHT,
    )


def test_gradient_and_gradcheck() -> None:
    x, y = _case(3, (30,))
    xg = x.clone().requires_grad_(True)
    squared_hinge_loss(xg, y, reduction="sum").backward()
    s = 2.0 * y - 1.0
    torch.testing.assert_close(xg.grad, -2.0 * s * torch.relu(1.0 - s * x), **TIGHT)
    w = torch.rand(30, generator=_gen(4), dtype=D)
    assert torch.autograd.gradcheck(
        lambda a: squared_hinge_loss(a, y, margin=0.5, weight=w), (x.clone().requires_grad_(True),)
    )


def test_errors_and_module() -> None:
    with pytest.raises(LosscraftError, match="squared_hinge_loss: 'target' must contain only labels 0 or 1"):
        squared_hinge_loss(torch.zeros(2), torch.tensor([-1.0, 1.0]))
    with pytest.raises(LosscraftError, match="margin"):
        squared_hinge_loss(torch.zeros(2), torch.zeros(2), margin=float("nan"))
    x, y = _case(5)
    torch.testing.assert_close(SquaredHingeLoss(margin=2.0)(x, y), squared_hinge_loss(x, y, margin=2.0))
