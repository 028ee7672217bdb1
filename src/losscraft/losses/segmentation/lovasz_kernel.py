r"""The Lovász extension of the Jaccard loss, shared by the Lovász hinge and Lovász-softmax losses.

Both losses compute per-position errors (hinge margins, or ``1 - p`` of the true class and
``p`` of the others) and hand them to :func:`lovasz_extension`, which sorts them per row and
weights them by the increments of the Jaccard loss (Berman et al. 2018).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ._common import safe_ratio

__all__ = ["lovasz_extension"]


def lovasz_extension(errors: Tensor, fg: Tensor, valid: Tensor | None, *, hinge: bool) -> Tensor:
    r"""Lovász extension of the Jaccard loss, row-wise: ``(..., P)`` errors -> ``(...)``.

    Berman et al.'s algorithm (``lovasz_grad``): sort the errors in decreasing order; with
    ``g`` the foreground indicator in that order and $G = \sum g$, the Jaccard loss of the
    first ``k`` mispredicted positions is $1 - (G - \sum_{j \le k} g_j) / (G + \sum_{j \le k}
    (1 - g_j))$, and the loss is the dot product of the sorted errors with its increments.
    ``hinge=True`` applies ``relu`` to the sorted errors (binary hinge errors may be
    negative). The increments depend on the labels only (constants for autograd).

    Invalid (``valid == False``) positions are sorted last and get increment 0, so they drop
    out exactly; a row without valid positions is 0 with zero gradient. The sort is stable,
    so ties (e.g. saturated logits) are broken by position and every dtype takes the same
    subgradient.
    """
    key = errors if valid is None else torch.where(valid, errors, torch.full_like(errors, -math.inf))
    _, perm = torch.sort(key.detach(), dim=-1, descending=True, stable=True)
    err = errors.gather(-1, perm)
    g = fg.detach().to(errors.dtype).gather(-1, perm)
    if valid is not None:
        v = valid.gather(-1, perm).to(errors.dtype)
        g = g * v
        bg = (1.0 - g) * v
    else:
        bg = 1.0 - g
    gts = g.sum(-1, keepdim=True)
    inter = gts - g.cumsum(-1)
    union = gts + bg.cumsum(-1)
    jac = 1.0 - safe_ratio(inter, union)
    jac = torch.where(union > 0, jac, torch.zeros_like(jac))
    incr = torch.cat([jac[..., :1], jac[..., 1:] - jac[..., :-1]], dim=-1)
    if hinge:
        err = torch.relu(err)
    if valid is not None:
        err = torch.where(v > 0, err, torch.zeros_like(err))
    return (err * incr).sum(-1)
