"""barron: Barron (2019) in float64 numpy, and the adaptive loss ``AdaptiveBarronLoss``.

References are independent of the library: the paper's eq. 1 and its special cases in float64
numpy (bitwise the named losses at alpha = 2, 1, 0, -2, -inf), and numpy quadrature for the
partition function of the adaptive loss (scipy where installed).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import losscraft
from losscraft import LosscraftError
from losscraft.losses.regression import (
    AdaptiveBarronLoss,
    BarronLoss,
    CharbonnierLoss,
    barron_log_partition,
    barron_loss,
    cauchy_loss,
    charbonnier_loss,
    geman_mcclure_loss,
    mse_loss,
    welsch_loss,
)
from losses.regression.helpers import _spread_pair, f64, ref_barron, ref_barron_grad, scales


# --------------------------------------------------- Barron's family: barron and its special cases
def _t(values, dtype=f64) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype)


@pytest.mark.parametrize("alpha", [4.0, 2.5, 1.5, 0.5, 0.1, -0.5, -1.0, -5.0, -30.0])
@given(values=st.lists(st.floats(-50.0, 50.0), min_size=1, max_size=12), scale=scales)
def test_barron_general_alpha_matches_paper(alpha: float, values: list[float], scale: float) -> None:
    r = np.array(values)
    x = torch.tensor(values, dtype=f64, requires_grad=True)
    out = barron_loss(x, torch.zeros_like(x), alpha=alpha, scale=scale, reduction="none")
    ref = ref_barron(r, alpha, scale)
    # the textbook form cancels for small residuals: compare with an absolute floor
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-9, atol=1e-12 * (1 + np.abs(ref).max()))
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), ref_barron_grad(r, alpha, scale), rtol=1e-9, atol=1e-13)


def test_barron_special_cases_are_bitwise_the_named_losses() -> None:
    x, y = _spread_pair(1)
    for c in (0.3, 1.0, 4.0):
        assert torch.equal(barron_loss(x, y, alpha=1.0, scale=c), charbonnier_loss(x, y, scale=c))
        assert torch.equal(barron_loss(x, y, alpha=0.0, scale=c), cauchy_loss(x, y, scale=c))
        assert torch.equal(barron_loss(x, y, alpha=-2.0, scale=c), geman_mcclure_loss(x, y, scale=c))
        assert torch.equal(barron_loss(x, y, alpha=-math.inf, scale=c), welsch_loss(x, y, scale=c))
        # alpha = 2 is L2 scaled: mse / (2 c^2)
        torch.testing.assert_close(
            barron_loss(x, y, alpha=2.0, scale=c, reduction="none"),
            mse_loss(x, y, reduction="none") / (2 * c * c),
            rtol=1e-15,
            atol=0,
        )


def test_barron_limits_and_continuity_at_the_special_cases() -> None:
    """The general formula tends to each special case (Barron 2019, eq. 2-5)."""
    x, y = _spread_pair(2, spread=2.0)
    for special, named in [
        (0.0, cauchy_loss(x, y, reduction="none")),
        (1.0, charbonnier_loss(x, y, reduction="none")),
        (-2.0, geman_mcclure_loss(x, y, reduction="none")),
        (2.0, 0.5 * mse_loss(x, y, reduction="none")),
    ]:
        for side in (-1.0, 1.0):
            err = {
                d: (barron_loss(x, y, alpha=special + side * d, reduction="none") - named).abs().max().item()
                for d in (1e-4, 1e-7)
            }
            # O(d) (O(d log d) at alpha = 2): no cancellation blow-up next to 0 and 2
            assert err[1e-7] < 1e-4, (special, side, err)
            assert err[1e-7] < 3e-3 * err[1e-4] + 1e-13, (special, side, err)
    welsch = welsch_loss(x, y, reduction="none")
    errs = [
        (barron_loss(x, y, alpha=-(10.0**k), reduction="none") - welsch).abs().max().item()
        for k in (2, 4, 6, 8)
    ]
    assert errs == sorted(errs, reverse=True), errs  # monotone convergence
    assert errs[-1] < 1e-7
    assert errs[0] / errs[1] == pytest.approx(100, rel=0.1)  # the gap is O(1/|alpha|)


def test_barron_is_monotone_in_alpha() -> None:
    """Barron (2019): f is monotonic in alpha (more robust as alpha decreases)."""
    r = torch.linspace(0.1, 20.0, 50, dtype=f64)
    alphas = [4.0, 2.0, 1.5, 1.0, 0.5, 0.0, -0.5, -2.0, -10.0, -math.inf]
    vals = [barron_loss(r, torch.zeros_like(r), alpha=a, reduction="none") for a in alphas]
    for hi, lo in itertools.pairwise(vals):
        assert (hi >= lo).all()


def test_barron_alpha_domain_and_modules() -> None:
    x, y = _spread_pair(5)
    with pytest.raises(
        LosscraftError, match=r"^barron_loss: 'alpha' must be a float in \[-inf, inf\), got inf$"
    ):
        barron_loss(x, y, alpha=math.inf)
    with pytest.raises(LosscraftError, match=r"^barron_loss: 'alpha' must be a float .* got nan$"):
        barron_loss(x, y, alpha=math.nan)
    with pytest.raises(
        LosscraftError, match=r"^barron_loss: 'scale' must be a float in \(0, inf\), got 0.0$"
    ):
        BarronLoss(scale=0.0)
    m = BarronLoss(alpha=-math.inf, scale=2.0, reduction="sum")
    torch.testing.assert_close(m(x, y), welsch_loss(x, y, scale=2.0, reduction="sum"))
    assert losscraft.build(m.get_config()).get_config() == m.get_config()
    assert losscraft.get("pseudo_huber").module is CharbonnierLoss
    assert losscraft.get("lorentzian").name == "cauchy"
    assert losscraft.get("leclerc").name == "welsch"


# --------------------------------------------------------------------- log Z and the adaptive loss
def _np_log_z(alpha: float) -> float:
    """Independent quadrature: x = sinh(s), textbook f, numpy trapezoid on s in [-60, 60]."""
    s = np.linspace(-60.0, 60.0, 240_001)
    x = np.sinh(s)
    return float(np.log(np.trapezoid(np.exp(-ref_barron(x, alpha, 1.0)) * np.cosh(s), s)))


def test_log_partition_known_values() -> None:
    z = barron_log_partition(_t([0.0, 1.0, 2.0])).exp()
    assert z[0].item() == pytest.approx(math.pi * math.sqrt(2), rel=1e-13)  # Cauchy
    assert z[2].item() == pytest.approx(math.sqrt(2 * math.pi), rel=1e-13)  # Gaussian
    # alpha = 1: Z = e * int exp(-cosh s) cosh s ds = 2 e K1(1); K1(1) = 0.6019072301972346
    assert z[1].item() == pytest.approx(2 * math.e * 0.6019072301972346, rel=1e-12)
    assert math.log(z[1].item()) == pytest.approx(_np_log_z(1.0), abs=1e-12)


def test_log_partition_k1_with_scipy() -> None:
    special = pytest.importorskip("scipy.special")
    z1 = barron_log_partition(_t([1.0])).exp().item()
    assert z1 == pytest.approx(2 * math.e * float(special.k1(1.0)), rel=1e-12)


@pytest.mark.parametrize("alpha", [0.05, 0.25, 0.5, 0.777, 1.25, 1.5, 1.9, 1.99])
def test_log_partition_spline_matches_independent_quadrature(alpha: float) -> None:
    a = _t([alpha]).requires_grad_(True)
    v = barron_log_partition(a)
    assert v.item() == pytest.approx(_np_log_z(alpha), abs=1e-9)
    v.backward()
    h = 1e-5
    slope = (_np_log_z(alpha + h) - _np_log_z(alpha - h)) / (2 * h)
    assert a.grad.item() == pytest.approx(slope, abs=1e-5)


def test_log_partition_float32_and_endpoint_gradients_finite() -> None:
    a = torch.tensor([0.0, 1e-9, 0.5, 1.999, 2.0], requires_grad=True)
    v = barron_log_partition(a)
    assert v.dtype == torch.float32
    torch.testing.assert_close(v.double(), barron_log_partition(a.detach().double()), rtol=0, atol=1e-6)
    v.sum().backward()
    assert torch.isfinite(a.grad).all()


@pytest.mark.parametrize(
    ("alpha", "scale"), [(1.0, 1.0), (0.2, 0.5), (1.6, 3.0), (1.999, 1.0), (0.0005, 2.0)]
)
def test_adaptive_nll_is_a_normalised_density(alpha: float, scale: float) -> None:
    """exp(-loss) integrates to 1 over the residual: the loss is a negative log-density."""
    m = AdaptiveBarronLoss(alpha_lo=0.0, alpha_hi=2.0, alpha_init=alpha, scale_init=scale, reduction="none")
    m = m.double()
    s = torch.linspace(-60.0, 60.0, 240_001, dtype=f64)
    x = torch.sinh(s) * scale
    with torch.no_grad():
        dens = torch.exp(-m(x, torch.zeros_like(x)))
    total = np.trapezoid((dens * torch.cosh(s) * scale).numpy(), s.numpy())
    assert total == pytest.approx(1.0, abs=1e-9)
    # the latents are created in float32: the initial values are exact to float32 rounding
    assert m.alpha.item() == pytest.approx(alpha, rel=1e-6)
    assert m.scale.item() == pytest.approx(scale, rel=1e-6)


def test_adaptive_value_is_f_plus_log_c_plus_log_z() -> None:
    m = AdaptiveBarronLoss(alpha_init=0.7, scale_init=2.0, reduction="none").double()
    x, y = _spread_pair(6)
    got = m(x, y)
    a, c = m.alpha.item(), m.scale.item()
    assert a == pytest.approx(0.7, rel=1e-6) and c == pytest.approx(2.0, rel=1e-6)
    ref = ref_barron((x - y).numpy(), a, c) + math.log(c) + _np_log_z(a)
    np.testing.assert_allclose(got.detach().numpy(), ref, rtol=1e-9, atol=1e-9)


def _fit(resid: torch.Tensor, steps: int = 300, **kw) -> AdaptiveBarronLoss:
    m = AdaptiveBarronLoss(**kw)
    opt = torch.optim.Adam(m.parameters(), lr=0.05)
    for _ in range(steps):
        opt.zero_grad()
        m(resid, torch.zeros_like(resid)).backward()
        opt.step()
    return m


def test_adaptive_learns_robustness_from_the_residuals() -> None:
    g = torch.Generator().manual_seed(0)
    gauss = 2.0 * torch.randn(2000, generator=g)
    cauchy = torch.tan(math.pi * (torch.rand(2000, generator=g) - 0.5))
    mg, mc = _fit(gauss), _fit(cauchy)
    a_g, a_c = mg.alpha.item(), mc.alpha.item()
    assert a_c < 0.5 < 1.5 < a_g, (a_c, a_g)
    for m in (mg, mc):
        assert 0.001 < m.alpha.item() < 1.999
    # Independent check of the fit (numpy NLL): the learned (alpha, c) beat the true model
    # (alpha -> 2, c = sigma) on this sample, and c is close to the residual scale.
    r = gauss.double().numpy()

    def nll(a: float, c: float) -> float:
        return float((ref_barron(r, a, c) + math.log(c) + _np_log_z(a)).mean())

    assert nll(a_g, mg.scale.item()) <= nll(1.999, 2.0)
    assert mg.scale.item() == pytest.approx(2.0, rel=0.15)


def test_adaptive_per_channel_parameters() -> None:
    g = torch.Generator().manual_seed(1)
    resid = torch.stack(
        [torch.randn(1500, generator=g), torch.tan(math.pi * (torch.rand(1500, generator=g) - 0.5))], dim=-1
    )
    m = _fit(resid, num_dims=2)
    alpha = m.alpha.detach()
    assert alpha.shape == (2,)
    assert alpha[1] < 0.5 < 1.5 < alpha[0]
    params = dict(m.named_parameters())
    assert set(params) == {"latent_alpha", "latent_scale"}
    assert all(p.shape == (2,) and p.requires_grad for p in params.values())


def test_adaptive_fixed_alpha_or_scale_and_conventions() -> None:
    fixed = AdaptiveBarronLoss(alpha_lo=1.0, alpha_hi=1.0, scale_lo=0.5, scale_init=0.5, reduction="sum")
    assert list(fixed.parameters()) == []
    x, y = _spread_pair(7)
    ref = charbonnier_loss(x, y, scale=0.5, reduction="none") + math.log(0.5) + _np_log_z(1.0)
    torch.testing.assert_close(fixed(x.float(), y.float()), ref.sum().float(), rtol=1e-5, atol=1e-4)
    m = AdaptiveBarronLoss(reduction="mean").double()
    w = torch.rand(x.shape, dtype=f64)
    none = AdaptiveBarronLoss(reduction="none").double()(x, y)
    torch.testing.assert_close(m(x, y, weight=w), (w * none).sum() / w.sum())
    # empty batch: 0, attached to the parameters, zero gradients
    e = m(torch.zeros(0, 3, dtype=f64), torch.zeros(0, 3, dtype=f64))
    assert e.item() == 0.0
    e.backward()
    assert m.latent_alpha.grad is not None and (m.latent_alpha.grad == 0).all()
    # half inputs computed in float32
    assert AdaptiveBarronLoss()(x.half(), y.half()).dtype == torch.float32
    assert "alpha_lo=0.001" in repr(m)


def test_adaptive_gradcheck() -> None:
    """Gradients w.r.t. the prediction and both latents, through f, log c and the log Z spline."""
    m = AdaptiveBarronLoss(num_dims=3, alpha_init=0.6, scale_init=1.5).double()
    x, y = _spread_pair(8, shape=(4, 3))

    def f(inp: torch.Tensor, la: torch.Tensor, ls: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(m, {"latent_alpha": la, "latent_scale": ls}, (inp, y))

    la = m.latent_alpha.detach().clone().requires_grad_(True)
    ls = m.latent_scale.detach().clone().requires_grad_(True)
    xi = x.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(f, (xi, la, ls), eps=1e-6, atol=1e-6)


def test_adaptive_errors() -> None:
    with pytest.raises(
        LosscraftError, match=r"^AdaptiveBarronLoss: 'alpha_hi' must be a float in \[alpha_lo, 2\]"
    ):
        AdaptiveBarronLoss(alpha_lo=1.5, alpha_hi=1.0)
    with pytest.raises(
        LosscraftError, match=r"^AdaptiveBarronLoss: 'alpha_lo' must be a float in \[0, 2\], got -1"
    ):
        AdaptiveBarronLoss(alpha_lo=-1.0)
    with pytest.raises(
        LosscraftError, match=r"'alpha_init' must be None or a float in \(alpha_lo, alpha_hi\)"
    ):
        AdaptiveBarronLoss(alpha_init=1.999)
    with pytest.raises(LosscraftError, match=r"'scale_lo' must be a float in \(0, inf\), got 0.0"):
        AdaptiveBarronLoss(scale_lo=0.0)
    with pytest.raises(LosscraftError, match=r"'scale_init' must be a float in \[scale_lo, inf\)"):
        AdaptiveBarronLoss(scale_init=1e-6)
    with pytest.raises(LosscraftError, match=r"'num_dims' must be an int >= 1, got 0"):
        AdaptiveBarronLoss(0)
    with pytest.raises(LosscraftError, match=r"'reduction' must be one of 'mean', 'sum', 'none', got 'avg'"):
        AdaptiveBarronLoss(reduction="avg")  # type: ignore[arg-type]
    m = AdaptiveBarronLoss(num_dims=3)
    with pytest.raises(
        LosscraftError,
        match=r"^AdaptiveBarronLoss: 'input' must have a last dimension of size num_dims=3, got shape \(4, 2\)$",
    ):
        m(torch.zeros(4, 2), torch.zeros(4, 2))
    with pytest.raises(
        LosscraftError, match=r"^AdaptiveBarronLoss: 'input' and 'target' must have the same shape"
    ):
        m(torch.zeros(4, 3), torch.zeros(3))
