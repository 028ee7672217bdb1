r"""Metrics that score a model's test-fold predictions, by task, for :func:`losscraft.compare`.

A fitted model's output on a test fold is first put in the *task's* terms, a
:class:`Prediction` (a point prediction, quantiles, a Gaussian mean and variance, or class
probabilities), so every candidate loss is scored on the same scale whatever its head.
:data:`METRICS` lists the metrics, each with its direction (``higher_is_better``), the
prediction kinds it applies to and the :class:`Prediction` field it reads; :func:`compute`
evaluates them. Metrics scikit-learn has are computed by scikit-learn.

**Regression** (kinds ``regression``, ``quantiles``, ``gaussian``; on the point prediction
$\hat y$): ``mae`` $= \frac1n\sum|y_i-\hat y_i|$, ``rmse`` $= \sqrt{\frac1n\sum(y_i-\hat y_i)^2}$,
``median_ae`` $= \operatorname{median}|y_i-\hat y_i|$.

**Quantiles** (levels $\tau_1 < \dots < \tau_Q$, predictions $q_{ij}$): ``pinball``
$= \frac1Q\sum_j \frac1n\sum_i \rho_{\tau_j}(y_i - q_{ij})$ with
$\rho_\tau(r) = \max(\tau r, (\tau-1) r)$ (Koenker & Bassett 1978), a proper scoring rule for the
quantiles (Gneiting 2011). With $Q \ge 2$: ``coverage`` $= \frac1n\sum[q_{i1} \le y_i \le q_{iQ}]$
against the nominal $\tau_Q - \tau_1$, ``width`` $= \frac1n\sum(q_{iQ}-q_{i1})$; with one level
``coverage`` $= \frac1n\sum[y_i \le q_{i1}]$ against the nominal $\tau_1$.
``coverage_error`` $= |\text{coverage} - \text{nominal}|$. Coverage and width alone do not rank
models (a wider interval covers more), so their :class:`MetricInfo` has ``ranks=False``;
``pinball`` and ``coverage_error`` do.

**Gaussian** (mean $\mu$, variance $\sigma^2$): ``nll``
$= \frac1n\sum \tfrac12\left(\log 2\pi\sigma_i^2 + (y_i-\mu_i)^2/\sigma_i^2\right)$.

**Binary and multiclass** (probabilities $p_{ic}$; predicted class $\hat c_i = \arg\max_c p_{ic}$,
first column on ties, i.e. ``P(y=1) > 0.5`` for binary): ``accuracy``, ``balanced_accuracy``
(mean per-class recall, Brodersen et al. 2010), ``macro_f1``, ``minority_recall`` (recall of the
least frequent class in ``y_true``; ties: the first in ``classes``), ``log_loss``
$= -\frac1n\sum\log p_{i,y_i}$, ``brier`` (scikit-learn's ``brier_score_loss``: binary
$\frac1n\sum(p_i - y_i)^2$ in $[0, 1]$; multiclass Brier's (1950) original
$\frac1n\sum_i\sum_c(p_{ic} - [y_i = c])^2$ in $[0, 2]$), ``roc_auc`` (binary; multiclass:
one-vs-rest macro average) and ``ece``, the expected calibration error
(:func:`expected_calibration_error`; scikit-learn has none).

**Multilabel** (probabilities $p_{il}$ per label; a label is predicted when $p_{il} > 0.5$):
``macro_f1``, ``map`` (mean over labels of average precision), ``roc_auc`` (macro), ``log_loss``
and ``brier`` (the binary forms, averaged over labels). Labels whose test fold has only one
value are left out of ``map`` and ``roc_auc`` (the metric is undefined for them).

A metric that is undefined on a fold (``roc_auc`` with one class in ``y_true``) is NaN.

References:
    R. Koenker, G. Bassett (1978). Regression Quantiles. Econometrica 46(1).
    https://doi.org/10.2307/1913643

    T. Gneiting (2011). Making and Evaluating Point Forecasts. JASA 106(494).
    https://doi.org/10.1198/jasa.2011.r10138

    G. W. Brier (1950). Verification of forecasts expressed in terms of probability.
    Monthly Weather Review 78(1). https://doi.org/10.1175/1520-0493(1950)078<0001:VOFEIT>2.0.CO;2

    K. H. Brodersen, C. S. Ong, K. E. Stephan, J. M. Buhmann (2010). The balanced accuracy and
    its posterior distribution. ICPR. https://doi.org/10.1109/ICPR.2010.764

    M. P. Naeini, G. F. Cooper, M. Hauskrecht (2015). Obtaining Well Calibrated Probabilities
    Using Bayesian Binning. AAAI. https://doi.org/10.1609/aaai.v29i1.9602

    C. Guo, G. Pleiss, Y. Sun, K. Q. Weinberger (2017). On Calibration of Modern Neural
    Networks. ICML. https://proceedings.mlr.press/v70/guo17a.html
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from losscraft._core.errors import LosscraftError

__all__ = [
    "KINDS",
    "METRICS",
    "MetricInfo",
    "Prediction",
    "compute",
    "default_metric",
    "expected_calibration_error",
    "metrics_for",
]

Kind = Literal["regression", "quantiles", "gaussian", "binary", "multiclass", "multilabel"]
KINDS: tuple[str, ...] = ("regression", "quantiles", "gaussian", "binary", "multiclass", "multilabel")

FloatArray = NDArray[np.float64]


# --------------------------------------------------------------------------- predictions
@dataclass(frozen=True, eq=False)
class Prediction:
    """What a fitted model predicted on a test fold, in the task's terms.

    Attributes:
        kind: ``"regression"``, ``"quantiles"``, ``"gaussian"``, ``"binary"``, ``"multiclass"``
            or ``"multilabel"``.
        y_true: the test targets: ``(N,)`` values or class labels; ``(N, L)`` 0/1 for multilabel.
        point: ``(N,)`` point prediction (regression, gaussian mean; for quantiles the median
            column when 0.5 is a level, else the mean over levels; derived when ``None``).
        quantiles: ``(N, Q)`` predicted quantiles, columns in the order of ``levels``.
        levels: the quantile levels, sorted ascending.
        variance: ``(N,)`` predicted variance (gaussian).
        proba: binary ``(N,)`` ``P(y = classes[1])``; multiclass ``(N, C)`` with columns in the order
            of ``classes``; multilabel ``(N, L)``.
        classes: class labels in column order (binary: ``(negative, positive)``); ``None`` means
            ``0 .. C-1`` (binary: ``(0, 1)``).

    Raises:
        LosscraftError: an unknown kind, a missing field for the kind, or mismatched shapes.
    """

    kind: str
    y_true: np.ndarray[Any, Any]
    point: np.ndarray[Any, Any] | None = None
    quantiles: np.ndarray[Any, Any] | None = None
    levels: tuple[float, ...] = ()
    variance: np.ndarray[Any, Any] | None = None
    proba: np.ndarray[Any, Any] | None = None
    classes: tuple[Any, ...] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise LosscraftError(f"Prediction: unknown kind {self.kind!r}; kinds are {', '.join(KINDS)}")
        n = len(self.y_true)
        if n == 0:
            raise LosscraftError("Prediction: y_true is empty")

        def check(name: str, arr: np.ndarray[Any, Any] | None, ndim: int) -> None:
            if arr is None:
                raise LosscraftError(f"Prediction: kind {self.kind!r} needs {name!r}")
            if arr.ndim != ndim or arr.shape[0] != n:
                want = f"({n},)" if ndim == 1 else f"({n}, k)"
                raise LosscraftError(
                    f"Prediction: {name!r} has shape {arr.shape}, expected {want} for kind {self.kind!r}"
                )

        if self.kind in ("regression", "gaussian"):
            check("point", self.point, 1)
        if self.kind == "gaussian":
            check("variance", self.variance, 1)
            assert self.variance is not None
            if not np.all(self.variance > 0):
                raise LosscraftError("Prediction: 'variance' must be positive")
        if self.kind == "quantiles":
            check("quantiles", self.quantiles, 2)
            assert self.quantiles is not None
            if len(self.levels) != self.quantiles.shape[1]:
                raise LosscraftError(
                    f"Prediction: {len(self.levels)} levels for {self.quantiles.shape[1]} quantile columns"
                )
            if list(self.levels) != sorted(self.levels) or not all(0 < t < 1 for t in self.levels):
                raise LosscraftError(
                    f"Prediction: levels must be sorted and lie in (0, 1), got {self.levels}"
                )
            if self.point is not None:
                check("point", self.point, 1)
        if self.kind == "binary":
            check("proba", self.proba, 1)
            if self.classes is not None and len(self.classes) != 2:
                raise LosscraftError(
                    f"Prediction: binary 'classes' must be (negative, positive), got {self.classes}"
                )
        if self.kind in ("multiclass", "multilabel"):
            check("proba", self.proba, 2)
            if self.kind == "multilabel" and (self.y_true.ndim != 2 or self.y_true.shape != self.proba.shape):  # type: ignore[union-attr]
                raise LosscraftError("Prediction: multilabel 'y_true' must be (N, L) like 'proba'")
            if self.classes is not None and len(self.classes) != self.proba.shape[1]:  # type: ignore[union-attr]
                raise LosscraftError(
                    f"Prediction: {len(self.classes)} classes for {self.proba.shape[1]} probability columns"  # type: ignore[union-attr]
                )

    @property
    def labels(self) -> tuple[Any, ...]:
        """Class labels in column order (binary ``(negative, positive)``); defaults ``0 .. C-1``."""
        if self.classes is not None:
            return tuple(self.classes)
        if self.kind == "binary":
            return (0, 1)
        assert self.proba is not None
        return tuple(range(self.proba.shape[1]))

    def point_estimate(self) -> FloatArray:
        """The point prediction: ``point``, else the median column, else the mean over quantile levels."""
        if self.point is not None:
            return np.asarray(self.point, dtype=np.float64)
        if self.quantiles is None:
            raise LosscraftError(f"Prediction: kind {self.kind!r} has no point prediction")
        q = np.asarray(self.quantiles, dtype=np.float64)
        for j, t in enumerate(self.levels):
            if abs(t - 0.5) < 1e-12:
                return q[:, j]
        return np.asarray(q.mean(axis=1), dtype=np.float64)

    def class_proba(self) -> FloatArray:
        """``(N, C)`` probabilities per class in ``labels`` order (binary: ``[1 - p, p]``), rows summing to 1."""
        if self.kind not in ("binary", "multiclass") or self.proba is None:
            raise LosscraftError(f"Prediction: kind {self.kind!r} has no class probabilities")
        p = np.asarray(self.proba, dtype=np.float64)
        if self.kind == "binary":
            p = np.clip(p, 0.0, 1.0)
            return np.column_stack([1.0 - p, p])
        p = np.clip(p, 0.0, None)
        return np.asarray(p / p.sum(axis=1, keepdims=True), dtype=np.float64)

    def predicted_labels(self) -> np.ndarray[Any, Any]:
        """The predicted class per sample (argmax, first column on ties); multilabel: ``proba > 0.5``."""
        if self.kind == "multilabel":
            assert self.proba is not None
            return np.asarray(self.proba > 0.5, dtype=np.int64)
        idx = np.argmax(self.class_proba(), axis=1)
        out: np.ndarray[Any, Any] = np.asarray(self.labels)[idx]
        return out


# --------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class MetricInfo:
    """One metric: its key, direction, the prediction kinds it scores and the field it reads.

    Attributes:
        name: the lowercase key, as in :data:`METRICS`.
        higher_is_better: the direction in which a model is better.
        kinds: the :class:`Prediction` kinds the metric applies to.
        needs: the :class:`Prediction` field it reads (``"point"``, ``"quantiles"``,
            ``"variance"``, ``"proba"``).
        description: one line for tables and reports.
        ranks: ``False`` for descriptive metrics that do not rank models on their own
            (``coverage``, ``width``); verdicts should not call a model better on them.
    """

    name: str
    higher_is_better: bool
    kinds: frozenset[str]
    needs: str
    description: str
    ranks: bool = True
    fn: Callable[[Prediction], float] = field(repr=False, compare=False, default=lambda p: math.nan)


def _sk() -> Any:
    import sklearn.metrics

    return sklearn.metrics


def _quiet(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> float:
    """Call a scikit-learn metric with its warnings silenced; NaN when it is undefined on this fold."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return float(fn(*args, **kwargs))
        except ValueError:
            return math.nan


