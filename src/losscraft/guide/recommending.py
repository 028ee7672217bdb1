"""Recommend losses for a target: candidates from the registry, ranked by the rule table.

:func:`recommend` profiles the target (or takes a :class:`~losscraft.guide.profiling.Profile`),
collects the registry entries that serve the profile's task (their ``tasks`` and
``target_kind``), sets every hyperparameter that has a data :class:`~losscraft.Role` from the
profile (one computation per role, whichever loss holds it), applies the rows of
:data:`losscraft.guide.rules.RULES` and returns the ranked :class:`Recommendations`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import torch
from torch import nn

from .._core.errors import LosscraftError
from .._core.registry import LossEntry, build, catalog, lookup
from .._core.spec import FloatSeq, Role, Task, TensorDomain
from .profiling import Profile, profile
from .rules import (
    BASELINE_OVERRIDES,
    BASELINES,
    COMBINATIONS,
    DEFAULT_GOALS,
    FALLBACKS,
    GOAL_TASKS,
    GOALS,
    IMBALANCE_ROLES,
    RULES,
    TASK_EXTENSIONS,
    TASK_GOALS,
    TASK_TARGET_KINDS,
    Rule,
    Select,
)
from .tuning import efficiency_constant

__all__ = [
    "Avoid",
    "Goal",
    "Recommendation",
    "Recommendations",
    "data_settings",
    "parse_goal",
    "recommend",
]

# Huber's tuning constant (95% efficiency at the normal, Huber 1964): the fallback for a
# ROBUST_SCALE loss whose own constant cannot be computed (guide.tuning.efficiency_constant).
HUBER_K = 1.345
BALANCED_RATIO = 1.5  # imbalance ratio up to which classes count as balanced (Buda et al. 2018)
POS_WEIGHT_CAP = 50.0  # science.md 2.4: never the raw (1-f)/f; square root, capped


# --------------------------------------------------------------------------- goals
@dataclass(frozen=True)
class Goal:
    """A parsed goal: its kind (``"interval"``), the text as written and the quantile levels it implies."""

    kind: str
    text: str
    levels: tuple[float, ...] = ()

    def __str__(self) -> str:
        return self.text


def _valid_goals() -> str:
    return ", ".join(repr(g) for g in GOALS)


def parse_goal(text: str | Goal) -> Goal:
    """Read a goal such as ``"interval:0.9"`` into a :class:`Goal`.

    Goals: ``mean``, ``median``, ``interval:P``, ``quantile:Q``, ``calibrated-probabilities``,
    ``rank``, ``recall-minority``, ``overlap``.

    ``interval:P`` (coverage ``0 < P < 1``) gives quantile levels ``(1-P)/2`` and ``(1+P)/2``;
    ``quantile:Q`` the level ``Q``; ``median`` the level 0.5.

    Raises:
        LosscraftError: an unknown goal or a level outside (0, 1); the message lists the valid goals.
    """
    if isinstance(text, Goal):
        return text
    if not isinstance(text, str):
        raise LosscraftError(
            f"recommend: 'goal' must be a string, got {type(text).__name__}; valid goals: {_valid_goals()}"
        )
    t = text.strip().lower().replace("_", "-")
    kind, _, arg = t.partition(":")
    kind = kind.strip()
    if kind in ("interval", "quantile"):
        try:
            p = float(arg)
        except ValueError:
            raise LosscraftError(
                f"recommend: goal {text!r} needs a number, e.g. '{kind}:0.9'; valid goals: {_valid_goals()}"
            ) from None
        if not 0.0 < p < 1.0:
            raise LosscraftError(f"recommend: goal {text!r}: the level must lie in (0, 1), got {p:g}")
        levels = (round((1 - p) / 2, 12), round((1 + p) / 2, 12)) if kind == "interval" else (p,)
        return Goal(kind, f"{kind}:{p:g}", levels)
    plain = [g for g in GOALS if ":" not in g]
    if arg or kind not in plain:
        raise LosscraftError(f"recommend: unknown goal {text!r}; valid goals: {_valid_goals()}")
    return Goal(kind, kind, (0.5,) if kind == "median" else ())


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class Avoid:
    """A loss (or a setting of one) to avoid for this data and goal, and why."""

    name: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        """``{"name": ..., "reason": ...}``."""
        return {"name": self.name, "reason": self.reason}


@dataclass(frozen=True, eq=False)
class Recommendation:
    """One recommended loss: its configuration, the built Module, score and reasons.

    Attributes:
        name: registry key, or ``"<a>+<b>"`` for a combination.
        params: the hyperparameters set from the data and the rules (per term for a combination).
        loss: the configured Module, ready to call.
        score: the rule table's score (higher is better; only the order is meaningful).
        reasons: plain-language reasons citing the measured statistics.
        config: what :func:`losscraft.build` takes to rebuild :attr:`loss`.
    """

    name: str
    params: dict[str, Any]
    loss: nn.Module
    score: float
    reasons: tuple[str, ...]
    config: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (the Module as its config)."""
        return {
            "name": self.name,
            "params": self.params,
            "score": self.score,
            "reasons": list(self.reasons),
            "config": self.config,
        }

    def __str__(self) -> str:
        return f"{self.name}({_kw(self.params)})"


