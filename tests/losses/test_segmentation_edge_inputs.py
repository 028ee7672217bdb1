"""Segmentation losses at the edges of their input domain.

* A NaN logit reaches the loss of the affected (sample, class) entries as NaN, as in torch;
  the guards for empty denominators (``0 / 0`` with ``smooth=0``) must not select their safe
  branch for NaN. A NaN at an ``ignore_index`` position is ignored, as in torch's
  ``cross_entropy``. Empty masks and all-ignored images keep their documented finite values.
* ``mode="multiclass"`` (and the softmax losses) on single-channel logits is an error: a
  softmax over one class is 1 everywhere, the loss would be 0 with zero gradient.
"""

from __future__ import annotations

import math

import pytest
import torch

import losscraft
import losscraft.functional as LF
from losscraft import LosscraftError
from losscraft._core.kernels import lean_kernels

D = torch.float64
NAN = math.nan
OVERLAP = ("dice", "jaccard", "tversky", "focal_tversky", "generalized_dice")
FNS = {k: getattr(LF, f"{k}_loss") for k in (*OVERLAP, "lovasz_hinge", "lovasz_softmax")}
MODES = ("binary", "multiclass", "multilabel")


def case(mode: str, seed: int = 0, n: int = 3, c: int = 3, spatial=(4, 5)):
    g = torch.Generator().manual_seed(seed)
    ch = 1 if mode == "binary" else c
    x = torch.randn((n, ch, *spatial), generator=g, dtype=D)
    if mode == "multiclass":
        t = torch.randint(0, c, (n, *spatial), generator=g)
    else:
        t = (torch.rand((n, ch, *spatial), generator=g, dtype=D) < 0.4).to(D)
    return x, t


# --------------------------------------------------------------------------- NaN
@pytest.mark.parametrize("kind", [*OVERLAP, "lovasz_hinge"])
def test_all_nan_logits_are_not_a_perfect_score(kind):
    # dice_loss(full(nan), ones) used to be 0.0: the "den > 0" guard is False for NaN.
    loss = FNS[kind](torch.full((1, 1, 4, 4), NAN), torch.ones(1, 1, 4, 4))
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
        got = FNS[kind](bad, t, mode=mode, reduction="none")
        clean = FNS[kind](x[1:], t[1:], mode=mode, reduction="none")
        assert torch.isnan(FNS[kind](bad, t, mode=mode))  # and the mean
        assert torch.isnan(FNS[kind](bad, t, mode=mode, aggregate="batch")).all() or mode == "multilabel"
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
        got = FNS[kind](xa, t, ignore_index=ignore, reduction="none", **kw)
        exp = FNS[kind](ok, t, ignore_index=ignore, reduction="none", **kw)
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
        loss = FNS[kind](x, torch.zeros(2, 1, 3, 3, dtype=D), smooth=0.0, reduction="none")
        (grad,) = torch.autograd.grad(loss.sum(), x)
    assert (loss == 0).all() and (grad == 0).all()
    # an image whose positions are all ignored (even with NaN logits) is excluded: 0, no NaN
    x, t = case("multiclass", seed=3)
    t[0] = -1
    x[0] = NAN
    with lean_kernels(lean):
        none = FNS[kind](x, t, mode="multiclass", ignore_index=-1, reduction="none")
        mean = FNS[kind](x, t, mode="multiclass", ignore_index=-1)
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


# --------------------------------------------------------------------------- one channel
SINGLE = "'input' must have C >= 2 classes on dim 1"


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
        FNS[kind](x, t, mode="multiclass")
    module = losscraft.get(kind).module(mode="multiclass")
    with pytest.raises(LosscraftError, match=SINGLE):
        module(x, t)
    # the suggested binary mode is a real loss on the same logits
    assert FNS[kind](x, torch.ones(2, 1, 4, 4)) > 0


def test_lovasz_softmax_rejects_a_single_channel():
    with pytest.raises(
        LosscraftError,
        match=rf"lovasz_softmax_loss: {SINGLE} for a softmax over the classes.*use lovasz_hinge_loss",
    ):
        LF.lovasz_softmax_loss(torch.randn(2, 1, 4, 4), torch.zeros(2, 4, 4, dtype=torch.long))


@pytest.mark.parametrize("shape", [(5, 1), (2, 1, 4, 4)])
def test_softmax_focal_rejects_a_single_class(shape):
    x = torch.randn(shape)
    t = torch.zeros((shape[0], *shape[2:]), dtype=torch.long)
    with pytest.raises(
        LosscraftError, match=rf"focal_loss: {SINGLE}.*binary_focal_loss or bce_with_logits_loss"
    ):
        LF.focal_loss(x, t)
    with pytest.raises(LosscraftError, match=SINGLE):
        losscraft.FocalLoss()(x, t)
