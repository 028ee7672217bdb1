"""Stress tests of compare: parsing, training-fold-only corruption, fractions, ratios, determinism."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from losscraft._core.errors import LosscraftError
from losscraft.guide.stress import (
    MIN_PER_CLASS,
    OUTLIER_SHIFT,
    Contamination,
    Imbalance,
    apply,
    parse_contaminate,
    parse_imbalance,
)

REG = "regression"
BIN = "binary_classification"
MULTI = "multiclass_classification"
MULTILABEL = "multilabel_classification"


def _split(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[: int(0.8 * n)]), np.sort(perm[int(0.8 * n) :])


def _run(
    y: np.ndarray, idx: np.ndarray, task: str, seed: int = 0, **kw: Any
) -> tuple[np.ndarray, np.ndarray]:
    kw.setdefault("contaminate", None)
    kw.setdefault("imbalance", None)
    return apply(idx, y, task=task, rng=np.random.default_rng(seed), **kw)


# --------------------------------------------------------------------------- parsing
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("outliers:0.1", Contamination("outliers", 0.1)),
        ("label-noise:0.2", Contamination("label-noise", 0.2)),
        (" Label_Noise : 0.25 ", Contamination("label-noise", 0.25)),
        (None, None),
    ],
)
def test_parse_contaminate(text: str | None, expected: Contamination | None) -> None:
    assert parse_contaminate(text) == expected


def test_parse_contaminate_str_round_trip() -> None:
    c = parse_contaminate("outliers:0.1")
    assert c is not None and parse_contaminate(str(c)) == c


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("outliers:1.5", r"must be in \(0, 1\), got 1\.5"),
        ("outliers:0", r"must be in \(0, 1\)"),
        ("noise:0.1", "cannot read contaminate='noise:0.1'"),
        ("outliers", "cannot read contaminate"),
        ("outliers:abc", "cannot read the fraction"),
        ("abc", "cannot read contaminate"),
    ],
)
def test_parse_contaminate_errors_name_the_forms(text: str, match: str) -> None:
    with pytest.raises(LosscraftError, match=match) as err:
        parse_contaminate(text)
    assert "'outliers:F' or 'label-noise:F'" in str(err.value)


def test_parse_contaminate_rejects_non_strings() -> None:
    with pytest.raises(LosscraftError, match="must be a string"):
        parse_contaminate(0.1)  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "ratio"), [("1:20", 20.0), ("20:1", 20.0), ("2:5", 2.5), ("1:1", 1.0)])
def test_parse_imbalance(text: str, ratio: float) -> None:
    imb = parse_imbalance(text)
    assert imb is not None and imb.ratio == pytest.approx(ratio)
    assert str(imb) == text


@pytest.mark.parametrize("text", ["1:0", "abc", "1:2:3", "-1:20", "1:inf", "1:nan", "20"])
def test_parse_imbalance_errors(text: str) -> None:
    with pytest.raises(LosscraftError, match="'A:B' with positive numbers"):
        parse_imbalance(text)


def test_parse_passes_parsed_values_and_none_through() -> None:
    imb = Imbalance(5.0)
    assert parse_imbalance(imb) is imb and parse_imbalance(None) is None


# --------------------------------------------------------------------------- outliers
def test_outliers_touch_only_training_targets_by_the_fraction_upwards() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(3.0, 2.0, size=1000)
    y_before = y.copy()
    train, test = _split(len(y))
    idx, y_train = _run(y, train, REG, contaminate="outliers:0.1")
    np.testing.assert_array_equal(y, y_before)  # the caller's array (and so the test fold) untouched
    np.testing.assert_array_equal(idx, train)
    assert not set(idx) & set(test)
    changed = np.flatnonzero(y_train != y[train])
    assert abs(len(changed) - 0.1 * len(train)) <= 1
    # One-sided and gross: 10 to 20 robust scales up. Scale from the textbook MAD of the fold.
    base = y[train]
    mad_sd = 1.4826 * np.median(np.abs(base - np.median(base)))
    shift = y_train[changed] - base[changed]
    assert np.all(shift >= OUTLIER_SHIFT * mad_sd - 1e-9)
    assert np.all(shift <= 2 * OUTLIER_SHIFT * mad_sd + 1e-9)
    assert mad_sd == pytest.approx(2.0, rel=0.15)  # the MAD estimates the normal's sd


def test_outliers_fall_back_to_the_standard_deviation_when_the_mad_is_zero() -> None:
    y = np.zeros(100)
    y[:10] = 1.0  # median 0, MAD 0; sd = 0.3
    _, y_train = _run(y, np.arange(100), REG, contaminate="outliers:0.2")
    shift = (y_train - y)[y_train != y]
    assert len(shift) == 20
    assert shift.min() >= OUTLIER_SHIFT * 0.3 - 1e-9 and shift.max() <= 2 * OUTLIER_SHIFT * 0.3 + 1e-9


def test_count_outliers_stay_integers_and_proportions_stay_in_range() -> None:
    rng = np.random.default_rng(2)
    counts = rng.poisson(3.0, size=200).astype(float)
    _, y_c = _run(counts, np.arange(200), "count_regression", contaminate="outliers:0.1")
    np.testing.assert_array_equal(y_c, np.round(y_c))
    assert (y_c != counts).sum() == 20
    props = rng.uniform(0.2, 0.8, size=200)
    _, y_p = _run(props, np.arange(200), "proportion_regression", contaminate="outliers:0.1")
    assert y_p.max() <= 1.0 and (y_p == 1.0).sum() == 20


# --------------------------------------------------------------------------- label noise
def test_label_noise_flips_the_fraction_to_a_different_class_uniformly() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, size=20000)
    train, test = _split(len(y))
    y_before = y.copy()
    idx, y_train = _run(y, train, MULTI, contaminate="label-noise:0.3")
    np.testing.assert_array_equal(y, y_before)
    np.testing.assert_array_equal(idx, train)
    assert not set(idx) & set(test)
    changed = y_train != y[train]
    # Every hit label moves to another class: exactly round(0.3 n) labels differ.
    assert changed.sum() == round(0.3 * len(train))
    # Uniform over the *other* classes: from class 0, about half go to 1 and half to 2.
    from0 = y_train[changed & (y[train] == 0)]
    share = np.mean(from0 == 1)
    assert set(np.unique(from0)) == {1, 2}
    assert abs(share - 0.5) < 0.05  # sd of the share is about 0.015 here


def test_binary_label_noise_with_string_labels() -> None:
    y = np.array(["no"] * 60 + ["yes"] * 40)
    _, y_train = _run(y, np.arange(100), BIN, contaminate="label-noise:0.2")
    assert (y_train != y).sum() == 20
    assert set(y_train) <= {"no", "yes"}


def test_multilabel_label_noise_flips_that_fraction_of_entries() -> None:
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, size=(200, 5))
    _, y_train = _run(y, np.arange(200), MULTILABEL, contaminate="label-noise:0.1")
    assert (y_train != y).sum() == 100
    assert set(np.unique(y_train)) <= {0, 1}


# --------------------------------------------------------------------------- imbalance
def test_imbalance_1_to_20_binary() -> None:
    y = np.array([0] * 500 + [1] * 400)
    train = np.arange(0, 900, 1)[::-1]  # order kept, whatever it is
    idx, y_train = _run(y, train, BIN, imbalance="1:20")
    counts = np.bincount(y_train)
    assert counts[0] == 500  # the majority keeps every sample
    assert counts[1] == 25  # 500 / 20
    assert counts[0] / counts[1] == 20
    assert np.all(np.diff(idx) < 0)  # the caller's order
    assert set(idx) <= set(train)
    np.testing.assert_array_equal(y_train, y[idx])


def test_imbalance_ratio_within_rounding_and_minimum_per_class() -> None:
    rng = np.random.default_rng(5)
    y = rng.choice(4, size=3000, p=[0.1, 0.4, 0.3, 0.2])
    train, test = _split(len(y))
    idx, y_train = _run(y, train, MULTI, imbalance="1:20")
    counts = np.bincount(y_train, minlength=4)
    major = int(np.argmax(np.bincount(y[train])))
    assert counts[major] == np.bincount(y[train])[major]
    for c in range(4):
        if c != major:
            assert abs(counts[major] / counts[c] - 20) <= 20 / counts[c]  # within one sample
    assert not set(idx) & set(test)
    # A ratio beyond the data still leaves MIN_PER_CLASS samples of each class.
    _, y_small = _run(y, train, MULTI, imbalance="1:100000")
    assert np.bincount(y_small).min() == MIN_PER_CLASS


def test_imbalance_then_label_noise_counts_the_kept_samples() -> None:
    y = np.array([0] * 400 + [1] * 400)
    idx, y_train = _run(y, np.arange(800), BIN, imbalance="1:4", contaminate="label-noise:0.1")
    assert len(idx) == 500
    assert (y_train != y[idx]).sum() == 50


# --------------------------------------------------------------------------- determinism and errors
@pytest.mark.parametrize(
    ("task", "kw"),
    [
        (REG, {"contaminate": "outliers:0.1"}),
        (MULTI, {"contaminate": "label-noise:0.2", "imbalance": "1:5"}),
    ],
)
def test_same_seed_same_result_other_seed_differs(task: str, kw: dict[str, Any]) -> None:
    rng = np.random.default_rng(6)
    y = rng.normal(size=500) if task == REG else rng.integers(0, 3, size=500)
    train, _ = _split(500)
    a = _run(y, train, task, seed=7, **kw)
    b = _run(y, train, task, seed=7, **kw)
    c = _run(y, train, task, seed=8, **kw)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not (np.array_equal(a[0], c[0]) and np.array_equal(a[1], c[1]))


def test_no_stress_returns_a_copy_of_the_fold() -> None:
    y = np.arange(10.0)
    idx, y_train = _run(y, np.array([1, 3, 5]), REG)
    np.testing.assert_array_equal(idx, [1, 3, 5])
    np.testing.assert_array_equal(y_train, [1.0, 3.0, 5.0])
    y_train[0] = 99.0
    assert y[1] == 1.0


@pytest.mark.parametrize(
    ("task", "kw", "match"),
    [
        (BIN, {"contaminate": "outliers:0.1"}, "takes 'label-noise:F' instead"),
        (REG, {"contaminate": "label-noise:0.1"}, "takes 'outliers:F' instead"),
        (REG, {"imbalance": "1:20"}, "needs a binary, multiclass or ordinal task"),
        (MULTILABEL, {"imbalance": "1:20"}, "needs a binary, multiclass or ordinal task"),
        (REG, {"contaminate": "noise:0.1"}, "cannot read contaminate"),
        (BIN, {"imbalance": "abc"}, "cannot read imbalance"),
    ],
)
def test_stress_that_does_not_apply_to_the_task(task: str, kw: dict[str, Any], match: str) -> None:
    y = np.zeros((10, 2)) if task == MULTILABEL else np.array([0, 1] * 5)
    with pytest.raises(LosscraftError, match=match):
        _run(y, np.arange(10), task, **kw)


def test_single_class_cannot_be_imbalanced_or_flipped() -> None:
    y = np.zeros(10, dtype=int)
    with pytest.raises(LosscraftError, match="at least two classes"):
        _run(y, np.arange(10), BIN, imbalance="1:2")
    with pytest.raises(LosscraftError, match="at least two classes"):
        _run(y, np.arange(10), BIN, contaminate="label-noise:0.2")
