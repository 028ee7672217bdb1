r"""Paired comparison of two losses over cross-validation folds: the corrected resampled t-test.

Cross-validation folds share most of their training data, so the per-fold differences
$d_j$ ($j = 1..J$, candidate minus baseline, on the same folds) are correlated, and the plain
paired t-test, which treats them as independent, underestimates their variance and finds
differences that are not there (Dietterich 1998). Nadeau & Bengio (2003) correct the variance
of the mean difference for that overlap with the ratio of test to training size:

$$t = \frac{\bar d}{\sqrt{\left(\frac1J + \frac{n_\text{test}}{n_\text{train}}\right) s^2}},
\qquad s^2 = \frac{1}{J-1}\sum_j (d_j - \bar d)^2,$$

referred to Student's t with $J - 1$ degrees of freedom, two-sided. With
$n_\text{test}/n_\text{train} \to 0$ it is the one-sample t-test of the $d_j$. Bouckaert & Frank
(2004) recommend it for repeated k-fold cross-validation (there $J = k \cdot r$).

**Edge cases**, reported in :attr:`TestResult.note` rather than as a p-value that means nothing:

- fewer than 3 folds: no p-value (one degree of freedom leaves the test nearly powerless, and
  no distribution-free test can go below the sign test's floor $2 \cdot 0.5^J \ge 0.5$);
- every difference equal and non-zero ($s = 0$, within $10^{-12}$ of $\max_j |d_j|$): $t$ is
  undefined; no p-value, and the note gives the exact two-sided sign-test p-value $2 \cdot 0.5^J$,
  which every fold agreeing in sign attains;
- every difference zero: the losses are indistinguishable on these folds, $t = 0$, $p = 1$;
- a NaN difference (a metric undefined on some fold): no p-value;
- $J \le 5$: the sign-test floor $2 \cdot 0.5^J$ is above 0.05, so no distribution-free test can
  reach $p < 0.05$ with that many folds; the t-test's p-value is still given, and the note says
  that it rests on the t-test's normality assumption alone.

:attr:`TestResult.min_attainable_p` is that floor, $\min(1, 2 \cdot 0.5^J)$: the smallest
two-sided p-value of the exact sign test, reached when all $J$ differences have the same sign.

References:
    C. Nadeau, Y. Bengio (2003). Inference for the Generalization Error. Machine Learning 52(3).
    https://doi.org/10.1023/A:1024068626366

    R. R. Bouckaert, E. Frank (2004). Evaluating the Replicability of Significance Tests for
    Comparing Learning Algorithms. PAKDD. https://doi.org/10.1007/978-3-540-24775-3_3

    T. G. Dietterich (1998). Approximate Statistical Tests for Comparing Supervised
    Classification Learning Algorithms. Neural Computation 10(7).
    https://doi.org/10.1162/089976698300017197
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from losscraft._core.errors import LosscraftError

__all__ = ["ALPHA", "TestResult", "corrected_resampled_ttest", "format_p", "verdict"]

ALPHA = 0.05  # the significance level verdicts use
_ZERO_SPREAD = 1e-12  # s below this fraction of max |d| counts as zero spread (rounding in d = a - b)


@dataclass(frozen=True)
class TestResult:
    """The outcome of :func:`corrected_resampled_ttest`.

    Attributes:
        statistic: the corrected t statistic; ``None`` where it is undefined.
        p_value: two-sided p-value; ``None`` where no valid test exists (see ``note``).
        df: degrees of freedom, ``J - 1``.
        n_folds: ``J``, the number of paired differences.
        min_attainable_p: ``min(1, 2 * 0.5**J)``, the exact sign test's smallest two-sided p.
        note: why ``p_value`` is missing or what limits it; empty when nothing does.
    """

    __test__ = False  # not a pytest test class despite its name

    statistic: float | None
    p_value: float | None
    df: int
    n_folds: int
    min_attainable_p: float
    note: str = ""

    def to_dict(self) -> dict[str, float | int | str | None]:
        """The JSON form."""
        return {
            "test": "corrected resampled t-test (Nadeau & Bengio 2003)",
            "statistic": self.statistic,
            "p_value": self.p_value,
            "df": self.df,
            "n_folds": self.n_folds,
            "min_attainable_p": self.min_attainable_p,
            "note": self.note,
        }


def corrected_resampled_ttest(diffs: Sequence[float], n_train: float, n_test: float) -> TestResult:
    r"""Nadeau & Bengio's (2003) corrected resampled t-test of paired per-fold differences.

    $t = \bar d \,/\, \sqrt{(1/J + n_\text{test}/n_\text{train})\, s^2}$ with $s^2$ the sample
    variance (``ddof=1``) of the $J$ differences, two-sided p from Student's t with $J - 1$
    degrees of freedom (``scipy.stats.t``). See the module docstring for the edge cases.

    Args:
        diffs: per-fold differences, candidate minus baseline, on the same folds.
        n_train: training-set size per fold (the mean over folds when they differ).
        n_test: test-set size per fold (the mean over folds when they differ).

    Returns:
        A :class:`TestResult`.

    Raises:
        LosscraftError: no differences, or non-positive sizes.
    """
    from scipy import stats

    d = np.asarray(diffs, dtype=np.float64).ravel()
    j = int(d.size)
    if j == 0:
        raise LosscraftError("corrected_resampled_ttest: no fold differences given")
    if not (n_train > 0 and n_test > 0):
        raise LosscraftError(
            f"corrected_resampled_ttest: n_train and n_test must be positive, got {n_train!r}, {n_test!r}"
        )
    floor = min(1.0, 2.0 * 0.5**j)
    df = j - 1

    def result(statistic: float | None, p: float | None, note: str = "") -> TestResult:
        return TestResult(statistic, p, df, j, floor, note)

    if not np.all(np.isfinite(d)):
        return result(None, None, "the metric is undefined (NaN) in some fold: no test")
    if j < 3:
        return result(
            None,
            None,
            f"too few folds ({j}): no test can reach significance with {j} fold{'s' if j > 1 else ''} "
            f"(a sign test cannot go below p = {floor:g}); use at least 3, better 10 (folds x repeats)",
        )
    mean = float(d.mean())
    s = float(d.std(ddof=1))
    if s <= _ZERO_SPREAD * float(np.max(np.abs(d))):
        if mean == 0.0 or float(np.max(np.abs(d))) == 0.0:
            return result(0.0, 1.0, "the two losses gave the same value in every fold")
        return result(
            None,
            None,
            f"every fold differs by the same amount: the t-test is undefined; sign test p = 2*0.5**{j} = {floor:.2g}",
        )
    t = mean / math.sqrt((1.0 / j + n_test / n_train) * s * s)
    p = float(2.0 * stats.t.sf(abs(t), df))
    note = ""
    if floor > ALPHA:
        note = (
            f"with {j} folds no distribution-free test can reach p < {ALPHA:g} (sign-test floor {floor:.2g}); "
            "this p-value rests on the t-test's normality assumption"
        )
    return result(float(t), p, note)


def format_p(p: float) -> str:
    """``"p = 0.003"`` style: two significant digits, ``"p < 0.001"`` below 0.001."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}"


