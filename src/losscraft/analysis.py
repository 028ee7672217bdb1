r"""Measure how a loss and its gradient behave: :func:`analyze`.

People choose between MSE, MAE, Huber and Log-Cosh, or between cross-entropy and focal loss,
because of how the loss and its gradient behave as the error grows. :func:`analyze` measures
this for any registry entry or custom loss instead of asking you to trust a blog post::

    >>> import losscraft
    >>> r = losscraft.analyze("huber", delta=2.0)
    >>> r.loss_growth, r.gradient_growth, r.gradient_bound, r.smoothness, r.curvature_kinks
    ('linear', 'bounded', 2.0, 'C1', (-2.0, 2.0))
    >>> print(r.table())  # doctest: +ELLIPSIS
    huber(delta=2.0) -- regression, residual axis, domain [-4, 4]
    ...

Everything is measured numerically, in float64, on the loss's :class:`~losscraft.LossSpec`
curves (``Curve.values``, so pointwise curves and hyperparameters work; a hyperparameter such
as ``delta`` or ``margin`` changes the loss evaluated along the same curve). The gradient is
autograd's ``d loss / d x`` along the curve; the second derivative is a finite difference of
that gradient on the same grids (central at interior points; double backward is unavailable
or slow for some torch ops). Nothing here knows a particular loss.

**Grids.** The *domain grid* is the curve's ``domain``: 401 points, each interval split 10x
(4001 points); pointwise curves, which cost one loss call per point, 41 / 401. The *tails*
continue it geometrically, 20 points per decade (10 for pointwise curves), to
``zero +- 1e6`` at an infinite end of the curve's ``extent``, or to ``1e-6`` from a finite
end (not for pointwise curves); they are split 10x too. The *approach* to an end is the
decade sequence ``t``: the points ``zero +- t``, ``t = 10^-1 .. 10^6``, at an infinite end;
``end -+ 1/t``, ``t = 10^1 .. 10^6``, at a finite one.

**Definitions and thresholds** (the module constants):

* *minimum at zero*: ``loss(zero) <= loss(x) + 1e-12 max(1, |loss(zero)|)`` on the domain
  grid and the tails (``zero`` is where the prediction equals the target).
* *symmetric*: ``loss(zero - t) == loss(zero + t)`` (rtol 1e-9, atol 1e-12) for 200 ``t``
  (50 for pointwise curves) in ``[0, half the domain]``, and for ``t = 10^-1 .. 10^6`` when
  both ends are infinite.
* *growth* of ``f`` (the loss, or ``|gradient|``) towards an end, from the decade increments
  ``D_k = |f(t_{k+1}) - f(t_k)|`` along the approach. An increment is *significant* above
  ``1e-9 max(1, |f|)`` at its two points. ``p = log10(D_last / D_prev)`` is the log-log
  slope: ``f ~ t^p`` gives ``p``, ``f ~ log t`` gives 0, a converging ``f`` a negative
  ``p``. Classes: *exponential* if ``f`` overflows float64 on the approach, or *anywhere*
  along it a slope exceeds 2.25 and the previous slope by more than 0.5 (an accelerating
  slope: faster than any power; linex, whose implementation continues linearly beyond
  ``a r = 50`` to stay finite, is exponential). Otherwise, from the last slope: *bounded*
  (``D_last`` not significant, or ``p < -0.25``), *logarithmic* (``-0.25 <= p < 0.25``:
  unbounded but slower than any power, e.g. ``log t``, ``log^2 t``), *sublinear*
  (``0.25 <= p < 0.75``), *linear* (``0.75 <= p < 1.25``), *quadratic*
  (``1.75 <= p < 2.25``), *superlinear* (any other ``p >= 1.25``). At a finite end ``t`` is
  ``1 / distance``: BCE on probabilities, ``-log p``, grows *logarithmically* as ``p -> 0``
  and its gradient ``-1/p`` *linearly*. The growth of a curve is the faster of its two ends;
  of a loss, the fastest over its curves. ``ends`` keeps each end's class and ``p``.
* *bounded gradient*: the gradient growth is *bounded* at both ends of every curve and the
  gradient is finite on the grids; *gradient bound*: the largest ``|gradient|`` seen on the
  domain grid, the tails and the approach points (e.g. exactly ``delta`` for Huber; a sampled
  supremum, so within about ``1e-6`` relative of an interior maximum).
* *smoothness*: jumps of the loss (*discontinuous*), of the gradient (*C0*: a kink) and of
  the second derivative (*C1*: continuous gradient, jumping curvature; else *C2*). On the
  refined grids, a window of two steps whose change is at least half the total variation
  of the 20 steps around it (a smooth function changes by about a tenth of it) and above
  the noise floor ``1e-7 (1 + |f|)`` is a candidate (two steps: a jump on a grid node, or a
  curvature step seen through the central difference, is shared by two steps). Each
  candidate is zoomed into six times, each time keeping the two-step window with the
  largest change, 5x narrower: a jump keeps its size, a smooth change shrinks 5x per
  level; it is a jump if the last level kept at least half of it. Jumps closer than two
  grid steps are merged; locations are accurate to about ``1e-4`` of a grid step and
  rounded accordingly. Huber is C1 with curvature jumps at ``+-delta``, MAE is C0 at 0, MSE
  and Log-Cosh are C2. *Smoothness at zero* counts only jumps within ``1e-4 x`` the domain
  width of ``zero``. A jump at the very end of a finite extent counts (e.g. the distance
  curve of the contrastive loss at distance 0, where the norm is not differentiable).
* *convex*: second differences ``>= -1e-9 max(1, max |loss|)`` on an 801-point domain grid
  (every 5th refined point), and non-decreasing slopes (tolerance ``1e-9 max(1, |slope|)``)
  on the tails towards infinite ends. Tails towards a finite end are not used: there the
  curve's own construction dominates (e.g. the triplet curve's distance ``eps`` as the
  positive reaches the anchor).
* *confident-wrong* (curves with a ``logit`` or ``probability`` axis): the wrong end is the
  one with the larger loss at ``zero -+ 10`` (logits) or ``1e-2`` from the ends
  (probabilities); the report gives the loss and gradient at ``zero -+ 10, 100, 1e4``
  (logits) or at ``1e-2, 1e-4, 1e-6`` from the wrong end (probabilities) and that end's
  growth classes: BCE-with-logits grows *linearly* with gradient bound 1, BCE on
  probabilities is unbounded.
* *easy-example factor* (``logit`` curves of classification, focal-type and custom logit
  losses whose curve inputs also fit plain BCE-with-logits, same shapes, or cross-entropy,
  class-index target): at the point ``x_e`` of the curve where that reference says the
  true class has probability ``p_t = exp(-CE(x_e)) = 0.9`` (found by bisection),
  ``loss(x_e) / CE(x_e)``. For focal loss without ``alpha`` this is exactly the modulating
  factor ``(1 - p_t)^gamma = 0.1^gamma`` (times ``alpha_t`` with ``alpha``); for CE it is 1.
  The *gradient factor* is ``loss'(x_e) / CE'(x_e)``; for focal loss it is
  ``(1-p)^gamma (1 + gamma p (-log p) / (1 - p))`` at ``p = 0.9`` (the derivative of the
  modulating factor adds the log term).
* *properties*: the measured members of :data:`~losscraft.CHECKED_PROPERTIES`, each holding
  on every curve: ``nonnegative`` (loss ``>= -1e-12`` on the grids and on random samples from
  ``spec.sample``), ``zero_at_match`` (minimum at zero with ``|loss(zero)| < 1e-10``),
  ``symmetric``, ``convex``, ``smooth`` (C1 or C2), ``bounded_gradient``,
  ``scale_invariant`` (``spec.sample`` inputs rescaled by 0.37 and 5.3 give the same
  unreduced loss, rtol 1e-9) and ``needs_logits`` (the spec's input kind). The contract
  suite asserts that these equal the declared properties of every built-in.

**Limits.** Measurements are on sampled points: a jump below ``1e-7 (1 + |f|)`` or closer
to another than a grid step is not seen; growth is judged up to ``|x| = 1e6`` (a loss whose
tail regime starts beyond ~1e5, e.g. Huber with ``delta = 1e5``, is misclassified);
symmetry and the easy-example factor use the domain and the primary point only. Losses that
mix samples (batch statistics) are analysed along their spec's curve only, and a curve that
cannot give one loss value per point for some hyperparameters (a segmentation curve with
``aggregate="batch"``) raises :class:`~losscraft.LosscraftError`.
"""