def _y(pred: Prediction) -> FloatArray:
    return np.asarray(pred.y_true, dtype=np.float64)


def _mae(p: Prediction) -> float:
    return _quiet(lambda: _sk().mean_absolute_error(_y(p), p.point_estimate()))


def _rmse(p: Prediction) -> float:
    return math.sqrt(_quiet(lambda: _sk().mean_squared_error(_y(p), p.point_estimate())))


def _median_ae(p: Prediction) -> float:
    return _quiet(lambda: _sk().median_absolute_error(_y(p), p.point_estimate()))


def _q(p: Prediction) -> FloatArray:
    assert p.quantiles is not None
    return np.asarray(p.quantiles, dtype=np.float64)


def _pinball(p: Prediction) -> float:
    q, y = _q(p), _y(p)
    sk = _sk()
    return float(np.mean([_quiet(sk.mean_pinball_loss, y, q[:, j], alpha=t) for j, t in enumerate(p.levels)]))


def _coverage_nominal(p: Prediction) -> tuple[float, float]:
    q, y = _q(p), _y(p)
    if q.shape[1] == 1:
        return float(np.mean(y <= q[:, 0])), p.levels[0]
    return float(np.mean((q[:, 0] <= y) & (y <= q[:, -1]))), p.levels[-1] - p.levels[0]


