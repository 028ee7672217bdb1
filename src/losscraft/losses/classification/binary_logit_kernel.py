r"""Binary-logit math of the lean chunk kernels of BCE-with-logits and binary focal.

Both kernels run inside :func:`losscraft._core.kernels.elementwise_loss` (the chunk engine) and
start from the same few per-element values of a logit ``x``: ``e^{-|x|}``, ``log(1 + e^{-|x|})``
and the target weight of the *wrong* side of ``x``. The BCE-with-logits kernel calls the two
helpers below; the binary focal kernel follows the same derivation (:func:`wrong_side`) with
the values halved, written out to save torch calls.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ..._core.kernels import Workspace

__all__ = ["binary_logit_base", "wrong_side"]


def binary_logit_base(ws: Workspace, x: Tensor, out: Sequence[Tensor]) -> None:
    r"""The transcendental part shared by the binary logit kernels: one ``exp``, one ``log1p``.

    Writes ``out = [na, e, lg, ope, sgn]``: ``na = -|x|``, ``e = exp(-|x|)``,
    ``lg = log(1 + e)``, ``ope = 1 + e`` and ``sgn = copysign(1, x)``. Everything else is
    arithmetic on these: the sigmoid of the larger side is ``1 / ope``, of the smaller
    ``e / ope``, and ``softplus(x) = max(x, 0) + lg``. ``sgn`` is +-1, never 0 (unlike
    ``sign``): the one-sided formulas of the kernels are both valid at ``x = 0``, but they must
    agree on one.
    """
    na, e, lg, ope, sgn = out
    ones = ws.ones
    torch.copysign(x, ws.c(-1.0), out=na)
    torch.exp(na, out=e)
    torch.log1p(e, out=lg)
    torch.add(e, ones, out=ope)
    torch.copysign(ones, x, out=sgn)


def wrong_side(ws: Workspace, y: Tensor, sgn: Tensor, z: Tensor, v: Tensor, s2: Tensor) -> None:
    r"""``z = 1 - 2y``, ``v = z + sgn`` and ``s2 = |v| = 2s``, with ``s`` the wrong side's weight.

    ``s`` is the target weight of the *wrong* side of ``x``: ``1 - y`` for ``x >= 0`` and
    ``y`` for ``x < 0``, exactly 0 or 1 for hard targets; ``v = sgn 2s``. With
    ``e = exp(-|x|)``:

    * $\mathrm{softplus}(x) - xy = |x| s + \log(1 + e)$,
    * $1 - p_t = c / (1 + e)$ with $c = e + s(1 - e)$ ($p_t$ of the focal loss),
    * $\sigma(x) - y = \mathrm{sgn}\,(s(1 + e) - e) / (1 + e) = (v - \mathrm{sgn}\,c) / (1 + e)$.

    None of them is a difference of nearly equal numbers for hard targets (``s = 0`` gives
    ``c = e`` and ``v - sgn c = -sgn e`` exactly), so the easy tail keeps its relative
    precision.
    """
    torch.sub(ws.ones, y, alpha=2, out=z)
    torch.add(z, sgn, out=v)
    torch.abs(v, out=s2)
