"""focal_tversky: Abraham & Khan's Keras ``focal_tversky`` written out, gradients near perfect.

Abraham & Khan's code puts its alpha=0.7 on false negatives, i.e. our beta=0.7.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from losscraft.losses.segmentation import focal_tversky_loss, tversky_loss
from losses.segmentation.helpers import make_inputs


def test_focal_tversky_abraham_khan_code_written_out():
    """Abraham & Khan's Keras code (github.com/nabsabraham/focal-tversky-unet, losses.py).

    tversky(): flatten the whole batch, alpha = 0.7 on the FALSE NEGATIVES, (1 - alpha) on
    the false positives, smooth = 1; focal_tversky(): (1 - tversky)^0.75. In our orientation
    that is alpha=0.3 (FP), beta=0.7 (FN), gamma=4/3, aggregate='batch': the defaults.
    """
    x, t = make_inputs("binary", n=3, spatial=(5, 5), seed=8)
    y_pred_pos = torch.sigmoid(x).flatten()
    y_true_pos = t.flatten()
    true_pos = (y_true_pos * y_pred_pos).sum()
    false_neg = (y_true_pos * (1 - y_pred_pos)).sum()
    false_pos = ((1 - y_true_pos) * y_pred_pos).sum()
    alpha, smooth = 0.7, 1.0
    pt_1 = (true_pos + smooth) / (true_pos + alpha * false_neg + (1 - alpha) * false_pos + smooth)
    expected = (1 - pt_1) ** 0.75
    torch.testing.assert_close(focal_tversky_loss(x, t, aggregate="batch"), expected, rtol=1e-12, atol=0)
    torch.testing.assert_close(tversky_loss(x, t, aggregate="batch"), 1 - pt_1, rtol=1e-12, atol=0)


@pytest.mark.parametrize("gamma", [4 / 3, 3.0, 10.0, 0.5])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16])
def test_focal_tversky_perfect_prediction_has_finite_gradients(gamma, dtype):
    """TI = 1 exactly: (1 - TI)^(1/gamma) has infinite slope at 0 for gamma > 1."""
    t = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]], dtype=torch.float64)
    for scale in (1e4, 60.0, 30.0):
        x = ((2 * t - 1) * scale).to(dtype).requires_grad_(True)
        for mode_kw in ({}, {"smooth": 0.0}, {"aggregate": "batch"}):
            out = focal_tversky_loss(x, t.to(dtype), gamma=gamma, **mode_kw)
            (g,) = torch.autograd.grad(out, x)
            assert torch.isfinite(out) and torch.isfinite(g).all(), (scale, mode_kw)
            if gamma <= 3.0:  # (1 - TI)^(1/10) at logits of 30 is still ~0.05
                assert out.item() < 1e-3
    # multiclass: a saturated softmax
    tm = torch.tensor([[0, 1, 2, 1]])
    xm = (F.one_hot(tm, 3).movedim(-1, 1).double() * 2e4 - 1e4).to(dtype).requires_grad_(True)
    out = focal_tversky_loss(xm, tm, mode="multiclass", gamma=gamma)
    (g,) = torch.autograd.grad(out, xm)
    assert out.item() == 0.0 and torch.isfinite(g).all()


def test_focal_tversky_gradient_near_perfect_is_larger_than_tversky():
    """gamma > 1: the exponent 1/gamma < 1 keeps the gradient up as TI -> 1."""
    t = torch.tensor([[1.0, 1.0, 0.0, 0.0]], dtype=torch.float64)
    x = torch.tensor([[4.0, 5.0, -4.0, -5.0]], dtype=torch.float64)
    ga = torch.autograd.grad(focal_tversky_loss(x.requires_grad_(True), t), x)[0]
    x2 = x.detach().requires_grad_(True)
    gb = torch.autograd.grad(tversky_loss(x2, t), x2)[0]
    assert ga.abs().sum() > 2 * gb.abs().sum()
