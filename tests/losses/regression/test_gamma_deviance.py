"""gamma_deviance: parity with scikit-learn's ``mean_gamma_deviance`` (as a function of the mean)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import mean_gamma_deviance

from losscraft import LosscraftError
from losscraft.losses.regression import GammaDevianceLoss, gamma_deviance_loss, tweedie_loss
from losses.regression.helpers import f64


def _data(seed: int, n: int = 50) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-means in [-3, 3] and positive Gamma(2)-distributed targets around them."""
    g = torch.Generator().manual_seed(seed)
    eta = torch.rand(n, generator=g, dtype=f64) * 6 - 3
    u1, u2 = torch.rand(n, generator=g, dtype=f64), torch.rand(n, generator=g, dtype=f64)
    y = eta.exp() * -(torch.log1p(-u1) + torch.log1p(-u2)) / 2  # Gamma(2, mean exp(eta))
    return eta + 0.4 * torch.randn(n, generator=g, dtype=f64), y


def test_gamma_deviance_matches_sklearn() -> None:
    x, y = _data(0)
    mu, yn = x.exp().numpy(), y.numpy()
    got = gamma_deviance_loss(x, y, reduction="none").numpy()
    want = np.array([mean_gamma_deviance([a], [m]) for a, m in zip(yn, mu, strict=True)])
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(gamma_deviance_loss(x, y).item(), mean_gamma_deviance(yn, mu), rtol=1e-12)
    np.testing.assert_allclose(gamma_deviance_loss(x, y, reduction="sum").item(), want.sum(), rtol=1e-12)
    w = torch.rand(50, generator=torch.Generator().manual_seed(1), dtype=f64)
    np.testing.assert_allclose(
        gamma_deviance_loss(x, y, weight=w).item(),
        mean_gamma_deviance(yn, mu, sample_weight=w.numpy()),
        rtol=1e-12,
    )


def test_gamma_deviance_gradients_closed_form() -> None:
    """d/d(log mu) = 2 (1 - y/mu), d/dy = 2 (1/mu - 1/y) (McCullagh & Nelder's d(y, mu))."""
    x, y = _data(2)
    xg, yg = x.clone().requires_grad_(True), y.clone().requires_grad_(True)
    gamma_deviance_loss(xg, yg, reduction="sum").backward()
    mu = x.exp()
    torch.testing.assert_close(xg.grad, 2 * (1 - y / mu), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(yg.grad, 2 * (1 / mu - 1 / y), rtol=1e-10, atol=1e-12)
    assert torch.autograd.gradcheck(lambda a, b: gamma_deviance_loss(a, b, reduction="none"), (xg, yg))


def test_gamma_deviance_is_tweedie_power_two_and_scale_free() -> None:
    x, y = _data(3)
    torch.testing.assert_close(
        gamma_deviance_loss(x, y, reduction="none"), tweedie_loss(x, y, power=2.0, reduction="none")
    )
    # the Gamma deviance scores y/mu only: rescaling targets and means together changes nothing
    torch.testing.assert_close(
        gamma_deviance_loss(x + 3.0, y * np.exp(3.0), reduction="none"),
        gamma_deviance_loss(x, y, reduction="none"),
        rtol=1e-9,
        atol=1e-11,
    )


def test_gamma_deviance_is_accurate_near_the_match() -> None:
    """2 (e^t - 1 - t) against its Taylor series t^2 + t^3/3 + t^4/12 at tiny log-ratios t."""
    t = torch.tensor([1e-8, -1e-6, 1e-4], dtype=f64)
    y = torch.full((3,), 5.0, dtype=f64)
    got = gamma_deviance_loss(torch.log(y) - t, y, reduction="none")
    torch.testing.assert_close(got, t**2 + t**3 / 3 + t**4 / 12, rtol=1e-6, atol=0.0)


def test_gamma_deviance_errors_and_module() -> None:
    x = torch.zeros(2, 2)
    with pytest.raises(
        LosscraftError, match=r"^gamma_deviance_loss: 'target' must contain positive amounts \(> 0\), got 0"
    ):
        gamma_deviance_loss(x, torch.tensor([[1.0, 0.0], [1.0, 1.0]]))
    with pytest.raises(
        LosscraftError, match=r"^gamma_deviance_loss: 'target' must contain amounts in \[0, inf\], got -2"
    ):
        gamma_deviance_loss(x, torch.tensor([[1.0, -2.0], [1.0, 1.0]]))
    with pytest.raises(LosscraftError, match=r"got nan"):
        gamma_deviance_loss(x, torch.tensor([[1.0, float("nan")], [1.0, 1.0]]))
    with pytest.raises(LosscraftError, match=r"^gamma_deviance_loss: 'reduction' must be one of"):
        gamma_deviance_loss(x, x + 1, reduction="avg")  # type: ignore[arg-type]
    xx, y = _data(4)
    torch.testing.assert_close(GammaDevianceLoss()(xx, y), gamma_deviance_loss(xx, y))
