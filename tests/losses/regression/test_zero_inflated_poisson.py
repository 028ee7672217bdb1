"""zero_inflated_poisson: a float64 reference written from Lambert (1992) and statsmodels' ZIP."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import expit, gammaln
from statsmodels.discrete.count_model import ZeroInflatedPoisson

from losscraft import LosscraftError
from losscraft.functional import poisson_nll_loss
from losscraft.losses.regression import ZeroInflatedPoissonLoss, zero_inflated_poisson_loss
from losses.regression.helpers import f64


def _data(seed: int, n: int = 60) -> tuple[torch.Tensor, torch.Tensor]:
    """``(n, 2)`` inputs [log-rate in [-2, 2.5], zero logit in [-3, 3]] and ZIP counts."""
    rng = np.random.default_rng(seed)
    eta = rng.uniform(-2.0, 2.5, n)
    z = rng.uniform(-3.0, 3.0, n)
    y = np.where(rng.random(n) < expit(z), 0, rng.poisson(np.exp(eta)))
    x = np.stack([eta + 0.3 * rng.normal(size=n), z + 0.3 * rng.normal(size=n)], axis=-1)
    return torch.tensor(x, dtype=f64), torch.tensor(y, dtype=f64)


def _ref(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """-log P(y): pi [y = 0] + (1 - pi) Poisson(y; lambda), straight from the model (Lambert 1992)."""
    lam, pi = np.exp(x[:, 0]), expit(x[:, 1])
    pmf = np.exp(-lam + y * np.log(lam) - gammaln(y + 1))
    return -np.log(pi * (y == 0) + (1 - pi) * pmf)


def test_zip_matches_the_model_and_statsmodels() -> None:
    x, y = _data(0)
    got = zero_inflated_poisson_loss(x, y, reduction="none").numpy()
    np.testing.assert_allclose(got, _ref(x.numpy(), y.numpy()), rtol=1e-10, atol=1e-12)
    # statsmodels: log(lambda) = exog @ [1], logit(pi) = exog_infl @ [1]; params = [inflate, main]
    model = ZeroInflatedPoisson(
        y.numpy(), exog=x[:, :1].numpy(), exog_infl=x[:, 1:].numpy(), inflation="logit"
    )
    np.testing.assert_allclose(-got, model.loglikeobs(np.array([1.0, 1.0])), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        zero_inflated_poisson_loss(x, y, reduction="sum").item(), got.sum(), rtol=1e-12
    )
    w = torch.rand(60, generator=torch.Generator().manual_seed(1), dtype=f64)
    np.testing.assert_allclose(
        zero_inflated_poisson_loss(x, y, weight=w).item(),
        (w.numpy() * got).sum() / w.sum().item(),
        rtol=1e-12,
    )


def test_zip_gradients_against_autograd_on_the_naive_formula() -> None:
    x, y = _data(2)
    xa = x.clone().requires_grad_(True)
    zero_inflated_poisson_loss(xa, y, reduction="sum").backward()
    xb = x.clone().requires_grad_(True)
    lam, pi = xb[:, 0].exp(), torch.sigmoid(xb[:, 1])
    pmf = torch.exp(-lam + y * xb[:, 0] - torch.lgamma(y + 1))
    (-torch.log(pi * (y == 0) + (1 - pi) * pmf)).sum().backward()
    torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-9, atol=1e-12)
    # closed form of the zero-logit gradient: sigmoid(z) - [y = 0] sigmoid(z + lambda)
    z, lam0 = x[:, 1], x[:, 0].exp()
    torch.testing.assert_close(xa.grad[:, 1], torch.sigmoid(z) - (y == 0) * torch.sigmoid(z + lam0))
    assert torch.autograd.gradcheck(lambda a: zero_inflated_poisson_loss(a, y, reduction="none"), (xa,))


def test_zip_tends_to_the_poisson_nll_without_inflation() -> None:
    """pi -> 0: poisson_nll (log-rate input) plus the log y! it leaves out."""
    x, y = _data(3)
    x[:, 1] = -40.0
    want = poisson_nll_loss(x[:, 0], y, reduction="none") + torch.lgamma(y + 1)
    torch.testing.assert_close(
        zero_inflated_poisson_loss(x, y, reduction="none"), want, rtol=1e-12, atol=1e-12
    )


def test_zip_is_stable_at_extreme_logits_and_rates() -> None:
    """Certain structural zeros, certain Poisson, huge and tiny rates: finite values and gradients."""
    x = torch.tensor(
        [[0.0, 80.0], [0.0, -80.0], [30.0, 0.0], [-30.0, 0.0], [30.0, -80.0], [-30.0, 80.0]],
        dtype=torch.float32,
    )
    for y in (torch.zeros(6), torch.full((6,), 3.0)):
        xg = x.clone().requires_grad_(True)
        out = zero_inflated_poisson_loss(xg, y, reduction="none")
        out.sum().backward()
        assert torch.isfinite(out).all() and torch.isfinite(xg.grad).all()
        with np.errstate(divide="ignore", over="ignore"):
            ref = torch.tensor(_ref(x.double().numpy(), y.double().numpy()))
        ok = torch.isfinite(ref)  # the naive reference underflows (log 0) where ours does not
        torch.testing.assert_close(out.double()[ok], ref[ok], rtol=1e-5, atol=1e-5)
    # a zero count with a certain structural zero costs nothing; with a certain Poisson, lambda
    x2 = torch.tensor([[2.0, 80.0], [2.0, -80.0]], dtype=f64)
    out = zero_inflated_poisson_loss(x2, torch.zeros(2, dtype=f64), reduction="none")
    torch.testing.assert_close(out, torch.tensor([0.0, np.exp(2.0)], dtype=f64), atol=1e-12, rtol=1e-12)


def test_zip_batched_shapes_and_module() -> None:
    x, y = _data(4, n=24)
    xb, yb = x.reshape(2, 3, 4, 2), y.reshape(2, 3, 4)
    out = zero_inflated_poisson_loss(xb, yb, reduction="none")
    assert out.shape == (2, 3, 4)
    torch.testing.assert_close(out.reshape(-1), zero_inflated_poisson_loss(x, y, reduction="none"))
    torch.testing.assert_close(ZeroInflatedPoissonLoss()(xb, yb), out.mean())


def test_zip_errors() -> None:
    with pytest.raises(
        LosscraftError,
        match=r"^zero_inflated_poisson_loss: 'input' must have shape \(\*, 2\) \(log-rate, zero logit\), got \(4, 3\)",
    ):
        zero_inflated_poisson_loss(torch.zeros(4, 3), torch.zeros(4))
    with pytest.raises(LosscraftError, match=r"'input' must have shape \(\*, 2\).*got \(4,\)"):
        zero_inflated_poisson_loss(torch.zeros(4), torch.zeros(4))
    with pytest.raises(
        LosscraftError,
        match=r"^zero_inflated_poisson_loss: 'target' must have shape input.shape\[:-1\] = \(4,\), got \(4, 2\)",
    ):
        zero_inflated_poisson_loss(torch.zeros(4, 2), torch.zeros(4, 2))
    with pytest.raises(
        LosscraftError,
        match=r"^zero_inflated_poisson_loss: 'target' must contain counts in \[0, inf\], got -1",
    ):
        zero_inflated_poisson_loss(torch.zeros(3, 2), torch.tensor([0.0, -1.0, 2.0]))
    with pytest.raises(
        LosscraftError, match=r"^zero_inflated_poisson_loss: 'input' must be a floating-point tensor"
    ):
        zero_inflated_poisson_loss(torch.zeros(3, 2, dtype=torch.long), torch.zeros(3))
