"""jaccard (soft IoU): loss-specific tests.

Most Jaccard tests run over dice and jaccard together (one implementation): ``test_family.py``.
"""

from __future__ import annotations

import pytest
import torch

from losscraft.losses.segmentation import dice_loss, jaccard_loss
from losses.segmentation.helpers import MODES, make_inputs


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("aggregate", ["sample", "batch"])
def test_jaccard_is_dice_over_two_minus_dice_at_smooth_0(mode, aggregate):
    x, t = make_inputs(mode, seed=3)
    d = 1 - dice_loss(x, t, mode=mode, smooth=0.0, aggregate=aggregate, reduction="none")
    j = 1 - jaccard_loss(x, t, mode=mode, smooth=0.0, aggregate=aggregate, reduction="none")
    torch.testing.assert_close(j, d / (2 - d), rtol=1e-12, atol=1e-14)
    assert (j <= d + 1e-15).all()
