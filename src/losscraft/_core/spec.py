"""Machine-readable description of a loss: the single home of its metadata.

A :class:`LossSpec` sits beside each loss function. The registry, the Module base class, the
hyperparameter validation, the contract test-suite, the docs, the CLI and the plots all read it.
The function's docstring shows the spec's summary, formula and references verbatim (so an
editor, ``help()`` and the docs show them from the source), and the contract suite
(``tests/contract/test_docstrings.py``) fails when the two drift apart.

Every field is either *executable* (checked by a generic test over the whole registry:
``params`` domains and defaults, ``properties`` in :data:`CHECKED_PROPERTIES`, ``input_kind``,
``target_kind``, ``sample``, ``curve``) or *advisory* (``tasks``, ``summary``,
``when_to_use``, ``when_not_to_use``, ``references``, the params' ``role``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

import torch

__all__ = [
    "CHECKED_PROPERTIES",
    "Call",
    "Choice",
    "Curve",
    "Domain",
    "Family",
    "FloatSeq",
    "InputKind",
    "Interval",
    "LossSpec",
    "Param",
    "Property",
    "Ref",
    "Relation",
    "Role",
    "TargetKind",
    "Task",
    "TensorDomain",
    "parse_number",
]


class _StrEnum(str, Enum):
    """``enum.StrEnum`` for Python 3.10."""

    def __str__(self) -> str:
        return str(self.value)


class Family(_StrEnum):
    """Catalog family a loss belongs to."""

    REGRESSION = "regression"
    CLASSIFICATION = "classification"
    DIVERGENCE = "divergence"
    EMBEDDING = "embedding"
    SEGMENTATION = "segmentation"
    ORDINAL = "ordinal"
    SEQUENCE = "sequence"
    RANKING = "ranking"
    SURVIVAL = "survival"


class Task(_StrEnum):
    """Learning task a loss is used for (advisory)."""

    REGRESSION = "regression"
    QUANTILE_REGRESSION = "quantile_regression"
    BINARY = "binary_classification"
    MULTICLASS = "multiclass_classification"
    MULTILABEL = "multilabel_classification"
    DISTILLATION = "distillation"
    METRIC_LEARNING = "metric_learning"
    SEGMENTATION = "segmentation"
    ORDINAL = "ordinal_regression"  # ordered classes (ratings, grades, stages)
    COUNT = "count_regression"  # non-negative integer counts
    PROPORTION = "proportion_regression"  # fractions in [0, 1]
    SOFT_LABELS = "soft_label_classification"  # distributions over classes as targets
    SEQUENCE = "sequence_transcription"  # label sequences without a frame alignment (speech, OCR)
    RANKING = "ranking"  # ordering the items of each query (search, recommendation)
    SURVIVAL = "survival"  # right-censored times to an event


class Role(_StrEnum):
    """What the data can set for a hyperparameter (advisory; read by the guide).

    A hyperparameter with a role gets its value from statistics of the user's data, computed
    once per role rather than per loss.
    """

    ROBUST_SCALE = "robust_scale"  # residual scale in target units, from a robust residual scale
    CLASS_WEIGHTS = "class_weights"  # per-class weight vector, from class frequencies
    CLASS_COUNTS = "class_counts"  # per-class training sample counts
    CLASS_PRIORS = "class_priors"  # per-class prior probabilities (class frequencies)
    POS_WEIGHT = "pos_weight"  # per-label weight of positives, n_neg / n_pos
    QUANTILE_LEVEL = "quantile_level"  # quantile level(s) tau in (0, 1), from the goal
    SMOOTHING = "smoothing"  # additive overlap smoothing, from foreground and empty-mask shares
    VARIANCE_POWER = "variance_power"  # p of Var(y | x) ~ phi mu^p in [1, 2], from a variance-mean fit


class InputKind(_StrEnum):
    """What the first argument holds."""

    REAL = "real"
    LOGITS = "logits"
    PROBABILITIES = "probabilities"
    EMBEDDINGS = "embeddings"
    COSINES = "cosines"  # cosine similarities in [-1, 1] (margin heads), validated


class TargetKind(_StrEnum):
    """What the target holds."""

    REAL = "real"
    BINARY = "binary"  # {0, 1} (soft values in [0, 1] accepted where documented)
    CLASS_INDEX = "class_index"  # integer class indices, optionally with ignore_index
    CLASS_INDEX_OR_PROBABILITIES = "class_index_or_probabilities"
    PROBABILITIES = "probabilities"  # a distribution over a class dimension
    SIGN = "sign"  # {-1, +1}
    PAIR_LABEL = "pair_label"  # {0, 1}, 1 = similar pair
    COUNT = "count"  # non-negative counts (Poisson)
    SURVIVAL = "survival"  # rows (time, event): right-censored event times, event in {0, 1}
    IDENTITY = "identity"  # integer labels marking which samples belong together (any values)
    NONE = "none"  # no target (triplets)


class Property(_StrEnum):
    """Properties of a loss the guide can reason about.

    The ones in :data:`CHECKED_PROPERTIES` are verified numerically on the spec's
    :class:`Curve` by the contract suite; the rest are advisory.
    """

    NONNEGATIVE = "nonnegative"
    ZERO_AT_MATCH = "zero_at_match"  # minimum 0 where the prediction equals the target
    SYMMETRIC = "symmetric"  # l(-x) == l(x) along the curve's axis (residual)
    CONVEX = "convex"  # convex along the curve's axis
    SMOOTH = "smooth"  # continuously differentiable (C1) along the curve
    BOUNDED_GRADIENT = "bounded_gradient"  # |dl/dx| stays bounded as |x| grows
    SCALE_INVARIANT = "scale_invariant"  # unchanged when the input is rescaled
    ROBUST_TO_OUTLIERS = "robust_to_outliers"
    HANDLES_IMBALANCE = "handles_imbalance"
    DOWNWEIGHTS_EASY = "downweights_easy_examples"
    NEEDS_LOGITS = "needs_logits"
    OVERLAP_METRIC = "overlap_metric"  # optimises a set-overlap score (Dice/IoU)
    FAVOURS_RECALL = "favours_recall"  # at its defaults a missed target unit costs more than in Dice
    VOLUME_WEIGHTED = "volume_weighted"  # weighs each class by the inverse of its target volume
    # the deviance of a variance that grows faster than the mean (Var ~ mu^p, p > 1): a large
    # value's error weighs less than under the Poisson deviance (overdispersed counts, amounts)
    DISPERSION_WEIGHTED = "dispersion_weighted"
    # a separate probability of a structural zero (a second model output per sample)
    ZERO_INFLATED = "zero_inflated"


CHECKED_PROPERTIES = frozenset(
    {
        Property.NONNEGATIVE,
        Property.ZERO_AT_MATCH,
        Property.SYMMETRIC,
        Property.CONVEX,
        Property.SMOOTH,
        Property.BOUNDED_GRADIENT,
        Property.SCALE_INVARIANT,
        Property.NEEDS_LOGITS,
    }
)


# --------------------------------------------------------------------------- domains
# Words Domain.parse reads as None and as the booleans (any case).
_NONE = ("none", "null")
_TRUE = ("true", "yes", "on")
_FALSE = ("false", "no", "off")


def parse_number(text: str, integer: bool = False) -> float | int:
    """An int (``integer``) or a float written as ``text``; floats may be ``inf`` or ``-inf``.

    ``+inf``, ``infinity`` and ``-infinity`` (any case) are read too; surrounding spaces ignored.

    >>> parse_number(" -inf "), parse_number("3", integer=True)
    (-inf, 3)

    Raises:
        ValueError: the text is not such a number.
    """
    t = text.strip()
    if integer:
        return int(t)
    low = t.lower()
    if low in ("inf", "+inf", "infinity"):
        return math.inf
    if low in ("-inf", "-infinity"):
        return -math.inf
    return float(t)


def _literal(text: str) -> Any:
    t = text.strip()
    low = t.lower()
    if low in _NONE:
        return None
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    if "," in t:
        return [_literal(part) for part in t.split(",")]
    for conv in (int, float):
        try:
            return conv(t)
        except ValueError:
            pass
    return t


class Domain:
    """Allowed values of a hyperparameter: validation, description, parsing and test samples."""

    def contains(self, value: Any) -> bool:  # pragma: no cover - abstract
        """Return whether ``value`` is allowed."""
        raise NotImplementedError

    def parse(self, text: str) -> Any:
        """The value written as ``text`` (e.g. the ``v`` of ``losscraft analyze --param k=v``).

        ``none`` / ``null`` (any case, surrounding spaces ignored) give ``None`` in every domain;
        anything else is read by the domain's own syntax (:meth:`_parse`). Parsing does not
        validate: whether the value lies inside the domain is :meth:`contains`'s question
        (``Interval(0, 1).parse("5")`` is ``5.0``).

        Raises:
            ValueError: the text cannot be read as a value of this domain's kind.
        """
        t = text.strip()
        if t.lower() in _NONE:
            return None
        try:
            return self._parse(t)
        except ValueError:
            raise ValueError(f"cannot parse {text!r}: must be {self.describe()}") from None

    def _parse(self, text: str) -> Any:
        """Read stripped text that is not ``none`` (each domain has its own syntax).

        Here a generic literal: a number, a boolean, a comma list of them, else the text itself.
        """
        return _literal(text)

    def describe(self) -> str:  # pragma: no cover - abstract
        """Human-readable description used in error messages and docs."""
        raise NotImplementedError

    def invalid_examples(self) -> list[Any]:
        """Values outside the domain, used by the contract tests."""
        return []

    def to_config(self, value: Any) -> Any:
        """Convert a value into a JSON-friendly form for ``get_config``."""
        return value


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class Interval(Domain):
    """A real interval; ``None`` is allowed when ``optional``.

    Infinite values are rejected, whatever the bounds say (``[0, inf)`` means finite values
    ``>= 0``: ``gamma=inf`` gives NaN), unless ``allow_inf`` is set: then an infinite
    bound is part of the interval when its side is closed (Barron's ``alpha`` takes ``-inf``,
    the Welsch limit: ``Interval(-inf, inf, high_closed=False, allow_inf=True)``). An
    ``integer`` interval holds Python ints that fit in int64 (they are compared with tensors).
    """

    low: float = -math.inf
    high: float = math.inf
    low_closed: bool = True
    high_closed: bool = True
    optional: bool = False
    integer: bool = False
    nonzero: bool = False
    allow_inf: bool = False

    def _closed(self, bound: float, closed: bool) -> bool:
        """Whether ``bound`` belongs to the interval (an infinite one only with ``allow_inf``)."""
        return closed and (math.isfinite(bound) or self.allow_inf)

    def contains(self, value: Any) -> bool:
        """Return whether ``value`` is a real number inside the interval."""
        if value is None:
            return self.optional
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.integer and not (isinstance(value, int) and _INT64_MIN <= value <= _INT64_MAX):
            return False  # an int beyond int64 cannot meet a tensor (e.g. ``t != ignore_index``)
        v = float(value)
        if math.isnan(v) or (math.isinf(v) and not self.allow_inf):
            return False
        lo_ok = v >= self.low if self._closed(self.low, self.low_closed) else v > self.low
        hi_ok = v <= self.high if self._closed(self.high, self.high_closed) else v < self.high
        return lo_ok and hi_ok and not (self.nonzero and v == 0.0)

    def _parse(self, text: str) -> float | int:
        """An int (``integer``) or a float, ``inf`` / ``-inf`` allowed (see :func:`parse_number`)."""
        return parse_number(text, self.integer)

    def describe(self) -> str:
        """E.g. ``a float in (0, inf)``; ``[-inf, inf)`` when ``-inf`` is allowed."""
        lb = "[" if self._closed(self.low, self.low_closed) else "("
        rb = "]" if self._closed(self.high, self.high_closed) else ")"
        kind = "an int" if self.integer else "a float"
        text = f"{kind} in {lb}{_fmt(self.low)}, {_fmt(self.high)}{rb}"
        if self.nonzero:
            text += ", not 0"
        return text + " or None" if self.optional else text

    def invalid_examples(self) -> list[Any]:
        """Just outside each finite bound, the bound itself when open, NaN, a string and ±inf.

        An infinite bound is itself an invalid example unless the interval includes it.
        """
        out: list[Any] = [math.nan, "1", *([0.0] if self.nonzero else [])]
        for bound, closed, step in ((self.low, self.low_closed, -1.0), (self.high, self.high_closed, 1.0)):
            if math.isfinite(bound):
                out.append(bound + step * max(1.0, abs(bound)) * 0.5)
                if not closed:
                    out.append(bound)
                out.append(step * math.inf)  # beyond a finite bound
            else:
                if not self._closed(bound, closed):
                    out.append(bound)
                if self.integer:  # one beyond int64
                    out.append(_INT64_MAX + 1 if step > 0 else _INT64_MIN - 1)
        return out


@dataclass(frozen=True)
class FloatSeq(Domain):
    """A float or a non-empty sequence of floats, each inside ``element``."""

    element: Interval

    def contains(self, value: Any) -> bool:
        """Accept a scalar in ``element`` or a non-empty sequence of them."""
        if isinstance(value, (list, tuple)):
            return len(value) > 0 and all(self.element.contains(v) for v in value)
        return self.element.contains(value)

    def _parse(self, text: str) -> float | int | list[float | int]:
        """A number as in :class:`Interval`, or a comma list of them (``0.1,0.5,0.9``)."""
        if "," in text:
            return [parse_number(part, self.element.integer) for part in text.split(",")]
        return parse_number(text, self.element.integer)

    def describe(self) -> str:
        """E.g. ``a float in (0, 1), or a non-empty sequence of them``."""
        return f"{self.element.describe()}, or a non-empty sequence of them"

    def invalid_examples(self) -> list[Any]:
        """Invalid scalars, an empty sequence and a sequence with one bad element."""
        bad = self.element.invalid_examples()
        return [*bad, [], [bad[0]]]

    def to_config(self, value: Any) -> Any:
        """Sequences become lists."""
        return list(value) if isinstance(value, (list, tuple)) else value


@dataclass(frozen=True)
class Choice(Domain):
    """One of a fixed set of values."""

    values: tuple[Any, ...]

    def contains(self, value: Any) -> bool:
        """Exact membership (``True`` is not ``1``)."""
        return any(value is v or (type(value) is type(v) and value == v) for v in self.values)

    def _parse(self, text: str) -> Any:
        """The choice whose text matches, case-insensitively.

        Booleans are written ``true`` / ``yes`` / ``on`` and ``false`` / ``no`` / ``off``.
        """
        low = text.lower()
        for choice in self.values:
            if isinstance(choice, bool):
                if (choice and low in _TRUE) or (not choice and low in _FALSE):
                    return choice
            elif str(choice).lower() == low:
                return choice
        raise ValueError(text)

    def describe(self) -> str:
        """E.g. ``one of 'binary', 'multiclass'``."""
        return "one of " + ", ".join(repr(v) for v in self.values)

    def invalid_examples(self) -> list[Any]:
        """A value that is never a valid choice."""
        return ["__not_a_choice__"]


@dataclass(frozen=True)
class TensorDomain(Domain):
    """An optional 1-D float tensor, or sequence of real numbers, of finite values ``>= 0``.

    Used for per-class weights, ``pos_weight``, class counts and priors (``positive``: ``> 0``).
    Functions and Modules accept the same values: a list or tuple is converted once by
    :func:`losscraft._core.checks.as_tensor_param`. The shape is checked against the input by
    the loss itself; the values by :func:`losscraft._core.checks.value_error` (one pass).
    """

    optional: bool = True
    positive: bool = False

    def structure_ok(self, value: Any) -> bool:
        """``value`` is a non-empty 1-D floating tensor or a non-empty sequence of real numbers."""
        if isinstance(value, (list, tuple)):
            return len(value) > 0 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
            )
        return (
            isinstance(value, torch.Tensor)
            and value.is_floating_point()
            and value.dim() == 1
            and value.numel() > 0
        )

    def value_error(self, value: Any) -> str | None:
        """``None`` if every value is finite and ``>= 0`` (``> 0``), else what was found."""
        from .values import value_error

        return value_error(value, low=0.0, strict=self.positive)

    def contains(self, value: Any) -> bool:
        """Accept ``None`` (if optional) or a 1-D tensor / sequence of allowed values."""
        if value is None:
            return self.optional
        return self.structure_ok(value) and self.value_error(value) is None

    def _parse(self, text: str) -> torch.Tensor:
        """A comma list of floats (``3`` or ``1,2.5``), as a float64 tensor."""
        return torch.tensor([float(part) for part in text.split(",")], dtype=torch.float64)

    @property
    def values_rule(self) -> str:
        """E.g. ``finite values >= 0``."""
        return "finite values " + ("> 0" if self.positive else ">= 0")

    def describe(self) -> str:
        """E.g. ``a 1-D float tensor (or list) of finite values >= 0 or None``."""
        text = f"a 1-D float tensor (or list) of {self.values_rule}"
        return text + (" or None" if self.optional else "")

    def invalid_examples(self) -> list[Any]:
        """Negative, NaN and infinite entries (tensor and list), 2-D, integer and empty tensors."""
        bad = [
            torch.tensor([1.0, -1.0]),
            torch.tensor([1.0, math.nan]),
            torch.tensor([math.inf, 1.0]),
            [1.0, -1.0],
            (1.0, math.nan),
            [1.0, math.inf],
            torch.ones(2, 2),
            torch.tensor([1, 2]),
            torch.empty(0),
            [],
            ["1"],
        ]
        if self.positive:
            bad += [torch.tensor([1.0, 0.0]), [0.0, 1.0]]
        return bad

    def to_config(self, value: Any) -> Any:
        """Tensors become lists of floats; sequences keep the user's numbers."""
        if isinstance(value, torch.Tensor):
            return [float(v) for v in value.detach().cpu().tolist()]
        return list(value) if isinstance(value, tuple) else value