class Recommendations(Sequence[Recommendation]):
    """Ranked recommendations (best first), with the profile, the goal and the losses to avoid."""

    def __init__(
        self,
        items: Sequence[Recommendation],
        *,
        profile: Profile,
        goal: Goal,
        default_goal: bool,
        goal_reason: str,
        avoid: tuple[Avoid, ...],
        notes: tuple[str, ...] = (),
    ) -> None:
        self._items = tuple(items)
        self.profile = profile
        self.goal = goal
        self.default_goal = default_goal
        self.goal_reason = goal_reason
        self.avoid = avoid
        self.notes = notes

    @overload
    def __getitem__(self, index: int) -> Recommendation: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Recommendation]: ...
    def __getitem__(self, index: int | slice) -> Recommendation | Sequence[Recommendation]:
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Recommendation]:
        return iter(self._items)

    def __repr__(self) -> str:
        names = ", ".join(r.name for r in self._items)
        return f"Recommendations([{names}], goal={self.goal.text!r})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form: goal, profile, ranked recommendations, avoid list and notes."""
        return {
            "task": self.profile.task,
            "goal": self.goal.text,
            "default_goal": self.default_goal,
            "goal_reason": self.goal_reason,
            "recommendations": [r.to_dict() for r in self._items],
            "avoid": [a.to_dict() for a in self.avoid],
            "notes": list(self.notes),
            "profile": self.profile.to_dict(),
        }

    def _goal_line(self) -> str:
        how = "default goal" if self.default_goal else "goal"
        return f"{how} for {self.profile.task}: {self.goal.text} ({self.goal_reason})"

    def __str__(self) -> str:
        lines = [self._goal_line()]
        lines += [f"note: {n}" for n in self.notes]
        for i, r in enumerate(self._items, 1):
            lines.append(f"{i}. {r}  [score {r.score:g}]")
            lines += [f"     - {reason}" for reason in r.reasons]
        if self.avoid:
            lines.append("avoid:")
            lines += [f"  - {a.name}: {a.reason}" for a in self.avoid]
        lines.append(_CHECK)
        return "\n".join(lines)

    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.table import Table

        table = Table(title=self._goal_line(), show_lines=True)
        table.add_column("#", justify="right")
        table.add_column("loss")
        table.add_column("score", justify="right")
        table.add_column("why")
        for i, r in enumerate(self._items, 1):
            table.add_row(str(i), str(r), f"{r.score:g}", "\n".join(r.reasons))
        parts: list[Any] = [*(f"note: {n}" for n in self.notes), table]
        if self.avoid:
            avoid = Table(title="avoid")
            avoid.add_column("loss")
            avoid.add_column("why")
            for a in self.avoid:
                avoid.add_row(a.name, a.reason)
            parts.append(avoid)
        parts.append(_CHECK)
        return Group(*parts)


_CHECK = (
    "next: compare the shortlisted losses by cross-validation on your own metric (Hennig & Kutlukaya 2007)"
)


def _kw(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_short(v)}" for k, v in params.items())


def _short(v: Any) -> str:
    if isinstance(v, dict):
        return "{" + _kw(v) + "}"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        inner = ", ".join(_short(x) for x in v[:6])
        return f"[{inner}{', ...' if len(v) > 6 else ''}]"
    return repr(v)


# --------------------------------------------------------------------------- role values
@dataclass(frozen=True)
class _RoleValue:
    value: Any  # a float or a list of floats; None: the data cannot say (the reason says why)
    reason: str


