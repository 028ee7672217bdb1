"""Profiles of synthetic data with known properties recover them within stated tolerances."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from losscraft._core.errors import LosscraftError
from losscraft._core.spec import Task
from losscraft.guide.profiling import Profile, profile

# the [guide] extra; imported here so that its import time is not charged to the first test
pytest.importorskip("sklearn.utils.multiclass")
pytest.importorskip("scipy.stats")


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _ols_outlier_fraction(x: np.ndarray, y: np.ndarray) -> float:
    """Share of |modified z| > 3.5 among least-squares residuals (what a naive pilot fit would see)."""
    a = np.c_[np.ones(len(x)), x]
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    r = y - a @ coef
    med = np.median(r)
    mad = np.median(np.abs(r - med))
    return float(np.mean(np.abs(0.6745 * (r - med) / mad) > 3.5))


# --------------------------------------------------------------------------- classification


def test_imbalance_1_to_50() -> None:
    y = _rng().permutation(np.r_[np.zeros(5000, int), np.ones(100, int)])
    p = profile(y)
    assert p.task == "binary_classification"
    assert "binary" in p.task_rule
    c = p.classes
    assert c is not None
    assert c.labels == (0, 1)
    assert c.counts == (5000, 100)
    assert c.imbalance_ratio == pytest.approx(50.0)
    assert c.minority_fraction == pytest.approx(1 / 51, rel=1e-6)
    assert c.priors == pytest.approx((50 / 51, 1 / 51))
    assert c.beta == pytest.approx(1 - 1 / np.sqrt(100 * 5000))
    e = (1 - c.beta ** np.array([5000, 100])) / (1 - c.beta)
    assert c.effective_numbers == pytest.approx(tuple(e))
    assert 0 < c.normalized_entropy < 0.2
    assert p.regression is None and p.masks is None and p.multilabel is None
    assert p.warnings == ()


def test_balanced_multiclass_entropy_one() -> None:
    y = np.repeat(np.arange(4), 50)
    p = profile(y)
    assert p.task == "multiclass_classification"
    assert p.classes is not None
    assert p.classes.imbalance_ratio == 1.0
    assert p.classes.normalized_entropy == pytest.approx(1.0)


def test_single_class_and_small_classes_warn() -> None:
    p = profile(np.zeros(30, dtype=int))
    assert any("single class" in w for w in p.warnings)
    y = np.r_[np.zeros(50, int), np.ones(50, int), np.full(3, 2)]
    p = profile(y)
    assert any("fewer than 5 samples" in w and "2 (3)" in w for w in p.warnings)


def test_label_noise_hint_tracks_injected_noise() -> None:
    rng = _rng(1)
    n = 1500
    y = rng.integers(0, 2, n)
    x = rng.normal(size=(n, 2)) * 0.5 + np.c_[y * 6.0, y * 6.0]  # well separated
    clean = profile(y, features=x)
    assert clean.label_noise is not None
    assert clean.label_noise < 0.03
    flip = rng.random(n) < 0.2
    noisy = np.where(flip, 1 - y, y)
    p = profile(noisy, features=x)
    assert p.label_noise == pytest.approx(0.2, abs=0.07)
    assert p.subsample is None


def test_one_hot_is_multiclass_and_soft_labels() -> None:
    lab = np.repeat(np.arange(3), [60, 30, 10])
    p = profile(np.eye(3)[lab])
    assert p.task == "multiclass_classification"
    assert "one-hot" in p.task_rule
    assert p.classes is not None and p.classes.counts == (60, 30, 10)
    soft = _rng().dirichlet(np.ones(4), size=200)
    p = profile(soft)
    assert p.task == "soft_label_classification"
    assert p.classes is not None and sum(p.classes.counts) == 200


def test_ordinal_looking_levels() -> None:
    y = _rng().choice([1, 2, 3, 4, 5], size=300, p=[0.1, 0.2, 0.4, 0.2, 0.1])
    p = profile(y)
    assert p.task == "ordinal_regression"
    assert p.classes is not None and p.classes.labels == (1, 2, 3, 4, 5)
    assert profile(y, task="multiclass_classification").task == "multiclass_classification"


# --------------------------------------------------------------------------- multilabel, masks


def test_multilabel_matrix() -> None:
    rng = _rng(2)
    rates = np.array([0.5, 0.2, 0.05])
    y = (rng.random((4000, 3)) < rates).astype(np.int64)
    y[0] = [1, 1, 0]  # make sure row sums vary
    p = profile(y)
    assert p.task == "multilabel_classification"
    m = p.multilabel
    assert m is not None
    assert m.n_labels == 3
    assert m.positive_rates == pytest.approx(tuple(rates), abs=0.02)
    assert m.cardinality == pytest.approx(rates.sum(), abs=0.03)
    assert m.density == pytest.approx(m.cardinality / 3)


def test_masks_with_one_percent_foreground() -> None:
    rng = _rng(3)
    masks = (rng.random((40, 32, 32)) < 0.01).astype(np.int64)
    masks[:10] = 0  # a quarter of the masks are empty
    p = profile(masks)
    assert p.task == "segmentation"
    k = p.masks
    assert k is not None
    assert k.n_classes == 2
    assert k.foreground_fraction[0] == pytest.approx(0.0075, abs=0.002)
    assert k.empty_share == pytest.approx(0.25, abs=0.03)
    assert k.volume_ratio is None


def test_one_hot_masks_and_volume_ratio() -> None:
    rng = _rng(4)
    lab = rng.choice(3, size=(8, 16, 16), p=[0.9, 0.09, 0.01])
    onehot = np.moveaxis(np.eye(3, dtype=np.int64)[lab], -1, 1)  # (N, C, H, W)
    p = profile(onehot)
    assert p.task == "segmentation"
    assert p.masks is not None
    assert p.masks.n_classes == 3
    assert p.masks.foreground_fraction == pytest.approx((0.09, 0.01), abs=0.01)
    assert p.masks.volume_ratio is not None and p.masks.volume_ratio > 4
    same = profile(lab)
    assert same.masks is not None
    assert same.masks.foreground_fraction == pytest.approx(p.masks.foreground_fraction)


# --------------------------------------------------------------------------- regression


def test_gross_one_sided_outliers() -> None:
    rng = _rng(5)
    y = rng.normal(size=2000)
    y[:200] += rng.uniform(15, 30, 200)  # 10% gross, all upward
    r = profile(y).regression
    assert r is not None
    assert 0.08 <= r.outlier_fraction <= 0.12
    assert r.one_sided
    assert r.residuals_from == "targets"
    assert r.robust_scale == pytest.approx(1.0, rel=0.25)
    clean = profile(rng.normal(size=2000)).regression
    assert clean is not None
    assert clean.outlier_fraction < 0.01
    assert not clean.one_sided


def test_leverage_outliers_found_by_ransac_not_ols() -> None:
    rng = _rng(6)
    n = 1000
    x = rng.normal(size=(n, 1))
    y = 2.0 * x[:, 0] + rng.normal(scale=0.5, size=n)
    x[:100] = rng.normal(10.0, 0.3, size=(100, 1))  # bad leverage points
    y[:100] = -20.0 + rng.normal(scale=0.5, size=100)
    assert _ols_outlier_fraction(x, y) < 0.02  # least squares masks them
    p = profile(y, features=x)
    r = p.regression
    assert r is not None
    assert r.residuals_from.startswith("RANSAC pilot fit")
    assert 0.08 <= r.outlier_fraction <= 0.12
    assert r.robust_scale == pytest.approx(0.5, rel=0.25)
    assert p.heteroscedasticity is not None and abs(p.heteroscedasticity) < 0.2


def test_heteroscedasticity_hint() -> None:
    rng = _rng(7)
    x = rng.uniform(0, 5, size=(1500, 1))
    y = 3.0 * x[:, 0] + rng.normal(size=1500) * (0.1 + x[:, 0])
    p = profile(y, features=x)
    assert p.heteroscedasticity is not None and p.heteroscedasticity > 0.3


@pytest.mark.parametrize(("df", "heavy"), [(3.0, True), (None, False)])
def test_heavy_tails(df: float | None, heavy: bool) -> None:
    rng = _rng(8)
    y = rng.standard_t(df, size=3000) if df else rng.normal(size=3000)
    r = profile(y).regression
    assert r is not None
    assert r.heavy_tails is heavy
    if not heavy:
        assert abs(r.excess_kurtosis) < 0.5 and abs(r.skewness) < 0.3


def test_poisson_counts() -> None:
    y = _rng(9).poisson(3.0, size=2000)
    p = profile(y)
    assert p.task == "count_regression"
    assert "Poisson" in p.task_rule
    r = p.regression
    assert r is not None
    assert r.nonnegative and r.integer_valued
    assert r.zero_share == pytest.approx(np.exp(-3.0), abs=0.02)


def test_few_count_like_levels_read_as_classes_say_how_to_mean_counts() -> None:
    # 9 levels, mostly zeros and fewer of each larger value: ambiguous; the rule names the override
    y = np.repeat([0, 1, 2, 3, 4, 5, 6, 7, 11], [1030, 351, 244, 176, 103, 57, 23, 15, 1])
    p = profile(y)
    assert p.task == "multiclass_classification"
    assert "pass task='count_regression' if they are counts: 52% zeros" in p.task_rule
    for counts in ([100, 300, 250, 350], [250, 250, 250, 250], [400, 100, 300, 200]):  # no count shape
        assert "count_regression" not in profile(np.repeat([0, 1, 2, 3], counts)).task_rule


def test_integer_valued_floats_rule() -> None:
    rng = _rng(10)
    y = rng.integers(0, 500, size=1000).astype(np.float64)  # many distinct integers, not count-like
    p = profile(y)
    assert p.task == "regression"
    assert "max(20, 0.05n)" in p.task_rule and "not count-like" in p.task_rule
    assert profile(y - 250).task == "regression"
    zero_inflated = np.where(rng.random(1000) < 0.3, 0.0, y)  # many distinct integers, 30% zeros
    assert profile(zero_inflated).task == "count_regression"
    large_counts = rng.poisson(60.0, size=2000).astype(np.float64)  # variance/mean ~ 1
    assert profile(large_counts).task == "count_regression"
    assert profile(np.repeat([1.0, 2.0, 3.0], 20)).task == "ordinal_regression"
    assert profile(np.repeat([0.0, 1.0, 2.0], 20)).task == "multiclass_classification"


def test_proportions() -> None:
    y = _rng(11).beta(2, 5, size=500)
    p = profile(y)
    assert p.task == "proportion_regression"
    assert p.regression is not None
    assert p.regression.minimum >= 0 and p.regression.maximum <= 1


def test_constant_target_warns() -> None:
    p = profile(np.full(10, 2.5))
    assert p.task == "regression"
    assert any("constant" in w for w in p.warnings)


def test_subsample_is_stated() -> None:
    rng = _rng(12)
    n = 20000
    x = rng.normal(size=(n, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=n)
    p = profile(y, features=x, max_rows=1000)
    assert p.subsample == 1000
    assert p.regression is not None
    assert p.regression.residuals_from == "RANSAC pilot fit on 1000 rows"
    assert any("subsample of 1000 of 20000" in w for w in p.warnings)
    assert p.regression.robust_scale == pytest.approx(1.0, rel=0.15)


# --------------------------------------------------------------------------- task override


def test_task_override() -> None:
    y = np.repeat(np.arange(3), 20)
    p = profile(y, task="regression")
    assert p.task == "regression" and p.task_rule == "given by task='regression'"
    assert p.regression is not None and p.classes is None
    assert profile(y, task=Task.MULTICLASS).task == "multiclass_classification"
    with pytest.raises(LosscraftError, match=r"unknown task 'banana'; valid tasks are .*regression"):
        profile(y, task="banana")
    with pytest.raises(LosscraftError, match="needs a 2-D 0/1 indicator matrix"):
        profile(y, task="multilabel_classification")


# --------------------------------------------------------------------------- inputs


def test_input_containers_agree() -> None:
    pd = pytest.importorskip("pandas")
    y = np.r_[np.zeros(40, int), np.ones(10, int)]
    ref = profile(y).to_dict()
    assert profile(torch.as_tensor(y)).to_dict() == ref
    assert profile(y.tolist()).to_dict() == ref
    assert profile(pd.Series(y)).to_dict() == ref
    assert profile(pd.DataFrame({"label": y})).to_dict() == ref
    assert profile(y.astype(bool)).to_dict() == ref

    class Duck:  # polars-like: only .to_numpy()
        def to_numpy(self) -> np.ndarray:
            return y

    assert profile(Duck()).to_dict() == ref
    assert profile(y[:, None]).to_dict() == ref  # a (N, 1) column
    t = torch.as_tensor(y, dtype=torch.bfloat16).requires_grad_()
    assert profile(t).to_dict() == ref
    nullable = profile(pd.Series([*y.tolist(), None], dtype="Int64"))
    assert nullable.n_invalid == 1 and nullable.classes == profile(y).classes
    x = np.linspace(0, 1, 50)
    assert profile(y, features=pd.DataFrame({"a": x, "b": -x})).label_noise is not None
    assert profile(y, features=torch.as_tensor(x)).label_noise is not None


def test_multi_column_dataframe_asks_for_a_column() -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": [1, 2, 3], "b": [4, 5, 6]})
    with pytest.raises(LosscraftError, match=r"'target' is a table with 2 columns .*df\['a'\]"):
        profile(df)


def test_output_is_plain_and_printable() -> None:
    rng = _rng(13)
    x = rng.normal(size=(300, 2))
    y = x[:, 0] + rng.normal(size=300)
    p = profile(y, features=x)
    d = p.to_dict()
    json.dumps(d, allow_nan=False)
    assert type(d["n"]) is int
    assert type(d["regression"]["median"]) is float
    assert type(d["regression"]["one_sided"]) is bool
    text = str(p)
    assert "regression" in text and "RANSAC" in text
    from rich.console import Console

    console = Console(record=True, width=100)
    console.print(p)
    assert "losscraft profile" in console.export_text()
    c = profile(np.r_[np.zeros(20, int), np.ones(5, int)])
    assert isinstance(c, Profile)
    assert type(c.classes.labels[0]) is int if c.classes else False
    json.dumps(c.to_dict(), allow_nan=False)


# --------------------------------------------------------------------------- malformed data


def test_nan_counted_and_warned() -> None:
    y = _rng(14).normal(size=100)
    y[[3, 7]] = np.nan
    y[9] = np.inf
    p = profile(y)
    assert p.n == 100 and p.n_invalid == 3
    assert any("3 of 100 targets are NaN or inf" in w and "3, 7, 9" in w for w in p.warnings)
    assert p.regression is not None and np.isfinite(p.regression.maximum)
    labels = np.r_[np.zeros(10), np.ones(10), [np.nan]]
    q = profile(labels)
    assert q.task == "binary_classification" and q.n_invalid == 1
    assert q.classes is not None and q.classes.counts == (10, 10)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (["1", 2, "cat"], r"non-numeric value '1' at flat index 0"),
        (np.array(["a", "b"]), r"non-numeric value 'a'"),
        ([1.0, 2.0, "x"], r"'target' must be numeric"),
        ([], r"'target' is empty"),
        (np.zeros((0, 3)), r"'target' is empty"),
        ([1.0], r"'target' has 1 sample"),
        (3.0, r"got a scalar"),
        ([[1.5, 2.0], [3.5]], r"ragged"),  # integer ones are label sequences (CTC)
        ("abc", r"got a string"),
        (None, r"'target' is None"),
        ([np.nan, np.nan], r"all 2 targets are NaN or inf"),
    ],
)
def test_malformed_targets_raise_clearly(target: object, message: str) -> None:
    with pytest.raises(LosscraftError, match=message):
        profile(target)


def test_string_labels_in_series_name_the_value() -> None:
    pd = pytest.importorskip("pandas")
    with pytest.raises(LosscraftError, match=r"non-numeric value 'dog'"):
        profile(pd.Series([1, 2, "dog"]))


def test_mismatched_features_length() -> None:
    with pytest.raises(LosscraftError, match=r"'features' has 3 rows but the target has 4 samples"):
        profile([0, 1, 0, 1], features=np.zeros((3, 2)))
    with pytest.raises(LosscraftError, match=r"'features' must be numeric"):
        profile([0, 1, 0, 1], features=[["a"], ["b"], ["c"], ["d"]])


def test_nan_features_rows_left_out() -> None:
    rng = _rng(15)
    x = rng.normal(size=(200, 2))
    y = x[:, 0] + 0.1 * rng.normal(size=200)
    x[:5, 1] = np.nan
    p = profile(y, features=x)
    assert any("5 rows have NaN or inf features" in w for w in p.warnings)
    assert p.regression is not None and p.regression.residuals_from.startswith("RANSAC")


# ---------------------------------------------------------------------------------------------
# integer quantities, long tails, the noise hint's chance level


def test_integer_quantity_with_gaps_and_rare_levels_is_not_classes() -> None:
    rng = _rng()
    # overdispersed counts with many zeros and a long tail (doctor visits): 20,000 rows, ~60 levels
    visits = rng.negative_binomial(0.7, 0.2, 20_000)
    p = profile(visits)
    assert p.task == Task.COUNT.value
    assert "never seen" in p.task_rule or "upper tail" in p.task_rule
    assert "class labels" in p.task_rule
    # 21 integer measurements spread over 7..42 without zeros: a quantity, not 15 classes
    stack = np.array([42, 37, 37, 28, 18, 18, 19, 20, 15, 14, 14, 13, 11, 12, 8, 7, 8, 8, 9, 15, 15])
    assert profile(stack).task == Task.REGRESSION.value
    # class indices 0..9, every class present, one of them rare: still classes
    labels = np.repeat(np.arange(10), [300, 250, 200, 150, 100, 80, 60, 40, 20, 3])
    q = profile(labels)
    assert q.task == Task.MULTICLASS.value
    assert any("fewer than 5 samples" in w for w in q.warnings)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gamma", True),
        ("lognormal", True),
        ("zero_inflated", True),
        ("poisson_contaminated", False),
        ("normal_contaminated", False),
    ],
)
def test_long_upper_tail_told_from_contamination(name: str, expected: bool) -> None:
    rng = _rng()
    n = 5000
    if name == "gamma":
        y = rng.gamma(2.0, 1.0, n)
    elif name == "lognormal":
        y = rng.lognormal(0.0, 1.0, n)
    elif name == "zero_inflated":
        y = np.where(rng.random(n) < 0.6, 0.0, rng.gamma(1.0, 3.0, n))
    elif name == "poisson_contaminated":
        y = rng.poisson(3.0, n).astype(float)
        y[: n // 10] = rng.integers(60, 100, n // 10)
    else:
        y = np.abs(rng.normal(5.0, 1.0, n))
        y[: n // 10] += 20.0
    r = profile(y).regression
    assert r is not None and r.nonnegative
    assert r.outlier_fraction > 0.01 and r.outlier_side == "upper"
    assert r.long_upper_tail is expected


def test_heavy_tail_flag_agrees_with_the_reported_residual_statistics() -> None:
    rng = _rng()
    for y in (rng.standard_t(2.0, 4000), rng.normal(size=4000), rng.laplace(size=4000)):
        r = profile(y).regression
        assert r is not None
        assert r.heavy_tails == (r.excess_kurtosis > 3.0 or r.tail_ratio > 4.0)
        # without features the residuals are the targets around their median
        assert r.tail_ratio == pytest.approx(
            float(np.subtract(*np.quantile(y, [0.975, 0.025])) / np.subtract(*np.quantile(y, [0.75, 0.25])))
        )


@pytest.mark.parametrize("classes", [2, 4])
def test_label_noise_chance_level_matches_the_binomial(classes: int) -> None:
    from scipy.stats import binom

    # labels independent of the features: each of the 10 neighbours disagrees with probability
    # 1 - 1/C, so the share with a disagreeing majority (> 5 of 10) is a binomial tail
    rng = _rng()
    x = rng.normal(size=(4000, 2))
    y = rng.integers(0, classes, 4000)
    p = profile(y, features=x)
    expected = float(binom.sf(5, 10, 1.0 - 1.0 / classes))
    assert p.label_noise_chance == pytest.approx(expected, abs=0.03)
    assert p.label_noise == pytest.approx(expected, abs=0.03)
    assert any("barely predict the label" in w for w in p.warnings)
