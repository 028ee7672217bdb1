"""Stress tests for ``compare``: corrupt or subsample the *training* fold, never the test fold.

A stress test asks how each candidate loss copes with a problem the user's data may have:

- ``contaminate="outliers:0.1"``: gross one-sided target corruption of 10% of the training
  samples (regression);
- ``contaminate="label-noise:0.2"``: 20% of the training labels flipped to another class
  (classification; multilabel: 20% of the label entries flipped);
- ``imbalance="1:20"``: the training classes subsampled so that the majority class has 20
  times as many samples as each other class.

:func:`apply` works on one training fold's indices and returns the indices kept and the
(corrupted) training targets; the caller scores on the untouched test fold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from losscraft._core.errors import LosscraftError
from losscraft._core.spec import Task
from losscraft.guide.data import robust_location_scale

__all__ = [
    "OUTLIER_SHIFT",
    "Contamination",
    "Imbalance",
    "apply",
    "parse_contaminate",
    "parse_imbalance",
]

OUTLIER_SHIFT = 10.0
"""Outliers move a target up by ``OUTLIER_SHIFT * scale * (1 + U)``, ``U ~ Uniform(0, 1)``."""

MIN_PER_CLASS = 2
"""``imbalance`` never leaves a class with fewer training samples than this."""


_CONTAMINATE_FORMS = "'outliers:F' or 'label-noise:F' with a fraction F in (0, 1), e.g. 'outliers:0.1'"
_IMBALANCE_FORMS = "'A:B' with positive numbers, e.g. '1:20' (minority:majority)"

_REGRESSION_TASKS = frozenset(
    {Task.REGRESSION.value, Task.COUNT.value, Task.PROPORTION.value, Task.QUANTILE_REGRESSION.value}
)
_CLASS_TASKS = frozenset({Task.BINARY.value, Task.MULTICLASS.value, Task.ORDINAL.value})
_MULTILABEL = Task.MULTILABEL.value


@dataclass(frozen=True)
class Contamination:
    """A training-fold corruption: ``kind`` and the ``fraction`` of samples (entries) it hits."""

    kind: Literal["outliers", "label-noise"]
    fraction: float

    def __str__(self) -> str:
        return f"{self.kind}:{self.fraction:g}"


@dataclass(frozen=True)
class Imbalance:
    """A class imbalance to induce: the majority class keeps ``ratio`` times each other class."""

    ratio: float
    text: str = ""

    def __str__(self) -> str:
        return self.text or f"1:{self.ratio:g}"


def parse_contaminate(text: str | Contamination | None) -> Contamination | None:
    """Read ``"outliers:0.1"`` or ``"label-noise:0.2"`` (``None`` passes through).

    ``label_noise`` is read as ``label-noise``; names are case-insensitive.

    Raises:
        LosscraftError: another kind, a missing or unreadable fraction, or one outside (0, 1).
    """
    if text is None or isinstance(text, Contamination):
        return text
    if not isinstance(text, str):
        raise LosscraftError(
            f"compare: 'contaminate' must be a string such as 'outliers:0.1', got {type(text).__name__}"
        )
    kind, sep, value = text.strip().partition(":")
    kind = kind.strip().lower().replace("_", "-")
    if not sep or kind not in ("outliers", "label-noise"):
        raise LosscraftError(f"compare: cannot read contaminate={text!r}; expected {_CONTAMINATE_FORMS}")
    try:
        fraction = float(value)
    except ValueError:
        raise LosscraftError(
            f"compare: cannot read the fraction in contaminate={text!r}; expected {_CONTAMINATE_FORMS}"
        ) from None
    if not 0.0 < fraction < 1.0:
        raise LosscraftError(
            f"compare: the fraction in contaminate={text!r} must be in (0, 1), got {fraction:g}; "
            f"expected {_CONTAMINATE_FORMS}"
        )
    return Contamination("outliers" if kind == "outliers" else "label-noise", fraction)


def parse_imbalance(text: str | Imbalance | None) -> Imbalance | None:
    """Read ``"1:20"`` (minority:majority; ``"20:1"`` means the same) (``None`` passes through).

    Raises:
        LosscraftError: not two positive finite numbers separated by ``:``.
    """
    if text is None or isinstance(text, Imbalance):
        return text
    if not isinstance(text, str):
        raise LosscraftError(
            f"compare: 'imbalance' must be a string such as '1:20', got {type(text).__name__}"
        )
    parts = text.strip().split(":")
    try:
        if len(parts) != 2:
            raise ValueError(text)
        a, b = float(parts[0]), float(parts[1])
    except ValueError:
        raise LosscraftError(
            f"compare: cannot read imbalance={text!r}; expected {_IMBALANCE_FORMS}"
        ) from None
    if not (a > 0 and b > 0 and math.isfinite(a) and math.isfinite(b)):
        raise LosscraftError(
            f"compare: both sides of imbalance={text!r} must be positive finite numbers; "
            f"expected {_IMBALANCE_FORMS}"
        )
    return Imbalance(max(a, b) / min(a, b), text.strip())


def _task_name(task: Any) -> str:
    return str(getattr(task, "value", task))


def _subsample(idx: np.ndarray, labels: np.ndarray, ratio: float, rng: np.random.Generator) -> np.ndarray:
    """Keep the majority class; cap every other class at ``round(count_major / ratio)`` samples."""
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    if len(classes) < 2:
        raise LosscraftError("compare: imbalance needs at least two classes in the training fold")
    major = int(np.argmax(counts))
    cap = max(MIN_PER_CLASS, round(float(counts[major]) / ratio))
    keep = np.zeros(len(idx), dtype=bool)
    for c in range(len(classes)):
        members = np.flatnonzero(inverse == c)
        if c == major or len(members) <= cap:
            keep[members] = True
        else:
            keep[rng.choice(members, size=cap, replace=False)] = True
    return idx[keep]


def apply(
    train_idx: np.ndarray,
    y: np.ndarray,
    *,
    contaminate: str | Contamination | None,
    imbalance: str | Imbalance | None,
    task: Any,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Stress one training fold: ``(indices kept, training targets after corruption)``.

    ``y`` is the whole target (``(N,)``, or ``(N, L)`` for multilabel); only ``y[train_idx]``
    is read and a corrupted copy of it returned: ``y`` itself and every test index stay
    untouched. The order of ``train_idx`` is kept. Imbalance is induced first, then the
    contamination hits ``round(fraction * n)`` of the remaining ``n`` training samples,
    drawn without replacement:

    - outliers (regression tasks): ``y += OUTLIER_SHIFT * s * (1 + U)``, ``U ~ Uniform(0, 1)``,
      where ``s`` is the training fold's robust scale (1.4826 * MAD, else its standard
      deviation, else 1): gross and one-sided (all upwards), so a mean-fitting loss is pulled
      while a bounded-gradient loss is not. Counts are rounded up to integers; proportions are
      clipped to 1.
    - label-noise (binary, multiclass, ordinal): each hit label becomes one of the *other*
      classes of ``y`` (all of ``y``, so a class missing from the fold can still appear),
      drawn uniformly. Multilabel: ``round(fraction * n * L)`` label entries are flipped.
    - imbalance (binary, multiclass, ordinal): the most frequent training class keeps all its
      samples; every other class is subsampled to ``round(count_major / ratio)`` samples (at
      least :data:`MIN_PER_CLASS`; a class already smaller keeps what it has).

    Deterministic given the state of ``rng``.

    Raises:
        LosscraftError: unreadable settings, or a stress that does not apply to ``task``.
    """
    cont = parse_contaminate(contaminate)
    imb = parse_imbalance(imbalance)
    task_name = _task_name(task)
    idx = np.asarray(train_idx)
    if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
        raise LosscraftError("compare: training indices must be a 1-D integer array")
    y_all = np.asarray(y)
    is_class = task_name in _CLASS_TASKS
    if imb is not None:
        if not is_class:
            raise LosscraftError(
                f"compare: imbalance={str(imb)!r} needs a binary, multiclass or ordinal task, not {task_name!r}"
            )
        idx = _subsample(idx, y_all[idx], imb.ratio, rng)
    y_train = y_all[idx].copy()
    if cont is None:
        return idx, y_train
    n = len(idx)
    if cont.kind == "outliers":
        if task_name not in _REGRESSION_TASKS:
            raise LosscraftError(
                f"compare: contaminate='outliers:...' corrupts regression targets; task {task_name!r} "
                "takes 'label-noise:F' instead"
            )
        y_train = y_train.astype(np.float64)
        hit = rng.choice(n, size=round(cont.fraction * n), replace=False)
        _, scale = robust_location_scale(y_train, axis=0)
        u = rng.uniform(0.0, 1.0, size=(len(hit), *y_train.shape[1:]))
        shift = OUTLIER_SHIFT * scale * (1.0 + u)
        if task_name == Task.COUNT.value:
            shift = np.ceil(shift)
        y_train[hit] = y_train[hit] + shift
        if task_name == Task.PROPORTION.value:
            y_train = np.clip(y_train, None, 1.0)
        return idx, y_train
    if task_name == _MULTILABEL:
        flat = y_train.reshape(-1)
        hit = rng.choice(flat.size, size=round(cont.fraction * flat.size), replace=False)
        flat[hit] = 1 - flat[hit]
        return idx, flat.reshape(y_train.shape)
    if not is_class:
        raise LosscraftError(
            f"compare: contaminate='label-noise:...' flips class labels; task {task_name!r} takes "
            "'outliers:F' instead"
        )
    classes = np.unique(y_all)
    if len(classes) < 2:
        raise LosscraftError("compare: label-noise needs at least two classes")
    hit = rng.choice(n, size=round(cont.fraction * n), replace=False)
    position = np.searchsorted(classes, y_train[hit])
    # An offset in 1..C-1 from the current class: uniform over the other classes.
    offset = rng.integers(1, len(classes), size=len(hit))
    y_train[hit] = classes[(position + offset) % len(classes)]
    return idx, y_train
