"""charbonnier: equal to the pseudo-Huber loss up to a factor delta squared."""

from __future__ import annotations

import torch

from losscraft.losses.regression import charbonnier_loss
from losses.regression.helpers import _spread_pair


def test_charbonnier_is_pseudo_huber_up_to_delta_squared() -> None:
    x, y = _spread_pair(3)
    for delta in (0.5, 2.0):
        pseudo_huber = delta**2 * (torch.sqrt(1 + ((x - y) / delta) ** 2) - 1)
        torch.testing.assert_close(
            delta**2 * charbonnier_loss(x, y, scale=delta, reduction="none"), pseudo_huber
        )
