"""Helpers shared by the classification losses: input checks, samples, curves, reduction."""

from __future__ import annotations

import torch
from torch import Tensor

from ..._core.checks import (
    check_class_input,
    check_class_weight,
    check_finite_range,
    check_floating,
    check_index_target,
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
    "binary_negative_curve_call",
    "binary_probabilities_sample",
    "class_vector",
    "gather_class",
    "multiclass_curve_call",
    "multiclass_sample",
    "one_minus_exp",
    "prepare_binary",
    "prepare_index_logits",
    "shift_to_max",
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


def prepare_index_logits(
    fn: str, input: Tensor, target: Tensor, ignore_index: int, *, margin: bool = False
) -> tuple[Tensor, Tensor, Tensor]:
    """Validate logits ``(N, C, *)`` and class indices ``(N, *)``; cast to the compute dtype.

    Returns ``(x, t_safe, mask)``: the logits in the compute dtype, the targets as ``long``
    with ignored positions replaced by class 0 (so a gather stays in range and finite), and
    the boolean keep-mask (``True`` = not ignored) for :func:`reduce`. ``margin``: the loss is a
    multi-class margin on raw scores (no softmax), whose one-class error points to the binary
    margin losses.
    """
    if margin:
        check_floating(fn, "input", input)  # a tensor before its shape is read
    if margin and input.dim() >= 2 and input.shape[1] < 2:
        raise LosscraftError(
            f"{fn}: 'input' must have C >= 2 class scores on dim 1 (with C = 1 there is no other class "
            f"to hold a margin against: the loss would be 0 with zero gradient), got {fmt_shape(input)}; "
            "for one score per sample with 0/1 labels use hinge_loss or squared_hinge_loss"
        )
    check_class_input(fn, input)
    check_index_target(fn, input, target, ignore_index)
    x = to_compute(input, compute_dtype(input))
    t = target.long()
    mask = t != ignore_index
    return x, torch.where(mask, t, torch.zeros_like(t)), mask


def class_vector(fn: str, name: str, value: Tensor | None, like: Tensor) -> Tensor | None:
    """A per-class ``(C,)`` hyperparameter, checked against ``like``'s dim 1 and reshaped.

    Returns ``None`` for ``None``, else the values in ``like``'s dtype and device with shape
    ``(1, C, 1, ...)``, broadcastable against logits ``like`` of shape ``(N, C, *)``.
    """
    if value is None:
        return None
    check_class_weight(fn, name, value, int(like.shape[1]))
    v = value.to(device=like.device, dtype=like.dtype)
    return v.reshape((1, -1) + (1,) * (like.dim() - 2))


def gather_class(values: Tensor, t_safe: Tensor) -> Tensor:
    """``values[n, t[n, ...], ...]``: pick each position's target class from dim 1."""
    return values.gather(1, t_safe.unsqueeze(1)).squeeze(1)


def shift_to_max(x: Tensor) -> Tensor:
    """``x - max_c x_c`` over dim 1 (the maximum detached): the softmax is unchanged.

    Why: adding a class-dependent offset (``log prior``, a margin) to logits of size ``1e4``
    rounds it away in float32; after the shift the largest logit is 0, so the offsets keep
    their precision where they matter. Detaching the maximum changes no gradient of a
    shift-invariant function, and empty tensors pass through.
    """
    if x.numel() == 0:
        return x
    return x - x.detach().amax(dim=1, keepdim=True)


def one_minus_exp(log_p: Tensor) -> Tensor:
    """``1 - exp(log_p)`` (e.g. ``1 - p_y`` from ``log p_y``) via ``-expm1``.

    Why: ``1 - p`` cancels catastrophically as ``p -> 1``; ``-expm1(log p)`` keeps full
    relative precision, and its gradient ``-p`` is finite everywhere.
    """
    return -torch.expm1(log_p)


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


def binary_negative_curve_call(x: Tensor, **_: object) -> Call:
    """Binary curve of the negative branch: logit ``x`` against a target 0."""
    return Call((x, torch.zeros_like(x)))


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
