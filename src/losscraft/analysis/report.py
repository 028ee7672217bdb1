"""The top of the analysis: :func:`analyze` measures every curve and returns an :class:`AnalysisReport`.

The report combines the curves (growth: the fastest; smoothness: the least smooth; the
properties: holding on every curve), renders a plain-text table and converts to JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .._core.spec import CHECKED_PROPERTIES, Property
from .curve import CurveAnalysis, analyse_curve
from .grids import CurveData
from .growth import end_growth, fastest
from .properties import measured_properties
from .resolve import curves, params_for_report, resolve
from .smoothness import SMOOTH_ORDER
from .text import fmt, jsonable


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
        result: dict[str, Any] = jsonable(out)
        return result

    def rows(self) -> list[tuple[str, ...]]:
        """The table's rows: a measure, then one value per curve (a single value for one curve)."""
        cs = self.per_curve
        rows: list[tuple[str, ...]] = []

        def row(label: str, fn: Callable[[CurveAnalysis], str]) -> None:
            rows.append((label, *(fn(c) for c in cs)))

        row(
            "minimum at zero",
            lambda c: f"{_yes(c.minimum_at_zero)} (loss {fmt(c.loss_at_zero)} at {fmt(c.zero)})",
        )
        row("symmetric", lambda c: _yes(c.symmetric))
        row("non-negative", lambda c: _yes(c.nonnegative))
        row("convex", lambda c: _yes(c.convex))
        row("loss growth", lambda c: _growth_text(c, "loss"))
        row("gradient growth", lambda c: _growth_text(c, "gradient"))
        row(
            "bounded gradient",
            lambda c: f"yes, |grad| <= {fmt(c.gradient_bound)}" if c.bounded_gradient else "no",
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
                    else f"loss x{fmt(c.easy_example_factor)}, grad x{fmt(c.easy_example_gradient_factor)} vs CE"
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
        head = f"{self.name}({hp}) -- {self.family}, {self.axis} axis, domain [{fmt(lo)}, {fmt(hi)}]"
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
        JSON-serialisable. Definitions: docs/understanding-losses.md ("How the measurements
        are made"); thresholds: :mod:`losscraft.analysis.thresholds`.

    Raises:
        LosscraftError: an unknown loss (the message suggests the closest names), an unknown
            hyperparameter, a value outside its domain, or a loss without a curve.

    Examples:
        >>> import losscraft
        >>> r = losscraft.analyze("mae")
        >>> r.gradient_growth, r.gradient_bound, r.smoothness, r.kinks
        ('bounded', 1.0, 'C0', (0.0,))
    """
    spec, fn, hp = resolve(loss, params, "analyze")
    spec_curves = curves(spec, "analyze")
    per_curve = []
    data = []
    for curve in spec_curves:
        ca, cd = analyse_curve(spec, fn, curve, hp)
        per_curve.append(ca)
        data.append(cd)
    props = measured_properties(spec, fn, hp, per_curve)
    first = per_curve[0]
    bounded = all(c.bounded_gradient for c in per_curve)
    return AnalysisReport(
        name=spec.name,
        params=params_for_report(spec, hp),
        family=str(spec.family),
        axis=spec_curves[0].axis,
        domain=(float(spec_curves[0].domain[0]), float(spec_curves[0].domain[1])),
        curves=tuple(c.label for c in per_curve),
        per_curve=tuple(per_curve),
        minimum_at_zero=all(c.minimum_at_zero for c in per_curve),
        symmetric=all(c.symmetric for c in per_curve),
        nonnegative=Property.NONNEGATIVE in props,
        loss_growth=fastest([end_growth(c.ends, "loss") for c in per_curve]),
        gradient_growth=fastest([end_growth(c.ends, "gradient") for c in per_curve]),
        bounded_gradient=bounded,
        gradient_bound=max(float(c.gradient_bound or 0.0) for c in per_curve) if bounded else None,
        smoothness=min((c.smoothness for c in per_curve), key=SMOOTH_ORDER.index),
        smoothness_at_zero=min((c.smoothness_at_zero for c in per_curve), key=SMOOTH_ORDER.index),
        kinks=first.kinks,
        curvature_kinks=first.curvature_kinks,
        convex=all(c.convex for c in per_curve),
        confident_wrong=first.confident_wrong,
        easy_example_factor=first.easy_example_factor,
        easy_example_gradient_factor=first.easy_example_gradient_factor,
        properties=props,
        declared=frozenset(spec.properties & CHECKED_PROPERTIES),
        data=tuple(data),
    )


# --------------------------------------------------------------------------- text of the table
def _yes(b: bool | None) -> str:
    return "n/a" if b is None else "yes" if b else "no"


def _growth_text(c: CurveAnalysis, what: str) -> str:
    parts = [f"{e['limit']}: {e[f'{what}_growth']}" for e in c.ends.values()]
    return f"{getattr(c, f'{what}_growth')} ({'; '.join(parts)})"


def _smooth_text(c: CurveAnalysis) -> str:
    bits = []
    if c.discontinuities:
        bits.append("loss jumps at " + ", ".join(fmt(v) for v in c.discontinuities))
    if c.kinks:
        bits.append("kinks at " + ", ".join(fmt(v) for v in c.kinks))
    if c.curvature_kinks:
        bits.append("curvature jumps at " + ", ".join(fmt(v) for v in c.curvature_kinks))
    return c.smoothness + (f" ({'; '.join(bits)})" if bits else "")


def _wrong_text(c: CurveAnalysis) -> str:
    w = c.confident_wrong
    if w is None:
        return "n/a"
    pts = ", ".join(f"{fmt(x)}: {fmt(v)}" for x, v in zip(w["x"], w["loss"], strict=True))
    return f"{w['direction']}: loss {w['loss_growth']} ({pts}), gradient {w['gradient_growth']}"
