"""``losscraft.analyze``: measured behaviour of known losses against closed forms.

Every expectation below is derived by hand from the loss's formula (a bound, a growth
exponent, a kink location, a value), never copied from the code's output. The registry-wide
check that measured properties equal declared ones lives in ``tests/contract/test_properties.py``.
"""

from __future__ import annotations

import json
import math
from functools import cache

import pytest
import torch
import torch.nn.functional as F

import losscraft
import losscraft.functional as LF
from losscraft import AnalysisReport, LosscraftError, analyze
from losscraft.analysis import GROWTH_CLASSES, curve_data
from losscraft.builder import custom_loss


def _cached(name: str, params: tuple[tuple[str, float], ...] = ()) -> AnalysisReport:
    return _rep(name, params)


@cache
def _rep(name: str, params: tuple[tuple[str, float], ...]) -> AnalysisReport:
    return analyze(name, **dict(params))


# --------------------------------------------------------------------------- regression
def test_mse_gradient_linear_and_unbounded() -> None:
    r = _cached("mse")
    assert r.loss_growth == "quadratic"  # r^2
    assert r.gradient_growth == "linear"  # 2r
    assert not r.bounded_gradient and r.gradient_bound is None
    assert r.smoothness == "C2" and r.kinks == () and r.curvature_kinks == ()
    assert r.minimum_at_zero and r.symmetric and r.convex
    for end in r.per_curve[0].ends.values():  # decade increments of r^2 and 2r grow 100x and 10x
        assert end["loss_exponent"] == pytest.approx(2.0, abs=1e-9)
        assert end["gradient_exponent"] == pytest.approx(1.0, abs=1e-9)
    (d,) = curve_data("mse", n=9)
    torch.testing.assert_close(d.loss, d.x**2)
    torch.testing.assert_close(d.grad, 2 * d.x)


def test_mae_gradient_constant_with_kink_at_zero() -> None:
    r = _cached("mae")
    assert r.loss_growth == "linear"
    assert r.gradient_growth == "bounded"
    assert r.bounded_gradient and r.gradient_bound == 1.0  # |d|r|/dr| = 1
    assert r.smoothness == "C0" and r.smoothness_at_zero == "C0"
    assert r.kinks == (0.0,)
    (d,) = curve_data("mae", n=8)  # an even grid avoids x = 0
    torch.testing.assert_close(d.grad, torch.sign(d.x))


@pytest.mark.parametrize("delta", [0.25, 1.0, 2.5, 7.0])
def test_huber_gradient_bounded_by_delta_and_c1_at_delta(delta: float) -> None:
    r = _cached("huber", (("delta", delta),))
    assert r.params == {"delta": delta}
    assert r.bounded_gradient
    assert r.gradient_bound == pytest.approx(delta, rel=1e-12)  # clip(r, -delta, delta)
    assert r.loss_growth == "linear" and r.gradient_growth == "bounded"
    # l'' = 1 inside, 0 outside: continuous gradient, curvature jumps at +-delta, smooth at 0
    assert r.smoothness == "C1" and r.kinks == ()
    assert r.curvature_kinks == pytest.approx((-delta, delta), abs=1e-4)
    assert r.smoothness_at_zero == "C2"
    assert r.convex and r.symmetric and r.minimum_at_zero
    (d,) = curve_data("huber", n=41, delta=delta)
    a = d.x.abs()
    expected = torch.where(a <= delta, 0.5 * d.x**2, delta * (a - 0.5 * delta))
    torch.testing.assert_close(d.loss, expected)
    torch.testing.assert_close(d.grad, d.x.clamp(-delta, delta))


def test_log_cosh_gradient_bounded_by_one_and_c2() -> None:
    r = _cached("log_cosh")
    assert r.bounded_gradient
    assert r.gradient_bound == pytest.approx(1.0, abs=1e-12)  # tanh(r) -> 1
    assert r.loss_growth == "linear"  # |r| - log 2
    assert r.smoothness == "C2" and r.kinks == () and r.curvature_kinks == ()
    (d,) = curve_data("log_cosh", n=17)
    torch.testing.assert_close(d.grad, torch.tanh(d.x))


