"""Where a loss is evaluated: the grids along a curve, and the loss and gradient on them.

Everything is float64, on the spec's :class:`~losscraft.LossSpec` curves (``Curve.values``,
so pointwise curves and hyperparameters work). The gradient is autograd's ``d loss / d x``
along the curve; the second derivative is a finite difference of that gradient on the same
grids (double backward is unavailable or slow for some torch ops).

* The *domain grid* is the curve's ``domain``: :data:`GRID` points, each interval split
  :data:`SUB` x (:data:`GRID_POINTWISE` for pointwise curves, which cost one loss call per point).
* The *tails* continue it geometrically (:data:`TAIL_PER_DECADE` points per decade) to
  ``zero +- FAR`` at an infinite end of the curve's ``extent``, or to ``1 / FAR`` from a finite
  end (not for pointwise curves); they are split :data:`SUB` x too.
* The *approach* to an end is the decade sequence ``t``: ``zero +- t``, ``t = 10^-1 .. FAR``, at
  an infinite end; ``end -+ 1/t``, ``t = 10^1 .. FAR``, at a finite one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .._core.errors import LosscraftError
from .._core.spec import Curve
from .resolve import curves, label, resolve
from .text import floats, fmt
from .thresholds import (
    APPROACH_FINITE,
    APPROACH_INFINITE,
    F64,
    FAR,
    GRID,
    GRID_POINTWISE,
    SUB,
    TAIL_PER_DECADE,
    TAIL_PER_DECADE_POINTWISE,
    TAIL_START_MIN,
)

Evaluator = Callable[[Tensor], tuple[Tensor, Tensor]]


@dataclass(frozen=True)
class CurveData:
    """Loss and gradient along one curve: 1-D float64 tensors of equal length (for plots)."""

    label: str
    axis: str
    x: Tensor
    loss: Tensor
    grad: Tensor

    def to_dict(self) -> dict[str, Any]:
        """``{"label", "axis", "x", "loss", "grad"}`` with lists of floats (non-finite -> None)."""
        return {
            "label": self.label,
            "axis": self.axis,
            "x": floats(self.x),
            "loss": floats(self.loss),
            "grad": floats(self.grad),
        }


def curve_data(
    loss: Any, n: int = 401, domain: tuple[float, float] | None = None, **params: Any
) -> tuple[CurveData, ...]:
    """Loss and autograd gradient on an ``n``-point grid along every curve of ``loss``.

    Args:
        loss: as for :func:`~losscraft.analyze`.
        n: grid points per curve (>= 2).
        domain: ``(lo, hi)`` instead of each curve's own domain (clipped to its extent).
        **params: hyperparameters, as for :func:`~losscraft.analyze` (a custom loss's
            hyperparameters named ``n`` or ``domain`` are shadowed by these arguments).

    Returns:
        One :class:`CurveData` per curve, primary first (float64 tensors, detached).

    Raises:
        LosscraftError: as for :func:`~losscraft.analyze`, or a bad ``n`` / ``domain``.

    Examples:
        >>> (d,) = curve_data("mse", n=3)
        >>> d.x.tolist(), d.loss.tolist(), d.grad.tolist()
        ([-4.0, 0.0, 4.0], [16.0, 0.0, 16.0], [-8.0, 0.0, 8.0])
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise LosscraftError(f"curve_data: 'n' must be an int >= 2, got {n!r}")
    if domain is not None:
        ok = isinstance(domain, (tuple, list)) and len(domain) == 2
        if not ok or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in domain):
            raise LosscraftError(
                f"curve_data: 'domain' must be a pair of finite floats (lo, hi), got {domain!r}"
            )
        if not domain[0] < domain[1]:
            raise LosscraftError(f"curve_data: 'domain' must satisfy lo < hi, got {tuple(domain)!r}")
    spec, fn, hp = resolve(loss, params, "curve_data")
    out = []
    for curve in curves(spec, "curve_data"):
        lo, hi = domain if domain is not None else curve.domain
        lo, hi = max(float(lo), curve.extent[0]), min(float(hi), curve.extent[1])
        x = torch.linspace(lo, hi, n, dtype=F64)
        v, g = evaluate(fn, curve, x, hp)
        out.append(CurveData(label(curve), curve.axis, x, v, g))
    return tuple(out)


# --------------------------------------------------------------------------- evaluation
def evaluate(fn: Callable[..., Tensor], curve: Curve, x: Tensor, hp: dict[str, Any]) -> tuple[Tensor, Tensor]:
    """Loss and autograd gradient along ``curve`` at the points ``x`` (float64, detached)."""
    x = x.detach().to(F64).clone().requires_grad_(True)
    v = curve.values(fn, x, **hp)
    if v.numel() != x.numel():
        shown = {k: v for k, v in hp.items() if not isinstance(v, Tensor)}
        raise LosscraftError(
            f"analyze: the curve of {fn.__name__} gives {v.numel()} loss values for {x.numel()} grid points "
            f"with hyperparameters {shown}; a curve needs one loss value per point, so the loss cannot be "
            "analysed with these hyperparameters"
        )
    v = v.to(F64)
    if not v.requires_grad:
        return v.detach(), torch.zeros_like(x).detach()
    (g,) = torch.autograd.grad(v.sum(), x, allow_unused=True)
    if g is None or _is_zero_tensor(g):
        return v.detach(), torch.zeros_like(x).detach()
    return v.detach(), g.detach()


