"""The lean chunk kernel of the Log-Cosh loss: loss and gradient together, chunk by chunk.

Runs in the chunk engine of :mod:`losscraft._core.kernels` (see there for the chunking,
threading, half-precision and fall-back rules).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..._core.kernels import Workspace, elementwise_loss, weighted_sum, write_grad
from ..._core.numerics import LOG2

__all__ = ["log_cosh_lean"]


def log_cosh_lean(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None,
    reduction: str,
    composed: Callable[[Tensor], Tensor],
) -> Tensor:
    """Log-cosh on validated arguments by the lean chunked kernel.

    Call it only where :func:`~losscraft._core.kernels.use_lean` holds; ``composed`` is the
    reference formula (used for higher-order gradients).
    """
    return elementwise_loss(
        _log_cosh_chunk, input, target, weight=weight, aux=None, reduction=reduction, composed=composed
    )


def _log_cosh_chunk(
    ws: Workspace,
    x: Tensor,
    y: Tensor,
    aux: Tensor | float | None,
    f: Tensor | float,
    vals: Tensor | None,
    grad: Tensor | None,
    gmul: float,
) -> Tensor | None:
    """Log-cosh and its gradient ``tanh(r)`` on one chunk (see :mod:`losscraft._core.kernels`).

    Same value formula as the composed path, ``|r| + log1p(exp(-2|r|)) - log 2``. The gradient
    is ``torch.tanh``, not the cheaper ``(1 - e^{-2|r|}) / (1 + e^{-2|r|})``: that quotient
    loses all relative precision for small residuals (``1 - e^{-2|r|}`` cancels).
    """
    r, a, t = ws.buffers(3)
    torch.sub(x, y, out=r)
    torch.abs(r, out=a)
    torch.mul(a, ws.c(-2.0), out=t).exp_().log1p_()
    loss = a.add_(t).sub_(ws.c(LOG2))
    part: Tensor | None = None
    if vals is not None:
        torch.mul(loss, f if isinstance(f, Tensor) else ws.c(f), out=vals)
    else:
        part = weighted_sum(ws, loss, f)
    if grad is not None:
        write_grad(ws, torch.tanh(r, out=r), f, gmul, grad)
    return part