@pytest.mark.parametrize("c", [1.0, 2.0])
def test_cauchy_redescends_with_logarithmic_growth(c: float) -> None:
    r = _cached("cauchy", (("scale", c),))
    assert r.loss_growth == "logarithmic"  # log(r^2 / (2 c^2) + 1)
    assert r.gradient_growth == "bounded"  # ~ 2 / r -> 0
    # l' = (r / c^2) / (1 + r^2 / (2 c^2)), largest at r = sqrt(2) c: 1 / (sqrt(2) c)
    assert r.gradient_bound == pytest.approx(1.0 / (math.sqrt(2.0) * c), rel=1e-5)
    assert not r.convex and r.smoothness == "C2"


def test_welsch_and_geman_mcclure_are_bounded() -> None:
    w = _cached("welsch")
    assert w.loss_growth == "bounded" and w.gradient_growth == "bounded"
    assert w.gradient_bound == pytest.approx(math.exp(-0.5), rel=1e-5)  # r e^{-r^2/2} at r = 1
    g = _cached("geman_mcclure")
    assert g.loss_growth == "bounded"  # 2 - 8 / r^2 + ...
    # 16 u / (u^2 + 4)^2 is largest at u^2 = 4/3
    u = 2.0 / math.sqrt(3.0)
    assert g.gradient_bound == pytest.approx(16 * u / (u * u + 4) ** 2, rel=1e-5)


def test_linex_and_poisson_grow_exponentially() -> None:
    for name in ("linex", "poisson_nll"):  # b (e^{a r} - a r - 1); e^x - y x
        r = _cached(name)
        assert r.loss_growth == "exponential" and r.gradient_growth == "exponential"
        assert not r.bounded_gradient
    ends = _cached("linex").per_curve[0].ends
    assert ends["lower"]["loss_growth"] == "linear"  # e^{-r} -> 0, leaving r - 1


def test_quantile_asymmetry_and_bound() -> None:
    r = _cached("quantile", (("quantiles", 0.9),))
    assert not r.symmetric
    assert r.gradient_bound == pytest.approx(0.9, rel=1e-12)  # max(tau, 1 - tau)
    assert r.kinks == (0.0,)


# --------------------------------------------------------------------------- classification
def test_bce_with_logits_confident_wrong_is_linear_with_gradient_bound_one() -> None:
    r = _cached("bce_with_logits")
    w = r.confident_wrong
    assert w is not None
    assert w["direction"] == "x -> -inf"  # positive target: wrong means very negative logits
    x = torch.tensor(w["x"], dtype=torch.float64)
    torch.testing.assert_close(x, torch.tensor([-10.0, -100.0, -1e4], dtype=torch.float64))
    # loss = log(1 + e^{-x}), gradient = -1 / (1 + e^{x})
    expected = [math.log1p(math.exp(10.0)), 100.0 + math.log1p(math.exp(-100.0)), 1e4]
    assert w["loss"] == pytest.approx(expected, rel=1e-12)
    assert w["gradient"] == pytest.approx([-1 / (1 + math.exp(v)) for v in w["x"]], rel=1e-12)
    assert w["loss_growth"] == "linear" and not w["loss_bounded"]
    assert w["gradient_growth"] == "bounded" and w["gradient_bounded"]
    assert r.bounded_gradient and r.gradient_bound == pytest.approx(1.0, abs=1e-12)
    assert r.loss_growth == "linear" and r.convex and r.smoothness == "C2"


def test_bce_on_probabilities_is_unbounded_when_confident_and_wrong() -> None:
    r = _cached("bce")
    w = r.confident_wrong
    assert w is not None and w["direction"] == "x -> 0"
    p = w["x"]
    assert p == pytest.approx([1e-2, 1e-4, 1e-6], rel=1e-12)
    assert w["loss"] == pytest.approx([-math.log(v) for v in p], rel=1e-12)  # -log p
    assert w["gradient"] == pytest.approx([-1.0 / v for v in p], rel=1e-9)  # -1 / p
    assert not w["loss_bounded"] and not w["gradient_bounded"]
    assert w["loss_growth"] == "logarithmic"  # -log p = log(1 / p)
    assert w["gradient_growth"] == "linear"  # 1 / p
    assert not r.bounded_gradient and r.gradient_bound is None


def _focal_gradient_factor(gamma: float, p: float = 0.9) -> float:
    # d/dx of -(1 - p)^gamma log p with dp/dx = p (1 - p), divided by d/dx of -log p
    return (1 - p) ** gamma * (1 + gamma * p * (-math.log(p)) / (1 - p))


