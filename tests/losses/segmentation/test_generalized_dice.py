"""generalized_dice: Sudre's loops over classes and MONAI's formula written out.

References written in float64, independent of the library's code path. Convention differences
vs MONAI (asserted below): MONAI zeroes all weights of an image without any present class
(loss 0, no gradient for false positives); we use weight 1 there (loss sum p / (sum p + s)).
MONAI computes the weights in float32 (``ground_o.float()``).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from losscraft.losses.segmentation import dice_loss, generalized_dice_loss
from losses.segmentation.helpers import AGGS, MODES, make_inputs, ref_counts, ref_reduce


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
