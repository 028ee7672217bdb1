r"""Compare candidate losses on the user's data by cross-validation, with honest statistics.

A recommendation is a hypothesis; the data decides (Hennig & Kutlukaya 2007: choose the loss
by cross-validation on the metric you will be judged on). :func:`compare` trains the same
model with each candidate loss under identical conditions (architecture, initialisation seed,
optimiser, budget, folds; see :mod:`losscraft.guide.training`) and scores every fit on the
untouched test fold with the task's metrics (:mod:`losscraft.guide.metrics`).

**Candidates** (``losses=``): registry names (``"huber"``), ``"name:param=value,..."`` strings
(values read by the hyperparameter's domain, as ``losscraft analyze --param``; a value may
hold commas: ``"quantile:quantiles=0.05,0.95"``), config dicts (:func:`losscraft.build`),
configured loss Modules, combinations (``0.5 * BCE + 0.5 * Dice``) and
:func:`losscraft.custom_loss` results. ``losses=None`` takes the top 3 of
:func:`losscraft.recommend` for this data and goal. The task's plain baseline (MSE,
BCE-with-logits or cross-entropy: :data:`losscraft.guide.rules.BASELINES`) always competes:
it is added when no candidate is exactly it.

**Folds.** Binary and multiclass: :class:`sklearn.model_selection.RepeatedStratifiedKFold`;
otherwise :class:`~sklearn.model_selection.RepeatedKFold`; ``folds`` splits re-shuffled
``repeats`` times with ``random_state=seed``. Every candidate sees the same folds.

**Stress tests** (``contaminate=``, ``imbalance=``; :mod:`losscraft.guide.stress`) change the
*training* fold only, the same way for every candidate (one random stream per fold); the test
fold keeps the user's targets. With ``losses=None`` the recommendations are made for the data
as the stress test makes it (the whole target stressed once with ``seed``), since that is
what the candidates will be trained on.

**Statistics.** Per metric, the mean over the ``J = folds * repeats`` test folds and its
standard error $\sqrt{(1/J + n_\text{test}/n_\text{train})\,s^2}$ (Nadeau & Bengio's
corrected variance: the folds' training sets overlap, so the plain $s/\sqrt J$ is too
small); against the baseline, the folds won and the two-sided p-value of the corrected
resampled t-test (:func:`losscraft.guide.stats.corrected_resampled_ttest`) on the per-fold
differences. With fewer than 3 folds no p-value is given and the result says why.

**Parallelism.** The (loss, fold) fits run through ``joblib.Parallel(n_jobs=n_jobs)``
(scikit-learn's convention); each fit is seeded on its own, so ``n_jobs`` does not change the
numbers. To spread the fits over a cluster, register a joblib backend and wrap the call::

    from joblib import parallel_config
    from dask.distributed import Client

    client = Client("scheduler-address:8786")
    with parallel_config(backend="dask"):
        result = losscraft.compare(X, y, n_jobs=-1)

References:
    C. Hennig, M. Kutlukaya (2007). Some thoughts about the design of loss functions.
    REVSTAT 5(1). https://doi.org/10.57805/revstat.v5i1.41

    C. Nadeau, Y. Bengio (2003). Inference for the Generalization Error. Machine Learning
    52(3). https://doi.org/10.1023/A:1024068626366
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
import hashlib
import importlib
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from torch import nn

from .._core.errors import LosscraftError
from .._core.registry import LossEntry, build, catalog, get
from .._core.spec import InputKind, LossSpec, TargetKind, Task
from .data import as_features, as_sequences, as_target
from .metrics import METRICS, compute, default_metric
from .profiling import Profile, profile
from .recommending import Goal, Recommendations, data_settings, parse_goal, recommend
from .rules import BASELINES, DEFAULT_GOALS, GOALS, TASK_GOALS, TASK_TARGET_KINDS
from .stats import corrected_resampled_ttest, verdict
from .stress import Contamination, Imbalance, parse_contaminate, parse_imbalance
from .training import FitResult, HeadLike

__all__ = ["Candidate", "Comparison", "FoldData", "MetricResult", "Result", "compare", "parse_candidate"]

TOP = 3
"""Recommendations compared when ``losses=None`` (the baseline comes on top of them)."""

# Tasks compare trains, and the prediction kind family each belongs to.
_REGRESSION = (Task.REGRESSION, Task.QUANTILE_REGRESSION, Task.COUNT)
_CLASSIFICATION = (Task.BINARY, Task.MULTICLASS)
_SUPPORTED = (*_REGRESSION, *_CLASSIFICATION, Task.MULTILABEL)
_UNTRAINED = (Task.SEGMENTATION, Task.METRIC_LEARNING)
# tasks whose losses couple the samples in a layout of their own (what compare would need)
_OWN_LAYOUT: dict[Task, str] = {
    Task.RANKING: "scores per query, compared within each query",
    Task.SURVIVAL: "(time, event) rows, compared through the risk sets",
    Task.SEQUENCE: "label sequences aligned to frames of the model's output",
}
_HEAD_INPUTS = frozenset({InputKind.REAL, InputKind.LOGITS, InputKind.PROBABILITIES})


# --------------------------------------------------------------------------- candidates
@dataclass(frozen=True, eq=False)
class Candidate:
    """One loss to compare: its label, the hyperparameters shown, the Module and its config.

    Attributes:
        name: the label in results and verdicts (the registry name, ``"a+b"`` for a
            combination; parameters are added only where two candidates would share a name).
        params: the hyperparameters that differ from the loss's defaults (per term for a
            combination), JSON-able.
        loss: the configured Module (each fit trains a deep copy).
        config: what :func:`losscraft.build` takes to rebuild it (``None`` for a Module
            without ``get_config``).
        specs: the specs of its terms (one for a plain loss).
        source: ``"given"``, ``"recommended"`` or ``"baseline"`` (added because no candidate
            was the plain baseline).
    """

    name: str
    params: dict[str, Any]
    loss: nn.Module
    config: dict[str, Any] | None
    specs: tuple[LossSpec, ...]
    source: str = "given"


def _specs_of(module: nn.Module) -> tuple[LossSpec, ...]:
    """The specs of a Module's loss terms: a catalog/custom loss, a combination, a wrapper."""
    spec = getattr(type(module), "spec", None)
    if isinstance(spec, LossSpec):
        return (spec,)
    terms = getattr(module, "terms", None)
    if isinstance(terms, nn.ModuleDict):
        return tuple(s for t in terms.values() for s in _specs_of(t))
    inner = getattr(module, "loss", None)
    if isinstance(inner, nn.Module):
        return _specs_of(inner)
    return ()


