"""ranknet: rax ``pairwise_logistic_loss`` (transcribed in helpers.py), its published values, options."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from losscraft.losses.ranking import RankNetLoss, ranknet_loss
from losses.ranking.helpers import f64, list_case, rax_pairwise_logistic_sum, real_items


def test_published_rax_values() -> None:
    # rax pairwise_logistic_loss docstring: vmap over the two lists -> [1.6265235, 0.7873387]
    # (sums over pairs); ours is the mean over each list's pairs (2 pairs each)
    s = torch.tensor([[2.0, 1.0, 3.0], [1.0, 0.5, 1.5]])
    y = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    out = ranknet_loss(s, y, reduction="none")
    torch.testing.assert_close(out * 2, torch.tensor([1.6265235, 0.7873387]))
    # the masked example: reduce_fn=jnp.mean over all valid pairs of the batch -> 0.3668668;
    # first list [2, 1, pad] has one pair, the second two: the pair-weighted mean of ours
    y_pad = torch.tensor([[1.0, 0.0, -1.0], [0.0, 0.0, 1.0]])
    per_query = ranknet_loss(torch.tensor([[2.0, 1.0, 0.0], [1.0, 0.5, 1.5]]), y_pad, reduction="none")
    assert ((per_query * torch.tensor([1.0, 2.0])).sum() / 3).item() == pytest.approx(0.3668668, abs=1e-6)


@pytest.mark.parametrize("sigma", [1.0, 0.3])
def test_matches_pairwise_reference_values_and_gradients(sigma: float) -> None:
    s0, y = list_case(2)
    s = s0.clone().requires_grad_(True)
    out = ranknet_loss(s, y, sigma=sigma, reduction="none")
    refs = []
    for q in range(s0.shape[0]):
        sq, yq = real_items(s[q], y[q])
        total, count = rax_pairwise_logistic_sum(sigma * sq, yq)
        refs.append(total / count)
    ref = torch.stack(refs)
    torch.testing.assert_close(out, ref, rtol=1e-13, atol=1e-13)
    g1 = torch.autograd.grad(out.sum(), s, retain_graph=True)[0]
    g2 = torch.autograd.grad(ref.sum(), s)[0]
    torch.testing.assert_close(g1, g2, rtol=1e-13, atol=1e-13)


def test_two_items_is_bce_with_logits_on_the_difference() -> None:
    g = torch.Generator().manual_seed(1)
    s = torch.randn(7, 2, generator=g, dtype=f64) * 3
    y = torch.tensor([[1, 0]] * 7)
    torch.testing.assert_close(
        ranknet_loss(s, y, reduction="none"),
        F.binary_cross_entropy_with_logits(s[:, 0] - s[:, 1], torch.ones(7, dtype=f64), reduction="none"),
        rtol=1e-14,
        atol=1e-14,
    )


def test_query_without_pair_is_left_out_of_the_mean() -> None:
    s, y = list_case(3, q=3, pad=False)
    y[1] = 2  # all labels equal: no pair
    out = ranknet_loss(s, y, reduction="none")
    assert out[1].item() == 0.0
    torch.testing.assert_close(ranknet_loss(s, y), out[[0, 2]].mean())
    w = torch.tensor([0.5, 3.0, 2.0], dtype=f64)
    torch.testing.assert_close(ranknet_loss(s, y, weight=w), (out * w)[[0, 2]].sum() / 2.5)


def test_extreme_scores_are_finite_and_exact() -> None:
    s = torch.tensor([[-1e4, 1e4, 0.0]], requires_grad=True)
    out = ranknet_loss(s, torch.tensor([[1, 0, -1]]))
    out.backward()
    assert out.item() == pytest.approx(2e4, rel=1e-6)
    assert torch.isfinite(s.grad).all() and s.grad[0, 2].item() == 0.0


def test_module_matches_function() -> None:
    s, y = list_case(4)
    m = RankNetLoss(sigma=0.5, ignore_index=-1)
    torch.testing.assert_close(m(s, y), ranknet_loss(s, y, sigma=0.5))
    assert m.get_config()["sigma"] == 0.5
