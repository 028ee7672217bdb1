"""Behaviour several segmentation losses share.

* dice and jaccard (one implementation, parametrised over both): references written here in
  float64 from the formulas (textbook form with an explicit one-hot target, independent of the
  library's gather/scatter code path), plus MONAI's and segmentation_models_pytorch's formulas
  written out. Convention differences vs peers (asserted below where they matter):
    * MONAI DiceLoss: smooth_nr = smooth_dr = 1e-5 by default (ours: one ``smooth``, default
      1.0); ``jaccard=True`` computes (2I + s)/(2U + s), i.e. our Jaccard with smooth = s/2;
      targets must be one-hot/probabilities (no class indices, no ignore_index).
    * segmentation_models_pytorch: always aggregates over the batch (our ``aggregate="batch"``),
      default smooth 0, and zeroes the loss of classes absent from the target (we keep their
      false-positive penalty: with smooth > 0 an empty class predicted non-empty costs > 0).
    * All positions ignored: we return 0 with zero gradients (entries are masked out of the mean).
* tversky, focal_tversky, generalized_dice and the Lovász losses: gradcheck, precision, Modules,
  errors; all-void images are excluded from the Lovász mean.
* Edge inputs: a NaN logit reaches the loss of the affected (sample, class) entries as NaN, as
  in torch; the guards for empty denominators (``0 / 0`` with ``smooth=0``) must not select
  their safe branch for NaN. A NaN at an ``ignore_index`` position is ignored, as in torch's
  ``cross_entropy``. Empty masks and all-ignored images keep their documented finite values.
  ``mode="multiclass"`` on single-channel logits is an error: a softmax over one class is 1
  everywhere, the loss would be 0 with zero gradient.
* Soft targets: the overlap losses equal the semimetric forms of Wang & Blaschko (2023),
  written here in float64 from the papers' norm formulas, not from the library's sums:
    * Dice semimetric loss (Wang, Popordanoska, Bertels, Lemmens & Blaschko, MICCAI 2023), with
      our smoothing convention: ``1 - (|x| + |y| - |x - y| + s) / (|x| + |y| + s)``;
    * Jaccard metric loss (Wang, Ning & Blaschko, NeurIPS 2023):
      ``1 - (|x| + |y| - |x - y| + 2s) / (|x| + |y| + |x - y| + 2s)`` (our ``(I + s)/(U + s)``);
    * Tversky: ``TP = (|x| + |y| - |x - y|) / 2``, ``FP = |(x - y)_+|``, ``FN = |(y - x)_+|``
      (``|.|`` the L1 norm over an image's positions, ``x`` the probabilities, ``y`` the target).
  On hard {0, 1} targets they equal the product-intersection soft losses.

Tests of one loss are in ``test_<key>.py``; what every registry entry must do is in
``tests/contract/``; the blocked overlap-sum kernels: ``tests/kernels/test_overlap_sums.py``.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import losscraft
import losscraft.functional as LF
from losscraft import LosscraftError
from losscraft._core.kernels import lean_kernels
from losscraft.losses.segmentation import (
    DiceLoss,
    FocalTverskyLoss,
    GeneralizedDiceLoss,
    JaccardLoss,
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
from losses.helpers import SINGLE
from losses.segmentation.helpers import (
    AGGS,
    MODES,
    D,
    _gen,
    berman_lovasz_hinge,
    make_inputs,
    ref_reduce,
    ref_unreduced,
    soft_case,
)

# -------------------------------------------------------------------- dice and jaccard: references
DICE_JACCARD = {"dice": dice_loss, "jaccard": jaccard_loss}


# -------------------------------------------------------------- dice and jaccard: reference parity
@pytest.mark.parametrize("kind", ["dice", "jaccard"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("aggregate", ["sample", "batch"])
@pytest.mark.parametrize("smooth", [1.0, 0.0, 1e-5])
@pytest.mark.parametrize("ignore_index", [None, 255])
def test_matches_reference_values_and_gradients(kind, mode, aggregate, smooth, ignore_index):
    x, t = make_inputs(mode, ignore_index=ignore_index)
    kw = {"mode": mode, "smooth": smooth, "ignore_index": ignore_index, "aggregate": aggregate}
    ref_l, keep = ref_unreduced(kind, x, t, **kw)
    c = ref_l.shape[-1]
    w = torch.linspace(0.5, 2.0, c, dtype=torch.float64)  # a (C,) class weight
    for reduction in ("none", "sum", "mean"):
        for weight in (None, w):
            xa = x.clone().requires_grad_(True)
            xb = x.clone().requires_grad_(True)
            got = DICE_JACCARD[kind](xa, t, weight=weight, reduction=reduction, **kw)
            exp = ref_reduce(ref_unreduced(kind, xb, t, **kw)[0], keep, reduction, weight)
            torch.testing.assert_close(got, exp, rtol=1e-10, atol=1e-12)
            got.sum().backward()
            exp.sum().backward()
            torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-9, atol=1e-12)


def test_unreduced_shapes():
    for mode, shape in (("binary", (3, 1)), ("multiclass", (3, 3)), ("multilabel", (3, 3))):
        x, t = make_inputs(mode)
        assert dice_loss(x, t, mode=mode, reduction="none").shape == shape
        assert jaccard_loss(x, t, mode=mode, aggregate="batch", reduction="none").shape == shape[1:]


@given(
    logits=st.lists(st.floats(-30, 30), min_size=6, max_size=6),
    mask=st.lists(st.sampled_from([0.0, 1.0, 0.25]), min_size=6, max_size=6),
    smooth=st.floats(0.0, 5.0),
    kind=st.sampled_from(["dice", "jaccard"]),
)
def test_binary_reference_hypothesis(logits, mask, smooth, kind):
    x = torch.tensor(logits, dtype=torch.float64).reshape(2, 3)
    t = torch.tensor(mask, dtype=torch.float64).reshape(2, 3)
    got = DICE_JACCARD[kind](x, t, smooth=smooth, reduction="none")
    exp, _ = ref_unreduced(kind, x, t, mode="binary", smooth=smooth)
    torch.testing.assert_close(got, exp, rtol=1e-9, atol=1e-12)
    assert ((got >= 0) & (got <= 1)).all()


def test_monai_formula_written_out():
    """MONAI DiceLoss(include_background=True, to_onehot_y=True, softmax/sigmoid=True), forward()."""

    def monai(inp, tgt_onehot, *, act, batch, jaccard, smooth_nr=1e-5, smooth_dr=1e-5):
        inp = torch.softmax(inp, 1) if act == "softmax" else torch.sigmoid(inp)
        reduce_axis = list(range(2, inp.dim()))
        if batch:
            reduce_axis = [0, *reduce_axis]
        intersection = torch.sum(tgt_onehot * inp, dim=reduce_axis)
        ground_o = torch.sum(tgt_onehot, dim=reduce_axis)
        pred_o = torch.sum(inp, dim=reduce_axis)
        denominator = ground_o + pred_o
        if jaccard:
            denominator = 2.0 * (denominator - intersection)
        return 1.0 - (2.0 * intersection + smooth_nr) / (denominator + smooth_dr)

    for batch in (False, True):
        agg = "batch" if batch else "sample"
        x, t = make_inputs("multiclass", n=2, c=4, spatial=(3, 3, 2))
        onehot = F.one_hot(t, 4).movedim(-1, 1).double()
        m = monai(x, onehot, act="softmax", batch=batch, jaccard=False)
        ours = dice_loss(x, t, mode="multiclass", smooth=1e-5, aggregate=agg, reduction="none")
        torch.testing.assert_close(ours, m, rtol=1e-10, atol=1e-12)
        # MONAI's Jaccard uses (2I + s)/(2U + s): ours with smooth = s / 2.
        mj = monai(x, onehot, act="softmax", batch=batch, jaccard=True, smooth_nr=2e-5, smooth_dr=2e-5)
        oj = jaccard_loss(x, t, mode="multiclass", smooth=1e-5, aggregate=agg, reduction="none")
        torch.testing.assert_close(oj, mj, rtol=1e-10, atol=1e-12)
        xl, tl = make_inputs("multilabel", n=2, c=3)
        ml = monai(xl, tl, act="sigmoid", batch=batch, jaccard=False, smooth_nr=0.7, smooth_dr=0.7)
        ol = dice_loss(xl, tl, mode="multilabel", smooth=0.7, aggregate=agg, reduction="none")
        torch.testing.assert_close(ol, ml, rtol=1e-10, atol=1e-12)


def test_smp_formula_written_out():
    """segmentation_models_pytorch DiceLoss/JaccardLoss(mode='multiclass'), all classes present.

    smp sums over dims (0, 2) (our aggregate='batch'), divides by (cardinality + smooth)
    clamped at eps, and multiplies the loss by (class present in target): identical to ours
    as long as every class occurs in the batch.
    """
    x, t = make_inputs("multiclass", n=2, c=3, spatial=(6, 6))
    assert torch.bincount(t.flatten(), minlength=3).min() > 0
    bs, c = x.shape[:2]
    y_pred = x.log_softmax(dim=1).exp().view(bs, c, -1)
    y_true = F.one_hot(t.view(bs, -1), c).permute(0, 2, 1).double()
    dims = (0, 2)
    inter = torch.sum(y_pred * y_true, dim=dims)
    card = torch.sum(y_pred + y_true, dim=dims)
    smooth, eps = 0.0, 1e-7
    dice = (2.0 * inter + smooth) / (card + smooth).clamp_min(eps)
    jac = (inter + smooth) / (card - inter + smooth).clamp_min(eps)
    mask = (y_true.sum(dims) > 0).double()
    torch.testing.assert_close(
        dice_loss(x, t, mode="multiclass", smooth=0.0, aggregate="batch"), ((1 - dice) * mask).mean()
    )
    torch.testing.assert_close(
        jaccard_loss(x, t, mode="multiclass", smooth=0.0, aggregate="batch"), ((1 - jac) * mask).mean()
    )


def test_tiny_hand_example():
    # one image, two pixels: p = sigmoid(0) = 0.5 on both, target [1, 0]
    x = torch.zeros(1, 1, 2, dtype=torch.float64)
    t = torch.tensor([[[1.0, 0.0]]], dtype=torch.float64)
    # Dice = (2 * 0.5 + 1) / (1 + 1 + 1) = 2/3;  IoU = (0.5 + 1) / (1 + 1 - 0.5 + 1) = 0.6
    assert dice_loss(x, t).item() == pytest.approx(1 / 3, abs=1e-15)
    assert jaccard_loss(x, t).item() == pytest.approx(0.4, abs=1e-15)
    assert dice_loss(x, t, smooth=0.0).item() == pytest.approx(0.5, abs=1e-15)
    assert jaccard_loss(x, t, smooth=0.0).item() == pytest.approx(2 / 3, abs=1e-15)


# --------------------------------------------------------------------- dice and jaccard: gradcheck
@pytest.mark.parametrize("kind", ["dice", "jaccard"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("aggregate", ["sample", "batch"])
@pytest.mark.parametrize("ignore_index", [None, -100])
def test_gradcheck(kind, mode, aggregate, ignore_index):
    x, t = make_inputs(mode, n=2, spatial=(2, 3), ignore_index=ignore_index, frac=0.3)
    w = torch.rand(3 if mode != "binary" else 1, dtype=torch.float64) + 0.5
    for smooth in (1.0, 0.1):
        fn = DICE_JACCARD[kind]

        def f(inp, fn=fn, smooth=smooth):
            kw = {"mode": mode, "smooth": smooth, "ignore_index": ignore_index, "aggregate": aggregate}
            return fn(inp, t, weight=w, **kw), fn(inp, t, reduction="none", **kw)

        assert torch.autograd.gradcheck(f, (x.clone().requires_grad_(True),))


def test_gradcheck_soft_target_binary():
    x, _ = make_inputs("binary", n=2, spatial=(3,))
    t = torch.rand(x.shape, dtype=torch.float64)
    for fn in DICE_JACCARD.values():
        assert torch.autograd.gradcheck(
            lambda a, b, fn=fn: fn(a, b, reduction="none"),
            (x.clone().requires_grad_(True), t.clone().requires_grad_(True)),
        )


# --------------------------------------------------------------------- dice and jaccard: relations
@pytest.mark.parametrize("kind", ["dice", "jaccard"])
def test_layout_equivalences(kind):
    fn = DICE_JACCARD[kind]
    x, t = make_inputs("binary", n=3, spatial=(4, 5))
    base = fn(x, t, reduction="none")
    # (N, *) binary layout == (N, 1, *) == multilabel with one channel
    torch.testing.assert_close(fn(x[:, 0], t[:, 0], reduction="none"), base)
    torch.testing.assert_close(fn(x, t, mode="multilabel", reduction="none"), base)
    # batch aggregation == one image made of the whole batch
    torch.testing.assert_close(
        fn(x, t, aggregate="batch", reduction="none"),
        fn(x.reshape(1, -1), t.reshape(1, -1), reduction="none")[0],
    )
    # two-class softmax [0, x] == sigmoid(x): class 1 of multiclass equals binary on (t == 1)
    x2 = torch.stack([torch.zeros_like(x[:, 0]), x[:, 0]], dim=1)
    mc = fn(x2, t[:, 0].long(), mode="multiclass", reduction="none")
    torch.testing.assert_close(mc[:, 1:], base)
    # non-contiguous (channels-last) input gives the same values
    xm, tm = make_inputs("multiclass", n=2, c=3)
    cl = xm.to(memory_format=torch.channels_last)
    torch.testing.assert_close(
        fn(cl, tm, mode="multiclass", reduction="none"), fn(xm, tm, mode="multiclass", reduction="none")
    )
    # narrow integer targets are accepted
    torch.testing.assert_close(fn(xm, tm.to(torch.uint8), mode="multiclass"), fn(xm, tm, mode="multiclass"))


def test_module_matches_function_with_class_weight():
    x, t = make_inputs("multiclass")
    w = torch.tensor([0.2, 1.0, 3.0], dtype=torch.float64)
    for cls, fn in ((DiceLoss, dice_loss), (JaccardLoss, jaccard_loss)):
        m = cls(mode="multiclass", smooth=0.5, aggregate="batch")
        torch.testing.assert_close(
            m(x, t, weight=w), fn(x, t, mode="multiclass", smooth=0.5, aggregate="batch", weight=w)
        )
        assert "mode='multiclass'" in repr(m)
        assert losscraft.build(m.get_config()).get_config() == m.get_config()
    assert losscraft.get("iou").name == "jaccard"
    assert losscraft.get("soft_dice").name == "dice"


# ------------------------------------------------------------------- dice and jaccard: empty masks
@pytest.mark.parametrize("kind", ["dice", "jaccard"])
def test_empty_target_and_empty_prediction_is_perfect(kind):
    fn = DICE_JACCARD[kind]
    x = torch.full((2, 1, 4, 4), -30.0, dtype=torch.float64)  # p ~ 1e-13 everywhere
    t = torch.zeros_like(x)
    for agg in ("sample", "batch"):
        out = fn(x, t, aggregate=agg, reduction="none")
        assert torch.isfinite(out).all()
        assert (out < 1e-10).all()
    # smooth = 0 and an exactly empty prediction (sigmoid(-1e4) = 0): 0/0 is a perfect score
    xe = torch.full((2, 1, 4, 4), -1e4, dtype=torch.float64, requires_grad=True)
    out = fn(xe, t, smooth=0.0)
    assert out.item() == 0.0
    out.backward()
    assert torch.isfinite(xe.grad).all()
    # smooth = 0, empty target but a non-empty prediction: total miss
    assert (
        fn(
            torch.zeros(1, 1, 3, dtype=torch.float64), torch.zeros(1, 1, 3, dtype=torch.float64), smooth=0.0
        ).item()
        == 1.0
    )
    # multiclass: an absent class predicted absent costs ~0, an absent class predicted costs > 0
    xm = torch.tensor([[[[30.0, 30.0]], [[-30.0, -30.0]], [[0.0, 0.0]]]], dtype=torch.float64)
    tm = torch.zeros(1, 1, 2, dtype=torch.long)
    per_class = fn(xm, tm, mode="multiclass", reduction="none")[0]
    assert per_class[0] < 1e-10 and per_class[1] < 1e-10
    assert per_class[2] > 1e-14


@pytest.mark.parametrize("kind", ["dice", "jaccard"])
def test_false_positive_on_empty_image_has_gradient(kind):
    fn = DICE_JACCARD[kind]
    x = torch.zeros(1, 1, 4, 5, dtype=torch.float64, requires_grad=True)  # p = 1/2 on 20 pixels
    t = torch.zeros_like(x)
    out = fn(x, t, smooth=1.0)
    # both losses reduce to P/(P + s) on an empty target: P = 10
    assert out.item() == pytest.approx(10 / 11, abs=1e-14)
    out.backward()
    # d/dx_i = s/(P + s)^2 * p(1 - p) = 1/121 * 1/4, pushing every logit down
    torch.testing.assert_close(x.grad, torch.full_like(x, 0.25 / 121), rtol=1e-12, atol=0)
    # documented contrast: with smooth = 0 the loss of an empty image is constant 1, no gradient
    x.grad = None
    fn(x, t, smooth=0.0).backward()
    assert (x.grad == 0).all()


# ------------------------------------------------------------------ dice and jaccard: ignore_index
@pytest.mark.parametrize("kind", ["dice", "jaccard"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("aggregate", ["sample", "batch"])
def test_all_void(kind, mode, aggregate):
    fn = DICE_JACCARD[kind]
    x, t = make_inputs(mode)
    t = torch.full_like(t, 255)
    xg = x.clone().requires_grad_(True)
    for reduction in ("mean", "sum"):
        out = fn(xg, t, mode=mode, ignore_index=255, aggregate=aggregate, reduction=reduction)
        assert out.item() == 0.0 and out.requires_grad
        (g,) = torch.autograd.grad(out, xg)
        assert torch.isfinite(g).all() and (g == 0).all()
    none = fn(x, t, mode=mode, ignore_index=255, aggregate=aggregate, reduction="none")
    assert (none == 0).all()


@pytest.mark.parametrize("kind", ["dice", "jaccard"])
def test_void_image_is_excluded_from_the_mean(kind):
    fn = DICE_JACCARD[kind]
    x, t = make_inputs("multiclass", n=2)
    t = t.clone()
    t[0] = -1
    per = fn(x, t, mode="multiclass", ignore_index=-1, reduction="none")
    assert (per[0] == 0).all()
    only = fn(x[1:], t[1:], mode="multiclass", ignore_index=-1, reduction="none")
    torch.testing.assert_close(per[1:], only)
    torch.testing.assert_close(fn(x, t, mode="multiclass", ignore_index=-1), only.mean())
    # ignoring pixels == removing them: an image with its void pixels cut out
    x1, t1 = make_inputs("multiclass", n=1, spatial=(1, 6))
    t1 = t1.clone()
    t1[..., :2] = -1
    torch.testing.assert_close(
        fn(x1, t1, mode="multiclass", ignore_index=-1, reduction="none"),
        fn(x1[..., 2:], t1[..., 2:], mode="multiclass", reduction="none"),
    )


# ----------------------------------------------------------- dice and jaccard: extremes and dtypes
@pytest.mark.parametrize("kind", ["dice", "jaccard"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16])
def test_huge_logits_are_finite_and_hard(kind, mode, dtype):
    fn = DICE_JACCARD[kind]
    x, t = make_inputs(mode, seed=7)
    big = (torch.sign(x) * 1e4).to(dtype).requires_grad_(True)
    out = fn(big, t if mode == "multiclass" else t.to(dtype), mode=mode, reduction="none")
    assert out.dtype == (torch.float64 if dtype == torch.float64 else torch.float32)
    assert torch.isfinite(out).all()
    out.sum().backward()
    assert torch.isfinite(big.grad).all()
    # saturated probabilities are exactly 0/1: the loss equals the hard-mask formula
    exp, _ = ref_unreduced(kind, big.detach().double(), t, mode=mode, smooth=1.0)
    torch.testing.assert_close(out.double(), exp, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind", ["dice", "jaccard"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_matches_float64(kind, mode, dtype):
    """Half inputs are upcast and computed in float32: within 1e-5 of float64 on the same values."""
    fn = DICE_JACCARD[kind]
    x, t = make_inputs(mode, n=4, spatial=(8, 8), seed=11)
    xh = (3 * x).to(dtype)
    th = t if mode == "multiclass" else t.to(dtype)
    got = fn(xh, th, mode=mode, reduction="none")
    exp = fn(xh.double(), th if mode == "multiclass" else th.double(), mode=mode, reduction="none")
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.double(), exp, rtol=0, atol=1e-5)


# -------------------------------------------------------------- dice and jaccard: curve and sample
def test_curve_closed_forms():
    x = torch.linspace(-8, 8, 41, dtype=torch.float64)
    p = torch.sigmoid(x)
    for kind, closed in (("dice", (1 - p) / (2 + p)), ("jaccard", (1 - p) / 2)):
        entry = losscraft.get(kind)
        for hp in ({}, {"mode": "multilabel"}, {"mode": "multilabel", "aggregate": "batch"}):
            call = entry.spec.curve.make(x, **hp)
            out = entry.function(*call.args, reduction="none", **hp, **call.kwargs)
            assert out.numel() == x.numel()
            torch.testing.assert_close(out.reshape(-1), closed, rtol=1e-12, atol=1e-14)
        # not convex on the curve (so CONVEX is not declared): negative second differences
        vals = entry.function(*entry.spec.curve.make(x).args, reduction="none").reshape(-1)
        assert (vals[2:] - 2 * vals[1:-1] + vals[:-2]).min() < -1e-6
        assert entry.spec.has(losscraft.Property.BOUNDED_GRADIENT)
        assert not entry.spec.has(losscraft.Property.CONVEX)
        for hp in ({"mode": "multiclass"}, {"aggregate": "batch"}):
            with pytest.raises(LosscraftError, match=f"{kind}_loss: the logit curve is defined for"):
                entry.spec.curve.make(x, **hp)


def test_multiclass_never_builds_a_one_hot(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("one_hot called")

    monkeypatch.setattr(F, "one_hot", boom)
    monkeypatch.setattr(torch.nn.functional, "one_hot", boom)
    x, t = make_inputs("multiclass", c=50, spatial=(16, 16))
    for fn in DICE_JACCARD.values():
        assert torch.isfinite(fn(x, t, mode="multiclass", ignore_index=3))


# ------------------------------------------------------------------------ dice and jaccard: errors
@pytest.mark.parametrize("name", ["dice", "jaccard"])
def test_error_messages(name):
    fn = DICE_JACCARD[name]
    f = f"{name}_loss"
    x, t = make_inputs("binary")
    with pytest.raises(
        LosscraftError,
        match=rf"{f}: 'input' and 'target' must have the same shape, got input "
        r"\(3, 1, 4, 5\) and target \(3, 4, 5\)",
    ):
        fn(x, t[:, 0])
    with pytest.raises(LosscraftError, match=rf"{f}: 'target' must contain values in \[0, 1\], got 2"):
        fn(x, t * 2)
    with pytest.raises(LosscraftError, match=rf"{f}: 'target' must contain values in \[0, 1\], got -100"):
        fn(x, torch.full_like(t, -100.0))  # -100 is fine only when it is ignore_index
    assert torch.isfinite(fn(x, torch.where(t > 0, t, -100.0), ignore_index=-100))
    with pytest.raises(LosscraftError, match=rf"{f}: 'target' must contain values in \[0, 1\], got 7"):
        fn(x, torch.where(t > 0, t, 7.0), ignore_index=-100)
    with pytest.raises(
        LosscraftError, match=rf"{f}: 'target' must be a floating-point tensor .*got torch.int64"
    ):
        fn(x, t.long())
    with pytest.raises(LosscraftError, match=rf"{f}: 'input' must be a floating-point tensor"):
        fn(x.long(), t)
    with pytest.raises(
        LosscraftError,
        match=rf"{f}: 'mode' must be one of 'binary', 'multiclass', "
        r"'multilabel', got 'multi'",
    ):
        fn(x, t, mode="multi")
    with pytest.raises(LosscraftError, match=rf"{f}: 'smooth' must be a float in \[0, inf\), got -1.0"):
        fn(x, t, smooth=-1.0)
    with pytest.raises(
        LosscraftError, match=rf"{f}: 'aggregate' must be one of 'sample', 'batch', got 'image'"
    ):
        fn(x, t, aggregate="image")
    with pytest.raises(LosscraftError, match=rf"{f}: 'ignore_index' must be an int .* or None, got 1.5"):
        fn(x, t, ignore_index=1.5)
    with pytest.raises(LosscraftError, match=rf"{f}: 'input' must have shape \(N, \*\) or \(N, 1, \*\)"):
        fn(torch.tensor(0.5), torch.tensor(1.0))
    with pytest.raises(
        LosscraftError,
        match=r"'weight' of shape \(2,\) must broadcast to the unreduced loss "
        r"shape \(3, 1\)",
    ):
        fn(x, t, weight=torch.ones(2))

    xm, tm = make_inputs("multiclass")
    with pytest.raises(
        LosscraftError, match=rf"{f}: 'target' contains class index 3, expected values in \[0, 2\]$"
    ):
        fn(xm, torch.where(tm == 0, 3, tm), mode="multiclass")
    with pytest.raises(
        LosscraftError,
        match=r"contains class index 3, expected values in \[0, 2\] or "
        r"ignore_index=255",
    ):
        fn(xm, torch.where(tm == 0, 3, tm), mode="multiclass", ignore_index=255)
    with pytest.raises(LosscraftError, match=r"contains class index -1, expected"):
        fn(xm, torch.where(tm == 0, -1, tm), mode="multiclass")
    with pytest.raises(LosscraftError, match=rf"{f}: 'target' must be an integer tensor of class indices"):
        fn(xm, F.one_hot(tm, 3).movedim(-1, 1).double(), mode="multiclass")
    with pytest.raises(
        LosscraftError,
        match=rf"{f}: 'target' must have shape \(3, 4, 5\) \(input's shape without "
        r"dim 1\) for mode='multiclass', got input \(3, 3, 4, 5\) and "
        r"target \(3, 5, 4\)",
    ):
        fn(xm, tm.transpose(1, 2), mode="multiclass")
    with pytest.raises(
        LosscraftError, match=rf"{f}: 'input' must have shape \(N, C, \*\) for mode='multiclass'"
    ):
        fn(torch.zeros(3), torch.zeros(3, dtype=torch.long), mode="multiclass")
    xl, tl = make_inputs("multilabel")
    with pytest.raises(
        LosscraftError, match=rf"{f}: 'input' must have shape \(N, C, \*\) for mode='multilabel'"
    ):
        fn(torch.zeros(3), torch.zeros(3), mode="multilabel")
    with pytest.raises(LosscraftError, match=rf"{f}: 'input' and 'target' must have the same shape"):
        fn(xl, tl[:, :2], mode="multilabel")
    with pytest.raises(LosscraftError, match=r"'mode' must be one of"):
        (DiceLoss if name == "dice" else JaccardLoss)(mode="softmax")


# ------------------------------------------------------- Lovász hinge and softmax: all-void images
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


# ------------------------------------- tversky, focal_tversky, generalized_dice, Lovász: gradcheck
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


# ---------------------------- tversky, focal_tversky, generalized_dice, Lovász: precision, Modules
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


# ---------------------------------------- tversky, focal_tversky, generalized_dice, Lovász: errors
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


# -------------------------------------------------------------------------------------- NaN logits
NAN = math.nan
OVERLAP = ("dice", "jaccard", "tversky", "focal_tversky", "generalized_dice")
SEGMENTATION_FNS = {k: getattr(LF, f"{k}_loss") for k in (*OVERLAP, "lovasz_hinge", "lovasz_softmax")}


def case(mode: str, seed: int = 0, n: int = 3, c: int = 3, spatial=(4, 5)):
    g = torch.Generator().manual_seed(seed)
    ch = 1 if mode == "binary" else c
    x = torch.randn((n, ch, *spatial), generator=g, dtype=D)
    if mode == "multiclass":
        t = torch.randint(0, c, (n, *spatial), generator=g)
    else:
        t = (torch.rand((n, ch, *spatial), generator=g, dtype=D) < 0.4).to(D)
    return x, t


@pytest.mark.parametrize("kind", [*OVERLAP, "lovasz_hinge"])
def test_all_nan_logits_are_not_a_perfect_score(kind):
    # dice_loss(full(nan), ones) used to be 0.0: the "den > 0" guard is False for NaN.
    loss = SEGMENTATION_FNS[kind](torch.full((1, 1, 4, 4), NAN), torch.ones(1, 1, 4, 4))
    assert torch.isnan(loss)


@pytest.mark.parametrize("lean", [True, False])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", OVERLAP)
def test_nan_logit_reaches_exactly_the_affected_entries(kind, mode, lean):
    x, t = case(mode, seed=1)
    bad = x.clone()
    ch = 0 if mode == "binary" else 1
    bad[0, ch, 2, 3] = NAN
    with lean_kernels(lean):
        got = SEGMENTATION_FNS[kind](bad, t, mode=mode, reduction="none")
        clean = SEGMENTATION_FNS[kind](x[1:], t[1:], mode=mode, reduction="none")
        assert torch.isnan(SEGMENTATION_FNS[kind](bad, t, mode=mode))  # and the mean
        assert (
            torch.isnan(SEGMENTATION_FNS[kind](bad, t, mode=mode, aggregate="batch")).all()
            or mode == "multilabel"
        )
    # sample 0: NaN where the logit enters (every class under a softmax, only class 1 of
    # multilabel; generalized Dice has one value per sample); other samples unchanged.
    if kind == "generalized_dice" or mode != "multilabel":
        assert torch.isnan(got[0]).all()
    else:
        assert torch.isnan(got[0, 1]) and torch.isfinite(got[0, [0, 2]]).all()
    torch.testing.assert_close(got[1:], clean, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("lean", [True, False])
@pytest.mark.parametrize(
    ("kind", "mode"),
    [(k, m) for k in OVERLAP for m in MODES] + [("lovasz_softmax", "multiclass"), ("lovasz_hinge", "binary")],
)
def test_nan_logit_at_an_ignored_position_is_ignored(kind, mode, lean):
    x, t = case(mode, seed=2)
    ignore = 255
    t = t.clone()
    if mode == "multiclass":
        t[0, 2, 3] = ignore
        kw = {} if kind == "lovasz_softmax" else {"mode": mode}
    else:
        t[0, :, 2, 3] = ignore
        kw = {} if kind == "lovasz_hinge" else {"mode": mode}
    bad = x.clone()
    bad[0, :, 2, 3] = NAN
    ok = x.clone()
    ok[0, :, 2, 3] = 0.0  # any finite value: the position enters no sum
    xa = bad.clone().requires_grad_(True)
    with lean_kernels(lean):
        got = SEGMENTATION_FNS[kind](xa, t, ignore_index=ignore, reduction="none", **kw)
        exp = SEGMENTATION_FNS[kind](ok, t, ignore_index=ignore, reduction="none", **kw)
        (grad,) = torch.autograd.grad(got.sum(), xa)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, exp, rtol=1e-12, atol=1e-14)
    assert torch.isfinite(grad).all() and (grad[0, :, 2, 3] == 0).all()


@pytest.mark.parametrize("lean", [True, False])
@pytest.mark.parametrize("kind", OVERLAP)
def test_empty_and_all_ignored_images_keep_their_finite_values(kind, lean):
    # smooth=0, empty target, empty prediction (p = sigmoid(-inf) = 0 exactly): 0/0 -> loss 0
    x = torch.full((2, 1, 3, 3), -math.inf, dtype=D, requires_grad=True)
    with lean_kernels(lean):
        loss = SEGMENTATION_FNS[kind](x, torch.zeros(2, 1, 3, 3, dtype=D), smooth=0.0, reduction="none")
        (grad,) = torch.autograd.grad(loss.sum(), x)
    assert (loss == 0).all() and (grad == 0).all()
    # an image whose positions are all ignored (even with NaN logits) is excluded: 0, no NaN
    x, t = case("multiclass", seed=3)
    t[0] = -1
    x[0] = NAN
    with lean_kernels(lean):
        none = SEGMENTATION_FNS[kind](x, t, mode="multiclass", ignore_index=-1, reduction="none")
        mean = SEGMENTATION_FNS[kind](x, t, mode="multiclass", ignore_index=-1)
    assert (none[0] == 0).all() and torch.isfinite(none).all()
    torch.testing.assert_close(mean, none[1:].mean())


def test_lovasz_losses_propagate_nan():
    x, t = case("binary", seed=4)
    x[0, 0, 1, 1] = NAN
    got = LF.lovasz_hinge_loss(x, t, reduction="none")
    assert torch.isnan(got[0]) and torch.isfinite(got[1:]).all()
    x, t = case("multiclass", seed=4)
    x[0, 1, 1, 1] = NAN
    got = LF.lovasz_softmax_loss(x, t, reduction="none")
    assert torch.isnan(got[0]) and torch.isfinite(got[1:]).all()


# --------------------------------------------------------------------------- single-channel logits
@pytest.mark.parametrize("kind", OVERLAP)
def test_multiclass_mode_rejects_a_single_channel(kind):
    x = torch.randn(2, 1, 4, 4, requires_grad=True)
    t = torch.zeros(2, 4, 4, dtype=torch.long)
    # today's answer would be 0 with zero gradient whatever the logits
    with pytest.raises(
        LosscraftError,
        match=rf"{kind}_loss: {SINGLE} for mode='multiclass'.*"
        r"got \(2, 1, 4, 4\); for one foreground channel use mode='binary'",
    ):
        SEGMENTATION_FNS[kind](x, t, mode="multiclass")
    module = losscraft.get(kind).module(mode="multiclass")
    with pytest.raises(LosscraftError, match=SINGLE):
        module(x, t)
    # the suggested binary mode is a real loss on the same logits
    assert SEGMENTATION_FNS[kind](x, torch.ones(2, 1, 4, 4)) > 0


# ---------------------------------------------------------- soft targets: the semimetric reference
KINDS = ("dice", "jaccard", "tversky", "focal_tversky", "generalized_dice")
OVERLAP_FNS = {k: getattr(LF, f"{k}_loss") for k in KINDS}

# Non-default hyperparameters, so that alpha != beta and gamma != 1 are exercised.
KW = {
    "dice": {"smooth": 0.7},
    "jaccard": {"smooth": 0.7},
    "tversky": {"alpha": 0.2, "beta": 0.9, "smooth": 0.7},
    "focal_tversky": {"alpha": 0.6, "beta": 0.3, "gamma": 1.5, "smooth": 0.7},
    "generalized_dice": {"smooth": 1e-3},
}


def norms(x: torch.Tensor, y: torch.Tensor, aggregate: str):
    """L1 norms per (sample, class) (or per class over the batch) of x, y, x - y, (x-y)_+, (y-x)_+."""
    dims = (0, *range(2, x.dim())) if aggregate == "batch" else tuple(range(2, x.dim()))
    return (
        x.abs().sum(dims),
        y.abs().sum(dims),
        (x - y).abs().sum(dims),
        (x - y).clamp_min(0).sum(dims),
        (y - x).clamp_min(0).sum(dims),
    )


def reference(
    kind: str, logits: torch.Tensor, y: torch.Tensor, aggregate: str = "sample", **kw
) -> torch.Tensor:
    """The papers' formulas in float64, unreduced; ``logits`` (N, C, *) go through a sigmoid."""
    x = torch.sigmoid(logits.double())
    y = y.double()
    nx, ny, nd, over, under = norms(x, y, aggregate)
    s = kw.get("smooth", 1.0)
    if kind == "dice":
        return 1 - (nx + ny - nd + s) / (nx + ny + s)
    if kind == "jaccard":
        return 1 - (nx + ny - nd + 2 * s) / (nx + ny + nd + 2 * s)
    if kind in ("tversky", "focal_tversky"):
        tp = (nx + ny - nd) / 2
        ti = (tp + s) / (tp + kw["alpha"] * over + kw["beta"] * under + s)
        return (1 - ti) ** (1 / kw.get("gamma", 1.0))
    # generalized Dice, 1/V^2 weights (every class is present in a random soft target)
    w = 1 / ny**2
    return 1 - ((w * (nx + ny - nd)).sum(-1) + s) / ((w * (nx + ny)).sum(-1) + s)