def _role_values(prof: Profile, goal: Goal) -> dict[Role, _RoleValue]:
    """One value per role from the profile and goal (absent: the data says nothing about it)."""
    out: dict[Role, _RoleValue] = {}
    reg = prof.regression
    if reg is not None and math.isfinite(reg.robust_scale) and reg.robust_scale > 0:
        # sigma-hat itself: each loss multiplies it by its own 95%-efficiency constant (_robust_scale)
        out[Role.ROBUST_SCALE] = _RoleValue(
            reg.robust_scale,
            f"robust scale {reg.robust_scale:.4g} (1.4826 x MAD of residuals from {reg.residuals_from})",
        )
    if reg is not None and reg.nonnegative and reg.variance_power_from:
        if reg.variance_power is not None:
            out[Role.VARIANCE_POWER] = _RoleValue(
                reg.variance_power,
                f"{{param}} = {reg.variance_power:.3g} estimated from the data: {reg.variance_power_from} "
                "(Taylor 1961; Jorgensen 1997)",
            )
        else:  # stated, and the loss's default kept
            out[Role.VARIANCE_POWER] = _RoleValue(
                None, f"{{param}} left at its default {{default}}: {reg.variance_power_from}"
            )
    cs = prof.classes
    if cs is not None and len(cs.counts) >= 2 and min(cs.counts) > 0:
        inv = [1.0 / e for e in cs.effective_numbers]
        c = len(inv)
        weights = [c * w / sum(inv) for w in inv]
        out[Role.CLASS_WEIGHTS] = _RoleValue(
            weights,
            f"{{param}} = class-balanced weights 1/E_n (beta {cs.beta:.4g}), normalised to sum {c} "
            f"(Cui et al. 2019); ratio {max(weights) / min(weights):.3g} vs imbalance {cs.imbalance_ratio:.3g}",
        )
        out[Role.CLASS_COUNTS] = _RoleValue(
            [float(n) for n in cs.counts], f"{{param}} = the class counts {list(cs.counts)}"
        )
        out[Role.CLASS_PRIORS] = _RoleValue(
            list(cs.priors), "{param} = the class frequencies " + ", ".join(f"{p:.3g}" for p in cs.priors)
        )
        if c == 2:
            raw = cs.counts[0] / cs.counts[1]
            pw = min(math.sqrt(raw), POS_WEIGHT_CAP)
            out[Role.POS_WEIGHT] = _RoleValue(
                [pw],
                f"{{param}} = sqrt(n_neg/n_pos) = sqrt({raw:.3g}) = {pw:.3g}, capped at {POS_WEIGHT_CAP:g}",
            )
    ml = prof.multilabel
    if ml is not None and ml.positive_rates:
        pws = [
            min(math.sqrt((1 - p) / p), POS_WEIGHT_CAP) if p > 0 else POS_WEIGHT_CAP
            for p in ml.positive_rates
        ]
        out[Role.POS_WEIGHT] = _RoleValue(
            pws,
            f"{{param}} = sqrt((1-pi_l)/pi_l) per label, capped at {POS_WEIGHT_CAP:g} (science.md 2.1, 2.4)",
        )
    if goal.levels:
        out[Role.QUANTILE_LEVEL] = _RoleValue(
            list(goal.levels) if len(goal.levels) > 1 else goal.levels[0],
            f"{{param}} = {', '.join(f'{q:g}' for q in goal.levels)} from the goal '{goal.text}'",
        )
    masks = prof.masks
    if masks is not None:
        if masks.empty_share > 0:
            out[Role.SMOOTHING] = _RoleValue(
                1.0,
                f"{{param}} = 1: {masks.empty_share:.0%} of the masks are empty, the smoothing keeps their "
                "score defined and rewards an empty prediction",
            )
        else:
            out[Role.SMOOTHING] = _RoleValue(
                1e-5,
                "{param} = 1e-5: no mask is empty, a negligible smoothing does not bias small structures",
            )
    return out


def _fit(domain: Any, value: Any) -> Any:
    """``value`` in the form the domain takes, or ``None`` when it does not fit."""
    if isinstance(domain, (TensorDomain, FloatSeq)):
        v = value
    elif isinstance(value, list):
        if len(value) != 1:
            return None
        v = value[0]
    else:
        v = value
    return v if domain.contains(v) else None


