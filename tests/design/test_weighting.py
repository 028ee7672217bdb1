"""class_weights, Weighted and ErrorWeighted against hand-derived float64 references."""

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
    w = class_weights(counts=counts, method="inverse_sqrt_frequency").double()
    ref = np.array([1 / math.sqrt(n) for n in counts])
    np.testing.assert_allclose(w.numpy(), 4 * ref / ref.sum(), rtol=1e-6)
    for beta in (0.9, 0.99, 0.999):
        w = class_weights(counts=counts, method="effective_number", beta=beta).double()
        ref = np.array([(1 - beta) / (1 - beta**n) for n in counts])  # Cui et al., eq. (4)
        np.testing.assert_allclose(w.numpy(), 4 * ref / ref.sum(), rtol=1e-6)
    # beta = 0: no re-weighting; beta -> 1: inverse frequency
    assert torch.allclose(class_weights(counts=counts, method="effective_number", beta=0.0), torch.ones(4))
    np.testing.assert_allclose(
        class_weights(counts=counts, method="effective_number", beta=1 - 1e-9).numpy(),
        class_weights(counts=counts).numpy(),
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
    with pytest.raises(
        LosscraftError, match=r"class_weights: 'counts' must contain finite class counts >= 0, got -1"
    ):
        class_weights(counts=[3.0, -1.0])
    with pytest.raises(LosscraftError, match=r"label 5 is outside \[0, 2\]"):
        class_weights(torch.tensor([0, 5]), num_classes=3)
    with pytest.raises(LosscraftError, match="every class count is 0"):
        class_weights(counts=[0.0, 0.0])


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


def test_weighted_class_weighted_ce_divides_by_the_class_weights() -> None:
    g = torch.Generator().manual_seed(21)
    x = torch.randn(200, 5, generator=g, dtype=torch.float64)
    t = torch.randint(0, 5, (200,), generator=g)
    t[::7] = -100
    cw = torch.tensor([0.05, 0.2, 1.0, 4.0, 8.0], dtype=torch.float64)
    ce = losscraft.CrossEntropyLoss(weight=cw)
    ref = torch.nn.functional.cross_entropy(x, t, weight=cw)  # torch: sum(cw_y l) / sum(cw_y)
    torch.testing.assert_close(Weighted(ce)(x, t), ref)
    torch.testing.assert_close(Weighted(ce)(x, t, weight=torch.ones(200, dtype=torch.float64)), ref)
    # with sample weights s: sum(s cw_y l) / sum(s cw_y) over kept positions (float64 closed form)
    s = torch.rand(200, generator=g, dtype=torch.float64)
    kept = t != -100
    nll = -torch.log_softmax(x, 1)[torch.arange(200), t.clamp_min(0)]
    cwy = cw[t.clamp_min(0)] * kept
    torch.testing.assert_close(Weighted(ce)(x, t, weight=s), (s * cwy * nll).sum() / (s * cwy).sum())
    torch.testing.assert_close(
        Weighted(ce, normalize="count")(x, t, weight=s), (s * cwy * nll).sum() / kept.sum()
    )


def test_weighted_dice_with_a_whole_ignored_sample_and_supcon_lone_anchor() -> None:
    g = torch.Generator().manual_seed(22)
    x = torch.randn(3, 4, 5, 5, generator=g, dtype=torch.float64)
    t = torch.randint(0, 4, (3, 5, 5), generator=g)
    t[0] = 255  # the first image is entirely ignored
    dice = losscraft.DiceLoss(mode="multiclass", ignore_index=255)
    # the unreduced (N, C) values of the two kept images, and their plain mean
    per = LF.dice_loss(x, t, mode="multiclass", ignore_index=255, reduction="none")
    torch.testing.assert_close(dice(x, t), per[1:].mean())
    torch.testing.assert_close(Weighted(dice)(x, t), per[1:].mean())
    emb = torch.randn(6, 8, generator=g, dtype=torch.float64)
    labels = torch.tensor([0, 0, 1, 1, 2, 3])  # anchors 4 and 5 have no positive
    sup = losscraft.SupConLoss()
    per = LF.supcon_loss(emb, labels, reduction="none")
    torch.testing.assert_close(sup(emb, labels), per[:4].mean())
    torch.testing.assert_close(Weighted(sup)(emb, labels), per[:4].mean())


def test_weighted_rejects_negative_and_non_finite_weights() -> None:
    x, y, _ = _reg(6)
    for bad in (-1.0, float("nan"), float("inf")):
        w = torch.ones(8, 1, dtype=torch.float64)
        w[3] = bad
        with pytest.raises(LosscraftError, match=r"Weighted: 'weight' must contain finite weights >= 0"):
            Weighted("mse")(x, y, weight=w)
        with pytest.raises(LosscraftError, match=r"Weighted: 'weight' must contain finite weights >= 0"):
            Weighted("cross_entropy")(x, torch.zeros(8, dtype=torch.long), weight=w[:, 0])
    # a negative *term* weight of a combination stays legitimate (e.g. an entropy bonus)
    combo = 0.5 * losscraft.MSELoss() + (-0.1) * losscraft.MAELoss()
    torch.testing.assert_close(combo(x, y), 0.5 * ((x - y) ** 2).mean() - 0.1 * (x - y).abs().mean())


def test_error_weighted_config_and_weight_checks() -> None:
    with pytest.raises(
        LosscraftError, match=r"unknown parameter 'sclae' for weight 'cauchy'; valid: 'scale'"
    ):
        ErrorWeighted("mse", "cauchy", sclae=2.0)
    with pytest.raises(
        LosscraftError,
        match=r"ErrorWeighted.from_config: unknown config key 'sclae' \(did you mean 'scale'\?\)",
    ):
        losscraft.build({"name": "error_weighted", "loss": "mse", "fn": "cauchy", "sclae": 2.0})
    with pytest.raises(
        LosscraftError, match=r"Weighted.from_config: config is missing the required key 'loss'"
    ):
        losscraft.build({"name": "weighted", "normalize": "count"})
    with pytest.raises(
        LosscraftError,
        match=r"Weighted.from_config: unknown config key 'normalise' \(did you mean 'normalize'\?\)",
    ):
        losscraft.build({"name": "weighted", "loss": "mse", "normalise": "count"})
    x, y, _ = _reg(7)
    with pytest.raises(
        LosscraftError, match=r"ErrorWeighted: 'fn\(error\)' must contain finite weights >= 0"
    ):
        ErrorWeighted("mse", lambda r: r)(x, y)  # a weight function that goes negative
    with pytest.raises(LosscraftError, match=r"'detach' must be True or False, got 'no'"):
        ErrorWeighted("mse", "cauchy", detach="no")  # type: ignore[arg-type]


def test_error_weighted_residual_uses_the_target_by_name() -> None:
    """gaussian_nll is (input, target, var): the residual is input - target, not input - var."""
    g = torch.Generator().manual_seed(23)
    mu, y = (
        torch.randn(6, 2, generator=g, dtype=torch.float64),
        torch.randn(6, 2, generator=g, dtype=torch.float64),
    )
    var = torch.rand(6, 2, generator=g, dtype=torch.float64) + 0.2
    nll = 0.5 * (torch.log(var) + (mu - y) ** 2 / var)
    w = 1.0 / (1.0 + (mu - y) ** 2)  # cauchy, scale 1
    torch.testing.assert_close(
        ErrorWeighted("gaussian_nll", "cauchy")(mu, y, var), (w * nll).sum() / nll.numel()
    )


def test_class_weights_labels_or_counts_explicitly() -> None:
    y = [0, 0, 0, 1]
    ref = compute_class_weight("balanced", classes=np.arange(2), y=np.array(y))  # n / (C n_c)
    w = class_weights(labels=y, normalize=False).double().numpy()
    np.testing.assert_allclose(w * len(y) / 2, ref, rtol=1e-6)
    np.testing.assert_allclose(class_weights(labels=y).numpy(), [0.5, 1.5], rtol=1e-6)
    np.testing.assert_allclose(class_weights(torch.tensor(y)).numpy(), [0.5, 1.5], rtol=1e-6)
    # the same numbers as counts: classes 0-2 empty, one sample of class 3
    np.testing.assert_allclose(class_weights(counts=y).numpy(), [0.0, 0.0, 0.0, 1.0])
    with pytest.raises(
        LosscraftError, match=r"a positional argument must be an integer tensor of labels, got a list"
    ):
        class_weights(y)  # type: ignore[arg-type]
    with pytest.raises(LosscraftError, match=r"got a torch.float32 tensor; say what it holds"):
        class_weights(torch.tensor([900.0, 100.0]))
    with pytest.raises(LosscraftError, match="pass exactly one of labels=... .* or counts=..."):
        class_weights(labels=y, counts=[3, 1])
    with pytest.raises(LosscraftError, match=r"'counts' has 2 entries but num_classes=3"):
        class_weights(counts=[3, 1], num_classes=3)
    with pytest.raises(LosscraftError, match=r"'num_classes' must be an int >= 1 or None, got 0"):
        class_weights(labels=y, num_classes=0)
    with pytest.raises(LosscraftError, match=r"'labels' must hold integer class indices, got 0.5"):
        class_weights(labels=[0.5, 1.0])
    with pytest.raises(LosscraftError, match=r"'counts' must be 1-D"):
        class_weights(counts=[[1, 2]])
    # labels with num_classes: absent classes get weight 0; sklearn on the present ones
    w = class_weights(labels=torch.tensor([0, 2, 2, 2, -100]), num_classes=4, normalize=False).double()
    torch.testing.assert_close(w, torch.tensor([1.0, 0.0, 1 / 3, 0.0], dtype=torch.float64))
    with pytest.raises(LosscraftError, match="the weights overflow"):
        class_weights(counts=[1e-320, 1.0])
