r"""Write a :class:`~losscraft.guide.comparing.Comparison` to a directory: JSON, Markdown, PNG plots.

:func:`write_report` (what ``compare(..., report=DIR)`` and ``losscraft compare --report DIR``
call) writes

- ``report.json``: :meth:`Comparison.to_dict` (results, verdicts, settings, profile,
  recommendations) plus ``rerun`` (every argument of :func:`losscraft.compare` that the
  comparison used, the losses as configs for :func:`losscraft.build`), ``versions`` (losscraft,
  torch, numpy, scikit-learn, matplotlib, python), ``plots`` and ``created`` (UTC time stamp;
  the only field that differs between two runs of the same comparison);
- ``report.md``: the settings, the profile, the results table, the verdicts, the statistical
  method, the plots (relative links) and a Python snippet that reruns the comparison;
- PNG plots (matplotlib, Agg, 110 dpi), those that apply to the task:
  ``metrics.png`` (each metric per loss, mean ± corrected standard error),
  ``differences.png`` (per-fold paired differences against the baseline on the primary metric),
  ``learning_curves.png`` (training and inner-validation loss per epoch on the first fold),
  ``residuals.png`` (regression: test-fold residuals per loss) or ``class_recall.png``
  (classification: recall of each class per loss), and ``coverage.png`` (quantile losses:
  empirical coverage of each predicted quantile against its nominal level).

Plots use :class:`matplotlib.figure.Figure` objects with the Agg renderer, never ``pyplot``'s
global figure list, so writing a report does not open windows or leave figures behind in a
notebook. matplotlib is the ``[plot]`` extra (``pip install 'losscraft[plot]'``); without it
:func:`write_report` raises :class:`ImportError` before writing anything; :func:`check_directory`
lets a caller find that out (and a directory that cannot be written) before a long comparison.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import math
import platform
from collections.abc import Callable, Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from .._core.errors import LosscraftError
from .metrics import METRICS, Prediction

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .comparing import Comparison
    from .training import FitResult

__all__ = [
    "DPI",
    "PLOTS",
    "REPORT_SCHEMA",
    "check_directory",
    "class_recall",
    "empirical_coverage",
    "report_dict",
    "rerun_arguments",
    "write_report",
]

REPORT_SCHEMA = "losscraft.report/1"
"""The ``report_schema`` of ``report.json`` (its comparison part keeps ``schema: losscraft.compare/1``)."""

DPI = 110
"""Resolution of the PNG plots."""

PLOTS: dict[str, str] = {
    "metrics": "metrics.png",
    "differences": "differences.png",
    "learning_curves": "learning_curves.png",
    "residuals": "residuals.png",
    "class_recall": "class_recall.png",
    "coverage": "coverage.png",
}
"""Plot key -> file name. A report removes the files of these names that it did not write
(left by an earlier report in the same directory), so ``report.md`` links exactly what exists."""

_RERUN_KEYS = ("folds", "repeats", "epochs", "seed", "contaminate", "imbalance", "n_jobs")
_CLASSIFICATION_KINDS = ("binary", "multiclass", "multilabel")
_REGRESSION_KINDS = ("regression", "quantiles", "gaussian")


# --------------------------------------------------------------------------- entry points
def check_directory(directory: str | PathLike[str]) -> Path:
    """The report directory as a :class:`~pathlib.Path`, checked (not created) before any work.

    Raises:
        LosscraftError: ``directory`` is not a path, or it (or a parent) exists as a file.
        ImportError: matplotlib (the ``[plot]`` extra) is not installed.
    """
    if not isinstance(directory, (str, PathLike)):
        raise LosscraftError(
            f"compare: 'report' must be a directory path (str or os.PathLike), got {type(directory).__name__}"
        )
    path = Path(directory)
    for p in (path, *path.parents):
        if p.exists():
            if not p.is_dir():
                what = "it is" if p == path else f"{str(p)!r} is"
                raise LosscraftError(f"compare: cannot write the report to {str(path)!r}: {what} a file")
            break
    _require_matplotlib()
    return path


def write_report(comparison: Comparison, directory: str | PathLike[str]) -> Path:
    """Write ``report.json``, ``report.md`` and the PNG plots of ``comparison`` into ``directory``.

    The directory is created if needed; files of the same names are replaced. See the module
    docstring for what each file holds.

    Args:
        comparison: what :func:`losscraft.compare` returned.
        directory: where to write (created with its parents).

    Returns:
        ``directory`` as a :class:`~pathlib.Path`.

    Raises:
        LosscraftError: the directory cannot be created or written.
        ImportError: matplotlib (the ``[plot]`` extra) is not installed; nothing is written.
    """
    path = check_directory(directory)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LosscraftError(
            f"compare: cannot create the report directory {str(path)!r}: {exc.strerror or exc}"
        ) from None
    try:
        written = _write_plots(comparison, path)
        for key, name in PLOTS.items():
            if key not in written:
                (path / name).unlink(missing_ok=True)
        data = report_dict(comparison, plots=written)
        (path / "report.json").write_text(
            json.dumps(data, indent=2, allow_nan=False) + "\n", encoding="utf-8"
        )
        (path / "report.md").write_text(_markdown(comparison, data, written), encoding="utf-8")
    except OSError as exc:
        raise LosscraftError(
            f"compare: cannot write the report to {str(path)!r}: {exc.strerror or exc}"
        ) from None
    return path


def _require_matplotlib() -> None:
    from ..plotting import require_matplotlib

    require_matplotlib()  # raises ImportError with the install hint of the [plot] extra


# --------------------------------------------------------------------------- report.json
def rerun_arguments(comparison: Comparison) -> dict[str, Any]:
    """The arguments of :func:`losscraft.compare` (besides ``X`` and ``y``) that reproduce ``comparison``.

    ``losses`` holds the candidates' configs (the baseline only where it was given, not added);
    ``losses_from`` is ``"recommend"`` when compare chose them (``losses=None`` then reruns the
    recommendation, giving the same candidates). A candidate without a config (a Module
    without ``get_config``) is ``None``, listed in ``not_recordable``; so is a callable ``model``.
    ``task`` and ``goal`` are ``None`` where compare detected the task or took the default goal
    (passing them would change the profile's and the recommendations' wording, not the numbers).
    """
    s = comparison.settings
    rows = list(comparison.results)
    from_recommend = comparison.recommendations is not None
    given = [r for r in rows if r.source != "baseline"]
    not_recordable = [r.name for r in given if r.config is None]
    out: dict[str, Any] = {
        "losses": [_plain(r.config) for r in given],
        "losses_from": "recommend" if from_recommend else "given",
        # a detected task or default goal is left to detection on a rerun
        "task": comparison.task if s.get("task_given") else None,
        "goal": comparison.goal if s.get("goal_given") else None,
        "model": s["model"],
        "metric": comparison.metric,
    }
    for k in (*_RERUN_KEYS, "n_samples", "n_features", "data_sha256"):
        out[k] = _plain(s[k])
    if s["model"] not in ("linear", "mlp"):
        not_recordable.append(f"model {s['model']!r} (a callable)")
    out["not_recordable"] = not_recordable
    return out


def _versions() -> dict[str, str | None]:
    import torch

    from .. import __version__

    def dist(name: str) -> str | None:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return None

    return {
        "losscraft": __version__,
        "torch": str(torch.__version__),
        "numpy": np.__version__,
        "scikit-learn": dist("scikit-learn"),
        "matplotlib": dist("matplotlib"),
        "python": platform.python_version(),
    }


def report_dict(comparison: Comparison, plots: Mapping[str, str] | None = None) -> dict[str, Any]:
    """What ``report.json`` holds.

    ``comparison.to_dict()`` plus ``report_schema``, ``rerun`` (:func:`rerun_arguments`),
    ``versions``, ``plots`` (key -> file name) and ``created`` (UTC, ISO 8601, seconds).
    """
    data = comparison.to_dict()
    data["report_schema"] = REPORT_SCHEMA
    data["rerun"] = rerun_arguments(comparison)
    data["versions"] = _versions()
    data["plots"] = dict(plots or {})
    data["created"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    return data


def _plain(v: Any) -> Any:
    """JSON-able copy (numpy scalars and arrays, tensors, tuples; NaN -> None)."""
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, np.ndarray):
        return _plain(v.tolist())
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(v) else None
    if hasattr(v, "detach") and hasattr(v, "tolist"):
        return _plain(v.detach().cpu().tolist())
    if v is None or isinstance(v, (str, int, bool)):
        return v
    return str(v)


# --------------------------------------------------------------------------- report.md
def _f(x: float | None) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.4g}"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def _results_table(comparison: Comparison) -> list[str]:
    metrics = list(comparison.metrics)
    head = ["loss"]
    for m in metrics:
        direction = "↑" if METRICS[m].higher_is_better else "↓"
        head.append(f"**{m}** {direction}" if m == comparison.metric else f"{m} {direction}")
    head += [f"won on {comparison.metric}", "p"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    for r in comparison.results:
        name = r.name + (" (baseline)" if r.name == comparison.baseline else "")
        cells = [_md_escape(name)]
        for m in metrics:
            mr = r.metrics.get(m)
            cells.append("-" if mr is None else f"{_f(mr.mean)} ± {_f(mr.stderr)}")
        pm = r.metrics.get(comparison.metric)
        n = len(pm.per_fold) if pm is not None else 0
        cells.append("" if pm is None or pm.folds_won is None else f"{pm.folds_won}/{n}")
        cells.append("" if pm is None or pm.p_value is None else f"{pm.p_value:.2g}")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _settings_line(comparison: Comparison, s: Mapping[str, Any]) -> str:
    parts = [
        f"task **{comparison.task}**",
        f"goal **{comparison.goal}**",
        f"primary metric **{comparison.metric}**",
        f"{s.get('folds', '?')} folds x {s.get('repeats', '?')} repeats",
        f"model {s.get('model', '?')}",
        f"up to {s.get('epochs', '?')} epochs",
        f"seed {s.get('seed', '?')}",
    ]
    if "n_samples" in s:
        parts.append(f"{s['n_samples']} samples x {s.get('n_features', '?')} features")
    stress = [f"{k}={s[k]}" for k in ("contaminate", "imbalance") if s.get(k) is not None]
    if stress:
        parts.append("stress on training folds only: " + ", ".join(stress))
    return "; ".join(parts)


def _method(comparison: Comparison, s: Mapping[str, Any]) -> list[str]:
    from .training import LEARNING_RATE

    per_fold = [len(mr.per_fold) for r in comparison.results for mr in r.metrics.values()]
    j = max(per_fold, default=0)
    n_train, n_test = s.get("n_train"), s.get("n_test")
    sizes = (
        f" (about {n_train:.0f} training and {n_test:.0f} test rows per fold)"
        if isinstance(n_train, (int, float)) and isinstance(n_test, (int, float))
        else ""
    )
    lines = [
        f"Every loss trains the same model ({s.get('model', '?')}) from the same initialisation on the "
        f"same folds: full-batch Adam (learning rate {LEARNING_RATE:g}), at most {s.get('epochs', '?')} "
        "epochs, early stopping on the loss's own value on an inner validation split of the training "
        "fold; features standardised on the training fold. Stress tests, if any, change the training "
        "folds only; every test fold keeps the original targets.",
        "",
        f"Each metric is the mean over J = {s.get('folds', '?')} folds x {s.get('repeats', '?')} repeats "
        f"= {j} test folds{sizes} ± its standard error corrected for the overlap of the training sets, "
        "√((1/J + n_test/n_train)·s²). *won* counts the folds where a loss beats the baseline "
        f"({comparison.baseline}); *p* is the two-sided **corrected resampled t-test** of Nadeau & Bengio "
        "(2003) on the per-fold differences (J - 1 degrees of freedom), valid for overlapping training "
        "sets, where the ordinary paired t-test is not.",
    ]
    if j < 3:
        lines += [
            "",
            f"With only {j} test folds no test can reach significance, so no p-values are given; "
            "use folds x repeats ≥ 10 for a verdict.",
        ]
    lines += [
        "",
        "C. Nadeau, Y. Bengio (2003). Inference for the Generalization Error. Machine Learning 52(3). "
        "https://doi.org/10.1023/A:1024068626366",
    ]
    return lines


_CAPTIONS: dict[str, str] = {
    "metrics": "Each metric per loss: mean over the test folds ± corrected standard error.",
    "differences": "Per-fold paired differences against the baseline on the primary metric (one point per test fold).",
    "learning_curves": "Training and inner-validation loss per epoch on the first fold; the dotted line marks the epoch whose weights were kept.",
    "residuals": "Test-fold residuals (prediction - target) per loss, pooled over the test folds.",
    "class_recall": "Recall of each class per loss, pooled over the test folds.",
    "coverage": "Quantile losses: share of test targets below each predicted quantile against its nominal level.",
}


def _snippet(rerun: Mapping[str, Any], detected: Mapping[str, str]) -> list[str]:
    lines = ["```python", "import losscraft", ""]
    n, p = rerun.get("n_samples"), rerun.get("n_features")
    shape = f" ({n} rows, {p} features)" if n is not None else ""
    lines.append(f"# X, y: the same data{shape}, rows in the same order")
    lines.append("comparison = losscraft.compare(")
    lines += ["    X,", "    y,"]
    configs = rerun["losses"]
    if rerun.get("losses_from") == "recommend":
        lines.append("    losses=None,  # the recommendations again; to pin them, pass:")
        lines += [f"    #   {c!r}," for c in configs]
    else:
        lines.append("    losses=[")
        for c in configs:
            lines.append(
                f"        {c!r}," if c is not None else "        ...,  # a loss Module without get_config()"
            )
        lines.append("    ],")
    for key in ("task", "goal", "model", "metric", *_RERUN_KEYS):
        value = rerun.get(key)
        if key in ("task", "goal") and value is None:
            lines.append(
                f"    {key}=None,  # {'detected' if key == 'task' else 'the default'}: {detected[key]}"
            )
            continue
        if key == "model" and isinstance(value, str) and value not in ("linear", "mlp"):
            lines.append(f"    model=...,  # the callable {value!r} used here")
            continue
        lines.append(f"    {key}={value!r},")
    lines += ["    report='report',", ")", "print(comparison)", "```"]
    return lines


def _markdown(comparison: Comparison, data: Mapping[str, Any], plots: Mapping[str, str]) -> str:
    s = comparison.settings
    out = ["# losscraft compare report", "", _settings_line(comparison, s), ""]
    best = data.get("best")
    if best is not None:
        out += [f"Best on {comparison.metric}: **{best}** (baseline: {comparison.baseline}).", ""]
    out += ["## Results", "", *_results_table(comparison), ""]
    out += ["## Verdicts", ""]
    out += [f"- {v}" for v in comparison.verdicts] or ["- (no candidate besides the baseline)"]
    out += ["", "## Method", "", *_method(comparison, s), ""]
    if plots:
        out += ["## Plots", ""]
        for key, name in plots.items():
            out += [f"![{key.replace('_', ' ')}]({name})", "", _CAPTIONS.get(key, ""), ""]
    prof = comparison.profile
    if prof is not None:
        out += ["## Data profile", "", "```text", str(prof), "```", ""]
    recs = comparison.recommendations
    if recs is not None:
        out += ["## Recommendations", "", "```text", str(recs), "```", ""]
    rerun = data["rerun"]
    out += ["## How to rerun", "", *_snippet(rerun, {"task": comparison.task, "goal": comparison.goal}), ""]
    if rerun.get("not_recordable"):
        out += [
            "Not recordable here (pass the same objects): " + ", ".join(rerun["not_recordable"]) + ".",
            "",
        ]
    v = data.get("versions", {})
    out += ["Versions: " + ", ".join(f"{k} {x}" for k, x in v.items() if x is not None) + ".", ""]
    return "\n".join(out)


# --------------------------------------------------------------------------- plot data
def _pooled(fits: Sequence[FitResult]) -> list[Prediction]:
    return [fr.prediction for fr in fits]


def empirical_coverage(predictions: Sequence[Prediction]) -> tuple[tuple[float, ...], NDArray[np.float64]]:
    """Quantile predictions' nominal levels and the share of targets at or below each, pooled.

    Raises:
        LosscraftError: no predictions, a prediction that is not of kind ``"quantiles"``, or
            predictions with different levels.
    """
    if not predictions:
        raise LosscraftError("empirical_coverage: no predictions")
    levels = predictions[0].levels
    below: list[NDArray[np.bool_]] = []
    for p in predictions:
        if p.kind != "quantiles" or p.quantiles is None or p.levels != levels:
            raise LosscraftError(
                "empirical_coverage: every prediction must hold quantiles at the same levels"
            )
        y = np.asarray(p.y_true, dtype=np.float64)
        below.append(y[:, None] <= np.asarray(p.quantiles, dtype=np.float64))
    return levels, np.asarray(np.concatenate(below).mean(axis=0), dtype=np.float64)


def class_recall(predictions: Sequence[Prediction]) -> tuple[tuple[Any, ...], NDArray[np.float64]]:
    """Class (or label, multilabel) names and the recall of each, pooled over ``predictions``.

    Recall of class ``c`` = predicted ``c`` among the samples whose target is ``c`` (NaN for a
    class absent from every target); multilabel: ``proba > 0.5`` among the positives of each label.

    Raises:
        LosscraftError: no predictions, or predictions that are not classifications.
    """
    if not predictions or any(p.kind not in _CLASSIFICATION_KINDS for p in predictions):
        raise LosscraftError("class_recall: needs binary, multiclass or multilabel predictions")
    if predictions[0].kind == "multilabel":
        y = np.concatenate([np.asarray(p.y_true) for p in predictions]).astype(bool)
        hat = np.concatenate([p.predicted_labels() for p in predictions]).astype(bool)
        pos = y.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            rec = np.where(pos > 0, (hat & y).sum(axis=0) / np.maximum(pos, 1), np.nan)
        return tuple(range(y.shape[1])), np.asarray(rec, dtype=np.float64)
    labels = predictions[0].labels
    y = np.concatenate([np.asarray(p.y_true) for p in predictions])
    hat = np.concatenate([p.predicted_labels() for p in predictions])
    recalls: list[float] = []
    for c in labels:
        mask = y == c
        recalls.append(float(np.mean(hat[mask] == c)) if mask.any() else math.nan)
    return tuple(labels), np.asarray(recalls, dtype=np.float64)


# --------------------------------------------------------------------------- plots
def _figure(
    rows: int,
    cols: int,
    width: float,
    height: float,
    *,
    left: float = 0.7,
    right: float = 0.15,
    bottom: float = 0.75,
    top: float = 0.35,
    wgap: float = 0.6,
    hgap: float = 1.05,
    suptitle: bool = False,
) -> tuple[Figure, Any]:
    """A figure of ``rows x cols`` panels of ``width x height`` inches with fixed margins (inches).

    Fixed margins instead of a layout engine: a layout engine draws each figure twice.
    """
    from matplotlib.figure import Figure

    top += 0.3 if suptitle else 0.0
    fw = cols * width + (cols - 1) * wgap + left + right
    fh = rows * height + (rows - 1) * hgap + top + bottom
    fig = Figure(figsize=(fw, fh))
    fig.subplots_adjust(
        left=left / fw,
        right=1 - right / fw,
        bottom=bottom / fh,
        top=1 - top / fh,
        wspace=wgap / width,
        hspace=hgap / height,
    )
    axes = fig.subplots(rows, cols, squeeze=False)
    return fig, axes


def _save(fig: Figure, path: Path) -> None:
    fig.savefig(path, dpi=DPI, format="png", metadata={"Software": None})


def _label(name: str, width: int = 14) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def _plot_metrics(comparison: Comparison, path: Path) -> bool:
    metrics = [m for m in comparison.metrics if any(m in r.metrics for r in comparison.results)]
    if not metrics:
        return False
    cols = min(4, len(metrics))
    rows = math.ceil(len(metrics) / cols)
    fig, axes = _figure(rows, cols, 2.1, 1.6, hgap=0.9, suptitle=True)
    names = [r.name for r in comparison.results]
    for k, ax in enumerate(axes.ravel()):
        if k >= len(metrics):
            ax.set_axis_off()
            continue
        m = metrics[k]
        for i, r in enumerate(comparison.results):
            mr = r.metrics.get(m)
            if mr is None or not math.isfinite(mr.mean):
                continue
            err = mr.stderr if math.isfinite(mr.stderr) else 0.0
            ax.errorbar([i], [mr.mean], yerr=[err], fmt="o", color=f"C{i % 10}", capsize=3, ms=5)
        ax.set_xticks(range(len(names)), [_label(n) for n in names], rotation=30, ha="right", fontsize=7)
        ax.set_xlim(-0.6, len(names) - 0.4)
        info = METRICS[m]
        title = (
            f"{m} ({'higher' if info.higher_is_better else 'lower'} better)"
            if info.ranks
            else f"{m} (descriptive)"
        )
        ax.set_title(title, fontsize=9, fontweight="bold" if m == comparison.metric else "normal")
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("metrics per loss (mean ± corrected standard error)", fontsize=10)
    _save(fig, path)
    return True


def _plot_differences(comparison: Comparison, path: Path) -> bool:
    m = comparison.metric
    base = next((r for r in comparison.results if r.name == comparison.baseline), None)
    if base is None or m not in base.metrics:
        return False
    bv = np.asarray(base.metrics[m].per_fold, dtype=np.float64)
    series: list[tuple[int, str, NDArray[np.float64]]] = []
    for i, r in enumerate(comparison.results):
        if r.name == comparison.baseline or m not in r.metrics:
            continue
        d = np.asarray(r.metrics[m].per_fold, dtype=np.float64) - bv
        d = d[np.isfinite(d)]
        if d.size:
            series.append((i, r.name, d))
    if not series:
        return False
    fig, axes = _figure(1, 1, max(2.8, 1.0 * len(series) + 0.8), 2.4, left=0.85)
    ax = axes[0, 0]
    rng = np.random.default_rng(0)
    for pos, (i, _name, d) in enumerate(series):
        ax.boxplot([d], positions=[pos], widths=0.5, showfliers=False, medianprops={"color": "0.3"})
        ax.scatter(pos + rng.uniform(-0.12, 0.12, size=d.size), d, s=14, color=f"C{i % 10}", zorder=3)
    ax.axhline(0.0, color="k", lw=0.9, ls="--")
    ax.set_xticks(range(len(series)), [_label(n) for _, n, _ in series], rotation=20, ha="right", fontsize=8)
    better = "above" if METRICS[m].higher_is_better else "below"
    ax.set_ylabel(f"{m}: loss - {_label(comparison.baseline, 20)}", fontsize=8)
    ax.set_title(f"per-fold difference vs {comparison.baseline} ({better} 0 = better)", fontsize=9)
    ax.tick_params(axis="y", labelsize=7)
    ax.grid(axis="y", alpha=0.3)
    _save(fig, path)
    return True


def _plot_learning_curves(comparison: Comparison, path: Path) -> bool:
    fits = comparison.fits
    rows = [(i, r, f[0]) for i, (r, f) in enumerate(zip(comparison.results, fits, strict=False)) if f]
    rows = [(i, r, fr) for i, r, fr in rows if fr.history]
    if not rows:
        return False
    cols = min(3, len(rows))
    nrows = math.ceil(len(rows) / cols)
    fig, axes = _figure(nrows, cols, 2.5, 1.7, bottom=0.5, hgap=0.8, suptitle=True)
    for k, ax in enumerate(axes.ravel()):
        if k >= len(rows):
            ax.set_axis_off()
            continue
        i, r, fr = rows[k]
        train = np.asarray(fr.history, dtype=np.float64)
        ax.plot(np.arange(train.size), train, color=f"C{i % 10}", lw=1.3, label="train")
        if fr.val_history:
            val = np.asarray(fr.val_history, dtype=np.float64)
            ax.plot(np.arange(1, val.size + 1), val, color=f"C{i % 10}", lw=1.3, ls="--", label="validation")
        ax.axvline(fr.best_epoch + 1, color="0.4", lw=0.8, ls=":")
        ax.set_title(_label(r.name, 30), fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("learning curves: the loss's own value, first fold", fontsize=10)
    _save(fig, path)
    return True


def _plot_residuals(comparison: Comparison, path: Path) -> bool:
    fits = comparison.fits
    data: list[tuple[int, str, NDArray[np.float64]]] = []
    for i, (r, f) in enumerate(zip(comparison.results, fits, strict=False)):
        if r.kind not in _REGRESSION_KINDS or not f:
            continue
        res = np.concatenate(
            [p.point_estimate() - np.asarray(p.y_true, dtype=np.float64) for p in _pooled(f)]
        )
        res = res[np.isfinite(res)]
        if res.size:
            data.append((i, r.name, res))
    if not data:
        return False
    fig, axes = _figure(1, 1, max(2.8, 1.0 * len(data) + 0.8), 2.4, left=0.85)
    ax = axes[0, 0]
    for pos, (i, _name, res) in enumerate(data):
        if np.ptp(res) > 1e-12 * max(1.0, float(np.max(np.abs(res)))):
            parts = ax.violinplot([res], positions=[pos], widths=0.8, showmedians=True, showextrema=False)
            for body in parts["bodies"]:
                body.set_facecolor(f"C{i % 10}")
                body.set_alpha(0.5)
        else:  # a constant residual has no density to draw
            ax.plot([pos - 0.3, pos + 0.3], [res[0], res[0]], color=f"C{i % 10}", lw=2)
    ax.axhline(0.0, color="k", lw=0.9, ls="--")
    ax.set_xticks(range(len(data)), [_label(n) for _, n, _ in data], rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("prediction - target", fontsize=8)
    ax.set_title("test-fold residuals", fontsize=9)
    ax.tick_params(axis="y", labelsize=7)
    ax.grid(axis="y", alpha=0.3)
    _save(fig, path)
    return True


def _plot_class_recall(comparison: Comparison, path: Path) -> bool:
    fits = comparison.fits
    data: list[tuple[int, str, tuple[Any, ...], NDArray[np.float64]]] = []
    for i, (r, f) in enumerate(zip(comparison.results, fits, strict=False)):
        if r.kind in _CLASSIFICATION_KINDS and f:
            labels, rec = class_recall(_pooled(f))
            data.append((i, r.name, labels, rec))
    if not data:
        return False
    labels = data[0][2]
    shown = min(len(labels), 30)
    fig, axes = _figure(1, 1, min(11.0, max(3.0, 0.3 * shown * len(data) + 1.0)), 2.4, bottom=0.55)
    ax = axes[0, 0]
    width = 0.8 / len(data)
    x = np.arange(shown)
    for k, (i, name, _labels, rec) in enumerate(data):
        ax.bar(
            x + (k - (len(data) - 1) / 2) * width,
            np.nan_to_num(rec[:shown]),
            width,
            color=f"C{i % 10}",
            label=_label(name, 24),
        )
    ax.set_xticks(x, [str(c) for c in labels[:shown]], fontsize=8)
    ax.set_ylim(0, 1.05)
    multilabel = comparison.results[data[0][0]].kind == "multilabel"
    ax.set_xlabel("label" if multilabel else "class", fontsize=8)
    ax.set_ylabel("recall", fontsize=8)
    more = f" (first {shown} of {len(labels)})" if shown < len(labels) else ""
    ax.set_title(f"recall per class{more}", fontsize=9)
    ax.tick_params(axis="y", labelsize=7)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7)
    _save(fig, path)
    return True


def _plot_coverage(comparison: Comparison, path: Path) -> bool:
    fits = comparison.fits
    data = []
    for i, (r, f) in enumerate(zip(comparison.results, fits, strict=False)):
        if r.kind == "quantiles" and f:
            levels, cov = empirical_coverage(_pooled(f))
            data.append((i, r.name, levels, cov))
    if not data:
        return False
    fig, axes = _figure(1, 1, 2.8, 2.6, bottom=0.55, left=0.8)
    ax = axes[0, 0]
    ax.plot([0, 1], [0, 1], color="0.5", lw=0.9, ls="--", label="nominal")
    for i, name, levels, cov in data:
        ax.plot(levels, cov, "o-", color=f"C{i % 10}", ms=5, lw=1.2, label=_label(name, 24))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("nominal level τ", fontsize=8)
    ax.set_ylabel("share of targets ≤ predicted τ-quantile", fontsize=8)
    ax.set_title("quantile coverage (test folds)", fontsize=9)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    _save(fig, path)
    return True


_DRAW: dict[str, Callable[[Any, Path], bool]] = {
    "metrics": _plot_metrics,
    "differences": _plot_differences,
    "learning_curves": _plot_learning_curves,
    "residuals": _plot_residuals,
    "class_recall": _plot_class_recall,
    "coverage": _plot_coverage,
}


def _write_plots(comparison: Comparison, directory: Path) -> dict[str, str]:
    written: dict[str, str] = {}
    for key, draw in _DRAW.items():
        if draw(comparison, directory / PLOTS[key]):
            written[key] = PLOTS[key]
    return written
