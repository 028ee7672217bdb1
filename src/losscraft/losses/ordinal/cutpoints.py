"""Learnable ordered cutpoints for the cumulative-link loss."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..._core.errors import LosscraftError

__all__ = ["OrderedCutpoints"]


def _inverse_softplus(y: Tensor) -> Tensor:
    """``x`` with ``softplus(x) = y`` for ``y > 0``: ``y + log(-expm1(-y))``, exact for large and small ``y``."""
    return y + torch.log(-torch.expm1(-y))


class OrderedCutpoints(nn.Module):
    r"""The $K-1$ ordered cutpoints of a cumulative-link model, as learnable parameters.

    $\theta_0 = c$ and $\theta_k = \theta_{k-1} + \operatorname{softplus}(\delta_k)$: any values
    of the unconstrained parameters ``first`` ($c$) and ``raw_gaps`` ($\delta$, $K-2$ of them)
    give strictly increasing cutpoints, so the optimiser never breaks their order. Add the
    Module to the model (or its parameters to the optimiser) and pass ``cutpoints()`` to
    :func:`~losscraft.functional.cumulative_link_loss` and the predict helpers.

    Args:
        num_classes: $K \ge 2$.
        init: initial cutpoints, $K-1$ finite, strictly increasing values; ``None`` (default):
            evenly spaced with gap 1, centred at 0. A good data-driven start is the logit of the
            cumulative class frequencies, $\theta_k = \operatorname{logit} P(y \le k)$ (the
            fit with every score 0).

    Raises:
        LosscraftError: ``num_classes`` not an int >= 2, ``init`` of the wrong length, not
            finite or not strictly increasing.

    Examples:
        >>> import torch
        >>> from losscraft.ordinal import OrderedCutpoints
        >>> cut = OrderedCutpoints(4)
        >>> cut()
        tensor([-1.,  0.,  1.], grad_fn=<CatBackward0>)
        >>> OrderedCutpoints(3, init=[-0.5, 2.0])().detach()
        tensor([-0.5000,  2.0000])
    """

    def __init__(self, num_classes: int, *, init: Sequence[float] | Tensor | None = None) -> None:
        super().__init__()
        name = "OrderedCutpoints"
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise LosscraftError(f"{name}: 'num_classes' must be an int >= 2, got {num_classes!r}")
        if init is None:
            start = torch.arange(num_classes - 1, dtype=torch.float64) - (num_classes - 2) / 2.0
        else:
            start = torch.as_tensor(init, dtype=torch.float64).detach().clone()
            if start.shape != (num_classes - 1,):
                raise LosscraftError(
                    f"{name}: 'init' must hold num_classes - 1 = {num_classes - 1} cutpoints, got "
                    f"shape {tuple(start.shape)}"
                )
            if not bool(torch.isfinite(start).all()) or not bool((start[1:] > start[:-1]).all()):
                raise LosscraftError(
                    f"{name}: 'init' must hold finite, strictly increasing cutpoints, got {start.tolist()}"
                )
        dtype = torch.get_default_dtype()
        self.first = nn.Parameter(start[:1].to(dtype))
        self.raw_gaps = nn.Parameter(_inverse_softplus(start[1:] - start[:-1]).to(dtype))
        self.num_classes = num_classes

    def forward(self) -> Tensor:
        r"""The cutpoints $\theta$, shape ``(K-1,)``, strictly increasing."""
        gaps = F.softplus(self.raw_gaps)
        return torch.cat([self.first, self.first + torch.cumsum(gaps, 0)])

    def extra_repr(self) -> str:
        """``num_classes=5``."""
        return f"num_classes={self.num_classes}"
