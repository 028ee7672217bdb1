"""dice: loss-specific tests.

Most Dice tests run over dice and jaccard together (one implementation): ``test_family.py``.
The old product form of the soft Dice is written here, to show that it is not minimised at a
soft target (the semimetric form is).
"""

from __future__ import annotations

import pytest
import torch

import losscraft
import losscraft.functional as LF
from losscraft.losses.segmentation import dice_loss
from losses.segmentation.helpers import MODES, make_inputs, ref_unreduced, soft_case


def test_ignore_index_inside_class_range_ignores_pixels_not_the_class():
    # like torch's cross_entropy: ignore_index = 0 drops pixels labelled 0; class 0 stays in the
    # softmax, so predicting it on kept pixels is a false positive for class 0
    x, t = make_inputs("multiclass", seed=5)
    got = dice_loss(x, t, mode="multiclass", ignore_index=0, reduction="none")
    exp, keep = ref_unreduced("dice", x, t, mode="multiclass", smooth=1.0, ignore_index=0)
    torch.testing.assert_close(got, torch.where(keep, exp, 0.0))
    assert (got[:, 0] > 0).all()


@pytest.mark.parametrize("mode", MODES)
def test_sample_is_valid(mode):
    spec = losscraft.get("dice").spec
    for n in (0, 3):
        c = spec.sample(n, generator=torch.Generator().manual_seed(0), dtype=torch.float32, mode=mode)
        x, t = c.args
        assert x.shape[0] == n and x.dtype == torch.float32
        if mode == "multiclass":
            assert t.dtype == torch.long and t.shape == (n, *x.shape[2:])
        else:
            assert t.shape == x.shape and set(t.unique().tolist()) <= {0.0, 1.0}
        out = dice_loss(x, t, mode=mode, reduction="none")
        assert out.shape == (n, x.shape[1])


def product_form_dice(logits: torch.Tensor, y: torch.Tensor, smooth: float) -> torch.Tensor:
    """The usual soft Dice with the product intersection, per (sample, class)."""
    p = torch.sigmoid(logits.double())
    dims = tuple(range(2, p.dim()))
    return 1 - (2 * (p * y).sum(dims) + smooth) / (p.sum(dims) + y.sum(dims) + smooth)


def test_product_form_is_not_minimised_at_a_soft_target():
    # The failure that motivated the change: the product intersection gives ~0.35 at x == y.
    _, y = soft_case("multilabel", seed=2)
    at = torch.logit(y)
    old = product_form_dice(at, y, smooth=1.0)
    assert (old > 0.2).all()
    new = LF.dice_loss(at, y, mode="multilabel", reduction="none")
    assert new.abs().max() < 1e-12
    # the product form can even prefer a wrong, more confident prediction
    assert (product_form_dice(at + 2.0, y, smooth=1.0) < old).all()
