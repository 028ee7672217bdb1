"""mae: loss-specific tests (torch parity over reductions: ``test_family.py``)."""

from __future__ import annotations

import torch

import losscraft.functional as LF


def test_mae_subgradient_at_zero_matches_torch() -> None:
    x = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    LF.mae_loss(x, torch.zeros(3, dtype=torch.float64)).backward()
    assert torch.equal(x.grad, torch.zeros(3, dtype=torch.float64))
