"""Models and loss heads of compare: sizes, loss arguments and predictions against closed forms."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

import losscraft
from losscraft._core.errors import LosscraftError
from losscraft.guide.models import HIDDEN_UNITS, Head, head_for, make_model
from losscraft.weighting import Weighted

REG = "regression"
BIN = "binary_classification"
MULTI = "multiclass_classification"
MULTILABEL = "multilabel_classification"
N, D = 32, 4


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _fit_step(
    loss: nn.Module, head: Head, y: np.ndarray
) -> tuple[torch.Tensor, tuple[torch.Tensor, ...], Any]:
    """One forward + backward with a real model; returns (outputs, loss args, prediction)."""
    model = make_model("mlp", D, head.n_outputs, seed=0).double()
    x = torch.randn(N, D, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    out = model(x)
    args = head.train_args(out, head.target(y, torch.float64))
    value = loss(*args)
    assert value.dim() == 0 and torch.isfinite(value)
    value.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(float(g.abs().sum()) > 0 for g in grads if g is not None)
    return out.detach(), args, head.predict(out, y)


_RNG = np.random.default_rng(0)
Y_REG = _RNG.normal(size=N)
Y_COUNT = _RNG.poisson(2.0, size=N).astype(float)
Y_BIN = np.array(["neg", "pos"] * (N // 2))
Y_MULTI = _RNG.integers(0, 3, size=N)
Y_ML = _RNG.integers(0, 2, size=(N, 5))


# --------------------------------------------------------------------------- make_model
def test_make_model_shapes_and_identical_init() -> None:
    lin = make_model("linear", 7, 3, seed=5)
    assert isinstance(lin, nn.Linear) and (lin.in_features, lin.out_features) == (7, 3)
    mlp = make_model("mlp", 7, 3, seed=5)
    assert isinstance(mlp, nn.Sequential)
    assert [type(m) for m in mlp] == [nn.Linear, nn.ReLU, nn.Linear]
    assert mlp[0].out_features == HIDDEN_UNITS and mlp[2].out_features == 3
    again = make_model("mlp", 7, 3, seed=5)
    other = make_model("mlp", 7, 3, seed=6)
    for a, b in zip(mlp.parameters(), again.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(mlp[0].weight, other[0].weight)


def test_make_model_leaves_the_global_rng_alone() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    make_model("mlp", 5, 2, seed=0)
    torch.testing.assert_close(torch.rand(3), expected, rtol=0, atol=0)


def test_make_model_factory_and_errors() -> None:
    net = make_model(lambda f, o: nn.Sequential(nn.Linear(f, 8), nn.Tanh(), nn.Linear(8, o)), 3, 2, seed=0)
    assert net(torch.randn(4, 3)).shape == (4, 2)
    with pytest.raises(LosscraftError, match="'linear', 'mlp' or a callable"):
        make_model("resnet", 3, 2, seed=0)
    with pytest.raises(LosscraftError, match="must return an nn.Module, got int"):
        make_model(lambda f, o: 3, 3, 2, seed=0)  # type: ignore[arg-type,return-value]
    with pytest.raises(LosscraftError, match="at least 1 feature"):
        make_model("linear", 0, 2, seed=0)


# --------------------------------------------------------------------------- regression
@pytest.mark.parametrize("name", ["mse", "mae", "huber", "log_cosh", "cauchy", "asymmetric_linear"])
def test_regression_losses_get_one_identity_output(name: str) -> None:
    loss = losscraft.build(name)
    head = head_for(loss, REG)
    assert (head.kind, head.n_outputs) == ("regression", 1)
    out, args, pred = _fit_step(loss, head, Y_REG)
    assert args[0].shape == (N,) and args[1].shape == (N,)
    np.testing.assert_allclose(pred.point, out[:, 0].numpy())


def test_mse_value_is_the_mean_squared_error_of_the_output() -> None:
    loss = losscraft.build("mse")
    out, args, _ = _fit_step(loss, head_for(loss, REG), Y_REG)
    assert float(loss(*args).detach()) == pytest.approx(np.mean((out[:, 0].numpy() - Y_REG) ** 2))


def test_poisson_log_rate_predicts_its_exponential() -> None:
    loss = losscraft.build("poisson_nll")
    head = head_for(loss, "count_regression")
    out, args, pred = _fit_step(loss, head, Y_COUNT)
    eta = out[:, 0].numpy()
    np.testing.assert_allclose(pred.point, np.exp(eta))
    # The loss sees the log-rate: mean(exp(eta) - y eta) (Nelder & Wedderburn's Poisson NLL).
    assert float(loss(*args).detach()) == pytest.approx(np.mean(np.exp(eta) - Y_COUNT * eta))


def test_poisson_rate_input_gets_a_positive_softplus_rate() -> None:
    loss = losscraft.build({"name": "poisson_nll", "log_input": False})
    head = head_for(loss, "count_regression")
    out, args, pred = _fit_step(loss, head, Y_COUNT)
    rate = np.log1p(np.exp(out[:, 0].numpy()))
    np.testing.assert_allclose(pred.point, rate)
    np.testing.assert_allclose(args[0].detach().numpy(), rate)


def test_msle_predictions_stay_above_minus_one() -> None:
    loss = losscraft.build("msle")
    head = head_for(loss, REG)
    y = np.abs(Y_REG)
    out, args, pred = _fit_step(loss, head, y)
    z = out[:, 0].numpy()
    np.testing.assert_allclose(pred.point, np.expm1(z))
    # log1p(-1 + e^z) = z: MSLE is the squared error between z and log1p(y).
    assert float(loss(*args).detach()) == pytest.approx(np.mean((z - np.log1p(y)) ** 2))


def test_quantile_levels_give_sorted_quantiles_and_the_median_point() -> None:
    loss = losscraft.build({"name": "quantile", "quantiles": [0.95, 0.05, 0.5]})
    head = head_for(loss, REG)
    assert (head.kind, head.n_outputs, head.levels) == ("quantiles", 3, (0.05, 0.5, 0.95))
    out, args, pred = _fit_step(loss, head, Y_REG)
    assert args[0].shape == (N, 3)
    # Pinball loss with the loss's own level order (Koenker & Bassett 1978).
    q = out.numpy()
    u = Y_REG[:, None] - q
    tau = np.array([0.95, 0.05, 0.5])
    assert float(loss(*args).detach()) == pytest.approx(np.mean(np.maximum(tau * u, (tau - 1) * u)))
    by_level = q[:, [1, 2, 0]]
    np.testing.assert_allclose(pred.quantiles, np.sort(by_level, axis=1))
    assert np.all(np.diff(pred.quantiles, axis=1) >= 0)
    np.testing.assert_allclose(pred.point, np.sort(by_level, axis=1)[:, 1])
    assert pred.levels == (0.05, 0.5, 0.95)


def test_quantile_interval_point_is_the_middle_and_crossings_are_sorted() -> None:
    head = head_for(losscraft.build({"name": "quantile", "quantiles": [0.05, 0.95]}), REG)
    crossing = torch.tensor([[2.0, 1.0], [0.0, 4.0]])
    pred = head.predict(crossing, np.zeros(2))
    np.testing.assert_allclose(pred.quantiles, [[1.0, 2.0], [0.0, 4.0]])
    np.testing.assert_allclose(pred.point, [1.5, 2.0])


def test_single_quantile_level_is_one_squeezed_output() -> None:
    loss = losscraft.build({"name": "quantile", "quantiles": 0.9})
    head = head_for(loss, REG)
    assert (head.kind, head.n_outputs, head.levels) == ("quantiles", 1, (0.9,))
    _, args, pred = _fit_step(loss, head, Y_REG)
    assert args[0].shape == (N,)
    assert pred.quantiles.shape == (N, 1)


def test_gaussian_nll_gets_a_mean_and_a_log_variance() -> None:
    loss = losscraft.build("gaussian_nll")
    head = head_for(loss, REG)
    assert (head.kind, head.n_outputs) == ("gaussian", 2)
    out, args, pred = _fit_step(loss, head, Y_REG)
    assert len(args) == 3
    mu, s = out[:, 0].numpy(), out[:, 1].numpy()
    var = np.exp(s)
    np.testing.assert_allclose(pred.point, mu)
    np.testing.assert_allclose(pred.variance, var)
    # Nix & Weigend (1994): 0.5 (log var + (mu - y)^2 / var).
    assert float(loss(*args).detach()) == pytest.approx(
        np.mean(0.5 * (np.log(var) + (mu - Y_REG) ** 2 / var))
    )


def test_proportion_with_bce_with_logits_predicts_a_sigmoid() -> None:
    loss = losscraft.build("bce_with_logits")
    head = head_for(loss, "proportion_regression")
    out, _, pred = _fit_step(loss, head, _sigmoid(Y_REG))
    np.testing.assert_allclose(pred.point, _sigmoid(out[:, 0].numpy()))


# --------------------------------------------------------------------------- classification
@pytest.mark.parametrize("name", ["bce_with_logits", "binary_focal", "asl"])
def test_binary_logit_losses_get_one_logit_and_float_targets(name: str) -> None:
    loss = losscraft.build(name)
    head = head_for(loss, BIN, classes=("neg", "pos"))
    assert (head.kind, head.n_outputs) == ("binary", 1)
    out, args, pred = _fit_step(loss, head, Y_BIN)
    assert args[0].shape == (N,) and args[1].dtype == torch.float64
    np.testing.assert_array_equal(args[1].numpy(), (Y_BIN == "pos").astype(float))
    np.testing.assert_allclose(pred.proba, _sigmoid(out[:, 0].numpy()))
    assert pred.classes == ("neg", "pos")


def test_bce_with_logits_value() -> None:
    loss = losscraft.build("bce_with_logits")
    out, args, _ = _fit_step(loss, head_for(loss, BIN, classes=("neg", "pos")), Y_BIN)
    p, t = _sigmoid(out[:, 0].numpy()), (Y_BIN == "pos").astype(float)
    assert float(loss(*args).detach()) == pytest.approx(-np.mean(t * np.log(p) + (1 - t) * np.log(1 - p)))


def test_probability_input_bce_gets_a_sigmoid_before_the_loss() -> None:
    loss = losscraft.build("bce")
    head = head_for(loss, BIN, classes=("neg", "pos"))
    assert (head.n_outputs, head.input_link) == (1, "sigmoid")
    out, args, pred = _fit_step(loss, head, Y_BIN)
    p, t = _sigmoid(out[:, 0].numpy()), (Y_BIN == "pos").astype(float)
    np.testing.assert_allclose(args[0].detach().numpy(), p)
    assert float(loss(*args).detach()) == pytest.approx(-np.mean(t * np.log(p) + (1 - t) * np.log(1 - p)))
    np.testing.assert_allclose(pred.proba, p)


@pytest.mark.parametrize(
    "config",
    [
        {"name": "cross_entropy"},
        {"name": "balanced_softmax", "class_counts": [16.0, 16.0]},
        {"name": "logit_adjusted", "priors": [0.5, 0.5]},
        {"name": "focal"},
    ],
)
def test_binary_task_with_multiclass_losses_gets_two_logits(config: dict[str, Any]) -> None:
    loss = losscraft.build(config)
    head = head_for(loss, BIN, classes=("neg", "pos"))
    assert (head.kind, head.n_outputs, head.target_form) == ("binary", 2, "long")
    out, args, pred = _fit_step(loss, head, Y_BIN)
    assert args[0].shape == (N, 2) and args[1].dtype == torch.long
    np.testing.assert_allclose(pred.proba, _softmax(out.numpy())[:, 1])


def test_cross_entropy_value_is_the_negative_log_softmax() -> None:
    loss = losscraft.build("cross_entropy")
    head = head_for(loss, MULTI, n_classes=3)
    out, args, pred = _fit_step(loss, head, Y_MULTI)
    p = _softmax(out.numpy())
    assert float(loss(*args).detach()) == pytest.approx(-np.mean(np.log(p[np.arange(N), Y_MULTI])))
    np.testing.assert_allclose(pred.proba, p)
    assert pred.proba.shape == (N, 3)


@pytest.mark.parametrize("name", ["cross_entropy", "focal", "poly", "sce", "gce", "kl_div"])
def test_multiclass_losses_get_one_logit_per_class(name: str) -> None:
    loss = losscraft.build(name)
    head = head_for(loss, MULTI, classes=(0, 1, 2))
    assert (head.kind, head.n_outputs) == ("multiclass", 3)
    _, args, pred = _fit_step(loss, head, Y_MULTI)
    assert args[0].shape == (N, 3)
    if name == "kl_div":  # a distribution target: one-hot rows
        np.testing.assert_array_equal(args[1].numpy(), np.eye(3)[Y_MULTI])
    np.testing.assert_allclose(pred.proba.sum(axis=1), 1.0)


def test_multilabel_bce_with_logits_gets_one_logit_per_label() -> None:
    loss = losscraft.build("bce_with_logits")
    head = head_for(loss, MULTILABEL, n_classes=5)
    assert (head.kind, head.n_outputs) == ("multilabel", 5)
    out, args, pred = _fit_step(loss, head, Y_ML)
    assert args[0].shape == (N, 5) and args[1].shape == (N, 5) and args[1].is_floating_point()
    np.testing.assert_allclose(pred.proba, _sigmoid(out.numpy()))


def test_class_labels_are_encoded_in_classes_order() -> None:
    head = head_for("cross_entropy", MULTI, classes=("b", "c", "a"))
    np.testing.assert_array_equal(head.target(np.array(["a", "b", "c", "a"])).numpy(), [2, 0, 1, 2])
    with pytest.raises(LosscraftError, match="label 'z' is not one of the classes"):
        head.target(np.array(["a", "z"]))


# --------------------------------------------------------------------------- composites and others
def test_combination_uses_the_first_terms_head_when_forms_agree() -> None:
    loss = 0.5 * losscraft.build("bce_with_logits") + 0.5 * losscraft.build("binary_focal")
    head = head_for(loss, BIN, classes=(0, 1))
    assert (head.name, head.n_outputs) == ("bce_with_logits", 1)
    _fit_step(loss, head, np.array([0, 1] * (N // 2)))


@pytest.mark.parametrize(
    ("terms", "task", "bad"),
    [
        (("bce_with_logits", "bce"), BIN, "bce"),
        (("mse", {"name": "quantile", "quantiles": [0.1, 0.9]}), REG, "quantile"),
        (("cross_entropy", "bce_with_logits"), BIN, "bce_with_logits"),
    ],
)
def test_combination_of_different_forms_names_the_term(terms: tuple[Any, Any], task: str, bad: str) -> None:
    loss = losscraft.build(terms[0]) + losscraft.build(terms[1])
    with pytest.raises(LosscraftError, match=f"term '{bad}'"):
        head_for(loss, task, n_classes=2)


def test_wrapper_uses_its_inner_loss() -> None:
    loss = Weighted(losscraft.build({"name": "quantile", "quantiles": [0.1, 0.9]}))
    head = head_for(loss, REG)
    assert (head.kind, head.n_outputs) == ("quantiles", 2)
    _fit_step(loss, head, Y_REG)


@pytest.mark.parametrize(
    ("loss", "task", "kind", "n_out"),
    [(nn.MSELoss(), REG, "regression", 1), (nn.CrossEntropyLoss(), MULTI, "multiclass", 3)],
)
def test_modules_without_a_spec_get_the_tasks_plain_head(
    loss: nn.Module, task: str, kind: str, n_out: int
) -> None:
    head = head_for(loss, task, n_classes=3)
    assert (head.kind, head.n_outputs) == (kind, n_out)
    _fit_step(loss, head, Y_REG if task == REG else Y_MULTI)


@pytest.mark.parametrize(
    ("loss", "task", "match"),
    [
        ("mse", BIN, "does not fit task 'binary_classification'"),
        ("cross_entropy", REG, "does not fit task 'regression'"),
        ("cross_entropy", MULTILABEL, "multilabel needs a loss with 0/1 targets"),
        ("bce_with_logits", MULTI, "does not fit task 'multiclass_classification'"),
        ("arcface", MULTI, "not embedding or margin heads"),
        ("contrastive", REG, "not embedding or margin heads"),
        ("mse", "segmentation", "not one compare trains"),
    ],
)
def test_losses_that_do_not_fit_the_task(loss: str, task: str, match: str) -> None:
    with pytest.raises(LosscraftError, match=match):
        head_for(loss, task, n_classes=None if task == BIN else 3)


def test_class_count_is_needed_and_binary_has_two() -> None:
    with pytest.raises(LosscraftError, match="needs n_classes"):
        head_for("cross_entropy", MULTI)
    with pytest.raises(LosscraftError, match="binary task has 2 classes"):
        head_for("cross_entropy", BIN, n_classes=3)


def test_wrong_model_output_shape_is_reported() -> None:
    head = head_for("cross_entropy", MULTI, n_classes=3)
    with pytest.raises(LosscraftError, match=r"needs a model output of shape \(N, 3\), got \(4, 2\)"):
        head.train_args(torch.zeros(4, 2), torch.zeros(4, dtype=torch.long))