def _call(kind, x, y, mode, aggregate="sample", reduction="none", **extra):
    kw = {**KW[kind], **extra}
    return OVERLAP_FNS[kind](x, y, mode=mode, aggregate=aggregate, reduction=reduction, **kw)


def _as_nc(x: torch.Tensor, mode: str) -> torch.Tensor:
    """(N, C, P): binary has one channel; multilabel's spatial dims flattened."""
    return x.reshape(x.shape[0], 1 if mode == "binary" else x.shape[1], -1)


@pytest.mark.parametrize("lean", [True, False])
@pytest.mark.parametrize("aggregate", ["sample", "batch"])
@pytest.mark.parametrize("mode", ["binary", "multilabel"])
@pytest.mark.parametrize("kind", KINDS)
def test_matches_semimetric_reference_on_soft_targets(kind, mode, aggregate, lean):
    x, y = soft_case(mode, seed=1)
    with lean_kernels(lean):
        got = _call(kind, x, y, mode, aggregate)
    exp = reference(kind, _as_nc(x, mode), _as_nc(y, mode), aggregate, **KW[kind])
    if kind == "generalized_dice" and aggregate == "batch":
        exp = exp.reshape(1)
    torch.testing.assert_close(got, exp, rtol=1e-10, atol=1e-13)


