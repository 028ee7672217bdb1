"""Helpers shared by the ranking losses: list checks, padding, masked softmax, samples and curves.

A batch holds ``Q`` queries (lists) of up to ``L`` items: scores ``input`` of shape ``(Q, L)``
and graded relevance labels ``target`` of the same shape (finite values ``>= 0``, e.g. 0..4).
Shorter lists are padded: a padded item carries the target value ``ignore_index`` (default
-1, TF-Ranking's convention), whatever its score. Padded items are exactly irrelevant: they
enter no sum, no softmax and no pair, and their scores get a zero gradient.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..._core.checks import (
    check_floating,
    check_tensor,
    compute_dtype,
    fmt_got,
    fmt_shape,
    to_compute,
    values_are_concrete,
)
from ..._core.errors import LosscraftError
from ..._core.sampling import randn
from ..._core.spec import Call, Interval, Param

__all__ = [
    "IGNORE_PARAM",
    "LIST_LENGTH",
    "list_curve_call",
    "list_sample",
    "masked_log_softmax",
    "prepare_lists",
]

LIST_LENGTH = 5  # items per query in the samples

IGNORE_PARAM = Param(
    "ignore_index",
    -1,
    Interval(-math.inf, math.inf, integer=True),
    "target value that marks a padded item (exactly irrelevant: no term, no gradient)",
)


def prepare_lists(fn: str, input: Tensor, target: Tensor, ignore_index: int) -> tuple[Tensor, Tensor, Tensor]:
    """Validate ``(Q, L)`` scores and relevance labels; returns ``(s, rel, valid)``.

    ``s``: the scores in the compute dtype with padded entries replaced by 0 (``torch.where``:
    no gradient reaches a padded score); ``rel``: the labels in that dtype, 0 where padded;
    ``valid``: the boolean ``(Q, L)`` mask of real items.
    """
    check_floating(fn, "input", input)
    check_tensor(fn, "target", target)
    if input.dim() != 2:
        raise LosscraftError(
            f"{fn}: 'input' must have shape (Q, L): the scores of L items for each of Q queries "
            f"(pad shorter lists), got {fmt_shape(input)}"
        )
    if target.shape != input.shape:
        raise LosscraftError(
            f"{fn}: 'target' must have the shape of 'input' {fmt_shape(input)} (one relevance "
            f"label per item, ignore_index={ignore_index} for padding), got {fmt_shape(target)}"
        )
    if target.dtype == torch.bool or target.is_complex():
        raise LosscraftError(f"{fn}: 'target' must be a real tensor of relevance labels, got {target.dtype}")
    valid = target != ignore_index
    if target.numel() and values_are_concrete(target):
        t = target.detach()
        # a real item's label is finite and >= 0 (NaN fails both tests)
        bad = valid & ~((t >= 0) & torch.isfinite(t)) if t.is_floating_point() else valid & (t < 0)
        if bool(bad.any()):
            raise LosscraftError(
                f"{fn}: 'target' must contain relevance labels >= 0 (finite) or ignore_index="
                f"{ignore_index} for padded items, {fmt_got(t, t[bad][0].item())}"
            )
    dtype = compute_dtype(input)
    x = to_compute(input, dtype)
    s = torch.where(valid, x, torch.zeros_like(x))  # padded scores: a constant, zero gradient
    rel = torch.where(valid, target.to(dtype), torch.zeros((), dtype=dtype, device=x.device))
    return s, rel, valid


def masked_log_softmax(s: Tensor, valid: Tensor) -> Tensor:
    """``log_softmax`` over each row's real items; ``-inf`` at padded ones, finite rows everywhere.

    A row without a real item keeps every (zeroed) position so that it stays finite; its value
    is dropped by the caller.
    """
    keep = valid | ~valid.any(dim=1, keepdim=True)
    return torch.log_softmax(s.masked_fill(~keep, -math.inf), dim=1)


def list_sample(n: int, *, generator: torch.Generator, dtype: torch.dtype, **_: object) -> Call:
    """``n`` queries of 5 items: scores ``(n, 5)`` that follow the labels plus noise, labels in 0..3.

    Every query holds a label-3 and a label-0 item (so every query has pairs and a relevant
    item); the labels are ``long`` (graded relevance). No sample equals ``ignore_index``.
    """
    rel = torch.randint(0, 4, (n, LIST_LENGTH), generator=generator, dtype=torch.long)
    if n:
        rel[:, 0] = 3
        rel[:, -1] = 0
    s = 0.5 * rel.to(torch.float64) + randn((n, LIST_LENGTH), generator, torch.float64)
    return Call((s.to(dtype), rel))


def list_curve_call(x: Tensor, **_: object) -> Call:
    """A query of two items, labels ``(1, 0)``, scores ``(x, 0)``: ``x`` is the relevant item's margin."""
    s = torch.stack([x, torch.zeros_like(x)], dim=1)
    t = torch.tensor([[1, 0]], dtype=torch.long, device=x.device).expand(x.shape[0], 2)
    return Call((s, t))
