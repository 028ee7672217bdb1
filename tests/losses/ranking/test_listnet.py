"""listnet: rax ``softmax_loss`` (linear target) and Cao et al.'s softmax target, float64 references."""

from __future__ import annotations

import math

import pytest
import torch

from losscraft import LosscraftError
from losscraft.losses.ranking import ListNetLoss, listnet_loss
from losses.ranking.helpers import f64, list_case, listnet_softmax_ref, rax_softmax_loss, real_items


def test_published_rax_values() -> None:
    # rax softmax_loss docstring: vmap -> [1.4076059, 0.68026966]; masked mean -> 0.49676564
    s = torch.tensor([[2.0, 1.0, 3.0], [1.0, 0.5, 1.5]])
    y = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    out = listnet_loss(s, y, target_distribution="linear", reduction="none")
    torch.testing.assert_close(out, torch.tensor([1.4076059, 0.68026966]))
    y_pad = torch.tensor([[1.0, 0.0, -1.0], [0.0, 0.0, 1.0]])
    mean = listnet_loss(s, y_pad, target_distribution="linear")
    assert mean.item() == pytest.approx(0.49676564, abs=1e-6)


@pytest.mark.parametrize("target_distribution", ["softmax", "linear"])
def test_matches_references_values_and_gradients(target_distribution: str) -> None:
    s0, y = list_case(5)
    ref_fn = listnet_softmax_ref if target_distribution == "softmax" else rax_softmax_loss
    s = s0.clone().requires_grad_(True)
    out = listnet_loss(s, y, target_distribution=target_distribution, reduction="none")
    ref = torch.stack([ref_fn(*real_items(s[q], y[q])) for q in range(s0.shape[0])])
    torch.testing.assert_close(out, ref, rtol=1e-13, atol=1e-13)
    g1 = torch.autograd.grad(out.sum(), s, retain_graph=True)[0]
    g2 = torch.autograd.grad(ref.sum(), s)[0]
    torch.testing.assert_close(g1, g2, rtol=1e-13, atol=1e-13)


def test_gradient_is_softmax_minus_target() -> None:
    s, y = list_case(6, pad=False)
    s.requires_grad_(True)
    listnet_loss(s, y, reduction="sum").backward()
    expected = torch.softmax(s.detach(), dim=1) - torch.softmax(y.to(f64), dim=1)
    torch.testing.assert_close(s.grad, expected, rtol=1e-13, atol=1e-13)


def test_no_relevant_item() -> None:
    s, y = list_case(7, q=3, pad=False)
    y[1] = 0
    lin = listnet_loss(s, y, target_distribution="linear", reduction="none")
    assert lin[1].item() == 0.0  # no distribution: 0, and left out of the mean
    torch.testing.assert_close(listnet_loss(s, y, target_distribution="linear"), lin[[0, 2]].mean())
    soft = listnet_loss(s, y, reduction="none")  # softmax target: uniform, defined
    torch.testing.assert_close(soft[1], -torch.log_softmax(s[1], 0).mean())


def test_extreme_scores_are_finite() -> None:
    s = torch.tensor([[-1e4, 1e4, 0.0, 5.0]], requires_grad=True)
    out = listnet_loss(s, torch.tensor([[3, 0, 1, -1]]), target_distribution="linear")
    out.backward()
    assert out.item() == pytest.approx(0.75 * 2e4 + 0.25 * 1e4, rel=1e-6)
    assert torch.isfinite(s.grad).all() and s.grad[0, 3].item() == 0.0
    assert math.isfinite(listnet_loss(s.detach(), torch.tensor([[3, 0, 1, -1]])).item())


def test_bad_choice_and_module() -> None:
    s, y = list_case(8)
    with pytest.raises(LosscraftError, match="listnet_loss: 'target_distribution' must be one of"):
        listnet_loss(s, y, target_distribution="exp")
    m = ListNetLoss(target_distribution="linear")
    torch.testing.assert_close(m(s, y), listnet_loss(s, y, target_distribution="linear"))
