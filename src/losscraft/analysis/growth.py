"""How fast the loss and ``|gradient|`` grow towards each end of a curve, and the gradient bound.

The growth of ``f`` towards an end comes from the decade increments ``D_k = |f(t_{k+1}) - f(t_k)|``
along the approach (:func:`~losscraft.analysis.grids.approach`). An increment is *significant*
above ``BOUNDED_ATOL max(1, |f|)`` at its two points. ``p = log10(D_last / D_prev)`` is the
log-log slope: ``f ~ t^p`` gives ``p``, ``f ~ log t`` gives 0, a converging ``f`` a negative ``p``.

* *exponential*: ``f`` overflows float64 on the approach, or *anywhere* along it a slope exceeds
  :data:`EXPONENTIAL_SLOPE` and the previous slope by more than :data:`EXPONENTIAL_ACCELERATION`
  (an accelerating slope: faster than any power; linex, whose implementation continues linearly
  beyond ``a r = 50`` to stay finite, is exponential).
* otherwise, from the last slope: *bounded* (``D_last`` not significant, or ``p < -0.25``),
  *logarithmic* (``-0.25 <= p < 0.25``: unbounded but slower than any power, e.g. ``log t``,
  ``log^2 t``), *sublinear* (``0.25 <= p < 0.75``), *linear* (``0.75 <= p < 1.25``),
  *quadratic* (``1.75 <= p < 2.25``), *superlinear* (any other ``p >= 1.25``); see :data:`SLOPES`.

At a finite end ``t`` is ``1 / distance``: BCE on probabilities, ``-log p``, grows
*logarithmically* as ``p -> 0`` and its gradient ``-1/p`` *linearly*. The growth of a curve is
the faster of its two ends; of a loss, the fastest over its curves.

*Bounded gradient*: the gradient growth is bounded at both ends and the gradient is finite on
the grids; the *gradient bound* is the largest ``|gradient|`` seen on the domain grid, the tails
and the approach points (e.g. exactly ``delta`` for Huber; a sampled supremum, so within about
``1e-6`` relative of an interior maximum).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor

from .._core.spec import Curve
from .grids import approach, evaluate
from .thresholds import (
    BOUNDED_ATOL,
    EXPONENTIAL_ACCELERATION,
    EXPONENTIAL_SLOPE,
    F64,
    QUADRATIC,
    SLOPES,
)

Growth = Literal["bounded", "logarithmic", "sublinear", "linear", "superlinear", "quadratic", "exponential"]

GROWTH_CLASSES: tuple[str, ...] = (
    "bounded",
    "logarithmic",
    "sublinear",
    "linear",
    "superlinear",
    "quadratic",
    "exponential",
)
"""Growth classes, slowest first ("superlinear" covers every power >= 1.25 but quadratic)."""


@dataclass(frozen=True)
class TailGrowth:
    """Growth towards both ends of one curve.

    Attributes:
        ends: ``{"lower"|"upper": {"limit", "loss_growth", "loss_exponent", "gradient_growth",
            "gradient_exponent"}}``.
        loss_growth: the faster loss growth of the two ends.
        gradient_growth: the same for ``|gradient|``.
        bounded_gradient: gradient growth bounded at both ends and finite everywhere.
        gradient_bound: largest ``|gradient|`` seen (``None`` when unbounded).
    """

    ends: dict[str, dict[str, Any]]
    loss_growth: str
    gradient_growth: str
    bounded_gradient: bool
    gradient_bound: float | None


def tail_growth(
    fn: Callable[..., Tensor], curve: Curve, hp: dict[str, Any], grid_gradient: Tensor
) -> TailGrowth:
    """Growth towards each end of ``curve``'s extent; ``grid_gradient``: the gradient on the grids."""
    ends: dict[str, dict[str, Any]] = {}
    gmax = float(torch.nan_to_num(grid_gradient.abs(), nan=math.inf).max())
    gradient_finite = bool(torch.isfinite(grid_gradient).all())
    for end in ("lower", "upper"):
        pts, limit = approach(curve, end)
        v, g = evaluate(fn, curve, torch.tensor(pts, dtype=F64), hp)
        lg, lp = classify(v.tolist())
        gg, gp = classify(g.abs().tolist())
        gradient_finite &= bool(torch.isfinite(g).all())
        gmax = max(gmax, float(torch.nan_to_num(g.abs(), nan=math.inf).max()))
        ends[end] = {
            "limit": limit,
            "loss_growth": lg,
            "loss_exponent": lp,
            "gradient_growth": gg,
            "gradient_exponent": gp,
        }
    bounded_gradient = gradient_finite and all(e["gradient_growth"] == "bounded" for e in ends.values())
    return TailGrowth(
        ends=ends,
        loss_growth=fastest([(e["loss_growth"], e["loss_exponent"]) for e in ends.values()]),
        gradient_growth=fastest([(e["gradient_growth"], e["gradient_exponent"]) for e in ends.values()]),
        bounded_gradient=bounded_gradient,
        gradient_bound=gmax if bounded_gradient else None,
    )


def classify(f: list[float]) -> tuple[str, float]:
    """Growth class and exponent of ``f`` at ``t = 10^k`` (consecutive decades)."""
    vals: list[float] = []
    for v in f:
        if not math.isfinite(v):
            return "exponential", math.inf
        vals.append(v)
    d = [abs(b - a) for a, b in itertools.pairwise(vals)]
    # an increment is significant above BOUNDED_ATOL x the values it joins
    sig = [
        di > BOUNDED_ATOL * max(1.0, abs(a), abs(b)) for di, a, b in zip(d, vals[:-1], vals[1:], strict=True)
    ]
    slopes = [math.log10(d[i + 1] / d[i]) if sig[i] and sig[i + 1] else None for i in range(len(d) - 1)]
    for s0, s1 in itertools.pairwise(slopes):
        if (
            s0 is not None
            and s1 is not None
            and s1 > EXPONENTIAL_SLOPE
            and s1 > s0 + EXPONENTIAL_ACCELERATION
        ):
            return "exponential", s1  # an accelerating slope anywhere: faster than any power
    if not sig[-1]:
        return "bounded", -math.inf
    if not sig[-2]:
        return "superlinear", math.inf  # growth starts only in the last decade: not resolved
    p = math.log10(d[-1] / d[-2])
    if QUADRATIC[0] <= p < QUADRATIC[1]:
        return "quadratic", p
    if p < SLOPES[0][0]:
        return "bounded", p
    name = "superlinear"
    for threshold, cls in SLOPES:
        if p >= threshold:
            name = cls
    return name, p


def end_growth(ends: dict[str, dict[str, Any]], what: str) -> tuple[str, float]:
    """The fastest ``what`` (``"loss"`` or ``"gradient"``) growth class and exponent over ``ends``."""
    best = ("bounded", -math.inf)
    for end in ends.values():
        cls, p = end[f"{what}_growth"], end[f"{what}_exponent"]
        key = _growth_key(cls, p)
        if key > _growth_key(*best):
            best = (cls, p)
    return best


def _growth_key(cls: str, p: float | None) -> tuple[int, float]:
    rank = {"bounded": 0, "exponential": 2}.get(cls, 1)
    return rank, (p if p is not None and rank == 1 else 0.0)


def fastest(items: list[tuple[str, float]]) -> str:
    """The fastest growth class of ``(class, exponent)`` pairs."""
    return max(items, key=lambda t: _growth_key(*t))[0]
