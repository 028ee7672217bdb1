"""class_weights, Weighted and ErrorWeighted against hand-derived float64 references (issue 4)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.utils.class_weight import compute_class_weight

import losscraft
import losscraft.functional as LF
from losscraft import LosscraftError
from losscraft.weighting import ErrorWeighted, Weighted, class_weights

LABELS = torch.tensor([0] * 50 + [1] * 30 + [2] * 15 + [3] * 5)


def test_inverse_frequency_is_proportional_to_sklearn_balanced() -> None:
    w = class_weights(LABELS).double()
    ref = compute_class_weight("balanced", classes=np.arange(4), y=LABELS.numpy())
    ratio = w.numpy() / ref
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-6)
    assert w.sum().item() == pytest.approx(4.0)


def test_inverse_sqrt_and_effective_number_closed_forms() -> None:
    counts = [50.0, 30.0, 15.0, 5.0]
    w = class_weights(counts, method="inverse_sqrt_frequency").double()
    ref = np.array([1 / math.sqrt(n) for n in counts])
    np.testing.assert_allclose(w.numpy(), 4 * ref / ref.sum(), rtol=1e-6)
    for beta in (0.9, 0.99, 0.999):
        w = class_weights(counts, method="effective_number", beta=beta).double()
        ref = np.array([(1 - beta) / (1 - beta**n) for n in counts])  # Cui et al., eq. (4)
        np.testing.assert_allclose(w.numpy(), 4 * ref / ref.sum(), rtol=1e-6)
    # beta = 0: no re-weighting; beta -> 1: inverse frequency
    assert torch.allclose(class_weights(counts, method="effective_number", beta=0.0), torch.ones(4))
    np.testing.assert_allclose(
        class_weights(counts, method="effective_number", beta=1 - 1e-9).numpy(),
        class_weights(counts).numpy(),
        rtol=1e-4,
    )


def test_labels_with_ignore_and_absent_classes() -> None:
    y = torch.tensor([0, 0, 2, -100, 2, 2])
    w = class_weights(y, num_classes=4, normalize=False).double()
    torch.testing.assert_close(w, torch.tensor([0.5, 0.0, 1 / 3, 0.0], dtype=torch.float64))
    w = class_weights(y, num_classes=4)
    assert w[1].item() == 0.0 and w[3].item() == 0.0
    assert w.sum().item() == pytest.approx(2.0)


def test_class_weights_errors() -> None:
    with pytest.raises(LosscraftError, match="'method' must be one of"):
        class_weights(LABELS, method="balanced")  # type: ignore[arg-type]
    with pytest.raises(LosscraftError, match=r"'beta' must be a float in \[0, 1\), got 1.0"):
        class_weights(LABELS, method="effective_number", beta=1.0)
    with pytest.raises(LosscraftError, match="class counts must be finite and >= 0"):
        class_weights([3.0, -1.0])
    with pytest.raises(LosscraftError, match=r"label 5 is outside \[0, 2\]"):
        class_weights(torch.tensor([0, 5]), num_classes=3)
    with pytest.raises(LosscraftError, match="every class count is 0"):
        class_weights([0.0, 0.0])


def test_class_weights_feed_cross_entropy() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(100, 4, generator=g, dtype=torch.float64)
    w = class_weights(LABELS).double()
    got = LF.cross_entropy_loss(x, LABELS, weight=w)
    ref = torch.nn.functional.cross_entropy(x, LABELS, weight=w)
    torch.testing.assert_close(got, ref)


def _reg(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(8, 3, generator=g, dtype=torch.float64)
    y = torch.randn(8, 3, generator=g, dtype=torch.float64)
    w = torch.rand(8, 1, generator=g, dtype=torch.float64)
    return x, y, w


def test_weighted_both_denominators() -> None:
    x, y, w = _reg()
    sq = (x - y) ** 2
    weighted_mean = (w * sq).sum() / (w.expand_as(sq)).sum()
    over_n = (w * sq).sum() / sq.numel()
    torch.testing.assert_close(Weighted(losscraft.MSELoss())(x, y, weight=w), weighted_mean)
    torch.testing.assert_close(LF.mse_loss(x, y, weight=w), weighted_mean)  # the library default
    torch.testing.assert_close(Weighted(losscraft.MSELoss(), normalize="count")(x, y, weight=w), over_n)
    torch.testing.assert_close(Weighted("mse", reduction="sum")(x, y, weight=w), (w * sq).sum())
    torch.testing.assert_close(Weighted("mse", reduction="none")(x, y, weight=w), w * sq)
    xr = x.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda z: Weighted("mse", normalize="count")(z, y, weight=w), (xr,))


def test_weighted_counts_only_kept_positions_and_adds_sample_weights_to_ce() -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(6, 4, generator=g, dtype=torch.float64)
    t = torch.tensor([0, 1, -100, 3, -100, 2])
    s = torch.tensor([1.0, 2.0, 5.0, 0.5, 5.0, 1.0], dtype=torch.float64)
    ce = -torch.log_softmax(x, 1)[torch.arange(6), t.clamp_min(0)]
    kept = t != -100
    num = (s * ce * kept).sum()
    torch.testing.assert_close(
        Weighted(losscraft.CrossEntropyLoss(), normalize="count")(x, t, weight=s), num / kept.sum()
    )
    torch.testing.assert_close(Weighted(losscraft.CrossEntropyLoss())(x, t, weight=s), num / (s * kept).sum())


def test_weighted_errors_and_config() -> None:
    x, y, _ = _reg()
    with pytest.raises(LosscraftError, match="'normalize' must be 'weight' or 'count'"):
        Weighted("mse", normalize="batch")
    with pytest.raises(LosscraftError, match=r"'weight' of shape \(7, 1\) must broadcast"):
        Weighted("mse")(x, y, weight=torch.ones(7, 1, dtype=torch.float64))
    m = Weighted({"name": "huber", "delta": 2.0}, normalize="count")
    cfg = m.get_config()
    assert cfg == {
        "name": "weighted",
        "loss": {"name": "huber", "delta": 2.0, "reduction": "mean"},
        "normalize": "count",
        "reduction": "mean",
    }
    assert losscraft.build(cfg).get_config() == cfg


def test_error_weighted_cauchy_reference_and_detach() -> None:
    x, y, _ = _reg(2)
    r = x - y
    g = 1.0 / (1.0 + (r / 2.0) ** 2)
    ref = (g * r**2).sum() / r.numel()
    m = ErrorWeighted(losscraft.MSELoss(), "cauchy", scale=2.0)
    torch.testing.assert_close(m(x, y), ref)
    # detach=True: the weight only rescales the per-element gradient: d/dx = g * 2r / N
    xr = x.clone().requires_grad_(True)
    m(xr, y).backward()
    torch.testing.assert_close(xr.grad, g * 2 * r / r.numel())
    # detach=False: full derivative of g(r) r^2
    xr = x.clone().requires_grad_(True)
    ErrorWeighted(losscraft.MSELoss(), "cauchy", scale=2.0, detach=False)(xr, y).backward()
    xr2 = x.clone().requires_grad_(True)
    rr = xr2 - y
    ((1.0 / (1.0 + (rr / 2.0) ** 2)) * rr**2).mean().backward()
    torch.testing.assert_close(xr.grad, xr2.grad)
    # normalize="weight": sum(g l) / sum(g)
    torch.testing.assert_close(
        ErrorWeighted("mse", "cauchy", scale=2.0, normalize="weight")(x, y), (g * r**2).sum() / g.sum()
    )


def test_error_weighted_focal_is_the_focal_loss() -> None:
    g = torch.Generator().manual_seed(3)
    x = torch.randn(10, 3, generator=g, dtype=torch.float64)
    t = (torch.rand(10, 3, generator=g) > 0.5).double()
    m = ErrorWeighted(losscraft.BCEWithLogitsLoss(), "focal", gamma=2.0, detach=False)
    torch.testing.assert_close(m(x, t), LF.binary_focal_loss(x, t, gamma=2.0, alpha=None))
    xc = torch.randn(10, 5, generator=g, dtype=torch.float64)
    tc = torch.randint(0, 5, (10,), generator=g)
    mc = ErrorWeighted(losscraft.CrossEntropyLoss(), "focal", gamma=1.5, detach=False)
    torch.testing.assert_close(mc(xc, tc), LF.focal_loss(xc, tc, gamma=1.5))


def test_error_weighted_custom_callable_and_errors() -> None:
    x, y, _ = _reg(4)
    m = ErrorWeighted("mae", lambda r: 1.0 + r.abs())
    r = x - y
    torch.testing.assert_close(m(x, y), ((1 + r.abs()) * r.abs()).mean())
    with pytest.raises(LosscraftError, match="cannot be serialised"):
        m.get_config()
    with pytest.raises(LosscraftError, match="unknown weight 'tukey'"):
        ErrorWeighted("mse", "tukey")
    with pytest.raises(LosscraftError, match="on='residual' needs a regression loss"):
        ErrorWeighted("bce_with_logits", "cauchy")(x, torch.rand(8, 3, dtype=torch.float64))
    with pytest.raises(LosscraftError, match=r"'scale' must be a finite number > 0, got -1.0"):
        ErrorWeighted("mse", "cauchy", scale=-1.0)
    e = ErrorWeighted("mse", "gaussian", scale=3.0, normalize="weight")
    assert losscraft.build(e.get_config()).get_config() == e.get_config()


def test_gradcheck_error_weighted_and_weighted_ce() -> None:
    x, y, _ = _reg(5)
    xr = x.clone().requires_grad_(True)
    # detach=False only: with a detached weight the analytic gradient is, by design, not the
    # finite-difference one (checked in closed form in test_error_weighted_cauchy_reference_and_detach)
    m = ErrorWeighted("mse", "cauchy", scale=1.5, detach=False)
    assert torch.autograd.gradcheck(lambda z: m(z, y), (xr,))
    g = torch.Generator().manual_seed(6)
    logits = torch.randn(5, 3, generator=g, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0, 2, -100, 1, 2])
    s = torch.rand(5, generator=g, dtype=torch.float64)
    m2 = Weighted(losscraft.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0, 0.5])), normalize="count")
    assert torch.autograd.gradcheck(lambda z: m2(z, t, weight=s), (logits,))
