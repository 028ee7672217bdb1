"""The scratch block shared by the two overlap-sum kernels (softmax and sigmoid).

Both kernels walk their ``(N, C, P)`` logits with the shared planner ``_core.blocks.blocks``
(images cut along their positions, ``whole_samples=False``) and compute some blocks into a
scratch buffer instead of a view of the gradient (half-precision logits, the softmax's
temporaries). The buffer is sized once, to the planner's largest block, and every block
uses a prefix of it. It lives here, not in ``_core/blocks.py``, because only these two
kernels use it; the softmax-focal kernel writes into its gradient buffer directly.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..._core.blocks import blocks

__all__ = ["block_buffer"]


def block_buffer(x3: Tensor, dt: torch.dtype) -> Tensor:
    """A flat scratch buffer for the largest block of ``blocks(N, C, P)`` (the first one)."""
    n, c, npos = x3.shape
    first = next(blocks(n, c, npos, whole_samples=False), None)
    size = 0 if first is None else x3[first[0], :, first[1]].numel()
    return torch.empty(size, dtype=dt, device=x3.device)
