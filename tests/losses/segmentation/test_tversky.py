"""tversky: float64 references from Salehi's paper and smp's code, relations to Dice.

References written in float64, independent of the library's code path (explicit one-hot
targets, TP/FP/FN summed directly rather than by subtraction). Conventions (asserted below):
* The orientation is Salehi's: alpha on false positives, beta on false negatives (Keras'
  tversky swaps them; Abraham & Khan's code puts its alpha=0.7 on FN = our beta=0.7).
* Tversky's smooth is (TP + s)/(... + s) (paper, smp); Dice's is (2TP + s)/(... + s), so
  tversky(alpha=beta=1/2, smooth=s) = dice(smooth=2s).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import losscraft.functional as LF
from losscraft.losses.segmentation import dice_loss, focal_tversky_loss, jaccard_loss, tversky_loss
from losses.segmentation.helpers import AGGS, MODES, make_inputs, ref_counts, ref_reduce, soft_case


def ref_tversky(x, t, *, mode, alpha, beta, smooth, gamma=1.0, ignore_index=None, aggregate="sample"):
    k = ref_counts(x, t, mode=mode, ignore_index=ignore_index, aggregate=aggregate)
    den = k["tp"] + alpha * k["fp"] + beta * k["fn"] + smooth
    # 1 - TI = (alpha FP + beta FN) / den: the same number as 1 - (TP + s)/den, without the
    # cancellation that makes 1 - TI exactly 0 for a tiny alpha FP (hypothesis finds alpha=1e-45)
    err = alpha * k["fp"] + beta * k["fn"]
    one_minus_ti = torch.where(den > 0, err / torch.where(den > 0, den, 1.0), 0.0)
    keep = k["count"] > 0 if ignore_index is not None else torch.ones_like(den, dtype=torch.bool)
    return one_minus_ti ** (1 / gamma), keep


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("aggregate", AGGS)
@pytest.mark.parametrize("ignore_index", [None, 255])
@pytest.mark.parametrize(
    ("alpha", "beta", "smooth", "gamma"),
    [(0.3, 0.7, 1.0, 4 / 3), (0.9, 0.1, 0.0, 0.5), (2.0, 0.5, 1e-5, 3.0)],
)
def test_tversky_matches_reference(mode, aggregate, ignore_index, alpha, beta, smooth, gamma):
    x, t = make_inputs(mode, ignore_index=ignore_index)
    kw = {"mode": mode, "smooth": smooth, "ignore_index": ignore_index, "aggregate": aggregate}
    c = 1 if mode == "binary" else 3
    w = torch.linspace(0.5, 2.0, c, dtype=torch.float64)
    for fn, gm in ((tversky_loss, 1.0), (focal_tversky_loss, gamma)):
        extra = {} if fn is tversky_loss else {"gamma": gamma}
        for reduction, weight in (("none", None), ("sum", None), ("mean", None), ("mean", w), ("none", w)):
            xa = x.clone().requires_grad_(True)
            xb = x.clone().requires_grad_(True)
            got = fn(xa, t, alpha=alpha, beta=beta, weight=weight, reduction=reduction, **extra, **kw)
            ref, keep = ref_tversky(xb, t, alpha=alpha, beta=beta, gamma=gm, **kw)
            exp = ref_reduce(ref, keep, reduction, weight)
            torch.testing.assert_close(got, exp, rtol=1e-10, atol=1e-12)
            if reduction == "none":
                continue
            got.backward()
            exp.backward()
            torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-8, atol=1e-12)


def test_tversky_salehi_paper_notation():
    """Salehi et al. eq. (3): T = sum p0 g0 / (sum p0 g0 + a sum p0 g1 + b sum p1 g0).

    p0: probability of lesion, p1 = 1 - p0; g0: lesion mask, g1 = 1 - g0 (so p0 g1 = FP).
    """
    x, t = make_inputs("binary", n=2, seed=4)
    for a, b in ((0.3, 0.7), (0.8, 0.2)):
        out = tversky_loss(x, t, alpha=a, beta=b, smooth=0.0, reduction="none")
        for i in range(2):
            p0 = torch.sigmoid(x[i]).flatten().tolist()
            g0 = t[i].flatten().tolist()
            num = sum(pp * gg for pp, gg in zip(p0, g0, strict=True))
            fp = sum(pp * (1 - gg) for pp, gg in zip(p0, g0, strict=True))
            fn = sum((1 - pp) * gg for pp, gg in zip(p0, g0, strict=True))
            assert out[i, 0].item() == pytest.approx(1 - num / (num + a * fp + b * fn), rel=1e-12)


def test_tversky_orientation_alpha_penalises_false_positives():
    """Pins the orientation Keras gets wrong: alpha weights FP, beta weights FN."""
    x_pos = torch.full((1, 1, 3, 3), 4.0, dtype=torch.float64)  # predicts foreground everywhere
    empty = torch.zeros_like(x_pos)  # pure false positives
    fp_losses = [tversky_loss(x_pos, empty, alpha=a, beta=0.5).item() for a in (0.1, 0.3, 0.7, 1.0)]
    assert fp_losses == sorted(fp_losses) and fp_losses[0] < fp_losses[-1]
    # beta has no effect on a pure false-positive prediction
    assert tversky_loss(x_pos, empty, alpha=0.3, beta=0.1).item() == pytest.approx(
        tversky_loss(x_pos, empty, alpha=0.3, beta=0.9).item(), rel=1e-14
    )
    x_neg = -x_pos  # predicts background everywhere on a full mask: pure false negatives
    full = torch.ones_like(x_pos)
    fn_losses = [tversky_loss(x_neg, full, alpha=0.5, beta=b).item() for b in (0.1, 0.3, 0.7, 1.0)]
    assert fn_losses == sorted(fn_losses) and fn_losses[0] < fn_losses[-1]
    assert tversky_loss(x_neg, full, alpha=0.1, beta=0.7).item() == pytest.approx(
        tversky_loss(x_neg, full, alpha=0.9, beta=0.7).item(), rel=1e-14
    )
    # defaults (0.3, 0.7): a miss costs more than a false alarm of the same size
    assert tversky_loss(x_neg, full).item() > tversky_loss(x_pos, empty).item()
    # ... and the gradient on a small false positive grows with alpha
    grads = []
    for a in (0.2, 0.8):
        xx = torch.full_like(x_pos, -2.0).requires_grad_(True)
        tversky_loss(xx, empty, alpha=a).backward()
        grads.append(xx.grad.abs().sum().item())
    assert grads[1] > grads[0] > 0


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("aggregate", AGGS)
@pytest.mark.parametrize("ignore_index", [None, 255])
def test_tversky_relations_to_dice_and_jaccard(mode, aggregate, ignore_index):
    x, t = make_inputs(mode, seed=2, ignore_index=ignore_index)
    kw = {"mode": mode, "aggregate": aggregate, "ignore_index": ignore_index, "reduction": "none"}
    for s in (0.0, 0.5, 1.0):
        torch.testing.assert_close(
            tversky_loss(x, t, alpha=0.5, beta=0.5, smooth=s, **kw), dice_loss(x, t, smooth=2 * s, **kw)
        )
        torch.testing.assert_close(
            tversky_loss(x, t, alpha=1.0, beta=1.0, smooth=s, **kw), jaccard_loss(x, t, smooth=s, **kw)
        )
        torch.testing.assert_close(
            focal_tversky_loss(x, t, alpha=0.3, beta=0.7, gamma=1.0, smooth=s, **kw),
            tversky_loss(x, t, smooth=s, **kw),
            rtol=0,
            atol=0,
        )


def test_tversky_smooth_convention_differs_from_dice_by_two():
    x, t = make_inputs("binary", seed=5)
    d = dice_loss(x, t, reduction="none")  # smooth 1
    assert not torch.allclose(tversky_loss(x, t, alpha=0.5, beta=0.5, reduction="none"), d)
    torch.testing.assert_close(tversky_loss(x, t, alpha=0.5, beta=0.5, smooth=0.5, reduction="none"), d)


def test_smp_tversky_formula_written_out():
    """segmentation_models_pytorch TverskyLoss(mode='multiclass', from_logits=True), all classes present.

    smp: soft_tversky_score over dims (0, 2) (our aggregate='batch'), 1 - score, times the
    class-present mask, mean over classes (focal exponent gamma=1).
    """
    x, t = make_inputs("multiclass", n=2, c=3, spatial=(6, 6), seed=7)
    bs, c = x.shape[:2]
    y_pred = x.log_softmax(dim=1).exp().view(bs, c, -1)
    y_true = F.one_hot(t.view(bs, -1), c).permute(0, 2, 1).double()
    dims = (0, 2)
    a, b, smooth, eps = 0.3, 0.7, 0.0, 1e-7
    inter = torch.sum(y_pred * y_true, dim=dims)
    fp = torch.sum(y_pred * (1.0 - y_true), dim=dims)
    fn = torch.sum((1 - y_pred) * y_true, dim=dims)
    score = (inter + smooth) / (inter + a * fp + b * fn + smooth).clamp_min(eps)
    mask = (y_true.sum(dims) > 0).double()
    assert mask.all()
    torch.testing.assert_close(
        tversky_loss(x, t, mode="multiclass", smooth=0.0, aggregate="batch"), ((1 - score) * mask).mean()
    )


@settings(max_examples=30)
@given(
    logits=st.lists(st.floats(-30, 30), min_size=6, max_size=6),
    mask=st.lists(st.sampled_from([0.0, 1.0, 0.3]), min_size=6, max_size=6),
    alpha=st.floats(0.0, 3.0),
    beta=st.floats(0.0, 3.0),
    smooth=st.floats(0.0, 2.0),
    gamma=st.floats(0.25, 4.0),
)
def test_tversky_hypothesis_reference_and_range(logits, mask, alpha, beta, smooth, gamma):
    x = torch.tensor(logits, dtype=torch.float64).reshape(2, 3)
    t = torch.tensor(mask, dtype=torch.float64).reshape(2, 3)
    kw = {"alpha": alpha, "beta": beta, "smooth": smooth}
    got = focal_tversky_loss(x, t, gamma=gamma, reduction="none", **kw)
    exp, _ = ref_tversky(x, t, mode="binary", gamma=gamma, **kw)
    torch.testing.assert_close(got, exp, rtol=1e-9, atol=1e-12)
    assert ((got >= 0) & (got <= 1)).all()


@pytest.mark.parametrize("mode", ["binary", "multilabel"])
def test_tversky_relations_hold_on_soft_targets(mode):
    x, y = soft_case(mode, seed=5)
    tv = LF.tversky_loss(x, y, mode=mode, alpha=0.5, beta=0.5, smooth=0.4, reduction="none")
    torch.testing.assert_close(tv, LF.dice_loss(x, y, mode=mode, smooth=0.8, reduction="none"))
    tv = LF.tversky_loss(x, y, mode=mode, alpha=1.0, beta=1.0, smooth=0.4, reduction="none")
    torch.testing.assert_close(tv, LF.jaccard_loss(x, y, mode=mode, smooth=0.4, reduction="none"))
