"""Helpers shared by the classification losses: input checks, samples, curves, reduction."""

from __future__ import annotations

import torch
from torch import Tensor

from ..._core.checks import (
    check_class_index,
    check_finite_range,
    check_floating,
    check_same_shape,
    compute_dtype,
    fmt_shape,
    to_compute,
)
from ..._core.errors import LosscraftError
from ..._core.sampling import randn, uniform
from ..._core.spec import Call

__all__ = [
    "binary_curve_call",
    "binary_logits_sample",
    "binary_probabilities_sample",
    "check_class_input",
    "check_index_target",
    "multiclass_curve_call",
    "multiclass_sample",
    "prepare_binary",
]

NUM_SAMPLE_CLASSES = 4


# --------------------------------------------------------------------------- validation
def prepare_binary(
    fn: str, input: Tensor, target: Tensor, *, probabilities: bool = False
) -> tuple[Tensor, Tensor]:
    """Validate a binary ``(input, target)`` pair and cast it to the compute dtype.

    Both floating, one shape, targets in [0, 1] (and ``input`` too when ``probabilities``).
    """
    check_floating(fn, "input", input)
    check_floating(fn, "target", target)
    check_same_shape(fn, input, target)
    if probabilities:
        check_finite_range(fn, "input", input, 0.0, 1.0, "probabilities")
    check_finite_range(fn, "target", target, 0.0, 1.0, "targets")
    dt = compute_dtype(input, target)
    return to_compute(input, dt), to_compute(target, dt)


def check_class_input(fn: str, input: Tensor) -> int:
    """``input`` is a floating ``(N, C)`` or ``(N, C, d1, ...)`` tensor; returns ``C``."""
    check_floating(fn, "input", input)
    if input.dim() < 2:
        raise LosscraftError(
            f"{fn}: 'input' must have shape (N, C) or (N, C, d1, ...) with classes on dim 1, got "
            f"{fmt_shape(input)}"
        )
    num_classes = int(input.shape[1])
    if num_classes < 1:
        raise LosscraftError(f"{fn}: 'input' must have at least one class on dim 1, got {fmt_shape(input)}")
    return num_classes


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


# --------------------------------------------------------------------------- samples and curves
def binary_logits_sample(n: int, *, generator: torch.Generator, dtype: torch.dtype, **_: object) -> Call:
    """Logits ``(n, 3)`` (standard normal, times 2) and soft targets in [0.05, 0.95].

    Soft targets are valid for every binary logit loss and keep finite-difference checks on the
    target inside its [0, 1] domain.
    """
    x = randn((n, 3), generator, torch.float64) * 2.0
    t = uniform((n, 3), generator, torch.float64, 0.05, 0.95)
    return Call((x.to(dtype), t.to(dtype)))


def binary_probabilities_sample(
    n: int, *, generator: torch.Generator, dtype: torch.dtype, **_: object
) -> Call:
    """Probabilities ``(n, 3)`` in [0.05, 0.95] and soft targets in [0.05, 0.95]."""
    p = uniform((n, 3), generator, dtype, 0.05, 0.95)
    t = uniform((n, 3), generator, dtype, 0.05, 0.95)
    return Call((p, t))


def binary_curve_call(x: Tensor, **_: object) -> Call:
    """Binary curve: logit (or probability) ``x`` against a positive target 1."""
    return Call((x, torch.ones_like(x)))


def _num_classes(hparams: dict[str, object], key: str) -> int:
    value = hparams.get(key)
    if isinstance(value, Tensor) and value.dim() == 1:
        return int(value.numel())
    if isinstance(value, (list, tuple)):
        return len(value)
    return NUM_SAMPLE_CLASSES


def multiclass_sample(
    n: int, *, generator: torch.Generator, dtype: torch.dtype, class_param: str = "weight", **hparams: object
) -> Call:
    """Logits ``(n, C)`` and class indices ``(n,)`` in ``[0, C)``.

    ``C`` follows a per-class hyperparameter when one is given (else 4). No position equals
    ``ignore_index``.
    """
    c = _num_classes(hparams, class_param)
    x = randn((n, c), generator, torch.float64) * 2.0
    t = torch.randint(0, c, (n,), generator=generator, dtype=torch.long)
    return Call((x.to(dtype), t))


def multiclass_curve_call(x: Tensor, *, class_param: str = "weight", **hparams: object) -> Call:
    """Multi-class curve: logits ``[x, 0, ..., 0]`` with target class 0 (one value per point)."""
    c = _num_classes(hparams, class_param) if hparams.get(class_param) is not None else 3
    zeros = torch.zeros_like(x)
    logits = torch.stack([x, *([zeros] * (c - 1))], dim=1)
    return Call((logits, torch.zeros(x.shape[0], dtype=torch.long, device=x.device)))
