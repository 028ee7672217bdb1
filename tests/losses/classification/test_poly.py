"""poly (PolyLoss): float64 reference from the paper's formula, closed-form gradient.

The reference is written in plain float64 (softmax then log, ...), never through losscraft's
code path.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from losscraft.losses.classification import poly_loss
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


def _poly_row(eps: float, ls: float = 0.0):
    def row(z: list[float], y: int) -> float:
        # the paper's code: pt = sum(labels * softmax), CE = softmax_cross_entropy(labels, logits)
        p = _softmax(z)
        c = len(z)
        q = [(1 - ls) * (k == y) + ls / c for k in range(c)]
        ce = -sum(qk * math.log(pk) for qk, pk in zip(q, p, strict=True))
        pt = sum(qk * pk for qk, pk in zip(q, p, strict=True))
        return ce + eps * (1 - pt)

    return row


@pytest.mark.parametrize("shape", [(7, 4), (2, 3, 2, 3)])
@pytest.mark.parametrize(("eps", "ls"), [(1.0, 0.0), (-1.0, 0.0), (2.5, 0.1), (0.5, 1.0)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_poly_reference(shape, eps: float, ls: float, reduction: str) -> None:
    x, t = _case(8, shape, ignore=-100, n_ignore=2)
    got = poly_loss(x, t, epsilon=eps, label_smoothing=ls, reduction=reduction)
    torch.testing.assert_close(got, _naive_index(_poly_row(eps, ls), x, t, reduction=reduction), **TIGHT)


@pytest.mark.parametrize("ls", [0.0, 0.2])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_poly_epsilon0_is_torch_cross_entropy(ls: float, reduction: str) -> None:
    x, t = _case(9, (5, 3, 4), ignore=-100, n_ignore=4)
    _close(
        _run(poly_loss, x, t, epsilon=0.0, label_smoothing=ls, reduction=reduction),
        _run(F.cross_entropy, x, t, label_smoothing=ls, reduction=reduction),
    )


def test_poly_gradient_closed_form_and_gradcheck() -> None:
    x, t = _case(10, (6, 5))
    eps = 1.7
    _, g = _run(poly_loss, x, t, epsilon=eps, reduction="sum")
    p = torch.softmax(x, 1)
    onehot = F.one_hot(t, 5).to(D)
    p_y = (p * onehot).sum(1, keepdim=True)
    torch.testing.assert_close(g, (1 + eps * p_y) * (p - onehot), **TIGHT)
    xs, ts = _case(11, (2, 3, 2, 2), ignore=0, n_ignore=2)
    w = torch.rand(2, 2, 2, generator=_gen(1), dtype=D)
    assert torch.autograd.gradcheck(
        lambda a: poly_loss(a, ts, epsilon=-0.5, label_smoothing=0.3, ignore_index=0, weight=w),
        (xs.clone().requires_grad_(),),
    )


@settings(max_examples=40)
@given(
    eps=st.floats(-1.0, 5.0),
    ls=st.floats(0.0, 1.0),
    scale=st.floats(0.0, 30.0),
    seed=st.integers(0, 10_000),
)
def test_poly_nonnegative_for_epsilon_at_least_minus_one(
    eps: float, ls: float, scale: float, seed: int
) -> None:
    x, t = _case(seed, (5, 3), scale=scale)
    v = poly_loss(x, t, epsilon=eps, label_smoothing=ls, reduction="none")
    assert torch.isfinite(v).all() and (v >= -1e-12).all()
