"""Profile a target (and optionally features): task type, class/mask/regression statistics, warnings.

The statistics and thresholds follow the design notes (science Part 2): task detection starts from
``sklearn.utils.multiclass.type_of_target`` plus rules for integer-valued floats, counts, proportions,
multi-label vs one-hot vs soft labels and segmentation masks; regression residuals come from a
high-breakdown pilot fit (RANSAC) when features are given, because least-squares, L1 and Huber
residuals mask leverage outliers. NaN/inf targets are counted, reported and excluded, never silently
dropped. Every number in a :class:`Profile` is a plain Python int/float (tuples for vectors), so
``to_dict()`` is JSON-ready.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from losscraft._core.errors import LosscraftError
from losscraft._core.spec import Task
from losscraft.guide.data import as_features, as_sequences, as_target

__all__ = [
    "ClassStats",
    "MaskStats",
    "MultilabelStats",
    "Profile",
    "RankingStats",
    "RegressionStats",
    "SequenceStats",
    "SurvivalStats",
    "profile",
]

# Task value strings (the spec's Task enum may not list them all yet).
BINARY = "binary_classification"
MULTICLASS = "multiclass_classification"
MULTILABEL = "multilabel_classification"
ORDINAL = "ordinal_regression"
REGRESSION = "regression"
COUNT = "count_regression"
PROPORTION = "proportion_regression"
SOFT_LABELS = "soft_label_classification"
SEGMENTATION = "segmentation"
RANKING = "ranking"
SURVIVAL = "survival"
SEQUENCE = "sequence_transcription"
_DETECTABLE = (
    BINARY,
    MULTICLASS,
    MULTILABEL,
    ORDINAL,
    REGRESSION,
    COUNT,
    PROPORTION,
    SOFT_LABELS,
    SEGMENTATION,
    RANKING,
    SURVIVAL,
    SEQUENCE,
)
_CLASS_TASKS = frozenset({BINARY, MULTICLASS, ORDINAL, "metric_learning"})
_REGRESSION_TASKS = frozenset({REGRESSION, COUNT, PROPORTION, "quantile_regression"})
_SOFT_TASKS = frozenset({SOFT_LABELS, "distillation"})

MODIFIED_Z = 3.5  # Iglewicz & Hoaglin (1993)
MIN_CLASS_SAMPLES = 5
KNN_K = 10
MAX_SEG_CLASSES = 20  # "a small integer set" for segmentation labels [heur]
ONE_SIDED_SHARE = 0.8  # share of outliers on one side that makes them "one-sided" [heur]
HEAVY_KURTOSIS = 3.0  # excess kurtosis above which tails are heavy [heur]
HEAVY_TAIL_RATIO = 4.0  # (Q.975-Q.025)/(Q.75-Q.25); 2.91 at the normal [heur]
COUNT_ZERO_SHARE = 0.2  # share of zeros from which many distinct integers read as counts [heur]
POISSON_TV = 0.1  # total-variation distance to Poisson(mean) under which integers look like counts [heur]
HEAVY_SUBSAMPLE = 0.1  # warn when the costly statistics see less than this share of the rows
QUANTITY_LEVELS = 8  # integer levels from which gaps and rare levels read as a quantity [heur]
QUANTITY_MISSING = 0.1  # share of the integer range never observed (gaps) [heur]
QUANTITY_RARE = 0.25  # share of levels seen fewer than MIN_CLASS_SAMPLES times [heur]
SKEWED = 1.0  # skewness above which a non-negative target is "skewed" (science.md 2.3) [heur]
# Skewness of the target without its far values (|modified z| <= 3.5), above which the far values
# read as the tail of a skewed distribution rather than contamination. Measured on synthetic
# data: gamma(2), lognormal, Pareto, negative binomial bulks 0.86-1.24; Poisson(3 or 10) or
# normal targets with 10% gross upward contamination 0.02-0.46 [heur, measured]
BULK_SKEWED = 0.75
NOISE_CHANCE_RATIO = (
    0.75  # kNN disagreement above this share of the shuffled-label rate: uninformative [heur]
)
NOISE_SHUFFLES = 5
VARIANCE_POWER_MIN_ROWS = 200  # rows for the variance-mean fit (>= 5 bins of 40) [heur]
VARIANCE_POWER_MIN_SPREAD = math.log(2.0)  # fitted bin means must span 2-fold [heur]


def _valid_tasks() -> tuple[str, ...]:
    names = [str(t.value) for t in Task]
    return tuple(dict.fromkeys([*_DETECTABLE, *names]))


@dataclass(frozen=True)
class ClassStats:
    """Class balance of a binary / multi-class / ordinal target (science 2.2)."""

    labels: tuple[int | float, ...]
    counts: tuple[int, ...]
    imbalance_ratio: float  # max count / min count
    minority_fraction: float  # min count / n
    priors: tuple[float, ...]
    normalized_entropy: float  # H(pi) / log C; 1 = balanced
    effective_numbers: tuple[float, ...]  # (1 - beta^n_c) / (1 - beta), Cui et al. 2019
    beta: float  # 1 - 1/sqrt(n_min * n_max)


@dataclass(frozen=True)
class MultilabelStats:
    """Label statistics of a 0/1 indicator matrix (Tsoumakas & Katakis 2007)."""

    n_labels: int
    positive_rates: tuple[float, ...]
    cardinality: float  # mean positives per row
    density: float  # cardinality / n_labels


@dataclass(frozen=True)
class MaskStats:
    """Segmentation-mask statistics (science 2.4)."""

    n_classes: int  # including background
    foreground_fraction: tuple[float, ...]  # per foreground class, share of all pixels
    empty_share: float  # share of masks without any foreground pixel
    volume_ratio: float | None  # max / min foreground class volume (>= 2 foreground classes present)


@dataclass(frozen=True)
class RegressionStats:
    """Robust location/scale, outliers and shape of a real-valued target (science 2.3)."""

    median: float
    mad: float
    robust_scale: float  # 1.4826 * MAD of the residuals
    residuals_from: str  # "targets" or "RANSAC pilot fit on N rows"
    outlier_fraction: float  # share with |modified z| > 3.5
    one_sided: bool
    outlier_side: str  # "upper", "lower", "both" (>= ONE_SIDED_SHARE on neither side) or "none"
    long_upper_tail: bool  # non-negative, skewed even without its far values, which lie above
    skewness: float  # of the target
    bulk_skewness: float  # of the target without its far values (|modified z| <= 3.5 around its median)
    excess_kurtosis: float  # of the residuals
    tail_ratio: float  # (Q.975 - Q.025) / (Q.75 - Q.25) of the residuals; 2.91 at the normal
    heavy_tails: bool
    nonnegative: bool
    zero_share: float
    mean: float
    dispersion: float | None  # variance / mean for a non-negative target (1 for Poisson)
    integer_valued: bool
    minimum: float
    maximum: float
    # p of Var(y | x) ~ phi mu^p (clipped to [1, 2]) from the features (non-negative targets), and
    # how it was estimated, or why not (``variance_power`` None)
    variance_power: float | None = None
    variance_power_from: str = ""


@dataclass(frozen=True)
class RankingStats:
    """Per-query relevance lists (learning to rank): queries, list lengths and relevance grades."""

    n_queries: int
    mean_list_length: float
    max_list_length: int
    grades: tuple[int | float, ...]  # the distinct relevance values (padding excluded)
    graded: bool  # more than two relevance levels
    no_relevant_share: float  # share of queries whose items all have relevance 0 (no ranking signal)
    grouped_by: str  # "rows (padding -1)" or "the group ids"


@dataclass(frozen=True)
class SurvivalStats:
    """Right-censored times to an event: rows ``(time, event)``."""

    n_events: int
    event_rate: float  # share of rows with event = 1
    censored_share: float
    tied_event_share: float  # share of events whose time another event shares
    median_time: float


@dataclass(frozen=True)
class SequenceStats:
    """Label sequences without a frame alignment (CTC targets)."""

    n_sequences: int
    min_length: int
    max_length: int
    mean_length: float
    n_symbols: int  # distinct labels
    min_label: int
    max_label: int
    empty_share: float
    min_frames: int  # frames the longest need: its length plus its adjacent repeats (CTC)


@dataclass(frozen=True)
class Profile:
    """What :func:`profile` found: task, statistics, and data problems in plain language."""

    task: str
    task_rule: str
    n: int
    n_invalid: int
    warnings: tuple[str, ...]
    classes: ClassStats | None = None
    multilabel: MultilabelStats | None = None
    masks: MaskStats | None = None
    regression: RegressionStats | None = None
    label_noise: float | None = None
    label_noise_chance: float | None = None  # the same rate with the labels shuffled (no signal)
    heteroscedasticity: float | None = None
    subsample: int | None = None
    ranking: RankingStats | None = None
    survival: SurvivalStats | None = None
    sequence: SequenceStats | None = None

    def to_dict(self) -> dict[str, Any]:
        """All fields as plain JSON-able values (nested dicts; tuples stay tuples)."""
        return dataclasses.asdict(self)

    def _lines(self) -> list[tuple[str, str]]:
        rows: list[tuple[str, str]] = [
            ("task", f"{self.task}  ({self.task_rule})"),
            ("samples", f"{self.n}" + (f", {self.n_invalid} NaN/inf excluded" if self.n_invalid else "")),
        ]
        c = self.classes
        if c is not None:
            shown = ", ".join(
                f"{lab}: {cnt} ({p:.1%})"
                for lab, cnt, p in list(zip(c.labels, c.counts, c.priors, strict=True))[:10]
            )
            if len(c.labels) > 10:
                shown += f", ... ({len(c.labels)} classes)"
            rows.append(("classes", shown))
            rows.append(
                (
                    "balance",
                    f"imbalance {_fmt(c.imbalance_ratio)}, minority {c.minority_fraction:.2%}, "
                    f"entropy {c.normalized_entropy:.3f}, beta {c.beta:.6g}",
                )
            )
        m = self.multilabel
        if m is not None:
            rates = ", ".join(f"{r:.3f}" for r in m.positive_rates[:10])
            rows.append(
                ("labels", f"{m.n_labels} labels, cardinality {m.cardinality:.3g}, density {m.density:.3g}")
            )
            rows.append(("positive rates", rates + (", ..." if m.n_labels > 10 else "")))
        k = self.masks
        if k is not None:
            fg = ", ".join(f"{f:.4f}" for f in k.foreground_fraction[:10])
            rows.append(("masks", f"{k.n_classes} classes, foreground fraction {fg}"))
            extra = f"empty masks {k.empty_share:.1%}"
            if k.volume_ratio is not None:
                extra += f", volume ratio {_fmt(k.volume_ratio)}"
            rows.append(("", extra))
        r = self.regression
        if r is not None:
            rows.append(
                (
                    "location/scale",
                    f"target median {_fmt(r.median)}, MAD {_fmt(r.mad)}; residual robust scale "
                    f"{_fmt(r.robust_scale)} (residuals from {r.residuals_from})",
                )
            )
            rows.append(
                (
                    "outliers",
                    f"{r.outlier_fraction:.2%} beyond |modified z| > {MODIFIED_Z}"
                    + (f", mostly {r.outlier_side}" if r.one_sided else "")
                    + (" (the long tail of a skewed non-negative target)" if r.long_upper_tail else ""),
                )
            )
            rows.append(
                (
                    "shape",
                    f"skewness {_fmt(r.skewness)} ({_fmt(r.bulk_skewness)} without the far values); residuals: "
                    f"excess kurtosis {_fmt(r.excess_kurtosis)}, tail ratio {_fmt(r.tail_ratio)}"
                    + (", heavy tails" if r.heavy_tails else ""),
                )
            )
            rows.append(
                (
                    "range",
                    f"[{_fmt(r.minimum)}, {_fmt(r.maximum)}], mean {_fmt(r.mean)}, zeros {r.zero_share:.1%}"
                    + (", non-negative" if r.nonnegative else "")
                    + (", integer-valued" if r.integer_valued else "")
                    + (f", variance/mean {_fmt(r.dispersion)}" if r.dispersion is not None else ""),
                )
            )
            if r.variance_power is not None:
                rows.append(("variance power", f"p = {r.variance_power:.3g} ({r.variance_power_from})"))
        rk = self.ranking
        if rk is not None:
            rows.append(
                (
                    "queries",
                    f"{rk.n_queries} queries (by {rk.grouped_by}), {rk.mean_list_length:.3g} items on average "
                    f"(max {rk.max_list_length}), relevance grades {_list_values(np.asarray(rk.grades))}, "
                    f"{rk.no_relevant_share:.1%} without a relevant item",
                )
            )
        sv = self.survival
        if sv is not None:
            rows.append(
                (
                    "events",
                    f"{sv.n_events} events ({sv.event_rate:.1%}), {sv.censored_share:.1%} censored, "
                    f"{sv.tied_event_share:.1%} of events tied in time, median time {_fmt(sv.median_time)}",
                )
            )
        sq = self.sequence
        if sq is not None:
            rows.append(
                (
                    "sequences",
                    f"{sq.n_sequences} sequences of length {sq.min_length}-{sq.max_length} (mean "
                    f"{sq.mean_length:.3g}), {sq.n_symbols} symbols in [{sq.min_label}, {sq.max_label}], "
                    f"{sq.empty_share:.1%} empty; the longest needs {sq.min_frames} frames",
                )
            )
        if self.label_noise is not None:
            rows.append(
                (
                    "label noise",
                    f"{self.label_noise:.1%} of samples disagree with most of their {KNN_K} nearest "
                    f"neighbours ({_fmt_share(self.label_noise_chance)} with shuffled labels)",
                )
            )
        if self.heteroscedasticity is not None:
            rows.append(
                ("heteroscedasticity", f"Spearman(|residual|, fitted) = {self.heteroscedasticity:.3f}")
            )
        if self.subsample is not None:
            rows.append(("subsample", f"pilot fit / kNN on {self.subsample} rows"))
        return rows

    def __str__(self) -> str:
        lines = ["Profile"]
        for key, value in self._lines():
            lines.append(f"  {key + ':' if key else '':<20}{value}")
        if self.warnings:
            lines.append("Warnings")
            lines.extend(f"  - {w}" for w in self.warnings)
        return "\n".join(lines)

    def __rich__(self) -> Any:
        """A rich Panel holding a two-column table and the warnings (rich is imported lazily)."""
        from rich.console import Group
        from rich.panel import Panel
        from rich.table import Table
        from rich.text import Text

        table = Table(show_header=False, box=None, pad_edge=False)
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for key, value in self._lines():
            table.add_row(key, value)
        parts: list[Any] = [table]
        if self.warnings:
            parts.append(Text("\n".join(f"! {w}" for w in self.warnings), style="yellow"))
        return Panel(Group(*parts), title="losscraft profile", expand=False)


def _fmt_share(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _plain(v: Any) -> int | float:
    """A NumPy scalar as a plain int (integral) or float."""
    f = float(v)
    if math.isfinite(f) and f == round(f) and abs(f) < 2**53:
        return int(f)
    return f


def _list_values(values: NDArray[Any], limit: int = 6) -> str:
    shown = ", ".join(str(_plain(v)) for v in values[:limit])
    return "{" + shown + (", ..." if len(values) > limit else "") + "}"


# ----------------------------------------------------------------------------------------------
# statistics


def _class_stats(labels: NDArray[Any], counts: NDArray[Any]) -> ClassStats:
    counts = np.asarray(counts, dtype=np.int64)
    n = int(counts.sum())
    n_min, n_max = int(counts.min()), int(counts.max())
    priors = counts / n
    c = len(counts)
    nz = priors[priors > 0]
    entropy = float(-(nz * np.log(nz)).sum() / math.log(c)) if c > 1 else 0.0
    beta = 1.0 - 1.0 / math.sqrt(n_min * n_max)
    # beta = 0 only when n_min = n_max = 1: every class counts once
    eff = (1.0 - np.power(beta, counts.astype(np.float64))) / (1.0 - beta) if beta > 0 else np.ones(c)
    return ClassStats(
        labels=tuple(_plain(v) for v in labels),
        counts=tuple(int(v) for v in counts),
        imbalance_ratio=float(n_max / n_min),
        minority_fraction=float(n_min / n),
        priors=tuple(float(p) for p in priors),
        normalized_entropy=min(1.0, max(0.0, entropy)),
        effective_numbers=tuple(float(e) for e in eff),
        beta=float(beta),
    )


def _class_warnings(cs: ClassStats) -> list[str]:
    out: list[str] = []
    if len(cs.labels) == 1:
        out.append(f"a single class ({cs.labels[0]}): there is nothing to discriminate")
    small = [
        f"{lab} ({cnt})" for lab, cnt in zip(cs.labels, cs.counts, strict=True) if cnt < MIN_CLASS_SAMPLES
    ]
    if small and len(cs.labels) > 1:
        shown = ", ".join(small[:10]) + (", ..." if len(small) > 10 else "")
        out.append(f"{len(small)} class(es) with fewer than {MIN_CLASS_SAMPLES} samples: {shown}")
    return out


def _moments(x: NDArray[np.float64]) -> tuple[float, float]:
    """Sample skewness g1 and excess kurtosis g2 (0, 0 for constant data)."""
    d = x - x.mean()
    m2 = float(np.mean(d**2))
    if m2 <= 0 or not math.isfinite(m2):
        return 0.0, 0.0
    z = d / math.sqrt(m2)  # standardised first: no overflow in the 4th power
    return float(np.mean(z**3)), float(np.mean(z**4)) - 3.0


def _robust_z(r: NDArray[np.float64]) -> tuple[NDArray[np.float64], float, float]:
    """Modified z-scores 0.6745 (r - med) / MAD, the median and the MAD (mean-AD fallback when MAD = 0)."""
    med = float(np.median(r))
    dev = np.abs(r - med)
    mad = float(np.median(dev))
    if mad > 0:
        return 0.6745 * (r - med) / mad, med, mad
    meanad = float(dev.mean())
    if meanad > 0:  # Iglewicz & Hoaglin's fallback for MAD = 0
        return (r - med) / (1.253314 * meanad), med, mad
    return np.zeros_like(r), med, mad


def _regression_stats(
    y: NDArray[np.float64], residuals: NDArray[np.float64], residuals_from: str
) -> RegressionStats:
    med = float(np.median(y))
    mad = float(np.median(np.abs(y - med)))
    z, rmed, rmad = _robust_z(residuals)
    out = np.abs(z) > MODIFIED_Z
    n_out = int(out.sum())
    one_sided = False
    side = "none"
    if n_out >= max(3, int(0.005 * len(residuals))):
        up = float(np.mean(residuals[out] > rmed))
        side = "upper" if up >= ONE_SIDED_SHARE else "lower" if up <= 1 - ONE_SIDED_SHARE else "both"
        one_sided = side != "both"
    skew, _ = _moments(y)
    yz, _, _ = _robust_z(y)
    bulk_skew, _ = _moments(y[np.abs(yz) <= MODIFIED_Z])
    nonneg = bool(y.min() >= 0)
    mean = float(y.mean())
    dispersion = float(y.var()) / mean if nonneg and mean > 0 else None
    _, rkurt = _moments(residuals)
    q = np.quantile(residuals, [0.025, 0.25, 0.75, 0.975])
    iqr = float(q[2] - q[1])
    ratio = float(q[3] - q[0]) / iqr if iqr > 0 else 0.0
    heavy = rkurt > HEAVY_KURTOSIS or ratio > HEAVY_TAIL_RATIO
    return RegressionStats(
        median=med,
        mad=mad,
        robust_scale=1.4826 * rmad,
        residuals_from=residuals_from,
        outlier_fraction=float(n_out / len(residuals)),
        one_sided=bool(one_sided),
        outlier_side=side,
        # a skewed non-negative target's far values on its long side are its shape, which the
        # mean must follow: told apart from contamination by the rules (science.md 2.3)
        long_upper_tail=nonneg and skew > SKEWED and bulk_skew > BULK_SKEWED and side == "upper",
        skewness=float(skew),
        bulk_skewness=float(bulk_skew),
        excess_kurtosis=float(rkurt),
        tail_ratio=ratio,
        heavy_tails=bool(heavy),
        nonnegative=nonneg,
        zero_share=float(np.mean(y == 0)),
        mean=mean,
        dispersion=dispersion,
        integer_valued=bool(np.all(y == np.round(y))),
        minimum=float(y.min()),
        maximum=float(y.max()),
    )


def _standardise(x: NDArray[np.float64]) -> NDArray[np.float64]:
    mu = x.mean(axis=0)
    sd = x.std(axis=0)
    sd[sd == 0] = 1.0
    return np.asarray((x - mu) / sd, dtype=np.float64)


def _ransac_residuals(
    x: NDArray[np.float64], y: NDArray[np.float64], sub: NDArray[np.intp], seed: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]] | str:
    """Fit RANSAC on the rows ``sub``; residuals and fitted values on all rows, or the failure reason."""
    from sklearn.linear_model import LinearRegression, RANSACRegressor

    xs = _standardise(x)
    if len(sub) < xs.shape[1] + 2:
        return f"too few rows ({len(sub)}) for {xs.shape[1]} features"
    ys = y[sub]
    # sklearn's default threshold is MAD(y), which is 0 for zero-inflated targets: fall back
    # to the mean absolute deviation so that a consensus set can exist
    dev = np.abs(ys - np.median(ys))
    threshold = float(np.median(dev)) or float(dev.mean()) or 1.0
    model = RANSACRegressor(estimator=LinearRegression(), residual_threshold=threshold, random_state=seed)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(xs[sub], ys)
            fitted = np.asarray(model.predict(xs), dtype=np.float64)
    except ValueError as exc:
        return str(exc).split("\n")[0]
    return y - fitted, fitted


def _variance_power(
    x: NDArray[np.float64], y: NDArray[np.float64], sub: NDArray[np.intp], seed: int
) -> tuple[float | None, str]:
    """The power ``p`` of ``Var(y | x) ~ phi mu^p`` of a non-negative target, and how it was found.

    A Poisson GLM (log link; its quasi-likelihood estimates the mean whatever ``p``) is fitted by
    3-fold cross-validation on the rows ``sub``; the rows are cut into up to 20 bins of equal size
    along the fitted mean, and the slope of the log within-bin variance (less the variance of the
    fitted means inside the bin) on the log within-bin mean (weighted least squares) is ``p`` (the variance-mean power law, Taylor 1961; the Tweedie
    family's variance function, Jorgensen 1997), clipped to [1, 2]. ``None`` with the reason when
    the fitted means vary too little to tell the powers apart.
    """
    from sklearn.linear_model import PoissonRegressor
    from sklearn.model_selection import KFold, cross_val_predict

    xs, ys = _standardise(x[sub]), y[sub]
    n = len(ys)
    if n < VARIANCE_POWER_MIN_ROWS:
        return None, f"too few rows ({n} < {VARIANCE_POWER_MIN_ROWS}) to fit the variance-mean relation"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mu = cross_val_predict(
                PoissonRegressor(alpha=1e-4, max_iter=300),
                xs,
                ys,
                cv=KFold(3, shuffle=True, random_state=seed),
            )
    except ValueError as exc:
        return None, "the Poisson pilot fit failed (" + str(exc).split("\n")[0] + ")"
    n_bins = int(min(20, max(5, n // 100)))
    bins = np.array_split(np.argsort(mu, kind="stable"), n_bins)
    m = np.array([ys[b].mean() for b in bins])
    # law of total variance: the spread of the fitted means inside a bin is not Var(y | x)
    v = np.array([ys[b].var(ddof=1) - mu[b].var(ddof=1) for b in bins])
    w = np.array([len(b) for b in bins], dtype=np.float64)
    ok = (m > 0) & (v > 0)
    if ok.sum() < 3 or float(np.log(m[ok].max() / m[ok].min())) < VARIANCE_POWER_MIN_SPREAD:
        return None, (
            "the features' fitted means vary too little (less than "
            f"{math.exp(VARIANCE_POWER_MIN_SPREAD):.1f}-fold across bins) to tell the powers apart"
        )
    lm, lv, w = np.log(m[ok]), np.log(v[ok]), w[ok]
    lm0 = float(np.average(lm, weights=w))
    slope = float(np.sum(w * (lm - lm0) * (lv - np.average(lv, weights=w))) / np.sum(w * (lm - lm0) ** 2))
    p = min(max(slope, 1.0), 2.0)
    clipped = "" if p == slope else ", clipped to [1, 2]"
    return p, (
        f"slope {slope:.3g}{clipped} of log within-bin variance on log within-bin mean, over {int(ok.sum())} bins "
        f"of a 3-fold cross-validated Poisson GLM's fitted means on {n} rows (Var(y|x) ~ phi mu^p)"
    )


def _spearman(a: NDArray[np.float64], b: NDArray[np.float64]) -> float | None:
    from scipy.stats import rankdata

    ra = np.asarray(rankdata(a), dtype=np.float64)
    rb = np.asarray(rankdata(b), dtype=np.float64)
    ra -= ra.mean()
    rb -= rb.mean()
    den = math.sqrt(float((ra**2).sum()) * float((rb**2).sum()))
    if den == 0:
        return None
    return float((ra * rb).sum() / den)


def _knn_disagreement(
    x: NDArray[np.float64], labels: NDArray[Any], seed: int = 0
) -> tuple[float, float] | None:
    """Share of samples whose label differs from more than half of their k nearest neighbours.

    Returns ``(rate, chance)``: ``chance`` is the same rate with the labels shuffled over the same
    neighbour graph (the mean of a few shuffles), i.e. what the rate is when the features say
    nothing about the label. The rate tracks injected symmetric noise on separable classes
    (science.md 2.2), but class overlap raises it too: a rate near ``chance`` means the features
    barely predict the label, and then it cannot tell noise from overlap.
    """
    from sklearn.neighbors import NearestNeighbors

    n = len(labels)
    k = min(KNN_K, n - 1)
    if k < 1:
        return None
    xs = _standardise(x)
    nn = NearestNeighbors(n_neighbors=k + 1).fit(xs)
    idx = nn.kneighbors(xs, return_distance=False)
    # drop each point itself (duplicates may put it anywhere in its row: drop one occurrence of i)
    rows = np.arange(n)[:, None]
    is_self = idx == rows
    first_self = np.where(is_self.any(axis=1), is_self.argmax(axis=1), k)
    keep = np.ones_like(idx, dtype=bool)
    keep[np.arange(n), first_self] = False
    neigh = idx[keep].reshape(n, k)

    def rate(lab: NDArray[Any]) -> float:
        differ = (lab[neigh] != lab[:, None]).sum(axis=1)
        return float(np.mean(differ > k / 2))

    rng = np.random.default_rng(seed)
    chance = float(np.mean([rate(rng.permutation(labels)) for _ in range(NOISE_SHUFFLES)]))
    return rate(labels), chance


# ----------------------------------------------------------------------------------------------
# task detection


def _type_of_target(y: NDArray[Any]) -> str:
    from sklearn.utils.multiclass import type_of_target

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return str(type_of_target(y))


def _looks_poisson(values: NDArray[Any], counts: NDArray[Any]) -> tuple[bool, float, float]:
    """Do non-negative integer frequencies match Poisson(mean)? (match, dispersion, TV distance)."""
    from scipy.stats import poisson

    n = counts.sum()
    mean = float((values * counts).sum() / n)
    if mean <= 0:
        return False, 0.0, 1.0
    var = float(((values - mean) ** 2 * counts).sum() / n)
    disp = var / mean
    top = int(values.max())
    emp = np.zeros(top + 1)
    emp[values.astype(np.int64)] = counts / n
    pmf = np.asarray(poisson.pmf(np.arange(top + 1), mean), dtype=np.float64)
    tv = 0.5 * (float(np.abs(emp - pmf).sum()) + max(0.0, 1.0 - float(pmf.sum())))
    return (0.75 <= disp <= 1.33 and tv < POISSON_TV), disp, tv


def _detect_1d(y: NDArray[Any]) -> tuple[str, str]:
    """Task and rule for a 1-D vector of finite values."""
    kind = _type_of_target(y)
    values, counts = np.unique(y, return_counts=True)
    k = len(values)
    n = len(y)
    if k == 1:
        if values[0] == round(float(values[0])):
            return BINARY, f"a single distinct integer value {_list_values(values)} -> classification"
        return REGRESSION, f"a single distinct value {_list_values(values)} -> regression"
    if kind == "binary":
        return BINARY, f"2 distinct values {_list_values(values)} -> binary"
    integral = bool(np.all(values == np.round(values)))
    if kind == "continuous" or not integral:
        if values[0] >= 0 and values[-1] <= 1:
            return PROPORTION, f"continuous values within [0, 1] ({k} distinct) -> proportions"
        return REGRESSION, f"continuous values ({k} distinct) -> regression"
    limit = max(20.0, 0.05 * n)
    span = float(values[-1] - values[0] + 1)
    missing = 1.0 - k / span
    is_rare = counts < MIN_CLASS_SAMPLES
    rare = int(is_rare.sum())
    # the rare levels all lie above the most frequent one: a right tail
    tail = rare > 0 and bool(values[is_rare].min() > values[int(np.argmax(counts))])
    where = f"{k} distinct integers in [{_plain(values[0])}, {_plain(values[-1])}]"
    why = ""
    # Class indices are 0..C-1 with every class present; a measured quantity leaves gaps in its
    # range, or sees many of its levels only a few times, in its upper tail.
    if k > limit:
        why = f"{k} distinct integers > max(20, 0.05n) = {limit:g}"
    elif values[0] >= 0 and k >= 3 and (poisson := _looks_poisson(values, counts))[0]:
        _, disp, tv = poisson
        return (
            COUNT,
            f"non-negative integers with variance/mean {disp:.2f} and frequencies within total "
            f"variation {tv:.3f} of Poisson -> counts",
        )
    elif k > 20 and missing >= QUANTITY_MISSING:
        why = f"{where} with {missing:.0%} of that range never seen"
    elif k >= QUANTITY_LEVELS and rare >= QUANTITY_RARE * k and (missing >= QUANTITY_MISSING or tail):
        why = f"{where}, {rare} levels seen fewer than {MIN_CLASS_SAMPLES} times" + (
            f", {missing:.0%} of the range never seen" if missing >= QUANTITY_MISSING else " (an upper tail)"
        )
    if why:
        undo = f"pass task='{MULTICLASS}' if they are class labels"
        if values[0] >= 0:
            # A quantity of non-negative integers is a count when it looks like one: many zeros
            # or a Poisson-like variance/mean (science.md 2.1).
            zeros = float(counts[0] / n) if values[0] == 0 else 0.0
            mean = float((values * counts).sum() / n)
            disp = float(((values - mean) ** 2 * counts).sum() / n) / mean if mean > 0 else 0.0
            shape = f"variance/mean {disp:.2f}, {100 * zeros:.0f}% zeros"
            if zeros >= COUNT_ZERO_SHARE or 0.75 <= disp <= 1.33:
                return COUNT, f"{why}, {shape} -> counts ({undo})"
            return (
                REGRESSION,
                f"{why}, {shape} (not count-like) -> regression (pass task='{COUNT}' if they are counts, "
                f"or {undo[5:]})",
            )
        return REGRESSION, f"{why} -> regression ({undo})"
    contiguous = bool(values[-1] - values[0] == k - 1)
    if contiguous and 3 <= k <= 11 and values[0] != 0:
        return (
            ORDINAL,
            f"{k} contiguous integer levels {_list_values(values)} not starting at 0 -> ordinal scale "
            f"(pass task='{MULTICLASS}' if they are unordered classes)",
        )
    hint = ""
    decreasing = bool(counts[0] > counts[1:].max() and np.all(np.diff(counts[: min(k, 4)]) <= 0))
    if values[0] == 0 and k >= 3 and decreasing and counts[0] >= COUNT_ZERO_SHARE * n:
        # few levels, but the shape of a count: 0 the most frequent value, the next ones fewer
        hint = (
            f" (pass task='{COUNT}' if they are counts: {counts[0] / n:.0%} zeros, the most frequent value)"
        )
    return MULTICLASS, f"{k} distinct integer values {_list_values(values)} -> multi-class{hint}"


def _is01(y: NDArray[Any]) -> bool:
    return bool(np.all((y == 0) | (y == 1)))


def _detect(y: NDArray[Any], finite_rows: NDArray[np.bool_]) -> tuple[str, str]:
    """Task and rule from the target's shape and values (rows with NaN/inf excluded)."""
    if y.ndim == 1:
        return _detect_1d(y[finite_rows])
    yf = y[finite_rows]
    if y.ndim == 2:
        cols = y.shape[1]
        if _is01(yf):
            sums = yf.sum(axis=1)
            if np.all(sums == 1):
                return (
                    MULTICLASS,
                    f"0/1 matrix with {cols} columns, every row sums to 1 -> one-hot multi-class",
                )
            return MULTILABEL, f"0/1 matrix with {cols} columns, row sums vary -> multi-label"
        if np.all(yf >= 0) and np.allclose(yf.sum(axis=1), 1.0, atol=1e-6):
            return (
                SOFT_LABELS,
                f"non-negative rows of {cols} entries summing to 1 with fractional entries -> soft labels",
            )
        if cols == 2 and (rule := _survival_rule(yf)) is not None:
            return SURVIVAL, rule
        kind = _type_of_target(yf)
        if kind == "multiclass-multioutput":
            return MULTICLASS, f"integer matrix with {cols} columns -> multi-output multi-class (pooled)"
        return REGRESSION, f"real matrix with {cols} columns -> multi-output regression (pooled)"
    # ndim >= 3: masks
    spatial = "x".join(str(s) for s in y.shape[1:])
    integral = bool(np.all(yf == np.round(yf)))
    if y.ndim >= 4 and y.shape[1] > 1 and _is01(yf) and np.all(yf.sum(axis=1) == 1):
        return SEGMENTATION, f"shape (N, C, ...) = {tuple(y.shape)} with one-hot 0/1 channels -> segmentation"
    if integral:
        values = np.unique(yf)
        if len(values) <= MAX_SEG_CLASSES and values[0] >= 0:
            return (
                SEGMENTATION,
                f"{y.ndim}-D target (N, {spatial}) with a small integer set {_list_values(values)} -> segmentation masks",
            )
    return (
        REGRESSION,
        f"{y.ndim}-D real target (N, {spatial}), not a small integer set -> dense regression (pooled)",
    )


def _survival_rule(y: NDArray[Any]) -> str | None:
    """The detection rule when a 2-column target reads as ``(time, event)`` rows, else ``None``.

    The event column holds only 0 and 1, the time column is non-negative and either not
    integer-valued or has many distinct values (> max(20, 0.05n)): not a 0/1 pair, a count
    with a flag, or a two-output regression with a binary second output of few levels.
    """
    if len(y) < 2 or y.dtype.kind not in "iuf":
        return None
    time, event = y[:, 0], y[:, 1]
    if not _is01(event) or float(time.min()) < 0:
        return None
    distinct = len(np.unique(time))
    limit = max(20.0, 0.05 * len(y))
    if bool(np.all(time == np.round(time))) and distinct <= limit:
        return None
    return (
        f"2 columns: non-negative times ({distinct} distinct) and a 0/1 event indicator "
        f"({float(event.mean()):.0%} events) -> right-censored survival (time, event)"
    )


def _survival_stats(y: NDArray[Any]) -> SurvivalStats:
    time, event = np.asarray(y[:, 0], dtype=np.float64), y[:, 1] == 1
    ev = time[event]
    _, inverse, counts = np.unique(ev, return_inverse=True, return_counts=True)
    tied = float(np.mean(counts[inverse] > 1)) if len(ev) else 0.0
    return SurvivalStats(
        n_events=int(event.sum()),
        event_rate=float(event.mean()),
        censored_share=float(1.0 - event.mean()),
        tied_event_share=tied,
        median_time=float(np.median(time)),
    )


def _sequence_stats(seqs: list[NDArray[np.int64]]) -> SequenceStats:
    lengths = np.array([len(q) for q in seqs])
    every = np.concatenate(seqs) if any(len(q) for q in seqs) else np.zeros(0, dtype=np.int64)
    frames = max(int(len(q) + np.sum(q[1:] == q[:-1])) for q in seqs)
    return SequenceStats(
        n_sequences=len(seqs),
        min_length=int(lengths.min()),
        max_length=int(lengths.max()),
        mean_length=float(lengths.mean()),
        n_symbols=len(np.unique(every)),
        min_label=int(every.min()) if every.size else 0,
        max_label=int(every.max()) if every.size else 0,
        empty_share=float(np.mean(lengths == 0)),
        min_frames=frames,
    )


def _ranking_stats(y: NDArray[Any], group: NDArray[Any] | None) -> RankingStats:
    """Relevance per query: the rows of a (queries, items) matrix padded with -1, or by group ids."""
    if group is not None:
        _, inverse = np.unique(group, return_inverse=True)
        lists = [y[inverse == q] for q in range(int(inverse.max()) + 1)]
        by = "the group ids"
    else:
        rows = y.reshape(len(y), -1) if y.ndim >= 2 else y.reshape(1, -1)
        lists = [r[r >= 0] for r in rows]
        by = "rows, -1 = padding" if y.ndim >= 2 else "one list"
    valid = np.concatenate(lists) if lists else np.zeros(0)
    grades = tuple(_plain(v) for v in np.unique(valid))
    lengths = np.array([len(r) for r in lists])
    return RankingStats(
        n_queries=len(lists),
        mean_list_length=float(lengths.mean()) if len(lengths) else 0.0,
        max_list_length=int(lengths.max()) if len(lengths) else 0,
        grades=grades,
        graded=len(grades) > 2,
        no_relevant_share=float(np.mean([not np.any(r > 0) for r in lists])) if lists else 0.0,
        grouped_by=by,
    )


# ----------------------------------------------------------------------------------------------
# per-task statistics


def _mask_stats(y: NDArray[Any]) -> MaskStats:
    if y.ndim >= 4 and y.shape[1] > 1 and _is01(y) and np.all(y.sum(axis=1) == 1):
        lab = np.argmax(y, axis=1)  # one-hot channels -> integer labels, channel 0 = background
        n_classes = y.shape[1]
    else:
        lab = y[:, 0] if (y.ndim >= 4 and y.shape[1] == 1) else y
        lab = np.asarray(lab).astype(np.int64)
        n_classes = int(lab.max()) + 1 if lab.size else 1
        n_classes = max(n_classes, 2)
    n = lab.shape[0]
    total = lab.size
    vol = np.bincount(lab.ravel(), minlength=n_classes).astype(np.float64)
    fg = tuple(float(v / total) for v in vol[1:])
    per_mask_fg = (lab.reshape(n, -1) != 0).any(axis=1)
    present = vol[1:][vol[1:] > 0]
    ratio = float(present.max() / present.min()) if len(present) >= 2 else None
    return MaskStats(
        n_classes=int(n_classes),
        foreground_fraction=fg,
        empty_share=float(1.0 - per_mask_fg.mean()),
        volume_ratio=ratio,
    )


def _labels_of(y: NDArray[Any]) -> NDArray[Any]:
    """1-D class labels: the vector itself, or argmax of a one-hot / soft matrix."""
    if y.ndim == 1:
        return y
    if y.ndim == 2 and y.shape[1] == 1:
        return y[:, 0]
    if y.ndim == 2:
        return np.asarray(np.argmax(y, axis=1))
    return np.asarray(y.reshape(len(y), -1)[:, 0])


def _resolve_task(task: Any) -> str:
    valid = _valid_tasks()
    name = str(getattr(task, "value", task))
    if name not in valid:
        raise LosscraftError(f"profile: unknown task {task!r}; valid tasks are {', '.join(valid)}")
    return name


def profile(
    target: Any,
    *,
    task: Any = None,
    features: Any = None,
    group: Any = None,
    max_rows: int = 5000,
    seed: int = 0,
) -> Profile:
    """Profile a target (and optionally features): task, statistics, warnings.

    Args:
        target: labels, values, indicator matrix or masks (NumPy, torch, list, pandas/polars Series,
            single-column DataFrame).
        task: override the detected task (a ``Task`` or its value string).
        features: the samples' features ``X`` (rows aligned with ``target``); enables the RANSAC pilot
            fit (regression residuals, heteroscedasticity), the variance-power fit of non-negative
            targets and the kNN label-noise hint.
        group: query ids, one per sample, for a ranking target of graded relevance (the task is
            then ``ranking``). Without it a ranking target (``task="ranking"``) is a
            ``(queries, items)`` matrix with ``-1`` as padding. A survival target is an ``(N, 2)``
            array of ``(time, event)`` rows (detected); label sequences for CTC are a list of 1-D
            integer arrays (detected when their lengths differ).
        max_rows: rows used by the costly statistics (pilot fit, kNN); more rows are subsampled.
        seed: seed of the subsample and of RANSAC.

    Returns:
        A :class:`Profile`.

    Raises:
        LosscraftError: non-numeric, empty or single-sample targets, mismatched features, unknown task.
    """
    if max_rows < 2:
        raise LosscraftError(f"profile: 'max_rows' must be at least 2, got {max_rows!r}")
    given = _resolve_task(task) if task is not None else None
    seqs = as_sequences(target)
    if seqs is not None and (given == SEQUENCE or (given is None and len({len(q) for q in seqs}) > 1)):
        return _sequence_profile(seqs, given)
    if given == SEQUENCE:
        raise LosscraftError(
            f"profile: task={SEQUENCE!r} needs a list of 1-D integer label sequences, got {type(target).__name__}"
        )
    y = as_target(target)
    if y.ndim == 2 and y.shape[1] == 1:  # a column vector, e.g. a (N, 1) BCE target
        y = y[:, 0]
    n = int(y.shape[0])
    x = as_features(features, n) if features is not None else None
    warn: list[str] = []
    groups: NDArray[Any] | None = None
    if group is not None:
        groups = np.asarray(as_target(group, name="group"))
        if groups.ndim != 1 or len(groups) != n:
            raise LosscraftError(
                f"profile: 'group' must hold one query id per sample ({n}), got shape {tuple(groups.shape)}"
            )
        if y.ndim != 1:
            raise LosscraftError(
                f"profile: with 'group', the target is one relevance per sample, got shape {tuple(y.shape)}"
            )
        if task is None:
            task = RANKING
        elif _resolve_task(task) != RANKING:
            raise LosscraftError(f"profile: 'group' (query ids) applies to task='ranking', not {task!r}")

    finite_rows = np.isfinite(y.reshape(n, -1)).all(axis=1) if y.dtype.kind == "f" else np.ones(n, dtype=bool)
    n_invalid = int(n - finite_rows.sum())
    if n_invalid:
        bad = np.flatnonzero(~finite_rows)
        shown = ", ".join(str(int(i)) for i in bad[:5]) + (", ..." if len(bad) > 5 else "")
        warn.append(
            f"{n_invalid} of {n} targets are NaN or inf (rows {shown}); they are excluded from the statistics"
        )
    n_ok = n - n_invalid
    if n_ok == 0:
        raise LosscraftError(f"profile: all {n} targets are NaN or inf; nothing to profile")

    if task is not None:
        task_name = _resolve_task(task)
        rule = f"given by task={task_name!r}" if given is not None else "query ids given by group="
    else:
        if n_ok < 2:
            raise LosscraftError(
                f"profile: 'target' has 1 valid sample after excluding {n_invalid} NaN/inf; at least 2 are needed"
            )
        task_name, rule = _detect(y, finite_rows)

    yv = y[finite_rows]
    rows_ok = finite_rows.copy()
    if x is not None:
        xfin = np.isfinite(x).all(axis=1)
        n_badx = int((finite_rows & ~xfin).sum())
        if n_badx:
            warn.append(f"{n_badx} rows have NaN or inf features; they are left out of the pilot fit and kNN")
        rows_ok &= xfin

    classes: ClassStats | None = None
    multilabel: MultilabelStats | None = None
    masks: MaskStats | None = None
    regression: RegressionStats | None = None
    label_noise: float | None = None
    noise_chance: float | None = None
    hetero: float | None = None
    subsample: int | None = None
    ranking: RankingStats | None = None
    survival: SurvivalStats | None = None

    def pick(m: int) -> NDArray[np.intp]:
        nonlocal subsample
        if m <= max_rows:
            return np.arange(m)
        subsample = max_rows
        if max_rows < HEAVY_SUBSAMPLE * m:
            warn.append(
                f"the pilot fit and kNN use a random subsample of {max_rows} of {m} rows "
                f"({max_rows / m:.1%}); raise max_rows for more precise hints"
            )
        rng = np.random.default_rng(seed)
        return np.sort(rng.choice(m, size=max_rows, replace=False))

    if task_name in _CLASS_TASKS or (task_name == MULTICLASS and yv.ndim == 2):
        lab = _labels_of(yv)
        if yv.ndim == 2 and yv.shape[1] > 1:
            cnt_all = np.bincount(lab.astype(np.int64), minlength=yv.shape[1])
            absent = np.flatnonzero(cnt_all == 0)
            if len(absent):
                warn.append(f"{len(absent)} one-hot column(s) never set: {_list_values(absent)}")
            values = np.flatnonzero(cnt_all > 0)
            counts = cnt_all[values]
        else:
            values, counts = np.unique(lab, return_counts=True)
            if len(values) > max(20.0, 0.05 * len(lab)):
                warn.append(f"{len(values)} distinct labels: is this really classification?")
        classes = _class_stats(values, counts)
        warn.extend(_class_warnings(classes))
        if x is not None:
            lab_all = _labels_of(y)
            sel = np.flatnonzero(rows_ok)
            sub = sel[pick(len(sel))]
            knn = _knn_disagreement(x[sub], np.asarray(lab_all[sub]), seed)
            if knn is not None:
                label_noise, noise_chance = knn
                if label_noise > 0.1 and label_noise >= NOISE_CHANCE_RATIO * noise_chance:
                    warn.append(
                        f"the features barely predict the label: {label_noise:.0%} of samples disagree "
                        f"with most of their {KNN_K} nearest neighbours, {noise_chance:.0%} with shuffled "
                        "labels; the label-noise hint cannot tell noise from class overlap here"
                    )
    elif task_name == MULTILABEL:
        if yv.ndim != 2 or not _is01(yv):
            raise LosscraftError(
                f"profile: task={task_name!r} needs a 2-D 0/1 indicator matrix, got shape {tuple(y.shape)}"
            )
        rates = yv.mean(axis=0)
        card = float(yv.sum(axis=1).mean())
        multilabel = MultilabelStats(
            n_labels=int(yv.shape[1]),
            positive_rates=tuple(float(r) for r in rates),
            cardinality=card,
            density=card / yv.shape[1],
        )
        rare = np.flatnonzero(yv.sum(axis=0) < MIN_CLASS_SAMPLES)
        if len(rare):
            warn.append(
                f"{len(rare)} label(s) with fewer than {MIN_CLASS_SAMPLES} positives: {_list_values(rare)}"
            )
    elif task_name in _SOFT_TASKS:
        if yv.ndim != 2:
            raise LosscraftError(
                f"profile: task={task_name!r} needs a 2-D (N, C) matrix of distributions, got shape {tuple(y.shape)}"
            )
        lab = np.argmax(yv, axis=1)
        cnt_all = np.bincount(lab, minlength=yv.shape[1])
        values = np.flatnonzero(cnt_all > 0)
        classes = _class_stats(values, cnt_all[values])
        warn.extend(_class_warnings(classes))
    elif task_name == RANKING:
        valid = yv[yv >= 0] if groups is None else yv
        if valid.size == 0 or (groups is not None and float(yv.min()) < 0):
            raise LosscraftError(
                "profile: task='ranking' needs non-negative relevance grades (-1 only as padding of a "
                f"(queries, items) matrix), got values in [{_fmt(float(yv.min()))}, {_fmt(float(yv.max()))}]"
            )
        ranking = _ranking_stats(yv, None if groups is None else groups[finite_rows])
        if ranking.no_relevant_share > 0:
            warn.append(
                f"{ranking.no_relevant_share:.0%} of the queries have no relevant item: they carry no "
                "ranking signal"
            )
        if groups is None and yv.ndim == 1:
            warn.append("a 1-D ranking target without group= is read as a single query")
    elif task_name == SURVIVAL:
        if yv.ndim != 2 or yv.shape[1] != 2 or not _is01(yv[:, 1]) or float(yv[:, 0].min()) < 0:
            raise LosscraftError(
                "profile: task='survival' needs (N, 2) rows (time >= 0, event in {0, 1}), got shape "
                f"{tuple(y.shape)}"
            )
        survival = _survival_stats(yv)
        if survival.n_events == 0:
            warn.append("no event is observed (every row is censored): the partial likelihood is empty")
    elif task_name == SEGMENTATION:
        if yv.ndim < 2 or not np.all(yv == np.round(yv)) or yv.min() < 0:
            raise LosscraftError(
                f"profile: task={task_name!r} needs non-negative integer masks shaped (N, H, W[, D]) "
                f"or one-hot (N, C, H, W), got shape {tuple(y.shape)}"
            )
        masks = _mask_stats(yv)
        if not any(masks.foreground_fraction):
            warn.append("no mask has any foreground pixel")
    else:  # regression family (also quantile regression and anything else real-valued)
        flat = np.asarray(yv, dtype=np.float64).reshape(-1)
        residuals = flat - float(np.median(flat))
        power_rows: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.intp]] | None = None
        source = "targets"
        if x is not None and yv.ndim == 1:
            sel = np.flatnonzero(rows_ok)
            sub = pick(len(sel))
            ysel = np.asarray(y[sel], dtype=np.float64)
            power_rows = (x[sel], ysel, sub)
            fit = _ransac_residuals(x[sel], ysel, sub, seed)
            if isinstance(fit, str):
                warn.append(f"the RANSAC pilot fit failed ({fit}); residuals are taken around the median")
            else:
                res_sel, fitted = fit
                residuals = res_sel  # rows with usable features; the location stats keep every target
                source = (
                    f"RANSAC pilot fit on {len(sub)} rows"
                    if subsample
                    else f"RANSAC pilot fit on all {len(sub)} rows"
                )
                # on the bulk: flagged outliers would make any fit look heteroscedastic
                z, _, _ = _robust_z(res_sel[sub])
                bulk = sub[np.abs(z) <= MODIFIED_Z]
                hetero = _spearman(np.abs(res_sel[bulk]), fitted[bulk]) if len(bulk) > 2 else None
        elif x is not None:
            warn.append(
                "features are ignored for a multi-output target; residuals are taken around the median"
            )
        regression = _regression_stats(flat, residuals, source)
        if regression.nonnegative and regression.mean > 0:
            if power_rows is not None:
                power, how = _variance_power(*power_rows, seed)
            else:
                power, how = None, "no features: the variance-mean relation needs fitted means"
            regression = dataclasses.replace(regression, variance_power=power, variance_power_from=how)
        if regression.minimum == regression.maximum:
            warn.append(f"the target is constant ({_fmt(regression.minimum)}): there is nothing to learn")
        if task_name == COUNT and not (regression.nonnegative and regression.integer_valued):
            warn.append("task is count_regression but the target is not made of non-negative integers")
        if task_name == PROPORTION and not (regression.minimum >= 0 and regression.maximum <= 1):
            warn.append("task is proportion_regression but the target leaves [0, 1]")

    return Profile(
        task=task_name,
        task_rule=rule,
        n=n,
        n_invalid=n_invalid,
        warnings=tuple(warn),
        classes=classes,
        multilabel=multilabel,
        masks=masks,
        regression=regression,
        label_noise=label_noise,
        label_noise_chance=noise_chance,
        heteroscedasticity=hetero,
        subsample=subsample,
        ranking=ranking,
        survival=survival,
    )


def _sequence_profile(seqs: list[NDArray[np.int64]], given: str | None) -> Profile:
    stats = _sequence_stats(seqs)
    warn: list[str] = []
    if stats.min_label == 0 and stats.n_symbols:
        warn.append(
            "label 0 appears in the sequences: CTC reserves index 0 for the blank by default; shift the "
            "labels by 1 or set blank to an unused index"
        )
    if stats.min_label < 0:
        warn.append(f"negative labels (down to {stats.min_label}): CTC needs class indices >= 0")
    if stats.empty_share:
        warn.append(f"{stats.empty_share:.0%} of the sequences are empty")
    rule = (
        f"given by task={given!r}"
        if given is not None
        else f"a list of {stats.n_sequences} integer sequences of lengths {stats.min_length}-{stats.max_length} "
        "-> label sequences (CTC)"
    )
    return Profile(
        task=SEQUENCE,
        task_rule=rule,
        n=stats.n_sequences,
        n_invalid=0,
        warnings=tuple(warn),
        sequence=stats,
    )
