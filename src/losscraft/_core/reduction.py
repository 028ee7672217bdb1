r"""The one reducer every loss goes through.

Semantics (documented in ``docs/conventions.md``):

* ``"none"``: the unreduced loss, multiplied by the weight and with masked positions set to 0.
* ``"sum"``:  :math:`\sum_i w_i m_i \ell_i`.
* ``"mean"``: the weighted mean :math:`\sum_i w_i m_i \ell_i / \sum_i w_i m_i`; without
  weights this is the mean over the unmasked positions.
* Empty input, all positions masked, or all weights zero: ``"sum"`` and ``"mean"`` are
  ``0.0``, still attached to the autograd graph, with zero (finite) gradients. There is no
  special-case branch: the denominator is replaced by 1 when it is 0, and the numerator is an
  empty or all-zero sum.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal, overload

import torch
from torch import Tensor

from .checks import REDUCTIONS, check_nonnegative, check_tensor, fmt_shape, is_compiling
from .distributed import global_denominator, global_sum_factor
from .errors import LosscraftError

__all__ = [
    "Reduction",
    "check_weight",
    "global_sum",
    "mean_denominator",
    "record_unreduced",
    "reduce",
    "reduce_checked",
]

Reduction = Literal["mean", "sum", "none"]

# One list per thread (nn.DataParallel runs replicas in threads) while record_unreduced() is active.
_RECORDS = threading.local()

UnreducedRecord = tuple[Tensor, Tensor | None, Tensor | None]


@contextmanager
def record_unreduced() -> Iterator[list[UnreducedRecord]]:
    r"""Collect what every ``reduce(..., "none")`` inside the block would have divided by.

    Each record is ``(values, den, mask)``: the returned unreduced tensor, the per-position
    weights $d_i$ of its ``"mean"`` (so that mean $= \sum_i v_i / \sum_i d_i$; ``None`` means
    1 everywhere) and the kept-position mask (``None``: every position). Wrappers such as
    ``losscraft.Weighted`` read the loss's own denominator here instead of guessing it, so
    class weights, ``ignore_index`` and per-loss masks (e.g. SupCon anchors without a
    positive) need no special case. Not recorded while ``torch.compile`` traces.
    """
    previous = getattr(_RECORDS, "records", None)
    records: list[UnreducedRecord] = []
    _RECORDS.records = records
    try:
        yield records
    finally:
        _RECORDS.records = previous


def _record(values: Tensor, den: Tensor | None, mask: Tensor | None, *, replace: bool = False) -> None:
    if is_compiling():
        return
    records = getattr(_RECORDS, "records", None)
    if records is None:
        return
    if replace and records:
        records.pop()
    records.append((values, den, mask))


@overload
def mean_denominator(total: int) -> int | float: ...
@overload
def mean_denominator(total: float) -> float: ...
@overload
def mean_denominator(total: Tensor) -> Tensor: ...
def mean_denominator(total: int | float | Tensor) -> int | float | Tensor:
    r"""What a ``"mean"`` divides by, given the total count or weight of the kept positions.

    The divide-no-nan rule: a total that is not positive (an empty batch, every position
    ignored or masked, all weights zero) becomes 1, so the mean is an empty or all-zero sum
    over 1: ``0.0`` with zero (finite) gradients, not NaN. ``total`` is a Python number (the
    chunked kernels compute their scale on the host: an ``int`` stays an ``int``, a ``float`` a
    ``float``) or a tensor (no host sync: a ``torch.where``, traceable by ``torch.compile``).

    This is the one place a mean's count is computed: :func:`reduce` (its ``weight``,
    ``mask`` and ``denominator`` means), the chunked elementwise kernels
    (``losscraft._core.kernels``) and the linear cross-entropy planner all call it. Making the
    count global across processes (data-parallel training: the sum of the count over ranks)
    therefore belongs here, and only here: inside ``losscraft.distributed.global_batch`` the
    result is $D / R$, with $D$ the count summed over the $R$ ranks (or the ``denominator``
    given for gradient accumulation) and divide-no-nan applied to $D$; a Python-number total
    then gives a ``float`` (see ``losscraft._core.distributed.global_denominator``).
    """
    shared = global_denominator(total)
    if shared is not None:
        return shared
    if isinstance(total, Tensor):
        return torch.where(total > 0, total, torch.ones_like(total))
    if total > 0:
        return total
    return 1.0 if isinstance(total, float) else 1


def global_sum(total: Tensor) -> Tensor:
    r"""A ``"sum"`` reduction's result: ``total``, times $R$ inside ``global_batch`` over $R$ ranks.

    The one place a top-level ``"sum"`` is scaled (each rank returns $R$ times its share of the
    global-batch sum; see ``losscraft._core.distributed.global_batch``). Outside it, ``total``
    itself (no copy, no autograd node).
    """
    r = global_sum_factor()
    return total if r == 1 else total * r


def check_weight(fn: str, weight: Tensor | None, loss_shape: torch.Size, name: str = "weight") -> None:
    """``weight`` is a floating tensor of finite values ``>= 0`` that broadcasts to the loss shape.

    Broadcasting must not change the unreduced loss shape: per element, per sample as
    ``(N, 1, ...)``, or per feature. A negative weight would make ``"mean"`` divide by a
    negative (or zero) total, so it is rejected with NaN and inf (one ``aminmax`` pass over the
    weight, only when a weight is given).
    """
    if weight is None:
        return
    if not isinstance(weight, Tensor):
        raise LosscraftError(f"{fn}: '{name}' must be a torch.Tensor or None, got {type(weight).__name__}")
    if not weight.is_floating_point():
        raise LosscraftError(f"{fn}: '{name}' must be a floating-point tensor, got {weight.dtype}")
    # Hand-written broadcast test: torch.broadcast_shapes imports sympy on first use (~1 s).
    ws, ls = tuple(weight.shape), tuple(loss_shape)
    ok = len(ws) <= len(ls) and all(w in (1, n) for w, n in zip(reversed(ws), reversed(ls), strict=False))
    if not ok:
        raise LosscraftError(
            f"{fn}: '{name}' of shape {fmt_shape(weight)} must broadcast to the unreduced loss "
            f"shape {fmt_shape(loss_shape)}"
        )
    check_nonnegative(fn, name, weight)


def reduce(
    values: Tensor,
    reduction: str,
    weight: Tensor | None = None,
    mask: Tensor | None = None,
    *,
    denominator: Tensor | None = None,
    normalize: str = "weight",
) -> Tensor:
    r"""Reduce an unreduced loss tensor.

    Args:
        values: the per-element or per-sample loss, already in the compute dtype. Masked
            positions may hold any *finite* value.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (validated by the caller).
        weight: optional non-negative weights broadcastable to ``values``.
        mask: optional boolean tensor of ``values``' shape; ``False`` positions are ignored.
        denominator: for ``values`` that *already carry* per-position weights ``d`` (e.g.
            torch's label-smoothed, class-weighted cross-entropy, whose smoothing term is
            weighted by every class): ``"mean"`` is then :math:`\sum_i m_i v_i / \sum_i m_i d_i`.
            Mutually exclusive with ``weight``.
        normalize: the ``"mean"`` denominator with ``weight``: ``"weight"`` (default) gives
            the weighted mean :math:`\sum_i w_i m_i \ell_i / \sum_i w_i m_i`; ``"count"`` the
            mean over kept positions :math:`\sum_i w_i m_i \ell_i / \sum_i m_i` (Keras'
            ``sum_over_batch_size``).

    Returns:
        The reduced loss (a 0-dim tensor) or, for ``"none"``, a tensor of ``values``' shape.
    """
    if denominator is not None:
        if weight is not None:
            raise LosscraftError("reduce: pass either 'weight' or 'denominator', not both")
        # Local sums (_reduce_local): the global-batch scaling is applied once, below.
        num = _reduce_local(values, "sum" if reduction == "mean" else reduction, mask=mask)
        if reduction != "mean":
            if reduction == "none":  # the mean would divide by the denominator, not the count
                d = denominator.to(values.dtype).expand_as(values)
                _record(num, d if mask is None else d * mask, mask, replace=True)
                return num
            return global_sum(num)
        den = _reduce_local(denominator.to(values.dtype).expand_as(values), "sum", mask=mask)
        return num / mean_denominator(den)
    w: Tensor | None = None
    if weight is not None:
        w = weight.to(values.dtype)
    if mask is not None:
        # where, not multiply: a masked position's value must not leak even if it is inf/nan.
        values = torch.where(mask, values, values.new_zeros(()))
        m = mask.to(values.dtype)
        w = m if w is None else w * m
    if w is not None:
        values = values * w
    if reduction == "none":
        # what "mean" would divide by: the weights, or with normalize="count" the kept positions
        per_position = w if normalize == "weight" else (None if mask is None else mask.to(values.dtype))
        _record(values, per_position, mask)
        return values
    total = values.sum()
    if reduction == "sum":
        return global_sum(total)
    if w is None or (normalize == "count" and mask is None):
        # the mean of an empty batch is 0, not nan.
        return total / mean_denominator(values.numel())
    if normalize == "count":
        assert mask is not None
        den = mask.sum().to(values.dtype)
    else:
        den = w.expand_as(values).sum() if w.shape != values.shape else w.sum()
    # divide-no-nan: 0/0 -> 0 with zero gradient, every position masked or zero-weighted.
    return total / mean_denominator(den)


def _reduce_local(values: Tensor, reduction: str, mask: Tensor | None) -> Tensor:
    """:func:`reduce` with ``"sum"`` or ``"none"`` and a mask only, never scaled for the global batch."""
    if reduction == "sum":
        if mask is not None:  # the same operations as reduce(), so the same bits
            values = torch.where(mask, values, values.new_zeros(()))
            values = values * mask.to(values.dtype)
        return values.sum()
    return reduce(values, reduction, mask=mask)


def reduce_checked(
    values: Tensor,
    reduction: str,
    weight: Tensor | None = None,
    mask: Tensor | None = None,
    *,
    denominator: Tensor | None = None,
    normalize: str = "weight",
) -> Tensor:
    """The public reducer, ``losscraft.reduce``: :func:`reduce` after validating every argument.

    The losses call :func:`reduce` directly, after their own checks (no second pass over a
    weight); a custom loss that reduces with ``losscraft.reduce`` gets the same rules: a
    ``weight`` of finite values ``>= 0`` that broadcasts to ``values`` (a negative weight would
    make ``"mean"`` divide by a negative total; the same for ``denominator``), a boolean
    ``mask`` of ``values``' shape, and a known ``reduction`` / ``normalize``.

    Examples:
        >>> import torch, losscraft
        >>> losscraft.reduce(torch.tensor([1.0, 2.0, 3.0]), "mean", weight=torch.tensor([1.0, 0.0, 1.0]))
        tensor(2.)
    """
    fn = "reduce"
    check_tensor(fn, "values", values)
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise LosscraftError(f"{fn}: 'reduction' must be one of 'mean', 'sum', 'none', got {reduction!r}")
    if normalize not in ("weight", "count"):
        raise LosscraftError(f"{fn}: 'normalize' must be 'weight' or 'count', got {normalize!r}")
    check_weight(fn, weight, values.shape)
    check_weight(fn, denominator, values.shape, name="denominator")  # same rules as a weight
    if mask is not None and (
        not isinstance(mask, Tensor) or mask.dtype != torch.bool or mask.shape != values.shape
    ):
        got = f"{mask.dtype} {fmt_shape(mask)}" if isinstance(mask, Tensor) else type(mask).__name__
        raise LosscraftError(
            f"{fn}: 'mask' must be a torch.bool tensor of values' shape {fmt_shape(values)}, got {got}"
        )
    return reduce(values, reduction, weight, mask, denominator=denominator, normalize=normalize)
