"""Numbers as the report writes them: in a table (:func:`fmt`) and in JSON (non-finite -> ``None``)."""

from __future__ import annotations

import math
from typing import Any

from torch import Tensor

from .thresholds import F64


def fmt(v: float | None) -> str:
    """Four significant digits, ``inf`` / ``-inf``, or ``-`` for ``None``."""
    if v is None:
        return "-"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.4g}"


def floats(t: Tensor) -> list[float | None]:
    """A tensor as a list of floats, non-finite values as ``None``."""
    return [v if math.isfinite(v) else None for v in t.detach().to(F64).tolist()]


def jsonable(obj: Any) -> Any:
    """``obj`` with tensors as lists, non-finite floats as ``None`` and anything unknown as ``str``."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, Tensor):
        return jsonable(obj.detach().cpu().tolist())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, (bool, int, str)) or obj is None:
        return obj
    return str(obj)
