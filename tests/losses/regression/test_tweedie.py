"""tweedie: parity with scikit-learn's deviances (as functions of the mean) and float64 references.

scikit-learn's ``mean_tweedie_deviance(y, mu, power=p)`` takes the mean; the loss takes the
log-mean, so the references are evaluated at ``mu = exp(input)``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import mean_gamma_deviance, mean_poisson_deviance, mean_tweedie_deviance

from losscraft import LosscraftError
from losscraft.functional import poisson_nll_loss
from losscraft.losses.regression import TweedieLoss, tweedie_loss
from losses.regression.helpers import f64


def _data(seed: int, n: int = 40, zeros: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-means in [-2, 2.5] and compound Poisson-gamma-like targets (a third zero)."""
    g = torch.Generator().manual_seed(seed)
    eta = torch.rand(n, generator=g, dtype=f64) * 4.5 - 2.0
    y = eta.exp() * torch.distributions.Exponential(1.0).sample((n,)).to(f64)
    y = y * torch.rand(n, generator=g, dtype=f64).mul(2).add(0.1)
    if zeros:
        y = torch.where(torch.rand(n, generator=g, dtype=f64) < 1 / 3, torch.zeros_like(y), y)
    return eta + 0.5 * torch.randn(n, generator=g, dtype=f64), y


def _ref_grad(x: torch.Tensor, y: torch.Tensor, p: float) -> torch.Tensor:
    """d/d(log mu) of the unit deviance: 2 mu^(1-p) (mu - y) (chain rule on McCullagh & Nelder's d)."""
    mu = x.exp()
    return 2.0 * mu ** (1.0 - p) * (mu - y)


# Not closer to the ends: scikit-learn's closed form cancels there (1 / ((1-p)(2-p)) terms); the
# ends themselves are its Poisson / Gamma branches, and continuity is tested below.
@pytest.mark.parametrize("power", [1.0, 1.01, 1.2, 1.5, 1.8, 1.99])
def test_tweedie_matches_sklearn_with_zeros(power: float) -> None:
    torch.manual_seed(0)
    x, y = _data(1)
    mu, yn = x.exp().numpy(), y.numpy()
    got = tweedie_loss(x, y, power=power, reduction="none").numpy()
    want = np.array([mean_tweedie_deviance([a], [m], power=power) for a, m in zip(yn, mu, strict=True)])
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        tweedie_loss(x, y, power=power).item(), mean_tweedie_deviance(yn, mu, power=power), rtol=1e-10
    )


@pytest.mark.parametrize("power", [1.0, 1.3, 1.5, 1.7, 2.0])
def test_tweedie_weighted_mean_and_ends_match_sklearn(power: float) -> None:
    torch.manual_seed(1)
    x, y = _data(2, zeros=power < 2.0)
    mu, yn = x.exp().numpy(), y.numpy()
    w = torch.rand(y.shape, generator=torch.Generator().manual_seed(3), dtype=f64) + 0.1
    got = tweedie_loss(x, y, power=power, weight=w).item()
    np.testing.assert_allclose(
        got, mean_tweedie_deviance(yn, mu, power=power, sample_weight=w.numpy()), rtol=1e-10
    )
    if power == 1.0:
        np.testing.assert_allclose(
            tweedie_loss(x, y, power=1).item(), mean_poisson_deviance(yn, mu), rtol=1e-10
        )
    if power == 2.0:
        np.testing.assert_allclose(
            tweedie_loss(x, y, power=2).item(), mean_gamma_deviance(yn, mu), rtol=1e-10
        )


@pytest.mark.parametrize("power", [1.0, 1.25, 1.5, 1.75, 2.0])
def test_tweedie_gradient_closed_form_and_gradcheck(power: float) -> None:
    torch.manual_seed(2)
    x, y = _data(4, zeros=power < 2.0)
    xg = x.clone().requires_grad_(True)
    tweedie_loss(xg, y, power=power, reduction="sum").backward()
    torch.testing.assert_close(xg.grad, _ref_grad(x, y, power), rtol=1e-10, atol=1e-12)
    assert torch.autograd.gradcheck(lambda a: tweedie_loss(a, y, power=power, reduction="none"), (xg,))
    assert torch.autograd.gradgradcheck(lambda a: tweedie_loss(a, y, power=power, reduction="none"), (xg,))


def test_tweedie_is_continuous_in_power_at_both_ends() -> None:
    """The limits p -> 1 and p -> 2 are the Poisson and Gamma deviances, with no 0/0 at the ends."""
    torch.manual_seed(3)
    x, y = _data(5, zeros=False)
    for end, near in ((1.0, 1.0 + 1e-7), (2.0, 2.0 - 1e-7)):
        a = tweedie_loss(x, y, power=end, reduction="none")
        b = tweedie_loss(x, y, power=near, reduction="none")
        assert torch.isfinite(a).all()
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_tweedie_power_one_is_twice_poisson_nll_plus_a_target_term() -> None:
    """d_1(y, mu) = 2 [poisson_nll(log mu, y) + y log y - y]: same minimiser, not a constant multiple."""
    torch.manual_seed(4)
    x, y = _data(6)
    xlogy = torch.special.xlogy(y, y)
    want = 2.0 * (poisson_nll_loss(x, y, reduction="none") + xlogy - y)
    torch.testing.assert_close(tweedie_loss(x, y, power=1.0, reduction="none"), want, rtol=1e-12, atol=1e-12)


def test_tweedie_is_accurate_near_the_match() -> None:
    """At p = 1.5 the deviance is 16 sqrt(y) sinh(t/4)^2, t = log(y/mu): no cancellation in that form."""
    y = torch.full((5,), 3.0, dtype=f64)
    t = torch.tensor([1e-7, -1e-5, 1e-3, 0.5, -2.0], dtype=f64)
    x = torch.log(y) - t
    want = 16.0 * y.sqrt() * torch.sinh(t / 4) ** 2
    torch.testing.assert_close(tweedie_loss(x, y, power=1.5, reduction="none"), want, rtol=1e-7, atol=0.0)


def test_tweedie_zero_target_is_the_closed_form() -> None:
    x = torch.tensor([-3.0, 0.0, 2.0], dtype=f64)
    y = torch.zeros(3, dtype=f64)
    for p in (1.0, 1.4, 1.9):
        want = 2.0 * torch.exp((2 - p) * x) / (2 - p)
        torch.testing.assert_close(tweedie_loss(x, y, power=p, reduction="none"), want)


def test_tweedie_errors_and_module() -> None:
    x = torch.zeros(2, 3)
    with pytest.raises(
        LosscraftError, match=r"^tweedie_loss: 'target' must contain amounts in \[0, inf\], got -1"
    ):
        tweedie_loss(x, torch.tensor([[0.0, 1.0, 2.0], [-1.0, 0.0, 0.0]]))
    with pytest.raises(
        LosscraftError, match=r"^tweedie_loss: 'target' must contain positive amounts \(> 0\) for power=2"
    ):
        tweedie_loss(x, torch.tensor([[0.0, 1.0, 2.0], [1.0, 1.0, 1.0]]), power=2.0)
    for bad in (0.5, 2.5, math.nan, 3):
        with pytest.raises(LosscraftError, match=r"^tweedie_loss: 'power' must be a float in \[1, 2\], got "):
            tweedie_loss(x, x, power=bad)
    with pytest.raises(LosscraftError, match="same shape"):
        tweedie_loss(x, torch.zeros(3))
    m = TweedieLoss(power=1.2, reduction="none")
    xx, y = _data(7)
    torch.testing.assert_close(m(xx, y), tweedie_loss(xx, y, power=1.2, reduction="none"))