def _coverage(p: Prediction) -> float:
    return _coverage_nominal(p)[0]


def _coverage_error(p: Prediction) -> float:
    cov, nominal = _coverage_nominal(p)
    return abs(cov - nominal)


def _width(p: Prediction) -> float:
    q = _q(p)
    return float(np.mean(q[:, -1] - q[:, 0])) if q.shape[1] >= 2 else math.nan


def _nll(p: Prediction) -> float:
    assert p.variance is not None
    var = np.asarray(p.variance, dtype=np.float64)
    r = _y(p) - p.point_estimate()
    return float(np.mean(0.5 * (np.log(2.0 * np.pi * var) + r * r / var)))


def _yl(p: Prediction) -> np.ndarray[Any, Any]:
    return np.asarray(p.y_true)


def _accuracy(p: Prediction) -> float:
    if p.kind == "multilabel":  # not registered for multilabel; kept total for direct calls
        return math.nan
    return _quiet(lambda: _sk().accuracy_score(_yl(p), p.predicted_labels()))


def _balanced_accuracy(p: Prediction) -> float:
    return _quiet(lambda: _sk().balanced_accuracy_score(_yl(p), p.predicted_labels()))


def _macro_f1(p: Prediction) -> float:
    if p.kind == "multilabel":
        return _quiet(
            lambda: _sk().f1_score(
                np.asarray(p.y_true, dtype=np.int64), p.predicted_labels(), average="macro", zero_division=0
            )
        )
    return _quiet(
        lambda: _sk().f1_score(
            _yl(p), p.predicted_labels(), labels=list(p.labels), average="macro", zero_division=0
        )
    )


