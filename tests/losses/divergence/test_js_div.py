"""js_div (Jensen-Shannon divergence): loss-specific tests.

torch has no JS loss. The reference is the textbook formula in float64,
JS = 1/2 KL(q || m) + 1/2 KL(y || m), m = (q + y)/2, with xlogy for 0 log 0 = 0 (values and,
through autograd of that naive formula, gradients), plus a cross-check through the sibling
``kl_div_loss`` (KL(y || m) = kl_div_loss(log m, y) since softmax(log m) = m).

Conventions: natural log (bound log 2); class dim 1 like kl_div; "mean" averages per-sample
divergences (torch's "batchmean" convention for KL); no temperature (unlike kl_div).
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import losscraft
from losscraft import LosscraftError
from losscraft.losses.divergence import JSDivLoss, js_div_loss, kl_div_loss

# -------------------------------------------------------------------------------- reference parity
LOG2 = math.log(2.0)


def ref_js(logits, y, *, log_target=False, cdim=1):
    """Textbook float64 JS between softmax(logits) and y (probabilities or log-probabilities)."""
    q = torch.softmax(logits.double(), dim=cdim)
    p = y.double().exp() if log_target else y.double()
    m = 0.5 * (q + p)
    kl_qm = (torch.xlogy(q, q) - torch.xlogy(q, m)).sum(cdim)
    kl_pm = (torch.xlogy(p, p) - torch.xlogy(p, m)).sum(cdim)
    return 0.5 * kl_qm + 0.5 * kl_pm


def make(n=5, c=4, seed=0, spatial=(), zeros=False):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((n, c, *spatial), generator=g, dtype=torch.float64)
    y = torch.softmax(torch.randn((n, c, *spatial), generator=g, dtype=torch.float64) * 2, dim=1)
    if zeros:
        y = torch.where(torch.rand(y.shape, generator=g) < 0.3, 0.0, y)
        y = y / y.sum(1, keepdim=True).clamp_min(1e-300)
        y[:, 0] = torch.where(y.sum(1) == 0, 1.0, y[:, 0])
    return x, y


@pytest.mark.parametrize("spatial", [(), (3,), (2, 3)])
@pytest.mark.parametrize("zeros", [False, True])
@pytest.mark.parametrize("log_target", [False, True])
def test_matches_textbook_reference_values_and_gradients(spatial, zeros, log_target):
    x, y = make(spatial=spatial, zeros=zeros, seed=len(spatial))
    t = torch.log(y) if log_target else y  # log 0 = -inf with log_target
    w = torch.rand(x.shape[:1] + x.shape[2:], dtype=torch.float64) + 0.1
    for reduction in ("none", "sum", "mean"):
        for weight in (None, w):
            xa = x.clone().requires_grad_(True)
            xb = x.clone().requires_grad_(True)
            got = js_div_loss(xa, t, log_target=log_target, weight=weight, reduction=reduction)
            ref = ref_js(xb, y)
            if weight is not None:
                ref = ref * weight
            exp = {
                "none": ref,
                "sum": ref.sum(),
                "mean": ref.sum() / (weight.sum() if weight is not None else ref.numel()),
            }[reduction]
            torch.testing.assert_close(got, exp, rtol=1e-12, atol=1e-14)
            got.sum().backward()
            exp.sum().backward()
            torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-10, atol=1e-14)


def test_cross_check_with_kl_div():
    x, y = make(seed=3)
    q = torch.softmax(x, 1)
    log_m = torch.log(0.5 * (q + y))
    expected = 0.5 * kl_div_loss(log_m, q, reduction="none") + 0.5 * kl_div_loss(log_m, y, reduction="none")
    torch.testing.assert_close(js_div_loss(x, y, reduction="none"), expected, rtol=1e-12, atol=1e-14)


def test_symmetric_in_its_two_distributions():
    x, _ = make(seed=4)
    z, _ = make(seed=5)
    a = js_div_loss(x, torch.log_softmax(z, 1), log_target=True, reduction="none")
    b = js_div_loss(z, torch.log_softmax(x, 1), log_target=True, reduction="none")
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-15)
    c = js_div_loss(x, torch.softmax(z, 1), reduction="none")
    torch.testing.assert_close(a, c, rtol=1e-12, atol=1e-15)
    # gradients flow into a differentiable target, and match the naive formula's
    zt = z.clone().requires_grad_(True)
    js_div_loss(x, torch.softmax(zt, 1)).backward()
    zr = z.clone().requires_grad_(True)
    ref_js(x, torch.softmax(zr, 1)).mean().backward()
    torch.testing.assert_close(zt.grad, zr.grad, rtol=1e-10, atol=1e-14)


@settings(max_examples=40)
@given(
    logits=st.lists(st.floats(-40, 40), min_size=4, max_size=4),
    raw=st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4),
)
def test_bounded_nonnegative_and_matches_reference(logits, raw):
    x = torch.tensor(logits, dtype=torch.float64)
    y = torch.tensor(raw, dtype=torch.float64)
    if y.sum() == 0:
        y = torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=torch.float64)
    y = y / y.sum()
    out = js_div_loss(x, y)
    assert 0.0 <= out.item() <= LOG2 + 1e-15
    torch.testing.assert_close(out, ref_js(x, y, cdim=0), rtol=1e-9, atol=1e-15)


def test_disjoint_supports_give_log2_and_match_gives_zero():
    x = torch.tensor([[60.0, -60.0, -60.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    y = torch.tensor([[0.0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]], dtype=torch.float64)
    out = js_div_loss(x, y, reduction="none")
    assert out[0].item() == pytest.approx(LOG2, rel=1e-12)
    assert out[1].item() == 0.0
    # -inf logits (masked classes) are fine; where the target has mass the class contributes y log2 / 2
    xm = torch.tensor([[0.0, -math.inf, 1.0]], dtype=torch.float64, requires_grad=True)
    ym = torch.tensor([[0.5, 0.0, 0.5]], dtype=torch.float64)
    out = js_div_loss(xm, ym)
    torch.testing.assert_close(out, ref_js(xm.detach(), ym)[0])
    out.backward()
    assert torch.isfinite(xm.grad).all() and xm.grad[0, 1] == 0
    ym2 = torch.tensor([[0.4, 0.2, 0.4]], dtype=torch.float64)
    out2 = js_div_loss(xm.detach(), ym2)
    assert torch.isfinite(out2)
    torch.testing.assert_close(out2, ref_js(torch.tensor([[0.0, -1e300, 1.0]]), ym2)[0])


def test_precision_near_a_match_in_float32():
    """Each KL half is O(delta) but their sum is O(delta^2).

    Summing the two halves in float32 loses everything at delta = 1e-4 (measured: relative
    error > 100); ours is limited only by the float32 log-probabilities themselves
    (relative error ~ 4e-7 / delta).
    """
    g = torch.Generator().manual_seed(7)
    z = torch.randn(64, 5, generator=g, dtype=torch.float64)
    y = torch.softmax(z, 1)
    for delta in (1e-1, 1e-2, 1e-3, 1e-4):
        x = z + delta * torch.randn(64, 5, generator=g, dtype=torch.float64)
        x32, y32 = x.float(), y.float()
        ref = ref_js(x32.double(), y32.double())
        ours = js_div_loss(x32, y32, reduction="none").double()
        err_ours = ((ours - ref).abs() / ref).max().item()
        q = torch.softmax(x32, 1)
        m = 0.5 * (q + y32)
        naive = 0.5 * (torch.xlogy(q, q) - torch.xlogy(q, m)).sum(1)
        naive = (naive + 0.5 * (torch.xlogy(y32, y32) - torch.xlogy(y32, m)).sum(1)).double()
        err_naive = ((naive - ref).abs() / ref).max().item()
        assert err_ours < 5e-7 / delta + 1e-5, (delta, err_ours)
        assert err_naive > 10 * err_ours, (delta, err_naive, err_ours)


def js_decimal(q, y):
    """JS of two probability lists in 50-digit decimal arithmetic."""
    from decimal import Decimal, getcontext

    getcontext().prec = 50
    total = Decimal(0)
    for qi, yi in zip(q, y, strict=True):
        a, b = Decimal(qi), Decimal(yi)
        m = (a + b) / 2
        if a > 0:
            total += a * (a / m).ln() / 2
        if b > 0:
            total += b * (b / m).ln() / 2
    return float(total)


def test_kernel_branches_agree_at_the_switch():
    """|log q - log y| = 2 switches between the two forms of v tanh v - log cosh v.

    Reference: 50-digit decimal arithmetic on the same float64 inputs (float64's textbook
    formula itself loses ~3 digits at d = 1e-6, ours ~1e-11 relative).
    """
    for d in (2.0 - 1e-9, 2.0, 2.0 + 1e-9, 1.0, 1e-3, 1e-6, 5.0, 30.0, 700.0):
        # uniform q = [1/2, 1/2] and y chosen so that class 0 has log q - log y = d
        x = torch.tensor([[0.0, 0.0]], dtype=torch.float64)
        y0 = 0.5 * math.exp(-d)
        y = torch.tensor([[y0, 1 - y0]], dtype=torch.float64)
        exp = js_decimal([0.5, 0.5], y[0].tolist())
        # log y is rounded (~1e-16 absolute), so d carries a relative error ~1e-16 / d
        assert js_div_loss(x, y).item() == pytest.approx(exp, rel=1e-13 + 1e-15 / d, abs=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_extreme_logits_with_zero_targets_finite(dtype):
    x = torch.tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]], dtype=dtype, requires_grad=True)
    y = torch.tensor([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0]], dtype=dtype)
    out = js_div_loss(x, y)
    assert out.dtype == torch.float32 and torch.isfinite(out)
    assert out.item() == pytest.approx(LOG2, rel=1e-6)
    out.backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_matches_float64(dtype):
    x, y = make(n=8, seed=9, zeros=True)
    xh, yh = x.to(dtype), y.to(dtype)
    out = js_div_loss(xh, yh, reduction="none")
    ref = ref_js(xh.double(), yh.double())
    torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("spatial", [(), (3,)])
def test_gradcheck_options(log_target, spatial):
    x, y = make(n=3, spatial=spatial, seed=10, zeros=True)
    t = torch.log(y) if log_target else y
    assert torch.autograd.gradcheck(
        lambda a: js_div_loss(a, t, log_target=log_target, reduction="none"),
        (x.clone().requires_grad_(True),),
    )
    # single distribution (C,)
    assert torch.autograd.gradcheck(lambda a: js_div_loss(a, y[0]), (x[0].clone().requires_grad_(True),))


def test_gradient_closed_form():
    """d JS / d z_k = 1/2 q_k (a_k - sum_j q_j a_j), a = log(q / m)."""
    x, y = make(seed=12)
    xa = x.clone().requires_grad_(True)
    js_div_loss(xa, y, reduction="sum").backward()
    q = torch.softmax(x, 1)
    a = torch.log(q / (0.5 * (q + y)))
    expected = 0.5 * q * (a - (q * a).sum(1, keepdim=True))
    torch.testing.assert_close(xa.grad, expected, rtol=1e-10, atol=1e-14)


def test_module_and_registry():
    x, y = make(seed=13)
    m = JSDivLoss(reduction="sum")
    torch.testing.assert_close(m(x, y), js_div_loss(x, y, reduction="sum"))
    assert losscraft.build(m.get_config()).get_config() == m.get_config()
    assert losscraft.get("jensen_shannon").name == "js_div"
    assert losscraft.get("js").name == "js_div"


# ------------------------------------------------------------------------------------------ errors
def test_error_messages():
    x, y = make()
    f = "js_div_loss"
    with pytest.raises(
        LosscraftError, match=rf"{f}: 'input' and 'target' must have the same shape, got input \(5, 4\)"
    ):
        js_div_loss(x, y[:, :3])
    with pytest.raises(
        LosscraftError, match=rf"{f}: 'target' must contain probabilities in \[0, 1\], got 1.5"
    ):
        js_div_loss(x, torch.full_like(y, 1.5))
    with pytest.raises(
        LosscraftError, match=rf"{f}: 'target' must contain probabilities in \[0, 1\], got -0.1"
    ):
        js_div_loss(x, torch.full_like(y, -0.1))
    with pytest.raises(
        LosscraftError, match=rf"{f}: 'target' must contain log-probabilities in \[-inf, 0\], got 0.5"
    ):
        js_div_loss(x, torch.full_like(y, 0.5), log_target=True)
    with pytest.raises(LosscraftError, match=rf"{f}: 'input' must be a floating-point tensor"):
        js_div_loss(x.long(), y)
    with pytest.raises(LosscraftError, match=rf"{f}: 'target' must be a floating-point tensor"):
        js_div_loss(x, y.long())
    with pytest.raises(LosscraftError, match=rf"{f}: 'input' must have shape \(N, C, \*\) or \(C,\)"):
        js_div_loss(torch.tensor(0.5), torch.tensor(0.5))
    with pytest.raises(LosscraftError, match=rf"{f}: 'log_target' must be one of False, True, got 1"):
        js_div_loss(x, y, log_target=1)
    with pytest.raises(
        LosscraftError, match=rf"{f}: 'reduction' must be one of 'mean', 'sum', 'none', got 'batchmean'"
    ):
        js_div_loss(x, y, reduction="batchmean")
    with pytest.raises(LosscraftError, match=r"'weight' of shape \(4,\) must broadcast"):
        js_div_loss(x, y, weight=torch.ones(4, dtype=torch.float64))