# ------------------------------------------------------------- soft targets: minimum at the target
@pytest.mark.parametrize("lean", [True, False])
@pytest.mark.parametrize("smooth", [0.0, 1.0])
@pytest.mark.parametrize("mode", ["binary", "multilabel"])
@pytest.mark.parametrize("kind", KINDS)
def test_zero_exactly_at_the_soft_target(kind, mode, smooth, lean):
    _, y = soft_case(mode, seed=2)
    at = torch.logit(y)  # sigmoid(at) == y up to float64 rounding
    with lean_kernels(lean):
        loss = _call(kind, at, y, mode, smooth=smooth)
        # focal Tversky is the Tversky loss to the power 1/gamma: compare the Tversky part
        assert (loss.abs() ** KW[kind].get("gamma", 1.0)).max() < 1e-12
        # any other prediction costs more, on every entry
        x, _ = soft_case(mode, seed=3)
        other = _call(kind, x, y, mode, smooth=smooth)
        assert (other > 1e-3).all()
        # and a small move away from the target (here: every logit up by 0.3) too
        assert (_call(kind, at + 0.3, y, mode, smooth=smooth) > 1e-4).all()


# ---------------------------------------------------------------------- soft targets: hard targets
@pytest.mark.parametrize("lean", [True, False])
@pytest.mark.parametrize("mode", ["binary", "multilabel"])
@pytest.mark.parametrize("kind", ["dice", "jaccard", "tversky"])
def test_hard_targets_equal_the_product_form(kind, mode, lean):
    x, y = soft_case(mode, seed=4)
    y = (y > 0.5).to(D)
    p = torch.sigmoid(_as_nc(x, mode))
    g = _as_nc(y, mode)
    dims = (2,)
    i, ps, gs = (p * g).sum(dims), p.sum(dims), g.sum(dims)
    s = KW[kind]["smooth"]
    if kind == "dice":
        exp = 1 - (2 * i + s) / (ps + gs + s)
    elif kind == "jaccard":
        exp = 1 - (i + s) / (ps + gs - i + s)
    else:
        fp, fn = (p * (1 - g)).sum(dims), ((1 - p) * g).sum(dims)
        exp = 1 - (i + s) / (i + KW[kind]["alpha"] * fp + KW[kind]["beta"] * fn + s)
    xa = x.clone().requires_grad_(True)
    xb = _as_nc(x, mode).clone().requires_grad_(True)
    with lean_kernels(lean):
        got = _call(kind, xa, y, mode)
    torch.testing.assert_close(got, exp, rtol=1e-12, atol=1e-14)
    # the same gradient with respect to the logits as the product form
    p = torch.sigmoid(xb)
    i, ps = (p * g).sum(dims), p.sum(dims)
    if kind == "dice":
        ref = 1 - (2 * i + s) / (ps + gs + s)
    elif kind == "jaccard":
        ref = 1 - (i + s) / (ps + gs - i + s)
    else:
        fp, fn = (p * (1 - g)).sum(dims), ((1 - p) * g).sum(dims)
        ref = 1 - (i + s) / (i + KW[kind]["alpha"] * fp + KW[kind]["beta"] * fn + s)
    (ga,) = torch.autograd.grad(got.sum(), xa)
    (gb,) = torch.autograd.grad(ref.sum(), xb)
    torch.testing.assert_close(ga.reshape(gb.shape), gb, rtol=1e-10, atol=1e-14)


# ------------------------------------------------------------------------- soft targets: gradients
@pytest.mark.parametrize("lean", [True, False])
@pytest.mark.parametrize("kind", KINDS)
def test_gradcheck_soft_targets_away_from_kinks(kind, lean):
    # |p - y| >= ~0.05 everywhere: the finite differences never cross the kink of |p - y|.
    _, y = soft_case("multilabel", seed=6, n=2, c=2, spatial=(3,))
    sign = torch.where(torch.rand(y.shape, generator=_gen(7), dtype=D) < 0.5, -1.0, 1.0)
    x = torch.logit(y) + sign * (0.5 + torch.rand(y.shape, generator=_gen(8), dtype=D))
    assert ((torch.sigmoid(x) - y).abs() > 1e-3).all()

    def f(a, b):
        return _call(kind, a, b, "multilabel")

    # generalized Dice treats its class weights (from the target volumes) as constants, so its
    # target gradient is not the full derivative: check it with respect to the logits only.
    target_grad = kind != "generalized_dice"
    with lean_kernels(lean):
        assert torch.autograd.gradcheck(
            f, (x.clone().requires_grad_(True), y.clone().requires_grad_(target_grad))
        )
