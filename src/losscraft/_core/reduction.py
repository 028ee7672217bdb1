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

from typing import Literal

import torch
from torch import Tensor

from .checks import fmt_shape
from .errors import LosscraftError

__all__ = ["Reduction", "check_weight", "reduce"]

Reduction = Literal["mean", "sum", "none"]


def check_weight(fn: str, weight: Tensor | None, loss_shape: torch.Size) -> None:
    """``weight`` is a floating tensor that broadcasts to the unreduced loss shape.

    Broadcasting must not change that shape: per element, per sample as ``(N, 1, ...)``, or per
    feature.
    """
    if weight is None:
        return
    if not isinstance(weight, Tensor):
        raise LosscraftError(f"{fn}: 'weight' must be a torch.Tensor or None, got {type(weight).__name__}")
    if not weight.is_floating_point():
        raise LosscraftError(f"{fn}: 'weight' must be a floating-point tensor, got {weight.dtype}")
    # Hand-written broadcast test: torch.broadcast_shapes imports sympy on first use (~1 s).
    ws, ls = tuple(weight.shape), tuple(loss_shape)
    ok = len(ws) <= len(ls) and all(w in (1, n) for w, n in zip(reversed(ws), reversed(ls), strict=False))
    if not ok:
        raise LosscraftError(
            f"{fn}: 'weight' of shape {fmt_shape(weight)} must broadcast to the unreduced loss "
            f"shape {fmt_shape(loss_shape)}"
        )


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
        num = reduce(values, "sum" if reduction == "mean" else reduction, mask=mask)
        if reduction != "mean":
            return num
        den = reduce(denominator.to(values.dtype).expand_as(values), "sum", mask=mask)
        return num / torch.where(den > 0, den, torch.ones_like(den))
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
        return values
    total = values.sum()
    if reduction == "sum":
        return total
    if w is None or (normalize == "count" and mask is None):
        # max(n, 1): the mean of an empty batch is 0, not nan.
        return total / max(values.numel(), 1)
    if normalize == "count":
        assert mask is not None
        den = mask.sum().to(values.dtype)
    else:
        den = w.expand_as(values).sum() if w.shape != values.shape else w.sum()
    # divide-no-nan: 0/0 -> 0 with zero gradient, every position masked or zero-weighted.
    return total / torch.where(den > 0, den, torch.ones_like(den))
