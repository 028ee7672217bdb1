"""Read a target (and its features) from a file: CSV, Parquet, ``.npy`` or ``.npz``.

What ``losscraft recommend DATA`` reads. Tables (CSV, TSV, Parquet) need ``target=`` (the
column name) when they have more than one column; ``features=`` is ``"all"`` (every other
column) or a comma list of columns. A ``.npy`` array is the target as a whole (1-D: one value
per sample; 2-D: a multilabel or soft-label matrix; 3-D and up: segmentation masks) unless
``target=`` names a column index of a 2-D array. An ``.npz`` with one array is read like a
``.npy``; with several, ``target=`` names the array and ``features=`` the feature arrays
(``"all"``: every other array with as many rows).

Every failure is a :class:`~losscraft.LosscraftError` with a one-line message (missing file,
empty file, unknown column or array — listing the ones there are —, unsupported extension),
never a traceback from inside pandas or NumPy. pandas (and pyarrow for Parquet) are imported
on call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._core.errors import LosscraftError

__all__ = ["SUFFIXES", "LoadedData", "read_data"]

#: Supported file name endings and what reads them.
SUFFIXES: dict[str, str] = {
    ".csv": "CSV (pandas)",
    ".tsv": "tab-separated (pandas)",
    ".parquet": "Parquet (pandas + pyarrow)",
    ".pq": "Parquet (pandas + pyarrow)",
    ".npy": "NumPy array",
    ".npz": "NumPy archive",
}


@dataclasses.dataclass(frozen=True)
class LoadedData:
    """A target and optional features read from a file.

    Attributes:
        target: the target values (a NumPy array; object dtype when a table column is text).
        features: ``(n, d)`` float array, or ``None``.
        target_name: the column or array the target came from (``"<array>"`` for a bare ``.npy``).
        feature_names: the columns or arrays the features came from.
        path: the file read.
        skipped: feature columns left out by ``features="all"`` because they are not numeric.
    """

    target: np.ndarray
    features: np.ndarray | None
    target_name: str
    feature_names: tuple[str, ...]
    path: str
    skipped: tuple[str, ...] = ()

    @property
    def n(self) -> int:
        """Number of samples (rows)."""
        return int(self.target.shape[0]) if self.target.ndim else 1

    def to_dict(self) -> dict[str, Any]:
        """Where the data came from, JSON-ready (not the values)."""
        return {
            "path": self.path,
            "rows": self.n,
            "target": self.target_name,
            "target_shape": list(self.target.shape),
            "features": list(self.feature_names),
            "skipped_features": list(self.skipped),
        }


def read_data(
    path: str | Path,
    *,
    target: str | None = None,
    features: str | Sequence[str] | None = None,
    caller: str = "read_data",
) -> LoadedData:
    """Read the target (and features) from ``path``; see the module docstring for the rules.

    Args:
        path: a ``.csv``, ``.tsv``, ``.parquet``/``.pq``, ``.npy`` or ``.npz`` file.
        target: the target column (table), column index (2-D ``.npy``) or array name (``.npz``).
        features: ``"all"``, a comma list, or a sequence of column / array names; ``None``: none.
        caller: the name error messages start with.

    Raises:
        LosscraftError: missing or empty file, unsupported extension, unknown column or array,
            several columns and no ``target``, a file the reader cannot parse.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        raise LosscraftError(
            f"{caller}: unsupported file type {p.suffix or '(none)'!r} for {str(p)!r} "
            f"(supported: {', '.join(SUFFIXES)})"
        )
    if not p.is_file():
        raise LosscraftError(f"{caller}: no such file: {str(p)!r}")
    if p.stat().st_size == 0:
        raise LosscraftError(f"{caller}: {str(p)!r} is empty")
    wanted = _feature_list(features)
    if suffix in (".npy", ".npz"):
        return _read_numpy(p, suffix, target, wanted, caller)
    return _read_table(p, suffix, target, wanted, caller)


