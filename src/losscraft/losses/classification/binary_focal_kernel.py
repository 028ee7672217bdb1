"""The lean chunk kernel of the sigmoid (binary) focal loss: loss and gradient, chunk by chunk.

Runs in the chunk engine of :mod:`losscraft._core.kernels` (see there for the chunking,
threading, half-precision and fall-back rules), with the wrong-side form of
:mod:`.binary_logit_kernel` written out in halves.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import Tensor

from ..._core.kernels import Workspace, elementwise_loss, write_grad

__all__ = ["binary_focal_lean"]


def binary_focal_lean(
    input: Tensor,
    target: Tensor,
    gamma: float,
    alpha: float | None,
    weight: Tensor | None,
    reduction: str,
    composed: Callable[[Tensor], Tensor],
) -> Tensor:
    """Binary focal loss on validated arguments by the lean chunked kernel.

    Call it only where :func:`~losscraft._core.kernels.use_lean` holds; ``composed`` is the
    reference formula (used for higher-order gradients).
    """
    kernel = functools.partial(_focal_chunk, gamma=float(gamma), alpha=alpha)
    return elementwise_loss(
        kernel, input, target, weight=weight, aux=None, reduction=reduction, composed=composed
    )


def _power(ws: Workspace, u: Tensor, gamma: float, out: Tensor) -> Tensor:
    """``u ** gamma`` (into ``out``, not aliasing ``u``) for ``u`` in [0, 1].

    Products for small integers, a square root for 1/2, else ``exp(gamma log u)``.

    Why: a general ``pow`` costs as much as ~40 multiplications per element; at ``u = 0``,
    ``log 0 = -inf`` and ``exp(-inf) = 0``, the right limit for ``gamma > 0``.
    """
    if gamma == 1.0:
        return u
    if gamma == 2.0:
        return torch.mul(u, u, out=out)
    if gamma == 3.0:
        return torch.mul(u, u, out=out).mul_(u)
    if gamma == 4.0:
        return torch.mul(u, u, out=out).mul_(out)
    if gamma == 0.5:
        return torch.sqrt(u, out=out)
    return torch.log(u, out=out).mul_(ws.c(gamma)).exp_()


def _focal_chunk(
    ws: Workspace,
    x: Tensor,
    y: Tensor,
    aux: Tensor | float | None,
    f: Tensor | float,
    vals: Tensor | None,
    grad: Tensor | None,
    gmul: float,
    *,
    gamma: float,
    alpha: float | None,
) -> Tensor | None:
    r"""Focal loss and its gradient on one chunk (see :mod:`losscraft._core.kernels`).

    With $e = e^{-|x|}$, $s$ the wrong-side target weight, $c = e + s(1 - e)$ (see
    :func:`~.binary_logit_kernel.wrong_side`), $u = 1 - p_t = c / (1 + e)$,
    $m = u^\gamma$, $b = |x| s + \log(1 + e)$ (the BCE) and $z = 1 - 2y$:

    $$\ell = \alpha_t m b,\qquad
    \frac{\partial\ell}{\partial x} = \frac{\alpha_t m}{1 + e}
    \Big[\mathrm{sgn}\,(2s - c) + \gamma z\,\frac{e}{c}\, b\Big]$$

    from $\partial u / \partial x = z\,\sigma(x)\sigma(-x) = z\,e / (1 + e)^2$ and
    $\partial b / \partial x = \sigma(x) - y = \mathrm{sgn}\,(2s - c) / (1 + e)$. The ratio
    $e / c \le 1$ stands for $u^{\gamma - 1}\sigma(x)\sigma(-x)(1 + e) / u^\gamma$:
    $u^{\gamma - 1}$ alone is infinite at $u = 0$ for $\gamma < 1$. Where $c = 0$ (hard target,
    $e$ underflowed) $m = 0$ and the ratio is taken as 0.

    Every torch call costs a fixed overhead per chunk, so the kernel works with halves to save
    calls: ``hs = sgn / 2``, ``zh = z / 2``, ``vh = zh + hs = sgn s`` (so ``s = |vh|``),
    ``hope = (1 + e) / 2``; then ``c / hope = 2u`` and ``(vh - hs c) / hope`` is the bracket's
    first term over ``1 + e``. The ``2^gamma`` of ``(2u)^gamma`` is folded into ``alpha_t``.
    22 torch calls per chunk (alpha, gamma = 2).
    """
    na, e, b, hope, hs, zh, vh, s, c, ut, mt, am_buf = ws.buffers(12)
    torch.copysign(x, ws.c(-1.0), out=na)  # -|x|
    torch.exp(na, out=e)
    torch.log1p(e, out=b)
    torch.add(ws.c(0.5), e, alpha=0.5, out=hope)  # (1 + e) / 2
    torch.copysign(ws.c(0.5), x, out=hs)  # sgn / 2, never 0
    torch.sub(ws.c(0.5), y, out=zh)  # (1 - 2y) / 2
    torch.add(zh, hs, out=vh)  # sgn s
    torch.abs(vh, out=s)  # exactly 0 or 1 for hard targets
    b.addcmul_(na, s, value=-1.0)  # bce = log(1 + e) + |x| s
    torch.lerp(e, ws.ones, s, out=c)  # c = e + s (1 - e) = (1 - p_t)(1 + e), exact for s = 0
    m: Tensor | None = None
    scale = 1.0  # the power of two folded into alpha_t
    if gamma != 0.0:
        u2 = torch.div(c, hope, out=ut)  # 2 (1 - p_t)
        if gamma > 64.0:  # (2u)^gamma could overflow: use u itself
            u2.mul_(ws.c(0.5))
        else:
            scale = 2.0**-gamma
        m = _power(ws, u2, gamma, out=mt)
    # am = alpha_t m f: alpha_t, the modulating factor and the per-element factor f (weights
    # and the reduction's 1/N) multiply both the loss and its gradient.
    am: Tensor
    if alpha is not None:
        a0, a1 = (1.0 - alpha) * scale, (2.0 * alpha - 1.0) * scale
        if isinstance(f, Tensor):
            am = torch.add(ws.c(a0), y, alpha=a1, out=am_buf).mul_(f)
        else:
            am = torch.add(ws.c(a0 * f), y, alpha=a1 * f, out=am_buf)
        if m is not None:
            am.mul_(m)
    elif m is not None:
        if isinstance(f, Tensor):
            am = torch.addcmul(ws.c(0.0), m, f, value=scale, out=am_buf)
        else:
            am = torch.mul(m, ws.c(f * scale), out=am_buf)
    else:  # pragma: no cover - gamma = 0 and alpha = None is routed to BCE-with-logits
        am = f if isinstance(f, Tensor) else torch.full_like(b, f)
    part: Tensor | None = None
    if vals is not None:
        torch.mul(b, am, out=vals)
    else:
        part = torch.dot(b, am)
    if grad is None:
        return part
    br = torch.addcmul(vh, hs, c, value=-1.0, out=na)  # sgn (2s - c) / 2
    if m is not None:
        # c = 0 only where e = 0 too (and then m = 0): the clamp makes the ratio 0, not NaN
        r = torch.div(e, c.clamp_min_(ws.c(torch.finfo(c.dtype).tiny)), out=c).mul_(b)
        br.addcmul_(r, zh, value=gamma)
    br.div_(hope)
    write_grad(ws, br, am, gmul, grad)
    return part