# --------------------------------------------------------------------------- candidates
@dataclass
class _Candidate:
    entries: tuple[LossEntry, ...]
    params: list[dict[str, Any]]
    roles: set[Role]
    baseline: bool
    reasons: list[str] = field(default_factory=list)
    score: float = 0.0

    @property
    def combination(self) -> bool:
        return len(self.entries) > 1

    @property
    def name(self) -> str:
        return "+".join(e.name for e in self.entries)

    def effective(self, i: int) -> dict[str, Any]:
        return {**self.entries[i].spec.defaults, **self.params[i]}

    def label(self, params: set[str] | None = None) -> str:
        """E.g. ``cross_entropy(weight=<data>)`` (the parameters in ``params``), or the bare name."""
        if not params:
            return self.name
        parts = []
        for i, e in enumerate(self.entries):
            eff = self.effective(i)
            for p in e.spec.params:
                if p.name in params:
                    v = eff[p.name]
                    shown = "<from data>" if isinstance(v, list) else _short(v)
                    parts.append(f"{p.name}={shown}")
        return f"{self.name}({', '.join(parts)})" if parts else self.name


def _robust_scale(entry: LossEntry, name: str, sigma: _RoleValue) -> tuple[float, str]:
    """``k * sigma-hat`` with the loss's own 95%-efficiency constant ``k`` (Huber's 1.345 if none)."""
    k = efficiency_constant(entry)
    if k is None:
        return HUBER_K * sigma.value, (
            f"{name} = {HUBER_K} x {sigma.reason} (Huber's constant: no 95%-efficiency constant for this loss)"
        )
    return k * sigma.value, (
        f"{name} = {k:.4g} x {sigma.reason}; {k:.4g} gives 95% efficiency at the normal "
        "(Holland & Welsch 1977)"
    )


def data_settings(
    entry: LossEntry, prof: Profile, goal: Goal, *, skip: Sequence[str] = ()
) -> dict[str, tuple[Any, str]]:
    """The hyperparameters the data sets for ``entry``, as ``{name: (value, reason)}``.

    The same values :func:`recommend` gives its candidates, per :class:`Role` (robust scale with
    the loss's own efficiency constant, class priors and counts, quantile levels from the goal,
    overlap smoothing); re-weighting roles (class weights, ``pos_weight``) are left out, since
    re-weighting is a choice with a price, not a fact of the data. Names in ``skip`` (set by
    the user) are left alone.
    """
    values = _role_values(prof, goal)
    out: dict[str, tuple[Any, str]] = {}
    for p in entry.spec.params:
        if p.name in skip or p.role is None or p.role not in values or p.role in IMBALANCE_ROLES:
            continue
        if values[p.role].value is None:
            continue
        if p.role == Role.ROBUST_SCALE:
            raw, text = _robust_scale(entry, p.name, values[p.role])
        else:
            raw, text = values[p.role].value, values[p.role].reason.format(param=p.name)
        v = _fit(p.domain, raw)
        if v is not None:
            out[p.name] = (v, text)
    return out


def _make_variants(
    entry: LossEntry, values: dict[Role, _RoleValue], baseline: bool, note: str | None
) -> list[_Candidate]:
    """The loss with its data roles set; plus a re-weighted variant when re-weighting roles have values."""
    base: dict[str, Any] = {}
    weighted: dict[str, Any] = {}
    reasons: list[str] = [note] if note else []
    extra: list[str] = []
    roles: set[Role] = set()
    wroles: set[Role] = set()
    for p in entry.spec.params:
        if p.role is None or p.role not in values:
            continue
        if values[p.role].value is None:  # left at the default, with the reason
            reasons.append(values[p.role].reason.format(param=p.name, default=_short(p.default)))
            continue
        if p.role == Role.ROBUST_SCALE:
            v, text = _robust_scale(entry, p.name, values[p.role])
            v = _fit(p.domain, v)
        else:
            v = _fit(p.domain, values[p.role].value)
            text = values[p.role].reason.format(param=p.name)
        if v is None:
            continue
        if p.role in IMBALANCE_ROLES:
            weighted[p.name] = v
            wroles.add(p.role)
            extra.append(text)
        else:
            base[p.name] = v
            roles.add(p.role)
            reasons.append(text)
    out = [_Candidate((entry,), [base], roles, baseline, list(reasons))]
    if weighted:
        out.append(_Candidate((entry,), [{**base, **weighted}], roles | wroles, baseline, reasons + extra))
    return out


