"""Every measurement on one curve of a loss: :class:`CurveAnalysis`.

*Minimum at zero*: ``loss(zero) <= loss(x) + MINIMUM_RTOL max(1, |loss(zero)|)`` on the domain
grid and the tails (``zero`` is where the prediction equals the target). *Symmetric*:
``loss(zero - t) == loss(zero + t)`` (``SYMMETRY_RTOL``, ``SYMMETRY_ATOL``) for
:data:`SYMMETRY_POINTS` ``t`` in ``[0, half the domain]``, and for ``t = 10^-1 .. FAR`` when both
ends are infinite. Convexity and smoothness: :mod:`.smoothness`; growth and the gradient bound:
:mod:`.growth`; confident-wrong and the easy-example factor: :mod:`.classification`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .._core.spec import Curve, LossSpec
from .classification import classification_like, confident_wrong, easy_example
from .grids import CurveData, derivative, evaluate, fine_grids
from .growth import tail_growth
from .resolve import label
from .smoothness import convex, smoothness
from .text import jsonable
from .thresholds import (
    APPROACH_INFINITE,
    F64,
    GRID,
    GRID_POINTWISE,
    MINIMUM_RTOL,
    NONNEGATIVE_ATOL,
    SYMMETRY_ATOL,
    SYMMETRY_POINTS,
    SYMMETRY_POINTS_POINTWISE,
    SYMMETRY_RTOL,
)


@dataclass(frozen=True)
class CurveAnalysis:
    """Measurements on one curve of a loss (definitions: the modules of ``losscraft.analysis``).

    Attributes:
        label: the curve's label (its axis name when the spec gives none).
        axis: what ``x`` is (``"residual"``, ``"logit"``, ...).
        domain: the domain grid's range.
        zero: where the prediction equals the target.
        minimum_at_zero: the loss is smallest at ``zero``.
        loss_at_zero: the loss at ``zero``.
        symmetric: ``loss(zero - t) == loss(zero + t)``.
        nonnegative: loss ``>= 0`` on the grids.
        convex: convex on the grids.
        loss_growth: the faster growth class of the two ends.
        gradient_growth: same for ``|gradient|``.
        bounded_gradient: gradient growth bounded at both ends and finite everywhere.
        gradient_bound: largest ``|gradient|`` seen (``None`` when unbounded).
        smoothness: ``"discontinuous"``, ``"C0"``, ``"C1"`` or ``"C2"``.
        smoothness_at_zero: the same, looking only at ``zero``.
        kinks: where the gradient jumps.
        curvature_kinks: where the second derivative jumps (not counting ``kinks``).
        discontinuities: where the loss itself jumps.
        ends: ``{"lower"|"upper": {...}}``: limit, growth classes and exponents per end.
        confident_wrong: loss and gradient deep in the wrong direction (classification curves).
        easy_example_factor: ``loss / CE`` at ``p_t = 0.9`` (logit curves with a reference).
        easy_example_gradient_factor: ``loss' / CE'`` at the same point.
    """

    label: str
    axis: str
    domain: tuple[float, float]
    zero: float
    minimum_at_zero: bool
    loss_at_zero: float
    symmetric: bool
    nonnegative: bool
    convex: bool
    loss_growth: str
    gradient_growth: str
    bounded_gradient: bool
    gradient_bound: float | None
    smoothness: str
    smoothness_at_zero: str
    kinks: tuple[float, ...]
    curvature_kinks: tuple[float, ...]
    discontinuities: tuple[float, ...]
    ends: dict[str, dict[str, Any]]
    confident_wrong: dict[str, Any] | None
    easy_example_factor: float | None
    easy_example_gradient_factor: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (non-finite floats become ``None``)."""
        out: dict[str, Any] = jsonable(
            {
                "label": self.label,
                "axis": self.axis,
                "domain": list(self.domain),
                "zero": self.zero,
                "minimum_at_zero": self.minimum_at_zero,
                "loss_at_zero": self.loss_at_zero,
                "symmetric": self.symmetric,
                "nonnegative": self.nonnegative,
                "convex": self.convex,
                "loss_growth": self.loss_growth,
                "gradient_growth": self.gradient_growth,
                "bounded_gradient": self.bounded_gradient,
                "gradient_bound": self.gradient_bound,
                "smoothness": self.smoothness,
                "smoothness_at_zero": self.smoothness_at_zero,
                "kinks": list(self.kinks),
                "curvature_kinks": list(self.curvature_kinks),
                "discontinuities": list(self.discontinuities),
                "ends": self.ends,
                "confident_wrong": self.confident_wrong,
                "easy_example_factor": self.easy_example_factor,
                "easy_example_gradient_factor": self.easy_example_gradient_factor,
            }
        )
        return out