def _non_default(config: Mapping[str, Any], spec: LossSpec) -> dict[str, Any]:
    defaults = {p.name: p.domain.to_config(p.default) for p in spec.params}
    defaults["reduction"] = "mean"
    return {k: v for k, v in config.items() if k != "name" and (k not in defaults or v != defaults[k])}


def _describe(module: nn.Module) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
    """Name, non-default params and config of a loss Module."""
    get_config = getattr(module, "get_config", None)
    config: dict[str, Any] | None = get_config() if callable(get_config) else None
    spec = getattr(type(module), "spec", None)
    if isinstance(spec, LossSpec):
        return spec.name, _non_default(config or {}, spec), config
    terms = getattr(module, "terms", None)
    if isinstance(terms, nn.ModuleDict):
        names, params = [], {}
        for key, term in terms.items():
            name, p, _ = _describe(term)
            names.append(name)
            if p:
                params[key] = p
        weights = getattr(module, "weights", {})
        if isinstance(weights, Mapping) and any(w != 1.0 for w in weights.values()):
            params["weights"] = {
                k: (w if isinstance(w, (int, float)) else str(w)) for k, w in weights.items()
            }
        return "+".join(names), params, config
    inner = getattr(module, "loss", None)
    if isinstance(inner, nn.Module):
        name, p, _ = _describe(inner)
        return f"{type(module).__name__.lower()}({name})", p, config
    return type(module).__name__, {}, config


def _split_items(text: str) -> list[str]:
    """``"a=1,b=0.1,0.9"`` -> ``["a=1", "b=0.1,0.9"]``: a comma starts a new item only before ``key=``."""
    items: list[str] = []
    for part in text.split(","):
        if "=" in part or not items:
            items.append(part)
        else:
            items[-1] += "," + part
    return items


def _entry(name: str) -> LossEntry:
    try:
        return get(name)
    except LosscraftError as exc:
        raise LosscraftError(str(exc).replace("get: ", "compare: ", 1)) from None


def parse_candidate(item: Any) -> Candidate:
    """A :class:`Candidate` from what ``compare(losses=[...])`` accepts (see the module docstring).

    Raises:
        LosscraftError: an unknown loss (with the closest names), an unknown or invalid
            hyperparameter, a malformed ``name:param=value`` string, or an object that is not a loss.
    """
    from .._core.parsing import parse_params
    from ..builder import CustomLoss

    if isinstance(item, CustomLoss):
        item = item.module()
    if isinstance(item, str):
        name, sep, rest = item.partition(":")
        entry = _entry(name.strip())
        params: dict[str, Any] = {}
        if sep:
            if not rest.strip():
                raise LosscraftError(
                    f"compare: loss {item!r} has nothing after ':'; write name:param=value,... "
                    f"(e.g. 'huber:delta=0.5')"
                )
            params = parse_params("compare", entry.spec, _split_items(rest))
        loss = build({"name": entry.name, **params})
    elif isinstance(item, Mapping):
        try:
            loss = build(item)
        except LosscraftError as exc:
            raise LosscraftError(str(exc).replace("get: ", "compare: ", 1)) from None
    elif isinstance(item, nn.Module):
        loss = item
    else:
        raise LosscraftError(
            f"compare: a loss must be a name, a 'name:param=value' string, a config dict or a loss "
            f"Module, got {type(item).__name__}"
        )
    specs = _specs_of(loss)
    if not specs:
        raise LosscraftError(
            f"compare: cannot tell what {type(loss).__name__} takes (no spec); pass a losscraft loss, "
            "a combination of them, or wrap your function with losscraft.custom_loss"
        )
    name, params_shown, config = _describe(loss)
    return Candidate(name, params_shown, loss, config, specs)