from __future__ import annotations

import contextlib
import difflib
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor

from ._core.checks import check_params
from ._core.errors import LosscraftError
from ._core.module import LossModule
from ._core.registry import LossEntry, get
from ._core.spec import CHECKED_PROPERTIES, Curve, Family, InputKind, LossSpec, Property, TensorDomain

__all__ = ["GROWTH_CLASSES", "AnalysisReport", "CurveAnalysis", "CurveData", "analyze", "curve_data"]

Growth = Literal["bounded", "logarithmic", "sublinear", "linear", "superlinear", "quadratic", "exponential"]
Smoothness = Literal["discontinuous", "C0", "C1", "C2"]

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

# --------------------------------------------------------------------------- thresholds
GRID = 401  # coarse domain grid (refined SUB x)
GRID_POINTWISE = 41  # pointwise curves: one loss call per point
SUB = 10  # refinement factor per level
LEVELS = 6  # zoom levels for a candidate jump (each 5x narrower)
JUMP_RATIO = 0.5  # a jump that keeps >= this fraction when refined 10x is a jump
JUMP_RTOL = 1e-7  # jumps below JUMP_RTOL * (1 + |f|) are noise
MAX_CANDIDATES = 32
TAIL_PER_DECADE = 20
TAIL_PER_DECADE_POINTWISE = 10
FAR = 1e6  # tails and approach reach zero +- FAR, or 1 / FAR from a finite end
BOUNDED_ATOL = 1e-9  # |D_last| <= BOUNDED_ATOL * max(1, max |f|) counts as converged
SLOPES = ((-0.25, "logarithmic"), (0.25, "sublinear"), (0.75, "linear"), (1.25, "superlinear"))
CONVEX_RTOL = 1e-9
SYMMETRY_RTOL, SYMMETRY_ATOL = 1e-9, 1e-12
ZERO_ATOL = 1e-10
EASY_PT = 0.9
WRONG_LOGITS = (10.0, 100.0, 1e4)
WRONG_PROBABILITIES = (1e-2, 1e-4, 1e-6)
_F64 = torch.float64


# --------------------------------------------------------------------------- results
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
            "x": _floats(self.x),
            "loss": _floats(self.loss),
            "grad": _floats(self.grad),
        }


