"""Segmentation losses (soft Dice, soft Jaccard/IoU): loss-specific tests.

torch has no Dice/IoU loss, so the references are written here in float64 from the formulas
(textbook form with an explicit one-hot target, independent of the library's gather/scatter
code path), plus MONAI's and segmentation_models_pytorch's formulas written out.

Convention differences vs peers (asserted below where they matter):
  * MONAI DiceLoss: smooth_nr = smooth_dr = 1e-5 by default (ours: one ``smooth``, default 1.0);
    ``jaccard=True`` computes (2I + s)/(2U + s), i.e. our Jaccard with smooth = s/2; targets
    must be one-hot/probabilities (no class indices, no ignore_index).
  * segmentation_models_pytorch: always aggregates over the batch (our ``aggregate="batch"``),
    default smooth 0, and zeroes the loss of classes absent from the target (we keep their
    false-positive penalty: with smooth > 0 an empty class predicted non-empty costs > 0).
  * All positions ignored: we return 0 with zero gradients (entries are masked out of the mean).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import losscraft
from losscraft import LosscraftError
from losscraft.losses.segmentation import DiceLoss, JaccardLoss, dice_loss, jaccard_loss

FNS = {"dice": dice_loss, "jaccard": jaccard_loss}
MODES = ("binary", "multiclass", "multilabel")


# --------------------------------------------------------------------------- references
def ref_unreduced(kind, input, target, *, mode, smooth, ignore_index=None, aggregate="sample"):
    """Textbook soft Dice / Jaccard per (sample, class) with a one-hot target, float64.

    Returns (loss, keep): keep marks entries with at least one non-ignored position.
    """
    x = input.double()
    n = x.shape[0]
    if mode == "multiclass":
        c = x.shape[1]
        p = torch.softmax(x, dim=1).reshape(n, c, -1)
        t = target.reshape(n, -1).long()
        valid = torch.ones_like(t, dtype=torch.bool) if ignore_index is None else t != ignore_index
        g = F.one_hot(torch.where(valid, t, 0), c).permute(0, 2, 1).double()  # (N, C, P)
        v = valid.unsqueeze(1).double().expand_as(p)
    else:
        c = 1 if mode == "binary" else x.shape[1]
        p = torch.sigmoid(x).reshape(n, c, -1)
        g = target.double().reshape(n, c, -1)
        valid = torch.ones_like(g, dtype=torch.bool) if ignore_index is None else g != ignore_index
        g = torch.where(valid, g, 0.0)
        v = valid.double()
    dims = (0, 2) if aggregate == "batch" else (2,)
    # min(p, g): the soft-target intersection (Wang & Blaschko 2023); p * g on {0, 1} targets
    inter = (torch.minimum(p, g) * v).sum(dims)
    psum = (p * v).sum(dims)
    gsum = (g * v).sum(dims)
    count = v.sum(dims)
    if kind == "dice":
        num, den = 2 * inter + smooth, psum + gsum + smooth
    else:
        num, den = inter + smooth, psum + gsum - inter + smooth
    score = torch.where(den > 0, num / torch.where(den > 0, den, 1.0), 1.0)
    keep = count > 0 if ignore_index is not None else torch.ones_like(score, dtype=torch.bool)
    return 1 - score, keep


def ref_reduce(loss, keep, reduction, weight=None):
    w = keep.double() if weight is None else weight.double() * keep.double()
    vals = torch.where(keep, loss, 0.0) * w
    if reduction == "none":
        return vals
    if reduction == "sum":
        return vals.sum()
    den = w.expand_as(loss).sum()
    return vals.sum() / den if den > 0 else vals.sum() * 0


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


# --------------------------------------------------------------------------- reference parity
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
            got = FNS[kind](xa, t, weight=weight, reduction=reduction, **kw)
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
    got = FNS[kind](x, t, smooth=smooth, reduction="none")
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


# --------------------------------------------------------------------------- gradcheck
@pytest.mark.parametrize("kind", ["dice", "jaccard"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("aggregate", ["sample", "batch"])
@pytest.mark.parametrize("ignore_index", [None, -100])
def test_gradcheck(kind, mode, aggregate, ignore_index):
    x, t = make_inputs(mode, n=2, spatial=(2, 3), ignore_index=ignore_index, frac=0.3)
    w = torch.rand(3 if mode != "binary" else 1, dtype=torch.float64) + 0.5
    for smooth in (1.0, 0.1):
        fn = FNS[kind]

        def f(inp, fn=fn, smooth=smooth):
            kw = {"mode": mode, "smooth": smooth, "ignore_index": ignore_index, "aggregate": aggregate}
            return fn(inp, t, weight=w, **kw), fn(inp, t, reduction="none", **kw)

        assert torch.autograd.gradcheck(f, (x.clone().requires_grad_(True),))


def test_gradcheck_soft_target_binary():
    x, _ = make_inputs("binary", n=2, spatial=(3,))
    t = torch.rand(x.shape, dtype=torch.float64)
    for fn in FNS.values():
        assert torch.autograd.gradcheck(
            lambda a, b, fn=fn: fn(a, b, reduction="none"),
            (x.clone().requires_grad_(True), t.clone().requires_grad_(True)),
        )


# --------------------------------------------------------------------------- relations
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("aggregate", ["sample", "batch"])
def test_jaccard_is_dice_over_two_minus_dice_at_smooth_0(mode, aggregate):
    x, t = make_inputs(mode, seed=3)
    d = 1 - dice_loss(x, t, mode=mode, smooth=0.0, aggregate=aggregate, reduction="none")
    j = 1 - jaccard_loss(x, t, mode=mode, smooth=0.0, aggregate=aggregate, reduction="none")
    torch.testing.assert_close(j, d / (2 - d), rtol=1e-12, atol=1e-14)
    assert (j <= d + 1e-15).all()


@pytest.mark.parametrize("kind", ["dice", "jaccard"])
def test_layout_equivalences(kind):
    fn = FNS[kind]
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


# --------------------------------------------------------------------------- empty masks
@pytest.mark.parametrize("kind", ["dice", "jaccard"])
def test_empty_target_and_empty_prediction_is_perfect(kind):
    fn = FNS[kind]
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
    fn = FNS[kind]
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


# --------------------------------------------------------------------------- ignore_index
@pytest.mark.parametrize("kind", ["dice", "jaccard"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("aggregate", ["sample", "batch"])
def test_all_void(kind, mode, aggregate):
    fn = FNS[kind]
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
    fn = FNS[kind]
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


def test_ignore_index_inside_class_range_ignores_pixels_not_the_class():
    # like torch's cross_entropy: ignore_index = 0 drops pixels labelled 0; class 0 stays in the
    # softmax, so predicting it on kept pixels is a false positive for class 0
    x, t = make_inputs("multiclass", seed=5)
    got = dice_loss(x, t, mode="multiclass", ignore_index=0, reduction="none")
    exp, keep = ref_unreduced("dice", x, t, mode="multiclass", smooth=1.0, ignore_index=0)
    torch.testing.assert_close(got, torch.where(keep, exp, 0.0))
    assert (got[:, 0] > 0).all()


# --------------------------------------------------------------------------- extremes and dtypes
@pytest.mark.parametrize("kind", ["dice", "jaccard"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16])
def test_huge_logits_are_finite_and_hard(kind, mode, dtype):
    fn = FNS[kind]
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
    fn = FNS[kind]
    x, t = make_inputs(mode, n=4, spatial=(8, 8), seed=11)
    xh = (3 * x).to(dtype)
    th = t if mode == "multiclass" else t.to(dtype)
    got = fn(xh, th, mode=mode, reduction="none")
    exp = fn(xh.double(), th if mode == "multiclass" else th.double(), mode=mode, reduction="none")
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.double(), exp, rtol=0, atol=1e-5)


# --------------------------------------------------------------------------- curve and sample
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


def test_multiclass_never_builds_a_one_hot(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("one_hot called")

    monkeypatch.setattr(F, "one_hot", boom)
    monkeypatch.setattr(torch.nn.functional, "one_hot", boom)
    x, t = make_inputs("multiclass", c=50, spatial=(16, 16))
    for fn in FNS.values():
        assert torch.isfinite(fn(x, t, mode="multiclass", ignore_index=3))


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("name", ["dice", "jaccard"])
def test_error_messages(name):
    fn = FNS[name]
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