def _is_zero_tensor(t: Tensor) -> bool:
    """Autograd may return a ZeroTensor, whose arithmetic takes a slow Python path."""
    check = getattr(t, "_is_zerotensor", None)
    return bool(check()) if callable(check) else False


def derivative(x: Tensor, g: Tensor) -> Tensor:
    """Finite-difference derivative of ``g`` along the last dim of the increasing grid ``x``.

    Central (secant over two intervals) at interior points, one-sided at the ends. Used for
    the second derivative: double backward is unavailable or slow for some torch ops.
    """
    d = torch.empty_like(g)
    d[..., 1:-1] = (g[..., 2:] - g[..., :-2]) / (x[..., 2:] - x[..., :-2])
    d[..., :1] = (g[..., 1:2] - g[..., :1]) / (x[..., 1:2] - x[..., :1])
    d[..., -1:] = (g[..., -1:] - g[..., -2:-1]) / (x[..., -1:] - x[..., -2:-1])
    return d


# --------------------------------------------------------------------------- grids
def refined(coarse: Tensor, sub: int) -> Tensor:
    """Every interval of the increasing ``coarse`` grid split into ``sub`` equal parts."""
    a, b = coarse[:-1], coarse[1:]
    w = torch.arange(sub, dtype=F64) / sub
    inner = (a[:, None] + (b - a)[:, None] * w[None, :]).reshape(-1)
    return torch.cat([inner, coarse[-1:]])


def _tail(start: float, stop: float, per_decade: int) -> list[float]:
    """Geometric distances from ``start`` to ``stop`` (both > 0), ``start`` excluded."""
    if start <= 0 or stop <= 0 or start == stop:
        return []
    decades = abs(math.log10(stop / start))
    k = max(2, math.ceil(decades * per_decade) + 1)
    pts = torch.logspace(math.log10(start), math.log10(stop), k, dtype=F64).tolist()
    return [float(p) for p in pts[1:]]


def coarse_grids(curve: Curve) -> tuple[Tensor, list[float], list[float]]:
    """The coarse domain grid and the tail nodes below / above it."""
    lo, hi = (float(v) for v in curve.domain)
    elo, ehi = (float(v) for v in curve.extent)
    n = GRID_POINTWISE if curve.pointwise else GRID
    per = TAIL_PER_DECADE_POINTWISE if curve.pointwise else TAIL_PER_DECADE
    dom = torch.linspace(lo, hi, n, dtype=F64)
    z = float(curve.zero)
    finite_tails = not curve.pointwise  # pointwise curves are costly: domain and infinite ends only
    below: list[float] = []
    above: list[float] = []
    if math.isinf(elo):
        below = [z - d for d in _tail(max(z - lo, TAIL_START_MIN), FAR, per)]
    elif finite_tails and lo - elo > 1.0 / FAR:
        below = [elo + d for d in _tail(lo - elo, 1.0 / FAR, per)]
    if math.isinf(ehi):
        above = [z + d for d in _tail(max(hi - z, TAIL_START_MIN), FAR, per)]
    elif finite_tails and ehi - hi > 1.0 / FAR:
        above = [ehi - d for d in _tail(ehi - hi, 1.0 / FAR, per)]
    below = sorted(v for v in below if v < lo)
    above = sorted(v for v in above if v > hi)
    return dom, below, above


def fine_grids(curve: Curve) -> tuple[list[Tensor], list[bool]]:
    """The refined domain grid, then each tail joined to its domain end (refined too).

    With each grid, whether it reaches an infinite end (convexity is checked there).
    """
    lo, hi = (float(v) for v in curve.domain)
    dom, below, above = coarse_grids(curve)
    segs = [dom]
    infinite = [True]
    if below:
        segs.append(torch.tensor([*below, lo], dtype=F64))
        infinite.append(math.isinf(curve.extent[0]))
    if above:
        segs.append(torch.tensor([hi, *above], dtype=F64))
        infinite.append(math.isinf(curve.extent[1]))
    return [refined(s, SUB) for s in segs], infinite


def approach(curve: Curve, end: str) -> tuple[list[float], str]:
    """Decade points towards ``end`` (``"lower"``/``"upper"``) and the limit in words."""
    z = float(curve.zero)
    bound = float(curve.extent[0] if end == "lower" else curve.extent[1])
    sign = -1.0 if end == "lower" else 1.0
    if math.isinf(bound):
        return [z + sign * 10.0**k for k in APPROACH_INFINITE], f"x -> {'-' if sign < 0 else '+'}inf"
    return [bound - sign * 10.0 ** (-k) for k in APPROACH_FINITE], f"x -> {fmt(bound)}"
