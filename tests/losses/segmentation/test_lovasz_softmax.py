"""lovasz_softmax: Berman's ``lovasz_softmax`` transcribed and the Lovász extension itself.

lovasz_softmax takes logits (the reference takes probabilities) and defaults to
aggregate="sample" (the reference's lovasz_softmax defaults to per_image=False). A
single-channel input is an error (a softmax over one class is 1 everywhere).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import losscraft
import losscraft.functional as LF
from losscraft import LosscraftError
from losscraft.losses.segmentation import lovasz_softmax_loss
from losses.helpers import SINGLE
from losses.segmentation.helpers import berman_lovasz_grad, berman_mean, make_inputs, naive_lovasz


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


def test_lovasz_softmax_rejects_a_single_channel():
    with pytest.raises(
        LosscraftError,
        match=rf"lovasz_softmax_loss: {SINGLE} for a softmax over the classes.*use lovasz_hinge_loss",
    ):
        LF.lovasz_softmax_loss(torch.randn(2, 1, 4, 4), torch.zeros(2, 4, 4, dtype=torch.long))
