"""The shared numerics of ``losscraft._core.numerics``."""

from __future__ import annotations

import torch

import losscraft._core.numerics as numerics


def test_safe_norm_of_an_underflowing_row_is_not_zero() -> None:
    """Only an exact zero row has norm 0: a float32 row of 1e-25 (squares underflow) has its norm."""
    x = torch.tensor([[3e-25, 4e-25, 0.0], [0.0, 0.0, 0.0], [3.0, 4.0, 0.0]])
    torch.testing.assert_close(numerics.safe_norm(x), torch.tensor([5e-25, 0.0, 5.0]))
