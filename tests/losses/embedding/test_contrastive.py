"""contrastive: an independent float64 loop written from Hadsell, Chopra & LeCun (2006).

Labels: 1 = similar (Hadsell et al. use Y = 0 for similar pairs). Paired inputs must have
identical shapes (torch broadcasts some of them).
"""

from __future__ import annotations

import math

import pytest
import torch

from losscraft import LosscraftError
from losscraft.losses.embedding import ContrastiveLoss, contrastive_loss
from losses.embedding.helpers import D64, _emb


def _contrastive_ref(x1: torch.Tensor, x2: torch.Tensor, y: torch.Tensor, m: float):
    """Hadsell et al. (2006), Eq. 4 with the paper's Y = 1 - y; loss and dloss/dx1 per pair."""
    vals, grads = [], []
    for a, b, lab in zip(x1.tolist(), x2.tolist(), y.tolist(), strict=True):
        diff = [u - v for u, v in zip(a, b, strict=True)]
        dist = math.sqrt(sum(d * d for d in diff))
        Y = 1 - lab  # paper: Y = 0 similar, Y = 1 dissimilar
        vals.append((1 - Y) * 0.5 * dist**2 + Y * 0.5 * max(0.0, m - dist) ** 2)
        if Y == 0:
            grads.append(diff)
        elif dist < m:
            grads.append([-(m - dist) * d / dist for d in diff])
        else:
            grads.append([0.0] * len(diff))
    return torch.tensor(vals, dtype=D64), torch.tensor(grads, dtype=D64)


@pytest.mark.parametrize("margin", [0.5, 1.0, 2.0])
def test_contrastive_matches_paper_reference(margin: float) -> None:
    x1, noise = _emb(12, 3, seed=11)
    # distances spread from ~0.05 to ~4, so dissimilar pairs fall on both sides of every margin
    x2 = x1 + noise / noise.norm(dim=-1, keepdim=True) * torch.linspace(0.05, 4.0, 12, dtype=D64)[:, None]
    y = torch.tensor([1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0])
    ref_v, ref_g = _contrastive_ref(x1, x2, y, margin)
    assert (ref_v[y == 0] > 0).any() and (ref_v[y == 0] == 0).any()  # both sides of the margin
    xr = x1.clone().requires_grad_(True)
    out = contrastive_loss(xr, x2, y, margin=margin, reduction="none")
    torch.testing.assert_close(out.detach(), ref_v, rtol=1e-12, atol=1e-14)
    out.sum().backward()
    torch.testing.assert_close(xr.grad, ref_g, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(contrastive_loss(x1, x2, y, margin=margin), ref_v.mean())


def test_contrastive_label_dtypes_and_symmetry() -> None:
    x1, x2 = _emb(4, 3, seed=12)
    yf = torch.tensor([1.0, 0.0, 1.0, 0.0], dtype=D64)
    base = contrastive_loss(x1, x2, yf, reduction="none")
    for y in (yf.long(), yf.bool(), yf.float()):
        torch.testing.assert_close(contrastive_loss(x1, x2, y, reduction="none"), base)
    torch.testing.assert_close(contrastive_loss(x2, x1, yf, reduction="none"), base)


def test_contrastive_zero_distance_finite_gradients() -> None:
    a = torch.tensor([[0.3, -1.0, 2.0], [0.3, -1.0, 2.0]], dtype=D64)
    x1, x2 = a.clone().requires_grad_(True), a.clone().requires_grad_(True)
    out = contrastive_loss(x1, x2, torch.tensor([1, 0]), margin=2.0, reduction="none")
    torch.testing.assert_close(
        out.detach(), torch.tensor([0.0, 2.0], dtype=D64)
    )  # similar: 0; dissimilar: m^2/2
    out.sum().backward()
    assert torch.isfinite(x1.grad).all() and torch.isfinite(x2.grad).all()
    assert (x1.grad == 0).all()  # a subgradient: a cone tip for the dissimilar pair


def test_contrastive_gradcheck() -> None:
    x1, x2 = _emb(6, 3, seed=13, scale=0.5)
    y = torch.tensor([1, 0, 0, 1, 0, 0])
    assert torch.autograd.gradcheck(
        lambda a, b: contrastive_loss(a, b, y, margin=1.5, reduction="none"),
        (x1.requires_grad_(True), x2.requires_grad_(True)),
    )


@pytest.mark.parametrize("bad", [2, -1])
def test_contrastive_bad_target_value(bad: int) -> None:
    x1, x2 = _emb(3, 2, seed=14)
    with pytest.raises(
        LosscraftError,
        match=rf"contrastive_loss: 'target' must contain only 0 \(dissimilar\) or 1 \(similar\), got {bad}$",
    ):
        contrastive_loss(x1, x2, torch.tensor([1, bad, 0]))


def test_contrastive_other_errors() -> None:
    x1, x2 = _emb(3, 2, seed=15)
    with pytest.raises(LosscraftError, match=r"contrastive_loss: 'target' must have shape \(3,\)"):
        contrastive_loss(x1, x2, torch.ones(4))
    with pytest.raises(LosscraftError, match=r"'input1' must be a floating-point tensor"):
        contrastive_loss(x1.long(), x2, torch.ones(3))
    for bad in (0.0, -1.0, math.inf):
        with pytest.raises(
            LosscraftError, match=r"contrastive_loss: 'margin' must be a float in \(0, inf\), got"
        ):
            contrastive_loss(x1, x2, torch.ones(3), margin=bad)
    m = ContrastiveLoss(margin=0.5, reduction="sum")
    assert repr(m) == "ContrastiveLoss(margin=0.5, reduction='sum')"
    y = torch.tensor([1, 0, 1])
    torch.testing.assert_close(m(x1, x2, y), contrastive_loss(x1, x2, y, margin=0.5, reduction="sum"))
