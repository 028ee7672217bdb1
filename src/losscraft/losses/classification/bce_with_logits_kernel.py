"""The lean chunk kernel of BCE-with-logits: loss and gradient together, chunk by chunk.

Runs in the chunk engine of :mod:`losscraft._core.kernels` (see there for the chunking,
threading, half-precision and fall-back rules) from the binary-logit values of
:mod:`.binary_logit_kernel`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import Tensor

from ..._core.kernels import Workspace, elementwise_loss, weighted_sum, write_grad
from .binary_logit_kernel import binary_logit_base, wrong_side

__all__ = ["bce_with_logits_lean"]


def bce_with_logits_lean(
    input: Tensor,
    target: Tensor,
    pos_weight: Tensor | None,
    label_smoothing: float,
    weight: Tensor | None,
    reduction: str,
    composed: Callable[[Tensor], Tensor],
) -> Tensor:
    """BCE-with-logits on validated arguments by the lean chunked kernel.

    Call it only where :func:`~losscraft._core.kernels.use_lean` holds; ``composed`` is the
    reference formula (used for higher-order gradients).
    """
    kernel = functools.partial(_bce_chunk, eps=float(label_smoothing))
    bound = 1.0
    if pos_weight is not None and pos_weight.numel():
        bound = max(1.0, float(pos_weight.detach().abs().max().item()))
    return elementwise_loss(
        kernel,
        input,
        target,
        weight=weight,
        aux=pos_weight.detach() if pos_weight is not None else None,
        reduction=reduction,
        composed=composed,
        grad_bound=bound,
    )


def _bce_chunk(
    ws: Workspace,
    x: Tensor,
    y: Tensor,
    aux: Tensor | float | None,
    f: Tensor | float,
    vals: Tensor | None,
    grad: Tensor | None,
    gmul: float,
    *,
    eps: float,
) -> Tensor | None:
    r"""BCE-with-logits and its gradient on one chunk (see :mod:`losscraft._core.kernels`).

    With $A = \rho y'$ (weight of the positive term), $B = 1 - y'$ (negative term),
    $W = A + B$, $e = e^{-|x|}$ and $S = W + \mathrm{sgn}(B - A)$ (twice the weight of the
    wrong side: $2B$ for $x \ge 0$, $2A$ for $x < 0$):

    $$\ell = W \log(1 + e) + \tfrac12 |x| S,\qquad
    \frac{\partial\ell}{\partial x} = B\sigma(x) - A\sigma(-x)
    = \mathrm{sgn}\,\frac{\tfrac12 S (1 + e) - W e}{1 + e}.$$

    Without ``pos_weight`` ($\rho = 1$, $W = 1$, $S = 2s$) this is the wrong-side form of
    :func:`~.binary_logit_kernel.wrong_side`. Hard targets give exact zeros instead of
    differences of nearly equal numbers.
    """
    na, e, lg, ope, sgn, b1, b2, b3, b4 = ws.buffers(9)
    if eps > 0.0:
        y = torch.add(ws.c(0.5 * eps), y, alpha=1.0 - eps, out=b3)  # y (1 - eps) + eps / 2
    binary_logit_base(ws, x, (na, e, lg, ope, sgn))
    half = 0.5  # the gradient numerator below is computed doubled
    if aux is None or (not isinstance(aux, Tensor) and aux == 1.0):
        wrong_side(ws, y, sgn, b1, b2, b4)  # b2 = v = sgn 2s, b4 = 2s
        loss = lg.addcmul_(na, b4, value=-0.5)  # log(1 + e) + |x| s
        # 2 sgn (s (1 + e) - e) = v (1 + e) - 2 sgn e
        br = torch.mul(b2, ope, out=b1).addcmul_(sgn, e, value=-2.0) if grad is not None else None
    else:
        rho = aux if isinstance(aux, Tensor) else ws.c(aux)
        torch.mul(y, rho, out=b1)  # A
        torch.sub(ws.ones, y, out=b2)  # B
        torch.sub(b2, b1, out=b3)  # B - A (y, possibly in b3, is no longer needed)
        b1.add_(b2)  # W
        b3.mul_(sgn).add_(b1)  # S
        loss = lg.mul_(b1).addcmul_(na, b3, value=-0.5)
        # 2 sgn (S (1 + e) / 2 - W e)
        br = torch.mul(b3, ope, out=b2).addcmul_(b1, e, value=-2.0).mul_(sgn) if grad is not None else None
    part: Tensor | None = None
    if vals is not None:
        torch.mul(loss, f if isinstance(f, Tensor) else ws.c(f), out=vals)
    else:
        part = weighted_sum(ws, loss, f)
    if grad is None or br is None:
        return part
    br.div_(ope)
    write_grad(ws, br, f, gmul * half, grad)
    return part
