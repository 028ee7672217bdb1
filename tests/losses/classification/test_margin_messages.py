"""The margin losses' one-class errors point to the margin losses that fit, not to a softmax loss."""

from __future__ import annotations

import pytest
import torch

import losscraft.functional as LF
from losscraft import LosscraftError


@pytest.mark.parametrize("fn", ["multi_margin_loss", "crammer_singer_loss"])
def test_one_class_scores_point_to_the_binary_margin_losses(fn: str) -> None:
    with pytest.raises(LosscraftError, match=r"C >= 2 class scores") as info:
        getattr(LF, fn)(torch.randn(4, 1), torch.zeros(4, dtype=torch.long))
    message = str(info.value)
    assert "hinge_loss or squared_hinge_loss" in message and "got (4, 1)" in message
    assert "softmax" not in message and "bce_with_logits" not in message


@pytest.mark.parametrize("fn", ["hinge_loss", "squared_hinge_loss"])
def test_binary_margin_losses_take_one_score_per_sample_of_a_single_class(fn: str) -> None:
    # all labels 1: a valid binary batch (one class present), not an error
    value = getattr(LF, fn)(torch.randn(4), torch.ones(4))
    assert torch.isfinite(value)