def _facts(prof: Profile, goal: Goal) -> dict[str, Any]:
    cs, ml, masks = prof.classes, prof.multilabel, prof.masks
    imbalance: float | None = cs.imbalance_ratio if cs is not None else None
    max_pos: float | None = None
    if ml is not None and ml.positive_rates:
        rates = [p for p in ml.positive_rates if p > 0]
        max_pos = max((1 - p) / p for p in rates) if rates else None
        imbalance = max_pos
    elif cs is not None and len(cs.counts) == 2 and cs.counts[1] > 0:
        max_pos = cs.counts[0] / cs.counts[1]
    reg = prof.regression
    poisson_zeros = math.exp(-reg.mean) if reg is not None and reg.nonnegative else None
    nb_zeros = poisson_zeros
    if reg is not None and poisson_zeros is not None and reg.dispersion is not None and reg.dispersion > 1:
        # a negative binomial with the target's mean m and variance v: P(0) = (m / v)^(m^2 / (v - m))
        nb_zeros = (1.0 / reg.dispersion) ** (reg.mean / (reg.dispersion - 1.0))
    noise, chance = prof.label_noise, prof.label_noise_chance
    return {
        "task": prof.task,
        "goal": goal.kind,
        "classes": cs,
        "multilabel": ml,
        "masks": masks,
        "regression": prof.regression,
        "ranking": prof.ranking,
        "survival": prof.survival,
        "sequence": prof.sequence,
        "label_noise": noise,
        "label_noise_chance": chance,
        "noise_vs_chance": noise / chance if noise is not None and chance else None,
        "skewed_mean": goal.kind == "mean" and reg is not None and reg.long_upper_tail,
        "poisson_zeros": poisson_zeros,
        "excess_zeros": reg.zero_share - poisson_zeros
        if reg is not None and poisson_zeros is not None
        else None,
        "nb_zeros": nb_zeros,
        "excess_zeros_nb": reg.zero_share - nb_zeros if reg is not None and nb_zeros is not None else None,
        "heteroscedasticity": prof.heteroscedasticity,
        "n_classes": len(cs.labels) if cs is not None else None,
        "imbalance_ratio": imbalance,
        "min_foreground": min(masks.foreground_fraction)
        if masks is not None and masks.foreground_fraction
        else None,
        "min_positive_rate": min(ml.positive_rates) if ml is not None and ml.positive_rates else None,
        "max_pos_ratio": max_pos,
        "quantile_levels": ", ".join(f"{q:g}" for q in goal.levels) or None,
    }


def _fact(facts: dict[str, Any], path: str) -> Any:
    head, *rest = path.split(".")
    value = facts.get(head)
    for part in rest:
        if value is None:
            return None
        value = getattr(value, part, None)
    return value


def _holds(facts: dict[str, Any], cond: tuple[str, str, Any]) -> bool:
    path, op, ref = cond
    v = _fact(facts, path)
    if v is None:
        return False
    if op == "in":
        return bool(v in ref)
    if op == "not in":
        return bool(v not in ref)
    if op == "==":
        return bool(v == ref)
    if op == "!=":
        return bool(v != ref)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    x = float(v)
    if op == ">":
        return bool(x > ref)
    if op == ">=":
        return bool(x >= ref)
    if op == "<":
        return bool(x < ref)
    if op == "<=":
        return bool(x <= ref)
    raise LosscraftError(f"rules: unknown operator {op!r} in condition {cond!r}")  # pragma: no cover


def _matches(sel: Select, c: _Candidate) -> bool:
    specs = [e.spec for e in c.entries]
    # A combination's properties are those of what it adds to the baseline (the BCE term is
    # smooth, which does not make "bce + lovasz" a smooth overlap surrogate).
    props = set().union(*(s.properties for s in (specs[1:] if c.combination else specs)))
    if not sel.properties <= props or sel.lacks & props:
        return False
    if sel.tasks and not any(set(s.tasks) & sel.tasks for s in specs):
        return False
    if sel.roles and not sel.roles & c.roles:
        return False
    if sel.input_kinds and not all(s.input_kind in sel.input_kinds for s in specs):
        return False
    if sel.target_kinds and not all(s.target_kind in sel.target_kinds for s in specs):
        return False
    if sel.baseline is not None and sel.baseline != c.baseline:
        return False
    if sel.reweighted is not None and sel.reweighted != bool(c.roles & IMBALANCE_ROLES):
        return False
    if sel.combination is not None and sel.combination != c.combination:
        return False
    if sel.settable is not None:
        name, value = sel.settable
        if not any(p.name == name and p.domain.contains(value) for s in specs for p in s.params):
            return False
    if sel.any_of and not any(_matches(alt, c) for alt in sel.any_of):
        return False
    if sel.param is not None:
        name, value = sel.param
        if not any(name in c.effective(i) and c.effective(i)[name] == value for i in range(len(specs))):
            return False
    return True


