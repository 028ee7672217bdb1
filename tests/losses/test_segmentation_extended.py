"""Extended segmentation losses: Tversky, focal Tversky, Generalized Dice, Lovász hinge/softmax.

torch has none of them. References written here in float64, independent of the library's code
path (explicit one-hot targets, TP/FP/FN summed directly rather than by subtraction):
  * the papers' formulas (Salehi's p0/p1/g0/g1 notation, Sudre's loops over classes);
  * peers' code transcribed: MONAI ``GeneralizedDiceLoss.forward``, Abraham & Khan's Keras
    ``focal_tversky``, Berman's ``lovasz_losses.py`` (``lovasz_grad``, ``lovasz_hinge``,
    ``lovasz_softmax``);
  * the Lovász extension from its definition, as the Choquet integral of the Jaccard set
    function evaluated on explicit Python sets (O(P^2), no cumsum trick).

Convention differences vs peers (asserted below):
  * Tversky orientation is Salehi's: alpha on false positives, beta on false negatives (Keras'
    tversky swaps them; Abraham & Khan's code puts its alpha=0.7 on FN = our beta=0.7).
  * Tversky's smooth is (TP + s)/(... + s) (paper, smp); Dice's is (2TP + s)/(... + s), so
    tversky(alpha=beta=1/2, smooth=s) = dice(smooth=2s).
  * Generalized Dice: MONAI zeroes all weights of an image without any present class (loss 0,
    no gradient for false positives); we use weight 1 there (loss sum p / (sum p + s)).
    MONAI computes the weights in float32 (``ground_o.float()``).
  * Lovász: all-void images are excluded from the mean (the reference averages a 0 in);
    lovasz_softmax takes logits (the reference takes probabilities) and defaults to
    aggregate="sample" (the reference's lovasz_softmax defaults to per_image=False).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import losscraft
from losscraft import LosscraftError
from losscraft.losses.segmentation import (
    FocalTverskyLoss,
    GeneralizedDiceLoss,
    LovaszHingeLoss,
    LovaszSoftmaxLoss,
    TverskyLoss,
    dice_loss,
    focal_tversky_loss,
    generalized_dice_loss,
    jaccard_loss,
    lovasz_hinge_loss,
    lovasz_softmax_loss,
    tversky_loss,
)

MODES = ("binary", "multiclass", "multilabel")
AGGS = ("sample", "batch")


# --------------------------------------------------------------------------- inputs
def make_inputs(mode, n=3, c=3, spatial=(4, 5), seed=0, dtype=torch.float64, ignore_index=None, frac=0.2):
    g = torch.Generator().manual_seed(seed)
    if mode == "multiclass":
        x = torch.randn((n, c, *spatial), generator=g, dtype=torch.float64).to(dtype)
        t = torch.randint(0, c, (n, *spatial), generator=g)
    else:
        ch = 1 if mode == "binary" else c
        x = torch.randn((n, ch, *spatial), generator=g, dtype=torch.float64).to(dtype)
        t = (torch.rand((n, ch, *spatial), generator=g) < 0.4).to(dtype)
    if ignore_index is not None:
        drop = torch.rand(t.shape, generator=g) < frac
        t = torch.where(drop, torch.full_like(t, ignore_index), t)
    return x, t


def ref_counts(x, t, *, mode, ignore_index=None, aggregate="sample"):
    """TP, FP, FN, P, G and kept-position counts per (sample, class), one-hot, float64."""
    x = x.double()
    n = x.shape[0]
    if mode == "multiclass":
        c = x.shape[1]
        p = torch.softmax(x, dim=1).reshape(n, c, -1)
        tt = t.reshape(n, -1).long()
        valid = torch.ones_like(tt, dtype=torch.bool) if ignore_index is None else tt != ignore_index
        g = F.one_hot(torch.where(valid, tt, 0), c).permute(0, 2, 1).double()
        v = valid.unsqueeze(1).double().expand_as(p)
    else:
        c = 1 if mode == "binary" else x.shape[1]
        p = torch.sigmoid(x).reshape(n, c, -1)
        g = t.double().reshape(n, c, -1)
        valid = torch.ones_like(g, dtype=torch.bool) if ignore_index is None else g != ignore_index
        g = torch.where(valid, g, 0.0)
        v = valid.double()
    dims = (0, 2) if aggregate == "batch" else (2,)
    # Soft-target counts (Wang & Blaschko 2023): min(p, g), (p - g)_+, (g - p)_+; on {0, 1}
    # targets these are Salehi et al.'s p g, p (1 - g), (1 - p) g.
    tp = (torch.minimum(p, g) * v).sum(dims)
    fp = ((p - g).clamp_min(0) * v).sum(dims)
    fn = ((g - p).clamp_min(0) * v).sum(dims)
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "p": (p * v).sum(dims),
        "g": (g * v).sum(dims),
        "count": v.sum(dims),
    }


def ref_reduce(loss, keep, reduction, weight=None):
    w = keep.double() if weight is None else weight.double() * keep.double()
    vals = torch.where(keep, loss, 0.0) * w
    if reduction == "none":
        return vals
    if reduction == "sum":
        return vals.sum()
    den = w.expand_as(loss).sum()
    return vals.sum() / den if den > 0 else vals.sum() * 0


def ref_tversky(x, t, *, mode, alpha, beta, smooth, gamma=1.0, ignore_index=None, aggregate="sample"):
    k = ref_counts(x, t, mode=mode, ignore_index=ignore_index, aggregate=aggregate)
    den = k["tp"] + alpha * k["fp"] + beta * k["fn"] + smooth
    # 1 - TI = (alpha FP + beta FN) / den: the same number as 1 - (TP + s)/den, without the
    # cancellation that makes 1 - TI exactly 0 for a tiny alpha FP (hypothesis finds alpha=1e-45)
    err = alpha * k["fp"] + beta * k["fn"]
    one_minus_ti = torch.where(den > 0, err / torch.where(den > 0, den, 1.0), 0.0)
    keep = k["count"] > 0 if ignore_index is not None else torch.ones_like(den, dtype=torch.bool)
    return one_minus_ti ** (1 / gamma), keep


# =========================================================================== Tversky
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


# --------------------------------------------------------------------------- focal Tversky
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


# =========================================================================== Generalized Dice
def monai_gdl(inp, target_onehot, *, act, w_type="square", batch=False, smooth_nr=1e-5, smooth_dr=1e-5):
    """MONAI GeneralizedDiceLoss.forward (include_background=True), transcribed."""
    inp = torch.softmax(inp, 1) if act == "softmax" else torch.sigmoid(inp)
    reduce_axis = list(range(2, len(inp.shape)))
    if batch:
        reduce_axis = [0, *reduce_axis]
    intersection = torch.sum(target_onehot * inp, reduce_axis)
    ground_o = torch.sum(target_onehot, reduce_axis)
    pred_o = torch.sum(inp, reduce_axis)
    denominator = ground_o + pred_o
    gf = ground_o.float()
    w = {"square": lambda v: torch.reciprocal(v * v), "simple": torch.reciprocal}.get(
        w_type, torch.ones_like
    )(gf)
    w = w.to(inp.dtype)
    infs = torch.isinf(w)
    if batch:
        w[infs] = 0.0
        w = w + infs * torch.max(w)
    else:
        w[infs] = 0.0
        max_values = torch.max(w, dim=1)[0].unsqueeze(dim=1)
        w = w + infs * max_values
    final_reduce_dim = 0 if batch else 1
    numer = 2.0 * (intersection * w).sum(final_reduce_dim, keepdim=True) + smooth_nr
    denom = (denominator * w).sum(final_reduce_dim, keepdim=True) + smooth_dr
    return 1.0 - (numer / denom)


def ref_gdl(x, t, *, mode, w_type="square", smooth=1e-5, ignore_index=None, aggregate="sample"):
    """Sudre et al. eq. (2) per image with explicit loops over classes (float64)."""
    k = ref_counts(x, t, mode=mode, ignore_index=ignore_index, aggregate=aggregate)
    tp, p, g, count = k["tp"], k["p"], k["g"], k["count"]
    if aggregate == "batch":
        tp, p, g, count = tp[None], p[None], g[None], count[None]
    out, keep = [], []
    for n in range(tp.shape[0]):
        vols = [g[n, c].item() for c in range(tp.shape[1])]

        def wt(v):
            return {"square": 1 / v**2 if v > 0 else math.inf, "simple": 1 / v if v > 0 else math.inf}.get(
                w_type, 1.0
            )

        ws = [wt(v) for v in vols]
        finite = [w for w in ws if math.isfinite(w)]
        fill = max(finite) if finite else 1.0
        ws = [w if math.isfinite(w) else fill for w in ws]
        num = 2 * sum(ws[c] * tp[n, c] for c in range(len(ws))) + smooth
        den = sum(ws[c] * (p[n, c] + g[n, c]) for c in range(len(ws))) + smooth
        out.append(1 - num / den if den > 0 else torch.zeros((), dtype=torch.float64))
        keep.append(bool(count[n].sum() > 0) if ignore_index is not None else True)
    return torch.stack(out), torch.tensor(keep)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("aggregate", AGGS)
@pytest.mark.parametrize("w_type", ["square", "simple", "uniform"])
@pytest.mark.parametrize("ignore_index", [None, 255])
def test_generalized_dice_matches_sudre_reference(mode, aggregate, w_type, ignore_index):
    x, t = make_inputs(mode, ignore_index=ignore_index, seed=11)
    if mode == "multiclass":  # make class 2 absent from image 0
        t[0] = torch.where(t[0] == 2, 0, t[0])
    kw = {"mode": mode, "ignore_index": ignore_index, "aggregate": aggregate}
    smooth = {"square": 1e-5, "simple": 0.0, "uniform": 1.0}[w_type]
    xa = x.clone().requires_grad_(True)
    xb = x.clone().requires_grad_(True)
    ref, keep = ref_gdl(xb, t, w_type=w_type, smooth=smooth, **kw)
    for reduction in ("none", "sum", "mean"):
        got = generalized_dice_loss(x, t, weight_type=w_type, smooth=smooth, reduction=reduction, **kw)
        torch.testing.assert_close(got, ref_reduce(ref, keep, reduction), rtol=1e-10, atol=1e-12)
    got = generalized_dice_loss(xa, t, weight_type=w_type, smooth=smooth, **kw)
    got.backward()
    ref_reduce(ref, keep, "mean").backward()
    torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("batch", [False, True])
@pytest.mark.parametrize("w_type", ["square", "simple", "uniform"])
def test_generalized_dice_matches_monai_formula(batch, w_type):
    agg = "batch" if batch else "sample"
    x, t = make_inputs("multiclass", n=3, c=4, spatial=(3, 4), seed=12)
    t[1] = torch.where(t[1] == 3, 1, t[1])  # an absent class in image 1
    onehot = F.one_hot(t, 4).movedim(-1, 1).double()
    for s in (1e-5, 0.3):
        m = monai_gdl(x, onehot, act="softmax", w_type=w_type, batch=batch, smooth_nr=s, smooth_dr=s)
        ours = generalized_dice_loss(
            x, t, mode="multiclass", weight_type=w_type, smooth=s, aggregate=agg, reduction="none"
        )
        # MONAI: (N, 1) / (1, 1)-shaped; ours (N,) / (1,); MONAI's float32 weights -> rtol 1e-6
        torch.testing.assert_close(ours, m.reshape(-1), rtol=1e-6, atol=1e-9)
    xl, tl = make_inputs("multilabel", n=2, c=3, seed=13)
    tl[0, 1] = 0.0  # absent label channel
    ml = monai_gdl(xl, tl, act="sigmoid", w_type=w_type, batch=batch)
    ol = generalized_dice_loss(xl, tl, mode="multilabel", weight_type=w_type, aggregate=agg, reduction="none")
    torch.testing.assert_close(ol, ml.reshape(-1), rtol=1e-6, atol=1e-9)


def test_generalized_dice_all_classes_absent_differs_from_monai():
    """An empty binary mask: MONAI gives loss 0 whatever the prediction; we keep the FP penalty."""
    x = torch.tensor([[[0.5, -1.0, 2.0]]], dtype=torch.float64, requires_grad=True)
    t = torch.zeros_like(x)
    m = monai_gdl(x, t, act="sigmoid")
    assert m.item() == 0.0
    out = generalized_dice_loss(x, t, smooth=0.5, reduction="none")
    ps = torch.sigmoid(x).sum()
    torch.testing.assert_close(out, (ps / (ps + 0.5)).reshape(1))
    out.sum().backward()
    assert torch.isfinite(x.grad).all() and (x.grad > 0).all()


@pytest.mark.parametrize("w_type", ["square", "simple"])
@pytest.mark.parametrize("mode", ["multiclass", "multilabel"])
def test_generalized_dice_absent_class_finite_with_gradients(w_type, mode):
    x, t = make_inputs(mode, n=2, c=3, seed=14)
    if mode == "multiclass":
        t = torch.where(t == 1, 0, t)  # class 1 absent everywhere
    else:
        t[:, 1] = 0.0
    x = x.clone().requires_grad_(True)
    for agg in AGGS:
        out = generalized_dice_loss(x, t, mode=mode, weight_type=w_type, aggregate=agg, reduction="none")
        assert torch.isfinite(out).all()
        (g,) = torch.autograd.grad(out.sum(), x)
        assert torch.isfinite(g).all()
        # the absent class is penalised: pushing its logits up increases the loss
        bumped = x.detach().clone()
        bumped[:, 1] += 2.0
        up = generalized_dice_loss(bumped, t, mode=mode, weight_type=w_type, aggregate=agg)
        assert up > out.mean()
    assert torch.autograd.gradcheck(
        lambda a: generalized_dice_loss(a, t, mode=mode, weight_type=w_type, reduction="none"),
        (x,),
        fast_mode=True,
    )


def test_generalized_dice_weights_are_constants():
    """Soft targets requiring grad: no gradient flows through the class weights 1/V^2."""
    x, _ = make_inputs("multilabel", n=2, c=3, seed=15)
    t = torch.rand(x.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    tt = t.clone().requires_grad_(True)
    out = generalized_dice_loss(x, tt, mode="multilabel", reduction="sum")
    (g,) = torch.autograd.grad(out, tt)
    # reference: same formula with weights computed from a detached copy
    tc = t.clone().requires_grad_(True)
    p = torch.sigmoid(x).flatten(2)
    tg = tc.flatten(2)
    w = 1.0 / tg.detach().sum(-1) ** 2
    num = 2 * (w * torch.minimum(p, tg).sum(-1)).sum(-1) + 1e-5  # the soft-target intersection
    den = (w * (p.sum(-1) + tg.sum(-1))).sum(-1) + 1e-5
    (g_ref,) = torch.autograd.grad((1 - num / den).sum(), tc)
    torch.testing.assert_close(g, g_ref)


def test_generalized_dice_binary_is_dice_per_sample():
    x, t = make_inputs("binary", seed=16)
    for s in (0.0,):
        torch.testing.assert_close(
            generalized_dice_loss(x, t, smooth=s, reduction="none"),
            dice_loss(x, t, smooth=s, reduction="none")[:, 0],
        )
    torch.testing.assert_close(
        generalized_dice_loss(x, t, weight_type="uniform", smooth=0.7, reduction="none"),
        dice_loss(x, t, smooth=0.7, reduction="none")[:, 0],
    )


def test_generalized_dice_downweights_large_classes():
    """Square weights: the same absolute error costs more on a small class than on a large one."""
    t = torch.tensor([[0] * 14 + [1] * 2])  # class 0: 14 px, class 1: 2 px
    base = torch.where(F.one_hot(t, 2).movedim(-1, 1) > 0, 3.0, -3.0).double()
    err_big = base.clone()
    err_big[0, :, 0] = torch.tensor([-3.0, 3.0])  # one class-0 pixel predicted as 1
    err_small = base.clone()
    err_small[0, :, 14] = torch.tensor([3.0, -3.0])  # one class-1 pixel predicted as 0
    gd = {
        k: generalized_dice_loss(v, t, mode="multiclass").item()
        for k, v in (("b", err_big), ("s", err_small))
    }
    assert gd["s"] > gd["b"]
    un = {
        k: generalized_dice_loss(v, t, mode="multiclass", weight_type="uniform").item()
        for k, v in (("b", err_big), ("s", err_small))
    }
    assert un["s"] == pytest.approx(un["b"], rel=1e-12)  # micro Dice: symmetric


def test_generalized_dice_shapes():
    for mode in MODES:
        x, t = make_inputs(mode)
        assert generalized_dice_loss(x, t, mode=mode, reduction="none").shape == (3,)
        assert generalized_dice_loss(x, t, mode=mode, aggregate="batch", reduction="none").shape == (1,)
        w = torch.tensor([1.0, 0.0, 2.0], dtype=torch.float64)
        torch.testing.assert_close(
            generalized_dice_loss(x, t, mode=mode, weight=w),
            (generalized_dice_loss(x, t, mode=mode, reduction="none") * w).sum() / 3.0,
        )


# =========================================================================== Lovász: references
def berman_lovasz_grad(gt_sorted):
    """lovasz_losses.py: lovasz_grad, verbatim apart from .double()."""
    p = len(gt_sorted)
    gts = gt_sorted.sum()
    intersection = gts - gt_sorted.double().cumsum(0)
    union = gts + (1 - gt_sorted).double().cumsum(0)
    jaccard = 1.0 - intersection / union
    if p > 1:  # cover 1-pixel case
        jaccard[1:p] = jaccard[1:p] - jaccard[0:-1]
    return jaccard


def berman_mean(values, empty=0):
    values = list(values)
    if not values:
        return empty
    acc = values[0]
    for v in values[1:]:
        acc = acc + v
    return acc / len(values)


def berman_flatten_binary_scores(scores, labels, ignore=None):
    scores = scores.reshape(-1)
    labels = labels.reshape(-1)
    if ignore is None:
        return scores, labels
    valid = labels != ignore
    return scores[valid], labels[valid]


def berman_lovasz_hinge_flat(logits, labels):
    if len(labels) == 0:
        return logits.sum() * 0.0
    signs = 2.0 * labels.double() - 1.0
    errors = 1.0 - logits * signs
    errors_sorted, perm = torch.sort(errors, dim=0, descending=True)
    gt_sorted = labels[perm]
    grad = berman_lovasz_grad(gt_sorted)
    return torch.dot(F.relu(errors_sorted), grad)


def berman_lovasz_hinge(logits, labels, per_image=True, ignore=None):
    if per_image:
        return berman_mean(
            berman_lovasz_hinge_flat(*berman_flatten_binary_scores(lg[None], lb[None], ignore))
            for lg, lb in zip(logits, labels, strict=True)
        )
    return berman_lovasz_hinge_flat(*berman_flatten_binary_scores(logits, labels, ignore))


def berman_flatten_probas(probas, labels, ignore=None):
    if probas.dim() == 3:
        b, h, w = probas.size()
        probas = probas.view(b, 1, h, w)
    b, c, h, w = probas.size()
    probas = probas.permute(0, 2, 3, 1).contiguous().view(-1, c)
    labels = labels.reshape(-1)
    if ignore is None:
        return probas, labels
    valid = labels != ignore
    return probas[valid.nonzero().squeeze(1)], labels[valid]


def berman_lovasz_softmax_flat(probas, labels, classes="present"):
    if probas.numel() == 0:
        return probas * 0.0
    c = probas.size(1)
    losses = []
    for cl in range(c):
        fg = (labels == cl).double()
        if classes == "present" and fg.sum() == 0:
            continue
        class_pred = probas[:, cl]
        errors = (fg - class_pred).abs()
        errors_sorted, perm = torch.sort(errors, 0, descending=True)
        losses.append(torch.dot(errors_sorted, berman_lovasz_grad(fg[perm])))
    return berman_mean(losses)


def berman_lovasz_softmax(probas, labels, classes="present", per_image=False, ignore=None):
    if per_image:
        return berman_mean(
            berman_lovasz_softmax_flat(*berman_flatten_probas(p[None], lab[None], ignore), classes=classes)
            for p, lab in zip(probas, labels, strict=True)
        )
    return berman_lovasz_softmax_flat(*berman_flatten_probas(probas, labels, ignore), classes=classes)


def naive_lovasz(m, fg):
    """Lovász extension of Delta_J(M) = |M| / |G u M| by its definition (Choquet integral).

    f(m) = sum_k (m_(k) - m_(k+1)) F({(1), ..., (k)}) over the decreasing order, m_(P+1) = 0,
    with F evaluated on explicit Python sets. Ties contribute (v - v) F = 0, so the value does
    not depend on how they are ordered. Differentiable in m through indexing.
    """
    vals = m.tolist()
    order = sorted(range(len(vals)), key=lambda i: -vals[i])
    g_set = {i for i, f in enumerate(fg.tolist()) if f}
    total = m.sum() * 0.0
    chosen: set[int] = set()
    for k, i in enumerate(order):
        chosen.add(i)
        f_val = len(chosen) / len(g_set | chosen)
        nxt = m[order[k + 1]] if k + 1 < len(order) else 0.0
        total = total + (m[i] - nxt) * f_val
    return total


def naive_hinge_image(z, y):
    m = torch.relu(1.0 - z * (2.0 * y - 1.0))
    return naive_lovasz(m, y > 0.5)


def naive_softmax_image(x, t, classes="present"):
    """x: (C, P) logits, t: (P,) labels (all valid)."""
    p = torch.softmax(x, dim=0)
    losses = []
    for c in range(x.shape[0]):
        fg = t == c
        if classes == "present" and not fg.any():
            continue
        losses.append(naive_lovasz((fg.double() - p[c]).abs(), fg))
    return sum(losses) / len(losses)


# =========================================================================== Lovász hinge
@pytest.mark.parametrize("ignore", [None, 255])
def test_lovasz_hinge_matches_berman_reference(ignore):
    x, t = make_inputs("binary", n=4, spatial=(5, 6), seed=20, ignore_index=ignore)
    t[2] = torch.where(t[2] == 1, 0.0, t[2])  # an image without foreground
    for per_image, agg in ((True, "sample"), (False, "batch")):
        xa = x.clone().requires_grad_(True)
        xb = x.clone().requires_grad_(True)
        got = lovasz_hinge_loss(xa, t, ignore_index=ignore, aggregate=agg)
        exp = berman_lovasz_hinge(xb[:, 0], t[:, 0], per_image=per_image, ignore=ignore)
        torch.testing.assert_close(got, exp, rtol=1e-12, atol=1e-14)
        got.backward()
        exp.backward()
        torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-12, atol=1e-14)


def test_lovasz_hinge_matches_naive_definition():
    x, t = make_inputs("binary", n=3, spatial=(3, 4), seed=21)
    t[1] = 0.0  # no foreground
    xa = x.clone().requires_grad_(True)
    xb = x.clone().requires_grad_(True)
    got = lovasz_hinge_loss(xa, t, reduction="none")
    exp = torch.stack([naive_hinge_image(xb[i].flatten(), t[i].flatten()) for i in range(3)])
    torch.testing.assert_close(got, exp, rtol=1e-12, atol=1e-14)
    got.sum().backward()
    exp.sum().backward()
    torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-12, atol=1e-14)
    # batch aggregation == one image made of all pixels
    torch.testing.assert_close(
        lovasz_hinge_loss(x, t, aggregate="batch", reduction="none"),
        naive_hinge_image(x.flatten(), t.flatten()).reshape(1),
    )


def test_lovasz_hinge_edge_cases():
    # no foreground: the largest hinge error max(0, 1 + z)
    z = torch.tensor([[0.5, -3.0, 1.5, -0.2]], dtype=torch.float64, requires_grad=True)
    out = lovasz_hinge_loss(z, torch.zeros_like(z))
    assert out.item() == pytest.approx(2.5)
    out.backward()
    assert z.grad.tolist() == [[0.0, 0.0, 1.0, 0.0]]  # the false positive keeps its gradient
    # every pixel right by the margin: 0
    zz = torch.tensor([[3.0, -2.0, 1.0]], dtype=torch.float64)
    assert lovasz_hinge_loss(zz, torch.tensor([[1, 0, 1]])).item() == 0.0
    # one pixel: the hinge relu(1 - z y)
    x = torch.linspace(-3, 3, 7, dtype=torch.float64).reshape(-1, 1)
    torch.testing.assert_close(
        lovasz_hinge_loss(x, torch.ones_like(x), reduction="none"), torch.relu(1 - x).reshape(-1)
    )
    # label dtypes: float, long, bool give the same value
    xx, tt = make_inputs("binary", seed=22)
    base = lovasz_hinge_loss(xx, tt, reduction="none")
    torch.testing.assert_close(lovasz_hinge_loss(xx, tt.long(), reduction="none"), base)
    torch.testing.assert_close(lovasz_hinge_loss(xx, tt.bool(), reduction="none"), base)
    torch.testing.assert_close(lovasz_hinge_loss(xx[:, 0], tt[:, 0], reduction="none"), base)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_lovasz_all_void_image_is_zero_attached_and_excluded(reduction):
    x, t = make_inputs("binary", n=3, seed=23)
    t[1] = 255.0
    xa = x.clone().requires_grad_(True)
    out_none = lovasz_hinge_loss(xa, t, ignore_index=255, reduction="none")
    assert out_none[1].item() == 0.0
    out = lovasz_hinge_loss(xa, t, ignore_index=255, reduction=reduction)
    denom = 2 if reduction == "mean" else 1
    torch.testing.assert_close(out, out_none.sum() / denom)
    # reference: the void image counts as 0 in the per-image mean (divides by 3)
    if reduction == "mean":
        ref = berman_lovasz_hinge(x[:, 0], t[:, 0], per_image=True, ignore=255)
        torch.testing.assert_close(out * 2 / 3, ref)
    out.backward()
    assert torch.isfinite(xa.grad).all() and (xa.grad[1] == 0).all()
    # fully void batch, both losses, both aggregations
    xm, tm = make_inputs("multiclass", n=2, seed=24)
    for agg in AGGS:
        for fn, xi, ti in (
            (lovasz_hinge_loss, x, torch.full_like(t, 255.0)),
            (lovasz_softmax_loss, xm, torch.full_like(tm, 255)),
        ):
            xi = xi.clone().requires_grad_(True)
            o = fn(xi, ti, ignore_index=255, aggregate=agg, reduction=reduction)
            assert o.item() == 0.0 and o.requires_grad
            o.backward()
            assert (xi.grad == 0).all()


@given(
    a=st.lists(st.floats(-5, 5), min_size=8, max_size=8),
    b=st.lists(st.floats(-5, 5), min_size=8, max_size=8),
    labels=st.lists(st.sampled_from([0.0, 1.0]), min_size=8, max_size=8),
)
def test_lovasz_hinge_is_convex_in_the_logits(a, b, labels):
    """Midpoint convexity: the Lovász extension of a submodular function composed with hinges."""
    xa = torch.tensor(a, dtype=torch.float64).reshape(2, 4)
    xb = torch.tensor(b, dtype=torch.float64).reshape(2, 4)
    t = torch.tensor(labels, dtype=torch.float64).reshape(2, 4)
    for agg in AGGS:
        la = lovasz_hinge_loss(xa, t, aggregate=agg, reduction="none")
        lb = lovasz_hinge_loss(xb, t, aggregate=agg, reduction="none")
        lm = lovasz_hinge_loss((xa + xb) / 2, t, aggregate=agg, reduction="none")
        assert (lm <= (la + lb) / 2 + 1e-12).all()


def test_lovasz_hinge_at_hard_predictions_is_twice_one_minus_iou():
    """Logits of +-1 give hinge errors m in {0, 2}: the extension is 2 Delta_J(mispredicted),
    and Delta_J is 1 - IoU of the thresholded mask (the extension interpolates the set function).
    """
    g = torch.Generator().manual_seed(25)
    t = (torch.rand(4, 12, generator=g) < 0.4).double()
    pred = (torch.rand(4, 12, generator=g) < 0.5).double()
    x = 2 * pred - 1  # logits +-1
    out = lovasz_hinge_loss(x, t, reduction="none")
    inter = (pred * t).sum(1)
    union = ((pred + t) > 0).double().sum(1)
    iou = torch.where(union > 0, inter / union.clamp_min(1), 1.0)
    torch.testing.assert_close(out, 2 * (1 - iou))


# =========================================================================== Lovász softmax
@pytest.mark.parametrize("classes", ["present", "all"])
@pytest.mark.parametrize("ignore", [None, 255])
def test_lovasz_softmax_matches_berman_reference(classes, ignore):
    x, t = make_inputs("multiclass", n=3, c=4, spatial=(4, 5), seed=30, ignore_index=ignore)
    t[1] = torch.where(t[1] == 3, 0, t[1])  # class 3 absent from image 1
    for per_image, agg in ((True, "sample"), (False, "batch")):
        xa = x.clone().requires_grad_(True)
        xb = x.clone().requires_grad_(True)
        got = lovasz_softmax_loss(xa, t, classes=classes, ignore_index=ignore, aggregate=agg)
        exp = berman_lovasz_softmax(
            torch.softmax(xb, dim=1), t, classes=classes, per_image=per_image, ignore=ignore
        )
        torch.testing.assert_close(got, exp, rtol=1e-12, atol=1e-14)
        got.backward()
        exp.backward()
        torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("classes", ["present", "all"])
def test_lovasz_softmax_matches_naive_definition(classes):
    x, t = make_inputs("multiclass", n=2, c=3, spatial=(3, 3), seed=31)
    t[0] = torch.where(t[0] == 2, 1, t[0])
    xa = x.clone().requires_grad_(True)
    xb = x.clone().requires_grad_(True)
    got = lovasz_softmax_loss(xa, t, classes=classes, reduction="none")
    exp = torch.stack(
        [naive_softmax_image(xb[i].reshape(3, -1), t[i].reshape(-1), classes) for i in range(2)]
    )
    torch.testing.assert_close(got, exp, rtol=1e-12, atol=1e-14)
    got.sum().backward()
    exp.sum().backward()
    torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-10, atol=1e-14)


def test_lovasz_softmax_edge_cases():
    # classes="all": an absent class costs its largest predicted probability
    x = torch.tensor([[[2.0, 0.0], [0.0, 1.0], [-1.0, 0.5]]], dtype=torch.float64)  # (1, 3, 2)
    t = torch.tensor([[0, 1]])
    p = torch.softmax(x, dim=1)
    present = lovasz_softmax_loss(x, t, reduction="none")
    all_ = lovasz_softmax_loss(x, t, classes="all", reduction="none")
    torch.testing.assert_close(all_, (2 * present + p[0, 2].max()) / 3)
    # saturated correct prediction: 0
    tm = torch.tensor([[0, 1, 2, 1]])
    xm = F.one_hot(tm, 3).movedim(-1, 1).double() * 2e4 - 1e4
    assert lovasz_softmax_loss(xm, tm).item() == 0.0
    # one pixel, logits [x, 0], class 0: 1 - sigmoid(x)
    g = torch.linspace(-4, 4, 9, dtype=torch.float64)
    spec = losscraft.get("lovasz_softmax").spec
    c = spec.curve.make(g)
    torch.testing.assert_close(lovasz_softmax_loss(*c.args, reduction="none"), torch.sigmoid(-g))
    # the two-pixel curve has a kink at 0: left and right slopes differ
    c2 = spec.more_curves[0].make(torch.tensor([-1e-4, 0.0, 1e-4], dtype=torch.float64))
    v = lovasz_softmax_loss(*c2.args, reduction="none")
    assert abs((v[1] - v[0]) - (v[2] - v[1])) > 1e-6
    # narrow integer targets and channels-last input
    xr, tr = make_inputs("multiclass", n=2, c=3, seed=32)
    base = lovasz_softmax_loss(xr, tr, reduction="none")
    torch.testing.assert_close(lovasz_softmax_loss(xr, tr.to(torch.uint8), reduction="none"), base)
    torch.testing.assert_close(
        lovasz_softmax_loss(xr.to(memory_format=torch.channels_last), tr, reduction="none"), base
    )


# =========================================================================== gradcheck
@pytest.mark.parametrize("aggregate", AGGS)
@pytest.mark.parametrize("ignore_index", [None, 255])
def test_gradcheck_options(aggregate, ignore_index):
    def run(fn, x, **kw):
        def f(a):
            return fn(a, t, reduction="none", aggregate=aggregate, ignore_index=ignore_index, **kw)

        assert torch.autograd.gradcheck(f, (x.clone().requires_grad_(True),), fast_mode=True)

    for mode in MODES:
        x, t = make_inputs(mode, n=2, spatial=(2, 3), ignore_index=ignore_index, frac=0.3, seed=40)
        run(tversky_loss, x, mode=mode, alpha=0.8, beta=0.2)
        run(focal_tversky_loss, x, mode=mode, gamma=4 / 3, smooth=0.1)
        run(focal_tversky_loss, x, mode=mode, gamma=0.6)
        for wt in ("square", "simple", "uniform"):
            run(generalized_dice_loss, x, mode=mode, weight_type=wt)
    x, t = make_inputs("binary", n=3, spatial=(3, 4), ignore_index=ignore_index, frac=0.3, seed=41)
    run(lovasz_hinge_loss, x)
    x, t = make_inputs("multiclass", n=2, c=3, spatial=(3, 4), ignore_index=ignore_index, frac=0.3, seed=42)
    for classes in ("present", "all"):
        run(lovasz_softmax_loss, x, classes=classes)


# =========================================================================== precision
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_non_default_modes(dtype):
    cases = [
        (tversky_loss, "multiclass", {"mode": "multiclass", "aggregate": "batch"}),
        (focal_tversky_loss, "multilabel", {"mode": "multilabel"}),
        (generalized_dice_loss, "multiclass", {"mode": "multiclass"}),
        (lovasz_softmax_loss, "multiclass", {"classes": "all"}),
        (lovasz_hinge_loss, "binary", {"aggregate": "batch"}),
    ]
    for fn, mode, kw in cases:
        x, t = make_inputs(mode, n=4, seed=50)
        xh = x.to(dtype)
        th = t.to(dtype) if t.is_floating_point() else t
        out = fn(xh, th, reduction="none", **kw)
        ref = fn(xh.double(), th.double() if th.is_floating_point() else th, reduction="none", **kw)
        assert out.dtype == torch.float32
        torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-6)
        big = fn((x.sign() * 1e4).to(dtype).requires_grad_(True), th, **kw)
        assert torch.isfinite(big)


def test_modules_match_functions_and_round_trip():
    x, t = make_inputs("multiclass", seed=60)
    xb, tb = make_inputs("binary", seed=61)
    cases = [
        (
            TverskyLoss(mode="multiclass", alpha=0.2, beta=0.8),
            tversky_loss,
            (x, t),
            {"alpha": 0.2, "beta": 0.8},
        ),
        (FocalTverskyLoss(mode="multiclass", gamma=2.0), focal_tversky_loss, (x, t), {"gamma": 2.0}),
        (
            GeneralizedDiceLoss(mode="multiclass", weight_type="simple"),
            generalized_dice_loss,
            (x, t),
            {"weight_type": "simple"},
        ),
        (LovaszSoftmaxLoss(classes="all"), lovasz_softmax_loss, (x, t), {"classes": "all"}),
        (LovaszHingeLoss(aggregate="batch"), lovasz_hinge_loss, (xb, tb), {"aggregate": "batch"}),
    ]
    for m, fn, args, kw in cases:
        extra = {"mode": "multiclass"} if "mode" in m.get_config() else {}
        torch.testing.assert_close(m(*args), fn(*args, **extra, **kw))
        assert losscraft.build(m.get_config()).get_config() == m.get_config()
    assert losscraft.get("gdl").name == "generalized_dice"
    assert losscraft.get("ftl").name == "focal_tversky"


# =========================================================================== errors
def test_error_messages_overlap_family():
    x, t = make_inputs("binary")
    xm, tm = make_inputs("multiclass")
    for fn in (tversky_loss, focal_tversky_loss, generalized_dice_loss):
        f = fn.__name__
        with pytest.raises(
            LosscraftError,
            match=rf"{f}: 'input' and 'target' must have the same shape, got input "
            r"\(3, 1, 4, 5\) and target \(3, 4, 5\)",
        ):
            fn(x, t[:, 0])
        with pytest.raises(LosscraftError, match=rf"{f}: 'target' must contain values in \[0, 1\], got 2"):
            fn(x, t * 2)
        with pytest.raises(LosscraftError, match=rf"{f}: 'input' must be a floating-point tensor"):
            fn(x.long(), t)
        with pytest.raises(
            LosscraftError, match=rf"{f}: 'target' contains class index 3, expected values in \[0, 2\]$"
        ):
            fn(xm, torch.where(tm == 0, 3, tm), mode="multiclass")
        with pytest.raises(
            LosscraftError, match=rf"{f}: 'target' must be an integer tensor of class indices"
        ):
            fn(xm, tm.double(), mode="multiclass")
        with pytest.raises(LosscraftError, match=rf"{f}: 'smooth' must be a float in \[0, inf\), got -1.0"):
            fn(x, t, smooth=-1.0)
    for fn in (tversky_loss, focal_tversky_loss):
        f = fn.__name__
        with pytest.raises(LosscraftError, match=rf"{f}: 'alpha' must be a float in \[0, inf\), got -0.1"):
            fn(x, t, alpha=-0.1)
        with pytest.raises(LosscraftError, match=rf"{f}: 'beta' must be a float in \[0, inf\), got inf"):
            fn(x, t, beta=math.inf)
    with pytest.raises(
        LosscraftError, match=r"focal_tversky_loss: 'gamma' must be a float in \(0, inf\), got 0.0"
    ):
        focal_tversky_loss(x, t, gamma=0.0)
    with pytest.raises(
        LosscraftError,
        match=r"generalized_dice_loss: 'weight_type' must be one of 'square', 'simple', 'uniform', "
        r"got 'cube'",
    ):
        generalized_dice_loss(x, t, weight_type="cube")
    with pytest.raises(
        LosscraftError,
        match=r"generalized_dice_loss: 'weight' of shape \(3, 1\) must broadcast to the unreduced "
        r"loss shape \(3,\)",
    ):
        generalized_dice_loss(x, t, weight=torch.ones(3, 1, dtype=torch.float64))
    with pytest.raises(LosscraftError, match=r"'gamma' must be"):
        FocalTverskyLoss(gamma=-1.0)


def test_error_messages_lovasz():
    x, t = make_inputs("binary")
    f = "lovasz_hinge_loss"
    with pytest.raises(LosscraftError, match=rf"{f}: 'target' must contain only 0 or 1, got 0.5"):
        lovasz_hinge_loss(x, t * 0.5)
    with pytest.raises(
        LosscraftError, match=rf"{f}: 'target' must contain only 0 or 1 \(or ignore_index=-1\), got 2"
    ):
        lovasz_hinge_loss(x, torch.where(t > 0, 2.0, -1.0), ignore_index=-1)
    with pytest.raises(LosscraftError, match=rf"{f}: 'input' and 'target' must have the same shape"):
        lovasz_hinge_loss(x, t[:, 0])
    with pytest.raises(LosscraftError, match=rf"{f}: 'input' must be a floating-point tensor"):
        lovasz_hinge_loss(t.long(), t)
    with pytest.raises(LosscraftError, match=rf"{f}: 'target' must be a torch.Tensor, got list"):
        lovasz_hinge_loss(x, t.tolist())
    with pytest.raises(LosscraftError, match=rf"{f}: 'input' must have shape \(N, \*\), got \(\)"):
        lovasz_hinge_loss(torch.tensor(0.5), torch.tensor(1.0))
    with pytest.raises(
        LosscraftError, match=rf"{f}: 'aggregate' must be one of 'sample', 'batch', got 'all'"
    ):
        lovasz_hinge_loss(x, t, aggregate="all")
    xm, tm = make_inputs("multiclass")
    f = "lovasz_softmax_loss"
    with pytest.raises(
        LosscraftError, match=rf"{f}: 'target' contains class index 7, expected values in \[0, 2\]$"
    ):
        lovasz_softmax_loss(xm, torch.where(tm == 0, 7, tm))
    with pytest.raises(LosscraftError, match=rf"{f}: 'target' must have shape \(3, 4, 5\)"):
        lovasz_softmax_loss(xm, tm[:, :2])
    with pytest.raises(LosscraftError, match=rf"{f}: 'input' must have shape \(N, C, \*\)"):
        lovasz_softmax_loss(torch.zeros(3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(LosscraftError, match=rf"{f}: 'classes' must be one of 'present', 'all', got 'some'"):
        lovasz_softmax_loss(xm, tm, classes="some")
    with pytest.raises(LosscraftError, match=rf"{f}: 'target' must be an integer tensor of class indices"):
        lovasz_softmax_loss(xm, tm.double())


def test_curves_reject_settings_without_a_one_value_per_point_slice() -> None:
    """generalized Dice combines the classes (no multilabel slice); Lovász-Softmax needs per-image values."""
    x = torch.linspace(-3.0, 3.0, 7, dtype=torch.float64)
    gd = losscraft.get("generalized_dice").spec.curve
    with pytest.raises(
        LosscraftError, match="generalized_dice_loss: the logit curve is defined for mode='binary'"
    ):
        gd.make(x, mode="multilabel")
    ls = losscraft.get("lovasz_softmax").spec
    for c in (ls.curve, *ls.more_curves):
        with pytest.raises(LosscraftError, match="aggregate='sample', got aggregate='batch'"):
            c.make(x, aggregate="batch")
    with pytest.raises(
        LosscraftError, match="lovasz_softmax_loss: the logit curves need one value per image"
    ):
        losscraft.analyze("lovasz_softmax", aggregate="batch")
    # the supported settings still give one value per grid point
    for name, c in (("generalized_dice", gd), ("lovasz_softmax", ls.curve)):
        call = c.make(x)
        out = losscraft.get(name).function(*call.args, reduction="none", **call.kwargs)
        assert out.numel() == x.numel()