def _with_data_settings(c: Candidate, item: str, prof: Profile, goal: Goal) -> Candidate:
    """A name-only or partly set string gets the guide's data-derived settings for the rest.

    Class priors and counts, robust scales, quantile levels from the goal and overlap
    smoothing are facts of the data (:func:`~losscraft.guide.recommending.data_settings`);
    what the string sets is kept, and re-weighting is never added.
    """
    if c.config is None or len(c.specs) != 1:
        return c
    name, sep, rest = item.partition(":")
    user = {part.partition("=")[0].strip() for part in _split_items(rest)} if sep else set()
    found = data_settings(_entry(name.strip()), prof, goal, skip=sorted(user))
    if not found:
        return c
    config = {**c.config, **{k: v for k, (v, _) in found.items()}}
    loss = build(config)
    shown = _describe(loss)
    return dataclasses.replace(c, params=shown[1], loss=loss, config=shown[2])


def _label(c: Candidate) -> str:
    if not c.params:
        return c.name
    return f"{c.name}({', '.join(f'{k}={_short(v)}' for k, v in c.params.items())})"


def _short(v: Any) -> str:
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{k}={_short(x)}" for k, x in v.items()) + "}"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        inner = ", ".join(_short(x) for x in list(v)[:4])
        return f"[{inner}{', ...' if len(v) > 4 else ''}]"
    return repr(v)


def _unique_names(cands: list[Candidate]) -> list[Candidate]:
    names = [c.name for c in cands]
    out = []
    for c in cands:
        name = c.name if names.count(c.name) == 1 else _label(c)
        out.append(c if name == c.name else _replace(c, name=name))
    seen: dict[str, int] = {}
    final = []
    for c in out:
        seen[c.name] = seen.get(c.name, 0) + 1
        final.append(c if seen[c.name] == 1 else _replace(c, name=f"{c.name}#{seen[c.name]}"))
    return final


def _replace(c: Candidate, **changes: Any) -> Candidate:
    return dataclasses.replace(c, **changes)


def _allowed_kinds(task: Task) -> frozenset[TargetKind]:
    kinds = TASK_TARGET_KINDS.get(task, frozenset())
    if task == Task.BINARY:  # a binary target is a 2-class problem for the multiclass losses
        kinds = kinds | TASK_TARGET_KINDS[Task.MULTICLASS]
    return kinds


def _fits(spec: LossSpec, task: Task) -> bool:
    return spec.target_kind in _allowed_kinds(task) and spec.input_kind in _HEAD_INPUTS


