"""The combination algebra under every loss Module: ``+``, ``*``, weight schedules, :class:`CombinedLoss`.

It lives in the core because the Module base (:class:`~losscraft._core.module.LossModule`) derives
from :class:`Combinable`; :mod:`losscraft.compose` is its public face and re-exports the public
names. ``input_names``, ``call_input_names``, ``fmt_signature`` and ``check_same_shapes`` are
shared with the other composites (multi-task, weighting).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from typing import Any, NoReturn

from torch import Tensor, nn

from .checks import fmt_shape
from .errors import LosscraftError, refuse_torchscript
from .registry import build, check_config_keys, register_composite

__all__ = [
    "Combinable",
    "CombinedLoss",
    "Constant",
    "CosineSchedule",
    "LinearWarmup",
    "Schedule",
    "call_input_names",
    "check_same_shapes",
    "fmt_signature",
    "input_names",
    "schedule_from_config",
]


# --------------------------------------------------------------------------- schedules
class Schedule:
    """A weight as a function of the training step (an ``int >= 0`` the caller passes)."""

    kind: str = ""

    def __call__(self, step: int) -> float:  # pragma: no cover - abstract
        """The weight at ``step``."""
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:  # pragma: no cover - abstract
        """Plain-data description; :func:`schedule_from_config` inverts it."""
        raise NotImplementedError

    def __mul__(self, other: object) -> Any:
        if isinstance(other, nn.Module):
            return _weighted(other, self)
        return NotImplemented

    __rmul__ = __mul__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schedule) and self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.get_config().items())))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "schedule")
        return f"{type(self).__name__}({args})"


def _check_step(step: Any) -> int:
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise LosscraftError(f"schedule: 'step' must be an int >= 0, got {step!r}")
    return step


def _check_finite(owner: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise LosscraftError(f"{owner}: '{name}' must be a finite number, got {value!r}")
    return float(value)


class Constant(Schedule):
    """The same weight at every step."""

    kind = "constant"

    def __init__(self, value: float) -> None:
        self.value = _check_finite("Constant", "value", value)

    def __call__(self, step: int) -> float:
        """``value``."""
        _check_step(step)
        return self.value

    def get_config(self) -> dict[str, Any]:
        """``{"schedule": "constant", "value": ...}``."""
        return {"schedule": self.kind, "value": self.value}


class LinearWarmup(Schedule):
    r"""Linear from ``start`` to ``end`` over ``steps`` steps, then constant ``end``.

    $w(t) = \text{start} + (\text{end} - \text{start})\,\min(t / \text{steps}, 1)$.
    """

    kind = "linear_warmup"

    def __init__(self, start: float = 0.0, end: float = 1.0, steps: int = 1000) -> None:
        self.start = _check_finite("LinearWarmup", "start", start)
        self.end = _check_finite("LinearWarmup", "end", end)
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise LosscraftError(f"LinearWarmup: 'steps' must be an int >= 1, got {steps!r}")
        self.steps = steps

    def __call__(self, step: int) -> float:
        """The weight at ``step``."""
        t = min(_check_step(step) / self.steps, 1.0)
        return self.start + (self.end - self.start) * t

    def get_config(self) -> dict[str, Any]:
        """Plain data."""
        return {"schedule": self.kind, "start": self.start, "end": self.end, "steps": self.steps}


class CosineSchedule(Schedule):
    r"""Half-cosine from ``start`` to ``end`` over ``steps`` steps, then constant ``end``.

    $w(t) = \text{end} + (\text{start} - \text{end})\,\tfrac12(1 + \cos(\pi \min(t/\text{steps}, 1)))$.
    """

    kind = "cosine"

    def __init__(self, start: float = 1.0, end: float = 0.0, steps: int = 1000) -> None:
        self.start = _check_finite("CosineSchedule", "start", start)
        self.end = _check_finite("CosineSchedule", "end", end)
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise LosscraftError(f"CosineSchedule: 'steps' must be an int >= 1, got {steps!r}")
        self.steps = steps

    def __call__(self, step: int) -> float:
        """The weight at ``step``."""
        t = min(_check_step(step) / self.steps, 1.0)
        return self.end + (self.start - self.end) * 0.5 * (1.0 + math.cos(math.pi * t))

    def get_config(self) -> dict[str, Any]:
        """Plain data."""
        return {"schedule": self.kind, "start": self.start, "end": self.end, "steps": self.steps}


_SCHEDULES: dict[str, type[Schedule]] = {
    "constant": Constant,
    "linear_warmup": LinearWarmup,
    "cosine": CosineSchedule,
}


def schedule_from_config(config: Mapping[str, Any] | float) -> float | Schedule:
    """A number stays a number; ``{"schedule": kind, ...}`` becomes that :class:`Schedule`.

    Raises:
        LosscraftError: an unknown kind, or a key the kind does not take (named, with the
            valid ones); the kind's own checks (finite values, ``steps >= 1``).
    """
    if isinstance(config, (int, float)) and not isinstance(config, bool):
        return _check_finite("CombinedLoss", "weight", config)
    if not isinstance(config, Mapping) or config.get("schedule") not in _SCHEDULES:
        kinds = ", ".join(repr(k) for k in _SCHEDULES)
        raise LosscraftError(
            f"schedule: expected a number or {{'schedule': one of {kinds}, ...}}, got {config!r}"
        )
    cls = _SCHEDULES[str(config["schedule"])]
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    required = tuple(p.name for p in params if p.default is inspect.Parameter.empty)
    optional = tuple(p.name for p in params if p.default is not inspect.Parameter.empty)
    cfg = check_config_keys(
        f"{cls.__name__} config", config, required=("schedule", *required), optional=optional
    )
    cfg.pop("schedule")
    return cls(**cfg)


# --------------------------------------------------------------------------- combination
def input_names(module: nn.Module) -> tuple[str, ...] | None:
    """The positional inputs ``module`` is called with, by name (``spec.inputs``), if known.

    Catalog and custom losses declare them in their spec (``("input", "target", "var")`` for
    ``gaussian_nll``); wrappers and combinations pass their inner loss's on; ``None`` for
    anything else (a plain user Module).
    """
    spec = getattr(type(module), "spec", None)
    if spec is not None:
        return tuple(spec.inputs)
    own = getattr(module, "_input_names", None)
    if callable(own):
        names = own()
        return None if names is None else tuple(names)
    return None


def call_input_names(module: nn.Module) -> tuple[str, ...]:
    """Keyword call inputs ``module`` accepts (``spec.call_inputs``, e.g. ``bias``)."""
    spec = getattr(type(module), "spec", None)
    if spec is not None:
        return tuple(spec.call_inputs)
    own = getattr(module, "_call_input_names", None)
    return tuple(own()) if callable(own) else ()


def fmt_signature(names: tuple[str, ...]) -> str:
    """``(input, target, var)``: input names as a call signature, for error messages."""
    return "(" + ", ".join(names) + ")"


def check_same_shapes(owner: str, kind: str, values: Mapping[str, Tensor]) -> None:
    """Summing values of different shapes would broadcast silently: (4, 4) + (4,) -> (4, 4)."""
    items = list(values.items())
    first_name, first = items[0]
    for name, v in items[1:]:
        if v.shape != first.shape:
            raise LosscraftError(
                f"{owner}: {kind} {first_name!r} and {name!r} return different shapes, "
                f"{fmt_shape(first)} and {fmt_shape(v)}; adding them would broadcast. Give every "
                "term the same reduction (and, for reduction='none', the same unreduced shape)"
            )


def _term_name(module: nn.Module) -> str:
    spec = getattr(type(module), "spec", None)
    if spec is not None:
        return str(spec.name)
    return getattr(module, "config_name", type(module).__name__.lower())


def _config_of(module: nn.Module) -> dict[str, Any]:
    get_config = getattr(module, "get_config", None)
    if get_config is None:
        raise LosscraftError(
            f"CombinedLoss: term {type(module).__name__} has no get_config(); only losscraft losses "
            "and composites can be serialised"
        )
    cfg = get_config()
    assert isinstance(cfg, dict)
    return cfg


class Combinable:
    """Mixin: ``loss_a + loss_b`` and ``0.3 * loss`` build a :class:`CombinedLoss`."""

    def __prepare_scriptable__(self) -> NoReturn:
        """``torch.jit.script`` calls this first: a clear error (see :func:`refuse_torchscript`)."""
        refuse_torchscript(self)

    def __add__(self, other: object) -> Any:
        if not isinstance(other, nn.Module) or not isinstance(self, nn.Module):
            return NotImplemented
        return _combine(self, other)

    def __radd__(self, other: object) -> Any:
        if isinstance(other, (int, float)) and not isinstance(other, bool) and other == 0:
            return self  # sum([...]) starts at 0
        if not isinstance(other, nn.Module) or not isinstance(self, nn.Module):
            return NotImplemented
        return _combine(other, self)

    def __mul__(self, other: object) -> Any:
        if isinstance(other, bool) or not isinstance(other, (int, float, Schedule)):
            return NotImplemented
        assert isinstance(self, nn.Module)
        return _weighted(self, other)

    def __rmul__(self, other: object) -> Any:
        return self.__mul__(other)


class CombinedLoss(Combinable, nn.Module):
    r"""A weighted sum of named losses: $L = \sum_k w_k(t)\, L_k(\text{inputs})$.

    Args:
        terms: name -> loss Module (any losscraft loss, composite or custom loss). Every term
            is called with the same positional inputs.
        weights: name -> number or :class:`Schedule` (default 1.0 for every term). Weights
            may be negative (e.g. an entropy bonus) but must be finite.

    ``forward(*inputs, step=None, weight=None)`` returns the total; ``step`` is required when
    a weight is a schedule; ``weight`` (a per-element weight) is passed to every term.
    After each call :attr:`last_terms` maps each term name (nested ones as ``"outer.inner"``)
    to its unweighted, detached value and :attr:`last_weights` to the weight used.

    Combine with ``+`` and ``*``: ``0.7 * FocalLoss() + 0.3 * DiceLoss()``. ``+`` flattens
    combinations into one; scaling a combination of several terms nests it as one term.

    Raises:
        LosscraftError: empty or mismatched terms/weights, a non-finite weight, a missing
            ``step`` for scheduled weights.
    """

    config_name = "combined"

    def __init__(
        self,
        terms: Mapping[str, nn.Module],
        weights: Mapping[str, float | Schedule] | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(terms, Mapping) or not terms:
            raise LosscraftError("CombinedLoss: 'terms' must be a non-empty mapping of name -> loss Module")
        for name, term in terms.items():
            if not isinstance(name, str) or not name.isidentifier():
                raise LosscraftError(f"CombinedLoss: term names must be identifiers, got {name!r}")
            if not isinstance(term, nn.Module):
                raise LosscraftError(
                    f"CombinedLoss: term {name!r} must be an nn.Module, got {type(term).__name__}"
                )
        if weights is not None and not isinstance(weights, Mapping):
            raise LosscraftError(
                f"CombinedLoss: 'weights' must be a mapping of term name -> weight, got {type(weights).__name__}"
            )
        weights = dict(weights or {})
        unknown = sorted(set(weights) - set(terms))
        if unknown:
            raise LosscraftError(
                f"CombinedLoss: 'weights' has names that are not terms: {unknown}; terms: {list(terms)}"
            )
        known: list[tuple[str, tuple[str, ...]]] = []
        for name, term in terms.items():
            names = input_names(term)
            if names is not None:
                known.append((name, names))
        for name, names in known[1:]:
            first, first_names = known[0]
            if len(names) != len(first_names):
                raise LosscraftError(
                    f"CombinedLoss: every term is called with the same positional inputs, but term "
                    f"{first!r} takes {fmt_signature(first_names)} and term {name!r} takes {fmt_signature(names)}"
                )
        self.terms = nn.ModuleDict(dict(terms))
        self._weights: dict[str, float | Schedule] = {}
        for name in terms:
            w = weights.get(name, 1.0)
            if isinstance(w, Mapping):
                w = schedule_from_config(w)
            if not isinstance(w, Schedule):
                w = _check_finite("CombinedLoss", f"weights[{name!r}]", w)
            self._weights[name] = w
        self.last_terms: dict[str, Tensor] = {}
        self.last_weights: dict[str, float] = {}

    @property
    def weights(self) -> dict[str, float | Schedule]:
        """Name -> weight (a fresh dict)."""
        return dict(self._weights)

    @property
    def scheduled(self) -> bool:
        """Whether any weight (also in nested combinations) depends on the step."""
        if any(isinstance(w, Schedule) for w in self._weights.values()):
            return True
        return any(isinstance(t, CombinedLoss) and t.scheduled for t in self.terms.values())

    def weight_at(self, name: str, step: int | None = None) -> float:
        """The weight of term ``name`` at ``step``."""
        w = self._weights[name]
        if isinstance(w, Schedule):
            if step is None:
                raise LosscraftError(
                    f"CombinedLoss: term {name!r} has a scheduled weight; pass step=<int> to the call"
                )
            return w(step)
        return w

    def _input_names(self) -> tuple[str, ...] | None:
        for term in self.terms.values():
            names = input_names(term)
            if names is not None:
                return names
        return None

    def _call_input_names(self) -> tuple[str, ...]:
        out: list[str] = []
        for term in self.terms.values():
            out += [n for n in call_input_names(term) if n not in out]
        return tuple(out)

    def forward(
        self,
        *inputs: Tensor,
        step: int | None = None,
        weight: Tensor | None = None,
        **call_inputs: Tensor,
    ) -> Tensor:
        """Weighted sum of the terms; records :attr:`last_terms` for logging.

        Every term gets the same positional ``inputs``; keyword call inputs (e.g. ``bias``) go
        to the terms that declare them.

        Raises:
            LosscraftError: terms of different arity or output shape, an unknown keyword, a
                missing ``step`` for scheduled weights.
        """
        for name, term in self.terms.items():
            names = input_names(term)
            if names is not None and len(names) != len(inputs):
                raise LosscraftError(
                    f"CombinedLoss: term {name!r} takes {len(names)} positional inputs "
                    f"{fmt_signature(names)}, got {len(inputs)}"
                )
        unknown = sorted(set(call_inputs) - set(self._call_input_names()))
        if unknown:
            raise LosscraftError(f"CombinedLoss: no term takes the keyword argument(s) {unknown}")
        values: dict[str, Tensor] = {}
        terms: dict[str, Tensor] = {}
        used: dict[str, float] = {}
        for name, term in self.terms.items():
            kwargs: dict[str, Any] = {k: v for k, v in call_inputs.items() if k in call_input_names(term)}
            if weight is not None:
                kwargs["weight"] = weight
            if isinstance(term, CombinedLoss):
                kwargs["step"] = step
            value = term(*inputs, **kwargs)
            used[name] = self.weight_at(name, step)
            values[name] = value
            terms[name] = value.detach()
            if isinstance(term, CombinedLoss):
                terms.update({f"{name}.{k}": v for k, v in term.last_terms.items()})
        check_same_shapes("CombinedLoss", "terms", values)
        total: Tensor | None = None
        for name, value in values.items():
            contrib = value * used[name]
            total = contrib if total is None else total + contrib
        assert total is not None
        self.last_terms = terms
        self.last_weights = used
        return total

    # -------------------------------------------------------------- algebra
    def __mul__(self, other: object) -> CombinedLoss:
        if isinstance(other, bool) or not isinstance(other, (int, float, Schedule)):
            return NotImplemented
        if len(self._weights) == 1 and not isinstance(other, Schedule):
            ((name, w),) = self._weights.items()
            if not isinstance(w, Schedule):
                return CombinedLoss(dict(self.terms), {name: w * float(other)})
        return _weighted(self, other)

    # -------------------------------------------------------------- config and repr
    def get_config(self) -> dict[str, Any]:
        """``{"name": "combined", "terms": {...}, "weights": {...}}``; nested terms nest."""
        return {
            "name": self.config_name,
            "terms": {name: _config_of(t) for name, t in self.terms.items()},
            "weights": {
                name: (w.get_config() if isinstance(w, Schedule) else w) for name, w in self._weights.items()
            },
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> CombinedLoss:
        """Inverse of :meth:`get_config`.

        Raises:
            LosscraftError: a missing ``terms`` or an unknown key (named, with the valid ones).
        """
        cfg = check_config_keys(
            "CombinedLoss.from_config", config, required=("terms",), optional=("name", "weights")
        )
        terms = cfg["terms"]
        if not isinstance(terms, Mapping) or not terms:
            raise LosscraftError(
                f"CombinedLoss.from_config: 'terms' must be a non-empty mapping, got {terms!r}"
            )
        raw = cfg.get("weights") or {}
        if not isinstance(raw, Mapping):
            raise LosscraftError(
                f"CombinedLoss.from_config: 'weights' must be a mapping of term name -> weight, got {raw!r}"
            )
        weights = {k: schedule_from_config(v) for k, v in raw.items()}
        return cls({k: build(v) for k, v in terms.items()}, weights)

    def __repr__(self) -> str:
        lines = []
        for name, term in self.terms.items():
            w = self._weights[name]
            body = repr(term).replace("\n", "\n  ")
            lines.append(f"  {name}: {w!r} * {body}")
        return "CombinedLoss(\n" + "\n".join(lines) + "\n)"


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    k = 2
    while f"{name}_{k}" in taken:
        k += 1
    return f"{name}_{k}"


def _weighted(module: nn.Module, weight: float | Schedule) -> CombinedLoss:
    if not isinstance(weight, Schedule):
        weight = _check_finite("CombinedLoss", "weight", weight)
    return CombinedLoss({_term_name(module): module}, {_term_name(module): weight})


def _combine(a: nn.Module, b: nn.Module) -> CombinedLoss:
    terms: dict[str, nn.Module] = {}
    weights: dict[str, float | Schedule] = {}
    for part in (a, b):
        if isinstance(part, CombinedLoss):
            items = [(n, t, part.weights[n]) for n, t in part.terms.items()]
        else:
            items = [(_term_name(part), part, 1.0)]
        for n, t, w in items:
            key = _unique(n, set(terms))
            terms[key] = t
            weights[key] = w
    return CombinedLoss(terms, weights)


# The public classes are found by name in losscraft.compose, which re-exports them: pickles
# (torch.save of a model holding a combination) and class reprs keep reading
# losscraft.compose.CombinedLoss, so they load whatever file the algebra lives in.
for _cls in (Schedule, Constant, LinearWarmup, CosineSchedule, Combinable, CombinedLoss):
    _cls.__module__ = "losscraft.compose"

register_composite("combined", CombinedLoss.from_config)
