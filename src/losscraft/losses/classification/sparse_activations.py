"""Exact sparse projections onto the simplex: sparsemax and 1.5-entmax, with their thresholds.

Both map scores ``z`` to a probability vector that can hold exact zeros:

* sparsemax (Martins & Astudillo 2016): ``p = (z - tau)_+`` with ``sum p = 1``, the Euclidean
  projection of ``z`` onto the simplex;
* 1.5-entmax (Peters, Niculae & Martins 2019): ``p = (z / 2 - tau)_+^2`` with ``sum p = 1``.

The threshold ``tau`` is found exactly by the sort-based algorithms of those papers (a sort and
cumulative sums along the class dim), under ``no_grad``: only the *support* (which classes get
``p > 0``) comes out of the sort. ``tau`` is then recomputed from the support by its closed form
with differentiable masked sums, so autograd differentiates the exact piecewise-smooth formula
(no sort in the graph: first and second derivatives are exact, ``torch.compile`` traces it).
Rows are first shifted by their (detached) maximum: both maps are shift-equivariant, and after
the shift every supported score lies in ``[-2, 0]`` (sparsemax: ``[-1, 0]``), so the sums
that define ``tau`` involve no large numbers even for scores of size ``1e4``.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["entmax15", "entmax15_threshold", "sparsemax", "sparsemax_threshold"]


def _shifted(z: Tensor, dim: int) -> Tensor:
    """``z`` minus its detached maximum along ``dim`` (empty tensors pass through)."""
    if z.numel() == 0:
        return z
    return z - z.detach().amax(dim=dim, keepdim=True)


def _ranks(z: Tensor, dim: int) -> Tensor:
    """``1, 2, ..., C`` along ``dim``, shaped to broadcast against ``z``."""
    shape = [1] * z.dim()
    shape[dim] = z.shape[dim]
    return torch.arange(1, z.shape[dim] + 1, device=z.device, dtype=z.dtype).reshape(shape)


def sparsemax_threshold(z: Tensor, dim: int = 1) -> tuple[Tensor, Tensor]:
    r"""The sparsemax threshold $\tau$ of ``z`` (shifted to a maximum of 0) and that shifted ``z``.

    Returns ``(tau, zs)`` with ``zs = z - max(z)`` (maximum detached) and ``tau`` of ``zs``'s
    shape with ``dim`` kept as size 1, so that ``sparsemax(z) = (zs - tau)_+``. ``tau`` is
    differentiable: $\tau = (\sum_{j \in S} z_j - 1) / |S|$ on the support $S$.
    """
    zs = _shifted(z, dim)
    with torch.no_grad():
        srt = zs.sort(dim=dim, descending=True).values
        k = _ranks(zs, dim)
        # Martins & Astudillo, Alg. 1: class k is supported iff 1 + k z_(k) > sum_{j <= k} z_(j).
        supported = (1.0 + k * srt) > srt.cumsum(dim)
        size = supported.sum(dim=dim, keepdim=True).clamp_min(1)
        tau0 = (srt.cumsum(dim).gather(dim, size - 1) - 1.0) / size.to(zs.dtype)
        support = zs > tau0  # the same set, as a mask over the unsorted classes
    mask = support.to(zs.dtype)
    count = mask.sum(dim=dim, keepdim=True).clamp_min(1.0)
    # Differentiable closed form on the (locally constant) support.
    tau = ((zs * mask).sum(dim=dim, keepdim=True) - 1.0) / count
    return tau, zs


def sparsemax(z: Tensor, dim: int = 1) -> Tensor:
    r"""Sparsemax (Martins & Astudillo 2016): the Euclidean projection of ``z`` onto the simplex.

    $\operatorname{sparsemax}(z) = \arg\min_{p \in \Delta} \lVert p - z \rVert^2 = (z - \tau)_+$,
    exact (sort-based), differentiable (Jacobian $\operatorname{diag}(s) - s s^\top / |S|$,
    $s$ the support indicator). Computed in ``z``'s dtype.

    >>> sparsemax(torch.tensor([[1.0, 0.5, -1.0], [3.0, 0.0, 0.0]]))
    tensor([[0.7500, 0.2500, 0.0000],
            [1.0000, 0.0000, 0.0000]])
    """
    tau, zs = sparsemax_threshold(z, dim)
    return torch.clamp(zs - tau, min=0.0)


def entmax15_threshold(z: Tensor, dim: int = 1) -> tuple[Tensor, Tensor]:
    r"""The 1.5-entmax threshold $\tau$ of ``z / 2`` (shifted to a maximum of 0) and that ``z / 2``.

    Returns ``(tau, hs)`` with ``hs = (z - max(z)) / 2`` (maximum detached), so that
    ``entmax15(z) = (hs - tau)_+ ** 2``. On the support $S$ (size $k$, mean $m$ and mean
    square $q$ of ``hs``), $\sum_{j \in S} (h_j - \tau)^2 = 1$ gives
    $\tau = m - \sqrt{(1 - k (q - m^2)) / k}$ (Peters et al. 2019, Alg. 2), differentiable.
    """
    hs = _shifted(z, dim) / 2.0
    with torch.no_grad():
        srt = hs.sort(dim=dim, descending=True).values
        k = _ranks(hs, dim)
        mean = srt.cumsum(dim) / k
        mean_sq = (srt * srt).cumsum(dim) / k
        delta = (1.0 - k * (mean_sq - mean * mean)) / k
        tau_k = mean - delta.clamp_min(0.0).sqrt()
        # The support is the largest k whose candidate threshold lies below z_(k).
        size = (tau_k <= srt).sum(dim=dim, keepdim=True).clamp_min(1)
        tau0 = tau_k.gather(dim, size - 1)
        support = hs > tau0
    mask = support.to(hs.dtype)
    count = mask.sum(dim=dim, keepdim=True).clamp_min(1.0)
    # Supported h lie in [tau, tau + 1] with tau >= -1: these sums are of numbers of size <= 2.
    m = (hs * mask).sum(dim=dim, keepdim=True) / count
    q = (hs * hs * mask).sum(dim=dim, keepdim=True) / count
    # delta > 0 on the exact support (every supported h exceeds tau, so m - tau > 0): the
    # clamp only guards rounding, keeping sqrt's derivative finite.
    delta_s = ((1.0 - count * (q - m * m)) / count).clamp_min(torch.finfo(hs.dtype).tiny)
    tau = m - delta_s.sqrt()
    return tau, hs


def entmax15(z: Tensor, dim: int = 1) -> Tensor:
    r"""1.5-entmax (Peters, Niculae & Martins 2019): $p = (z/2 - \tau)_+^2$ on the simplex.

    Between softmax (1-entmax) and sparsemax (2-entmax): sparse, yet smoother than sparsemax.
    Exact (sort-based), differentiable. Computed in ``z``'s dtype.

    >>> entmax15(torch.tensor([[1.0, 0.5, -1.0], [5.0, 0.0, 0.0]]))
    tensor([[0.6740, 0.3260, 0.0000],
            [1.0000, 0.0000, 0.0000]])
    """
    tau, hs = entmax15_threshold(z, dim)
    return torch.clamp(hs - tau, min=0.0) ** 2
