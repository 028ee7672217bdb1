"""cosface: equal to ``F.cross_entropy`` on the scaled, margin-shifted cosines.

CosFace (Wang et al. 2018). Margin heads take cosines (validated in [-1, 1] up to 0.01), not
logits. Tests shared with arcface (finite at +-1, gradcheck, errors, Modules): ``test_family.py``.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from losscraft.losses.embedding import cosface_loss
from losses.embedding.helpers import D64, _assert_value_and_grad, _cos_batch, ref_margin_ce


@pytest.mark.parametrize(("s", "m"), [(64.0, 0.35), (30.0, 0.1), (16.0, 0.0)])
def test_cosface_matches_torch_cross_entropy(s: float, m: float) -> None:
    cos, y = _cos_batch(seed=32)
    ref = ref_margin_ce(cos, y, s, lambda c: c - m)
    torch.testing.assert_close(
        cosface_loss(cos, y, scale=s, margin=m, reduction="none"), ref, rtol=1e-10, atol=1e-9
    )
    for red in ("mean", "sum", "none"):
        _assert_value_and_grad(
            lambda c, r=red: cosface_loss(c, y, scale=s, margin=m, reduction=r).sum(),
            lambda c, r=red: F.cross_entropy(s * (c - m * F.one_hot(y, 5).to(D64)), y, reduction=r).sum(),
            (cos,),
        )