def _check_fits(c: Candidate, task: Task) -> None:
    for spec in c.specs:
        if _fits(spec, task):
            continue
        fitting = [e.name for e in catalog() if _fits(e.spec, task) and e.module is not None]
        close = difflib.get_close_matches(spec.name, fitting, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
        raise LosscraftError(
            f"compare: loss {spec.name!r} does not fit a {task.value} target: it takes "
            f"{spec.input_kind.value} inputs and {spec.target_kind.value} targets; {hint}"
            f"losses for {task.value}: {', '.join(fitting)}"
        )


def _is_plain(c: Candidate, baseline: str) -> bool:
    return len(c.specs) == 1 and c.specs[0].name == baseline and not c.params


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class MetricResult:
    """One metric of one candidate over the test folds.

    Attributes:
        mean: mean over the folds where the metric is defined (NaN if none).
        stderr: Nadeau & Bengio's corrected standard error of the mean (NaN with < 2 folds).
        per_fold: the value in each test fold, in fold order (the same folds for every loss).
        folds_won: folds where the candidate is better than the baseline (``None`` for the
            baseline itself, or where the baseline has no value for this metric).
        p_value: two-sided corrected resampled t-test against the baseline (``None`` where
            no valid test exists; ``note`` says why).
        note: why a comparison or p-value is missing, or what limits it.
    """

    mean: float
    stderr: float
    per_fold: tuple[float, ...]
    folds_won: int | None = None
    p_value: float | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON form (NaN and inf become ``None``)."""
        return {
            "mean": _num(self.mean),
            "stderr": _num(self.stderr),
            "per_fold": [_num(v) for v in self.per_fold],
            "folds_won": self.folds_won,
            "p_value": _num(self.p_value),
            "note": self.note,
        }


@dataclass(frozen=True)
class Result:
    """One row of a :class:`Comparison`: a candidate loss and its metrics.

    Attributes:
        name: the candidate's label.
        params: its hyperparameters that differ from the defaults.
        metrics: metric name -> :class:`MetricResult` (the metrics that apply to its predictions).
        config: what :func:`losscraft.build` takes to rebuild the loss (``None`` if unknown).
        kind: the kind of its predictions (``"regression"``, ``"quantiles"``, ``"binary"`` ...).
        source: ``"given"``, ``"recommended"`` or ``"baseline"``.
        epochs_run: steps each fit took, in fold order (early stopping shortens them).
    """

    name: str
    params: dict[str, Any]
    metrics: dict[str, MetricResult]
    config: dict[str, Any] | None
    kind: str
    source: str
    epochs_run: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "name": self.name,
            "params": _jsonable(self.params),
            "config": _jsonable(self.config),
            "kind": self.kind,
            "source": self.source,
            "epochs_run": list(self.epochs_run),
            "metrics": {k: m.to_dict() for k, m in self.metrics.items()},
        }


@dataclass(frozen=True)
class FoldData:
    """One cross-validation fold as the fits saw it.

    Attributes:
        index: fold number (0-based, over all repeats).
        repeat: which re-shuffle it belongs to.
        train_idx: the training rows after any stress subsampling (row numbers of ``X``).
        test_idx: the test rows.
        y_train: the training targets the fits were given (corrupted by a stress test, if any).
        n_split_train: rows of the training split before stress subsampling.
    """

    index: int
    repeat: int
    train_idx: NDArray[np.intp]
    test_idx: NDArray[np.intp]
    y_train: NDArray[Any]
    n_split_train: int


@dataclass(frozen=True, eq=False)
class Comparison:
    """What :func:`compare` found.

    Attributes:
        results: one :class:`Result` per candidate, in the order compared.
        baseline: the baseline's name (its row is always in ``results``).
        metric: the primary metric (``metric=`` or the goal's default); ``best()`` and the
            verdicts use it.
        metrics: every metric in the table, the primary one first.
        task: the task the models were trained for.
        goal: the goal (as text).
        verdicts: one plain sentence per candidate against the baseline on ``metric``.
        settings: the settings (folds, repeats, epochs, seed, model, stress tests, n_train,
            n_test ...), enough to rerun the comparison.
        profile: the target's profile.
        recommendations: what :func:`losscraft.recommend` said (``losses=None``), else ``None``.
        folds: the folds (indices and the training targets given to the fits).
        fits: ``fits[i][j]``: the :class:`~losscraft.guide.training.FitResult` of candidate
            ``i`` on fold ``j`` (learning curves, predictions; not part of :meth:`to_dict`).
    """

    results: tuple[Result, ...]
    baseline: str
    metric: str
    metrics: tuple[str, ...]
    task: str
    goal: str
    verdicts: tuple[str, ...]
    settings: dict[str, Any]
    profile: Profile
    recommendations: Recommendations | None = None
    folds: tuple[FoldData, ...] = field(default=(), repr=False)
    fits: tuple[tuple[FitResult, ...], ...] = field(default=(), repr=False)

    def __getitem__(self, name: str) -> Result:
        """The row of the candidate called ``name``."""
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(name)

    def best(self, metric: str | None = None) -> Result:
        """The candidate with the best mean on ``metric`` (default :attr:`metric`).

        Raises:
            LosscraftError: an unknown metric, or one no candidate has.
        """
        key = self.metric if metric is None else str(metric).strip().lower()
        if key not in METRICS:
            raise LosscraftError(
                f"Comparison.best: unknown metric {metric!r}; metrics here: {', '.join(self.metrics)}"
            )
        sign = 1.0 if METRICS[key].higher_is_better else -1.0
        have = [r for r in self.results if key in r.metrics and math.isfinite(r.metrics[key].mean)]
        if not have:
            raise LosscraftError(
                f"Comparison.best: no candidate has a value for {key!r}; metrics here: {', '.join(self.metrics)}"
            )
        return max(have, key=lambda r: sign * r.metrics[key].mean)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (also what ``losscraft compare --json`` prints)."""
        return {
            "schema": "losscraft.compare/1",
            "task": self.task,
            "goal": self.goal,
            "metric": self.metric,
            "metrics": list(self.metrics),
            "higher_is_better": {m: METRICS[m].higher_is_better for m in self.metrics},
            "baseline": self.baseline,
            "best": self.best().name,
            "test": "corrected resampled t-test (Nadeau & Bengio 2003), two-sided, against the baseline",
            "results": [r.to_dict() for r in self.results],
            "verdicts": list(self.verdicts),
            "settings": _jsonable(self.settings),
            "recommendations": self.recommendations.to_dict() if self.recommendations is not None else None,
            "profile": _jsonable(self.profile.to_dict()),
        }

    def _header(self) -> str:
        s = self.settings
        stress = ", ".join(f"{k}={s[k]}" for k in ("contaminate", "imbalance") if s.get(k) is not None)
        return (
            f"compare: {self.task}, goal {self.goal}, metric {self.metric}; {s['folds']} folds x "
            f"{s['repeats']} repeats, model {s['model']}, seed {s['seed']}"
            + (f"; stress on training folds: {stress}" if stress else "")
        )

    def _cells(self) -> tuple[list[str], list[list[str]]]:
        head = [
            "loss",
            *(
                f"{m} ({'higher' if METRICS[m].higher_is_better else 'lower'} better)"
                if m == self.metric
                else m
                for m in self.metrics
            ),
            "won",
            "p",
        ]
        rows = []
        for r in self.results:
            name = r.name + (" [baseline]" if r.name == self.baseline else "")
            cells = [name]
            for m in self.metrics:
                mr = r.metrics.get(m)
                cells.append("-" if mr is None else f"{_fmt(mr.mean)} ± {_fmt(mr.stderr)}")
            pm = r.metrics.get(self.metric)
            n = len(pm.per_fold) if pm is not None else 0
            cells.append("" if pm is None or pm.folds_won is None else f"{pm.folds_won}/{n}")
            cells.append("" if pm is None or pm.p_value is None else f"{pm.p_value:.2g}")
            rows.append(cells)
        return head, rows

    def _footer(self) -> list[str]:
        return [
            f"mean ± standard error over test folds (corrected for overlapping training sets); won, p: "
            f"on {self.metric} against {self.baseline}, corrected resampled t-test (Nadeau & Bengio 2003)",
            f"best on {self.metric}: {self.best().name}",
        ]

    def __str__(self) -> str:
        head, rows = self._cells()
        widths = [max(len(x) for x in col) for col in zip(head, *rows, strict=True)]
        lines = [self._header(), "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
        lines += self._footer()
        lines += [f"- {v}" for v in self.verdicts]
        return "\n".join(lines)

    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.table import Table

        head, rows = self._cells()
        table = Table(title=self._header())
        for i, h in enumerate(head):
            table.add_column(h, justify="left" if i == 0 else "right")
        for row in rows:
            table.add_row(*row)
        return Group(table, *self._footer(), *(f"- {v}" for v in self.verdicts))


def _fmt(x: float) -> str:
    return "nan" if not math.isfinite(x) else f"{x:.4g}"


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _jsonable(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return [_jsonable(x) for x in v.tolist()]
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return _num(float(v))
    if hasattr(v, "detach") and hasattr(v, "tolist"):  # a tensor
        return _jsonable(v.detach().cpu().tolist())
    if isinstance(v, (str, int, bool)) or v is None:
        return v
    return str(v)


# --------------------------------------------------------------------------- validation
def _int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise LosscraftError(f"compare: {name!r} must be an int >= {low}, got {value!r}")
    return int(value)


def _check_finite(name: str, arr: NDArray[Any]) -> None:
    if arr.dtype.kind != "f":
        return
    bad = ~np.isfinite(arr.reshape(len(arr), -1))
    count = int(bad.sum())
    if count:
        rows = np.flatnonzero(bad.any(axis=1))
        shown = ", ".join(str(int(i)) for i in rows[:5]) + (", ..." if len(rows) > 5 else "")
        raise LosscraftError(
            f"compare: {name!r} holds {count} NaN or inf value{'s' if count > 1 else ''} "
            f"(in {len(rows)} row{'s' if len(rows) > 1 else ''}: {shown}); drop or impute them first"
        )


def _resolve_goal(task: Task, goal: Any) -> Goal:
    if goal is None:
        kind, _ = DEFAULT_GOALS.get(task, ("mean", ""))
        return parse_goal(kind)
    g = parse_goal(goal)
    allowed = TASK_GOALS.get(task, ())
    if g.kind not in allowed:
        valid = ", ".join(repr(x) for x in GOALS if x.split(":")[0] in allowed)
        raise LosscraftError(
            f"compare: goal {g.text!r} does not apply to {task.value}; goals for it: {valid}"
        )
    return g


def _metric_family(task: Task) -> frozenset[str]:
    if task in _REGRESSION:
        return frozenset({"regression", "quantiles", "gaussian"})
    if task == Task.MULTILABEL:
        return frozenset({"multilabel"})
    return frozenset({"binary" if task == Task.BINARY else "multiclass"})


def _resolve_metric(task: Task, goal: Goal, metric: Any) -> str:
    if metric is None:
        return default_metric(task.value, goal.kind)
    key = str(metric).strip().lower()
    fam = _metric_family(task)
    valid = [m for m, info in METRICS.items() if info.kinds & fam]
    if key not in METRICS or key not in valid:
        close = difflib.get_close_matches(key, valid, n=2, cutoff=0.6)
        hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
        raise LosscraftError(
            f"compare: metric {metric!r} does not score {task.value}{hint}; metrics for it: {', '.join(valid)}"
        )
    if not METRICS[key].ranks:
        ranking = [m for m in valid if METRICS[m].ranks]
        raise LosscraftError(
            f"compare: metric {key!r} cannot rank losses on its own (a wider interval always covers more); "
            f"it is reported beside the main metric; rank by one of: {', '.join(ranking)}"
        )
    return key


def _model_arg(model: Any) -> Any:
    if callable(model) or model in ("linear", "mlp"):
        return model
    raise LosscraftError(
        f"compare: 'model' must be 'linear', 'mlp' or a callable (n_features, n_outputs) -> nn.Module, got {model!r}"
    )


# --------------------------------------------------------------------------- running
def _make(model: Any, seed: int, n_features: int, n_outputs: int) -> nn.Module:
    from .models import make_model

    module: nn.Module = make_model(model, n_features, n_outputs, seed)
    return module


def _fit_seed(seed: int, fold: int) -> int:
    return int(np.random.SeedSequence([seed, fold]).generate_state(1)[0] % (2**31))


def _job(
    loss: nn.Module,
    head: HeadLike,
    model: Any,
    X: NDArray[np.float64],
    y: NDArray[Any],
    fold: FoldData,
    epochs: int | None,
    seed: int,
) -> FitResult:
    from . import training

    fit_seed = _fit_seed(seed, fold.index)
    return training.fit_predict(
        loss,
        head,
        functools.partial(_make, model, fit_seed),
        X[fold.train_idx],
        fold.y_train,
        X[fold.test_idx],
        y[fold.test_idx],
        epochs=epochs,
        seed=fit_seed,
    )


def _folds(
    X: NDArray[np.float64],
    y: NDArray[Any],
    task: Task,
    folds: int,
    repeats: int,
    seed: int,
    cont: Contamination | None,
    imb: Imbalance | None,
) -> tuple[FoldData, ...]:
    from sklearn.model_selection import RepeatedKFold, RepeatedStratifiedKFold

    from .stress import apply

    if task in _CLASSIFICATION:
        labels, counts = np.unique(y, return_counts=True)
        if counts.min() < folds:
            small = labels[int(np.argmin(counts))]
            raise LosscraftError(
                f"compare: class {small!r} has only {int(counts.min())} sample(s); stratified "
                f"folds={folds} needs at least {folds} per class (lower 'folds')"
            )
        split: Iterable[tuple[NDArray[Any], NDArray[Any]]] = RepeatedStratifiedKFold(
            n_splits=folds, n_repeats=repeats, random_state=seed
        ).split(X, y)
    else:
        split = RepeatedKFold(n_splits=folds, n_repeats=repeats, random_state=seed).split(X)
    out = []
    for i, (train, test) in enumerate(split):
        train_idx = np.asarray(train, dtype=np.intp)
        rng = np.random.default_rng([seed, i, 1])
        if cont is None and imb is None:
            kept, y_train = train_idx, y[train_idx].copy()
        else:
            kept, y_train = apply(train_idx, y, contaminate=cont, imbalance=imb, task=task, rng=rng)
        out.append(
            FoldData(
                i,
                i // folds,
                np.asarray(kept, dtype=np.intp),
                np.asarray(test, dtype=np.intp),
                y_train,
                len(train_idx),
            )
        )
    return tuple(out)


def _progress(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from rich.progress import Progress
    except ImportError:
        return None
    return Progress(transient=True)


def _run(
    jobs: list[tuple[int, int]],
    cands: Sequence[Candidate],
    heads: Sequence[HeadLike],
    model: Any,
    X: NDArray[np.float64],
    y: NDArray[Any],
    folds: Sequence[FoldData],
    epochs: int | None,
    seed: int,
    n_jobs: int,
    progress: bool,
) -> list[FitResult]:
    from joblib import Parallel, delayed

    tasks = [
        delayed(_job)(copy.deepcopy(cands[c].loss), heads[c], model, X, y, folds[f], epochs, seed)
        for c, f in jobs
    ]
    results: Iterator[FitResult]
    try:  # stream results back for the progress bar
        results = Parallel(n_jobs=n_jobs, return_as="generator")(tasks)
    except ValueError as exc:
        if "return_as" not in str(exc):
            raise
        # backends that cannot stream (joblib's "multiprocessing", Ray's) return all fits at once
        results = iter(Parallel(n_jobs=n_jobs)(tasks))
    bar = _progress(len(jobs), progress)
    if bar is None:
        return list(results)
    out = []
    with bar:
        t = bar.add_task(f"compare: {len(cands)} losses x {len(folds)} folds", total=len(jobs))
        for r in results:
            out.append(r)
            bar.advance(t)
    return out


def _metric_rows(
    cands: Sequence[Candidate],
    fits: Sequence[Sequence[FitResult]],
    base_i: int,
    primary: str,
    n_train: float,
    n_test: float,
) -> tuple[list[Result], tuple[str, ...], list[str]]:
    values: list[dict[str, list[float]]] = []
    for row in fits:
        per: dict[str, list[float]] = {}
        for fr in row:
            for k, v in compute(fr.prediction).items():
                per.setdefault(k, []).append(v)
        values.append(per)
    present = {k for per in values for k in per}
    metrics = tuple([primary] + [m for m in METRICS if m in present and m != primary])
    base_name = cands[base_i].name
    base = values[base_i]
    results: list[Result] = []
    verdicts: list[str] = []
    for i, (c, per) in enumerate(zip(cands, values, strict=True)):
        out: dict[str, MetricResult] = {}
        for m in metrics:
            if m not in per:
                continue
            cv = np.asarray(per[m], dtype=np.float64)
            j = int(np.isfinite(cv).sum())
            mean = float(np.nanmean(cv)) if j else math.nan
            se = (
                math.sqrt((1.0 / j + n_test / n_train) * float(np.nanvar(cv, ddof=1))) if j >= 2 else math.nan
            )
            info = METRICS[m]
            if i == base_i:
                out[m] = MetricResult(mean, se, tuple(per[m]), note="baseline")
                continue
            if m not in base:
                out[m] = MetricResult(mean, se, tuple(per[m]), note=f"{base_name} has no {m}")
                continue
            bv = np.asarray(base[m], dtype=np.float64)
            sign = 1.0 if info.higher_is_better else -1.0
            won = int(np.sum(sign * (cv - bv) > 0))
            test = corrected_resampled_ttest((cv - bv).tolist(), n_train, n_test)
            out[m] = MetricResult(mean, se, tuple(per[m]), won, test.p_value, test.note)
            if m == primary:
                verdicts.append(verdict(c.name, base_name, m, info.higher_is_better, per[m], base[m], test))
        if i != base_i and primary not in per:
            verdicts.append(f"{c.name}: {primary} does not apply to its predictions (not compared)")
        elif i != base_i and primary not in base:
            verdicts.append(
                f"{c.name} vs {base_name}: {base_name} has no {primary} (its predictions are not "
                f"{'quantiles' if primary in ('pinball', 'coverage', 'coverage_error', 'width') else 'of that kind'}); "
                f"{c.name}'s {primary} = {_fmt(out[primary].mean)} ± {_fmt(out[primary].stderr)}"
            )
        kind = fits[i][0].prediction.kind if fits[i] else ""
        results.append(
            Result(c.name, c.params, out, c.config, kind, c.source, tuple(fr.epochs_run for fr in fits[i]))
        )
    return results, metrics, verdicts


def _heads(
    cands: Sequence[Candidate], task: Task, y: NDArray[Any], classes: NDArray[Any] | None
) -> list[HeadLike]:
    from .models import head_for

    labels = None if classes is None else tuple(classes.tolist())
    n_outputs = y.shape[1] if y.ndim == 2 else None
    out: list[HeadLike] = []
    for c in cands:
        try:
            out.append(head_for(c.loss, task.value, n_outputs, labels))
        except LosscraftError as exc:
            msg = str(exc).removeprefix("compare: ")
            raise LosscraftError(f"compare: loss {c.name!r}: {msg}") from None
    return out


def _task_of(prof: Profile) -> Task:
    task = Task(prof.task)
    if task in _UNTRAINED or prof.masks is not None:
        raise LosscraftError(
            f"compare: the target looks like {task.value} data; compare does not train "
            "segmentation/metric-learning models yet; recommend() still works"
        )
    if task in _OWN_LAYOUT:
        raise LosscraftError(
            f"compare: the target is {task.value} data ({_OWN_LAYOUT[task]}); compare trains one prediction "
            "per sample and does not train these models; recommend() still works"
        )
    if task not in _SUPPORTED:
        raise LosscraftError(
            f"compare: compare does not train {task.value} models yet; recommend() still works, or "
            "pass task='regression' or task='multiclass_classification' to compare as such"
        )
    return task


def compare(
    X: Any,
    y: Any,
    losses: Sequence[Any] | None = None,
    *,
    task: Any = None,
    goal: str | Goal | None = None,
    model: str | Callable[[int, int], nn.Module] = "linear",
    metric: str | None = None,
    folds: int = 5,
    repeats: int = 2,
    epochs: int | None = None,
    seed: int = 0,
    contaminate: str | None = None,
    imbalance: str | None = None,
    report: Any = None,
    n_jobs: int = 1,
    progress: bool = True,
) -> Comparison:
    """Compare candidate losses on ``(X, y)`` by repeated cross-validation.

    See the module docstring for the candidates, folds, stress tests and statistics, and
    :mod:`losscraft.guide.training` for how each model is trained.

    Args:
        X: ``(N, p)`` features (array, tensor, DataFrame ...); standardised per training fold.
        y: the target (values, class labels, or an ``(N, L)`` 0/1 matrix for multilabel).
        losses: the candidates; ``None``: the top 3 recommendations plus the baseline.
        task: override the detected task.
        goal: what the model is judged on (``"median"``, ``"interval:0.9"``, ``"rank"`` ...);
            ``None``: the task's default goal.
        model: ``"linear"``, ``"mlp"`` (one hidden layer of 64 ReLU units) or a callable
            ``(n_features, n_outputs) -> nn.Module``.
        metric: the primary metric (default: the goal's, :func:`~losscraft.guide.metrics.default_metric`);
            every metric of the task is reported.
        folds: cross-validation folds (>= 2).
        repeats: re-shuffled repetitions of the folds (>= 1).
        epochs: optimisation steps per fit (``None``: :data:`~losscraft.guide.training.DEFAULT_EPOCHS`).
        seed: seed of the folds, the stress tests, the validation splits and the initialisation.
        contaminate: ``"outliers:F"`` or ``"label-noise:F"``: corrupt that fraction of each training fold.
        imbalance: ``"A:B"`` (e.g. ``"1:20"``): subsample each training fold's classes to that ratio.
        report: a directory to write ``report.md``, ``report.json`` and plots to.
        n_jobs: parallel fits (joblib; ``-1``: all cores). The numbers do not depend on it.
        progress: show a progress bar (fold x loss) when ``rich`` is installed.

    Returns:
        A :class:`Comparison`.

    Raises:
        LosscraftError: before any training, for mismatched lengths, NaN or inf in ``X`` or
            ``y``, an unknown or ill-fitting loss, an unknown metric or goal, bad settings, or a
            target compare does not train (masks, embeddings).
    """
    folds = _int("folds", folds, 2)
    repeats = _int("repeats", repeats, 1)
    seed = _int("seed", seed, 0)
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0:
        raise LosscraftError(f"compare: 'n_jobs' must be a non-zero int (-1: all cores), got {n_jobs!r}")
    if epochs is not None:
        epochs = _int("epochs", epochs, 1)
    model = _model_arg(model)
    cont = parse_contaminate(contaminate)
    imb = parse_imbalance(imbalance)
    if losses is not None and (
        isinstance(losses, (str, Mapping, nn.Module)) or not isinstance(losses, Sequence)
    ):
        losses = [losses]
    if losses is not None and len(losses) == 0:
        raise LosscraftError("compare: 'losses' is empty; pass None for the recommendations")

    reporting: Any = importlib.import_module(".reporting", __package__) if report is not None else None
    if reporting is not None:
        reporting.check_directory(report)  # a bad report= fails before any training
    seqs = as_sequences(y)
    if seqs is not None and (
        len({len(q) for q in seqs}) > 1 or str(getattr(task, "value", task)) == Task.SEQUENCE
    ):
        _task_of(profile(seqs, task=task))  # raises: compare does not train sequence models
    yv = as_target(y, name="y", where="compare")
    if yv.ndim == 2 and yv.shape[1] == 1:
        yv = yv[:, 0]
    Xv = as_features(X, len(yv), name="X", where="compare")
    _check_finite("X", Xv)
    _check_finite("y", yv)
    prof = profile(yv, task=task, features=Xv, seed=seed)
    t = _task_of(prof)
    g = _resolve_goal(t, goal)
    primary = _resolve_metric(t, g, metric)
    cands = [parse_candidate(item) for item in losses] if losses is not None else []
    for c in cands:
        _check_fits(c, t)

    # Class labels stay the user's; the heads map them to columns (sorted labels).
    classes = np.unique(yv) if t in _CLASSIFICATION else None
    yt: NDArray[Any] = yv.astype(np.float64) if t in _REGRESSION else yv

    fold_data = _folds(Xv, yt, t, folds, repeats, seed, cont, imb)
    recs = None
    # What the candidates train on: the data with its stress test applied (the same stress the
    # training folds get), for the recommendations and the data-derived settings.
    rprof = prof
    if cont is not None or imb is not None:
        from .stress import apply

        idx, ys = apply(
            np.arange(len(yt)),
            yt,
            contaminate=cont,
            imbalance=imb,
            task=t,
            rng=np.random.default_rng([seed, 0, 2]),
        )
        rprof = profile(ys, task=t.value, features=Xv[idx], seed=seed)
    if losses is not None:
        cands = [
            _with_data_settings(c, item, rprof, g) if isinstance(item, str) else c
            for c, item in zip(cands, losses, strict=True)
        ]
    else:
        recs = recommend(rprof, goal=g, top=TOP)
        cands = [
            Candidate(r.name, dict(r.params), r.loss, dict(r.config), _specs_of(r.loss), "recommended")
            for r in recs
        ]
    baseline = BASELINES[t]
    if not any(_is_plain(c, baseline) for c in cands):
        b = parse_candidate(baseline)
        cands.append(_replace(b, source="baseline"))
    cands = _unique_names(cands)
    base_i = next(i for i, c in enumerate(cands) if _is_plain(c, baseline))
    heads = _heads(cands, t, yt, classes)

    jobs = [(c, f) for c in range(len(cands)) for f in range(len(fold_data))]
    flat = _run(jobs, cands, heads, model, Xv, yt, fold_data, epochs, seed, n_jobs, progress)
    fits = tuple(tuple(flat[c * len(fold_data) : (c + 1) * len(fold_data)]) for c in range(len(cands)))
    n_train = float(np.mean([fd.n_split_train for fd in fold_data]))
    n_test = float(np.mean([len(fd.test_idx) for fd in fold_data]))
    rows, metrics, verdicts = _metric_rows(cands, fits, base_i, primary, n_train, n_test)
    from .training import DEFAULT_EPOCHS

    settings: dict[str, Any] = {
        "folds": folds,
        "repeats": repeats,
        "epochs": DEFAULT_EPOCHS if epochs is None else epochs,
        "seed": seed,
        "model": model if isinstance(model, str) else getattr(model, "__name__", repr(model)),
        "contaminate": None if cont is None else str(cont),
        "imbalance": None if imb is None else str(imb),
        "n_samples": len(yt),
        "n_features": Xv.shape[1],
        "n_train": n_train,
        "n_test": n_test,
        "classes": None if classes is None else classes.tolist(),
        "n_jobs": n_jobs,
        "task_given": task is not None,
        "goal_given": goal is not None,
        # a rerun can check it has the same data
        "data_sha256": hashlib.sha256(
            np.ascontiguousarray(Xv).tobytes() + np.ascontiguousarray(yt).tobytes()
        ).hexdigest(),
    }
    result = Comparison(
        results=tuple(rows),
        baseline=cands[base_i].name,
        metric=primary,
        metrics=metrics,
        task=t.value,
        goal=g.text,
        verdicts=tuple(verdicts),
        settings=settings,
        profile=prof,
        recommendations=recs,
        folds=fold_data,
        fits=fits,
    )
    if reporting is not None:
        reporting.write_report(result, report)
    return result
