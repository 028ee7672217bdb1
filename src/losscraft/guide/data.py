"""Turn what users pass as a target or as features into NumPy arrays, with clear errors.

Accepted: NumPy arrays, torch tensors, (nested) lists and tuples, pandas Series or a single-column
DataFrame, polars Series, and anything else with a ``.to_numpy()`` method. Non-numeric content, an
empty target, a single sample, or features whose length differs from the target's raise
:class:`~losscraft._core.errors.LosscraftError` naming the argument, never an error from inside
NumPy or pandas.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from losscraft._core.errors import LosscraftError

__all__ = ["as_features", "as_sequences", "as_target", "robust_location_scale"]

MAD_TO_SD = 1.4826  # 1.4826 * MAD estimates the standard deviation of a normal sample


def _columns(obj: Any) -> list[Any] | None:
    """Column names of a DataFrame-like object (pandas, polars), else None."""
    cols = getattr(obj, "columns", None)
    if cols is None or not hasattr(obj, "to_numpy"):
        return None
    try:
        return list(cols)
    except TypeError:
        return None


def _to_array(obj: Any, name: str, where: str) -> NDArray[Any]:
    """Best-effort conversion to an ndarray, before any numeric check."""
    if obj is None:
        raise LosscraftError(f"{where}: {name!r} is None; pass an array, tensor, list or Series")
    if hasattr(obj, "detach") and hasattr(obj, "cpu"):  # a torch tensor
        t = obj.detach().cpu()
        if t.is_floating_point():  # bfloat16 / float16 have no (or a lossy) NumPy twin
            t = t.double()
        return np.asarray(t.numpy())
    if isinstance(obj, np.ndarray):
        return obj
    if hasattr(obj, "to_numpy"):  # pandas / polars Series or DataFrame
        try:
            return np.asarray(obj.to_numpy())
        except Exception as exc:  # the container refused (e.g. mixed nested types)
            raise LosscraftError(f"{where}: could not convert {name!r} to an array: {exc}") from None
    if isinstance(obj, (str, bytes)):
        raise LosscraftError(f"{where}: {name!r} must be an array of numbers, got a string {obj!r:.40}")
    try:
        return np.asarray(obj)
    except ValueError:
        # ragged nested lists
        raise LosscraftError(
            f"{where}: {name!r} is ragged (rows of different lengths); pass a rectangular array"
        ) from None


def _first_bad(values: NDArray[Any]) -> tuple[int, Any] | None:
    """Index and value of the first element that is not a number (None / pandas NA count as missing)."""
    for i, v in enumerate(values.ravel()):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        if type(v).__name__ in ("NAType", "NaTType"):
            continue
        if isinstance(v, (bool, np.bool_, int, float, np.integer, np.floating)):
            continue
        return i, v
    return None


def _numeric(arr: NDArray[Any], name: str, where: str) -> NDArray[Any]:
    """Check that ``arr`` holds numbers; return it as an int/float array (bool -> int)."""
    kind = arr.dtype.kind
    if kind == "b":
        return arr.astype(np.int64)
    if kind in "iuf":
        return arr
    if kind == "c":
        raise LosscraftError(f"{where}: {name!r} holds complex numbers; pass real values")
    if kind in "OUSa" or kind == "T":
        obj = arr.astype(object)
        bad = _first_bad(obj)
        if bad is not None:
            index, value = bad
            raise LosscraftError(
                f"{where}: {name!r} must be numeric, found the non-numeric value {value!r} at flat index "
                f"{index}; encode class labels as integers (e.g. sklearn.preprocessing.LabelEncoder)"
            )
        flat = [
            math.nan if (v is None or type(v).__name__ in ("NAType", "NaTType")) else float(v)
            for v in obj.ravel()
        ]
        return np.asarray(flat, dtype=np.float64).reshape(arr.shape)
    raise LosscraftError(f"{where}: {name!r} has dtype {arr.dtype}, expected numbers")


def as_target(target: Any, *, name: str = "target", where: str = "profile") -> NDArray[Any]:
    """Coerce a target to a numeric ndarray with at least 2 samples along the first axis.

    Args:
        target: array, tensor, list, Series, single-column DataFrame, or anything with ``to_numpy()``.
        name: the argument's name in error messages.
        where: the calling function's name in error messages.

    Returns:
        An int or float ndarray (bool becomes int64); NaN/inf are kept (the caller counts them).

    Raises:
        LosscraftError: non-numeric values (the first one is named), an empty target, a scalar,
            a single sample, or a DataFrame with several columns.
    """
    cols = _columns(target)
    if cols is not None and len(cols) != 1:
        shown = ", ".join(repr(c) for c in cols[:8]) + (", ..." if len(cols) > 8 else "")
        raise LosscraftError(
            f"{where}: {name!r} is a table with {len(cols)} columns ({shown}); pass one column, "
            f"e.g. df[{cols[0]!r}]"
            if cols
            else f"{where}: {name!r} is a table with no columns"
        )
    arr = _to_array(target, name, where)
    if cols is not None and arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim == 0:
        raise LosscraftError(f"{where}: {name!r} must be an array of samples, got a scalar {arr.item()!r}")
    if arr.size == 0:
        raise LosscraftError(f"{where}: {name!r} is empty (shape {tuple(arr.shape)}); nothing to profile")
    arr = _numeric(arr, name, where)
    if arr.shape[0] < 2:
        raise LosscraftError(
            f"{where}: {name!r} has 1 sample (shape {tuple(arr.shape)}); at least 2 are needed"
        )
    return arr


def as_features(
    features: Any, n: int, *, name: str = "features", where: str = "profile"
) -> NDArray[np.float64]:
    """Coerce features to a 2-D float64 array with ``n`` rows (1-D -> one column; >2-D -> flattened rows).

    Args:
        features: array, tensor, list, DataFrame (all columns), Series, or anything with ``to_numpy()``.
        n: the target's number of samples.
        name: the argument's name in error messages.
        where: the calling function's name in error messages.

    Returns:
        A float64 array of shape ``(n, p)``; NaN/inf are kept (the caller excludes those rows).

    Raises:
        LosscraftError: non-numeric values, no columns, or a length different from ``n``.
    """
    arr = _to_array(features, name, where)
    if arr.ndim == 0:
        raise LosscraftError(f"{where}: {name!r} must be an array with one row per sample, got a scalar")
    arr = _numeric(arr, name, where)
    if arr.shape[0] != n:
        raise LosscraftError(
            f"{where}: {name!r} has {arr.shape[0]} rows but the target has {n} samples; "
            "they must have the same length"
        )
    out = arr.reshape(n, -1).astype(np.float64, copy=False)
    if out.shape[1] == 0:
        raise LosscraftError(f"{where}: {name!r} has no columns")
    return out


def robust_location_scale(
    y: NDArray[Any], axis: int | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The median and the robust scale 1.4826 * MAD of ``y`` (over ``axis``; all values for ``None``).

    Where the MAD is 0 (more than half the values equal) the standard deviation stands in, and
    1 where that is 0 too, so the scale is always positive. Used to put targets in standard
    units (compare's heads) and to size gross errors (compare's stress tests).
    """
    v = np.asarray(y, dtype=np.float64)
    med = np.median(v, axis=axis)
    scale = MAD_TO_SD * np.median(np.abs(v - (med if axis is None else np.expand_dims(med, axis))), axis=axis)
    scale = np.where(scale > 0, scale, np.std(v, axis=axis))
    return np.asarray(med, dtype=np.float64), np.asarray(np.where(scale > 0, scale, 1.0), dtype=np.float64)


def as_sequences(target: Any) -> list[NDArray[np.int64]] | None:
    """A list/tuple of 1-D integer label sequences as arrays, or ``None`` when it is not one."""
    if not isinstance(target, (list, tuple)) or len(target) == 0:
        return None
    out: list[NDArray[np.int64]] = []
    for item in target:
        if isinstance(item, (str, bytes)) or np.ndim(item) != 1:
            return None
        raw = item.detach().cpu().numpy() if hasattr(item, "detach") else item
        try:
            a = np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError):
            return None
        if not np.all(np.isfinite(a)) or not np.all(a == np.round(a)):
            return None
        out.append(a.astype(np.int64))
    return out
