"""gce (generalized cross-entropy): float64 reference from the paper's formula, limits.

The reference is written in plain float64 (``p ** q``, ...), never through losscraft's code
path; q = 1 is MAE on the probabilities and q -> 0 is cross-entropy.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from losscraft.losses.classification import gce_loss
from losses.classification.helpers import (
    REDUCTIONS,
    TIGHT,
    D,
    _case,
    _close,
    _gen,
    _naive_index,
    _run,
    _softmax,
)


def _gce_row(q: float):
    def row(z: list[float], y: int) -> float:
        return (1 - _softmax(z)[y] ** q) / q

    return row


@pytest.mark.parametrize("shape", [(7, 4), (2, 3, 5)])
@pytest.mark.parametrize("q", [0.1, 0.7, 1.0])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gce_reference(shape, q: float, reduction: str) -> None:
    x, t = _case(12, shape, ignore=-100, n_ignore=2)
    got = gce_loss(x, t, q=q, reduction=reduction)
    torch.testing.assert_close(got, _naive_index(_gce_row(q), x, t, reduction=reduction), **TIGHT)


def test_gce_q1_is_mae_on_probabilities() -> None:
    # 1 - p_y = 1/2 sum_c |p_c - e_yc|: values and gradients against a naive float64 MAE.
    x, t = _case(13, (8, 5))
    for reduction in REDUCTIONS:

        def mae(a, b, reduction=reduction):
            v = 0.5 * (torch.softmax(a, 1) - F.one_hot(b, 5).to(D)).abs().sum(1)
            return {"none": v, "sum": v.sum(), "mean": v.mean()}[reduction]

        _close(_run(gce_loss, x, t, q=1.0, reduction=reduction), _run(mae, x, t))


def test_gce_q_to_zero_is_cross_entropy() -> None:
    x, t = _case(14, (9, 4), ignore=-100, n_ignore=2)
    ce = _run(F.cross_entropy, x, t, reduction="none")
    for q, tol in [(1e-4, 1e-2), (1e-6, 1e-4), (1e-9, 1e-7)]:
        _close(_run(gce_loss, x, t, q=q, reduction="none"), ce, rtol=0.0, atol=tol)


def test_gce_gradient_closed_form_accuracy_and_bound() -> None:
    x, t = _case(15, (6, 4), scale=4.0)
    q = 0.7
    _, g = _run(gce_loss, x, t, q=q, reduction="sum")
    p = torch.softmax(x, 1)
    onehot = F.one_hot(t, 4).to(D)
    p_y = (p * onehot).sum(1, keepdim=True)
    torch.testing.assert_close(g, p_y**q * (p - onehot), **TIGHT)
    # p_y -> 1: (1 - p^q)/q ~ (1 - p) = 2 e^{-40} / (1 + 2 e^{-40}); the naive form gives 0.
    x1 = torch.tensor([[40.0, 0.0, 0.0]], dtype=D)
    delta = 2 * math.exp(-40.0)
    got = gce_loss(x1, torch.tensor([0]), q=q).item()
    assert got == pytest.approx(delta * (1 - (1 + q) * delta / 2), rel=1e-12)
    # bounded by 1 / q whatever the logits
    xb = torch.tensor([[-1e4, 1e4, 0.0]], dtype=D)
    assert gce_loss(xb, torch.tensor([0]), q=q).item() == pytest.approx(1 / q)


def test_gce_gradcheck_options() -> None:
    x, t = _case(16, (3, 4, 2), ignore=3, n_ignore=2)
    w = torch.rand(3, 1, generator=_gen(2), dtype=D)
    for q in (0.05, 0.7, 1.0):
        assert torch.autograd.gradcheck(
            lambda a, q=q: gce_loss(a, t, q=q, ignore_index=3, weight=w), (x.clone().requires_grad_(),)
        )