@dataclass(frozen=True)
class CurveAnalysis:
    """Measurements on one curve of a loss (see the module docstring for the definitions).

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
        out: dict[str, Any] = _jsonable(
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


@dataclass(frozen=True)
class AnalysisReport:
    """What :func:`analyze` measured; overall values combine every curve of the loss.

    Attributes:
        name: registry key (or the custom loss's name).
        params: the hyperparameters used, defaults filled in (JSON-friendly values).
        family: catalog family.
        axis: the primary curve's axis.
        domain: the primary curve's domain.
        curves: curve labels, primary first.
        per_curve: one :class:`CurveAnalysis` per curve.
        minimum_at_zero: the minimum is at ``zero`` on every curve.
        symmetric: symmetric on every curve.
        nonnegative: non-negative on every curve.
        loss_growth: fastest loss growth over curves and ends.
        gradient_growth: fastest ``|gradient|`` growth over curves and ends.
        bounded_gradient: the gradient is bounded on every curve.
        gradient_bound: largest ``|gradient|`` seen (``None`` when unbounded).
        smoothness: the least smooth class over curves.
        smoothness_at_zero: the least smooth class at ``zero`` over curves.
        kinks: gradient jumps on the primary curve.
        curvature_kinks: second-derivative jumps on the primary curve.
        convex: convex on every curve.
        confident_wrong: the primary curve's confident-wrong behaviour (``None`` when it is not
            a logit or probability curve).
        easy_example_factor: the primary curve's ``loss / CE`` at ``p_t = 0.9``.
        easy_example_gradient_factor: the primary curve's ``loss' / CE'`` there.
        properties: measured members of :data:`~losscraft.CHECKED_PROPERTIES`.
        declared: declared members of :data:`~losscraft.CHECKED_PROPERTIES`.
        data: loss and gradient on each curve's domain grid (for plots).
    """

    name: str
    params: dict[str, Any]
    family: str
    axis: str
    domain: tuple[float, float]
    curves: tuple[str, ...]
    per_curve: tuple[CurveAnalysis, ...]
    minimum_at_zero: bool
    symmetric: bool
    nonnegative: bool
    loss_growth: str
    gradient_growth: str
    bounded_gradient: bool
    gradient_bound: float | None
    smoothness: str
    smoothness_at_zero: str
    kinks: tuple[float, ...]
    curvature_kinks: tuple[float, ...]
    convex: bool
    confident_wrong: dict[str, Any] | None
    easy_example_factor: float | None
    easy_example_gradient_factor: float | None
    properties: frozenset[Property]
    declared: frozenset[Property]
    data: tuple[CurveData, ...] = field(default=(), compare=False, repr=False)

    @property
    def mismatches(self) -> dict[str, list[str]]:
        """Checked properties declared but not measured, and measured but not declared."""
        return {
            "declared_not_measured": sorted(str(p) for p in self.declared - self.properties),
            "measured_not_declared": sorted(str(p) for p in self.properties - self.declared),
        }

    def to_dict(self, *, include_data: bool = False) -> dict[str, Any]:
        """JSON-serialisable dict (``json.dumps`` works; non-finite floats become ``None``).

        Args:
            include_data: add ``"data"``, the loss and gradient on each curve's grid.
        """
        out: dict[str, Any] = {
            "name": self.name,
            "params": self.params,
            "family": self.family,
            "axis": self.axis,
            "domain": list(self.domain),
            "curves": list(self.curves),
            "minimum_at_zero": self.minimum_at_zero,
            "symmetric": self.symmetric,
            "nonnegative": self.nonnegative,
            "loss_growth": self.loss_growth,
            "gradient_growth": self.gradient_growth,
            "bounded_gradient": self.bounded_gradient,
            "gradient_bound": self.gradient_bound,
            "smoothness": self.smoothness,
            "smoothness_at_zero": self.smoothness_at_zero,
            "kinks": list(self.kinks),
            "curvature_kinks": list(self.curvature_kinks),
            "convex": self.convex,
            "confident_wrong": self.confident_wrong,
            "easy_example_factor": self.easy_example_factor,
            "easy_example_gradient_factor": self.easy_example_gradient_factor,
            "properties": sorted(str(p) for p in self.properties),
            "declared": sorted(str(p) for p in self.declared),
            "mismatches": self.mismatches,
            "per_curve": [c.to_dict() for c in self.per_curve],
        }
        if include_data:
            out["data"] = [d.to_dict() for d in self.data]
        result: dict[str, Any] = _jsonable(out)
        return result

    def rows(self) -> list[tuple[str, ...]]:
        """The table's rows: a measure, then one value per curve (a single value for one curve)."""
        cs = self.per_curve
        rows: list[tuple[str, ...]] = []

        def row(label: str, fn: Callable[[CurveAnalysis], str]) -> None:
            rows.append((label, *(fn(c) for c in cs)))

        row(
            "minimum at zero",
            lambda c: f"{_yes(c.minimum_at_zero)} (loss {_g(c.loss_at_zero)} at {_g(c.zero)})",
        )
        row("symmetric", lambda c: _yes(c.symmetric))
        row("non-negative", lambda c: _yes(c.nonnegative))
        row("convex", lambda c: _yes(c.convex))
        row("loss growth", lambda c: _growth_text(c, "loss"))
        row("gradient growth", lambda c: _growth_text(c, "gradient"))
        row(
            "bounded gradient",
            lambda c: f"yes, |grad| <= {_g(c.gradient_bound)}" if c.bounded_gradient else "no",
        )
        row("smoothness", _smooth_text)
        row("smoothness at zero", lambda c: c.smoothness_at_zero)
        if any(c.confident_wrong is not None for c in cs):
            row("confident wrong", _wrong_text)
        if any(c.easy_example_factor is not None for c in cs):
            row(
                "easy example (p_t=0.9)",
                lambda c: (
                    "n/a"
                    if c.easy_example_factor is None
                    else f"loss x{_g(c.easy_example_factor)}, grad x{_g(c.easy_example_gradient_factor)} vs CE"
                ),
            )
        props = ", ".join(sorted(str(p) for p in self.properties)) or "none"
        rows.append(("measured properties", props, *([""] * (len(cs) - 1))))
        mm = self.mismatches
        if mm["declared_not_measured"] or mm["measured_not_declared"]:
            text = "; ".join(f"{k.replace('_', ' ')}: {', '.join(v)}" for k, v in mm.items() if v)
            rows.append(("differs from spec", text, *([""] * (len(cs) - 1))))
        return rows

    def table(self) -> str:
        """A plain-text table of the measurements (one column per curve)."""
        hp = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        lo, hi = self.domain
        head = f"{self.name}({hp}) -- {self.family}, {self.axis} axis, domain [{_g(lo)}, {_g(hi)}]"
        rows = self.rows()
        if len(self.per_curve) > 1:
            rows.insert(0, ("curve", *self.curves))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = [head]
        for r in rows:
            lines.append("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


# --------------------------------------------------------------------------- public functions
def analyze(loss: Any, **params: Any) -> AnalysisReport:
    """Measure how ``loss`` and its gradient behave along its spec's curves.

    Args:
        loss: a registry name or alias (``"huber"``, ``"l1"``), a :class:`~losscraft.LossEntry`,
            a loss Module instance (its hyperparameters are used) or class, a custom loss from
            :func:`losscraft.builder.custom_loss`, or a registered functional form.
        **params: hyperparameters (override a Module's); missing ones take their defaults.
            Lists are accepted for tensor hyperparameters (class weights).

    Returns:
        An :class:`AnalysisReport`; ``report.table()`` renders it, ``report.to_dict()`` is
        JSON-serialisable. Definitions and thresholds: the module docstring.

    Raises:
        LosscraftError: an unknown loss (the message suggests the closest names), an unknown
        hyperparameter, a value outside its domain, or a loss without a curve.

    Examples:
        >>> import losscraft
        >>> r = losscraft.analyze("mae")
        >>> r.gradient_growth, r.gradient_bound, r.smoothness, r.kinks
        ('bounded', 1.0, 'C0', (0.0,))
    """
    spec, fn, hp = _resolve(loss, params, "analyze")
    curves = _curves(spec, "analyze")
    per_curve = []
    data = []
    for curve in curves:
        ca, cd = _analyze_curve(spec, fn, curve, hp)
        per_curve.append(ca)
        data.append(cd)
    scale_inv = _scale_invariant(spec, fn, hp)
    sample_nonneg = _nonnegative_on_samples(spec, fn, hp)
    props = set()
    if spec.input_kind is InputKind.LOGITS:
        props.add(Property.NEEDS_LOGITS)
    if scale_inv:
        props.add(Property.SCALE_INVARIANT)
    if sample_nonneg and all(c.nonnegative for c in per_curve):
        props.add(Property.NONNEGATIVE)
    if all(c.minimum_at_zero and abs(c.loss_at_zero) < ZERO_ATOL for c in per_curve):
        props.add(Property.ZERO_AT_MATCH)
    if all(c.symmetric for c in per_curve):
        props.add(Property.SYMMETRIC)
    if all(c.convex for c in per_curve):
        props.add(Property.CONVEX)
    if all(c.smoothness in ("C1", "C2") for c in per_curve):
        props.add(Property.SMOOTH)
    if all(c.bounded_gradient for c in per_curve):
        props.add(Property.BOUNDED_GRADIENT)
    first = per_curve[0]
    bounded = all(c.bounded_gradient for c in per_curve)
    return AnalysisReport(
        name=spec.name,
        params=_params_for_report(spec, hp),
        family=str(spec.family),
        axis=curves[0].axis,
        domain=(float(curves[0].domain[0]), float(curves[0].domain[1])),
        curves=tuple(c.label for c in per_curve),
        per_curve=tuple(per_curve),
        minimum_at_zero=all(c.minimum_at_zero for c in per_curve),
        symmetric=all(c.symmetric for c in per_curve),
        nonnegative=Property.NONNEGATIVE in props,
        loss_growth=_fastest([_end_growth(c, "loss") for c in per_curve]),
        gradient_growth=_fastest([_end_growth(c, "gradient") for c in per_curve]),
        bounded_gradient=bounded,
        gradient_bound=max(float(c.gradient_bound or 0.0) for c in per_curve) if bounded else None,
        smoothness=min((c.smoothness for c in per_curve), key=_SMOOTH_ORDER.index),
        smoothness_at_zero=min((c.smoothness_at_zero for c in per_curve), key=_SMOOTH_ORDER.index),
        kinks=first.kinks,
        curvature_kinks=first.curvature_kinks,
        convex=all(c.convex for c in per_curve),
        confident_wrong=first.confident_wrong,
        easy_example_factor=first.easy_example_factor,
        easy_example_gradient_factor=first.easy_example_gradient_factor,
        properties=frozenset(props),
        declared=frozenset(spec.properties & CHECKED_PROPERTIES),
        data=tuple(data),
    )


def curve_data(
    loss: Any, n: int = 401, domain: tuple[float, float] | None = None, **params: Any
) -> tuple[CurveData, ...]:
    """Loss and autograd gradient on an ``n``-point grid along every curve of ``loss``.

    Args:
        loss: as for :func:`analyze`.
        n: grid points per curve (>= 2).
        domain: ``(lo, hi)`` instead of each curve's own domain (clipped to its extent).
        **params: hyperparameters, as for :func:`analyze` (a custom loss's hyperparameters
            named ``n`` or ``domain`` are shadowed by these arguments).

    Returns:
        One :class:`CurveData` per curve, primary first (float64 tensors, detached).

    Raises:
        LosscraftError: as for :func:`analyze`, or a bad ``n`` / ``domain``.

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
    spec, fn, hp = _resolve(loss, params, "curve_data")
    out = []
    for curve in _curves(spec, "curve_data"):
        lo, hi = domain if domain is not None else curve.domain
        lo, hi = max(float(lo), curve.extent[0]), min(float(hi), curve.extent[1])
        x = torch.linspace(lo, hi, n, dtype=_F64)
        v, g = _evaluate(fn, curve, x, hp)
        out.append(CurveData(_label(curve), curve.axis, x, v, g))
    return tuple(out)


# --------------------------------------------------------------------------- resolving the loss
def _resolve(
    loss: Any, params: dict[str, Any], caller: str
) -> tuple[LossSpec, Callable[..., Tensor], dict[str, Any]]:
    base: dict[str, Any] = {}
    spec: LossSpec | None = None
    fn: Callable[..., Tensor] | None = None
    if isinstance(loss, str):
        try:
            entry = get(loss)
        except LosscraftError as exc:  # "get: unknown loss 'hubber'; did you mean 'huber'? ..."
            raise LosscraftError(str(exc).replace("get:", f"{caller}:", 1)) from None
        spec, fn = entry.spec, entry.function
    elif isinstance(loss, LossEntry):
        spec, fn = loss.spec, loss.function
    elif isinstance(loss, LossModule):
        spec, fn = type(loss).spec, type(loss)._fn
        base = {k: v for k, v in loss.hparams.items() if k != "reduction"}
    elif isinstance(loss, type) and issubclass(loss, LossModule) and hasattr(loss, "spec"):
        spec, fn = loss.spec, loss._fn
    elif isinstance(getattr(loss, "spec", None), LossSpec) and callable(getattr(loss, "function", None)):
        spec, fn = loss.spec, loss.function  # a builder.CustomLoss
    elif callable(loss) and isinstance(getattr(loss, "__name__", None), str):
        try:
            entry = get(loss.__name__)
        except LosscraftError:
            entry = None
        if entry is not None and entry.function is loss:
            spec, fn = entry.spec, entry.function
    if spec is None or fn is None:
        raise LosscraftError(
            f"{caller}: 'loss' must be a registry name, a LossEntry, a loss Module instance or a "
            f"custom loss from losscraft.builder.custom_loss, got {type(loss).__name__}"
        )
    known = [p.name for p in spec.params]
    unknown = sorted(set(params) - set(known))
    if unknown:
        bad = unknown[0]
        close = difflib.get_close_matches(bad, known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        allowed = ", ".join(repr(k) for k in known) or "none"
        raise LosscraftError(
            f"{caller}: unknown hyperparameter {bad!r} for {spec.name}{hint} (expected some of: {allowed})"
        )
    hp = {p.name: p.default for p in spec.params}
    hp.update(base)
    hp.update(params)
    for p in spec.params:
        v = hp[p.name]
        if isinstance(p.domain, TensorDomain) and isinstance(v, (list, tuple)):
            with contextlib.suppress(TypeError, ValueError):
                v = torch.as_tensor(v, dtype=_F64)
        if isinstance(v, Tensor) and v.is_floating_point():
            v = v.detach().to(_F64).clone()
        hp[p.name] = v
    check_params(spec, hp)
    return spec, fn, hp


def _curves(spec: LossSpec, caller: str) -> tuple[Curve, ...]:
    if not spec.curves:
        raise LosscraftError(
            f"{caller}: loss {spec.name!r} has no Curve in its spec; there is nothing to analyse"
        )
    return spec.curves


def _params_for_report(spec: LossSpec, hp: dict[str, Any]) -> dict[str, Any]:
    return {p.name: p.domain.to_config(hp[p.name]) for p in spec.params}


def _label(curve: Curve) -> str:
    return curve.label or curve.axis


# --------------------------------------------------------------------------- evaluation
Evaluator = Callable[[Tensor], tuple[Tensor, Tensor]]


def _evaluate(
    fn: Callable[..., Tensor], curve: Curve, x: Tensor, hp: dict[str, Any]
) -> tuple[Tensor, Tensor]:
    """Loss and autograd gradient along ``curve`` at the points ``x`` (float64, detached)."""
    x = x.detach().to(_F64).clone().requires_grad_(True)
    v = curve.values(fn, x, **hp)
    if v.numel() != x.numel():
        shown = {k: v for k, v in hp.items() if not isinstance(v, Tensor)}
        raise LosscraftError(
            f"analyze: the curve of {fn.__name__} gives {v.numel()} loss values for {x.numel()} grid points "
            f"with hyperparameters {shown}; a curve needs one loss value per point, so the loss cannot be "
            "analysed with these hyperparameters"
        )
    v = v.to(_F64)
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


def _derivative(x: Tensor, g: Tensor) -> Tensor:
    """Finite-difference derivative of ``g`` along the last dim of the increasing grid ``x``.

    Central (secant over two intervals) at interior points, one-sided at the ends. Used for
    the second derivative: double backward is unavailable or slow for some torch ops.
    """
    d = torch.empty_like(g)
    d[..., 1:-1] = (g[..., 2:] - g[..., :-2]) / (x[..., 2:] - x[..., :-2])
    d[..., :1] = (g[..., 1:2] - g[..., :1]) / (x[..., 1:2] - x[..., :1])
    d[..., -1:] = (g[..., -1:] - g[..., -2:-1]) / (x[..., -1:] - x[..., -2:-1])
    return d


def _refined(coarse: Tensor, sub: int) -> Tensor:
    """Every interval of the increasing ``coarse`` grid split into ``sub`` equal parts."""
    a, b = coarse[:-1], coarse[1:]
    w = torch.arange(sub, dtype=_F64) / sub
    inner = (a[:, None] + (b - a)[:, None] * w[None, :]).reshape(-1)
    return torch.cat([inner, coarse[-1:]])


def _tail(start: float, stop: float, per_decade: int) -> list[float]:
    """Geometric distances from ``start`` to ``stop`` (both > 0), ``start`` excluded."""
    if start <= 0 or stop <= 0 or start == stop:
        return []
    decades = abs(math.log10(stop / start))
    k = max(2, math.ceil(decades * per_decade) + 1)
    pts = torch.logspace(math.log10(start), math.log10(stop), k, dtype=_F64).tolist()
    return [float(p) for p in pts[1:]]


def _coarse_grids(curve: Curve) -> tuple[Tensor, list[float], list[float]]:
    """The coarse domain grid and the tail nodes below / above it."""
    lo, hi = (float(v) for v in curve.domain)
    elo, ehi = (float(v) for v in curve.extent)
    n = GRID_POINTWISE if curve.pointwise else GRID
    per = TAIL_PER_DECADE_POINTWISE if curve.pointwise else TAIL_PER_DECADE
    dom = torch.linspace(lo, hi, n, dtype=_F64)
    z = float(curve.zero)
    finite_tails = not curve.pointwise  # pointwise curves are costly: domain and infinite ends only
    below: list[float] = []
    above: list[float] = []
    if math.isinf(elo):
        below = [z - d for d in _tail(max(z - lo, 1e-3), FAR, per)]
    elif finite_tails and lo - elo > 1.0 / FAR:
        below = [elo + d for d in _tail(lo - elo, 1.0 / FAR, per)]
    if math.isinf(ehi):
        above = [z + d for d in _tail(max(hi - z, 1e-3), FAR, per)]
    elif finite_tails and ehi - hi > 1.0 / FAR:
        above = [ehi - d for d in _tail(ehi - hi, 1.0 / FAR, per)]
    below = sorted(v for v in below if v < lo)
    above = sorted(v for v in above if v > hi)
    return dom, below, above


# --------------------------------------------------------------------------- jumps (smoothness)
@dataclass
class _Candidate:
    which: int  # 0 loss, 1 gradient, 2 second derivative
    a: float
    b: float
    jump: float
    grid: Tensor  # the grid it came from (for merging)


def _candidates(x: Tensor, f: Tensor, which: int) -> list[_Candidate]:
    """Two-step windows of the grid ``x`` where ``f`` changes by a jump rather than a slope.

    The change over a window of two steps, ``|f[j+2] - f[j]|``, is compared with the total
    variation over the ``2 * SUB`` steps around it: a smooth ``f`` changes by about
    ``2 / (2 * SUB)`` of it, a jump by nearly all of it. Two steps, because a jump that falls
    on a grid node, or a second-derivative step seen through a central difference, is shared
    by two neighbouring steps. Local maxima only; at most ``MAX_CANDIDATES``.
    """
    n = x.numel()
    if n < 3:
        return []
    steps = (f[1:] - f[:-1]).abs()
    steps = torch.where(torch.isfinite(steps), steps, torch.full_like(steps, math.inf))
    j2 = (f[2:] - f[:-2]).abs()
    csum = torch.cat([torch.zeros(1, dtype=_F64), torch.cumsum(torch.nan_to_num(steps, posinf=0.0), 0)])
    j = torch.arange(n - 2)
    lo = (j - SUB + 1).clamp(min=0)
    hi = (j + SUB + 1).clamp(max=n - 1)
    tv = csum[hi] - csum[lo]
    fabs = f.abs()
    local = torch.maximum(torch.maximum(fabs[:-2], fabs[1:-1]), fabs[2:])
    ok = (
        torch.isfinite(j2)
        & torch.isfinite(local)
        & (j2 > JUMP_RTOL * (1.0 + local))
        & (j2 >= JUMP_RATIO * tv)
    )
    left = torch.cat([torch.zeros(1, dtype=_F64), j2[:-1]])
    right = torch.cat([j2[1:], torch.zeros(1, dtype=_F64)])
    ok &= (j2 >= left) & (j2 > right)  # one window per jump
    idx = torch.nonzero(ok).flatten()
    if idx.numel() > MAX_CANDIDATES:
        idx = idx[j2[idx].argsort(descending=True)[:MAX_CANDIDATES]]
    return [_Candidate(which, float(x[i]), float(x[i + 2]), float(j2[i]), x) for i in idx.tolist()]


def _refine(cands: list[_Candidate], evaluate: Evaluator) -> list[list[tuple[float, float]]]:
    """Zoom into every candidate ``LEVELS`` times (one evaluation per level for all of them).

    Each level splits the window into ``SUB`` steps and keeps the two-step window with the
    largest change (5x narrower). A jump keeps its size, a smooth change shrinks 5x per
    level: a candidate is a jump when the last level kept at least ``JUMP_RATIO`` of the
    change and it stayed above the noise floor. Returns, per signal, merged
    ``(location, width)`` pairs.
    """
    found: list[list[tuple[float, float, Tensor]]] = [[], [], []]
    if not cands:
        return [[], [], []]
    a = torch.tensor([c.a for c in cands], dtype=_F64)
    b = torch.tensor([c.b for c in cands], dtype=_F64)
    jump = torch.tensor([c.jump for c in cands], dtype=_F64)
    which = torch.tensor([c.which for c in cands])
    alive = torch.ones(len(cands), dtype=torch.bool)
    ratio = torch.ones(len(cands), dtype=_F64)
    w = torch.linspace(0.0, 1.0, SUB + 1, dtype=_F64)
    rows = torch.arange(len(cands))
    for _ in range(LEVELS):
        pts = a[:, None] + (b - a)[:, None] * w[None, :]
        v, g = (sig.reshape(pts.shape) for sig in evaluate(pts.reshape(-1)))
        vals = torch.stack([v, g, _derivative(pts, g)])[which, rows]
        js = (vals[:, 2:] - vals[:, :-2]).abs()
        js = torch.where(torch.isfinite(js), js, torch.zeros_like(js))
        new, k = js.max(dim=1)
        scale = torch.maximum(vals[:, :-2].abs(), vals[:, 2:].abs()).gather(1, k[:, None]).squeeze(1)
        alive &= new > JUMP_RTOL * (1.0 + torch.nan_to_num(scale, nan=0.0, posinf=0.0))
        ratio = new / torch.clamp(jump, min=1e-300)
        a, b, jump = pts[rows, k], pts[rows, k + 2], new
    keep = alive & (ratio >= JUMP_RATIO)
    for i, c in enumerate(cands):
        if bool(keep[i]):
            found[c.which].append((float((a[i] + b[i]) / 2), float(b[i] - a[i]), c.grid))
    return [_merge(f) for f in found]


def _merge(found: list[tuple[float, float, Tensor]]) -> list[tuple[float, float]]:
    """Merge jumps closer than two local steps of their grid (a jump on a grid node)."""
    found.sort(key=lambda t: t[0])
    out: list[list[float]] = []
    for loc, w, x in found:
        i = int(torch.searchsorted(x, torch.tensor([loc], dtype=_F64)).clamp(1, x.numel() - 1))
        step = float(x[i] - x[i - 1])
        if out and loc - out[-1][0] <= 2.0 * step:
            n = out[-1][2]
            out[-1] = [(out[-1][0] * n + loc) / (n + 1), max(out[-1][1], w), n + 1]
        else:
            out.append([loc, w, 1.0])
    return [(v[0], v[1]) for v in out]


def _round(loc: float, width: float) -> float:
    digits = max(0, -math.floor(math.log10(max(width, 1e-15))) - 1)
    r = round(loc, digits)
    return 0.0 if r == 0 else r


# --------------------------------------------------------------------------- growth
def _classify(f: list[float]) -> tuple[str, float]:
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
        if s0 is not None and s1 is not None and s1 > 2.25 and s1 > s0 + 0.5:
            return "exponential", s1  # an accelerating slope anywhere: faster than any power
    if not sig[-1]:
        return "bounded", -math.inf
    if not sig[-2]:
        return "superlinear", math.inf  # growth starts only in the last decade: not resolved
    p = math.log10(d[-1] / d[-2])
    if 1.75 <= p < 2.25:
        return "quadratic", p
    if p < SLOPES[0][0]:
        return "bounded", p
    name = "superlinear"
    for threshold, cls in SLOPES:
        if p >= threshold:
            name = cls
    return name, p


def _end_growth(c: CurveAnalysis, what: str) -> tuple[str, float]:
    best = ("bounded", -math.inf)
    for end in c.ends.values():
        cls, p = end[f"{what}_growth"], end[f"{what}_exponent"]
        key = _growth_key(cls, p)
        if key > _growth_key(*best):
            best = (cls, p)
    return best


def _growth_key(cls: str, p: float | None) -> tuple[int, float]:
    rank = {"bounded": 0, "exponential": 2}.get(cls, 1)
    return rank, (p if p is not None and rank == 1 else 0.0)


def _fastest(items: list[tuple[str, float]]) -> str:
    return max(items, key=lambda t: _growth_key(*t))[0]


def _approach(curve: Curve, end: str) -> tuple[list[float], str]:
    """Decade points towards ``end`` (``"lower"``/``"upper"``) and the limit in words."""
    z = float(curve.zero)
    bound = float(curve.extent[0] if end == "lower" else curve.extent[1])
    sign = -1.0 if end == "lower" else 1.0
    if math.isinf(bound):
        return [z + sign * 10.0**k for k in range(-1, 7)], f"x -> {'-' if sign < 0 else '+'}inf"
    return [bound - sign * 10.0 ** (-k) for k in range(1, 7)], f"x -> {_g(bound)}"


# --------------------------------------------------------------------------- one curve
def _analyze_curve(
    spec: LossSpec, fn: Callable[..., Tensor], curve: Curve, hp: dict[str, Any]
) -> tuple[CurveAnalysis, CurveData]:
    def evaluate(x: Tensor) -> tuple[Tensor, Tensor]:
        return _evaluate(fn, curve, x, hp)

    z = float(curve.zero)
    lo, hi = (float(v) for v in curve.domain)
    dom, below, above = _coarse_grids(curve)
    # one evaluation on the refined grids: domain, and each tail joined to its domain end
    segs = [dom]
    infinite = [True]  # whether a segment reaches an infinite end (convexity is checked there)
    if below:
        segs.append(torch.tensor([*below, lo], dtype=_F64))
        infinite.append(math.isinf(curve.extent[0]))
    if above:
        segs.append(torch.tensor([hi, *above], dtype=_F64))
        infinite.append(math.isinf(curve.extent[1]))
    fine = [_refined(s, SUB) for s in segs]
    sizes = [f.numel() for f in fine]
    v_all, g_all = evaluate(torch.cat(fine))
    parts = [
        (v, g, _derivative(xs, g))
        for xs, v, g in zip(fine, torch.split(v_all, sizes), torch.split(g_all, sizes), strict=True)
    ]
    xd = fine[0]
    vd, gd, _ = parts[0]

    # value at zero, minimum, non-negativity (domain grid + tails)
    v0 = float(_evaluate(fn, curve, torch.tensor([z], dtype=_F64), hp)[0][0])
    finite_v = v_all[torch.isfinite(v_all)]
    minimum_at_zero = bool((finite_v >= v0 - 1e-12 * max(1.0, abs(v0))).all()) and math.isfinite(v0)
    nonnegative = bool((finite_v >= -1e-12).all()) and bool(torch.isfinite(vd).all())

    # symmetry about zero
    half = min(z - lo, hi - z)
    symmetric = False
    if half > 0:
        ns = 50 if curve.pointwise else 200
        t = torch.linspace(0.0, half, ns, dtype=_F64)
        vs = _evaluate(fn, curve, torch.cat([z - t, z + t]), hp)[0]
        symmetric = bool(torch.allclose(vs[:ns], vs[ns:], rtol=SYMMETRY_RTOL, atol=SYMMETRY_ATOL))
        if symmetric and math.isinf(curve.extent[0]) and math.isinf(curve.extent[1]):
            t = torch.tensor([10.0**k for k in range(-1, 7)], dtype=_F64)
            vs = _evaluate(fn, curve, torch.cat([z - t, z + t]), hp)[0]
            left, right = vs[: t.numel()], vs[t.numel() :]
            fin = torch.isfinite(left) & torch.isfinite(right)
            symmetric = bool(
                torch.allclose(left[fin], right[fin], rtol=SYMMETRY_RTOL, atol=SYMMETRY_ATOL)
            ) and bool((torch.isfinite(left) == torch.isfinite(right)).all())

    # convexity: 801-point domain grid (every 5th refined point), slopes on the tails
    v801 = vd[::5]
    d2 = v801[2:] - 2 * v801[1:-1] + v801[:-2]
    convex = bool((d2 >= -CONVEX_RTOL * max(1.0, float(v801.abs().max()))).all())
    for xs, (vs_, _, _), inf_end in zip(fine[1:], parts[1:], infinite[1:], strict=True):
        if not inf_end:  # near a finite end the curve's own geometry (eps, clamps) dominates
            continue
        fin = torch.isfinite(vs_)
        xs, vs_ = xs[fin], vs_[fin]
        if xs.numel() < 3:
            continue
        s = (vs_[1:] - vs_[:-1]) / (xs[1:] - xs[:-1])
        tol = CONVEX_RTOL * torch.clamp(torch.maximum(s[1:].abs(), s[:-1].abs()), min=1.0)
        convex &= bool((s[1:] - s[:-1] >= -tol).all())

    # smoothness: jumps of the loss, the gradient and the second derivative
    cands = [
        c for xs, sig in zip(fine, parts, strict=True) for w in range(3) for c in _candidates(xs, sig[w], w)
    ]
    jumps = _refine(cands, evaluate)
    width = hi - lo
    near = 1e-4 * width

    def locs(items: list[tuple[float, float]]) -> tuple[float, ...]:
        return tuple(sorted({_round(loc, w) for loc, w in items}))

    disc, kinks = jumps[0], jumps[1]
    kink_locs = [loc for loc, _ in disc + kinks]
    curv = [(loc, w) for loc, w in jumps[2] if all(abs(loc - k) > 2 * max(w, near) for k in kink_locs)]
    smoothness = "discontinuous" if disc else "C0" if kinks else "C1" if curv else "C2"
    at_zero = (
        "discontinuous"
        if any(abs(loc - z) <= near for loc, _ in disc)
        else "C0"
        if any(abs(loc - z) <= near for loc, _ in kinks)
        else "C1"
        if any(abs(loc - z) <= near for loc, _ in curv)
        else "C2"
    )

    # growth towards each end of the extent
    ends: dict[str, dict[str, Any]] = {}
    gmax = float(torch.nan_to_num(g_all.abs(), nan=math.inf).max())
    gradient_finite = bool(torch.isfinite(g_all).all())
    for end in ("lower", "upper"):
        pts, limit = _approach(curve, end)
        v, g = _evaluate(fn, curve, torch.tensor(pts, dtype=_F64), hp)
        lg, lp = _classify(v.tolist())
        gg, gp = _classify(g.abs().tolist())
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
    loss_growth = _fastest([(e["loss_growth"], e["loss_exponent"]) for e in ends.values()])
    gradient_growth = _fastest([(e["gradient_growth"], e["gradient_exponent"]) for e in ends.values()])

    confident = _confident_wrong(fn, curve, hp, ends) if curve.axis in ("logit", "probability") else None
    easy, easy_g = _easy_example(fn, curve, hp) if _classification_like(spec, curve) else (None, None)

    ca = CurveAnalysis(
        label=_label(curve),
        axis=curve.axis,
        domain=(lo, hi),
        zero=z,
        minimum_at_zero=minimum_at_zero,
        loss_at_zero=v0,
        symmetric=symmetric,
        nonnegative=nonnegative,
        convex=convex,
        loss_growth=loss_growth,
        gradient_growth=gradient_growth,
        bounded_gradient=bounded_gradient,
        gradient_bound=gmax if bounded_gradient else None,
        smoothness=smoothness,
        smoothness_at_zero=at_zero,
        kinks=locs(kinks),
        curvature_kinks=locs(curv),
        discontinuities=locs(disc),
        ends=ends,
        confident_wrong=confident,
        easy_example_factor=easy,
        easy_example_gradient_factor=easy_g,
    )
    n_plot = GRID_POINTWISE if curve.pointwise else GRID
    step = (xd.numel() - 1) // (n_plot - 1)
    cd = CurveData(_label(curve), curve.axis, xd[::step].clone(), vd[::step].clone(), gd[::step].clone())
    return ca, cd


def _confident_wrong(
    fn: Callable[..., Tensor], curve: Curve, hp: dict[str, Any], ends: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    z = float(curve.zero)
    if curve.axis == "logit":
        probe = torch.tensor([z - WRONG_LOGITS[0], z + WRONG_LOGITS[0]], dtype=_F64)
    else:
        lo, hi = (float(v) for v in curve.extent)
        probe = torch.tensor([lo + WRONG_PROBABILITIES[0], hi - WRONG_PROBABILITIES[0]], dtype=_F64)
    pv = _evaluate(fn, curve, probe, hp)[0]
    end = "upper" if float(pv[1]) > float(pv[0]) else "lower"
    sign = 1.0 if end == "upper" else -1.0
    if curve.axis == "logit":
        xs = [z + sign * d for d in WRONG_LOGITS]
    else:
        bound = float(curve.extent[1] if end == "upper" else curve.extent[0])
        xs = [bound - sign * d for d in WRONG_PROBABILITIES]
    v, g = _evaluate(fn, curve, torch.tensor(xs, dtype=_F64), hp)
    e = ends[end]
    return {
        "direction": e["limit"],
        "x": xs,
        "loss": v.tolist(),
        "gradient": g.tolist(),
        "loss_growth": e["loss_growth"],
        "gradient_growth": e["gradient_growth"],
        "loss_bounded": e["loss_growth"] == "bounded",
        "gradient_bounded": e["gradient_growth"] == "bounded" and bool(torch.isfinite(g).all()),
    }


def _classification_like(spec: LossSpec, curve: Curve) -> bool:
    """Logit curves of classification losses (and of focal-type or custom logit losses)."""
    if curve.axis != "logit":
        return False
    if Property.DOWNWEIGHTS_EASY in spec.properties:
        return True
    return spec.family in (Family.CLASSIFICATION, Family.REGRESSION)  # regression: custom logit losses


def _reference(curve: Curve, hp: dict[str, Any]) -> Callable[[Tensor], Tensor] | None:
    """Plain BCE-with-logits / cross-entropy along ``curve`` (``None`` when neither fits)."""
    from .functional import bce_with_logits_loss, cross_entropy_loss

    probe = torch.zeros(1, dtype=_F64)
    try:
        call = curve.make(probe, **hp) if not curve.pointwise else curve.make(probe[0], **hp)
    except Exception:  # a curve that needs its own loss's hyperparameters: no reference
        return None
    if len(call.args) != 2:
        return None
    inp, tgt = call.args
    if tgt.is_floating_point() and tgt.shape == inp.shape:
        ref: Callable[..., Tensor] = bce_with_logits_loss
    elif not tgt.is_floating_point() and inp.dim() >= 2 and tgt.shape == (inp.shape[0], *inp.shape[2:]):
        ref = cross_entropy_loss
    else:
        return None

    def along(x: Tensor) -> Tensor:
        out = []
        for xi in x.reshape(-1).unbind(0) if curve.pointwise else [x]:
            c = curve.make(xi, **hp)
            out.append(ref(*c.args, reduction="none").reshape(-1)[: 1 if curve.pointwise else None])
        return torch.cat(out)

    try:
        v = along(torch.tensor([-1.0, 0.0, 1.0], dtype=_F64))
    except (LosscraftError, RuntimeError):
        return None
    return along if v.numel() == 3 else None


def _easy_example(
    fn: Callable[..., Tensor], curve: Curve, hp: dict[str, Any]
) -> tuple[float | None, float | None]:
    ref = _reference(curve, hp)
    if ref is None:
        return None, None
    target = -math.log(EASY_PT)  # CE at p_t = 0.9
    xs = torch.linspace(-50.0, 50.0, 1001, dtype=_F64) + float(curve.zero)
    with torch.no_grad():
        ce = ref(xs)
    diff = ce - target
    sign_change = torch.nonzero((diff[:-1] * diff[1:] <= 0) & torch.isfinite(diff[:-1] * diff[1:])).flatten()
    if sign_change.numel() == 0:
        return None, None
    i = int(sign_change[0])
    a, b = float(xs[i]), float(xs[i + 1])
    fa = float(diff[i])
    for _ in range(200):  # bisection to machine precision
        m = 0.5 * (a + b)
        with torch.no_grad():
            fm = float(ref(torch.tensor([m], dtype=_F64))[0]) - target
        if (fm <= 0) == (fa <= 0):
            a, fa = m, fm
        else:
            b = m
        if b - a <= 1e-15 * max(1.0, abs(m)):
            break
    x_e = torch.tensor([0.5 * (a + b)], dtype=_F64)
    v, g = _evaluate(fn, curve, x_e, hp)
    xr = x_e.clone().requires_grad_(True)
    r = ref(xr)
    (gr,) = torch.autograd.grad(r.sum(), xr)
    loss_ratio = float(v[0] / r.detach()[0]) + 0.0  # + 0.0: no "-0.0"
    grad_ratio = float(g[0] / gr[0]) + 0.0 if float(gr[0]) != 0 else None
    return loss_ratio, grad_ratio


# --------------------------------------------------------------------------- sample-based checks
def _sample_call(spec: LossSpec, n: int, seed: int, hp: dict[str, Any]) -> Any:
    g = torch.Generator().manual_seed(seed)
    return spec.sample(n, generator=g, dtype=_F64, **hp)


def _scale_invariant(spec: LossSpec, fn: Callable[..., Tensor], hp: dict[str, Any]) -> bool:
    c = _sample_call(spec, 6, 3, hp)
    kw = {**hp, **c.kwargs}
    base = fn(*c.args, reduction="none", **kw)
    for s in (0.37, 5.3):
        out = fn(c.args[0] * s, *c.args[1:], reduction="none", **kw)
        if not torch.allclose(out, base, rtol=1e-9, atol=1e-12):
            return False
    return True


def _nonnegative_on_samples(spec: LossSpec, fn: Callable[..., Tensor], hp: dict[str, Any]) -> bool:
    for seed in range(3):
        c = _sample_call(spec, 8, seed, hp)
        if not bool((fn(*c.args, reduction="none", **{**hp, **c.kwargs}) >= -1e-12).all()):
            return False
    return True


# --------------------------------------------------------------------------- text helpers
_SMOOTH_ORDER = ("discontinuous", "C0", "C1", "C2")


def _g(v: float | None) -> str:
    if v is None:
        return "-"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.4g}"


def _yes(b: bool | None) -> str:
    return "n/a" if b is None else "yes" if b else "no"


def _growth_text(c: CurveAnalysis, what: str) -> str:
    parts = [f"{e['limit']}: {e[f'{what}_growth']}" for e in c.ends.values()]
    return f"{getattr(c, f'{what}_growth')} ({'; '.join(parts)})"


def _smooth_text(c: CurveAnalysis) -> str:
    bits = []
    if c.discontinuities:
        bits.append("loss jumps at " + ", ".join(_g(v) for v in c.discontinuities))
    if c.kinks:
        bits.append("kinks at " + ", ".join(_g(v) for v in c.kinks))
    if c.curvature_kinks:
        bits.append("curvature jumps at " + ", ".join(_g(v) for v in c.curvature_kinks))
    return c.smoothness + (f" ({'; '.join(bits)})" if bits else "")


def _wrong_text(c: CurveAnalysis) -> str:
    w = c.confident_wrong
    if w is None:
        return "n/a"
    pts = ", ".join(f"{_g(x)}: {_g(v)}" for x, v in zip(w["x"], w["loss"], strict=True))
    return f"{w['direction']}: loss {w['loss_growth']} ({pts}), gradient {w['gradient_growth']}"


def _floats(t: Tensor) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in t.detach().to(_F64).tolist()]


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Tensor):
        return _jsonable(obj.detach().cpu().tolist())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, (bool, int, str)) or obj is None:
        return obj
    return str(obj)
