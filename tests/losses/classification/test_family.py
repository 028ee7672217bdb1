"""Behaviour the class-prior and robust cross-entropy variants share.

logit_adjusted, balanced_softmax, poly, gce, sce and ldam: extreme logits, half precision, empty
and all-ignored batches, input and hyperparameter errors, Modules that store class vectors, and
registry aliases. Tests of one loss are in ``test_<key>.py``; what every registry entry must do is
in ``tests/contract/``.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import losscraft
from losscraft import LosscraftError
from losscraft.losses.classification import (
    ASLLoss,
    BalancedSoftmaxLoss,
    GCELoss,
    LogitAdjustedLoss,
    PolyLoss,
    SCELoss,
    balanced_softmax_loss,
    gce_loss,
    ldam_loss,
    logit_adjusted_loss,
    poly_loss,
    sce_loss,
)
from losses.classification.helpers import COUNTS, HALF, LDAM_COUNTS, LDAM_W, LOW, PRIORS, REDUCTIONS, D, _case

CASES = [
    ("logit_adjusted", logit_adjusted_loss, {"priors": PRIORS, "tau": 1.0}),
    ("balanced_softmax", balanced_softmax_loss, {"class_counts": COUNTS}),
    ("poly", poly_loss, {"epsilon": 2.0, "label_smoothing": 0.1}),
    ("gce", gce_loss, {"q": 0.3}),
    ("sce", sce_loss, {"alpha": 0.5, "beta": 1.0}),
    ("ldam", ldam_loss, {"class_counts": LDAM_COUNTS, "weight": LDAM_W}),
]
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize(("name", "fn", "kw"), CASES, ids=IDS)
@pytest.mark.parametrize("dtype", LOW)
def test_extreme_logits_finite(name: str, fn, kw, dtype: torch.dtype) -> None:
    x = torch.tensor(
        [[1e4, -1e4, 0.0, -1e4], [1e4, -1e4, 0.0, 1e4], [-1e4, -1e4, -1e4, -1e4], [-1e4, 1e4, 1e4, 1e4]],
        dtype=dtype,
        requires_grad=True,
    )
    t = torch.tensor([0, 1, 2, 0])
    for reduction in REDUCTIONS:
        x.grad = None
        v = fn(x, t, **kw, reduction=reduction)
        assert v.dtype == torch.float32 and torch.isfinite(v).all(), (name, reduction)
        v.sum().backward()
        assert torch.isfinite(x.grad).all(), (name, reduction)
    ref = fn(x.detach().double(), t, **kw, reduction="none")
    torch.testing.assert_close(fn(x, t, **kw, reduction="none").double(), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("name", "fn", "kw"), CASES, ids=IDS)
@pytest.mark.parametrize("dtype", HALF)
def test_half_matches_float64(name: str, fn, kw, dtype: torch.dtype) -> None:
    x, t = _case(30, (5, 4, 3), ignore=-100, n_ignore=3)
    xh = x.to(dtype)
    for reduction in ("none", "mean"):
        got = fn(xh, t, **kw, reduction=reduction)
        assert got.dtype == torch.float32
        torch.testing.assert_close(
            got.double(), fn(xh.double(), t, **kw, reduction=reduction), rtol=1e-5, atol=1e-5
        )


@pytest.mark.parametrize(("name", "fn", "kw"), CASES, ids=IDS)
def test_all_ignored_and_empty(name: str, fn, kw) -> None:
    x = torch.randn(3, 4, 2, dtype=D, requires_grad=True)
    t = torch.full((3, 2), -100)
    for reduction in ("mean", "sum"):
        x.grad = None
        out = fn(x, t, **kw, reduction=reduction)
        assert out.item() == 0.0 and out.requires_grad, name
        out.backward()
        assert torch.equal(x.grad, torch.zeros_like(x))
    assert (fn(x, t, **kw, reduction="none") == 0).all()
    e = torch.zeros(0, 4, dtype=D, requires_grad=True)
    out = fn(e, torch.zeros(0, dtype=torch.long), **kw)
    assert out.item() == 0.0 and out.requires_grad
    # DIFFERENCE: torch's cross-entropy (what these losses reduce to) gives nan here
    assert torch.isnan(F.cross_entropy(x, t))


@pytest.mark.parametrize(("name", "fn", "kw"), CASES, ids=IDS)
def test_common_input_errors(name: str, fn, kw) -> None:
    fname = f"{name}_loss"
    x, t = _case(31, (3, 4))
    with pytest.raises(
        LosscraftError, match=rf"{fname}: 'target' contains class index 4, expected values in \[0, 3\]"
    ):
        fn(x, torch.tensor([0, 4, 1]), **kw)
    with pytest.raises(
        LosscraftError, match=rf"{fname}: 'target' must be an integer tensor of class indices"
    ):
        fn(x, t.double(), **kw)
    with pytest.raises(LosscraftError, match=rf"{fname}: 'target' of class indices must have shape"):
        fn(x, t[:2], **kw)
    with pytest.raises(LosscraftError, match=rf"{fname}: 'input' must be a floating-point tensor"):
        fn(x.long(), t, **kw)
    with pytest.raises(LosscraftError, match=rf"{fname}: 'input' must have shape \(N, C\)"):
        fn(x[0], t, **kw)
    with pytest.raises(LosscraftError, match=rf"{fname}: 'reduction' must be one of"):
        fn(x, t, **kw, reduction="avg")


def test_hyperparameter_errors() -> None:
    x, t = _case(32, (3, 4))
    cases = [
        (
            logit_adjusted_loss,
            {"priors": torch.ones(3, dtype=D)},
            r"'priors' must have shape \(4,\) \(one value per class\), got \(3,\)",
        ),
        (
            logit_adjusted_loss,
            {"priors": torch.tensor([0.5, 0.5, 0.0, 0.0])},
            r"'priors' must be a 1-D float tensor \(or list\) of finite values > 0 or None",
        ),
        (logit_adjusted_loss, {"tau": -0.5}, r"'tau' must be a float in \[0, inf\), got -0.5"),
        (
            balanced_softmax_loss,
            {"class_counts": torch.tensor([3.0, -1.0, 2.0, 1.0])},
            r"'class_counts' must be a 1-D float tensor \(or list\) of finite values > 0",
        ),
        (
            balanced_softmax_loss,
            {"class_counts": torch.tensor([3, 1, 2, 1])},
            r"'class_counts' must be a 1-D float tensor",
        ),
        (balanced_softmax_loss, {"class_counts": torch.ones(5)}, r"'class_counts' must have shape \(4,\)"),
        (poly_loss, {"epsilon": -1.5}, r"'epsilon' must be a float in \[-1, inf\), got -1.5"),
        (poly_loss, {"label_smoothing": 1.2}, r"'label_smoothing' must be a float in \[0, 1\], got 1.2"),
        (gce_loss, {"q": 0.0}, r"'q' must be a float in \(0, 1\], got 0.0"),
        (gce_loss, {"q": 1.5}, r"'q' must be a float in \(0, 1\], got 1.5"),
        (sce_loss, {"log_zero": 0.0}, r"'log_zero' must be a float in \(-inf, 0\), got 0.0"),
        (sce_loss, {"alpha": -0.1}, r"'alpha' must be a float in \[0, inf\), got -0.1"),
        (
            ldam_loss,
            {"class_counts": torch.tensor([10.0, 0.0, 3.0, 1.0])},
            r"'class_counts' must be a 1-D float tensor \(or list\) of finite values > 0",
        ),
        (ldam_loss, {"class_counts": torch.ones(2)}, r"'class_counts' must have shape \(4,\)"),
        (ldam_loss, {"weight": torch.ones(5)}, r"'weight' must have shape \(4,\)"),
        (ldam_loss, {"scale": 0.0}, r"'scale' must be a float in \(0, inf\), got 0.0"),
        (ldam_loss, {"max_margin": -0.1}, r"'max_margin' must be a float in \[0, inf\), got -0.1"),
    ]
    for fn, kw, msg in cases:
        with pytest.raises(LosscraftError, match=f"{fn.__name__}: {msg}"):
            fn(x, t, **kw)


def test_modules_store_class_vectors_and_round_trip() -> None:
    x, t = _case(34, (5, 4))
    for mod, key, fn in [
        (LogitAdjustedLoss(priors=[0.6, 0.25, 0.1, 0.05], tau=0.5), "priors", logit_adjusted_loss),
        (BalancedSoftmaxLoss(class_counts=[800.0, 150.0, 40.0, 10.0]), "class_counts", balanced_softmax_loss),
    ]:
        assert isinstance(getattr(mod, f"_hp_{key}"), torch.Tensor)
        cfg = mod.get_config()
        assert losscraft.build(cfg).get_config() == cfg
        torch.testing.assert_close(mod(x.float(), t), fn(x.float(), t, **mod.hparams))
    for mod in (PolyLoss(epsilon=-0.5), GCELoss(q=0.4), SCELoss(alpha=6.0, beta=0.1), ASLLoss(clip=None)):
        cfg = mod.get_config()
        assert losscraft.build(cfg).get_config() == cfg
    torch.testing.assert_close(
        LogitAdjustedLoss(priors=[0.6, 0.25, 0.1, 0.05])(x, t), logit_adjusted_loss(x, t, priors=PRIORS)
    )
    torch.testing.assert_close(
        BalancedSoftmaxLoss(class_counts=[800.0, 150.0, 40.0, 10.0])(x, t),
        balanced_softmax_loss(x, t, class_counts=COUNTS),
    )


def test_registry_aliases() -> None:
    assert losscraft.get("logit_adjustment").name == "logit_adjusted"
    assert losscraft.get("poly1").name == "poly"
    assert losscraft.get("generalized_cross_entropy").name == "gce"
    assert losscraft.get("symmetric_cross_entropy").name == "sce"
    assert losscraft.get("asymmetric_loss").name == "asl"
    assert losscraft.get("ldam_drw").name == "ldam"
    assert losscraft.get("balanced_softmax_loss").name == "balanced_softmax"