def _feature_list(features: str | Sequence[str] | None) -> list[str] | None:
    if features is None:
        return None
    items = features.split(",") if isinstance(features, str) else list(features)
    items = [f.strip() for f in items if f.strip()]
    return items or None


# --------------------------------------------------------------------------- tables
def _read_table(
    p: Path, suffix: str, target: str | None, features: list[str] | None, caller: str
) -> LoadedData:
    try:
        import pandas as pd  # type: ignore[import-untyped, unused-ignore]  # no stubs installed
    except ImportError as exc:  # pragma: no cover - pandas comes with the [guide] extra
        raise LosscraftError(
            f"{caller}: reading {suffix} files needs pandas: pip install 'losscraft[guide]'"
        ) from exc
    try:
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(p)
        else:
            frame = pd.read_csv(p, sep="\t" if suffix == ".tsv" else ",")
    except ImportError as exc:  # pragma: no cover - pyarrow comes with the [guide] extra
        raise LosscraftError(
            f"{caller}: reading Parquet needs pyarrow: pip install 'losscraft[guide]'"
        ) from exc
    except pd.errors.EmptyDataError:
        raise LosscraftError(f"{caller}: {str(p)!r} is empty") from None
    except Exception as exc:  # a malformed file: one line, not pandas' traceback
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LosscraftError(f"{caller}: cannot read {str(p)!r}: {first}") from None
    columns = [str(c) for c in frame.columns]
    frame.columns = pd.Index(columns)
    if len(frame) == 0:
        raise LosscraftError(f"{caller}: {str(p)!r} has no rows (columns: {', '.join(columns)})")
    listing = ", ".join(columns)
    if target is None:
        if len(columns) != 1:
            raise LosscraftError(
                f"{caller}: {str(p)!r} has {len(columns)} columns: name the target with --target "
                f"(columns: {listing})"
            )
        target = columns[0]
    if target not in columns:
        raise LosscraftError(f"{caller}: unknown column {target!r} in {str(p)!r} (columns: {listing})")
    y = frame[target].to_numpy()
    x: np.ndarray | None = None
    names: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    if features is not None:
        if features == ["all"]:
            chosen = [c for c in columns if c != target]
            numeric = [
                c
                for c in chosen
                if pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c])
            ]
            skipped = tuple(c for c in chosen if c not in numeric)
            chosen = numeric
            if not chosen:
                raise LosscraftError(
                    f"{caller}: --features all: {str(p)!r} has no numeric column besides the target "
                    f"(columns: {listing})"
                )
        else:
            unknown = [c for c in features if c not in columns]
            if unknown:
                raise LosscraftError(
                    f"{caller}: unknown column {unknown[0]!r} in --features (columns: {listing})"
                )
            if target in features:
                raise LosscraftError(f"{caller}: --features includes the target column {target!r}")
            text = [
                c
                for c in features
                if not (pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]))
            ]
            if text:
                raise LosscraftError(
                    f"{caller}: feature column {text[0]!r} is not numeric (encode it first, or leave it out)"
                )
            chosen = features
        x = frame[chosen].to_numpy(dtype=np.float64)
        names = tuple(chosen)
    return LoadedData(y, x, target, names, str(p), skipped)


# --------------------------------------------------------------------------- numpy
def _load_numpy(p: Path, suffix: str, caller: str) -> dict[str, np.ndarray]:
    try:
        if suffix == ".npy":
            return {"<array>": np.load(p, allow_pickle=False)}
        with np.load(p, allow_pickle=False) as archive:
            return {k: archive[k] for k in archive.files}
    except Exception as exc:  # a truncated or non-NumPy file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LosscraftError(f"{caller}: cannot read {str(p)!r} as {SUFFIXES[suffix]}: {first}") from None