def _minority_class(p: Prediction) -> Any:
    y = _yl(p)
    counts = [(int(np.sum(y == c)), i) for i, c in enumerate(p.labels)]
    present = [(n, i) for n, i in counts if n > 0]
    return p.labels[min(present)[1]]


def _minority_recall(p: Prediction) -> float:
    c = _minority_class(p)
    return _quiet(
        lambda: _sk().recall_score(_yl(p), p.predicted_labels(), labels=[c], average="macro", zero_division=0)
    )


def _multilabel_columns(p: Prediction) -> tuple[np.ndarray[Any, Any], FloatArray]:
    assert p.proba is not None
    return np.asarray(p.y_true, dtype=np.int64), np.clip(np.asarray(p.proba, dtype=np.float64), 0.0, 1.0)


def _log_loss(p: Prediction) -> float:
    sk = _sk()
    if p.kind == "multilabel":
        y, pr = _multilabel_columns(p)
        return float(
            np.mean(
                [
                    _quiet(sk.log_loss, y[:, j], np.column_stack([1 - pr[:, j], pr[:, j]]), labels=[0, 1])
                    for j in range(y.shape[1])
                ]
            )
        )
    return _quiet(lambda: sk.log_loss(_yl(p), p.class_proba(), labels=list(p.labels)))