def _reason(rule: Rule, facts: dict[str, Any]) -> str:
    try:
        text = rule.reason.format_map(facts)
    except (KeyError, AttributeError, ValueError, TypeError, IndexError):
        text = rule.reason
    return f"{text} [{rule.id}]"


def _entries_for(task: Task, kinds_task: Task) -> list[LossEntry]:
    kinds = TASK_TARGET_KINDS.get(kinds_task, frozenset())
    return [e for e in catalog(task=task) if e.spec.target_kind in kinds and e.module is not None]


def _baseline(task: Task, facts: dict[str, Any]) -> str | None:
    for t, cond, name in BASELINE_OVERRIDES:
        if t == task and _holds(facts, cond):
            return name
    return BASELINES.get(task)


def _collect(
    tasks: Sequence[Task],
    data_task: Task,
    values: dict[Role, _RoleValue],
    note: str | None,
    facts: dict[str, Any],
) -> list[_Candidate]:
    seen: set[str] = set()
    out: list[_Candidate] = []
    baseline_name = _baseline(tasks[0], facts)
    baseline_entry = lookup(baseline_name) if baseline_name is not None else None
    if baseline_entry is not None and baseline_entry.module is not None:
        # The plain baseline always competes, even where its spec does not list the task
        # (BCE-with-logits on binary masks).
        seen.add(baseline_entry.name)
        out += _make_variants(baseline_entry, values, True, note)
    for t in tasks:
        kinds_task = (
            data_task if data_task in TASK_TARGET_KINDS and t in (data_task, Task.QUANTILE_REGRESSION) else t
        )
        for e in _entries_for(t, kinds_task):
            if e.name not in seen:
                seen.add(e.name)
                out += _make_variants(e, values, e.name == baseline_name, note)
        for ext in TASK_EXTENSIONS:
            if ext.task != t or not all(_holds(facts, c) for c in ext.when):
                continue
            for e in _entries_for(ext.other, ext.other):
                cand = _Candidate((e,), [{}], set(), False)
                if e.name not in seen and _matches(ext.select, cand):
                    seen.add(e.name)
                    out += _make_variants(e, values, False, ext.reason)
    for combo in COMBINATIONS:
        base_name = baseline_name
        if tasks[0] not in combo.tasks or base_name is None:
            continue
        base = [c for c in out if c.name == base_name and not c.roles & IMBALANCE_ROLES]
        if not base:
            continue
        for c in [c for c in out if not c.combination]:
            if c.name != base_name and _matches(combo.second, c):
                out.append(
                    _Candidate(
                        (base[0].entries[0], c.entries[0]),
                        [dict(base[0].params[0]), dict(c.params[0])],
                        base[0].roles | c.roles,
                        False,
                        [
                            *dict.fromkeys(base[0].reasons + c.reasons),
                            f"compound loss [{combo.id}: {combo.source}]",
                        ],
                    )
                )
    return out


def _apply(cands: list[_Candidate], facts: dict[str, Any], avoid: dict[str, Avoid]) -> list[_Candidate]:
    active = [r for r in RULES if all(_holds(facts, c) for c in r.when)]
    for rule in (r for r in active if r.action == "require"):
        cands = [c for c in cands if _matches(rule.select, c)]
    for rule in (r for r in active if r.action == "set"):
        assert rule.value is not None
        name, value = rule.value
        for c in cands:
            if not _matches(rule.select, c):
                continue
            for i, e in enumerate(c.entries):
                if any(p.name == name and p.domain.contains(value) for p in e.spec.params):
                    c.params[i][name] = value
                    c.reasons.append(_reason(rule, facts).replace("[", f"({name}={value!r}) [", 1))
    for rule in (r for r in active if r.action == "avoid"):
        keep = []
        for c in cands:
            if not _matches(rule.select, c):
                keep.append(c)
                continue
            shown: set[str] = set()
            if rule.select.param is not None:
                shown.add(rule.select.param[0])
            for i, e in enumerate(c.entries):
                shown |= {
                    p.name for p in e.spec.params if p.role in rule.select.roles and p.name in c.params[i]
                }
            label = c.label(shown)
            avoid.setdefault(label, Avoid(label, _reason(rule, facts)))
        cands = keep
    for rule in (r for r in active if r.action == "prefer"):
        for c in cands:
            if _matches(rule.select, c):
                c.score += rule.weight
                text = _reason(rule, facts)
                c.reasons.append(text if rule.weight >= 0 else f"against: {text}")
    return cands


