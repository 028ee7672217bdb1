"""kl_div: parity with torch and an independent numpy reference.

References used here:
* ``torch.nn.functional.kl_div`` on ``log_softmax(input)`` (values and gradients, float64);
* an independent numpy implementation of KL(p || q) with temperature written from Hinton et
  al. (2015), with ``0 log 0 = 0``.

Convention differences vs ``torch.nn.functional.kl_div`` (asserted below):
* losscraft takes **logits** and applies ``log_softmax`` over dim 1 (torch takes
  log-probabilities; log-probabilities still work here since log_softmax is idempotent);
* ``reduction="mean"`` averages the per-sample KL: torch's ``"batchmean"`` for 2-D input; for
  ``(N, C, d)`` it divides by ``N*d`` where ``batchmean`` divides by ``N``;
* ``reduction="none"`` returns one value per sample (class dim summed), torch's is elementwise;
* ``log_target=True`` with ``-inf`` entries (zero probability) gives a finite loss; torch gives nan.
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
from losscraft import LosscraftError
from losscraft.losses.divergence import KLDivLoss, kl_div_loss

# ------------------------------------------------------------------------------------ torch parity
D64 = torch.float64


def _data(n: int = 6, c: int = 5, seed: int = 0, extra: tuple[int, ...] = ()):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((n, c, *extra), generator=g, dtype=D64) * 2
    p = torch.softmax(torch.randn((n, c, *extra), generator=g, dtype=D64), dim=1)
    return x, p


def _grad(fn, *tensors):
    ts = [t.detach().clone().requires_grad_(True) for t in tensors]
    out = fn(*ts)
    grads = torch.autograd.grad(out, ts)
    return out.detach(), grads


def _np_kl(logits: np.ndarray, target: np.ndarray, T: float = 1.0, log_target: bool = False) -> np.ndarray:
    """KL per row, written from the definition: T^2 * sum_k p_k (log p_k - log q_k)."""
    out = np.zeros(logits.shape[0])
    for i in range(logits.shape[0]):
        z = logits[i] / T
        q = np.exp(z - z.max())
        q /= q.sum()
        if log_target:
            s = target[i] / T
            p = np.exp(s - s.max())
            p /= p.sum()
        elif T == 1.0:
            p = target[i]
        else:
            w = target[i] ** (1.0 / T)
            p = w / w.sum()
        acc = 0.0
        for pk, qk in zip(p, q, strict=True):
            if pk > 0:
                acc += pk * (math.log(pk) - math.log(qk))
        out[i] = T * T * acc
    return out


@pytest.mark.parametrize("log_target", [False, True])
def test_parity_with_torch_batchmean_values_and_grads(log_target: bool) -> None:
    x, p = _data()
    t = p.log() if log_target else p
    ours, g_ours = _grad(lambda a, b: kl_div_loss(a, b, log_target=log_target), x, t)
    ref, g_ref = _grad(
        lambda a, b: F.kl_div(F.log_softmax(a, dim=1), b, reduction="batchmean", log_target=log_target), x, t
    )
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-14)
    for a, b in zip(g_ours, g_ref, strict=True):  # gradients w.r.t. logits and target
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_parity_with_torch_sum_and_none() -> None:
    x, p = _data(seed=1)
    lq = F.log_softmax(x, dim=1)
    torch.testing.assert_close(kl_div_loss(x, p, reduction="sum"), F.kl_div(lq, p, reduction="sum"))
    # torch's "none" is elementwise; ours sums the class dimension.
    torch.testing.assert_close(kl_div_loss(x, p, reduction="none"), F.kl_div(lq, p, reduction="none").sum(1))


def test_spatial_input_mean_is_per_position() -> None:
    x, p = _data(n=3, c=4, extra=(5, 2), seed=2)
    none = kl_div_loss(x, p, reduction="none")
    assert none.shape == (3, 5, 2)
    ref = F.kl_div(F.log_softmax(x, dim=1), p, reduction="none").sum(1)
    torch.testing.assert_close(none, ref)
    # mean over N*d1*d2 positions; torch's batchmean divides the total by N only.
    batchmean = F.kl_div(F.log_softmax(x, dim=1), p, reduction="batchmean")
    torch.testing.assert_close(kl_div_loss(x, p), batchmean / 10)


def test_log_probability_input_equals_logit_input() -> None:
    x, p = _data(seed=3)
    v1, (g1, _) = _grad(kl_div_loss, x, p)
    v2, (g2, _) = _grad(lambda a, b: kl_div_loss(torch.log_softmax(a, 1), b), x, p)
    lp = torch.log_softmax(x, 1)
    v3, (g3, _) = _grad(kl_div_loss, lp, p)  # gradient w.r.t. the log-probabilities themselves
    torch.testing.assert_close(v1, v2, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(v1, v3, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(g1, g2, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(g1, g3, rtol=1e-10, atol=1e-12)  # q - p in both parametrisations


def test_one_hot_target_equals_cross_entropy() -> None:
    x, _ = _data(seed=4)
    y = torch.tensor([0, 4, 2, 1, 3, 3])
    torch.testing.assert_close(kl_div_loss(x, F.one_hot(y, 5).to(D64)), F.cross_entropy(x, y))


# --------------------------------------------------------------------------- independent reference
@pytest.mark.parametrize("T", [1.0, 0.5, 2.0, 4.0])
@pytest.mark.parametrize("log_target", [False, True])
def test_matches_numpy_reference_with_temperature(T: float, log_target: bool) -> None:
    x, p = _data(seed=5)
    t = p.log() if log_target else p
    ours = kl_div_loss(x, t, temperature=T, log_target=log_target, reduction="none")
    ref = _np_kl(x.numpy(), t.numpy(), T, log_target)
    np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("T", [2.0, 4.0])
def test_hinton_distillation_recipe(T: float) -> None:
    """T^2 * KL(softmax(t/T) || softmax(s/T)), teacher given as probabilities or log-probabilities."""
    g = torch.Generator().manual_seed(6)
    s, t = torch.randn(8, 10, generator=g, dtype=D64), 3 * torch.randn(8, 10, generator=g, dtype=D64)
    ref, (g_ref,) = _grad(
        lambda a: T * T * F.kl_div(F.log_softmax(a / T, 1), F.softmax(t / T, 1), reduction="batchmean"), s
    )
    for target, log_target in ((F.softmax(t, 1), False), (F.log_softmax(t, 1), True)):
        ours, (g_ours,) = _grad(
            lambda a, target=target, lt=log_target: kl_div_loss(a, target, temperature=T, log_target=lt), s
        )
        torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(g_ours, g_ref, rtol=1e-9, atol=1e-12)


def test_temperature_gradient_is_T_times_q_minus_p() -> None:
    x, p = _data(seed=7)
    T = 3.0
    _, (g,) = _grad(lambda a: kl_div_loss(a, p, temperature=T, reduction="sum"), x)
    q_T = torch.softmax(x / T, 1)
    p_T = torch.softmax(p.log() / T, 1)
    torch.testing.assert_close(g, T * (q_T - p_T), rtol=1e-10, atol=1e-12)


# -------------------------------------------------------------------------------------- edge cases
@pytest.mark.parametrize("T", [1.0, 3.0])
def test_zeros_in_target_are_finite(T: float) -> None:
    x, _ = _data(n=4, c=4, seed=8)
    p = torch.tensor(
        [[0.5, 0.5, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.0, 0.2, 0.3, 0.5], [0.25] * 4], dtype=D64
    )
    xr, pr = x.clone().requires_grad_(True), p.clone().requires_grad_(True)
    out = kl_div_loss(xr, pr, temperature=T, reduction="none")
    assert torch.isfinite(out).all()
    np.testing.assert_allclose(out.detach().numpy(), _np_kl(x.numpy(), p.numpy(), T), rtol=1e-11)
    out.sum().backward()
    assert torch.isfinite(xr.grad).all() and torch.isfinite(pr.grad).all()
    if T == 1.0:  # torch uses xlogy, so it is finite too
        torch.testing.assert_close(out, F.kl_div(F.log_softmax(x, 1), p, reduction="none").sum(1))


@pytest.mark.parametrize("T", [1.0, 2.0])
def test_masked_logits_with_zero_target_are_finite(T: float) -> None:
    x = torch.tensor([[1.0, -math.inf, 0.5], [-math.inf, 0.0, 2.0]], dtype=D64, requires_grad=True)
    p = torch.tensor([[0.5, 0.0, 0.5], [0.0, 0.3, 0.7]], dtype=D64)
    out = kl_div_loss(x, p, temperature=T, reduction="none")
    finite = torch.tensor([[1.0, -1e300, 0.5], [-1e300, 0.0, 2.0]], dtype=D64)
    torch.testing.assert_close(out, kl_div_loss(finite, p, temperature=T, reduction="none"))
    (g,) = torch.autograd.grad(out.sum(), x)
    assert torch.isfinite(g).all() and g[0, 1] == 0 and g[1, 0] == 0


def test_log_target_with_minus_inf_is_finite() -> None:
    x, _ = _data(n=2, c=3, seed=9)
    p = torch.tensor([[0.7, 0.3, 0.0], [0.0, 0.0, 1.0]], dtype=D64)
    lp = p.log()  # contains -inf
    for T in (1.0, 2.0):
        xr, lr = x.clone().requires_grad_(True), lp.clone().requires_grad_(True)
        out = kl_div_loss(xr, lr, log_target=True, temperature=T, reduction="none")
        torch.testing.assert_close(out, kl_div_loss(x, p, temperature=T, reduction="none"))
        out.sum().backward()
        assert torch.isfinite(xr.grad).all() and torch.isfinite(lr.grad).all()
    # torch: exp(-inf) * (-inf - input) = 0 * -inf = nan (documented difference)
    assert torch.isnan(F.kl_div(F.log_softmax(x, 1), lp, reduction="none", log_target=True)).any()


def test_zero_at_match_and_single_distribution() -> None:
    x = torch.tensor([1.0, -2.0, 0.5], dtype=D64)
    out = kl_div_loss(x, torch.softmax(x, 0), reduction="none")
    assert out.shape == ()
    assert abs(out.item()) < 1e-15
    # temperature keeps the minimiser: softening both sides of a match still matches
    assert abs(kl_div_loss(x, torch.softmax(x, 0), temperature=3.0).item()) < 1e-14


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("T", [1.0, 4.0])
def test_extreme_logits_with_zero_targets_finite(dtype: torch.dtype, T: float) -> None:
    x = torch.tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]], dtype=dtype, requires_grad=True)
    p = torch.tensor([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0]], dtype=dtype)
    out = kl_div_loss(x, p, temperature=T)
    assert out.dtype == torch.float32 and torch.isfinite(out)
    out.backward()
    assert torch.isfinite(x.grad).all()
    ref = kl_div_loss(x.detach().double(), p.double(), temperature=T)
    torch.testing.assert_close(out.double(), ref, rtol=1e-6, atol=1e-3)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_with_temperature(dtype: torch.dtype) -> None:
    x, p = _data(n=16, c=7, seed=10)
    xh, ph = x.to(dtype), p.to(dtype)
    out = kl_div_loss(xh, ph, temperature=2.0, reduction="none")
    # reference on the same rounded inputs: the only error left is float32 arithmetic
    ref = kl_div_loss(xh.double(), ph.double(), temperature=2.0, reduction="none")
    torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-6)
    # and against the unrounded float64 inputs: within the input rounding (stated tolerance)
    tol = 2e-2 if dtype is torch.bfloat16 else 3e-3
    torch.testing.assert_close(
        out.double(), kl_div_loss(x, p, temperature=2.0, reduction="none"), rtol=tol, atol=tol
    )


@pytest.mark.parametrize(
    ("T", "log_target", "shape"), [(1.0, False, (3, 4)), (2.5, False, (2, 3, 2)), (0.7, True, (3, 4))]
)
def test_gradcheck_options(T: float, log_target: bool, shape: tuple[int, ...]) -> None:
    g = torch.Generator().manual_seed(11)
    x = torch.randn(shape, generator=g, dtype=D64, requires_grad=True)
    p = torch.softmax(torch.randn(shape, generator=g, dtype=D64), 1)
    t = (p.log() if log_target else p).requires_grad_(True)
    w = torch.rand((shape[0], *shape[2:]), generator=g, dtype=D64)
    for red in ("none", "mean"):
        assert torch.autograd.gradcheck(
            lambda a, b, red=red: kl_div_loss(
                a, b, temperature=T, log_target=log_target, weight=w, reduction=red
            ),
            (x, t),
        )


def test_weighted_mean_over_samples() -> None:
    x, p = _data(seed=12)
    w = torch.tensor([1.0, 0.0, 2.0, 0.5, 0.5, 1.0], dtype=D64)
    none = kl_div_loss(x, p, reduction="none")
    torch.testing.assert_close(kl_div_loss(x, p, weight=w), (w * none).sum() / w.sum())


def test_module_and_registry() -> None:
    x, p = _data(seed=13)
    m = KLDivLoss(temperature=2.0, log_target=True)
    assert repr(m) == "KLDivLoss(log_target=True, temperature=2.0, reduction='mean')"
    torch.testing.assert_close(m(x, p.log()), kl_div_loss(x, p.log(), log_target=True, temperature=2.0))
    assert losscraft.get("kl").function is kl_div_loss
    assert losscraft.get("kl_divergence").module is KLDivLoss


# -------------------------------------------------------------------------------------- properties
@given(
    logits=st.lists(st.floats(-30, 30), min_size=4, max_size=4),
    weights=st.lists(st.floats(0, 10), min_size=4, max_size=4).filter(lambda w: sum(w) > 1e-3),
    T=st.floats(0.1, 10.0),
)
def test_kl_nonnegative_and_zero_only_at_match(logits: list[float], weights: list[float], T: float) -> None:
    x = torch.tensor([logits], dtype=D64)
    w = torch.tensor([weights], dtype=D64)
    p = w / w.sum()
    out = kl_div_loss(x, p, temperature=T)
    assert torch.isfinite(out) and out.item() >= -1e-12
    assert abs(kl_div_loss(x, torch.softmax(x, 1), temperature=T).item()) < 1e-10


# ------------------------------------------------------------------------------------------ errors
def test_error_target_out_of_range() -> None:
    x = torch.zeros(2, 3)
    with pytest.raises(
        LosscraftError, match=r"kl_div_loss: 'target' must contain probabilities in \[0, 1\], got 1\.5"
    ):
        kl_div_loss(x, torch.tensor([[1.5, 0.0, 0.0], [0.2, 0.3, 0.5]]))
    with pytest.raises(LosscraftError, match=r"'target' must contain probabilities in \[0, 1\], got -0\.1"):
        kl_div_loss(x, torch.tensor([[0.5, 0.6, -0.1], [0.2, 0.3, 0.5]]))
    with pytest.raises(LosscraftError, match=r"'target' must contain probabilities in \[0, 1\], got nan"):
        kl_div_loss(x, torch.tensor([[float("nan"), 0.5, 0.5], [0.2, 0.3, 0.5]]))
    with pytest.raises(
        LosscraftError, match=r"'target' must contain log-probabilities in \[-inf, 0\], got 0\.5"
    ):
        kl_div_loss(x, torch.tensor([[0.5, -1.0, -2.0], [-1.0, -1.0, -1.0]]), log_target=True)


def test_error_shapes_and_dtypes() -> None:
    with pytest.raises(
        LosscraftError,
        match=r"kl_div_loss: 'input' and 'target' must have the same shape, "
        r"got input \(2, 3\) and target \(2, 4\)",
    ):
        kl_div_loss(torch.zeros(2, 3), torch.full((2, 4), 0.25))
    with pytest.raises(LosscraftError, match="'input' must be a floating-point tensor"):
        kl_div_loss(torch.zeros(2, 3, dtype=torch.long), torch.full((2, 3), 1 / 3))
    with pytest.raises(LosscraftError, match="'target' must be a floating-point tensor"):
        kl_div_loss(torch.zeros(2, 3), torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(
        LosscraftError, match="'input' must have shape \\(N, C, \\*\\) or \\(C,\\), got a 0-dim"
    ):
        kl_div_loss(torch.tensor(0.0), torch.tensor(1.0))


@pytest.mark.parametrize("bad", [0.0, -1.0, math.inf, math.nan, "2"])
def test_error_bad_temperature(bad: object) -> None:
    x, p = _data()
    with pytest.raises(
        LosscraftError, match=r"kl_div_loss: 'temperature' must be a float in \(0, inf\), got"
    ):
        kl_div_loss(x, p, temperature=bad)  # type: ignore[arg-type]
    with pytest.raises(LosscraftError, match=r"'temperature' must be a float in \(0, inf\)"):
        KLDivLoss(temperature=bad)  # type: ignore[arg-type]


def test_error_bad_log_target() -> None:
    x, p = _data()
    with pytest.raises(LosscraftError, match=r"kl_div_loss: 'log_target' must be one of False, True, got 1"):
        kl_div_loss(x, p, log_target=1)  # type: ignore[arg-type]