def _read_numpy(
    p: Path, suffix: str, target: str | None, features: list[str] | None, caller: str
) -> LoadedData:
    arrays = _load_numpy(p, suffix, caller)
    if not arrays:
        raise LosscraftError(f"{caller}: {str(p)!r} holds no arrays")
    if len(arrays) == 1:
        ((name, arr),) = arrays.items()
        return _from_matrix(p, name, arr, target, features, caller)
    listing = ", ".join(arrays)
    if target is None:
        raise LosscraftError(
            f"{caller}: {str(p)!r} holds {len(arrays)} arrays: name the target with --target (arrays: {listing})"
        )
    if target not in arrays:
        raise LosscraftError(f"{caller}: unknown array {target!r} in {str(p)!r} (arrays: {listing})")
    y = arrays[target]
    _check_nonempty(p, target, y, caller)
    if features is None:
        return LoadedData(y, None, target, (), str(p))
    if features == ["all"]:
        chosen = [k for k, a in arrays.items() if k != target and a.ndim >= 1 and a.shape[0] == y.shape[0]]
        if not chosen:
            raise LosscraftError(
                f"{caller}: --features all: no other array in {str(p)!r} has {y.shape[0]} rows (arrays: {listing})"
            )
    else:
        unknown = [k for k in features if k not in arrays]
        if unknown:
            raise LosscraftError(f"{caller}: unknown array {unknown[0]!r} in --features (arrays: {listing})")
        chosen = features
    parts = [_as_features(caller, k, arrays[k], y.shape[0]) for k in chosen]
    return LoadedData(y, np.concatenate(parts, axis=1), target, tuple(chosen), str(p))


def _check_nonempty(p: Path, name: str, arr: np.ndarray, caller: str) -> None:
    if arr.ndim == 0 or arr.shape[0] == 0:
        raise LosscraftError(f"{caller}: array {name!r} in {str(p)!r} is empty (shape {arr.shape})")


def _as_features(caller: str, name: str, arr: np.ndarray, n: int) -> np.ndarray:
    if arr.ndim == 0 or arr.shape[0] != n:
        raise LosscraftError(
            f"{caller}: feature array {name!r} has shape {arr.shape}, the target has {n} rows"
        )
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise LosscraftError(f"{caller}: feature array {name!r} is not numeric (dtype {arr.dtype})")
    return arr.reshape(n, -1).astype(np.float64)


def _from_matrix(
    p: Path, name: str, arr: np.ndarray, target: str | None, features: list[str] | None, caller: str
) -> LoadedData:
    """One array: the whole of it is the target, unless ``target`` names a column of a 2-D array."""
    _check_nonempty(p, name, arr, caller)
    if target is None or target == name:
        if features is not None:
            raise LosscraftError(
                f"{caller}: --features needs the target to be a column: pass --target INDEX "
                f"(the array has shape {arr.shape})"
            )
        return LoadedData(arr, None, name, (), str(p))
    if arr.ndim != 2:
        raise LosscraftError(
            f"{caller}: --target {target!r}: the array in {str(p)!r} has shape {arr.shape}; only a 2-D "
            "array has columns"
        )
    index = _column_index(caller, target, arr.shape[1])
    y = arr[:, index]
    if features is None:
        return LoadedData(y, None, f"{name}[:, {index}]", (), str(p))
    if features == ["all"]:
        cols = [c for c in range(arr.shape[1]) if c != index]
    else:
        cols = [_column_index(caller, f, arr.shape[1]) for f in features]
        if index in cols:
            raise LosscraftError(f"{caller}: --features includes the target column {index}")
    if not cols:
        raise LosscraftError(f"{caller}: --features all: the array has no column besides the target")
    x = _as_features(caller, name, arr[:, cols], arr.shape[0])
    return LoadedData(y, x, f"{name}[:, {index}]", tuple(str(c) for c in cols), str(p))


def _column_index(caller: str, text: str, width: int) -> int:
    try:
        index = int(text)
    except ValueError:
        raise LosscraftError(
            f"{caller}: unknown column {text!r}: a .npy array's columns are indices 0..{width - 1}"
        ) from None
    if not -width <= index < width:
        raise LosscraftError(f"{caller}: unknown column {text!r}: the array has columns 0..{width - 1}")
    return index % width