def _build(c: _Candidate) -> tuple[dict[str, Any], nn.Module]:
    configs = [{"name": e.name, **p} for e, p in zip(c.entries, c.params, strict=True)]
    if not c.combination:
        return configs[0], build(configs[0])
    config = {
        "name": "combined",
        "terms": {e.name: cfg for e, cfg in zip(c.entries, configs, strict=True)},
        "weights": {e.name: 1.0 for e in c.entries},
    }
    return config, build(config)


def _same_at(values: dict[str, Any], fixed: dict[str, Any], defaults: dict[str, Any]) -> bool:
    """``values`` equal ``fixed`` on its keys and the defaults everywhere else."""
    return all(values.get(k) == fixed.get(k, defaults.get(k)) for k in {*values, *fixed})


def _relation(a: _Candidate, b: _Candidate) -> str | None:
    """The declared identity making ``a`` a positive multiple of ``b`` at their settings, if any."""
    if a.combination or b.combination:
        return None
    spec_a, spec_b = a.entries[0].spec, b.entries[0].spec
    for rel in spec_a.relations:
        if (
            rel.other == b.name
            and rel.factor > 0
            and rel.atol <= 1e-9  # an identity, not a limit
            and _same_at(a.effective(0), rel.params, spec_a.defaults)
            and _same_at(b.effective(0), rel.other_params, spec_b.defaults)
        ):
            return rel.describe(a.name)
    return None


def _proportional(a: _Candidate, b: _Candidate) -> str | None:
    """``a = k * b`` (``k > 0``) on random valid inputs at their settings, if so (float64).

    Catches identities no :class:`~losscraft._core.spec.Relation` can state because they tie
    hyperparameters of different names (balanced softmax with counts ``n`` is logit adjustment
    with priors ``n / N``).
    """
    if a.combination or b.combination:
        return None
    sa, sb = a.entries[0].spec, b.entries[0].spec
    if (sa.inputs, sa.input_kind) != (sb.inputs, sb.input_kind):
        return None
    try:
        gen = torch.Generator().manual_seed(0)
        call = sa.sample(64, generator=gen, dtype=torch.float64, **a.params[0])
        va = build({"name": a.name, **a.params[0], "reduction": "none"})(*call.args, **call.kwargs)
        vb = build({"name": b.name, **b.params[0], "reduction": "none"})(*call.args, **call.kwargs)
    except (LosscraftError, TypeError, ValueError, RuntimeError, IndexError):
        return None  # not callable on the same inputs: not the same loss
    if (
        va.shape != vb.shape
        or va.numel() < 2
        or not bool(torch.isfinite(va).all() & torch.isfinite(vb).all())
    ):
        return None
    den = float((vb * vb).sum())
    if den <= 0:
        return None
    k = float((va * vb).sum()) / den  # least-squares factor
    scale = float(va.abs().max())
    # float32-stored hyperparameters (priors, counts) agree to ~1e-7, distinct losses by far more
    if k <= 0 or not torch.allclose(va, k * vb, rtol=1e-5, atol=1e-7 * scale):
        return None
    return f"{a.label(set(a.params[0]))} = {k:.6g} * {b.label(set(b.params[0]))} on random inputs"


def _distinct(cands: list[_Candidate], notes: list[str], limit: int) -> list[_Candidate]:
    """Drop candidates that equal an earlier (better-ranked) one up to a positive factor.

    Such losses have the same minimiser, so they are one recommendation, not several: the
    registry's :class:`~losscraft._core.spec.Relation` identities (checked by the contract
    suite) say which are, and where the identity ties differently named hyperparameters a
    float64 evaluation on random valid inputs does.
    """
    out: list[_Candidate] = []
    for c in cands:
        if len(out) == limit:  # the rest is not shown
            break
        same = next(
            (
                (k, r)
                for k in out
                if (r := _relation(c, k) or _relation(k, c) or _proportional(c, k)) is not None
            ),
            None,
        )
        if same is None:
            out.append(c)
        else:
            notes.append(f"{c.label()} is left out: the same minimiser as {same[0].label()} ({same[1]})")
    return out


