"""Issue 3 regression losses: Barron's family (charbonnier, cauchy, geman_mcclure, welsch, barron,
AdaptiveBarronLoss), msle, poisson_nll and gaussian_nll.

References are independent of the library: textbook formulas in float64 numpy, numpy
quadrature for Barron's partition function, and torch.nn.functional where torch has the loss.
Convention differences against torch, tested below:

* poisson_nll(full=True): the gradient w.r.t. a zero count is 0 here, NaN in torch.
* gaussian_nll: input and target must have the same shape (torch broadcasts them).
* empty batch: "mean" is 0 here (torch: NaN) -- covered by the contract suite.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import losscraft
from losscraft import LosscraftError
from losscraft.losses.regression import (
    AdaptiveBarronLoss,
    BarronLoss,
    CharbonnierLoss,
    GaussianNLLLoss,
    PoissonNLLLoss,
    barron_log_partition,
    barron_loss,
    cauchy_loss,
    charbonnier_loss,
    gaussian_nll_loss,
    geman_mcclure_loss,
    mse_loss,
    msle_loss,
    poisson_nll_loss,
    welsch_loss,
)

f64 = torch.float64
residuals = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
scales = st.floats(0.05, 20.0)


def _t(values, dtype=f64) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype)


def _pair(seed: int, shape=(6, 4), spread: float = 3.0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(shape, generator=g, dtype=f64) * spread,
        torch.randn(shape, generator=g, dtype=f64) * spread,
    )


# --------------------------------------------------------------------------- references
# Straight from Barron (2019), eq. 1 and its special cases, in float64 numpy.
def ref_barron(r: np.ndarray, alpha: float, c: float) -> np.ndarray:
    z = (r / c) ** 2
    if alpha == 2:
        return 0.5 * z
    if alpha == 0:
        return np.log1p(0.5 * z)
    if alpha == -np.inf:
        return -np.expm1(-0.5 * z)
    b = abs(alpha - 2)
    return b / alpha * ((z / b + 1) ** (alpha / 2) - 1)


def ref_barron_grad(r: np.ndarray, alpha: float, c: float) -> np.ndarray:
    """Barron (2019), eq. 6: d f / d x."""
    z = (r / c) ** 2
    if alpha == 2:
        return r / c**2
    if alpha == 0:
        return 2 * r / (r**2 + 2 * c**2)
    if alpha == -np.inf:
        return r / c**2 * np.exp(-0.5 * z)
    return r / c**2 * (z / abs(alpha - 2) + 1) ** (alpha / 2 - 1)


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
    x, y = _pair(1)
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
    x, y = _pair(2, spread=2.0)
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


def test_charbonnier_is_pseudo_huber_up_to_delta_squared() -> None:
    x, y = _pair(3)
    for delta in (0.5, 2.0):
        pseudo_huber = delta**2 * (torch.sqrt(1 + ((x - y) / delta) ** 2) - 1)
        torch.testing.assert_close(
            delta**2 * charbonnier_loss(x, y, scale=delta, reduction="none"), pseudo_huber
        )


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
    x, y = _pair(4, spread=300.0)
    xh, yh = x.to(dtype), y.to(dtype)
    ref = fn(xh.double(), yh.double(), reduction="none")
    out = fn(xh, yh, reduction="none")
    assert out.dtype == torch.float32
    torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-6)


def test_barron_alpha_domain_and_modules() -> None:
    x, y = _pair(5)
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


# --------------------------------------------------------------------------- log Z and the adaptive loss
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
    x, y = _pair(6)
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
    x, y = _pair(7)
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
    x, y = _pair(8, shape=(4, 3))

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


# --------------------------------------------------------------------------- msle
@given(
    st.lists(st.tuples(st.floats(-0.99, 1e6), st.floats(-0.99, 1e6)), min_size=1, max_size=12),
)
def test_msle_reference(pairs: list[tuple[float, float]]) -> None:
    p = np.array([a for a, _ in pairs])
    t = np.array([b for _, b in pairs])
    x = torch.tensor(p, dtype=f64, requires_grad=True)
    out = msle_loss(x, torch.tensor(t, dtype=f64), reduction="none")
    ref = (np.log(1 + p) - np.log(1 + t)) ** 2
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-9, atol=1e-12)
    out.sum().backward()
    np.testing.assert_allclose(
        x.grad.numpy(), 2 * (np.log1p(p) - np.log1p(t)) / (1 + p), rtol=1e-9, atol=1e-12
    )


def test_msle_matches_sklearn_and_keras_on_nonnegative_data() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    g = torch.Generator().manual_seed(9)
    y = torch.rand(50, generator=g, dtype=f64) * 100
    p = torch.rand(50, generator=g, dtype=f64) * 100
    assert msle_loss(p, y).item() == pytest.approx(
        metrics.mean_squared_log_error(y.numpy(), p.numpy()), rel=1e-12
    )
    w = torch.rand(50, generator=g, dtype=f64)
    sk = metrics.mean_squared_log_error(y.numpy(), p.numpy(), sample_weight=w.numpy())
    assert msle_loss(p, y, weight=w).item() == pytest.approx(sk, rel=1e-12)


def test_msle_is_mse_of_log1p_and_gradcheck() -> None:
    x, y = _pair(10)
    x, y = x.abs(), y.abs()
    torch.testing.assert_close(msle_loss(x, y), mse_loss(torch.log1p(x), torch.log1p(y)))
    xi = (x - 0.5).clone().requires_grad_(True)  # values in (-0.5, ...) are in the domain
    yi = y.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: msle_loss(a, b, reduction="none"), (xi, yi))


def test_msle_domain_errors() -> None:
    ok = torch.ones(2, 2)
    with pytest.raises(
        LosscraftError,
        match=r"^msle_loss: 'input' must contain values > -1, got -1 \(observed range \[-1, 1\]\)$",
    ):
        msle_loss(torch.tensor([[1.0, -1.0], [0.0, 0.0]]), ok)
    with pytest.raises(LosscraftError, match=r"^msle_loss: 'target' must contain values > -1, got -3"):
        msle_loss(ok, torch.tensor([[1.0, -3.0], [0.0, 0.0]]))
    with pytest.raises(LosscraftError, match=r"^msle_loss: 'input' must contain values > -1, got nan"):
        msle_loss(torch.tensor([[1.0, math.nan], [0.0, 0.0]]), ok)
    # in the domain but negative: computed as written (Keras would clip to 0 first)
    assert msle_loss(torch.tensor([-0.5]), torch.tensor([0.0])).item() == pytest.approx(math.log(0.5) ** 2)


# --------------------------------------------------------------------------- poisson_nll
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


# --------------------------------------------------------------------------- gaussian_nll
def _gauss(seed: int, shape=(4, 3, 5)) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(shape, generator=g, dtype=f64)
    y = torch.randn(shape, generator=g, dtype=f64) * 2
    var = torch.rand(shape, generator=g, dtype=f64) * 2 + 0.05
    return mu, y, var


VAR_SHAPES = {
    "same": lambda v: v,
    "last_dim_1": lambda v: v[..., :1],
    "one_dim_short": lambda v: v[..., 0],
    "middle_dim_1": lambda v: v[:, :1, :],
}


@pytest.mark.parametrize("var_shape", list(VAR_SHAPES))
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gaussian_parity_with_torch(var_shape: str, full: bool, reduction: str) -> None:
    mu, y, var = _gauss(20)
    var = VAR_SHAPES[var_shape](var).clone()
    var.view(-1)[:3] = torch.tensor([0.0, 1e-9, 5e-7])  # below eps: clamped, gradient straight through
    outs = []
    for fn in (gaussian_nll_loss, F.gaussian_nll_loss):
        args = [a.clone().requires_grad_(True) for a in (mu, y, var)]
        out = fn(*args, full=full, eps=1e-6, reduction=reduction)
        out.sum().backward()
        outs.append((out.detach(), *(a.grad for a in args)))
    assert outs[0][0].shape == (mu.shape if reduction == "none" else ())
    for a, b in zip(*outs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-13, atol=1e-13)


def test_gaussian_reference_gradcheck_and_relations() -> None:
    mu, y, var = _gauss(21, shape=(3, 4))
    r = (mu - y).numpy()
    v = var.numpy()
    got = gaussian_nll_loss(mu, y, var, full=True, reduction="none").numpy()
    np.testing.assert_allclose(got, 0.5 * np.log(2 * np.pi * v) + r**2 / (2 * v), rtol=1e-13)
    # unit variance: half the squared error; a float variance works like torch
    torch.testing.assert_close(gaussian_nll_loss(mu, y, torch.ones_like(mu)), 0.5 * mse_loss(mu, y))
    torch.testing.assert_close(gaussian_nll_loss(mu, y, 2.5), F.gaussian_nll_loss(mu, y, 2.5))
    args = tuple(a.clone().requires_grad_(True) for a in (mu, y, var[:, :1]))
    assert torch.autograd.gradcheck(
        lambda a, b, c: gaussian_nll_loss(a, b, c, full=True, reduction="none"), args
    )
    # the shared variance minimising the loss is the mean squared residual: zero gradient there
    v = ((mu - y) ** 2).mean().clone().requires_grad_(True)
    gaussian_nll_loss(mu, y, v.expand_as(mu)).backward()
    assert abs(v.grad.item()) < 1e-14


def test_gaussian_half_precision() -> None:
    mu, y, var = _gauss(22)
    for dt in (torch.float16, torch.bfloat16):
        args = [a.to(dt) for a in (mu, y, var)]
        out = gaussian_nll_loss(*args, reduction="none")
        assert out.dtype == torch.float32
        ref = gaussian_nll_loss(*[a.double() for a in args], reduction="none")
        torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-5)


def test_gaussian_errors() -> None:
    mu = torch.zeros(4, 3)
    with pytest.raises(
        LosscraftError,
        match=r"^gaussian_nll_loss: 'var' must contain variances in \[0, inf\], got -1 \(observed",
    ):
        gaussian_nll_loss(mu, mu, torch.tensor([[1.0, -1.0, 1.0]]).expand(4, 3))
    with pytest.raises(
        LosscraftError,
        match=r"^gaussian_nll_loss: 'var' must have the shape of 'input' \(4, 3\), that shape with one dimension "
        r"of size 1, or input.shape\[:-1\] = \(4,\), got \(2, 3\)$",
    ):
        gaussian_nll_loss(mu, mu, torch.ones(2, 3))
    with pytest.raises(LosscraftError, match=r"got \(4, 3, 1\)$"):
        gaussian_nll_loss(mu, mu, torch.ones(4, 3, 1))  # broadcastable but not one of torch's shapes
    with pytest.raises(LosscraftError, match=r"^gaussian_nll_loss: 'var' must be a floating-point tensor"):
        gaussian_nll_loss(mu, mu, torch.ones(4, 3, dtype=torch.long))
    with pytest.raises(LosscraftError, match=r"^gaussian_nll_loss: 'var' must be a variance >= 0, got -2.0$"):
        gaussian_nll_loss(mu, mu, -2.0)
    with pytest.raises(
        LosscraftError, match=r"^gaussian_nll_loss: 'input' and 'target' must have the same shape"
    ):
        gaussian_nll_loss(mu, torch.zeros(3), torch.ones(4, 3))  # torch would broadcast
    with pytest.raises(
        LosscraftError, match=r"^gaussian_nll_loss: 'eps' must be a float in \(0, inf\), got -1.0$"
    ):
        GaussianNLLLoss(eps=-1.0)