def _fmt(x: float) -> str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:g}"


@dataclass(frozen=True)
class Param:
    """A keyword-only hyperparameter: name, default, domain, one line of doc and its data role.

    ``role`` (keyword only) says what statistic of the user's data can set it (see :class:`Role`);
    ``None`` when the data has no say.
    """

    name: str
    default: Any
    domain: Domain
    doc: str = ""
    role: Role | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class Ref:
    """A literature reference, stored as data."""

    authors: str
    title: str
    venue: str
    year: int
    url: str = ""

    def __str__(self) -> str:
        tail = f" {self.url}" if self.url else ""
        return f"{self.authors} ({self.year}). {self.title}. {self.venue}.{tail}"


# --------------------------------------------------------------------------- calls and curves
@dataclass
class Call:
    """Positional tensors and keyword arguments for one call of a loss function."""

    args: tuple[torch.Tensor, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)


SampleFn = Callable[..., Call]
"""``sample(n, *, generator, dtype, **hparams) -> Call``: valid random inputs of batch size
``n`` (``n=0`` gives an empty batch). Used by the contract tests, benchmarks and docs."""


@dataclass(frozen=True)
class Curve:
    """A 1-D slice through a loss, for property checks, analysis and plots.

    ``make(x, **hparams)`` turns a 1-D grid ``x`` into a :class:`Call` whose unreduced
    (``reduction="none"``) result has one value per grid point. ``axis`` names what ``x`` is;
    ``domain`` is the default grid for checks and plots; ``extent`` is the whole range over
    which ``x`` is valid (``BOUNDED_GRADIENT`` is checked by walking towards its ends:
    ``+-1e1 .. +-1e4`` for an infinite end, ``b -+ 1e-2 .. 1e-6`` for a finite one); ``zero``
    is where the prediction equals the target (``ZERO_AT_MATCH`` / ``SYMMETRIC`` centre).
    Evaluate with :meth:`values`, which also handles ``pointwise`` curves.
    """

    axis: Literal["residual", "logit", "log_rate", "probability", "margin", "distance", "cosine"]
    domain: tuple[float, float]
    make: Callable[..., Call]
    zero: float = 0.0
    extent: tuple[float, float] = (-math.inf, math.inf)
    label: str = ""
    pointwise: bool = False

    def values(self, fn: Callable[..., torch.Tensor], x: torch.Tensor, **hparams: Any) -> torch.Tensor:
        """The unreduced loss ``fn`` along this curve at the 1-D grid ``x`` (differentiable in ``x``).

        An ordinary curve is one call over the whole grid. A ``pointwise`` curve is for losses
        in which every sample interacts with every other (InfoNCE, SupCon, batch triplet): no
        single batch can hold one independent problem per grid point, so ``make`` receives one
        0-d grid value at a time and the curve value is element 0 (the probe) of the result.
        """
        if self.pointwise:
            parts = []
            for xi in x.reshape(-1).unbind(0):
                call = self.make(xi, **hparams)
                parts.append(fn(*call.args, reduction="none", **{**hparams, **call.kwargs}).reshape(-1)[:1])
            return torch.cat(parts) if parts else x.new_zeros((0,))
        call = self.make(x, **hparams)
        return fn(*call.args, reduction="none", **{**hparams, **call.kwargs}).reshape(-1)


