"""quantile (pinball loss): single and multi-level references, its minimiser, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import losscraft.functional as LF
from losscraft import LosscraftError
from losses.regression.helpers import _pair


def _pinball_ref(u: np.ndarray, tau: float) -> np.ndarray:
    out = np.empty_like(u)
    for i, v in np.ndenumerate(u):
        out[i] = tau * v if v >= 0 else (tau - 1) * v
    return out


@pytest.mark.parametrize("tau", [0.05, 0.5, 0.9])
def test_quantile_single_level_reference(tau: float) -> None:
    x, y = _pair(3)
    got = LF.quantile_loss(x, y, quantiles=tau, reduction="none")
    ref = _pinball_ref((y - x).numpy(), tau)
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-13)
    assert LF.quantile_loss(x, y, quantiles=tau).item() == pytest.approx(ref.mean(), rel=1e-13)


def test_quantile_multi_level_reference_and_gradient() -> None:
    g = torch.Generator().manual_seed(4)
    taus = (0.1, 0.5, 0.9)
    y = torch.randn(6, 2, generator=g, dtype=torch.float64)
    q = torch.randn(6, 2, 3, generator=g, dtype=torch.float64, requires_grad=True)
    got = LF.quantile_loss(q, y, quantiles=taus, reduction="none")
    for k, tau in enumerate(taus):
        ref = _pinball_ref((y - q[..., k]).detach().numpy(), tau)
        np.testing.assert_allclose(got[..., k].detach().numpy(), ref, rtol=1e-13)
    got.sum().backward()
    expected = torch.stack([(y < q[..., k]).double() - tau for k, tau in enumerate(taus)], dim=-1)
    torch.testing.assert_close(q.grad, expected)


def test_quantile_minimiser_is_the_quantile() -> None:
    """The constant minimising the pinball loss is the empirical tau-quantile."""
    g = torch.Generator().manual_seed(5)
    y = torch.randn(2001, generator=g, dtype=torch.float64).exp()  # skewed
    c = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([c], lr=0.05)
    for _ in range(1500):
        opt.zero_grad()
        LF.quantile_loss(c.expand_as(y), y, quantiles=0.8).backward()
        opt.step()
    assert c.item() == pytest.approx(torch.quantile(y, 0.8).item(), abs=0.03)


def test_quantile_half_is_half_mae_and_subgradient() -> None:
    x, y = _pair(6)
    torch.testing.assert_close(LF.quantile_loss(x, y, quantiles=0.5), 0.5 * LF.mae_loss(x, y))
    x = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    LF.quantile_loss(x, torch.zeros(2, dtype=torch.float64), quantiles=0.2, reduction="sum").backward()
    # documented subgradient 1/2 - tau at u = 0
    torch.testing.assert_close(x.grad, torch.full((2,), 0.3, dtype=torch.float64))


def test_quantile_shape_errors() -> None:
    y = torch.zeros(4, 2)
    with pytest.raises(
        LosscraftError,
        match=r"quantile_loss: 'input' must have shape target.shape \+ \(number of quantiles,\) = "
        r"\(4, 2, 3\), got \(4, 2\)",
    ):
        LF.quantile_loss(torch.zeros(4, 2), y, quantiles=[0.1, 0.5, 0.9])
    with pytest.raises(
        LosscraftError, match=r"same shape for a single quantile level, got input \(4, 2, 1\)"
    ):
        LF.quantile_loss(torch.zeros(4, 2, 1), y, quantiles=0.5)
    with pytest.raises(
        LosscraftError, match=r"'quantiles' must be a float in \(0, 1\), or a non-empty sequence"
    ):
        LF.quantile_loss(torch.zeros(4, 2, 2), y, quantiles=[0.5, 1.0])
