"""The lean chunk kernel of the sigmoid (binary) focal loss.

Compared with independent float64 closed forms written here (values and gradients) and with the
composed reference implementation of the same loss (``lean_kernels(False)``).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import losscraft.functional as LF
from kernels.helpers import (
    LEAN,
    REDUCTIONS,
    D,
    _close,
    _data,
    _focal_ref,
    _gen,
    _reduce,
    _upstream,
    _value_grad_and_fn,
)
from losscraft._core.kernels import lean_kernels

GAMMAS = [0.0, 0.3, 0.5, 1.0, 2.0, 2.5, 3.0, 4.0]


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("alpha", [None, 0.25, 0.9])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_focal_lean_matches_float64_reference(gamma: float, alpha: float | None, reduction: str) -> None:
    x, t = _data(1)
    w = torch.rand(6, 1, generator=_gen(2), dtype=D) + 0.1  # per sample: materialised
    up = _upstream(x.shape) if reduction == "none" else None
    for weight in (None, w):
        with lean_kernels(chunk=5):
            got = _value_grad_and_fn(
                LF.binary_focal_loss, x, t, up, gamma=gamma, alpha=alpha, weight=weight, reduction=reduction
            )
        assert got[2].name() == LEAN
        want = _value_grad_and_fn(
            lambda a, b, w=weight: _reduce(_focal_ref(a, b, gamma, alpha), reduction, w), x, t, up
        )
        _close(got[:2], want[:2])


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("alpha", [None, 0.25])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_focal_lean_matches_composed(gamma: float, alpha: float | None, reduction: str) -> None:
    # wider logits than the naive reference tolerates: the composed path is exact in the tails
    x, t = _data(3, (5, 9), scale=12.0)
    up = _upstream(x.shape) if reduction == "none" else None
    with lean_kernels(chunk=4):
        got = _value_grad_and_fn(
            LF.binary_focal_loss, x, t, up, gamma=gamma, alpha=alpha, reduction=reduction
        )
    with lean_kernels(False):
        want = _value_grad_and_fn(
            LF.binary_focal_loss, x, t, up, gamma=gamma, alpha=alpha, reduction=reduction
        )
    assert got[2].name() == LEAN and want[2].name() != LEAN
    # atol: the composed BCE gradient sigmoid(x) - y cancels for hard targets (lean is exact)
    _close(got[:2], want[:2], rtol=1e-10, atol=1e-14)


def test_focal_gradient_is_the_paper_formula_in_the_tails() -> None:
    # Lin et al. (2017), appendix, hard targets: dFL/dx_t = alpha_t (1 - p_t)^gamma
    # (gamma p_t log p_t + p_t - 1), x_t = +-x; accurate far into the easy tail.
    x = torch.linspace(-30, 30, 121, dtype=D)
    for hard in (0.0, 1.0):
        t = torch.full_like(x, hard)
        for gamma in (0.5, 2.0):
            _, g, fn = _value_grad_and_fn(
                LF.binary_focal_loss, x, t, gamma=gamma, alpha=0.25, reduction="sum"
            )
            assert fn.name() == LEAN
            y = 2 * hard - 1
            pt = torch.sigmoid(y * x)
            at = 0.25 if hard else 0.75
            # p_t - 1 = -sigmoid(-x_t) and log p_t = logsigmoid(x_t), without cancellation
            q = torch.sigmoid(-y * x)
            want = at * y * q**gamma * (gamma * pt * F.logsigmoid(y * x) - q)
            torch.testing.assert_close(g, want, rtol=1e-9, atol=0)


def test_focal_value_accurate_in_the_easy_tail() -> None:
    x = torch.tensor([40.0, 60.0, 700.0], dtype=D)
    got = LF.binary_focal_loss(x, torch.ones_like(x), gamma=2.0, alpha=0.25, reduction="none")
    torch.testing.assert_close(got, 0.25 * torch.sigmoid(-x) ** 2 * F.softplus(-x), rtol=1e-12, atol=0)
    assert got[0] > 0


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_focal_gamma0_alpha_none_is_bitwise_bce(reduction: str) -> None:
    x, t = _data(32, (6, 3), scale=10.0)
    w = torch.rand(6, 1, generator=_gen(33), dtype=D)
    up = _upstream(x.shape) if reduction == "none" else None
    for kw in ({}, {"weight": w}):
        a = _value_grad_and_fn(
            LF.binary_focal_loss, x, t, up, gamma=0.0, alpha=None, reduction=reduction, **kw
        )
        b = _value_grad_and_fn(LF.bce_with_logits_loss, x, t, up, reduction=reduction, **kw)
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_very_large_gamma() -> None:
    # gamma > 64 takes the branch that does not fold 2^gamma into alpha_t
    x, t = _data(34, (5, 8), scale=4.0)
    for gamma in (64.0, 80.0):
        with lean_kernels(chunk=7):
            got = _value_grad_and_fn(LF.binary_focal_loss, x, t, gamma=gamma, reduction="sum")
        with lean_kernels(False):
            want = _value_grad_and_fn(LF.binary_focal_loss, x, t, gamma=gamma, reduction="sum")
        assert got[2].name() == LEAN
        _close(got[:2], want[:2], rtol=1e-9, atol=1e-300)