@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 2.0, 3.5])
def test_focal_easy_example_factor_is_one_minus_p_to_the_gamma(gamma: float) -> None:
    for r in (
        analyze("focal", gamma=gamma),
        analyze("binary_focal", gamma=gamma, alpha=None),
    ):
        assert r.easy_example_factor == pytest.approx(0.1**gamma, rel=1e-9)
        assert r.easy_example_gradient_factor == pytest.approx(_focal_gradient_factor(gamma), rel=1e-7)


def test_binary_focal_alpha_scales_the_easy_example_factor() -> None:
    r = analyze("binary_focal", gamma=2.0, alpha=0.25)  # alpha_t = alpha for a positive target
    assert r.easy_example_factor == pytest.approx(0.25 * 0.1**2, rel=1e-9)


def test_cross_entropy_is_its_own_reference() -> None:
    for name in ("cross_entropy", "bce_with_logits"):
        r = _cached(name)
        assert r.easy_example_factor == pytest.approx(1.0, rel=1e-12)
        assert r.easy_example_gradient_factor == pytest.approx(1.0, rel=1e-12)
    assert _cached("mse").easy_example_factor is None
    assert _cached("mse").confident_wrong is None


def test_class_weight_hyperparameter_is_passed_through() -> None:
    # the curve's target is class 0: the loss is w_0 * CE, its gradient w_0 (p_0 - 1)
    r = analyze("cross_entropy", weight=[2.0, 1.0, 1.0])
    assert r.params["weight"] == [2.0, 1.0, 1.0]
    assert r.gradient_bound == pytest.approx(2.0, rel=1e-12)
    assert r.confident_wrong is not None
    assert r.confident_wrong["loss"][2] == pytest.approx(2.0 * (1e4 + math.log(2.0)), rel=1e-12)


# --------------------------------------------------------------------------- custom losses, Modules
@pytest.fixture(scope="module")
def pseudo_huber():
    return custom_loss(
        "analysis_pseudo_huber",
        lambda input, target, *, k: k**2 * (torch.sqrt(1 + ((input - target) / k) ** 2) - 1),
        params={"k": 1.0},
    )


def test_custom_loss_is_analysed(pseudo_huber) -> None:
    r = analyze(pseudo_huber, k=2.5)
    assert r.name == "analysis_pseudo_huber" and r.params == {"k": 2.5, "ignore_index": None}
    # l' = r / sqrt(1 + (r/k)^2) -> k, l'' = (1 + (r/k)^2)^{-3/2}: smooth, convex
    assert r.gradient_bound == pytest.approx(2.5, rel=1e-9)
    assert r.loss_growth == "linear" and r.smoothness == "C2" and r.convex and r.symmetric
    assert r.properties >= {losscraft.Property.SMOOTH, losscraft.Property.BOUNDED_GRADIENT}


def test_custom_module_instance_uses_its_hyperparameters(pseudo_huber) -> None:
    r = analyze(pseudo_huber.module(k=0.5))
    assert r.params["k"] == 0.5
    assert r.gradient_bound == pytest.approx(0.5, rel=1e-9)


def test_custom_kinked_asymmetric_loss() -> None:
    newsvendor = custom_loss(
        "analysis_newsvendor",
        lambda input, target, *, under, over: torch.maximum(
            under * (target - input), over * (input - target)
        ),
        params={"under": 3.0, "over": 1.0},
    )
    r = analyze(newsvendor)
    assert r.kinks == (0.0,) and r.smoothness == "C0"
    assert r.gradient_bound == 3.0  # slopes -under and +over
    assert not r.symmetric and r.convex and r.minimum_at_zero


def test_custom_logit_loss_gets_classification_measures() -> None:
    my_bce = custom_loss(
        "analysis_bce",
        lambda input, target: F.binary_cross_entropy_with_logits(input, target, reduction="none"),
        input_kind="logits",
        family="classification",
    )
    r = analyze(my_bce)
    assert r.easy_example_factor == pytest.approx(1.0, rel=1e-12)
    assert r.confident_wrong is not None and r.confident_wrong["loss_growth"] == "linear"