@dataclass(frozen=True)
class Relation:
    """An identity with another registry entry, checked by the contract suite.

    On this entry's ``sample(n, **params)``: ``this(**params) == factor * other(**other_params)``
    for every reduction, within ``rtol``/``atol`` (``atol > 0`` states a limit such as
    ``q -> 0``). ``transform`` optionally maps this entry's :class:`Call` to the other's inputs
    (e.g. logits to probabilities); by default the same tensors are passed.
    """

    other: str
    params: dict[str, Any] = field(default_factory=dict)
    other_params: dict[str, Any] = field(default_factory=dict)
    factor: float = 1.0
    rtol: float = 1e-10
    atol: float = 1e-12
    transform: Callable[[Call], Call] | None = None
    note: str = ""

    def describe(self, name: str) -> str:
        """E.g. ``tversky(alpha=0.5, beta=0.5) = dice()``."""
        lhs = f"{name}({_kw(self.params)})"
        rhs = f"{self.other}({_kw(self.other_params)})"
        if self.factor != 1.0:
            rhs = f"{self.factor:g} * {rhs}"
        approx = " (limit)" if self.atol > 1e-9 else ""
        return f"{lhs} = {rhs}{approx}" + (f": {self.note}" if self.note else "")


def _kw(d: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in d.items())


