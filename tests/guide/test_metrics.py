"""Test-fold metrics against hand computations, closed forms and scikit-learn's own functions.

ECE is checked against a 5-sample example worked out by hand below (15 right-closed bins),
including a confidence on a bin edge, where a floor-based (left-closed) binning gives another value.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from losscraft._core.errors import LosscraftError
from losscraft.guide.metrics import (
    METRICS,
    Prediction,
    compute,
    default_metric,
    expected_calibration_error,
    metrics_for,
)

skm = pytest.importorskip("sklearn.metrics")
stats = pytest.importorskip("scipy.stats")

# --------------------------------------------------------------------------- ECE by hand
# Five samples, three classes; conf = max prob, bins ((k-1)/15, k/15], index k-1.
#   1. [0.90, 0.05, 0.05] y=0: conf 0.90, correct; 0.90*15 = 13.5  -> bin 13
#   2. [0.10, 0.80, 0.10] y=1: conf 0.80, correct; 0.80*15 = 12.0  -> bin 11 (right edge 12/15)
#   3. [0.20, 0.70, 0.10] y=0: conf 0.70, wrong;   0.70*15 = 10.5  -> bin 10
#   4. [0.10, 0.10, 0.80] y=0: conf 0.80, wrong;   edge again      -> bin 11
#   5. [0.85, 0.10, 0.05] y=0: conf 0.85, correct; 0.85*15 = 12.75 -> bin 12
# bin 13: n=1, acc 1,   conf 0.90: 1/5 * 0.10 = 0.02
# bin 11: n=2, acc 1/2, conf 0.80: 2/5 * 0.30 = 0.12
# bin 10: n=1, acc 0,   conf 0.70: 1/5 * 0.70 = 0.14
# bin 12: n=1, acc 1,   conf 0.85: 1/5 * 0.15 = 0.03
# ECE = 0.02 + 0.12 + 0.14 + 0.03 = 0.31
# Left-closed bins [k/15, (k+1)/15) would put samples 2, 4, 5 together in bin 12:
#   acc 2/3, conf (0.8 + 0.8 + 0.85)/3 = 0.81667: 3/5 * 0.15 = 0.09; ECE = 0.02 + 0.14 + 0.09 = 0.25
ECE_PROBA = np.array(
    [
        [0.90, 0.05, 0.05],
        [0.10, 0.80, 0.10],
        [0.20, 0.70, 0.10],
        [0.10, 0.10, 0.80],
        [0.85, 0.10, 0.05],
    ]
)
ECE_Y = np.array([0, 1, 0, 0, 0])


def test_ece_hand_example() -> None:
    assert expected_calibration_error(ECE_PROBA, ECE_Y) == pytest.approx(0.31, abs=1e-12)


def test_ece_example_separates_right_closed_from_floor_binning() -> None:
    # the floor binning, written out here, gives the hand value 0.25 for left-closed bins
    conf = ECE_PROBA.max(axis=1)
    correct = ECE_PROBA.argmax(axis=1) == ECE_Y
    b = np.minimum(np.floor(conf * 15).astype(int), 14)
    floor_ece = sum(
        (b == k).mean() * abs(correct[b == k].mean() - conf[b == k].mean())
        for k in range(15)
        if (b == k).any()
    )
    assert floor_ece == pytest.approx(0.25, abs=1e-12)
    assert expected_calibration_error(ECE_PROBA, ECE_Y) != pytest.approx(floor_ece, abs=1e-6)


def test_ece_binary_vector_input() -> None:
    # p = P(y=1): 0.9 (pred 1, y 1, conf 0.9, bin 13), 0.3 (pred 0, y 0, conf 0.7, bin 10),
    # 0.5 (tie -> pred 0, y 1, wrong, conf 0.5, bin 7): ECE = (0.1 + 0.3 + 0.5) / 3 = 0.3
    assert expected_calibration_error(np.array([0.9, 0.3, 0.5]), np.array([1, 0, 1])) == pytest.approx(0.3)


def test_ece_bins_matter_and_perfect_calibration_is_zero() -> None:
    # all confidences 0.75 with 3 of 4 correct: calibrated, ECE 0
    proba = np.array([[0.75, 0.25]] * 4)
    assert expected_calibration_error(proba, np.array([0, 0, 0, 1])) == pytest.approx(0.0, abs=1e-15)
    # conf 0.6 correct (gap 0.4) and conf 0.9 wrong (gap 0.9):
    # 15 bins keep them apart: (0.4 + 0.9) / 2 = 0.65; one bin: |1/2 - 0.75| = 0.25
    proba2 = np.array([[0.6, 0.4], [0.9, 0.1]])
    y2 = np.array([0, 1])
    assert expected_calibration_error(proba2, y2) == pytest.approx(0.65)
    assert expected_calibration_error(proba2, y2, n_bins=1) == pytest.approx(0.25)


def test_ece_rejects_bad_input() -> None:
    with pytest.raises(LosscraftError, match="n_bins"):
        expected_calibration_error(ECE_PROBA, ECE_Y, n_bins=0)
    with pytest.raises(LosscraftError, match="must be"):
        expected_calibration_error(ECE_PROBA, ECE_Y[:3])


def test_ece_through_compute_with_string_labels() -> None:
    labels = ("a", "b", "c")
    y = np.array([labels[i] for i in ECE_Y])
    pred = Prediction("multiclass", y, proba=ECE_PROBA, classes=labels)
    assert compute(pred, ["ece"])["ece"] == pytest.approx(0.31, abs=1e-12)


# --------------------------------------------------------------------------- regression
Y_REG = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
P_REG = np.array([1.5, 2.0, 2.0, 5.0, 4.0])


def test_regression_metrics_closed_forms() -> None:
    out = compute(Prediction("regression", Y_REG, point=P_REG))
    assert set(out) == {"mae", "rmse", "median_ae"}
    # |r| = 0.5, 0, 1, 1, 6
    assert out["mae"] == pytest.approx(8.5 / 5)
    assert out["rmse"] == pytest.approx(math.sqrt((0.25 + 0 + 1 + 1 + 36) / 5))
    assert out["median_ae"] == pytest.approx(1.0)


def test_quantile_metrics_by_hand() -> None:
    y = np.array([0.0, 1.0, 2.0, 3.0])
    q = np.array([[-1.0, 1.0], [0.0, 0.5], [1.0, 3.0], [3.5, 4.0]])
    levels = (0.1, 0.9)
    pred = Prediction("quantiles", y, quantiles=q, levels=levels)
    out = compute(pred)
    assert set(out) == {"mae", "rmse", "median_ae", "pinball", "coverage", "coverage_error", "width"}

    def rho(tau: float, r: np.ndarray) -> np.ndarray:
        return np.maximum(tau * r, (tau - 1) * r)

    expected = np.mean([rho(t, y - q[:, j]).mean() for j, t in enumerate(levels)])
    assert out["pinball"] == pytest.approx(expected)
    # inside [lo, hi]: rows 0 and 2 -> 0.5; nominal 0.8
    assert out["coverage"] == pytest.approx(0.5)
    assert out["coverage_error"] == pytest.approx(0.3)
    assert out["width"] == pytest.approx((2 + 0.5 + 2 + 0.5) / 4)
    # no 0.5 level: point = mean of the two quantiles
    assert out["mae"] == pytest.approx(np.mean(np.abs(y - q.mean(axis=1))))


def test_single_quantile_uses_median_and_one_sided_coverage() -> None:
    y = np.array([0.0, 1.0, 2.0, 3.0])
    q = np.array([[0.5], [0.5], [2.5], [2.5]])
    pred = Prediction("quantiles", y, quantiles=q, levels=(0.5,))
    assert "width" not in metrics_for(pred)
    out = compute(pred)
    # y <= q in rows 0 and 2, not in 1 and 3: 0.5, the nominal level
    assert out["coverage"] == pytest.approx(0.5)
    assert out["coverage_error"] == pytest.approx(0.0)
    assert out["mae"] == pytest.approx(np.mean(np.abs(y - q[:, 0])))
    with pytest.raises(LosscraftError, match="does not apply"):
        compute(pred, ["width"])


def test_gaussian_nll_matches_scipy() -> None:
    mu = np.array([0.0, 1.0, -2.0])
    var = np.array([1.0, 4.0, 0.25])
    y = np.array([0.3, -1.0, -2.0])
    out = compute(Prediction("gaussian", y, point=mu, variance=var))
    assert out["nll"] == pytest.approx(-np.mean(stats.norm.logpdf(y, mu, np.sqrt(var))))
    assert out["mae"] == pytest.approx(np.mean(np.abs(y - mu)))


# --------------------------------------------------------------------------- classification
def test_binary_metrics_match_hand_and_sklearn() -> None:
    y = np.array(["n", "p", "p", "n", "n", "n"])
    p = np.array([0.2, 0.7, 0.4, 0.6, 0.1, 0.3])  # P(y = "p")
    pred = Prediction("binary", y, proba=p, classes=("n", "p"))
    out = compute(pred)
    # predicted: n p n p n n -> correct 1 1 0 0 1 1
    assert out["accuracy"] == pytest.approx(4 / 6)
    # recall n = 3/4, recall p = 1/2
    assert out["balanced_accuracy"] == pytest.approx((0.75 + 0.5) / 2)
    assert out["minority_recall"] == pytest.approx(0.5)  # "p" has 2 of 6
    p_true = np.where(y == "p", p, 1 - p)
    assert out["log_loss"] == pytest.approx(-np.mean(np.log(p_true)))
    assert out["brier"] == pytest.approx(np.mean(((y == "p") - p) ** 2))
    # AUC: positives 0.7, 0.4 vs negatives 0.2, 0.6, 0.1, 0.3: pairs won 4 + 3 = 7 of 8
    assert out["roc_auc"] == pytest.approx(7 / 8)
    # F1: n: tp 3, fp 1, fn 1 -> 0.75; p: tp 1, fp 1, fn 1 -> 0.5
    assert out["macro_f1"] == pytest.approx(0.625)


def test_multiclass_brier_is_sum_over_classes_and_minority_is_least_frequent() -> None:
    y = np.array([0, 1, 2, 0, 0, 1])
    proba = np.array(
        [
            [0.7, 0.2, 0.1],
            [0.1, 0.8, 0.1],
            [0.3, 0.3, 0.4],
            [0.2, 0.5, 0.3],
            [0.6, 0.3, 0.1],
            [0.5, 0.4, 0.1],
        ]
    )
    out = compute(Prediction("multiclass", y, proba=proba))
    onehot = np.eye(3)[y]
    assert out["brier"] == pytest.approx(np.mean(np.sum((onehot - proba) ** 2, axis=1)))
    # class 2 (one sample) is the minority; it is predicted (0.4 is the max of row 2)
    assert out["minority_recall"] == pytest.approx(1.0)
    assert out["log_loss"] == pytest.approx(-np.mean(np.log(proba[np.arange(6), y])))
    assert out["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr", average="macro"))
    assert out["accuracy"] == pytest.approx(4 / 6)  # wrong: rows 3 (pred 1) and 5 (pred 0)


def test_minority_recall_changes_with_the_minority() -> None:
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    # y: class 1 minority (1 of 4), predicted right -> 1.0
    a = compute(Prediction("multiclass", np.array([0, 0, 1, 0]), proba=proba), ["minority_recall"])
    # y: class 0 minority (1 of 4: row 0), predicted right; class 1 has recall 1/3
    b = compute(Prediction("multiclass", np.array([0, 1, 1, 1]), proba=proba), ["minority_recall"])
    c = compute(Prediction("multiclass", np.array([1, 0, 0, 0]), proba=proba), ["minority_recall"])
    assert a["minority_recall"] == 1.0
    assert b["minority_recall"] == 1.0
    assert c["minority_recall"] == 0.0


def test_multilabel_metrics() -> None:
    y = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 0]])
    p = np.array([[0.8, 0.3, 0.1], [0.4, 0.6, 0.2], [0.3, 0.9, 0.1], [0.2, 0.1, 0.05]])
    out = compute(Prediction("multilabel", y, proba=p))
    assert set(out) == {"macro_f1", "map", "log_loss", "brier", "roc_auc"}
    # label 0: pred 1 0 0 0 vs 1 0 1 0 -> F1 2/3; label 1: pred 0 1 1 0 vs 0 1 1 0 -> 1;
    # label 2: no positives, none predicted -> 0 (zero_division)
    assert out["macro_f1"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    # AP over labels with a positive: label 0 scores 0.8, 0.4, 0.3, 0.2 with positives at 0.8, 0.3:
    # precision at the positives 1/1 and 2/3 -> 5/6; label 1 is ranked perfectly -> 1
    assert out["map"] == pytest.approx((5 / 6 + 1) / 2)
    bce = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert out["log_loss"] == pytest.approx(bce.mean())
    assert out["brier"] == pytest.approx(((y - p) ** 2).mean())


def test_undefined_metric_is_nan_not_an_error() -> None:
    pred = Prediction("binary", np.array([1, 1, 1]), proba=np.array([0.2, 0.7, 0.9]))
    assert math.isnan(compute(pred, ["roc_auc"])["roc_auc"])


# --------------------------------------------------------------------------- registry and validation
def test_metric_registry_directions() -> None:
    lower = {
        "mae",
        "rmse",
        "median_ae",
        "pinball",
        "coverage_error",
        "width",
        "nll",
        "log_loss",
        "brier",
        "ece",
    }
    higher = {"accuracy", "balanced_accuracy", "macro_f1", "minority_recall", "roc_auc", "map", "coverage"}
    assert {k for k, m in METRICS.items() if not m.higher_is_better} == lower
    assert {k for k, m in METRICS.items() if m.higher_is_better} == higher
    assert all(k == k.lower() == m.name for k, m in METRICS.items())
    assert {k for k, m in METRICS.items() if not m.ranks} == {"coverage", "width"}


def test_compute_rejects_unknown_and_misfit_metrics() -> None:
    pred = Prediction("regression", Y_REG, point=P_REG)
    with pytest.raises(LosscraftError, match="unknown metric 'nope'"):
        compute(pred, ["nope"])
    with pytest.raises(LosscraftError, match="does not apply to regression"):
        compute(pred, ["accuracy"])
    assert compute(pred, ["MAE"]) == {"mae": pytest.approx(1.7)}


def test_prediction_validation() -> None:
    with pytest.raises(LosscraftError, match="unknown kind"):
        Prediction("ranking", Y_REG)
    with pytest.raises(LosscraftError, match="needs 'point'"):
        Prediction("regression", Y_REG)
    with pytest.raises(LosscraftError, match="shape"):
        Prediction("regression", Y_REG, point=P_REG[:3])
    with pytest.raises(LosscraftError, match="levels"):
        Prediction("quantiles", Y_REG, quantiles=np.zeros((5, 2)), levels=(0.9, 0.1))
    with pytest.raises(LosscraftError, match="variance"):
        Prediction("gaussian", Y_REG, point=P_REG, variance=np.zeros(5))


@pytest.mark.parametrize(
    ("task", "goal", "metric"),
    [
        ("regression", "mean", "rmse"),
        ("regression", "median", "mae"),
        ("regression", "interval:0.9", "pinball"),
        ("quantile_regression", "quantile", "pinball"),
        ("count_regression", "mean", "rmse"),
        ("binary_classification", "calibrated-probabilities", "log_loss"),
        ("multiclass_classification", "rank", "roc_auc"),
        ("binary_classification", "recall-minority", "balanced_accuracy"),
        ("multilabel_classification", "rank", "map"),
        ("multilabel_classification", "recall-minority", "macro_f1"),
        ("ordinal_regression", "median", "mae"),
        ("ordinal_regression", "calibrated-probabilities", "log_loss"),
    ],
)
def test_default_metric(task: str, goal: str, metric: str) -> None:
    assert default_metric(task, goal) == metric
    assert metric in METRICS


def test_default_metric_errors() -> None:
    with pytest.raises(LosscraftError, match="does not fit"):
        default_metric("binary_classification", "mean")
    with pytest.raises(LosscraftError, match="no metrics for task"):
        default_metric("segmentation", "overlap")
