"""margin_ranking: parity with ``torch.nn.functional.margin_ranking_loss`` (values and gradients)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from losscraft import LosscraftError
from losscraft.losses.ranking import MarginRankingLoss, margin_ranking_loss
from losses.ranking.helpers import f64


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("margin", [0.0, 0.5, -0.3])
def test_matches_torch_values_and_gradients(reduction: str, margin: float) -> None:
    g = torch.Generator().manual_seed(0)
    a0, b0 = torch.randn(2, 5, 3, generator=g, dtype=f64)
    y = torch.where(torch.rand(5, 3, generator=g) > 0.5, 1.0, -1.0).to(f64)
    outs = []
    for fn in (margin_ranking_loss, F.margin_ranking_loss):
        a, b = a0.clone().requires_grad_(True), b0.clone().requires_grad_(True)
        out = fn(a, b, y, margin=margin, reduction=reduction)
        out.sum().backward()
        outs.append((out.detach(), a.grad, b.grad))
    for u, v in zip(*outs, strict=True):
        torch.testing.assert_close(u, v, rtol=1e-14, atol=1e-14)


def test_module_matches_torch_module_and_weight() -> None:
    a, b = torch.randn(2, 8, dtype=f64)
    y = torch.tensor([1.0, -1.0] * 4, dtype=f64)
    torch.testing.assert_close(
        MarginRankingLoss(margin=0.2)(a, b, y), torch.nn.MarginRankingLoss(margin=0.2)(a, b, y)
    )
    w = torch.linspace(0.1, 2.0, 8, dtype=f64)
    per = F.margin_ranking_loss(a, b, y, reduction="none")
    torch.testing.assert_close(margin_ranking_loss(a, b, y, weight=w), (w * per).sum() / w.sum())


def test_target_must_be_plus_minus_one() -> None:
    a, b = torch.randn(2, 4)
    with pytest.raises(LosscraftError, match=r"margin_ranking_loss: 'target' must contain only -1"):
        margin_ranking_loss(a, b, torch.tensor([1.0, 0.0, -1.0, 1.0]))
    with pytest.raises(LosscraftError, match=r"margin_ranking_loss: 'target' must be a real tensor"):
        margin_ranking_loss(a, b, torch.ones(3))
