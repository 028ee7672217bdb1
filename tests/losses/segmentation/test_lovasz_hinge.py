"""lovasz_hinge: Berman's ``lovasz_losses.py`` transcribed and the Lovász extension itself.

References: Berman's ``lovasz_grad`` / ``lovasz_hinge``, and the Lovász extension from its
definition, as the Choquet integral of the Jaccard set function evaluated on explicit Python
sets (O(P^2), no cumsum trick). All-void images are excluded from the mean (the reference
averages a 0 in).
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from losscraft.losses.segmentation import lovasz_hinge_loss
from losses.segmentation.helpers import AGGS, berman_lovasz_hinge, make_inputs, naive_lovasz


def naive_hinge_image(z, y):
    m = torch.relu(1.0 - z * (2.0 * y - 1.0))
    return naive_lovasz(m, y > 0.5)


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