def analyse_curve(
    spec: LossSpec, fn: Callable[..., Tensor], curve: Curve, hp: dict[str, Any]
) -> tuple[CurveAnalysis, CurveData]:
    """Measure ``fn`` along ``curve``; also its loss and gradient on the domain grid (for plots)."""

    def evaluate_here(x: Tensor) -> tuple[Tensor, Tensor]:
        return evaluate(fn, curve, x, hp)

    z = float(curve.zero)
    lo, hi = (float(v) for v in curve.domain)
    # one evaluation on the refined grids: domain, and each tail joined to its domain end
    fine, infinite = fine_grids(curve)
    sizes = [f.numel() for f in fine]
    v_all, g_all = evaluate_here(torch.cat(fine))
    parts = [
        (v, g, derivative(xs, g))
        for xs, v, g in zip(fine, torch.split(v_all, sizes), torch.split(g_all, sizes), strict=True)
    ]
    xd = fine[0]
    vd, gd, _ = parts[0]

    # value at zero, minimum, non-negativity (domain grid + tails)
    v0 = float(evaluate(fn, curve, torch.tensor([z], dtype=F64), hp)[0][0])
    finite_v = v_all[torch.isfinite(v_all)]
    minimum_at_zero = bool((finite_v >= v0 - MINIMUM_RTOL * max(1.0, abs(v0))).all()) and math.isfinite(v0)
    nonnegative = bool((finite_v >= -NONNEGATIVE_ATOL).all()) and bool(torch.isfinite(vd).all())

    symmetric = _symmetric(fn, curve, hp)
    is_convex = convex(fine, parts, infinite)
    smooth, at_zero, kinks, curv, disc = smoothness(fine, parts, evaluate_here, z, hi - lo)
    growth = tail_growth(fn, curve, hp, g_all)
    confident = (
        confident_wrong(fn, curve, hp, growth.ends) if curve.axis in ("logit", "probability") else None
    )
    easy, easy_g = easy_example(fn, curve, hp) if classification_like(spec, curve) else (None, None)

    ca = CurveAnalysis(
        label=label(curve),
        axis=curve.axis,
        domain=(lo, hi),
        zero=z,
        minimum_at_zero=minimum_at_zero,
        loss_at_zero=v0,
        symmetric=symmetric,
        nonnegative=nonnegative,
        convex=is_convex,
        loss_growth=growth.loss_growth,
        gradient_growth=growth.gradient_growth,
        bounded_gradient=growth.bounded_gradient,
        gradient_bound=growth.gradient_bound,
        smoothness=smooth,
        smoothness_at_zero=at_zero,
        kinks=kinks,
        curvature_kinks=curv,
        discontinuities=disc,
        ends=growth.ends,
        confident_wrong=confident,
        easy_example_factor=easy,
        easy_example_gradient_factor=easy_g,
    )
    n_plot = GRID_POINTWISE if curve.pointwise else GRID
    step = (xd.numel() - 1) // (n_plot - 1)
    cd = CurveData(label(curve), curve.axis, xd[::step].clone(), vd[::step].clone(), gd[::step].clone())
    return ca, cd


def _symmetric(fn: Callable[..., Tensor], curve: Curve, hp: dict[str, Any]) -> bool:
    """``loss(zero - t) == loss(zero + t)`` on the domain, and far out when both ends are infinite."""
    z = float(curve.zero)
    lo, hi = (float(v) for v in curve.domain)
    half = min(z - lo, hi - z)
    if not half > 0:
        return False
    ns = SYMMETRY_POINTS_POINTWISE if curve.pointwise else SYMMETRY_POINTS
    t = torch.linspace(0.0, half, ns, dtype=F64)
    vs = evaluate(fn, curve, torch.cat([z - t, z + t]), hp)[0]
    symmetric = bool(torch.allclose(vs[:ns], vs[ns:], rtol=SYMMETRY_RTOL, atol=SYMMETRY_ATOL))
    if symmetric and math.isinf(curve.extent[0]) and math.isinf(curve.extent[1]):
        t = torch.tensor([10.0**k for k in APPROACH_INFINITE], dtype=F64)
        vs = evaluate(fn, curve, torch.cat([z - t, z + t]), hp)[0]
        left, right = vs[: t.numel()], vs[t.numel() :]
        fin = torch.isfinite(left) & torch.isfinite(right)
        symmetric = bool(
            torch.allclose(left[fin], right[fin], rtol=SYMMETRY_RTOL, atol=SYMMETRY_ATOL)
        ) and bool((torch.isfinite(left) == torch.isfinite(right)).all())
    return symmetric