@dataclass(frozen=True)
class LossSpec:
    """Everything losscraft knows about one loss, apart from its code and prose.

    Attributes:
        name: registry key, snake_case (``"huber"``); the function is ``<name>_loss``.
        family: catalog family.
        tasks: tasks it is used for (advisory).
        input_kind: what the first argument holds.
        target_kind: what the target holds.
        inputs: names of the positional tensor arguments, in order.
        params: keyword-only hyperparameters (``weight`` and ``reduction`` excluded).
        properties: see :class:`Property`.
        formula: LaTeX of the unreduced loss, one line; the function's docstring shows the
            same text as its display formula ``$$...$$`` (the contract suite holds them equal).
        summary: one line: the function docstring's first line, verbatim (both written, held
            equal by the contract suite).
        references: literature; the docstring's ``References:`` section lists the same
            entries, rendered by ``str(Ref)`` (held equal by the contract suite).
        sample: random valid inputs (see :data:`SampleFn`).
        curve: a 1-D slice for property checks and plots, or ``None``.
        relations: identities with other entries (see :class:`Relation`), tested.
        more_curves: further slices for losses with several branches (e.g. similar and
            dissimilar pairs); a measured property must hold on every curve.
        none_shape: what ``reduction="none"`` returns: ``"element"`` (input's shape),
            ``"sample"`` (one value per sample / position, class dim reduced), or a short
            free-text description for special cases.
        weight: meaning of the ``weight`` argument: ``"element"`` (broadcastable to the
            unreduced loss, a forward-time argument), ``"class"`` (a per-class
            hyperparameter, stored by the Module) or ``"none"`` (the loss takes no loss
            weight; e.g. ``linear_cross_entropy``, whose positional ``weight`` input is the
            classifier matrix).
        call_inputs: optional keyword-only tensors given at call time, default ``None``, placed
            after the hyperparameters (e.g. ``linear_cross_entropy``'s ``bias``). They are
            inputs, not hyperparameters: the Module's ``forward`` takes them as keywords.
        ignore_index: whether the loss accepts ``ignore_index``.
        probability_input: the first argument must lie in [0, 1] (validated).
        differentiable: whether gradients flow to the inputs (all current losses).
        when_to_use: advisory prose.
        when_not_to_use: advisory prose: the situations where another loss is the better
            choice, naming that loss by its registry key, and why (e.g. ``mse``: not with
            gross outliers, use ``huber``).
        extreme: the input magnitude up to which the loss must be finite (contract-tested):
            1e4 for logits and residuals; smaller only where the true value overflows float32
            (``exp`` of a log-rate).
        batch_coupling: how the loss couples the samples of a batch, i.e. what must become
            global for the full-batch answer under data parallelism (``losscraft.distributed``):
            ``"samples"``: only through the mean's count (per-sample losses; the count is
            all-reduced); ``"overlap_sums"``: through per-class sums over the batch (the Dice
            family with ``aggregate="batch"``); ``"embeddings"``: every sample is compared
            with the others' embeddings (contrastive losses); ``"sort"``: through a sort of
            the whole batch's errors (Lovász with ``aggregate="batch"``); ``"risk_sets"``: every
            event is compared with the risk set of the samples still at risk at its time, over
            the whole batch (Cox's partial likelihood); ``"proxy_sums"``: per-proxy sums of
            exponentials over the batch (Proxy Anchor; the proxies are shared). An entry with an
            ``aggregate`` parameter couples only with ``aggregate="batch"`` (per image it is
            per sample): see :meth:`coupling`.
        surrogate_gradient: empty for every loss whose backward is the derivative of its value.
            Non-empty (the reason, with the paper) for a loss whose published gradient is
            deliberately not that derivative, e.g. weights computed from the similarities and
            held constant in the backward pass (circle loss). The contract suite then checks
            that finite differences of the value really disagree with the backward, instead of
            ``gradcheck`` passing; the backward itself is tested against the paper's closed form.
        double_backward: empty for every loss whose gradient can itself be differentiated
            (``create_graph=True``: gradient penalties, Hessian-vector products). Non-empty (the
            reason) for a loss whose kernel has no second derivative (``ctc``: torch's CTC
            backward): differentiating its gradient raises a :class:`LosscraftError` that says
            so, and the contract suite checks that error instead of ``gradgradcheck``.
    """

    name: str
    family: Family
    tasks: tuple[Task, ...]
    input_kind: InputKind
    target_kind: TargetKind
    params: tuple[Param, ...]
    properties: frozenset[Property]
    formula: str
    summary: str
    references: tuple[Ref, ...]
    sample: SampleFn
    curve: Curve | None = None
    more_curves: tuple[Curve, ...] = ()
    relations: tuple[Relation, ...] = ()
    inputs: tuple[str, ...] = ("input", "target")
    none_shape: str = "element"
    weight: Literal["element", "class", "none"] = "element"
    call_inputs: tuple[str, ...] = ()
    ignore_index: bool = False
    when_to_use: str = ""
    when_not_to_use: str = ""
    extreme: float = 1e4
    batch_coupling: Literal["samples", "overlap_sums", "embeddings", "sort", "risk_sets", "proxy_sums"] = (
        "samples"
    )
    surrogate_gradient: str = ""
    double_backward: str = ""

    def coupling(self, hparams: Mapping[str, Any] | None = None) -> str:
        """The :attr:`batch_coupling` of a call with ``hparams`` (missing ones: the defaults).

        ``"samples"`` when the entry has an ``aggregate`` parameter whose value is not
        ``"batch"``: a per-image Dice or Lovász score couples nothing but the mean's count.
        """
        if self.batch_coupling == "samples":
            return "samples"
        if any(p.name == "aggregate" for p in self.params):
            value = {**self.defaults, **(hparams or {})}["aggregate"]
            if value != "batch":
                return "samples"
        return self.batch_coupling

    @property
    def function_name(self) -> str:
        """Name of the functional form, ``<name>_loss``."""
        return f"{self.name}_loss"

    @property
    def defaults(self) -> dict[str, Any]:
        """Hyperparameter defaults, including ``reduction``."""
        return {**{p.name: p.default for p in self.params}, "reduction": "mean"}

    @property
    def curves(self) -> tuple[Curve, ...]:
        """All curves: the primary one first."""
        return () if self.curve is None else (self.curve, *self.more_curves)

    def param(self, name: str) -> Param:
        """Look up a hyperparameter by name."""
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def has(self, prop: Property) -> bool:
        """Whether the loss declares ``prop``."""
        return prop in self.properties