def _brier(p: Prediction) -> float:
    sk = _sk()
    if p.kind == "multilabel":
        y, pr = _multilabel_columns(p)
        return float(
            np.mean([_quiet(sk.brier_score_loss, y[:, j], pr[:, j], pos_label=1) for j in range(y.shape[1])])
        )
    if p.kind == "binary":
        return _quiet(lambda: sk.brier_score_loss(_yl(p), p.class_proba()[:, 1], pos_label=p.labels[1]))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(sk.brier_score_loss(_yl(p), p.class_proba(), labels=list(p.labels)))
    except TypeError:  # scikit-learn < 1.7: binary only; the same sum over classes by hand
        onehot = (_yl(p)[:, None] == np.asarray(p.labels, dtype=object)[None, :]).astype(np.float64)
        return float(np.mean(np.sum((p.class_proba() - onehot) ** 2, axis=1)))


def _two_valued(y: np.ndarray[Any, Any]) -> list[int]:
    return [j for j in range(y.shape[1]) if 0 < int(y[:, j].sum()) < y.shape[0]]


def _roc_auc(p: Prediction) -> float:
    sk = _sk()
    if p.kind == "multilabel":
        y, pr = _multilabel_columns(p)
        cols = _two_valued(y)
        return (
            _quiet(lambda: sk.roc_auc_score(y[:, cols], pr[:, cols], average="macro")) if cols else math.nan
        )
    if p.kind == "binary":
        return _quiet(lambda: sk.roc_auc_score(_yl(p) == p.labels[1], p.class_proba()[:, 1]))
    return _quiet(
        lambda: sk.roc_auc_score(
            _yl(p), p.class_proba(), multi_class="ovr", average="macro", labels=list(p.labels)
        )
    )


def _map(p: Prediction) -> float:
    y, pr = _multilabel_columns(p)
    cols = [j for j in range(y.shape[1]) if int(y[:, j].sum()) > 0]
    if not cols:
        return math.nan
    return _quiet(lambda: _sk().average_precision_score(y[:, cols], pr[:, cols], average="macro"))


def _class_index(p: Prediction) -> np.ndarray[Any, Any]:
    y = _yl(p)
    index = {c: i for i, c in enumerate(p.labels)}
    try:
        return np.asarray([index[v] for v in y.tolist()], dtype=np.int64)
    except KeyError as exc:
        raise LosscraftError(
            f"Prediction: y_true holds {exc.args[0]!r}, not one of the classes {p.labels}"
        ) from None


def _ece(p: Prediction) -> float:
    return expected_calibration_error(p.class_proba(), _class_index(p))


_REG = frozenset({"regression", "quantiles", "gaussian"})
_CLS = frozenset({"binary", "multiclass"})
_ML = frozenset({"multilabel"})

