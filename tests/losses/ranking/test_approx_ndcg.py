"""approx_ndcg: Qin, Liu & Li's smooth-rank NDCG (helpers.py), the hard-rank limit, options."""

from __future__ import annotations

import math

import pytest
import torch

from losscraft.losses.ranking import ApproxNDCGLoss, approx_ndcg_loss
from losses.ranking.helpers import approx_ndcg_ref, list_case, real_items


@pytest.mark.parametrize("temperature", [1.0, 0.25])
def test_matches_reference_values_and_gradients(temperature: float) -> None:
    s0, y = list_case(11)
    s = s0.clone().requires_grad_(True)
    out = approx_ndcg_loss(s, y, temperature=temperature, reduction="none")
    ref = torch.stack([approx_ndcg_ref(*real_items(s[q], y[q]), temperature) for q in range(s0.shape[0])])
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    g1 = torch.autograd.grad(out.sum(), s, retain_graph=True)[0]
    g2 = torch.autograd.grad(ref.sum(), s)[0]
    torch.testing.assert_close(g1, g2, rtol=1e-12, atol=1e-12)


def _hard_ndcg(s: list[float], y: list[float]) -> float:
    """NDCG with true ranks (no ties in s): sklearn's ndcg_score with exponential gains."""
    order = sorted(range(len(s)), key=lambda i: -s[i])
    dcg = sum((2.0 ** y[i] - 1.0) / math.log2(2.0 + k) for k, i in enumerate(order))
    idcg = sum((2.0**g - 1.0) / math.log2(2.0 + k) for k, g in enumerate(sorted(y, reverse=True)))
    return dcg / idcg


def test_low_temperature_reaches_the_hard_ndcg() -> None:
    s, y = list_case(12, pad=False)
    out = approx_ndcg_loss(s, y, temperature=1e-3, reduction="none")
    hard = torch.tensor(
        [1.0 - _hard_ndcg(s[q].tolist(), y[q].float().tolist()) for q in range(s.shape[0])],
        dtype=torch.float64,
    )
    torch.testing.assert_close(out, hard, rtol=1e-9, atol=1e-9)


def test_no_relevant_item_is_left_out() -> None:
    s, y = list_case(13, q=3, pad=False)
    y[2] = 0
    out = approx_ndcg_loss(s, y, reduction="none")
    assert out[2].item() == 0.0
    torch.testing.assert_close(approx_ndcg_loss(s, y), out[:2].mean())


def test_bounds_and_extremes() -> None:
    s, y = list_case(14)
    out = approx_ndcg_loss(s, y, reduction="none")
    assert bool(((out >= 0) & (out < 1)).all())
    x = torch.tensor([[-1e4, 1e4, 0.0]], requires_grad=True)
    v = approx_ndcg_loss(x, torch.tensor([[1, 0, -1]]))
    v.backward()
    assert v.item() == pytest.approx(1 - 1 / math.log2(3), rel=1e-6)  # the relevant item ranked 2nd
    assert torch.isfinite(x.grad).all()


def test_module_matches_function() -> None:
    s, y = list_case(15)
    m = ApproxNDCGLoss(temperature=0.5)
    torch.testing.assert_close(m(s, y), approx_ndcg_loss(s, y, temperature=0.5))