def _percent(cand: float, base: float) -> str:
    if base == 0.0 or not math.isfinite(base) or not math.isfinite(cand):
        return f"{cand - base:+.3g}"
    pct = 100.0 * (cand - base) / abs(base)
    return f"{pct:+.0f}%" if abs(pct) >= 1.0 else f"{pct:+.1g}%"


def verdict(
    name: str,
    baseline: str,
    metric: str,
    higher_is_better: bool,
    cand_folds: Sequence[float],
    base_folds: Sequence[float],
    test: TestResult,
    *,
    alpha: float = ALPHA,
) -> str:
    """A plain-language verdict of a candidate against the baseline on one metric.

    The candidate *beats* the baseline when the corrected p-value is below ``alpha`` and its
    mean is better in the metric's direction; it *loses to* it when the p-value is below
    ``alpha`` and its mean is worse; otherwise there is *no clear difference* (also when no
    p-value exists: the note says why). The fold count is the folds the candidate won (beats,
    no clear difference) or lost (loses to); the percentage is the change of the candidate's
    mean relative to the baseline's (an absolute difference when the baseline's mean is 0).

    Examples:
        ``"huber beats mse on mae in 10/10 folds (-77%), corrected p = 0.003"``,
        ``"focal loses to cross_entropy on log_loss in 9/10 folds (+12%), corrected p = 0.01"``,
        ``"huber vs mse on rmse: no clear difference, better in 6/10 folds (-2%), corrected p = 0.41"``.

    Args:
        name: the candidate's name.
        baseline: the baseline's name.
        metric: the metric key.
        higher_is_better: the metric's direction.
        cand_folds: the candidate's per-fold values.
        base_folds: the baseline's per-fold values on the same folds.
        test: the test of ``cand_folds - base_folds``.
        alpha: the significance level.

    Raises:
        LosscraftError: fold lists of different lengths.
    """
    c = np.asarray(cand_folds, dtype=np.float64)
    b = np.asarray(base_folds, dtype=np.float64)
    if c.shape != b.shape:
        raise LosscraftError(f"verdict: {c.size} candidate folds against {b.size} baseline folds")
    sign = 1.0 if higher_is_better else -1.0
    gain = sign * (c - b)
    won = int(np.sum(gain > 0))
    lost = int(np.sum(gain < 0))
    j = int(c.size)
    cm, bm = float(np.nanmean(c)), float(np.nanmean(b))
    change = _percent(cm, bm)
    p = test.p_value
    if p is None:
        return (
            f"{name} vs {baseline} on {metric}: no clear difference, better in {won}/{j} folds ({change}) "
            f"(p not available: {test.note})"
        )
    ptext = f"corrected {format_p(p)}"
    better = sign * (cm - bm) > 0
    if p < alpha and better:
        return f"{name} beats {baseline} on {metric} in {won}/{j} folds ({change}), {ptext}"
    if p < alpha and sign * (cm - bm) < 0:
        return f"{name} loses to {baseline} on {metric} in {lost}/{j} folds ({change}), {ptext}"
    return f"{name} vs {baseline} on {metric}: no clear difference, better in {won}/{j} folds ({change}), {ptext}"
