"""poisson_nll: parity with ``torch.nn.functional.poisson_nll_loss`` and a float64 reference.

Convention difference against torch, tested below: with ``full=True`` the gradient w.r.t. a
zero count is 0 here, NaN in torch.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from losscraft import LosscraftError
from losscraft.losses.regression import PoissonNLLLoss, poisson_nll_loss
from losses.regression.helpers import f64


def _counts(seed: int, shape=(5, 4), zeros: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    log_rate = torch.rand(shape, generator=g, dtype=f64) * 4 - 1.5
    y = torch.poisson(log_rate.exp(), generator=g)
    if not zeros:
        y = y + 2.0  # away from 0 and the Stirling switch at y = 1
    return log_rate + 0.3 * torch.randn(shape, generator=g, dtype=f64), y


@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("eps", [1e-8, 0.1])
def test_poisson_parity_with_torch(log_input: bool, full: bool, reduction: str, eps: float) -> None:
    eta, y = _counts(11, zeros=True)
    x0 = eta if log_input else eta.exp()
    outs = []
    for fn in (poisson_nll_loss, F.poisson_nll_loss):
        x = x0.clone().requires_grad_(True)
        out = fn(x, y, log_input=log_input, full=full, eps=eps, reduction=reduction)
        out.sum().backward()
        outs.append((out.detach(), x.grad))
    for a, b in zip(*outs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
def test_poisson_target_gradient_parity_and_zero_count_difference(log_input: bool, full: bool) -> None:
    eta, y = _counts(12, zeros=False)
    x = eta if log_input else eta.exp()
    grads = []
    for fn in (poisson_nll_loss, F.poisson_nll_loss):
        t = y.clone().requires_grad_(True)
        fn(x, t, log_input=log_input, full=full).backward()
        grads.append(t.grad)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-13, atol=1e-13)
    # a zero count: 0 here, NaN in torch (its masked Stirling term computes 0 * log 0)
    t = torch.zeros(3, dtype=f64, requires_grad=True)
    poisson_nll_loss(x[0, :3], t, log_input=log_input, full=full, reduction="sum").backward()
    expected = -x[0, :3] if log_input else -torch.log(x[0, :3] + 1e-8)
    torch.testing.assert_close(t.grad, expected)
    if full:
        t2 = torch.zeros(3, dtype=f64, requires_grad=True)
        F.poisson_nll_loss(x[0, :3], t2, log_input=log_input, full=True, reduction="sum").backward()
        assert torch.isnan(t2.grad).all()


def test_poisson_reference_and_gradcheck() -> None:
    eta, y = _counts(13)
    lam, k = eta.exp().numpy(), y.numpy()
    stirling = np.where(
        k > 1, k * np.log(np.where(k > 1, k, 1)) - k + 0.5 * np.log(2 * np.pi * np.maximum(k, 1)), 0
    )
    got = poisson_nll_loss(eta, y, full=True, reduction="none").numpy()
    np.testing.assert_allclose(got, lam - k * eta.numpy() + stirling, rtol=1e-12, atol=1e-12)
    for log_input in (True, False):
        x = (eta if log_input else eta.exp()).clone().requires_grad_(True)
        assert torch.autograd.gradcheck(
            lambda a, li=log_input: poisson_nll_loss(a, y, log_input=li, full=True, reduction="none"), (x,)
        )
    # the constant log-rate minimising the mean loss is log(mean count): zero gradient there
    c = torch.tensor(math.log(y.mean().item()), dtype=f64, requires_grad=True)
    poisson_nll_loss(c.expand_as(y), y).backward()
    assert abs(c.grad.item()) < 1e-14


def test_poisson_large_log_rates_overflow_like_torch() -> None:
    """Documented limitation shared with torch: exp(log-rate) overflows (float32 beyond ~88)."""
    x = torch.tensor([80.0, 100.0])
    y = torch.tensor([3.0, 3.0])
    ours = poisson_nll_loss(x, y, reduction="none")
    theirs = F.poisson_nll_loss(x, y, reduction="none")
    torch.testing.assert_close(ours, theirs)
    assert torch.isfinite(ours[0]) and torch.isinf(ours[1])


def test_poisson_errors() -> None:
    x = torch.zeros(2, 3)
    with pytest.raises(
        LosscraftError,
        match=r"^poisson_nll_loss: 'target' must contain counts in \[0, inf\], got -1 \(observed range",
    ):
        poisson_nll_loss(x, torch.tensor([[0.0, 1.0, 2.0], [-1.0, 0.0, 0.0]]))
    with pytest.raises(
        LosscraftError,
        match=r"^poisson_nll_loss: 'input' must contain rates \(log_input=False\) in \[0, inf\], got -0.5",
    ):
        poisson_nll_loss(torch.tensor([[1.0, -0.5, 1.0], [1.0, 1.0, 1.0]]), x, log_input=False)
    with pytest.raises(
        LosscraftError, match=r"^poisson_nll_loss: 'eps' must be a float in \(0, inf\), got 0.0$"
    ):
        poisson_nll_loss(x, x, eps=0.0)
    with pytest.raises(
        LosscraftError, match=r"^poisson_nll_loss: 'log_input' must be one of True, False, got 1$"
    ):
        poisson_nll_loss(x, x, log_input=1)  # type: ignore[arg-type]
    m = PoissonNLLLoss(log_input=False, full=True, reduction="none")
    eta, y = _counts(14)
    torch.testing.assert_close(
        m(eta.exp(), y), F.poisson_nll_loss(eta.exp(), y, log_input=False, full=True, reduction="none")
    )
