"""Regression losses: parity with torch and independent float64 references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import losscraft
import losscraft.functional as LF
from losscraft import LosscraftError

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


def _pair(seed: int = 0, shape: tuple[int, ...] = (7, 5)) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(shape, generator=g, dtype=torch.float64) * 3,
        torch.randn(shape, generator=g, dtype=torch.float64) * 3,
    )


def _grads(fn, x, y, **kw):
    x = x.clone().requires_grad_(True)
    y = y.clone().requires_grad_(True)
    out = fn(x, y, **kw)
    out.backward(torch.ones_like(out))
    return out.detach(), x.grad, y.grad


@pytest.mark.parametrize(
    ("ours", "theirs", "kw"),
    [
        (LF.mse_loss, F.mse_loss, {}),
        (LF.mae_loss, F.l1_loss, {}),
        (LF.huber_loss, F.huber_loss, {"delta": 1.0}),
        (LF.huber_loss, F.huber_loss, {"delta": 0.3}),
        (LF.huber_loss, F.huber_loss, {"delta": 7.5}),
    ],
)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_parity_with_torch(ours, theirs, kw, reduction) -> None:
    x, y = _pair(1)
    a = _grads(ours, x, y, reduction=reduction, **kw)
    b = _grads(theirs, x, y, reduction=reduction, **kw)
    for u, v in zip(a, b, strict=True):
        torch.testing.assert_close(u, v, rtol=1e-12, atol=1e-12)


def test_mae_subgradient_at_zero_matches_torch() -> None:
    x = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    LF.mae_loss(x, torch.zeros(3, dtype=torch.float64)).backward()
    assert torch.equal(x.grad, torch.zeros(3, dtype=torch.float64))


def test_huber_gradient_is_clipped_residual() -> None:
    x, y = _pair(2)
    for delta in (0.5, 1.0, 2.0):
        _, gx, _ = _grads(LF.huber_loss, x, y, delta=delta, reduction="sum")
        torch.testing.assert_close(gx, (x - y).clamp(-delta, delta), rtol=0, atol=1e-14)


def _log_cosh_ref(r: float) -> float:
    # float64 closed form, independent of the library: log(cosh r) directly where it cannot
    # overflow, and the exact identity |r| - log 2 + log1p(exp(-2|r|)) beyond.
    if abs(r) < 300:
        return math.log(math.cosh(r))
    return abs(r) - math.log(2.0) + math.log1p(math.exp(-2 * abs(r)))


@given(st.lists(finite, min_size=1, max_size=20))
def test_log_cosh_reference(values: list[float]) -> None:
    r = torch.tensor(values, dtype=torch.float64)
    got = LF.log_cosh_loss(r, torch.zeros_like(r), reduction="none")
    ref = torch.tensor([_log_cosh_ref(v) for v in values], dtype=torch.float64)
    torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-15)


def test_log_cosh_large_residuals_and_gradient() -> None:
    r = torch.tensor([-1e4, -100.0, -1.0, 0.0, 0.5, 89.0, 1e4], dtype=torch.float32, requires_grad=True)
    out = LF.log_cosh_loss(r, torch.zeros_like(r), reduction="none")
    assert torch.isfinite(out).all()
    assert out[-1].item() == pytest.approx(1e4 - math.log(2.0), rel=1e-6)
    # naive log(cosh) overflows in float32 where ours does not
    assert torch.isinf(torch.log(torch.cosh(r.detach()[-1])))
    out.sum().backward()
    torch.testing.assert_close(r.grad, torch.tanh(r.detach()), rtol=1e-6, atol=1e-7)


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


def test_error_messages() -> None:
    x = torch.zeros(3, 4)
    with pytest.raises(
        LosscraftError,
        match=r"^mse_loss: 'input' and 'target' must have the same shape, got input \(3, 4\) and "
        r"target \(4,\)$",
    ):
        LF.mse_loss(x, torch.zeros(4))
    with pytest.raises(LosscraftError, match=r"^huber_loss: 'delta' must be a float in \(0, inf\), got 0.0$"):
        LF.huber_loss(x, x, delta=0.0)
    with pytest.raises(
        LosscraftError, match=r"^mae_loss: 'target' must be a floating-point tensor .* got torch.int64$"
    ):
        LF.mae_loss(x, torch.zeros(3, 4, dtype=torch.long))
    with pytest.raises(
        LosscraftError,
        match=r"^log_cosh_loss: 'reduction' must be one of 'mean', 'sum', 'none', got 'batchmean'$",
    ):
        LF.log_cosh_loss(x, x, reduction="batchmean")
    assert issubclass(LosscraftError, ValueError)


@given(st.lists(st.tuples(finite, finite), min_size=1, max_size=10), st.floats(0.01, 10.0))
def test_huber_between_scaled_l1_and_l2(pairs: list[tuple[float, float]], delta: float) -> None:
    x = torch.tensor([p[0] for p in pairs], dtype=torch.float64)
    y = torch.tensor([p[1] for p in pairs], dtype=torch.float64)
    h = LF.huber_loss(x, y, delta=delta, reduction="none")
    r = (x - y).abs()
    assert (h <= 0.5 * r * r + 1e-9).all()
    assert (h <= delta * r + 1e-9).all()
    assert (h >= delta * r - 0.5 * delta * delta - 1e-9).all()


def test_modules_and_registry() -> None:
    x, y = _pair(7)
    assert losscraft.get("l2").module is losscraft.MSELoss
    assert losscraft.get("pinball").module is losscraft.QuantileLoss
    torch.testing.assert_close(losscraft.HuberLoss(delta=2.0)(x, y), F.huber_loss(x, y, delta=2.0))
    m = losscraft.QuantileLoss(quantiles=[0.1, 0.9], reduction="none")
    assert m.hparams["quantiles"] == (0.1, 0.9)
