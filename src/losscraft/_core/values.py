"""Reading tensor values for checks: whether they are concrete, and how to describe bad ones.

A value check reads data back to the host, which is possible only where the values are
concrete (:func:`values_are_concrete`): not while ``torch.compile`` traces a graph, not for a
tensor batched by ``torch.func.vmap``. :func:`value_error` and :func:`fmt_got` word what is
wrong for the error messages of both the spec's domains and :mod:`losscraft._core.checks`, which
builds on this module.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

__all__ = ["fmt_got", "functorch_active", "is_compiling", "value_error", "values_are_concrete"]


def is_compiling() -> bool:
    """True while ``torch.compile`` / dynamo traces the code (value checks are skipped)."""
    compiler = getattr(torch, "compiler", None)
    if compiler is not None and hasattr(compiler, "is_compiling"):
        return bool(compiler.is_compiling())
    return False  # pragma: no cover - torch < 2.3


def functorch_active() -> bool:
    """True while a ``torch.func`` transform (``vmap``, ``grad``, ``jacrev``, ``jvp``, ...) runs."""
    active = getattr(torch._C, "_are_functorch_transforms_active", None)
    return bool(active()) if active is not None else False


def values_are_concrete(x: Tensor) -> bool:
    """Whether the values of ``x`` can be read back to the host (value checks run only then).

    False while ``torch.compile`` traces (the values are symbolic) and for a tensor batched by
    ``torch.func.vmap`` at any level (one Python call stands for a whole batch). Tensors seen
    by ``grad``/``jacrev``/``jvp`` alone, or not transformed (a captured target), are concrete.
    """
    if is_compiling():
        return False
    if not functorch_active():
        return True
    ft = getattr(torch._C, "_functorch", None)
    needed = ("is_functorch_wrapped_tensor", "is_batchedtensor", "is_gradtrackingtensor", "get_unwrapped")
    if ft is None or not all(hasattr(ft, name) for name in needed):  # pragma: no cover - old torch
        return False
    while ft.is_functorch_wrapped_tensor(x):
        # Peel the wrappers from the innermost transform outwards: any vmap level (or a
        # wrapper kind not known to hold concrete values) makes the values non-concrete.
        if ft.is_batchedtensor(x) or not (ft.is_gradtrackingtensor(x) or _is_functional(ft, x)):
            return False
        x = ft.get_unwrapped(x)
    return True


def _is_functional(ft: Any, x: Tensor) -> bool:
    check = getattr(ft, "is_functionaltensor", None)
    return bool(check(x)) if check is not None else False


def value_error(x: Tensor | Sequence[float], *, low: float = 0.0, strict: bool = False) -> str | None:
    """``None`` if every value of ``x`` is finite and ``>= low`` (``> low`` if ``strict``).

    Else ``"got <first bad value> (<observed range / NaN count>)"`` for an error message. One
    ``aminmax`` pass and one host sync for a valid tensor (NaN propagates through ``aminmax``
    and fails both comparisons); skipped where the values are not concrete
    (:func:`values_are_concrete`: ``torch.compile`` tracing, ``vmap``).
    """
    if isinstance(x, Tensor):
        if x.numel() == 0 or not values_are_concrete(x):
            return None
        xd = x.detach()
        # One host transfer for both ends (NaN fails every comparison below).
        lo, hi = torch.stack(torch.aminmax(xd)).tolist()
        if (lo > low if strict else lo >= low) and hi < math.inf:
            return None
        bad = ~torch.isfinite(xd) | ((xd <= low) if strict else (xd < low))
        return fmt_got(xd, xd[bad].flatten()[0].item())
    vals = [float(v) for v in x]
    for v in vals:
        if not (math.isfinite(v) and (v > low if strict else v >= low)):
            return fmt_got(torch.tensor(vals, dtype=torch.float64), v)
    return None


def fmt_got(x: Tensor, first: float) -> str:
    """``got -1 (observed range [-1, 2])`` for a range message: ``first`` is the offending value.

    NaN values are counted and the range is that of the others (``got nan (4 of 4 values are
    NaN)``), never a range made up by the NaN values.
    """
    n = x.numel()
    nan = torch.isnan(x) if x.is_floating_point() else None
    n_nan = int(nan.sum().item()) if nan is not None else 0
    parts = []
    if n_nan:
        parts.append(f"{n_nan} of {n} values are NaN")
    if n_nan < n:
        rest = x[~nan] if nan is not None and n_nan else x
        lo, hi = torch.aminmax(rest if rest.is_floating_point() else rest.double())
        others = "observed range of the other values" if n_nan else "observed range"
        parts.append(f"{others} [{lo.item():g}, {hi.item():g}]")
    return f"got {first:g} ({'; '.join(parts)})"
