"""Central input validation.

Every check raises :class:`LosscraftError` with a message that names the function, the
argument, what was given and what was expected.

Checks that need the *values* of a tensor (class-index range, probability range, ``±1``
targets) read data back to Python; they are skipped while ``torch.compile`` traces a graph so
that losses stay ``fullgraph``-compatible (compile the loss after validating once eagerly).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

from .errors import LosscraftError
from .spec import LossSpec

__all__ = [
    "REDUCTIONS",
    "check_class_index",
    "check_class_weight",
    "check_finite_range",
    "check_floating",
    "check_params",
    "check_same_shape",
    "check_tensor",
    "check_values_in",
    "compute_dtype",
    "fmt_shape",
    "is_compiling",
    "prepare_real_pair",
    "to_compute",
]

REDUCTIONS = ("mean", "sum", "none")
_FLOATING = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
_HALF = (torch.float16, torch.bfloat16)


def is_compiling() -> bool:
    """True while ``torch.compile`` / dynamo traces the code (value checks are skipped)."""
    compiler = getattr(torch, "compiler", None)
    if compiler is not None and hasattr(compiler, "is_compiling"):
        return bool(compiler.is_compiling())
    return False  # pragma: no cover - torch < 2.3


def fmt_shape(t: Tensor | torch.Size | tuple[int, ...]) -> str:
    """``(2, 3)`` rather than ``torch.Size([2, 3])``."""
    shape = tuple(t.shape) if isinstance(t, Tensor) else tuple(t)
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def check_params(spec: LossSpec, values: dict[str, Any]) -> None:
    """Validate ``reduction`` and every hyperparameter of ``spec`` present in ``values``."""
    fn = spec.function_name
    if "reduction" in values:
        reduction = values["reduction"]
        if not isinstance(reduction, str) or reduction not in REDUCTIONS:
            raise LosscraftError(f"{fn}: 'reduction' must be one of 'mean', 'sum', 'none', got {reduction!r}")
    for p in spec.params:
        if p.name in values and not p.domain.contains(values[p.name]):
            raise LosscraftError(
                f"{fn}: '{p.name}' must be {p.domain.describe()}, got {_short(values[p.name])}"
            )


def _short(value: Any) -> str:
    if isinstance(value, Tensor):
        return f"a {value.dtype} tensor of shape {fmt_shape(value)}"
    return repr(value)


def check_tensor(fn: str, name: str, x: Any) -> Tensor:
    """``x`` must be a tensor."""
    if not isinstance(x, Tensor):
        raise LosscraftError(f"{fn}: '{name}' must be a torch.Tensor, got {type(x).__name__}")
    return x


def check_floating(fn: str, name: str, x: Any) -> Tensor:
    """``x`` must be a float16/bfloat16/float32/float64 tensor."""
    t = check_tensor(fn, name, x)
    if t.dtype not in _FLOATING:
        raise LosscraftError(
            f"{fn}: '{name}' must be a floating-point tensor (float16, bfloat16, float32 or "
            f"float64), got {t.dtype}"
        )
    return t


def check_same_shape(fn: str, a: Tensor, b: Tensor, names: tuple[str, str] = ("input", "target")) -> None:
    """Shapes must match exactly: losscraft never broadcasts input against target."""
    if a.shape != b.shape:
        raise LosscraftError(
            f"{fn}: '{names[0]}' and '{names[1]}' must have the same shape, got "
            f"{names[0]} {fmt_shape(a)} and {names[1]} {fmt_shape(b)}"
        )


def check_finite_range(fn: str, name: str, x: Tensor, low: float, high: float, what: str = "values") -> None:
    """All values of ``x`` lie in ``[low, high]`` (NaN is out of range).

    Fast path: one ``aminmax`` pass (6 ms on 8.4M float32 values, against 58 ms for the three
    boolean masks of the detailed check, about a third of a lean focal forward + backward).
    NaN propagates through ``aminmax`` and fails the comparison, so every bad tensor reaches
    the detailed check, which finds the first offending value for the message.
    """
    if is_compiling() or x.numel() == 0:
        return
    xd = x.detach()
    if xd.dtype != torch.bool and not xd.is_complex():
        lo, hi = torch.aminmax(xd)
        if bool(lo >= low) and bool(hi <= high):
            return
    bad = (xd < low) | (xd > high) | torch.isnan(xd)
    if bool(bad.any()):
        first = xd[bad].flatten()[0].item()
        lo, hi = torch.aminmax(torch.nan_to_num(xd.float(), nan=float("inf")))
        raise LosscraftError(
            f"{fn}: '{name}' must contain {what} in [{low:g}, {high:g}], got {first:g} "
            f"(observed range [{lo.item():g}, {hi.item():g}])"
        )


def check_values_in(fn: str, name: str, x: Tensor, allowed: Iterable[float], what: str) -> None:
    """Every value of ``x`` is one of ``allowed``."""
    if is_compiling() or x.numel() == 0:
        return
    xd = x.detach()
    ok = torch.zeros_like(xd, dtype=torch.bool)
    for v in allowed:
        ok |= xd == v
    if not bool(ok.all()):
        first = xd[~ok].flatten()[0].item()
        raise LosscraftError(f"{fn}: '{name}' must contain only {what}, got {first:g}")


def check_class_index(
    fn: str, name: str, target: Tensor, num_classes: int, ignore_index: int | None = None
) -> None:
    """``target`` holds integer class indices in ``[0, num_classes)`` or ``ignore_index``."""
    check_tensor(fn, name, target)
    if target.dtype in (torch.bool,) or target.is_floating_point() or target.is_complex():
        raise LosscraftError(
            f"{fn}: '{name}' must be an integer tensor of class indices (torch.long), got {target.dtype}"
        )
    if is_compiling() or target.numel() == 0:
        return
    t = target.detach()
    lo, hi = torch.aminmax(t)  # fast path: one pass when every index is a class (no ignored)
    if bool(lo >= 0) and bool(hi < num_classes):
        return
    bad = (t < 0) | (t >= num_classes)
    if ignore_index is not None:
        bad &= t != ignore_index
    if bool(bad.any()):
        first = int(t[bad].flatten()[0].item())
        ign = f" or ignore_index={ignore_index}" if ignore_index is not None else ""
        raise LosscraftError(
            f"{fn}: '{name}' contains class index {first}, expected values in [0, {num_classes - 1}]{ign}"
        )


def check_class_weight(fn: str, name: str, weight: Tensor | None, num_classes: int) -> None:
    """A per-class weight vector has exactly ``num_classes`` entries."""
    if weight is None:
        return
    if weight.dim() != 1 or weight.shape[0] != num_classes:
        raise LosscraftError(
            f"{fn}: '{name}' must have shape ({num_classes},) (one value per class), got {fmt_shape(weight)}"
        )


def compute_dtype(*tensors: Tensor | None) -> torch.dtype:
    """The dtype losses compute in: float16/bfloat16 are promoted to float32.

    Why: half precision overflows/underflows in exp/log and in the reduction; computing in
    float32 costs one conversion and keeps every loss finite at logits of +-1e4.
    """
    dt: torch.dtype | None = None
    for t in tensors:
        if t is not None and t.is_floating_point():
            dt = t.dtype if dt is None else torch.promote_types(dt, t.dtype)
    if dt is None or dt in _HALF:
        return torch.float32
    return dt


def to_compute(x: Tensor, dtype: torch.dtype) -> Tensor:
    """Cast floating ``x`` to ``dtype`` (a no-op when it already is)."""
    return x if x.dtype == dtype else x.to(dtype)


def prepare_real_pair(
    fn: str, input: Tensor, target: Tensor, names: tuple[str, str] = ("input", "target")
) -> tuple[Tensor, Tensor]:
    """Validate two real tensors of identical shape and cast both to the compute dtype."""
    check_floating(fn, names[0], input)
    check_floating(fn, names[1], target)
    check_same_shape(fn, input, target, names)
    dt = compute_dtype(input, target)
    return to_compute(input, dt), to_compute(target, dt)