METRICS: dict[str, MetricInfo] = {
    m.name: m
    for m in (
        MetricInfo("mae", False, _REG, "point", "mean absolute error", fn=_mae),
        MetricInfo("rmse", False, _REG, "point", "root mean squared error", fn=_rmse),
        MetricInfo("median_ae", False, _REG, "point", "median absolute error", fn=_median_ae),
        MetricInfo(
            "pinball",
            False,
            frozenset({"quantiles"}),
            "quantiles",
            "pinball loss, mean over levels",
            fn=_pinball,
        ),
        MetricInfo(
            "coverage",
            True,
            frozenset({"quantiles"}),
            "quantiles",
            "share of targets inside [lowest, highest] quantile (one level: below it)",
            ranks=False,
            fn=_coverage,
        ),
        MetricInfo(
            "coverage_error",
            False,
            frozenset({"quantiles"}),
            "quantiles",
            "|coverage - nominal coverage|",
            fn=_coverage_error,
        ),
        MetricInfo(
            "width",
            False,
            frozenset({"quantiles"}),
            "quantiles",
            "mean width of the [lowest, highest] quantile interval",
            ranks=False,
            fn=_width,
        ),
        MetricInfo(
            "nll", False, frozenset({"gaussian"}), "variance", "Gaussian negative log-likelihood", fn=_nll
        ),
        MetricInfo("accuracy", True, _CLS, "proba", "accuracy of the most probable class", fn=_accuracy),
        MetricInfo("balanced_accuracy", True, _CLS, "proba", "mean per-class recall", fn=_balanced_accuracy),
        MetricInfo("macro_f1", True, _CLS | _ML, "proba", "F1 averaged over classes / labels", fn=_macro_f1),
        MetricInfo(
            "minority_recall", True, _CLS, "proba", "recall of the least frequent class", fn=_minority_recall
        ),
        MetricInfo("log_loss", False, _CLS | _ML, "proba", "log loss (cross-entropy)", fn=_log_loss),
        MetricInfo("brier", False, _CLS | _ML, "proba", "Brier score", fn=_brier),
        MetricInfo(
            "roc_auc", True, _CLS | _ML, "proba", "area under the ROC curve (one-vs-rest macro)", fn=_roc_auc
        ),
        MetricInfo("map", True, _ML, "proba", "mean average precision over labels", fn=_map),
        MetricInfo("ece", False, _CLS, "proba", "expected calibration error, 15 bins", fn=_ece),
    )
}


def _applies(info: MetricInfo, pred: Prediction) -> bool:
    if pred.kind not in info.kinds:
        return False
    return not (info.name == "width" and pred.quantiles is not None and pred.quantiles.shape[1] < 2)


def metrics_for(pred: Prediction | str) -> list[str]:
    """The metric keys that apply to a prediction (or a prediction kind), in :data:`METRICS` order."""
    if isinstance(pred, str):
        return [name for name, info in METRICS.items() if pred in info.kinds]
    return [name for name, info in METRICS.items() if _applies(info, pred)]


def compute(pred: Prediction, names: Sequence[str] | None = None) -> dict[str, float]:
    """Score a test-fold prediction.

    Args:
        pred: the prediction.
        names: metric keys (see :data:`METRICS`); default every metric that applies to ``pred``.

    Returns:
        ``{name: value}`` in the order asked; NaN where a metric is undefined on this fold.

    Raises:
        LosscraftError: an unknown metric or one that does not apply to the prediction's kind.
    """
    if names is None:
        names = metrics_for(pred)
    out: dict[str, float] = {}
    for name in names:
        key = name.strip().lower()
        info = METRICS.get(key)
        if info is None:
            raise LosscraftError(f"compare: unknown metric {name!r}; metrics are {', '.join(METRICS)}")
        if not _applies(info, pred):
            valid = ", ".join(metrics_for(pred))
            raise LosscraftError(
                f"compare: metric {key!r} does not apply to {pred.kind} predictions; use one of {valid}"
            )
        out[key] = info.fn(pred)
    return out


