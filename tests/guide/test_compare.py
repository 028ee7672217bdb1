"""compare(): known winners on data built for them, what the fits saw, validation, reproducibility."""

from __future__ import annotations

import importlib
import json
import math
from typing import Any

import numpy as np
import pytest

import losscraft
from losscraft._core.errors import LosscraftError
from losscraft.guide.comparing import Comparison, compare, parse_candidate

training = importlib.import_module("losscraft.guide.training")

NOISE = 0.5


def _linear(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    y = X @ np.array([1.0, -2.0, 0.5, 0.0, 3.0]) + 10.0 + NOISE * rng.normal(size=n)
    return X, y


def _run(X: Any, y: Any, losses: Any, **kw: Any) -> Comparison:
    args: dict[str, Any] = {"folds": 3, "repeats": 1, "epochs": 200, "progress": False}
    args.update(kw)
    return compare(X, y, losses, **args)


@pytest.fixture(scope="module")
def outliers() -> Comparison:
    X, y = _linear()
    return _run(X, y, ["mse", "huber", "mae"], metric="mae", contaminate="outliers:0.2")


# --------------------------------------------------------------------------- known answers
def test_bounded_gradient_losses_beat_mse_under_one_sided_outliers(outliers: Comparison) -> None:
    r = outliers
    assert r.baseline == "mse" and r.metric == "mae"
    # Without contamination a fitted linear model's test MAE is about E|e| = sigma sqrt(2/pi).
    clean_mae = NOISE * math.sqrt(2.0 / math.pi)
    for name in ("huber", "mae"):
        m = r[name].metrics["mae"]
        assert m.folds_won is not None and m.folds_won >= 2  # most of the 3 folds
        assert m.mean < 1.3 * clean_mae
        # folds_won is what the per-fold values say
        base = r["mse"].metrics["mae"].per_fold
        assert m.folds_won == sum(c < b for c, b in zip(m.per_fold, base, strict=True))
    # MSE follows the outliers: its mean moves by about 0.2 * 10 * 1.5 robust scales.
    assert r["mse"].metrics["mae"].mean > 5 * clean_mae
    assert r.best().name in ("huber", "mae")
    assert any(v.startswith("huber beats mse on mae") for v in r.verdicts)


def test_class_weighting_beats_plain_bce_under_induced_imbalance() -> None:
    rng = np.random.default_rng(1)
    n = 600
    y = np.repeat([0, 1], n // 2)
    X = rng.normal(size=(n, 5)) + 0.9 * y[:, None]  # overlapping classes
    # imbalance="1:20" keeps class 0 (the first of two equal classes) and cuts class 1 to 1/20:
    # the priors are 20:1, so n_neg / n_pos = 20.
    r = _run(
        X,
        y,
        ["bce_with_logits", "bce_with_logits:pos_weight=20", "logit_adjusted:priors=20,1"],
        metric="balanced_accuracy",
        imbalance="1:20",
        epochs=100,
    )
    assert r.baseline == "bce_with_logits"
    base = r["bce_with_logits"].metrics["balanced_accuracy"]
    for name in r.results[1:]:
        m = name.metrics["balanced_accuracy"]
        assert m.folds_won == 3
        assert m.mean > base.mean + 0.05
    fd = r.folds[0]
    counts = np.bincount(fd.y_train, minlength=2)
    assert counts[0] == 200 and counts[1] == 10  # the stress test's subsample of a 400-row fold


def test_quantile_loss_reaches_nominal_coverage() -> None:
    X, y = _linear(300)
    r = _run(X, y, ["quantile:quantiles=0.05,0.95"], goal="interval:0.9", epochs=300)
    assert r.metric == "pinball"
    q = r["quantile"]
    assert q.kind == "quantiles"
    assert abs(q.metrics["coverage"].mean - 0.9) < 0.1
    # the [5%, 95%] interval of N(0, 0.5^2) noise is 2 * 1.645 * 0.5 wide
    assert q.metrics["width"].mean == pytest.approx(2 * 1.6449 * NOISE, rel=0.25)
    assert [row.name for row in r.results] == ["quantile", "mse"]  # the baseline always competes
    assert "mse has no pinball" in r.verdicts[0]


def test_losses_none_takes_recommendations_plus_baseline() -> None:
    rng = np.random.default_rng(2)
    n = 200
    y = np.repeat([0, 1, 2], [120, 60, 20])
    X = rng.normal(size=(n, 3)) + y[:, None]
    r = _run(X, y, None, task="multiclass_classification", epochs=10)
    assert r.recommendations is not None
    names = [rec.name for rec in r.recommendations]
    got = [row for row in r.results if row.source == "recommended"]
    assert [row.config for row in got] == [rec.config for rec in r.recommendations]
    assert len(got) == len(names) <= 3
    assert sum(row.name == r.baseline for row in r.results) == 1
    assert r.baseline == "cross_entropy" and r.metric == "log_loss"


def test_corruption_touches_training_rows_only(monkeypatch: pytest.MonkeyPatch) -> None:
    X, y = _linear()
    seen: list[dict[str, Any]] = []
    original = training.fit_predict

    def spy(loss: Any, head: Any, factory: Any, X_tr: Any, y_tr: Any, X_te: Any, y_te: Any, **kw: Any) -> Any:
        seen.append({"X_tr": X_tr, "y_tr": np.array(y_tr), "X_te": X_te, "y_te": np.array(y_te)})
        return original(loss, head, factory, X_tr, y_tr, X_te, y_te, **kw)

    monkeypatch.setattr(training, "fit_predict", spy)
    r = _run(X, y, ["mse", "mae"], epochs=5, contaminate="outliers:0.2")
    assert len(seen) == 2 * 3
    for call in seen:
        fold = next(f for f in r.folds if np.array_equal(call["X_te"], X[f.test_idx]))
        assert not set(fold.train_idx) & set(fold.test_idx)
        assert np.array_equal(call["y_te"], y[fold.test_idx])  # test targets untouched
        assert np.array_equal(call["X_tr"], X[fold.train_idx])
        shift = call["y_tr"] - y[fold.train_idx]
        hit = shift != 0
        assert hit.sum() == round(0.2 * len(fold.train_idx))  # exactly the stressed share
        assert np.all(shift[hit] > 0)  # one-sided
    # every loss saw the same corrupted training targets on the same fold
    assert np.array_equal(seen[0]["y_tr"], seen[3]["y_tr"])


# --------------------------------------------------------------------------- reproducibility
def test_same_seed_same_numbers_and_n_jobs_does_not_matter() -> None:
    X, y = _linear(120)
    kw: dict[str, Any] = {"folds": 2, "epochs": 15}
    a = _run(X, y, ["mse", "huber"], **kw).to_dict()
    b = _run(X, y, ["mse", "huber"], **kw).to_dict()
    c = _run(X, y, ["mse", "huber"], n_jobs=2, **kw).to_dict()
    a["settings"].pop("n_jobs")
    c["settings"].pop("n_jobs")
    b["settings"].pop("n_jobs")
    assert a == b == c
    d = _run(X, y, ["mse", "huber"], seed=1, **kw).to_dict()
    assert d["results"] != a["results"]


# --------------------------------------------------------------------------- the result object
def test_comparison_views(outliers: Comparison) -> None:
    r = outliers
    d = json.loads(json.dumps(r.to_dict()))
    assert d["baseline"] == "mse" and d["metric"] == "mae"
    assert [row["name"] for row in d["results"]] == ["mse", "huber", "mae"]
    assert len(d["results"][1]["metrics"]["mae"]["per_fold"]) == 3
    assert "Nadeau & Bengio" in d["test"]
    text = str(r)
    assert "mse [baseline]" in text and "huber beats mse" in text
    assert r.best("rmse").name in ("huber", "mae")
    with pytest.raises(LosscraftError, match="unknown metric"):
        r.best("nope")
    # the baseline's own row has no comparison
    assert r["mse"].metrics["mae"].p_value is None and r["mse"].metrics["mae"].folds_won is None
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(r)
    assert "huber" in console.export_text()


def test_baseline_is_added_and_too_few_folds_say_so() -> None:
    X, y = _linear(120)
    r = _run(X, y, ["huber:delta=0.5"], folds=2, epochs=10)
    assert [row.name for row in r.results] == ["huber", "mse"]
    assert r["mse"].source == "baseline"
    assert r["huber"].params == {"delta": 0.5}
    m = r["huber"].metrics["rmse"]
    assert m.p_value is None and "too few folds" in m.note


def test_progress_bar_runs() -> None:
    X, y = _linear(60)
    _run(X, y, ["mse"], folds=2, epochs=3, progress=True)


# --------------------------------------------------------------------------- candidates
def test_parse_candidate_forms() -> None:
    c = parse_candidate("huber")
    assert (c.name, c.params) == ("huber", {})
    c = parse_candidate("huber:delta=0.5")
    assert c.params == {"delta": 0.5} and c.loss.delta == 0.5
    c = parse_candidate("quantile:quantiles=0.05,0.95")
    assert c.params == {"quantiles": [0.05, 0.95]}
    c = parse_candidate({"name": "huber", "delta": 2.0})
    assert c.params == {"delta": 2.0}
    c = parse_candidate(losscraft.HuberLoss(delta=3.0))
    assert c.params == {"delta": 3.0} and c.config == {"name": "huber", "delta": 3.0, "reduction": "mean"}
    c = parse_candidate(0.5 * losscraft.BCEWithLogitsLoss() + 0.5 * losscraft.DiceLoss())
    assert c.name == "bce_with_logits+dice" and [s.name for s in c.specs] == ["bce_with_logits", "dice"]


@pytest.mark.parametrize(
    ("item", "match"),
    [
        ("hubr", "did you mean 'huber'"),
        ("huber:dleta=1", "no hyperparameter 'dleta'"),
        ("huber:delta=-1", "delta"),
        ("huber:", "nothing after"),
        (3, "a loss must be"),
    ],
)
def test_parse_candidate_errors(item: Any, match: str) -> None:
    with pytest.raises(LosscraftError, match=match):
        parse_candidate(item)


# --------------------------------------------------------------------------- validation before training
@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("training started before validation finished")

    monkeypatch.setattr(training, "fit_predict", fail)


def _bad_x() -> np.ndarray:
    X, _ = _linear(60)
    X[3, 1] = np.nan
    X[7, 2] = np.inf
    return X


@pytest.mark.usefixtures("no_training")
@pytest.mark.parametrize(
    ("case", "match"),
    [
        ("lengths", "has 59 rows but the target has 60"),
        ("nan_x", "'X' holds 2 NaN or inf values \\(in 2 rows: 3, 7\\)"),
        ("nan_y", "'y' holds 1 NaN or inf value"),
        ("unknown", "unknown loss 'hubr'.*did you mean 'huber'"),
        ("dice_regression", "loss 'dice' does not fit a regression target"),
        ("masks", "does not train segmentation/metric-learning models yet; recommend\\(\\) still works"),
        ("metric", "metric 'accuracy' does not score regression"),
        ("goal", "goal 'rank' does not apply to regression"),
        ("stress", "contaminate"),
        ("folds", "'folds' must be an int >= 2"),
    ],
)
def test_bad_input_fails_before_training(case: str, match: str) -> None:
    X, y = _linear(60)
    kw: dict[str, Any] = {"losses": ["mse"]}
    if case == "lengths":
        X = X[:59]
    elif case == "nan_x":
        X = _bad_x()
    elif case == "nan_y":
        y = y.copy()
        y[5] = np.nan
    elif case == "unknown":
        kw["losses"] = ["mse", "hubr"]
    elif case == "dice_regression":
        kw["losses"] = ["dice"]
    elif case == "masks":
        y = np.zeros((60, 8, 8), dtype=int)
        y[:, 2:5, 2:5] = 1
    elif case == "metric":
        kw["metric"] = "accuracy"
    elif case == "goal":
        kw["goal"] = "rank"
    elif case == "stress":
        kw["contaminate"] = "outliers:2"
    elif case == "folds":
        kw["folds"] = 1
    with pytest.raises(LosscraftError, match=match):
        compare(X, y, progress=False, **kw)


def test_a_metric_that_cannot_rank_is_refused_as_the_main_metric() -> None:
    import numpy as np

    import losscraft
    from losscraft._core.errors import LosscraftError

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    y = X[:, 0] + rng.normal(size=60)
    with pytest.raises(LosscraftError, match="cannot rank losses on its own"):
        losscraft.compare(
            X, y, ["quantile:quantiles=0.1,0.9"], metric="coverage", folds=2, repeats=1, progress=False
        )


def test_a_report_path_that_cannot_be_written_fails_before_training(tmp_path: Any, monkeypatch: Any) -> None:
    import numpy as np

    import losscraft
    from losscraft._core.errors import LosscraftError
    from losscraft.guide import training

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("training started")

    monkeypatch.setattr(training, "fit_predict", boom)
    blocker = tmp_path / "taken"
    blocker.write_text("a file")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    with pytest.raises(LosscraftError, match="cannot write the report"):
        losscraft.compare(X, X[:, 0], ["mse"], folds=2, repeats=1, report=blocker / "out", progress=False)


def test_name_only_losses_get_the_data_derived_settings() -> None:
    import numpy as np

    import losscraft
    from losscraft.guide.profiling import profile
    from losscraft.guide.recommending import data_settings, parse_goal

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] + 0.5 * rng.normal(size=300) > 1.2).astype(int)  # about 1:8
    c = losscraft.compare(
        X,
        y,
        ["logit_adjusted", "balanced_softmax", "cross_entropy"],
        folds=2,
        repeats=1,
        epochs=20,
        progress=False,
    )
    priors = np.bincount(y) / len(y)
    row = c["logit_adjusted"]
    assert row.params["priors"] == pytest.approx(priors.tolist())
    assert c["balanced_softmax"].params["class_counts"] == pytest.approx(np.bincount(y).tolist())
    assert c["cross_entropy"].params == {}  # re-weighting is a choice, never added

    # regression: a robust scale from the data unless the string sets it
    yr = X @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=300)
    r = losscraft.compare(X, yr, ["huber", "huber:delta=1.0"], folds=2, repeats=1, epochs=20, progress=False)
    expected = data_settings(losscraft.get("huber"), profile(yr, features=X), parse_goal("mean"))["delta"][0]
    deltas = sorted(row.params.get("delta", 1.0) for row in r.results if row.name.startswith("huber"))
    assert deltas == pytest.approx(sorted([1.0, expected]))


def test_backends_that_cannot_stream_give_the_same_numbers() -> None:
    # joblib's "multiprocessing" backend (like Ray's) has no generator output
    import numpy as np
    from joblib import parallel_config

    import losscraft

    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 2))
    y = X[:, 0] + 0.1 * rng.normal(size=80)
    kw: dict[str, Any] = {"folds": 2, "repeats": 1, "epochs": 15, "progress": False}
    plain = losscraft.compare(X, y, ["mse", "mae"], **kw).to_dict()["results"]
    with parallel_config(backend="multiprocessing"):
        other = losscraft.compare(X, y, ["mse", "mae"], n_jobs=2, **kw).to_dict()["results"]
    assert other == plain
