"""fit_predict(): one model, one loss, one fold; checked against closed forms and for determinism."""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor, nn

import losscraft
from losscraft._core.errors import LosscraftError
from losscraft.guide.metrics import Prediction
from losscraft.guide.training import FitResult, fit_predict, standardise, target_scale


class _IdentityHead:
    """A regression head written here, independent of guide.models: one output, no transform."""

    n_outputs = 1
    kind = "regression"

    def target(self, y: Any) -> Tensor:
        return torch.as_tensor(np.asarray(y, dtype=np.float64), dtype=torch.float32)

    def train_args(self, outputs: Tensor, target: Tensor) -> tuple[Tensor, ...]:
        return outputs.squeeze(-1), target

    def predict(self, outputs: Tensor, y_true: Any) -> Prediction:
        return Prediction("regression", np.asarray(y_true), point=outputs.squeeze(-1).double().numpy())


def _linear(n_features: int, n_outputs: int) -> nn.Module:
    return nn.Linear(n_features, n_outputs)


def _data(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)) * np.array([1.0, 10.0, 0.1, 3.0]) + 5.0
    w = np.array([1.0, -0.2, 5.0, 0.5])
    return X, X @ w + 50.0 + 0.5 * rng.normal(size=n), w


def _fit(**kw: Any) -> FitResult:
    X, y, _ = _data()
    args: dict[str, Any] = {"epochs": 300, "seed": 0}
    args.update(kw)
    return fit_predict(
        losscraft.MSELoss(), _IdentityHead(), _linear, X[:300], y[:300], X[300:], y[300:], **args
    )


def test_mse_fit_matches_least_squares() -> None:
    # Reference: the least-squares solution of the same training rows (numpy's lstsq).
    X, y, _ = _data()
    A = np.column_stack([X[:300], np.ones(300)])
    coef, *_ = np.linalg.lstsq(A, y[:300], rcond=None)
    ols = np.column_stack([X[300:], np.ones(100)]) @ coef
    r = _fit()
    pred = r.prediction.point
    assert pred is not None
    rmse_ols = float(np.sqrt(np.mean((ols - y[300:]) ** 2)))
    rmse = float(np.sqrt(np.mean((pred - y[300:]) ** 2)))
    assert rmse == pytest.approx(rmse_ols, rel=0.1)
    assert np.max(np.abs(pred - ols)) < 0.5  # noise sd is 0.5; the target's mean is 50
    assert np.array_equal(r.prediction.y_true, y[300:])


def test_early_stopping_keeps_the_best_validation_step() -> None:
    r = _fit(patience=5)
    assert r.stopped in ("early", "budget")
    assert r.epochs_run == len(r.history) == len(r.val_history) <= 300
    assert r.best_epoch == int(np.argmin(r.val_history))
    if r.stopped == "early":
        assert r.epochs_run - 1 - r.best_epoch == 5
    assert r.n_fit + r.n_val == 300 and r.n_val == 60


def test_same_seed_same_numbers_and_global_state_untouched() -> None:
    torch.manual_seed(123)
    before = torch.get_rng_state()
    threads = torch.get_num_threads()
    a = _fit(epochs=40)
    b = _fit(epochs=40)
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.get_num_threads() == threads
    assert a.history == b.history and a.val_history == b.val_history
    assert a.prediction.point is not None and b.prediction.point is not None
    assert np.array_equal(a.prediction.point, b.prediction.point)
    c = _fit(epochs=40, seed=1)
    assert c.history != a.history


def test_caller_loss_module_is_not_trained() -> None:
    loss = losscraft.AdaptiveBarronLoss()
    state = {k: v.clone() for k, v in loss.state_dict().items()}
    X, y, _ = _data()
    fit_predict(loss, _IdentityHead(), _linear, X[:300], y[:300], X[300:], y[300:], epochs=20)
    for k, v in loss.state_dict().items():
        assert torch.equal(v, state[k])


def test_standardise_uses_training_statistics() -> None:
    train = np.array([[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]])
    test = np.array([[3.0, 7.0]])
    a, b = standardise(train, test)
    assert np.allclose(a[:, 0], [-math.sqrt(1.5), 0.0, math.sqrt(1.5)])  # mean 3, population sd sqrt(8/3)
    assert np.allclose(a[:, 1], 0.0)  # a constant column is centred only
    assert np.allclose(b, [[0.0, 2.0]])


def test_target_scale_is_median_and_mad() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0, 100.0])
    loc, scale = target_scale(_IdentityHead(), y) or ([], [])
    assert loc == [3.0]
    assert scale == [pytest.approx(1.4826 * 1.0)]  # median |y - 3| = 1


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"epochs": 0}, "epochs"),
        ({"patience": 0}, "patience"),
        ({"val_fraction": 1.0}, "val_fraction"),
    ],
)
def test_bad_settings(kw: dict[str, Any], match: str) -> None:
    with pytest.raises(LosscraftError, match=match):
        _fit(**kw)


def test_mismatched_rows() -> None:
    X, y, _ = _data()
    with pytest.raises(LosscraftError, match="training rows"):
        fit_predict(losscraft.MSELoss(), _IdentityHead(), _linear, X[:300], y[:299], X[300:], y[300:])


def test_factory_receives_sizes() -> None:
    seen: list[tuple[int, int]] = []

    def factory(n_features: int, n_outputs: int) -> nn.Module:
        seen.append((n_features, n_outputs))
        return nn.Linear(n_features, n_outputs)

    X, y, _ = _data()
    fit_predict(
        losscraft.MSELoss(),
        _IdentityHead(),
        functools.partial(factory),
        X[:300],
        y[:300],
        X[300:],
        y[300:],
        epochs=5,
    )
    assert seen == [(4, 1)]


def test_small_fits_run_on_one_thread_and_restore_the_setting() -> None:
    import torch

    from losscraft.guide import training

    seen: list[int] = []
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        with training._threads_for(10):
            seen.append(torch.get_num_threads())
        with training._threads_for(training.SMALL_WORK):
            seen.append(torch.get_num_threads())
        seen.append(torch.get_num_threads())
    finally:
        torch.set_num_threads(before)
    assert seen == [1, 2, 2]
