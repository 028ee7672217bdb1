r"""Loss and gradient curves: :func:`plot` (``losscraft.plot``).

Every loss's :class:`~losscraft.LossSpec` carries one or more :class:`~losscraft._core.spec.Curve`
slices: a 1-D grid of residuals, logits, probabilities, distances or cosines mapped to inputs
whose unreduced loss has one value per grid point. :func:`plot` evaluates the loss along those
slices in float64 and differentiates it with autograd, so what you see is exactly what the
library computes, for built-in and custom losses alike.

Needs matplotlib (``pip install 'losscraft[plot]'``); it is imported on the first call, never
by ``import losscraft``. Works headless (the Agg backend) and in notebooks.

    >>> import losscraft
    >>> fig, axes = losscraft.plot(["mse", "mae", "huber", "log_cosh"])  # doctest: +SKIP
    >>> fig, axes = losscraft.plot("binary_focal", sweep={"gamma": [0, 1, 2, 5]}, save="focal.png")  # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ._core.checks import check_params
from ._core.errors import LosscraftError
from ._core.module import LossModule
from ._core.registry import LossEntry, get
from ._core.spec import Curve, FloatSeq, LossSpec, TensorDomain

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "AXIS_LABELS",
    "CurveLine",
    "axis_label",
    "check_save",
    "curve_lines",
    "draw",
    "evaluate_curve",
    "mathtext",
    "plot",
    "require_matplotlib",
    "resolve_loss",
    "title_for",
]

INSTALL_HINT = "pip install 'losscraft[plot]'"

#: What the x axis of a curve is, by ``Curve.axis`` (symbol used in the gradient label, long label).
AXIS_LABELS: dict[str, tuple[str, str]] = {
    "residual": ("r", r"residual $r = \hat{y} - y$"),
    "logit": ("z", r"logit $z$ of the target class"),
    "log_rate": (r"\eta", r"log-rate $\eta = \log\hat\lambda$"),
    "probability": ("p", r"predicted probability $p$ of the target class"),
    "margin": ("x", r"achieved margin $x = d(a, n) - d(a, p)$"),
    "distance": ("d", r"distance $d$ between the embeddings"),
    "cosine": (r"\cos\theta", r"cosine similarity $\cos\theta$ to the target"),
    "angle": (r"\theta", r"angle $\theta$ between the embeddings (radians)"),
}


def axis_label(curve: Curve) -> tuple[str, str]:
    """``(symbol, long label)`` for a curve's x axis.

    Curves on the ``"cosine"`` axis whose domain leaves [-1, 1] are parametrised by the angle
    (``cosine_similarity``, ``cosine_embedding``) and are labelled as such.
    """
    key: str = curve.axis
    if key == "cosine" and (curve.domain[0] < -1.0 or curve.domain[1] > 1.0):
        key = "angle"
    return AXIS_LABELS.get(key, ("x", key))


# --------------------------------------------------------------------------- resolving a loss
@dataclass(frozen=True)
class _Loss:
    name: str
    spec: LossSpec
    function: Callable[..., torch.Tensor]
    params: dict[str, Any]  # every hyperparameter (defaults filled), no "reduction"

    @property
    def params0(self) -> dict[str, Any]:
        return _defaults(self.spec)


def resolve_loss(
    loss: Any, caller: str = "plot"
) -> tuple[str, LossSpec, Callable[..., torch.Tensor], dict[str, Any]]:
    """``(name, spec, function, hyperparameters)`` for anything ``plot`` accepts.

    Args:
        loss: a registry name or alias, a :class:`~losscraft.LossEntry`, a loss Module instance
            (its hyperparameters are used) or a :class:`~losscraft.builder.CustomLoss`.
        caller: function name used in error messages.

    Raises:
        LosscraftError: an unknown name or an object that is not a loss.
    """
    if isinstance(loss, str):
        entry = get(loss)
        return entry.name, entry.spec, entry.function, dict(_defaults(entry.spec))
    if isinstance(loss, LossEntry):
        return loss.name, loss.spec, loss.function, dict(_defaults(loss.spec))
    if isinstance(loss, LossModule):
        spec = type(loss).spec
        hp = {k: v for k, v in loss.hparams.items() if k != "reduction"}
        return spec.name, spec, type(loss)._fn, {**_defaults(spec), **hp}
    custom_spec = getattr(loss, "spec", None)
    function = getattr(loss, "function", None)
    if isinstance(custom_spec, LossSpec) and callable(function):  # CustomLoss (builder)
        return custom_spec.name, custom_spec, function, dict(_defaults(custom_spec))
    raise LosscraftError(
        f"{caller}: 'loss' must be a loss name, a LossEntry, a loss Module or a custom loss, "
        f"got {type(loss).__name__}"
    )


def _defaults(spec: LossSpec) -> dict[str, Any]:
    return {p.name: p.default for p in spec.params}


def _coerce(spec: LossSpec, name: str, value: Any) -> Any:
    """Lists for tensor hyperparameters become float64 tensors; sequences for FloatSeq, lists."""
    p = spec.param(name)
    if isinstance(p.domain, TensorDomain) and isinstance(value, (list, tuple)):
        try:
            return torch.tensor([float(v) for v in value], dtype=torch.float64)
        except (TypeError, ValueError):
            return value
    if isinstance(p.domain, FloatSeq) and isinstance(value, tuple):
        return list(value)
    return value


def _apply(caller: str, spec: LossSpec, base: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    names = [p.name for p in spec.params]
    for k in overrides:
        if k not in names:
            have = ", ".join(names) if names else "none"
            raise LosscraftError(
                f"{caller}: {spec.name!r} has no hyperparameter {k!r} (its hyperparameters: {have})"
            )
    fixed = {k: _coerce(spec, k, v) for k, v in overrides.items()}
    check_params(spec, fixed)
    return {**base, **fixed}


# --------------------------------------------------------------------------- curve data
@dataclass(frozen=True)
class CurveLine:
    """One line of a plot: a loss along one of its curves, at fixed hyperparameters.

    Attributes:
        loss: registry name of the loss.
        spec: its spec.
        curve: the curve (``curve.label`` names the branch of multi-branch losses).
        params: the hyperparameters used (defaults filled).
        label: legend label.
        x: grid (float64, 1-D).
        value: unreduced loss at each grid point.
        gradient: d loss / d x at each grid point (autograd).
        group: ``(loss index, hyperparameter setting index, branch index)``: colours and line styles.
    """

    loss: str
    spec: LossSpec
    curve: Curve
    params: dict[str, Any]
    label: str
    x: torch.Tensor
    value: torch.Tensor
    gradient: torch.Tensor
    group: tuple[int, int, int]


def evaluate_curve(
    function: Callable[..., torch.Tensor],
    curve: Curve,
    params: Mapping[str, Any],
    *,
    n: int = 401,
    domain: tuple[float, float] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(x, loss, d loss / d x)`` along ``curve`` in float64 (``n`` points; fewer for pointwise curves)."""
    lo, hi = domain if domain is not None else curve.domain
    if curve.pointwise:  # one small problem per point
        n = max(41, n // 8)
    x = torch.linspace(lo, hi, n, dtype=torch.float64, requires_grad=True)
    v = curve.values(function, x, **params)
    if v.numel() != n:
        raise LosscraftError(f"plot: the curve of {function.__name__} gave {v.numel()} values for {n} points")
    (g,) = torch.autograd.grad(v.sum(), x, allow_unused=True) if v.requires_grad else (None,)
    grad = torch.zeros_like(x) if g is None else g
    return x.detach(), v.detach(), grad.detach()


def _fmt_value(v: Any) -> str:
    if isinstance(v, float):
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return f"{v:g}"
    if isinstance(v, torch.Tensor):
        return "[" + ", ".join(f"{float(t):g}" for t in v.reshape(-1).tolist()) + "]"
    return str(v)


def _check_domain(caller: str, name: str, curve: Curve, domain: tuple[float, float]) -> None:
    lo, hi = domain
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise LosscraftError(f"{caller}: 'domain' must be two finite numbers lo < hi, got {domain!r}")
    a, b = curve.extent
    if lo < a or hi > b:
        raise LosscraftError(
            f"{caller}: 'domain' {domain!r} leaves the valid range [{_fmt_value(float(a))}, "
            f"{_fmt_value(float(b))}] of {name!r}'s {curve.axis} axis"
        )


def curve_lines(
    losses: Any,
    params: Mapping[str, Any] | None = None,
    sweep: Mapping[str, Sequence[Any]] | None = None,
    domain: tuple[float, float] | None = None,
    *,
    n: int = 401,
    caller: str = "plot",
) -> list[CurveLine]:
    """The lines :func:`plot` draws, without matplotlib: one per loss x sweep setting x branch.

    See :func:`plot` for the arguments.

    Raises:
        LosscraftError: unknown loss or hyperparameter, a value outside its domain, an empty
            sweep, or a ``domain`` outside a curve's valid range.
    """
    items = list(losses) if isinstance(losses, (list, tuple)) else [losses]
    if not items:
        raise LosscraftError(f"{caller}: 'losses' must name at least one loss, got an empty sequence")
    resolved = [_Loss(*resolve_loss(item, caller)) for item in items]
    names = [r.name for r in resolved]
    params = dict(params or {})
    sweep = {k: list(v) for k, v in (sweep or {}).items()}
    for k, values in sweep.items():
        if isinstance(values, str) or not values:
            raise LosscraftError(
                f"{caller}: sweep over {k!r} needs a non-empty list of values, got {values!r}"
            )
    per_loss = bool(params) and all(isinstance(v, Mapping) for v in params.values())
    if per_loss:
        unknown = sorted(set(params) - set(names))
        if unknown:
            raise LosscraftError(
                f"{caller}: 'params' is keyed by loss name but {unknown} are not among the plotted losses {names}"
            )
    else:
        _check_shared(caller, resolved, params, "params")
    _check_shared(caller, resolved, sweep, "sweep")

    multi = len(resolved) > 1
    lines: list[CurveLine] = []
    for li, r in enumerate(resolved):
        own = dict(params.get(r.name, {})) if per_loss else {k: v for k, v in params.items() if _has(r, k)}
        own_sweep = {k: v for k, v in sweep.items() if _has(r, k)}
        base = _apply(caller, r.spec, r.params, own)
        curves = r.spec.curves
        if not curves:
            raise LosscraftError(f"{caller}: {r.name!r} has no curve to plot")
        keys = list(own_sweep)
        # the same loss twice (e.g. two Modules): name the settings that tell them apart
        shown = [
            k for k in base if k not in keys and names.count(r.name) > 1 and _differs(base[k], r.params0[k])
        ]
        for si, combo in enumerate(itertools.product(*own_sweep.values()) if keys else [()]):
            setting = dict(zip(keys, combo, strict=True))
            hp = _apply(caller, r.spec, base, setting)
            for bi, curve in enumerate(curves):
                if domain is not None:
                    _check_domain(caller, r.name, curve, domain)
                x, v, g = evaluate_curve(r.function, curve, hp, n=n, domain=domain)
                extras = []
                if shown:
                    extras.append(", ".join(f"{k}={_fmt_value(hp[k])}" for k in shown))
                if keys:
                    extras.append(", ".join(f"{k}={_fmt_value(hp[k])}" for k in keys))
                if len(curves) > 1:
                    extras.append(curve.label or f"curve {bi + 1}")
                if multi or not extras:
                    label = r.name + (f" ({'; '.join(extras)})" if extras else "")
                else:
                    label = "; ".join(extras)
                lines.append(CurveLine(r.name, r.spec, curve, hp, label, x, v, g, (li, si, bi)))
    return lines


def _differs(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return not (
            isinstance(a, torch.Tensor)
            and isinstance(b, torch.Tensor)
            and a.shape == b.shape
            and bool((a == b).all())
        )
    return bool(a != b)


def _has(r: _Loss, key: str) -> bool:
    return any(p.name == key for p in r.spec.params)


def _check_shared(caller: str, resolved: list[_Loss], mapping: Mapping[str, Any], what: str) -> None:
    for k in mapping:
        if not any(_has(r, k) for r in resolved):
            have = sorted({p.name for r in resolved for p in r.spec.params})
            names = ", ".join(repr(r.name) for r in resolved)
            verb = "has" if len(resolved) == 1 else "have"
            raise LosscraftError(
                f"{caller}: {names} {verb} no hyperparameter {k!r} given in '{what}' "
                f"(hyperparameters: {', '.join(have) if have else 'none'})"
            )


# --------------------------------------------------------------------------- titles
_SUBS = (
    (r"\bigl", ""),
    (r"\bigr", ""),
    (r"\Bigl", ""),
    (r"\Bigr", ""),
    (r"\big", ""),
    (r"\Big", ""),
    (r"\tfrac", r"\frac"),
    (r"\dfrac", r"\frac"),
    (r"\lvert", "|"),
    (r"\rvert", "|"),
    (r"\lVert", r"\|"),
    (r"\rVert", r"\|"),
    (r"\!", ""),
    (r"\mathbb 1", r"\mathbf{1}"),
)


def mathtext(latex: str) -> str:
    r"""Translate the LaTeX of a spec formula into matplotlib mathtext (without the ``$``).

    mathtext lacks ``cases``, ``\tfrac``, ``\bigl``, ``\le`` and a few more; they become
    ``\{a\quad\mathrm{if}\; c;\ ...\}``, ``\frac``, nothing and ``\leq``.

    >>> mathtext(r"\tfrac12 r^2 \le \lvert r \rvert")
    '\\frac{1}{2} r^2 \\leq | r |'
    """

    def cases(m: re.Match[str]) -> str:
        rows = [row.strip() for row in m.group(1).split(r"\\") if row.strip()]
        out = []
        for row in rows:
            expr, _, cond = row.partition("&")
            out.append(f"{expr.strip()}\\quad \\mathrm{{if}}\\; {cond.strip()}" if cond else expr.strip())
        return r"\{" + r";\ ".join(out) + r"\}"

    f = re.sub(r"\\begin\{cases\}(.*?)\\end\{cases\}", cases, latex, flags=re.S)
    f = re.sub(r"\\text\{([^}]*)\}", lambda m: r"\mathrm{" + m.group(1).replace(" ", r"\ ") + "}", f)
    for a, b in _SUBS:
        f = f.replace(a, b)
    f = re.sub(r"\\(le|ge)(?![A-Za-z])", r"\\\1q", f)
    f = re.sub(r"\\frac(\d)(\d)", r"\\frac{\1}{\2}", f)
    return f.strip()


def title_for(spec: LossSpec, *, fontsize: float = 12.0, max_width_pt: float | None = None) -> str:
    """``"name:  $formula$"`` if the formula renders in mathtext (and fits), else ``"name"``.

    Args:
        spec: the loss's spec.
        fontsize: font size the title is drawn at.
        max_width_pt: drop the formula when it is wider than this (points).
    """
    from matplotlib.font_manager import FontProperties
    from matplotlib.mathtext import MathTextParser

    if not spec.formula or spec.formula.startswith("(custom"):
        return spec.name
    text = f"${mathtext(spec.formula)}$"
    try:
        width = MathTextParser("path").parse(text, dpi=72, prop=FontProperties(size=fontsize)).width
    except Exception:  # mathtext raises ValueError (and others) for unsupported LaTeX
        return spec.name
    if max_width_pt is not None and width > max_width_pt:
        return spec.name
    return f"{spec.name}:  {text}"


# --------------------------------------------------------------------------- plot
def require_matplotlib() -> Any:
    """``matplotlib.pyplot``, or an ImportError with the ``[plot]`` extra's install hint."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - matplotlib is a dev dependency
        raise ImportError(f"losscraft.plot needs matplotlib: {INSTALL_HINT}") from exc
    return plt


_STYLES = ("-", "--", ":", "-.")


def plot(
    losses: Any,
    params: Mapping[str, Any] | None = None,
    sweep: Mapping[str, Sequence[Any]] | None = None,
    domain: tuple[float, float] | None = None,
    grad: bool = True,
    ax: Any = None,
    save: str | PathLike[str] | None = None,
    *,
    n: int = 401,
    title: str | None = None,
) -> tuple[Figure, Any]:
    r"""Plot losses and their gradients along each loss's curve.

    Each loss is evaluated (``reduction="none"``, float64) on the 1-D slice its spec declares:
    residual ``r = ŷ - y`` for regression, the target class's logit for classification, a
    distance, margin or cosine for embeddings. The gradient ``d loss / d x`` comes from autograd.
    Losses whose curves share an axis kind are drawn together; different kinds get one row each.
    Multi-branch losses (e.g. similar / dissimilar pairs) draw each branch, labelled and dashed.

    Args:
        losses: one loss or a list: registry names/aliases, :class:`~losscraft.LossEntry`,
            loss Module instances (their hyperparameters are used) or
            :class:`~losscraft.builder.CustomLoss`.
        params: hyperparameters, either ``{"delta": 2.0}`` (applied to every plotted loss that
            has that hyperparameter; at least one must) or keyed by loss name
            (``{"huber": {"delta": 2.0}, "cauchy": {"scale": 0.5}}``). Lists are accepted for
            tensor hyperparameters (class weights).
        sweep: ``{"gamma": [0, 1, 2]}``: one line per value (per combination if several keys)
            for each loss that has the hyperparameter.
        domain: ``(lo, hi)`` x range for every curve; default each curve's own domain.
        grad: also draw the gradient panel (right).
        ax: draw into existing Axes instead of a new figure: one Axes (``grad=False``) or a
            pair ``(loss_ax, grad_ax)``.
        save: write the figure to this path (``.png``, ``.svg`` or ``.pdf``; 100 dpi).
        n: grid points per curve (pointwise curves use ``n // 8``).
        title: figure title; default the loss name with its formula (mathtext) for a single
            loss, or the names.

    Returns:
        ``(fig, axes)``: ``axes`` is an array of Axes of shape ``(rows, 2)`` with ``grad``,
        ``(rows,)`` without, squeezed like ``plt.subplots`` (one row with ``grad`` gives
        ``[loss_ax, grad_ax]``; one row without gives a single Axes). With ``ax`` given,
        ``axes`` is what was passed.

    Raises:
        LosscraftError: unknown loss or hyperparameter, a value outside its domain, a bad
            ``domain``, ``ax`` or ``save`` path.
        ImportError: matplotlib is not installed (``pip install 'losscraft[plot]'``).

    Examples:
        >>> fig, axes = plot(["mse", "mae", "huber", "log_cosh"])  # doctest: +SKIP
        >>> [len(a.get_lines()) for a in axes]  # doctest: +SKIP
        [4, 4]
        >>> fig, axes = plot("huber", sweep={"delta": [0.5, 1, 2]}, save="huber.png")  # doctest: +SKIP
    """
    check_save(save)
    lines = curve_lines(losses, params, sweep, domain, n=n)
    return draw(lines, grad=grad, ax=ax, save=save, title=title, sweep_keys=tuple(sweep or ()))


def check_save(save: str | PathLike[str] | None, caller: str = "plot") -> str:
    """The suffix of a writable ``save`` path (``""`` for None), checked before anything is drawn.

    Raises:
        LosscraftError: not a path, a suffix other than .png/.svg/.pdf, a directory that does not
            exist, or a path that is a directory.
    """
    if save is None:
        return ""
    if not isinstance(save, (str, PathLike)):
        raise LosscraftError(
            f"{caller}: 'save' must be a file path (str or os.PathLike), got {type(save).__name__}"
        )
    path = Path(save)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".svg", ".pdf"):
        raise LosscraftError(f"{caller}: 'save' must end in .png, .svg or .pdf, got {str(save)!r}")
    # fail here, in one line, rather than with an OSError after the curves are computed and drawn
    if not path.parent.is_dir():
        reason = "is not a directory" if path.parent.exists() else "does not exist"
        raise LosscraftError(
            f"{caller}: cannot write 'save' {str(save)!r}: the directory {str(path.parent)!r} {reason}"
        )
    if path.is_dir():
        raise LosscraftError(f"{caller}: cannot write 'save' {str(save)!r}: it is a directory")
    return suffix


def draw(
    lines: Sequence[CurveLine],
    *,
    grad: bool = True,
    ax: Any = None,
    save: str | PathLike[str] | None = None,
    title: str | None = None,
    sweep_keys: Sequence[str] = (),
) -> tuple[Figure, Any]:
    """Draw lines from :func:`curve_lines` (what :func:`plot` does after computing them).

    Arguments and return value as in :func:`plot`; ``sweep_keys`` only enter the default title.
    """
    suffix = check_save(save)
    if not lines:
        raise LosscraftError("plot: nothing to draw")
    plt = require_matplotlib()

    # group by x-axis kind, in order of first appearance
    kinds: dict[str, list[CurveLine]] = {}
    for line in lines:
        kinds.setdefault(axis_label(line.curve)[1], []).append(line)
    rows = len(kinds)
    cols = 2 if grad else 1

    if ax is not None:
        from matplotlib.axes import Axes

        given = [ax] if isinstance(ax, Axes) else list(np.asarray(ax, dtype=object).ravel())
        if len(given) != cols or not all(isinstance(a, Axes) for a in given):
            raise LosscraftError(
                f"plot: 'ax' must be {'a pair of Axes (loss, gradient)' if grad else 'one Axes'} "
                f"when grad={grad}, got {ax!r}"
            )
        if rows != 1:
            raise LosscraftError(
                f"plot: the losses lie on {rows} different axes ({'; '.join(kinds)}); "
                "plot them separately when passing 'ax'"
            )
        fig: Any = given[0].figure
        grid = [given]
        axes_out = ax
    else:
        fig, arr = plt.subplots(
            rows, cols, figsize=(5.4 * cols, 3.9 * rows + 0.5), squeeze=False, layout="constrained"
        )
        grid = [list(r) for r in arr]
        axes_out = arr[0] if rows == 1 else arr
        if rows == 1 and cols == 1:
            axes_out = arr[0, 0]
        elif cols == 1:
            axes_out = arr[:, 0]

    names = list(dict.fromkeys(line.loss for line in lines))
    settings = list(dict.fromkeys(line.group[:2] for line in lines))  # (loss index, setting index)
    single_sweep = len({s[0] for s in settings}) == 1 and len(settings) > 1
    cmap = plt.get_cmap("viridis")
    cycle = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    colour_of: dict[tuple[int, ...], Any] = {}
    for k, key in enumerate(settings):
        colour_of[key] = cmap(0.9 * k / (len(settings) - 1)) if single_sweep else cycle[k % len(cycle)]

    for (label, group), axrow in zip(kinds.items(), grid, strict=True):
        sym = axis_label(group[0].curve)[0]
        for line in group:
            style = {
                "color": colour_of[line.group[:2]],
                "ls": _STYLES[line.group[2] % len(_STYLES)],
            }
            axrow[0].plot(line.x.numpy(), line.value.numpy(), label=line.label, lw=1.6, **style)
            if grad:
                axrow[1].plot(line.x.numpy(), line.gradient.numpy(), label=line.label, lw=1.6, **style)
        axrow[0].set_ylabel(r"loss $\ell$")
        axrow[0].set_title("loss", fontsize=10)
        if grad:
            axrow[1].set_ylabel(rf"gradient $\partial\ell / \partial {sym}$")
            axrow[1].set_title("gradient", fontsize=10)
        for a in axrow:
            a.set_xlabel(label)
            a.grid(alpha=0.3)
        legend_title = names[0] if single_sweep else None
        axrow[0].legend(fontsize=8, title=legend_title, title_fontsize=8)

    if ax is None:
        if title is None:
            if len({ln.group[0] for ln in lines}) == 1:
                title = title_for(lines[0].spec, fontsize=12, max_width_pt=fig.get_figwidth() * 72 * 0.95)
                if single_sweep and sweep_keys:
                    title += "   (sweep: " + ", ".join(sweep_keys) + ")"
            else:
                title = ", ".join(names)
        fig.suptitle(title, fontsize=12)
    elif title is not None:
        grid[0][0].set_title(title, fontsize=10)
    if save is not None:
        try:
            fig.savefig(save, dpi=100, format=suffix[1:])
        except OSError as exc:  # permissions, a full disk, a directory removed since the check
            if ax is None:
                plt.close(fig)  # the caller never receives this figure: do not leak it in pyplot
            reason = exc.strerror or str(exc)
            raise LosscraftError(f"plot: cannot write 'save' {str(save)!r}: {reason}") from None
    return fig, axes_out
