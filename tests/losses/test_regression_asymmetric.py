"""Asymmetric regression losses: closed-form references and their minimisers (issue 4)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import losscraft.functional as LF
from losscraft import LosscraftError


def _xy(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(50, generator=g, dtype=torch.float64) * 3, torch.randn(
        50, generator=g, dtype=torch.float64
    )


@pytest.mark.parametrize(("cu", "co"), [(1.0, 1.0), (3.0, 1.0), (0.2, 5.0)])
def test_asymmetric_linear_reference(cu: float, co: float) -> None:
    x, y = _xy()
    ref = [cu * (b - a) if b > a else co * (a - b) for a, b in zip(x.tolist(), y.tolist(), strict=True)]
    got = LF.asymmetric_linear_loss(x, y, under=cu, over=co, reduction="none")
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-14)
    tau = cu / (cu + co)
    torch.testing.assert_close(
        LF.asymmetric_linear_loss(x, y, under=cu, over=co), (cu + co) * LF.quantile_loss(x, y, quantiles=tau)
    )


@pytest.mark.parametrize(("cu", "co"), [(1.0, 1.0), (3.0, 1.0), (0.2, 5.0)])
def test_asymmetric_squared_reference_and_gradient(cu: float, co: float) -> None:
    x, y = _xy(1)
    ref = [
        cu * (b - a) ** 2 if b > a else co * (a - b) ** 2 for a, b in zip(x.tolist(), y.tolist(), strict=True)
    ]
    xr = x.clone().requires_grad_(True)
    got = LF.asymmetric_squared_loss(xr, y, under=cu, over=co, reduction="none")
    np.testing.assert_allclose(got.detach().numpy(), ref, rtol=1e-14)
    got.sum().backward()
    expected = torch.where(y > x, -2 * cu * (y - x), 2 * co * (x - y))
    torch.testing.assert_close(xr.grad, expected)


def _fit_constant(loss, y: torch.Tensor, **kw) -> float:
    c = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([c], lr=0.05)
    for _ in range(1500):
        opt.zero_grad()
        loss(c.expand_as(y), y, **kw).backward()
        opt.step()
    return c.item()


def test_minimisers_quantile_and_expectile() -> None:
    g = torch.Generator().manual_seed(2)
    y = torch.randn(4001, generator=g, dtype=torch.float64).exp()
    c = _fit_constant(LF.asymmetric_linear_loss, y, under=3.0, over=1.0)
    assert c == pytest.approx(torch.quantile(y, 0.75).item(), abs=0.03)
    # the 0.75-expectile e solves 0.75 E[(y - e)+] = 0.25 E[(e - y)+]
    e = _fit_constant(LF.asymmetric_squared_loss, y, under=3.0, over=1.0)
    lhs = 0.75 * (y - e).clamp(min=0).mean().item()
    rhs = 0.25 * (e - y).clamp(min=0).mean().item()
    assert lhs == pytest.approx(rhs, rel=1e-2)


def test_linex_reference_small_a_and_tail() -> None:
    x, y = _xy(3)
    for a, b in ((1.0, 1.0), (-0.5, 2.0), (0.1, 3.0)):
        d = (x - y).numpy()
        ref = b * (np.expm1(a * d) - a * d)  # e^z - z - 1 without the cancellation of exp(z) - 1
        np.testing.assert_allclose(LF.linex_loss(x, y, a=a, b=b, reduction="none").numpy(), ref, rtol=1e-12)
    # tiny a: b (e^z - z - 1) without cancellation (expm1) ~ a^2 b d^2 / 2
    a = 1e-6
    got = LF.linex_loss(x, y, a=a, b=1.0, reduction="none")
    torch.testing.assert_close(got, (a * (x - y)) ** 2 / 2, rtol=1e-5, atol=0)
    # beyond z = 50 the tangent: value and slope continuous at 50, finite at 1e4 in float32
    z = torch.tensor([49.999, 50.0, 50.001, 1e4], requires_grad=True)
    v = LF.linex_loss(z, torch.zeros(4), reduction="none")
    assert torch.isfinite(v).all()
    v.sum().backward()
    f50, df50 = math.expm1(50) - 50, math.expm1(50)
    assert v[1].item() == pytest.approx(f50, rel=1e-6)
    assert v[2].item() == pytest.approx(f50 + 0.001 * df50, rel=1e-6)
    assert z.grad[3].item() == pytest.approx(df50, rel=1e-6)


def test_errors() -> None:
    x, y = _xy()
    with pytest.raises(
        LosscraftError, match=r"linex_loss: 'a' must be a float in \(-inf, inf\), not 0, got 0.0"
    ):
        LF.linex_loss(x, y, a=0.0)
    with pytest.raises(
        LosscraftError, match=r"asymmetric_linear_loss: 'under' must be a float in \(0, inf\), got 0.0"
    ):
        LF.asymmetric_linear_loss(x, y, under=0.0)
    with pytest.raises(
        LosscraftError, match=r"asymmetric_squared_loss: 'over' must be a float in \(0, inf\), got -1.0"
    ):
        LF.asymmetric_squared_loss(x, y, over=-1.0)
