"""listmle: Xia et al.'s Plackett-Luce likelihood (helpers.py), the tie rule, limits."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from losscraft.losses.ranking import ListMLELoss, listmle_loss, ranknet_loss
from losses.ranking.helpers import f64, list_case, listmle_ref, plackett_luce_nll, real_items


def test_matches_reference_values_and_gradients() -> None:
    s0, y = list_case(9)
    s = s0.clone().requires_grad_(True)
    out = listmle_loss(s, y, reduction="none")
    ref = torch.stack([listmle_ref(*real_items(s[q], y[q])) for q in range(s0.shape[0])])
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    g1 = torch.autograd.grad(out.sum(), s, retain_graph=True)[0]
    g2 = torch.autograd.grad(ref.sum(), s)[0]
    torch.testing.assert_close(g1, g2, rtol=1e-12, atol=1e-12)


def test_plackett_luce_probabilities_sum_to_one() -> None:
    # exp(-loss) is a probability of the labelled order: summed over the 4! orders (distinct labels) it is 1
    s = torch.tensor([[0.3, -1.2, 2.0, 0.7]], dtype=f64)
    total = 0.0
    for perm in itertools.permutations(range(4)):
        y = torch.zeros(1, 4, dtype=torch.long)
        y[0, list(perm)] = torch.tensor([3, 2, 1, 0])  # item perm[k] gets label 3 - k
        value = listmle_loss(s, y, reduction="none")[0]
        torch.testing.assert_close(value, plackett_luce_nll(s[0], list(perm)), rtol=1e-13, atol=1e-13)
        total += math.exp(-value.item())
    assert total == pytest.approx(1.0, abs=1e-12)


def test_ties_keep_list_order() -> None:
    s = torch.tensor([[0.5, 2.0, -1.0]], dtype=f64)
    y = torch.tensor([[1, 1, 0]])  # items 0 and 1 tied: item 0 is drawn first
    torch.testing.assert_close(listmle_loss(s, y, reduction="none")[0], plackett_luce_nll(s[0], [0, 1, 2]))


def test_two_items_is_ranknet() -> None:
    g = torch.Generator().manual_seed(2)
    s = torch.randn(6, 2, generator=g, dtype=f64) * 3
    y = torch.tensor([[2, 0]] * 6)
    torch.testing.assert_close(listmle_loss(s, y, reduction="none"), ranknet_loss(s, y, reduction="none"))


def test_single_and_no_real_item() -> None:
    s = torch.tensor([[1.0, 2.0], [3.0, 4.0], [0.5, -0.5]], dtype=f64)
    y = torch.tensor([[2, -1], [-1, -1], [1, 0]])
    out = listmle_loss(s, y, reduction="none")
    assert out[0].item() == 0.0 and out[1].item() == 0.0
    torch.testing.assert_close(listmle_loss(s, y), out[[0, 2]].mean())  # the all-padded query is left out


def test_extreme_scores_are_finite_and_exact() -> None:
    s = torch.tensor([[-1e4, 1e4, 0.0]], requires_grad=True)
    out = listmle_loss(s, torch.tensor([[1, 0, -1]]))
    out.backward()
    assert out.item() == pytest.approx(2e4, rel=1e-6)
    assert torch.isfinite(s.grad).all() and s.grad[0, 2].item() == 0.0


def test_module_matches_function() -> None:
    s, y = list_case(10)
    torch.testing.assert_close(ListMLELoss(reduction="sum")(s, y), listmle_loss(s, y, reduction="sum"))
