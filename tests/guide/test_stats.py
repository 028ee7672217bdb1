"""The corrected resampled t-test (Nadeau & Bengio 2003) against its formula and scipy, and verdicts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from losscraft._core.errors import LosscraftError
from losscraft.guide.stats import TestResult, corrected_resampled_ttest, format_p, verdict

stats = pytest.importorskip("scipy.stats")

# d = 0.10, 0.30, -0.05, 0.20, 0.15 (J = 5), n_train 80, n_test 20
# mean 0.14; deviations -0.04, 0.16, -0.19, 0.06, 0.01; squares sum 0.0016 + 0.0256 + 0.0361 + 0.0036
# + 0.0001 = 0.067; s^2 = 0.067 / 4 = 0.01675; correction 1/5 + 20/80 = 0.45
# t = 0.14 / sqrt(0.45 * 0.01675) = 0.14 / 0.0868188... = 1.61255...; df 4
HAND_D = [0.10, 0.30, -0.05, 0.20, 0.15]
HAND_T = 0.14 / math.sqrt(0.45 * 0.01675)


def test_hand_value() -> None:
    res = corrected_resampled_ttest(HAND_D, n_train=80, n_test=20)
    assert res.statistic == pytest.approx(HAND_T, rel=1e-12)
    assert res.statistic == pytest.approx(1.61255, abs=1e-5)
    assert res.df == 4
    assert res.n_folds == 5
    assert res.p_value == pytest.approx(2 * stats.t.sf(HAND_T, 4), rel=1e-12)
    assert res.min_attainable_p == pytest.approx(2 * 0.5**5)


def test_limit_is_the_one_sample_t_test() -> None:
    d = np.array([0.12, -0.03, 0.25, 0.08, 0.31, 0.02, 0.17, -0.06, 0.11, 0.09])
    ref = stats.ttest_1samp(d, 0.0)
    res = corrected_resampled_ttest(d, n_train=1e12, n_test=1.0)
    assert res.statistic == pytest.approx(ref.statistic, rel=1e-9)
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-9)


def test_correction_widens_the_p_value() -> None:
    d = np.array([0.12, -0.03, 0.25, 0.08, 0.31, 0.02, 0.17, -0.06, 0.11, 0.09])
    plain = stats.ttest_1samp(d, 0.0)
    res = corrected_resampled_ttest(d, n_train=80, n_test=20)
    assert res.p_value is not None and res.p_value > plain.pvalue
    # t shrinks by sqrt((1/J) / (1/J + n_test/n_train)) = sqrt(0.1 / 0.35)
    assert res.statistic == pytest.approx(plain.statistic * math.sqrt(0.1 / 0.35), rel=1e-12)
    assert res.note == ""  # 10 folds: the sign-test floor 2 * 0.5**10 is below 0.05


def test_sign_of_the_statistic_follows_the_mean() -> None:
    pos = corrected_resampled_ttest(HAND_D, 80, 20)
    neg = corrected_resampled_ttest([-x for x in HAND_D], 80, 20)
    assert pos.statistic is not None and neg.statistic is not None
    assert neg.statistic == pytest.approx(-pos.statistic)
    assert neg.p_value == pytest.approx(pos.p_value)


def test_equal_differences_give_no_p_value_and_the_sign_test() -> None:
    res = corrected_resampled_ttest([0.3] * 10, 80, 20)
    assert res.p_value is None and res.statistic is None
    assert "every fold differs by the same amount" in res.note
    assert "sign test p = 2*0.5**10" in res.note
    assert res.min_attainable_p == pytest.approx(2 * 0.5**10)
    # equal up to rounding (d = a - b in floating point) counts as equal too
    d = np.array([0.7, 0.4, 0.9]) - np.array([0.4, 0.1, 0.6])
    assert len(set(d.tolist())) > 1
    assert corrected_resampled_ttest(d, 80, 20).p_value is None


def test_all_zero_differences_are_p_one() -> None:
    res = corrected_resampled_ttest([0.0] * 6, 80, 20)
    assert res.p_value == 1.0
    assert res.statistic == 0.0


@pytest.mark.parametrize("j", [1, 2])
def test_too_few_folds(j: int) -> None:
    res = corrected_resampled_ttest([0.1, 0.3][:j], 80, 20)
    assert res.p_value is None
    assert "too few folds" in res.note
    assert "no test can reach significance" in res.note


def test_few_folds_flag_the_sign_test_floor() -> None:
    res = corrected_resampled_ttest([0.1, 0.3, 0.2, 0.25], 80, 20)
    assert res.p_value is not None
    assert "with 4 folds no distribution-free test can reach p < 0.05" in res.note
    six = corrected_resampled_ttest([0.1, 0.3, 0.2, 0.25, 0.15, 0.22], 80, 20)
    assert six.note == ""  # 2 * 0.5**6 = 0.031 < 0.05


def test_nan_and_bad_sizes() -> None:
    assert corrected_resampled_ttest([0.1, math.nan, 0.2], 80, 20).p_value is None
    with pytest.raises(LosscraftError, match="positive"):
        corrected_resampled_ttest(HAND_D, 0, 20)
    with pytest.raises(LosscraftError, match="no fold"):
        corrected_resampled_ttest([], 80, 20)


def test_to_dict_is_json_ready() -> None:
    import json

    d = corrected_resampled_ttest(HAND_D, 80, 20).to_dict()
    assert json.loads(json.dumps(d))["df"] == 4
    assert "Nadeau" in str(d["test"])


# --------------------------------------------------------------------------- verdicts
BASE = [1.00, 1.10, 0.95, 1.05, 1.02, 0.98, 1.01, 1.04, 0.97, 0.99]
CAND = [0.22, 0.25, 0.21, 0.26, 0.24, 0.20, 0.23, 0.25, 0.22, 0.22]  # mean 0.23 vs 1.011: -77%


def _test(cand: list[float], base: list[float]) -> TestResult:
    return corrected_resampled_ttest(np.subtract(cand, base), n_train=900, n_test=100)


def test_verdict_beats() -> None:
    res = _test(CAND, BASE)
    assert res.p_value is not None and res.p_value < 0.001
    text = verdict("huber", "mse", "mae", False, CAND, BASE, res)
    assert text == "huber beats mse on mae in 10/10 folds (-77%), corrected p < 0.001"


def test_verdict_direction_comes_from_higher_is_better() -> None:
    res = _test(CAND, BASE)
    text = verdict("huber", "mse", "accuracy", True, CAND, BASE, res)
    assert text.startswith("huber loses to mse on accuracy in 10/10 folds (-77%), corrected p")
    text2 = verdict("mse", "huber", "accuracy", True, BASE, CAND, _test(BASE, CAND))
    assert text2.startswith("mse beats huber on accuracy in 10/10 folds (+340%)")


def test_verdict_no_clear_difference() -> None:
    cand = [1.01, 1.08, 0.96, 1.03, 1.05, 0.97, 1.00, 1.06, 0.95, 1.00]
    res = _test(cand, BASE)
    assert res.p_value is not None and res.p_value >= 0.05
    text = verdict("huber", "mse", "mae", False, cand, BASE, res)
    won = sum(c < b for c, b in zip(cand, BASE, strict=True))
    assert text.startswith(f"huber vs mse on mae: no clear difference, better in {won}/10 folds (")
    assert text.endswith(", corrected " + format_p(res.p_value))


def test_verdict_without_p_value_says_why() -> None:
    cand = [0.5, 0.6, 0.55]
    base = [1.0, 1.1, 1.05]  # every fold 0.5 better: s = 0
    res = _test(cand, base)
    text = verdict("huber", "mse", "mae", False, cand, base, res)
    assert "no clear difference" in text
    assert "3/3 folds" in text
    assert "(p not available: every fold differs by the same amount" in text


def test_format_p() -> None:
    assert format_p(0.003) == "p = 0.003"
    assert format_p(0.0312) == "p = 0.031"
    assert format_p(0.41) == "p = 0.41"
    assert format_p(0.0004) == "p < 0.001"


def test_verdict_rejects_unpaired_folds() -> None:
    with pytest.raises(LosscraftError, match="folds"):
        verdict("a", "b", "mae", False, [1.0, 2.0], [1.0], _test(CAND, BASE))