# --------------------------------------------------------------------------- calibration
def expected_calibration_error(
    proba: np.ndarray[Any, Any], y: np.ndarray[Any, Any], n_bins: int = 15
) -> float:
    r"""Expected calibration error of the predicted class's probability (Naeini et al. 2015; Guo et al. 2017).

    The confidence of sample $i$ is the probability of its predicted class,
    $\hat p_i = \max_c p_{ic}$ (binary ``(N,)`` input: $\max(p_i, 1 - p_i)$, predicted class 1
    when $p_i > 0.5$), and it is correct when that class is $y_i$. The confidences fall in
    ``n_bins`` equal-width, right-closed bins $B_b = ((b-1)/M, b/M]$, $b = 1..M$ (a confidence of
    exactly 0 goes to the first bin), and

    $$\mathrm{ECE} = \sum_b \frac{|B_b|}{n}\,\bigl|\operatorname{acc}(B_b) - \operatorname{conf}(B_b)\bigr|,$$

    with $\operatorname{acc}$ the share correct and $\operatorname{conf}$ the mean confidence in the bin
    (empty bins contribute 0).

    Args:
        proba: ``(N, C)`` class probabilities, or ``(N,)`` ``P(y = 1)`` for binary.
        y: ``(N,)`` true class *indices* (column numbers; binary 0/1).
        n_bins: number of bins $M$ (15, as in Guo et al. 2017).

    Returns:
        The ECE, in ``[0, 1]``.

    Raises:
        LosscraftError: mismatched shapes, an empty input or ``n_bins < 1``.
    """
    p = np.asarray(proba, dtype=np.float64)
    t = np.asarray(y)
    if n_bins < 1:
        raise LosscraftError(f"expected_calibration_error: n_bins must be at least 1, got {n_bins}")
    if p.ndim == 1:
        p = np.column_stack([1.0 - p, p])
    if p.ndim != 2 or t.ndim != 1 or p.shape[0] != t.shape[0] or p.shape[0] == 0:
        raise LosscraftError(
            f"expected_calibration_error: proba {np.shape(proba)} and y {np.shape(y)} must be (N, C) or (N,) and (N,), N > 0"
        )
    conf = p.max(axis=1)
    correct = (np.argmax(p, axis=1) == t).astype(np.float64)
    inner = np.arange(1, n_bins) / n_bins  # the edges k/M, 0 < k < M
    # right-closed bins: bin index = number of inner edges strictly below the confidence
    b = np.searchsorted(inner, conf, side="left")
    n = conf.shape[0]
    ece = 0.0
    for k in range(n_bins):
        m = b == k
        if m.any():
            ece += m.sum() / n * abs(float(correct[m].mean()) - float(conf[m].mean()))
    return float(ece)


# --------------------------------------------------------------------------- defaults
_REGRESSION_TASKS = ("regression", "quantile_regression", "count_regression", "proportion_regression")
_CLASS_TASKS = ("binary_classification", "multiclass_classification")
_DEFAULTS: dict[str, dict[str, str]] = {
    "regression": {"mean": "rmse", "median": "mae", "interval": "pinball", "quantile": "pinball"},
    "classification": {
        "calibrated-probabilities": "log_loss",
        "rank": "roc_auc",
        "recall-minority": "balanced_accuracy",
    },
    "multilabel": {"calibrated-probabilities": "log_loss", "rank": "map", "recall-minority": "macro_f1"},
}


def default_metric(task: str, goal_kind: str) -> str:
    """The metric a goal is judged on, for :func:`losscraft.compare`'s ``metric=None``.

    Regression-type tasks: ``mean`` → ``rmse`` (squared error elicits the mean), ``median`` →
    ``mae`` (absolute error elicits the median; Gneiting 2011), ``interval:P`` and ``quantile:Q``
    → ``pinball`` (consistent for quantiles). Binary and multiclass:
    ``calibrated-probabilities`` → ``log_loss`` (a proper scoring rule), ``rank`` → ``roc_auc``,
    ``recall-minority`` → ``balanced_accuracy``. Multilabel: ``log_loss``, ``map``, ``macro_f1``.
    Ordinal regression takes the regression or the classification mapping by its goal.

    Args:
        task: a :class:`~losscraft.Task` value (``"regression"``, ``"binary_classification"``, ...).
        goal_kind: the goal's kind (``"mean"``, ``"interval"``; ``"interval:0.9"`` is accepted).

    Raises:
        LosscraftError: a task compare does not score, or a goal that does not fit the task.
    """
    t = str(getattr(task, "value", task)).strip().lower()
    g = str(goal_kind).strip().lower().replace("_", "-").partition(":")[0]
    if t in _REGRESSION_TASKS:
        families = ["regression"]
    elif t in _CLASS_TASKS:
        families = ["classification"]
    elif t == "multilabel_classification":
        families = ["multilabel"]
    elif t == "ordinal_regression":
        families = ["regression", "classification"]
    else:
        raise LosscraftError(
            f"compare: no metrics for task {task!r}; compare scores regression and classification"
        )
    for fam in families:
        if g in _DEFAULTS[fam]:
            return _DEFAULTS[fam][g]
    valid = ", ".join(g for fam in families for g in _DEFAULTS[fam])
    raise LosscraftError(f"compare: goal {goal_kind!r} does not fit task {t!r}; valid goals: {valid}")