def recommend(
    target_or_profile: Any,
    *,
    goal: str | Goal | None = None,
    features: Any = None,
    task: Any = None,
    group: Any = None,
    top: int = 3,
) -> Recommendations:
    """Rank the catalog's losses for this target and goal, with data-derived settings and reasons.

    Args:
        target_or_profile: the target ``y`` (anything :func:`~losscraft.guide.profiling.profile`
            reads) or a :class:`~losscraft.guide.profiling.Profile`.
        goal: what the model will be judged on (see :func:`parse_goal`); ``None``: the task's
            default goal, stated in the result.
        features: the features ``X`` (raw targets only): pilot-fit residuals, label-noise hint.
        task: override the detected task (raw targets only).
        group: query ids, one per sample, for graded relevance (raw targets only; the task is
            then ``ranking``).
        top: how many recommendations to return (>= 1).

    Raises:
        LosscraftError: an unparsable goal, a goal that does not apply to the task, ``top < 1``,
            ``features``/``task`` given with a profile, or whatever profiling raises.
    """
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise LosscraftError(f"recommend: 'top' must be an int >= 1, got {top!r}")
    if isinstance(target_or_profile, Profile):
        if features is not None or group is not None:
            raise LosscraftError(
                "recommend: 'features' and 'group' apply to a raw target; a Profile already holds its statistics"
            )
        if task is not None and str(task) != target_or_profile.task:
            raise LosscraftError(
                f"recommend: task={str(task)!r} disagrees with the profile's task {target_or_profile.task!r}"
            )
        prof = target_or_profile
    else:
        prof = profile(target_or_profile, task=task, features=features, group=group)
    data_task = Task(prof.task)
    default = goal is None
    if goal is None:
        kind, goal_reason = DEFAULT_GOALS.get(data_task, ("mean", "no default for this task"))
        g = parse_goal(kind)
    else:
        g = parse_goal(goal)
        goal_reason = "given"
    allowed = TASK_GOALS.get(data_task, ())
    if g.kind not in allowed:
        valid = ", ".join(repr(x) for x in GOALS if x.split(":")[0] in allowed)
        raise LosscraftError(
            f"recommend: goal {g.text!r} does not apply to {prof.task}; goals for it: {valid}"
        )
    facts = _facts(prof, g)
    values = _role_values(prof, g)
    ratio = facts["imbalance_ratio"]
    if ratio is None or ratio <= BALANCED_RATIO:  # nothing to re-weight: no weighted variants
        for role in IMBALANCE_ROLES:
            values.pop(role, None)
    avoid: dict[str, Avoid] = {}
    notes: list[str] = []
    tasks = [data_task, *GOAL_TASKS.get(g.kind, ())]
    cands = _apply(_collect(tasks, data_task, values, None, facts), facts, avoid)
    if cands and not any(data_task in e.spec.tasks for c in cands for e in c.entries):
        # only the baseline or other tasks' losses compete: say what the task lacks
        fallback = next(
            (fb for fb in FALLBACKS if fb.task == data_task and (not fb.goals or g.kind in fb.goals)), None
        )
        if fallback is not None:
            notes.append(fallback.reason)
    if not cands:
        for fb in FALLBACKS:
            if fb.task == data_task and (not fb.goals or g.kind in fb.goals):
                notes.append(fb.reason)
                cands = _apply(
                    _collect(list(fb.others), fb.others[0], values, fb.reason, facts), facts, avoid
                )
                if cands:
                    break
    if not cands:
        raise LosscraftError(f"recommend: no registered loss serves {prof.task} (goal {g.text!r})")
    # Ties: the unweighted form first (re-weighting has a price, science.md 2.2), then the loss
    # with fewer hyperparameters left at their defaults, then the name.
    cands.sort(
        key=lambda c: (
            -c.score,
            bool(c.roles & IMBALANCE_ROLES),
            sum(len(e.spec.params) for e in c.entries) - len(c.roles),
            c.name,
        )
    )
    # A loss no rule spoke for is not a recommendation: list only those with a positive score
    # (at least the best one), and say so when that leaves fewer than ``top``.
    kept = [c for c in cands if c.score > 0] or cands[:1]
    n_scored = len(kept)
    if n_scored < top and len(cands) > n_scored:
        notes.append(
            f"only {n_scored} loss(es) have a reason for this data and goal; "
            f"the other {len(cands) - n_scored} candidate(s) have none and are not listed"
        )
    kept = _distinct(kept, notes, top)
    items = []
    for c in kept[:top]:
        config, loss = _build(c)
        params: dict[str, Any] = (
            dict(c.params[0])
            if not c.combination
            else {e.name: dict(p) for e, p in zip(c.entries, c.params, strict=True)}
        )
        items.append(
            Recommendation(c.name, params, loss, round(c.score, 6), tuple(dict.fromkeys(c.reasons)), config)
        )
    return Recommendations(
        items,
        profile=prof,
        goal=g,
        default_goal=default,
        goal_reason=goal_reason,
        avoid=tuple(avoid.values()),
        notes=tuple(notes),
    )