@pytest.mark.parametrize(
    ("formula", "growth"),
    [
        (lambda r: torch.log1p(r * r), "logarithmic"),  # ~ 2 log |r|
        (lambda r: torch.sqrt(1 + r.abs()) - 1, "sublinear"),  # ~ |r|^0.5
        (lambda r: (1 + r * r) ** 0.75 - 1, "superlinear"),  # ~ |r|^1.5
        (lambda r: r**4, "superlinear"),
        (lambda r: 1 - torch.exp(-r * r), "bounded"),
        (lambda r: torch.cosh(r) - 1, "exponential"),
    ],
    ids=["log", "sqrt", "pow1.5", "pow4", "gauss", "cosh"],
)
def test_growth_classes_of_closed_forms(formula, growth: str) -> None:
    loss = custom_loss("analysis_growth", lambda input, target: formula(input - target))
    assert growth in GROWTH_CLASSES
    assert analyze(loss).loss_growth == growth


def test_module_instance_and_functional_form() -> None:
    r = analyze(losscraft.HuberLoss(delta=3.0))
    assert r.params == {"delta": 3.0} and r.gradient_bound == pytest.approx(3.0, rel=1e-12)
    assert analyze(losscraft.HuberLoss(delta=3.0), delta=0.5).gradient_bound == pytest.approx(0.5, rel=1e-12)
    assert analyze(LF.huber_loss, delta=2.0).gradient_bound == pytest.approx(2.0, rel=1e-12)
    assert analyze(losscraft.get("l1")).name == "mae"  # LossEntry via an alias
    assert analyze(losscraft.HuberLoss, delta=1.5).gradient_bound == pytest.approx(1.5, rel=1e-12)  # a class


# --------------------------------------------------------------------------- errors
def test_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(LosscraftError, match=r"analyze: unknown loss 'hubber'; did you mean 'huber'"):
        analyze("hubber")
    with pytest.raises(ValueError, match="curve_data: unknown loss"):
        curve_data("msee")


def test_bad_hyperparameters() -> None:
    with pytest.raises(LosscraftError, match=r"huber_loss: 'delta' must be a float in \(0, inf\), got 0.0"):
        analyze("huber", delta=0.0)
    with pytest.raises(
        LosscraftError, match=r"unknown hyperparameter 'dleta' for huber; did you mean 'delta'"
    ):
        analyze("huber", dleta=1.0)
    with pytest.raises(LosscraftError, match=r"unknown hyperparameter 'reduction' for huber"):
        analyze("huber", reduction="sum")
    with pytest.raises(LosscraftError, match=r"focal_loss: 'gamma' must be"):
        analyze(losscraft.FocalLoss(), gamma=-1.0)


def test_bad_loss_argument() -> None:
    with pytest.raises(LosscraftError, match=r"analyze: 'loss' must be a registry name.*got float"):
        analyze(3.14)
    with pytest.raises(LosscraftError, match=r"analyze: 'loss' must be"):
        analyze(losscraft.MSELoss() + losscraft.MAELoss())
    with pytest.raises(LosscraftError, match=r"curve_data: 'n' must be an int >= 2, got 1"):
        curve_data("mse", n=1)
    with pytest.raises(LosscraftError, match=r"curve_data: 'domain' must satisfy lo < hi"):
        curve_data("mse", domain=(1.0, -1.0))


# --------------------------------------------------------------------------- report
def test_report_is_json_serialisable_and_renders_a_table() -> None:
    r = _cached("huber")
    d = json.loads(json.dumps(r.to_dict(include_data=True)))
    assert d["name"] == "huber" and d["gradient_bound"] == 1.0
    assert d["properties"] == sorted(str(p) for p in r.properties)
    assert d["mismatches"] == {"declared_not_measured": [], "measured_not_declared": []}
    assert len(d["data"][0]["x"]) == len(d["data"][0]["loss"]) == len(d["data"][0]["grad"])
    text = r.table()
    assert text.splitlines()[0].startswith("huber(delta=1.0)")
    for label in ("loss growth", "gradient growth", "bounded gradient", "smoothness", "convex"):
        assert label in text
    # several curves: one column each
    asl = analyze("asl")
    assert asl.curves == ("positive", "negative")
    assert "positive" in asl.table().splitlines()[1] and "negative" in asl.table().splitlines()[1]
    json.dumps(asl.to_dict())


def test_curve_data_custom_domain() -> None:
    (d,) = curve_data("mse", n=5, domain=(-1.0, 1.0))
    assert d.x.tolist() == [-1.0, -0.5, 0.0, 0.5, 1.0]
    # clipped to the curve's extent: probabilities stay in (0, 1]
    (b,) = curve_data("bce", n=3, domain=(-5.0, 1.0))
    assert b.x.tolist() == [0.0, 0.5, 1.0]
