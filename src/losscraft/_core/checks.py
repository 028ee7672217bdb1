"""Central input validation.

Every check raises :class:`LosscraftError` with a message that names the function, the
argument, what was given and what was expected.

Checks that need the *values* of a tensor (class-index range, probability range, ``±1``
targets) read data back to Python; they run only where those values are concrete
(:func:`values_are_concrete`): they are skipped while ``torch.compile`` traces a graph, so that
losses stay ``fullgraph``-compatible (compile the loss after validating once eagerly), and for
tensors batched by ``torch.func.vmap``, where one call stands for a whole batch. That probe and
the wording of bad values live one floor down, in :mod:`losscraft._core.values` (the spec's
domains use them too); they are re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, Union

import torch
from torch import Tensor

from .errors import LosscraftError
from .spec import LossSpec, TensorDomain
from .values import fmt_got, functorch_active, is_compiling, value_error, values_are_concrete

__all__ = [
    "REDUCTIONS",
    "FloatVector",
    "as_tensor_param",
    "check_class_index",
    "check_class_input",
    "check_class_weight",
    "check_distribution",
    "check_finite_range",
    "check_floating",
    "check_index_target",
    "check_nonnegative",
    "check_params",
    "check_same_shape",
    "check_softmax_classes",
    "check_tensor",
    "check_values_in",
    "compute_dtype",
    "fmt_got",
    "fmt_shape",
    "functorch_active",
    "is_compiling",
    "prepare_real_pair",
    "to_compute",
    "value_error",
    "values_are_concrete",
]

REDUCTIONS = ("mean", "sum", "none")
FloatVector = Union[Tensor, Sequence[float]]  # noqa: UP007 - a runtime alias on Python 3.10
"""A tensor hyperparameter (class weights, ``pos_weight``): a 1-D tensor or a list of numbers."""
_FLOATING = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
_HALF = (torch.float16, torch.bfloat16)


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
        if p.name not in values or p.domain.contains(value := values[p.name]):
            continue
        got = f"got {_short(value)}"
        if isinstance(p.domain, TensorDomain) and value is not None and p.domain.structure_ok(value):
            got = p.domain.value_error(value) or got  # bad values: name the first one
        raise LosscraftError(f"{fn}: '{p.name}' must be {p.domain.describe()}, {got}")


def as_tensor_param(value: FloatVector | None, like: Any = None) -> Tensor | None:
    """A list or tuple of numbers given for a tensor hyperparameter, as a tensor.

    The one conversion shared by the functions and the Modules (class weights, ``pos_weight``,
    class counts, priors): on ``like``'s device in the compute dtype (float32 for a half or
    missing ``like``, as a Module buffer). Anything else is returned unchanged, to be validated
    (and rejected with a message) by :func:`check_params`.
    """
    if not isinstance(value, (list, tuple)) or not value:
        return value  # type: ignore[return-value]  # not a sequence: check_params judges it
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return value  # type: ignore[return-value]  # rejected by check_params, with a message
    if isinstance(like, Tensor):
        return torch.tensor(value, dtype=compute_dtype(like), device=like.device)
    return torch.tensor(value, dtype=torch.float32)


def check_nonnegative(
    fn: str, name: str, x: Tensor | Sequence[float] | None, *, positive: bool = False, what: str = "weights"
) -> None:
    """Weights (sample or class weights, counts) are finite and ``>= 0`` (``> 0`` if ``positive``).

    E.g. ``mse_loss: 'weight' must contain finite weights >= 0, got -1 (observed range [-1, 2])``.
    One ``aminmax`` pass over a tensor (see :func:`value_error`); nothing to do for ``None``.
    """
    if x is None:
        return
    err = value_error(x, low=0.0, strict=positive)
    if err is not None:
        raise LosscraftError(
            f"{fn}: '{name}' must contain finite {what} {'>' if positive else '>='} 0, {err}"
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

    Fast path: one ``aminmax`` pass, much cheaper than the three boolean masks of the detailed
    check. NaN propagates through ``aminmax`` and fails the comparison, so every bad tensor reaches
    the detailed check, which finds the first offending value for the message.
    """
    if x.numel() == 0 or not values_are_concrete(x):
        return
    xd = x.detach()
    if xd.dtype != torch.bool and not xd.is_complex():
        # One aminmax pass: 6 ms on 8.4M float32 values, against 58 ms for the three boolean
        # masks below (which alone were about a third of a lean focal forward + backward).
        lo, hi = torch.stack(torch.aminmax(xd)).tolist()  # one host transfer for both ends
        if lo >= low and hi <= high:
            return
    bad = (xd < low) | (xd > high) | torch.isnan(xd)
    if bool(bad.any()):
        # The message counts NaN values and gives the range of the others.
        got = fmt_got(xd, xd[bad].flatten()[0].item())
        raise LosscraftError(f"{fn}: '{name}' must contain {what} in [{low:g}, {high:g}], {got}")


