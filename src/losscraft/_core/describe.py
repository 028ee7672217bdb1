"""Registry entries as JSON-ready data: the catalog, one entry, and the ``--json`` schemas.

The command line prints these objects (``losscraft list --json``, ``losscraft show NAME --json``)
and renders its tables from them; the docs generators read :data:`JSON_SCHEMAS`. Tensors are
written as lists; non-finite floats as the strings ``"inf"``, ``"-inf"``, ``"nan"``
(:func:`jsonable`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from .registry import aliases, catalog, get
from .spec import CHECKED_PROPERTIES, LossSpec

__all__ = ["JSON_SCHEMAS", "describe_entry", "jsonable", "list_entries"]

#: The ``--json`` formats: schema id -> field -> meaning. Stable: fields are only ever added.
JSON_SCHEMAS: dict[str, dict[str, str]] = {
    "losscraft.list/1": {
        "schema": '"losscraft.list/1"',
        "filters": "the --family / --property filters applied (null when not given)",
        "losses": "one object per loss, sorted by name: name, family, summary, input_kind, target_kind, "
        "tasks (list), params ({name: default}), properties ({measured: [...], advisory: [...]}), aliases (list)",
    },
    "losscraft.show/1": {
        "schema": '"losscraft.show/1"',
        "name": "registry key",
        "family, summary, formula": "as in the spec (formula is LaTeX)",
        "function, module": 'dotted paths, e.g. "losscraft.functional.huber_loss", "losscraft.HuberLoss"',
        "inputs": "names of the positional tensor arguments",
        "input_kind, target_kind, tasks": "what the loss takes and is for",
        "none_shape, weight, ignore_index": 'reduction="none" shape, meaning of weight, ignore_index support',
        "params": "list of {name, default, domain (text), doc}",
        "properties": "{measured: [...] (verified by the contract tests), advisory: [...]}",
        "relations": "tested identities with other losses, as text",
        "references": "list of {authors, title, venue, year, url, text}",
        "when_to_use": "advice",
        "when_not_to_use": "where another loss (named by its key) is the better choice, and why",
        "aliases": "other names accepted by losscraft.get",
        "curves": "list of {axis, domain, zero, label}: the 1-D slices used by analyze and plot",
    },
    "losscraft.analyze/1": {
        "schema": '"losscraft.analyze/1"',
        "name": "registry key (or custom loss name)",
        "params": "the hyperparameters analysed (defaults filled)",
        "analysis": "AnalysisReport.to_dict() (see losscraft.analysis; non-finite floats are null there)",
    },
    "losscraft.plot/1": {
        "schema": '"losscraft.plot/1"',
        "output": "path of the written image",
        "format": '"png", "svg" or "pdf"',
        "losses": "names of the plotted losses",
        "panels": '["loss", "gradient"] or ["loss"]',
        "lines": "one {loss, label, axis, params, points} per drawn line (the loss panel; the gradient "
        "panel has the same lines)",
    },
    "losscraft.recommend/1": {
        "schema": '"losscraft.recommend/1"',
        "data": "where the data came from: {path, rows, target, target_shape, features (list), "
        "skipped_features (non-numeric columns left out by --features all)}",
        "profile": "Profile.to_dict(): the task detected and the rule that decided, class / multilabel / mask / "
        "regression statistics, label-noise and heteroscedasticity hints, warnings, subsample",
        "goal": 'the goal the ranking serves, e.g. "mean", "interval:0.8"',
        "default_goal": "true when the goal is the task's default (no --goal given)",
        "recommendations": "best first: Recommendation.to_dict() (name, params set from the data, score, "
        "reasons, config)",
        "avoid": "list of {name, reason}: losses to avoid for this data and goal",
        "snippet": "Python that builds the top choice with losscraft.build (null when nothing qualifies)",
    },
    "losscraft.compare/1": {
        "schema": '"losscraft.compare/1"',
        "task, goal": "the task compared and the goal the metric serves",
        "metric": "the main metric (verdicts, folds won and p-values are on it); metrics: every metric reported",
        "higher_is_better": "{metric: bool}",
        "baseline": "the plain loss every candidate is tested against; best: the best row on the main metric",
        "test": "the statistical test used (corrected resampled t-test, Nadeau & Bengio 2003)",
        "results": "one row per loss: name, params, config, source (given / recommended / baseline), kind, "
        "epochs run per fold, and per metric {mean, stderr, per_fold, folds_won, p_value, note}",
        "verdicts": "plain-language verdicts against the baseline on the main metric",
        "settings": "folds, repeats, epochs, seed, model, stress tests, sizes, n_jobs, data_sha256, ...",
        "recommendations": "losscraft.recommend/1's recommendations when compare chose the losses, else null",
        "profile": "Profile.to_dict() of the data compared",
    },
    "losscraft.error/1": {
        "schema": '"losscraft.error/1"',
        "error": "the message (also on stderr); the exit code is 2",
    },
}


def jsonable(value: Any) -> Any:
    """``value`` with tensors as lists, non-finite floats as ``"inf"`` / ``"-inf"`` / ``"nan"``.

    Mappings get string keys, sets become sorted lists, anything else unknown its ``str``.

    >>> jsonable({"w": torch.tensor([1.0, float("inf")]), 2: None})
    {'w': [1.0, 'inf'], '2': None}
    """
    if isinstance(value, torch.Tensor):
        return jsonable(value.detach().cpu().tolist())
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [jsonable(v) for v in items]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


def _aliases_of(name: str) -> list[str]:
    return sorted(a for a, k in aliases().items() if k == name)


def _props(spec: LossSpec) -> dict[str, list[str]]:
    props = sorted(spec.properties, key=str)
    return {
        "measured": [str(p) for p in props if p in CHECKED_PROPERTIES],
        "advisory": [str(p) for p in props if p not in CHECKED_PROPERTIES],
    }


def _defaults(spec: LossSpec) -> dict[str, Any]:
    return {p.name: jsonable(p.domain.to_config(p.default)) for p in spec.params}


def list_entries(family: str | None = None, property: str | None = None) -> dict[str, Any]:
    """The catalog, filtered as :func:`~losscraft.catalog` does (schema ``losscraft.list/1``).

    Raises:
        LosscraftError: unknown family or property.
    """
    rows = []
    for e in catalog(family=family, property=property):
        s = e.spec
        rows.append(
            {
                "name": s.name,
                "family": str(s.family),
                "summary": s.summary,
                "input_kind": str(s.input_kind),
                "target_kind": str(s.target_kind),
                "tasks": [str(t) for t in s.tasks],
                "params": _defaults(s),
                "properties": _props(s),
                "aliases": _aliases_of(s.name),
            }
        )
    return {
        "schema": "losscraft.list/1",
        "filters": {"family": family, "property": property},
        "losses": rows,
    }


def describe_entry(name: str) -> dict[str, Any]:
    """Everything about one entry, by name or alias (schema ``losscraft.show/1``).

    Raises:
        LosscraftError: unknown name (the message suggests the closest names).
    """
    e = get(name)
    s = e.spec
    return {
        "schema": "losscraft.show/1",
        "name": s.name,
        "family": str(s.family),
        "summary": s.summary,
        "formula": s.formula,
        "function": f"losscraft.functional.{e.function.__name__}",
        "module": f"losscraft.{e.module.__name__}" if e.module is not None else None,
        "inputs": list(s.inputs),
        "input_kind": str(s.input_kind),
        "target_kind": str(s.target_kind),
        "tasks": [str(t) for t in s.tasks],
        "none_shape": s.none_shape,
        "weight": s.weight,
        "ignore_index": s.ignore_index,
        "params": [
            {
                "name": p.name,
                "default": jsonable(p.domain.to_config(p.default)),
                "domain": p.domain.describe(),
                "doc": p.doc,
            }
            for p in s.params
        ],
        "properties": _props(s),
        "relations": [r.describe(s.name) for r in s.relations],
        "references": [
            {
                "authors": r.authors,
                "title": r.title,
                "venue": r.venue,
                "year": r.year,
                "url": r.url,
                "text": str(r),
            }
            for r in s.references
        ],
        "when_to_use": s.when_to_use,
        "when_not_to_use": s.when_not_to_use,
        "aliases": _aliases_of(s.name),
        "curves": [
            {"axis": c.axis, "domain": jsonable(list(c.domain)), "zero": jsonable(c.zero), "label": c.label}
            for c in s.curves
        ],
    }
