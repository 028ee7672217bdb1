"""Behaviour several regression losses share.

* mse, mae and huber: parity with ``torch.nn.functional`` over reductions, error messages,
  Modules and the registry.
* asymmetric_linear and asymmetric_squared: their minimisers are the quantile and the
  expectile; errors of the asymmetric losses (linex included).
* Barron's family (charbonnier, cauchy, geman_mcclure, welsch) against the textbook formulas
  in float64 numpy: bounded and redescending gradients, digits kept without overflow, half
  precision, error messages.

mse, cauchy, geman_mcclure and welsch have no file of their own: their tests are here and in
``tests/contract/`` (empty batch: "mean" is 0 here, torch gives NaN -- covered there).
"""

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
from losscraft.losses.regression import (
    barron_loss,
    cauchy_loss,
    charbonnier_loss,
    geman_mcclure_loss,
    welsch_loss,
)
from losses.regression.helpers import (
    _grads,
    _pair,
    _spread_pair,
    _xy,
    f64,
    ref_barron,
    ref_barron_grad,
    scales,
)


# -------------------------------------------------- mse, mae, huber: torch parity, errors, Modules
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


def test_modules_and_registry() -> None:
    x, y = _pair(7)
    assert losscraft.get("l2").module is losscraft.MSELoss
    assert losscraft.get("pinball").module is losscraft.QuantileLoss
    torch.testing.assert_close(losscraft.HuberLoss(delta=2.0)(x, y), F.huber_loss(x, y, delta=2.0))
    m = losscraft.QuantileLoss(quantiles=[0.1, 0.9], reduction="none")
    assert m.hparams["quantiles"] == (0.1, 0.9)


# -------------------------------------------------------- asymmetric losses: minimisers and errors
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


# --------------------------------------------------- Barron's family: barron and its special cases
residuals = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
NAMED = {
    "charbonnier": (charbonnier_loss, 1.0, lambda z: np.sqrt(z + 1) - 1),
    "cauchy": (cauchy_loss, 0.0, lambda z: np.log1p(0.5 * z)),
    "geman_mcclure": (geman_mcclure_loss, -2.0, lambda z: 2 * z / (z + 4)),
    "welsch": (welsch_loss, -math.inf, lambda z: -np.expm1(-0.5 * z)),
}


@pytest.mark.parametrize("name", list(NAMED))
@given(values=st.lists(residuals, min_size=1, max_size=12), scale=scales)
def test_named_robust_losses_match_textbook_formula(name: str, values: list[float], scale: float) -> None:
    fn, alpha, formula = NAMED[name]
    r = np.array(values)
    x = torch.tensor(values, dtype=f64, requires_grad=True)
    out = fn(x, torch.zeros_like(x), scale=scale, reduction="none")
    np.testing.assert_allclose(out.detach().numpy(), formula((r / scale) ** 2), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(out.detach().numpy(), ref_barron(r, alpha, scale), rtol=1e-12, atol=1e-15)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), ref_barron_grad(r, alpha, scale), rtol=1e-10, atol=1e-15)


def test_robust_gradients_are_bounded_and_redescending() -> None:
    r = torch.logspace(-3, 6, 2000, dtype=f64).requires_grad_(True)
    c = 1.7
    peaks = {"cauchy": math.sqrt(2) * c, "geman_mcclure": 2 * c / math.sqrt(3), "welsch": c}
    for name, (fn, _, _) in NAMED.items():
        (g,) = torch.autograd.grad(fn(r, torch.zeros_like(r), scale=c, reduction="sum"), r)
        assert torch.isfinite(g).all() and (g >= 0).all()
        if name == "charbonnier":
            assert g.max().item() <= 1 / c  # increases towards 1/c
            assert g[-1].item() == pytest.approx(1 / c, rel=1e-9)
            continue
        peak_at = r[g.argmax()].item()
        assert peak_at == pytest.approx(peaks[name], rel=0.01)
        assert g[-1].item() < 1e-5 * g.max().item()  # redescending


def test_robust_kernels_keep_digits_and_do_not_overflow() -> None:
    # float32: sqrt(t^2 + 1) - 1 is exactly 0 at t = 1e-4; the stable kernel keeps t^2/2.
    tiny = torch.tensor([1e-4, 1e-6], dtype=torch.float32)
    z = torch.zeros_like(tiny)
    torch.testing.assert_close(
        charbonnier_loss(tiny, z, reduction="none"), 0.5 * tiny * tiny, rtol=1e-6, atol=0
    )
    torch.testing.assert_close(welsch_loss(tiny, z, reduction="none"), 0.5 * tiny * tiny, rtol=1e-6, atol=0)
    torch.testing.assert_close(
        barron_loss(tiny, z, alpha=0.5, reduction="none"), 0.5 * tiny * tiny, rtol=1e-5, atol=0
    )
    assert (torch.sqrt(tiny[:1] ** 2 + 1) - 1).item() == 0.0
    # float32 tails of the redescending gradients keep their relative precision
    far = torch.tensor([6.0, 8.0, 12.0])
    for fn in (welsch_loss, lambda a, b, **k: barron_loss(a, b, alpha=-4.0, **k)):
        grads = []
        for dt in (torch.float32, f64):
            x = far.to(dt).clone().requires_grad_(True)
            fn(x, torch.zeros_like(x), reduction="sum").backward()
            grads.append(x.grad.double())
        assert (grads[1] > 0).all()
        torch.testing.assert_close(grads[0], grads[1], rtol=1e-5, atol=0)
    # float32: t^2 overflows at 1.9e19; charbonnier and geman_mcclure never form it.
    huge = torch.tensor([1e30, -1e30], dtype=torch.float32, requires_grad=True)
    out = charbonnier_loss(huge, torch.zeros(2), reduction="none")
    gm = geman_mcclure_loss(huge, torch.zeros(2), reduction="none")
    assert torch.isfinite(out).all() and out[0].item() == pytest.approx(1e30, rel=1e-6)
    torch.testing.assert_close(gm.detach(), torch.full((2,), 2.0))
    (out.sum() + gm.sum()).backward()
    assert torch.isfinite(huge.grad).all()


@pytest.mark.parametrize("name", ["charbonnier", "cauchy", "geman_mcclure", "welsch", "barron"])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_robust_half_precision_close_to_float64(name: str, dtype: torch.dtype) -> None:
    fn = losscraft.get(name).function
    x, y = _spread_pair(4, spread=300.0)
    xh, yh = x.to(dtype), y.to(dtype)
    ref = fn(xh.double(), yh.double(), reduction="none")
    out = fn(xh, yh, reduction="none")
    assert out.dtype == torch.float32
    torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fn", [charbonnier_loss, cauchy_loss, geman_mcclure_loss, welsch_loss, barron_loss])
def test_robust_error_messages(fn) -> None:
    name = fn.__name__
    x = torch.zeros(3, 4)
    with pytest.raises(LosscraftError, match=rf"^{name}: 'scale' must be a float in \(0, inf\), got -1.0$"):
        fn(x, x, scale=-1.0)
    with pytest.raises(
        LosscraftError,
        match=rf"^{name}: 'input' and 'target' must have the same shape, got input \(3, 4\) and target \(4,\)$",
    ):
        fn(x, torch.zeros(4))
    with pytest.raises(
        LosscraftError, match=rf"^{name}: 'target' must be a floating-point tensor .* got torch.int64$"
    ):
        fn(x, torch.zeros(3, 4, dtype=torch.long))