def check_distribution(fn: str, name: str, x: Tensor, dim: int, *, log: bool = False) -> None:
    """``x`` holds probability distributions along ``dim`` (log-probabilities with ``log=True``).

    Values in [0, 1] ([-inf, 0] with ``log``; NaN is out of range), and every row (a slice
    along ``dim``) carries probability mass: a row whose largest probability is below the
    dtype's epsilon (all zeros, all ``-inf``: no distribution at all) raises, where a
    divergence would silently be 0 or a constant with zero gradient. Rows are not required to
    sum to exactly 1 (nor renormalised).

    One pass (a per-row ``aminmax``, which also gives the range) and one host sync for a valid
    tensor; skipped where the values are not concrete (:func:`values_are_concrete`).
    """
    if x.numel() == 0 or not values_are_concrete(x):
        return
    xd = x.detach()
    low, high, what = (-math.inf, 0.0, "log-probabilities") if log else (0.0, 1.0, "probabilities")
    eps = torch.finfo(xd.dtype).eps
    threshold = math.log(eps) if log else eps
    mins, maxs = torch.aminmax(xd, dim=dim)  # per row: the range and the row check in one pass
    lo, hi, least = torch.stack([mins.amin(), maxs.amax(), maxs.amin()]).tolist()
    if not (lo >= low and hi <= high):  # NaN fails too
        check_finite_range(fn, name, x, low, high, what)  # the detailed message
    if least >= threshold:
        return
    row = tuple(int(i) for i in torch.nonzero(maxs < threshold)[0].tolist())
    bad = xd.movedim(dim, -1)[row]
    total = float(bad.double().exp().sum() if log else bad.double().sum())
    where = f" at index {row[0] if len(row) == 1 else row}" if row else ""
    raise LosscraftError(
        f"{fn}: '{name}' must hold a probability distribution along dim {dim} (each row should "
        f"sum to 1), got a row{where} whose probabilities sum to {total:g}"
    )


def check_values_in(fn: str, name: str, x: Tensor, allowed: Iterable[float], what: str) -> None:
    """Every value of ``x`` is one of ``allowed``."""
    if x.numel() == 0 or not values_are_concrete(x):
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
    if target.numel() == 0 or not values_are_concrete(target):
        return
    t = target.detach()
    # Fast path: one pass and one host transfer when every index is a class (none ignored).
    lo, hi = torch.stack(torch.aminmax(t)).tolist()
    if lo >= 0 and hi < num_classes:
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


def check_softmax_classes(
    fn: str, input: Tensor, suggestion: str, what: str = "a softmax over the classes"
) -> None:
    """A softmax over dim 1 needs ``C >= 2`` classes; ``suggestion`` names the one-channel form.

    Why: with one class the softmax is 1 everywhere, so a softmax loss is exactly 0 with zero
    gradient whatever the logits (a silent no-op, not an error, in torch).
    """
    if input.dim() >= 2 and input.shape[1] < 2:
        raise LosscraftError(
            f"{fn}: 'input' must have C >= 2 classes on dim 1 for {what} (with C = 1 the softmax "
            f"is 1 everywhere: the loss would be 0 with zero gradient), got {fmt_shape(input)}; "
            f"{suggestion}"
        )


def check_class_input(fn: str, input: Tensor) -> int:
    """``input`` is a floating ``(N, C)`` or ``(N, C, d1, ...)`` tensor with ``C >= 2``; returns ``C``.

    Every caller takes a softmax over dim 1 (cross-entropy and its variants, focal, the margin
    heads): with ``C = 1`` that softmax is 1 everywhere and the loss is exactly 0 with zero
    gradient whatever the logits, so one class is an error, not a silent no-op (torch's
    ``cross_entropy`` returns 0 there).
    """
    check_floating(fn, "input", input)
    if input.dim() < 2:
        raise LosscraftError(
            f"{fn}: 'input' must have shape (N, C) or (N, C, d1, ...) with classes on dim 1, got "
            f"{fmt_shape(input)}"
        )
    check_softmax_classes(
        fn, input, "for one logit per position use binary_focal_loss or bce_with_logits_loss"
    )
    return int(input.shape[1])


def check_index_target(fn: str, input: Tensor, target: Tensor, ignore_index: int | None) -> None:
    """``target`` holds class indices of shape ``(N, d1, ...)`` (input's shape without dim 1)."""
    num_classes = int(input.shape[1])
    check_class_index(fn, "target", target, num_classes, ignore_index)
    expected = (input.shape[0], *input.shape[2:])
    if tuple(target.shape) != expected:
        raise LosscraftError(
            f"{fn}: 'target' of class indices must have shape (N, d1, ...) = {fmt_shape(expected)} "
            f"(input {fmt_shape(input)} without the class dim 1), got {fmt_shape(target)}"
        )
