"""The guide's decision rules: one table of data, read by :func:`losscraft.guide.recommending.recommend`.

Each :class:`Rule` row has a condition on the profile's statistics and the goal, an effect on
the registry entries it selects by their metadata (properties, tasks, input/target kinds, the
hyperparameter roles the data fills), a reason template that cites the measured statistic, and
its source. No loss is named here except the plain baselines (MSE, cross-entropy,
BCE-with-logits), which are the reference every other choice must beat: a new loss with the
right properties becomes recommendable without touching this file.

A condition is a tuple of ``(fact, operator, value)`` triples, all of which must hold. A fact
is a dotted path into the profile (``"regression.outlier_fraction"``), ``"task"``, ``"goal"``
(the goal's kind) or one of the derived facts listed in :data:`DERIVED_FACTS`; a fact that the
profile does not have (``None``) makes its triple false. Reason templates are formatted with
the same facts (``"{regression.outlier_fraction:.1%}"``).

Sources marked ``[measured]`` / ``[lit]`` / ``[heur]`` refer to the design notes' Part 2
(``science.md``), where the measurement or paper behind each threshold is described.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .._core.spec import InputKind, Property, Role, TargetKind, Task

__all__ = [
    "BASELINES",
    "BASELINE_OVERRIDES",
    "COMBINATIONS",
    "DEFAULT_GOALS",
    "DERIVED_FACTS",
    "FALLBACKS",
    "GOAL_TASKS",
    "GOALS",
    "IMBALANCE_ROLES",
    "RULES",
    "TASK_EXTENSIONS",
    "TASK_GOALS",
    "TASK_TARGET_KINDS",
    "Combination",
    "Condition",
    "Extension",
    "Fallback",
    "Rule",
    "Select",
]

Condition = tuple[str, str, Any]
"""``(fact, operator, value)``; operators: ``> >= < <= == != in not in``."""

Action = Literal["prefer", "avoid", "require", "set"]


@dataclass(frozen=True)
class Select:
    """Which candidates a rule acts on (every given field must match; empty fields match all).

    Attributes:
        properties: the loss declares all of these :class:`Property` values.
        lacks: the loss declares none of these.
        tasks: the loss serves at least one of these tasks.
        roles: the candidate has a data-derived value for at least one hyperparameter with one
            of these roles (``CLASS_WEIGHTS`` selects the re-weighted variant of a loss).
        input_kinds / target_kinds: the loss's first argument / target is one of these kinds.
        param: ``(name, value)``: the candidate's hyperparameter ``name`` equals ``value``.
        baseline: only the task's plain baseline (``True``) or everything else (``False``).
        reweighted: only candidates with (``True``) or without (``False``) a data-derived value
            for a re-weighting role (:data:`IMBALANCE_ROLES`).
        combination: only combinations (``True``) or only single losses (``False``).
        settable: ``(name, value)``: the loss has hyperparameter ``name`` and ``value`` is allowed.
        any_of: at least one of these selections matches (an "or"; empty: no constraint).
    """

    properties: frozenset[Property] = frozenset()
    lacks: frozenset[Property] = frozenset()
    tasks: frozenset[Task] = frozenset()
    roles: frozenset[Role] = frozenset()
    input_kinds: frozenset[InputKind] = frozenset()
    target_kinds: frozenset[TargetKind] = frozenset()
    param: tuple[str, Any] | None = None
    baseline: bool | None = None
    reweighted: bool | None = None
    combination: bool | None = None
    settable: tuple[str, Any] | None = None
    any_of: tuple[Select, ...] = ()


@dataclass(frozen=True)
class Rule:
    """One row of the decision table.

    Attributes:
        id: short stable identifier (shown in reasons and docs).
        when: conditions, all of which must hold.
        action: ``prefer`` adds ``weight`` to the score of the selected candidates (negative:
            a penalty); ``avoid`` removes them and lists them in ``Recommendations.avoid``;
            ``require`` removes every candidate *not* selected; ``set`` sets the hyperparameter
            ``value = (name, value)`` on the selected candidates that have it.
        select: the candidates acted on.
        reason: plain-language template citing the statistic (formatted with the facts).
        source: the paper or the design notes' section behind the rule.
        weight: score change for ``prefer``.
        value: ``(name, value)`` for ``set``.
    """

    id: str
    when: tuple[Condition, ...]
    action: Action
    select: Select
    reason: str
    source: str
    weight: float = 0.0
    value: tuple[str, Any] | None = None


@dataclass(frozen=True)
class Combination:
    """A compound loss template: the task's baseline plus each loss ``second`` selects.

    Built for the tasks listed, named ``"<baseline>+<second>"`` (e.g. ``"bce_with_logits+dice"``).
    """

    id: str
    tasks: frozenset[Task]
    second: Select
    source: str


@dataclass(frozen=True)
class Extension:
    """Losses of another task that also serve this one (when ``when`` holds), with the reason."""

    task: Task
    other: Task
    select: Select
    reason: str
    when: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class Fallback:
    """Where to look when no registered loss serves a task (or survives its requirements).

    ``goals``: the goal kinds this fallback is for (empty: any goal); the first row that applies
    and yields candidates is used.
    """

    task: Task
    others: tuple[Task, ...]
    reason: str
    goals: tuple[str, ...] = ()


def _s(**kw: Any) -> Select:
    """A :class:`Select` from sets written as tuples (keeps the table short)."""
    fields: dict[str, Any] = {k: frozenset(v) if k in _SET_FIELDS else v for k, v in kw.items()}
    return Select(**fields)


_SET_FIELDS = ("properties", "lacks", "tasks", "roles", "input_kinds", "target_kinds")


P = Property
R = Role
T = Task

# The plain, goal-consistent reference for each task (Gneiting 2011: squared error for the mean,
# log loss for probabilities). These are the only loss names the guide knows.
BASELINES: dict[Task, str] = {
    T.REGRESSION: "mse",
    T.QUANTILE_REGRESSION: "mse",
    T.COUNT: "mse",
    T.BINARY: "bce_with_logits",
    T.MULTILABEL: "bce_with_logits",
    T.PROPORTION: "bce_with_logits",
    T.MULTICLASS: "cross_entropy",
    T.SOFT_LABELS: "cross_entropy",
    T.SEGMENTATION: "bce_with_logits",
}

# Baselines that depend on the data: multi-class masks take cross-entropy, not BCE.
BASELINE_OVERRIDES: tuple[tuple[Task, Condition, str], ...] = (
    (T.SEGMENTATION, ("masks.n_classes", ">", 2), "cross_entropy"),
    # the mean level is a regression target (the goal itself reads the levels as numbers)
    (T.ORDINAL, ("goal", "==", "mean"), "mse"),
)

# Roles that re-weight the training distribution (they buy minority recall at the price of calibration).
IMBALANCE_ROLES: frozenset[Role] = frozenset({R.CLASS_WEIGHTS, R.POS_WEIGHT})

GOALS: tuple[str, ...] = (
    "mean",
    "median",
    "interval:P",
    "quantile:Q",
    "calibrated-probabilities",
    "rank",
    "recall-minority",
    "overlap",
)

_REG_GOALS = ("mean", "median", "interval", "quantile")
_CLS_GOALS = ("calibrated-probabilities", "rank", "recall-minority")

TASK_GOALS: dict[Task, tuple[str, ...]] = {
    T.REGRESSION: _REG_GOALS,
    T.QUANTILE_REGRESSION: _REG_GOALS,
    T.COUNT: _REG_GOALS,
    T.PROPORTION: _REG_GOALS,
    T.ORDINAL: (*_REG_GOALS, *_CLS_GOALS),
    T.BINARY: _CLS_GOALS,
    T.MULTICLASS: _CLS_GOALS,
    T.MULTILABEL: _CLS_GOALS,
    T.SOFT_LABELS: ("calibrated-probabilities",),
    T.SEGMENTATION: ("overlap", *_CLS_GOALS),
    T.RANKING: ("rank",),
    T.SURVIVAL: ("rank",),
    T.SEQUENCE: ("calibrated-probabilities",),
}

# The goal assumed when none is given, and why (stated in the output).
DEFAULT_GOALS: dict[Task, tuple[str, str]] = {
    T.REGRESSION: ("mean", "squared error is consistent for the mean (Gneiting 2011)"),
    T.QUANTILE_REGRESSION: ("median", "a quantile task without a level: the median"),
    T.COUNT: ("mean", "the expected count; the Poisson deviance is consistent for the mean"),
    T.PROPORTION: ("mean", "the expected fraction; log loss on soft targets is consistent for it"),
    T.ORDINAL: (
        "calibrated-probabilities",
        "ordered levels: a threshold model gives their distribution, from which the mode, median or "
        "mean level follows; say 'mean' to score the levels as equally spaced numbers",
    ),
    T.BINARY: (
        "calibrated-probabilities",
        "log loss is a proper scoring rule; thresholds can be moved afterwards (Elkan 2001)",
    ),
    T.MULTICLASS: (
        "calibrated-probabilities",
        "log loss is a proper scoring rule; priors can be corrected afterwards (Saerens 2002)",
    ),
    T.MULTILABEL: ("calibrated-probabilities", "per-label log loss is a proper scoring rule"),
    T.SOFT_LABELS: ("calibrated-probabilities", "the target is a distribution"),
    T.SEGMENTATION: ("overlap", "segmentation is usually judged by Dice / IoU"),
    T.RANKING: ("rank", "the order of the items within each query (NDCG, MAP)"),
    T.SURVIVAL: ("rank", "the order of the risks (concordance index); the baseline hazard is left out"),
    T.SEQUENCE: (
        "calibrated-probabilities",
        "the likelihood of the label sequence, summed over its alignments",
    ),
}

# Goals that widen the candidate set to the losses of another task.
GOAL_TASKS: dict[str, tuple[Task, ...]] = {
    "median": (T.QUANTILE_REGRESSION,),
    "quantile": (T.QUANTILE_REGRESSION,),
    "interval": (T.QUANTILE_REGRESSION,),
}

# Target kinds a loss must take to be called on this task's targets.
TASK_TARGET_KINDS: dict[Task, frozenset[TargetKind]] = {
    T.REGRESSION: frozenset({TargetKind.REAL}),
    T.QUANTILE_REGRESSION: frozenset({TargetKind.REAL}),
    T.COUNT: frozenset({TargetKind.COUNT, TargetKind.REAL}),
    T.PROPORTION: frozenset({TargetKind.BINARY, TargetKind.REAL, TargetKind.PROBABILITIES}),
    T.BINARY: frozenset({TargetKind.BINARY}),
    T.MULTICLASS: frozenset({TargetKind.CLASS_INDEX, TargetKind.CLASS_INDEX_OR_PROBABILITIES}),
    T.MULTILABEL: frozenset({TargetKind.BINARY}),
    T.SOFT_LABELS: frozenset({TargetKind.PROBABILITIES, TargetKind.CLASS_INDEX_OR_PROBABILITIES}),
    T.SEGMENTATION: frozenset({TargetKind.BINARY, TargetKind.CLASS_INDEX}),
    T.ORDINAL: frozenset({TargetKind.CLASS_INDEX, TargetKind.REAL}),
    # graded relevance per query (pairwise losses on (x1, x2, sign) take another data layout)
    T.RANKING: frozenset({TargetKind.COUNT, TargetKind.REAL}),
    T.SURVIVAL: frozenset({TargetKind.SURVIVAL}),
    T.SEQUENCE: frozenset({TargetKind.CLASS_INDEX}),
}

TASK_EXTENSIONS: tuple[Extension, ...] = (
    Extension(
        T.BINARY,
        T.MULTICLASS,
        _s(properties=(P.HANDLES_IMBALANCE,), lacks=(P.OVERLAP_METRIC,), input_kinds=(InputKind.LOGITS,)),
        "a binary target is a 2-class problem: the model outputs 2 logits per sample",
    ),
    Extension(
        T.BINARY,
        T.MULTICLASS,
        _s(properties=(P.ROBUST_TO_OUTLIERS,), input_kinds=(InputKind.LOGITS,)),
        "a binary target is a 2-class problem: the model outputs 2 logits per sample",
    ),
    Extension(
        T.REGRESSION,
        T.COUNT,
        _s(baseline=False),
        "a non-negative target: count losses' deviances are defined for non-negative real values too "
        "(quasi-likelihood, McCullagh & Nelder 1989)",
        when=(("regression.nonnegative", "==", True),),
    ),
)

FALLBACKS: tuple[Fallback, ...] = (
    Fallback(
        T.ORDINAL,
        (T.REGRESSION,),
        "no registered loss serves ordinal_regression yet: for this goal the levels are treated as "
        "numbers (equal spacing assumed)",
        goals=_REG_GOALS,
    ),
    Fallback(
        T.ORDINAL,
        (T.MULTICLASS,),
        "no registered loss serves ordinal_regression yet: for class probabilities the levels are "
        "treated as classes (order ignored)",
        goals=_CLS_GOALS,
    ),
    Fallback(
        T.COUNT,
        (T.REGRESSION,),
        "no registered loss serves count_regression: the counts are treated as real targets",
    ),
    Fallback(
        T.PROPORTION,
        (T.BINARY, T.REGRESSION),
        "no registered loss serves proportion_regression: fractions are soft binary targets or real targets",
    ),
    Fallback(
        T.SOFT_LABELS, (T.DISTILLATION, T.MULTICLASS), "no registered loss serves soft_label_classification"
    ),
    Fallback(
        T.QUANTILE_REGRESSION, (T.REGRESSION,), "no loss with a quantile-level hyperparameter serves the task"
    ),
)

COMBINATIONS: tuple[Combination, ...] = (
    Combination(
        "SEG-COMPOUND",
        frozenset({T.SEGMENTATION}),
        _s(properties=(P.OVERLAP_METRIC,), tasks=(T.SEGMENTATION,), target_kinds=(TargetKind.BINARY,)),
        "Ma et al. 2021 (Loss odyssey): compound losses are the most robust; science.md 2.4",
    ),
)

# Facts computed from the profile (beyond dotted paths into it).
DERIVED_FACTS: dict[str, str] = {
    "n_classes": "number of classes (ClassStats.labels)",
    "imbalance_ratio": "largest/smallest class count (classes), or largest negative/positive ratio (labels)",
    "min_foreground": "smallest per-class foreground fraction of the masks",
    "min_positive_rate": "smallest positive rate over the labels (multilabel)",
    "max_pos_ratio": "largest negative/positive ratio over the labels (binary: n0/n1)",
    "quantile_levels": "the quantile levels the goal asks for",
    "skewed_mean": "the goal is the mean and the far values are the long upper tail of a skewed "
    "non-negative target (regression.long_upper_tail)",
    "noise_vs_chance": "label_noise / label_noise_chance: near 1 the features do not predict the label",
    "poisson_zeros": "share of zeros a Poisson with the target's mean predicts, exp(-mean)",
    "excess_zeros": "regression.zero_share - poisson_zeros (non-negative targets)",
    "nb_zeros": "share of zeros a negative binomial with the target's mean m and variance v predicts, "
    "(m/v)^(m^2/(v-m)) (poisson_zeros when v <= m)",
    "excess_zeros_nb": "regression.zero_share - nb_zeros: zeros that overdispersion alone does not explain",
}

_CLS = (T.BINARY.value, T.MULTICLASS.value)
_NOT_METRIC = _s(input_kinds=(InputKind.REAL, InputKind.LOGITS, InputKind.PROBABILITIES))
_ROBUST = (P.BOUNDED_GRADIENT, P.ROBUST_TO_OUTLIERS)
_PRIOR_ROLES = (R.CLASS_PRIORS, R.CLASS_COUNTS)

RULES: tuple[Rule, ...] = (
    # ------------------------------------------------------------------ every task
    Rule(
        "ALL-HEAD",
        (),
        "require",
        _NOT_METRIC,
        "the model's output is a real value, logits or probabilities (not an embedding or cosine head)",
        "losscraft spec: input kinds",
    ),
    Rule(
        "ALL-BASELINE",
        (),
        "prefer",
        _s(baseline=True),
        "the plain baseline for {task}, consistent with the goal '{goal}' (Gneiting 2011)",
        "Gneiting 2011; Hennig & Kutlukaya 2007 (science.md 1.6)",
        weight=1.0,
    ),
    Rule(
        "ALL-PROBINPUT",
        (),
        "prefer",
        _s(input_kinds=(InputKind.PROBABILITIES,)),
        "takes probabilities: a logits form is numerically safer",
        "losscraft docs (numerics)",
        weight=-1.5,
    ),
    # ------------------------------------------------------------------ regression
    Rule(
        "REG-CLEAN",
        (
            ("task", "!=", T.COUNT.value),  # counts: the Poisson deviance vs MSE is COUNT-POISSON's call
            ("regression.outlier_fraction", "<", 0.01),
            ("regression.heavy_tails", "==", False),
            ("goal", "==", "mean"),
        ),
        "prefer",
        _s(baseline=True),
        "only {regression.outlier_fraction:.1%} of targets lie more than 3.5 robust SD out (residuals from "
        "{regression.residuals_from}) and the tails are light: plain MSE (a robust loss costs a little on clean data)",
        "science.md 2.3 [measured]",
        weight=2.0,
    ),
    Rule(
        "REG-CONTAMINATED",
        (
            ("goal", "==", "mean"),
            ("skewed_mean", "==", False),
            ("regression.outlier_fraction", ">=", 0.01),
        ),
        "prefer",
        _s(properties=_ROBUST),
        "{regression.outlier_fraction:.1%} of targets lie more than 3.5 robust SD out (residuals from "
        "{regression.residuals_from}) -> a bounded-gradient loss",
        "Iglewicz & Hoaglin 1993; science.md 2.3 [measured]",
        weight=3.0,
    ),
    Rule(
        "REG-MODERATE-CONVEX",
        (
            ("goal", "==", "mean"),
            ("skewed_mean", "==", False),
            ("regression.outlier_fraction", ">=", 0.01),
            ("regression.outlier_fraction", "<=", 0.10),
        ),
        "prefer",
        _s(properties=(*_ROBUST, P.CONVEX)),
        "{regression.outlier_fraction:.1%} contamination (1-10%): a convex Huber-like loss keeps a unique fit",
        "science.md 2.3 [measured + heur]",
        weight=1.0,
    ),
    Rule(
        "REG-SCALE",
        (
            ("goal", "==", "mean"),
            ("skewed_mean", "==", False),
            ("regression.outlier_fraction", ">=", 0.01),
        ),
        "prefer",
        _s(roles=(R.ROBUST_SCALE,)),
        "its scale is set from the robust residual scale {regression.robust_scale:.4g}",
        "Huber 1964 (delta = 1.345 sigma); science.md 2.3 [lit]",
        weight=0.5,
    ),
    Rule(
        "REG-GROSS",
        (
            ("goal", "==", "mean"),
            ("skewed_mean", "==", False),
            ("regression.outlier_fraction", ">", 0.10),
        ),
        "prefer",
        _s(properties=_ROBUST, lacks=(P.CONVEX,)),
        "{regression.outlier_fraction:.1%} gross contamination (> 10%): a redescending loss (start it from an L1 fit)",
        "science.md 2.3 [measured + heur]",
        weight=1.0,
    ),
    Rule(
        "REG-ONESIDED",
        (
            ("goal", "==", "mean"),
            ("skewed_mean", "==", False),
            ("regression.one_sided", "==", True),
            ("regression.outlier_fraction", ">=", 0.01),
        ),
        "prefer",
        _s(properties=_ROBUST, lacks=(P.SMOOTH,)),
        "the outliers lie mostly on one side: an L1 / median-type loss is not pulled by them",
        "science.md 2.3 [measured + heur]",
        # One-sided contamination biases every smooth loss's fit toward the outliers; science.md
        # puts MAE / quantile-0.5 first there, so this outweighs the convex and heavy-tail rules.
        weight=2.5,
    ),
    Rule(
        "REG-AVOID-MSE",
        (
            ("skewed_mean", "==", False),
            ("regression.outlier_fraction", ">", 0.05),
        ),
        "avoid",
        _s(baseline=True),
        "{regression.outlier_fraction:.1%} of targets are outliers: squared error gives each of them unbounded influence",
        "Huber 1964; science.md 2.3 [measured]",
    ),
    Rule(
        "REG-HEAVY",
        (
            ("goal", "==", "mean"),
            ("skewed_mean", "==", False),
            ("regression.heavy_tails", "==", True),
            # beyond 10% flagged outliers the tails are the contamination, which REG-GROSS handles
            ("regression.outlier_fraction", "<=", 0.10),
        ),
        "prefer",
        _s(properties=(P.BOUNDED_GRADIENT, P.SMOOTH, P.CONVEX)),
        "heavy-tailed residuals (excess kurtosis {regression.excess_kurtosis:.2g}, tail ratio "
        "{regression.tail_ratio:.2g} vs 2.91 at the normal): a smooth bounded-gradient loss (Huber / log-cosh-like)",
        "science.md 2.3 [heur]",
        weight=1.5,
    ),
    Rule(
        "REG-HEAVY-BASELINE",
        (
            ("goal", "==", "mean"),
            ("skewed_mean", "==", False),
            ("regression.heavy_tails", "==", True),
            # beyond 10% flagged outliers the tails are the contamination, which REG-GROSS handles
            ("regression.outlier_fraction", "<=", 0.10),
        ),
        "prefer",
        _s(baseline=True),
        "heavy-tailed residuals (excess kurtosis {regression.excess_kurtosis:.2g}): squared error is dominated by "
        "the largest residuals",
        "science.md 2.3 [heur]",
        weight=-1.0,
    ),
    Rule(
        "REG-SKEWED-MEAN",
        (("skewed_mean", "==", True),),
        "prefer",
        _s(tasks=(T.COUNT,), baseline=False, lacks=(P.ZERO_INFLATED,)),
        "{regression.outlier_fraction:.1%} of targets lie far out, all on the upper tail of a non-negative target "
        "(skewness {regression.skewness:.2g}, {regression.zero_share:.0%} zeros): for the mean that tail is signal, "
        "not contamination; a Poisson-type deviance is consistent for the mean of non-negative amounts and "
        "weighs each error by the variance that grows with the mean",
        "Gneiting 2011; McCullagh & Nelder 1989 (quasi-likelihood); science.md 2.3",
        weight=2.5,
    ),
    Rule(
        "REG-SKEWED-POSITIVE-MEAN",
        (("skewed_mean", "==", True), ("regression.minimum", ">", 0.0)),
        "prefer",
        _s(properties=(P.DISPERSION_WEIGHTED,), lacks=(P.ZERO_INFLATED,)),
        "strictly positive amounts: a Gamma-type deviance (variance growing like the squared mean) suits "
        "costs and durations whose spread grows with their size",
        "McCullagh & Nelder 1989 ch. 8",
        weight=0.5,
    ),
    Rule(
        "REG-SKEWED-MEAN-BASELINE",
        (("skewed_mean", "==", True),),
        "prefer",
        _s(baseline=True),
        "squared error is consistent for the mean, long tail included",
        "Gneiting 2011",
        weight=1.0,
    ),
    Rule(
        "REG-SKEWED-MEAN-NO-ROBUST",
        (("skewed_mean", "==", True),),
        "avoid",
        _s(properties=_ROBUST),
        "a bounded-gradient loss discounts the long upper tail and pulls the fit toward the median "
        "({regression.median:.3g}), below the mean ({regression.mean:.3g}) the goal asks for; if the far values are "
        "errors, remove them or pass goal='median'",
        "Gneiting 2011; science.md 2.3",
    ),
    Rule(
        "REG-SKEWED-POSITIVE",
        (("regression.skewness", ">", 1.0), ("regression.minimum", ">", 0.0), ("goal", "==", "mean")),
        "prefer",
        _s(baseline=True),
        "positive targets with skewness {regression.skewness:.2g}: consider modelling log y (MSLE) or the median",
        "science.md 2.3 [heur]",
        weight=0.0,
    ),
    # ------------------------------------------------------------------ counts
    Rule(
        "COUNT-POISSON",
        (("task", "==", T.COUNT.value), ("goal", "==", "mean")),
        "prefer",
        # the specialised count losses get their own rules below, under their conditions
        _s(tasks=(T.COUNT,), baseline=False, lacks=(P.DISPERSION_WEIGHTED, P.ZERO_INFLATED)),
        "non-negative integer counts (mean {regression.mean:.3g}): the Poisson deviance is consistent for the "
        "mean count, and its log link keeps predictions positive",
        "McCullagh & Nelder 1989; Gneiting 2011",
        weight=2.0,
    ),
    Rule(
        "COUNT-MEAN",
        (("task", "==", T.COUNT.value), ("goal", "==", "mean")),
        "prefer",
        _s(tasks=(T.COUNT,), properties=(P.DISPERSION_WEIGHTED,)),
        "a Tweedie-type deviance with a log link is consistent for the mean count too",
        "Jorgensen 1997; Gneiting 2011",
        weight=1.5,
    ),
    Rule(
        "COUNT-OVERDISPERSED",
        (("task", "==", T.COUNT.value), ("regression.dispersion", ">", 2.0)),
        "prefer",
        _s(tasks=(T.COUNT,), properties=(P.DISPERSION_WEIGHTED,)),
        "overdispersed (variance/mean {regression.dispersion:.3g}): a deviance whose variance grows faster than "
        "the mean (Var ~ mu^p, p > 1) still estimates the mean and weighs the large counts less than the Poisson "
        "deviance does",
        "McCullagh & Nelder 1989; Jorgensen 1997; Cameron & Trivedi 2013",
        weight=1.0,
    ),
    Rule(
        "COUNT-EXCESS-ZEROS",
        (("task", "==", T.COUNT.value), ("excess_zeros", ">", 0.1)),
        "prefer",
        _s(tasks=(T.COUNT,), baseline=False, lacks=(P.ZERO_INFLATED,)),
        "{regression.zero_share:.0%} zeros where a Poisson with this mean has {poisson_zeros:.0%}: zero-inflated; "
        "this deviance still estimates the mean count, without modelling the extra zeros",
        "Lambert 1992; science.md 2.1",
        weight=0.0,
    ),
    Rule(
        "COUNT-ZERO-INFLATED",
        (
            ("task", "==", T.COUNT.value),
            ("excess_zeros", ">", 0.1),
            # more zeros than a negative binomial with the same mean and variance too: the
            # zeros are not just the low tail of an overdispersed count
            ("excess_zeros_nb", ">", 0.03),  # [heur]
            ("goal", "==", "mean"),
        ),
        "prefer",
        _s(tasks=(T.COUNT,), properties=(P.ZERO_INFLATED,)),
        "{regression.zero_share:.0%} zeros where a Poisson with this mean has {poisson_zeros:.0%} and a negative "
        "binomial with this mean and variance {nb_zeros:.0%}: structural zeros; a zero-inflated likelihood models "
        "them with a second output per sample (their logit) beside the log-rate; the mean count is (1 - pi) e^eta",
        "Lambert 1992; science.md 2.1",
        # above the plain baseline when the tail is skewed too (REG-SKEWED-MEAN-BASELINE), below
        # a deviance that also fits the overdispersion (COUNT-MEAN + COUNT-OVERDISPERSED + skew)
        weight=3.0,
    ),
    # ------------------------------------------------------------------ ordered classes
    Rule(
        "ORDINAL-ORDER",
        (("task", "==", T.ORDINAL.value), ("goal", "not in", ("median", "quantile", "interval"))),
        "prefer",
        _s(tasks=(T.ORDINAL,)),
        "ordered levels: a threshold model (one score per sample against ordered cutpoints, or one "
        "binary task per cutpoint) uses the order that cross-entropy ignores, without assuming the "
        "levels are equally spaced as squared error does; predict the mode, median or mean level from it",
        "McCullagh 1980; Cao, Mirjalili & Raschka 2020; Shi, Cao & Raschka 2023",
        weight=2.0,
    ),
    Rule(
        "ORDINAL-MEAN",
        (("task", "==", T.ORDINAL.value), ("goal", "==", "mean")),
        "prefer",
        _s(baseline=True),
        "the goal is the mean level, which reads the levels as equally spaced numbers: squared error on them "
        "is consistent for it (Gneiting 2011); say 'calibrated-probabilities' to put the threshold models, "
        "which do not assume that spacing, first",
        "Gneiting 2011",
        weight=1.5,
    ),
    Rule(
        "ORDINAL-MEAN-PREDICT",
        (("task", "==", T.ORDINAL.value), ("goal", "==", "mean")),
        "prefer",
        _s(tasks=(T.ORDINAL,)),
        "for the mean level predict the expected level sum_k P(y > k) from its cumulative probabilities "
        "(losscraft.ordinal's helpers), not the rank",
        "McCullagh 1980",
        weight=0.0,
    ),
    # ------------------------------------------------------------------ ranking, survival, sequences
    Rule(
        "RANK-LISTS",
        (("task", "==", T.RANKING.value),),
        "prefer",
        _s(tasks=(T.RANKING,)),
        "{ranking.n_queries} queries of {ranking.mean_list_length:.3g} items on average: a learning-to-rank "
        "loss compares the items within each query ((queries, items) scores, padding marked by the target's "
        "ignore_index), where a pointwise loss would fit each grade on its own",
        "Burges et al. 2005; Cao et al. 2007; Xia et al. 2008; Qin, Liu & Li 2010",
        weight=1.0,
    ),
    Rule(
        "RANK-GRADED",
        (("task", "==", T.RANKING.value), ("ranking.graded", "==", True)),
        "prefer",
        _s(tasks=(T.RANKING,), properties=(P.CONVEX,)),
        "graded relevance ({ranking.grades}): a convex surrogate is stable to train; compare it with a smooth "
        "NDCG approximation on your metric",
        "Cao et al. 2007; Qin, Liu & Li 2010",
        weight=0.0,
    ),
    Rule(
        "SURV-PARTIAL",
        (("task", "==", T.SURVIVAL.value),),
        "prefer",
        _s(tasks=(T.SURVIVAL,)),
        "{survival.n_events} events, {survival.censored_share:.0%} censored: the partial likelihood uses the "
        "censored rows through the risk sets (risk scores; a regression on the times would drop or bias them)",
        "Cox 1972",
        weight=1.0,
    ),
    Rule(
        "SURV-TIES",
        (("task", "==", T.SURVIVAL.value), ("survival.tied_event_share", ">", 0.0)),
        "set",
        _s(tasks=(T.SURVIVAL,)),
        "{survival.tied_event_share:.0%} of the events share their time with another: Efron's correction for "
        "ties is closer to the exact partial likelihood than Breslow's",
        "Efron 1977; Breslow 1974",
        value=("ties", "efron"),
    ),
    Rule(
        "SEQ-ALIGN",
        (("task", "==", T.SEQUENCE.value),),
        "prefer",
        _s(tasks=(T.SEQUENCE,)),
        "{sequence.n_sequences} label sequences of length {sequence.min_length}-{sequence.max_length} over "
        "{sequence.n_symbols} symbols, without a frame alignment: CTC sums over the alignments; the model needs at "
        "least {sequence.min_frames} output frames for the longest (its length plus its repeated labels)",
        "Graves et al. 2006",
        weight=1.0,
    ),
    # ------------------------------------------------------------------ goals for real targets
    Rule(
        "GOAL-QUANTILE",
        (("goal", "in", ("quantile", "interval")),),
        "require",
        _s(roles=(R.QUANTILE_LEVEL,)),
        "the goal '{goal}' asks for quantile levels {quantile_levels}: the pinball loss is consistent for quantiles",
        "Koenker & Bassett 1978; Gneiting 2011; science.md 2.3",
    ),
    Rule(
        "GOAL-MEDIAN",
        (("goal", "==", "median"),),
        "prefer",
        _s(roles=(R.QUANTILE_LEVEL,)),
        "the goal is the median: absolute / pinball(0.5) loss is consistent for it",
        "Gneiting 2011",
        weight=3.0,
    ),
    Rule(
        "GOAL-MEDIAN-MSE",
        (("goal", "==", "median"),),
        "prefer",
        _s(baseline=True),
        "squared error targets the mean, not the median the goal asks for",
        "Gneiting 2011",
        weight=-2.0,
    ),
    Rule(
        "GOAL-HETERO",
        (("heteroscedasticity", ">", 0.2), ("goal", "in", ("quantile", "interval"))),
        "prefer",
        _s(roles=(R.QUANTILE_LEVEL,)),
        "residual spread grows with the fit (Spearman {heteroscedasticity:.2f}): quantile regression, not mean +- z*sigma",
        "science.md 2.3 [measured]",
        weight=1.0,
    ),
    # ------------------------------------------------------------------ classification
    Rule(
        "CLS-BALANCED",
        (("task", "in", _CLS), ("classes.imbalance_ratio", "<=", 1.5)),
        "prefer",
        _s(baseline=True),
        "classes are balanced (imbalance ratio {classes.imbalance_ratio:.2f} <= 1.5): plain cross-entropy",
        "Buda et al. 2018; science.md 2.2",
        weight=2.0,
    ),
    Rule(
        "CLS-CALIBRATED",
        (
            ("task", "in", (*_CLS, T.MULTILABEL.value)),
            ("goal", "in", ("calibrated-probabilities", "rank")),
        ),
        "prefer",
        _s(baseline=True),
        "the goal '{goal}': plain log loss, then move the threshold or correct the priors afterwards",
        "Elkan 2001; Saerens et al. 2002; science.md 2.2 [measured]",
        weight=3.0,
    ),
    Rule(
        "CLS-CAL-NO-REWEIGHT",
        (("goal", "in", ("calibrated-probabilities", "rank")), ("imbalance_ratio", ">", 1.5)),
        "avoid",
        _s(roles=tuple(IMBALANCE_ROLES)),
        "re-weighting (imbalance ratio {imbalance_ratio:.1f}) buys minority recall at the price of calibration "
        "and leaves the ranking of a linear model unchanged; the goal is '{goal}'",
        "science.md 2.2 [measured]",
    ),
    Rule(
        "CLS-CAL-NO-BALANCING",
        (("goal", "==", "calibrated-probabilities"), ("imbalance_ratio", ">", 1.5)),
        "avoid",
        _s(properties=(P.HANDLES_IMBALANCE,), combination=False),
        "it trains for balanced error, so its probabilities are not calibrated to the training priors "
        "(imbalance ratio {imbalance_ratio:.1f})",
        "Menon et al. 2021; science.md 2.2 [measured]",
    ),
    Rule(
        "CLS-RANK-BALANCING",
        (("goal", "==", "rank"), ("imbalance_ratio", ">", 1.5)),
        "prefer",
        _s(properties=(P.HANDLES_IMBALANCE,)),
        "the goal is a ranking: balancing does not improve AUC",
        "science.md 2.2 [measured]",
        weight=-1.0,
    ),
    Rule(
        "CLS-RECALL-PRIORS",
        (("task", "in", _CLS), ("goal", "==", "recall-minority"), ("classes.imbalance_ratio", ">", 1.5)),
        "prefer",
        _s(roles=_PRIOR_ROLES, properties=(P.HANDLES_IMBALANCE,), reweighted=False),
        "imbalance ratio {classes.imbalance_ratio:.1f} and the goal is minority recall: logit adjustment / "
        "balanced softmax from the class priors first",
        "Menon et al. 2021; Ren et al. 2020; science.md 2.2 [measured, lit]",
        weight=3.5,
    ),
    Rule(
        "CLS-RECALL-WEIGHTS",
        (("task", "in", _CLS), ("goal", "==", "recall-minority"), ("classes.imbalance_ratio", ">", 1.5)),
        "prefer",
        _s(roles=tuple(IMBALANCE_ROLES)),
        "imbalance ratio {classes.imbalance_ratio:.1f}: class-balanced weights (effective numbers, "
        "beta {classes.beta:.4g}) second",
        "Cui et al. 2019; science.md 2.2 [measured, lit]",
        weight=2.0,
    ),
    Rule(
        "CLS-RECALL-PLAIN",
        (("goal", "==", "recall-minority"), ("imbalance_ratio", ">", 1.5)),
        "prefer",
        _s(baseline=True, reweighted=False),
        "unweighted log loss predicts the majority class (imbalance ratio {imbalance_ratio:.1f})",
        "Buda et al. 2018",
        weight=-1.5,
    ),
    Rule(
        "CLS-LONGTAIL",
        (("n_classes", ">=", 10), ("classes.imbalance_ratio", ">=", 100), ("goal", "==", "recall-minority")),
        "prefer",
        _s(roles=(R.CLASS_COUNTS,)),
        "long tail ({n_classes} classes, imbalance ratio {classes.imbalance_ratio:.0f}): count-aware margins",
        "Cao et al. 2019 (LDAM); science.md 2.2 [lit]",
        weight=1.0,
    ),
    Rule(
        "CLS-FOCAL-TABULAR",
        (("task", "in", _CLS), ("imbalance_ratio", ">", 1.5)),
        "avoid",
        _s(properties=(P.DOWNWEIGHTS_EASY,), param=("alpha", 0.25)),
        "focal with alpha=0.25 was the worst option measured on imbalanced tabular data (imbalance ratio "
        "{imbalance_ratio:.1f}); alpha=0.25 is tuned for dense detection, where it *down*-weights the rare class",
        "Lin et al. 2017; science.md 2.2 [measured]",
    ),
    Rule(
        "CLS-NOISE",
        (
            ("task", "in", (*_CLS, T.MULTILABEL.value)),
            ("label_noise", ">", 0.10),
            ("noise_vs_chance", "<", 0.75),
        ),
        "prefer",
        _s(properties=(P.ROBUST_TO_OUTLIERS,)),
        "{label_noise:.0%} of samples disagree with most of their 10 nearest neighbours ({label_noise_chance:.0%} "
        "with shuffled labels): a noise-robust loss (and early stopping); label smoothing is not a noise fix",
        "Zhang & Sabuncu 2018 (GCE); Northcutt et al. 2021; science.md 2.2 [lit + measured]",
        weight=2.0,
    ),
    Rule(
        "ML-SPARSE",
        (
            ("task", "==", T.MULTILABEL.value),
            ("multilabel.density", "<", 0.1),
            ("goal", "==", "recall-minority"),
        ),
        "prefer",
        _s(properties=(P.DOWNWEIGHTS_EASY, P.HANDLES_IMBALANCE)),
        "label density {multilabel.density:.3f} < 0.1: asymmetric down-weighting of easy negatives",
        "Ridnik et al. 2021 (ASL); science.md 2.1 [heur]",
        weight=2.0,
    ),
    Rule(
        "ML-POSWEIGHT",
        (
            ("task", "==", T.MULTILABEL.value),
            ("multilabel.density", "<", 0.1),
            ("goal", "==", "recall-minority"),
        ),
        "prefer",
        _s(roles=(R.POS_WEIGHT,)),
        "label density {multilabel.density:.3f} < 0.1: per-label pos_weight, square-rooted and capped at 50",
        "science.md 2.1, 2.4 [heur]",
        weight=1.5,
    ),
    # ------------------------------------------------------------------ segmentation
    Rule(
        "SEG-LARGE",
        (("task", "==", T.SEGMENTATION.value), ("min_foreground", ">=", 0.2)),
        "prefer",
        _s(baseline=True),
        "foreground covers {min_foreground:.1%} (>= 20%): BCE/CE is fine, all losses tie",
        "science.md 2.4 [measured]",
        weight=2.0,
    ),
    Rule(
        "SEG-SMALL",
        (("task", "==", T.SEGMENTATION.value), ("min_foreground", "<", 0.2)),
        "prefer",
        _s(combination=True),
        "foreground covers only {min_foreground:.1%} (< 20%): BCE + an overlap term",
        "Ma et al. 2021; science.md 2.4 [lit, measured]",
        weight=3.0,
    ),
    Rule(
        "SEG-GOAL-OVERLAP",
        (("task", "==", T.SEGMENTATION.value), ("goal", "==", "overlap")),
        "prefer",
        _s(properties=(P.OVERLAP_METRIC,)),
        "the goal is overlap (Dice / IoU): a term that optimises it directly",
        "Milletari et al. 2016; Berman et al. 2018",
        weight=1.0,
    ),
    Rule(
        "SEG-SMOOTH-OVERLAP",
        (("task", "==", T.SEGMENTATION.value),),
        "prefer",
        _s(properties=(P.OVERLAP_METRIC, P.SMOOTH)),
        "a smooth overlap surrogate (Dice-like) trains steadily; the non-smooth Lovasz extension suits an IoU metric",
        "Jadon 2020; Berman et al. 2018; science.md 2.4 [lit]",
        weight=0.5,
    ),
    Rule(
        "SEG-BINARY-MASKS",
        (("task", "==", T.SEGMENTATION.value), ("masks.n_classes", "<=", 2)),
        "require",
        _s(any_of=(_s(baseline=True), _s(target_kinds=(TargetKind.BINARY,)))),
        "binary masks: one logit map per image",
        "losscraft spec: target kinds",
    ),
    Rule(
        "SEG-MULTICLASS-MASKS",
        (("task", "==", T.SEGMENTATION.value), ("masks.n_classes", ">", 2)),
        "require",
        _s(
            any_of=(
                _s(baseline=True),
                _s(settable=("mode", "multiclass")),
                _s(target_kinds=(TargetKind.CLASS_INDEX,)),
            )
        ),
        "{masks.n_classes} classes in the masks: one logit map per class",
        "losscraft spec: target kinds",
    ),
    Rule(
        "SEG-MULTICLASS-MODE",
        (("task", "==", T.SEGMENTATION.value), ("masks.n_classes", ">", 2)),
        "set",
        _s(properties=(P.OVERLAP_METRIC,)),
        "{masks.n_classes} classes in the masks: the overlap is computed per class from class-index masks",
        "losscraft spec: overlap losses' modes",
        value=("mode", "multiclass"),
    ),
    Rule(
        "SEG-RECALL",
        (
            ("task", "==", T.SEGMENTATION.value),
            ("goal", "==", "recall-minority"),
            ("min_foreground", "<", 0.2),
        ),
        "prefer",
        _s(properties=(P.FAVOURS_RECALL,)),
        "the goal is recall of a small foreground ({min_foreground:.1%}): a loss that weighs a missed foreground "
        "pixel above a false alarm (Tversky beta > alpha)",
        "Salehi et al. 2017; Abraham & Khan 2019; science.md 2.4 [lit, measured]",
        weight=2.0,
    ),
    Rule(
        "SEG-VOLUME",
        (
            ("task", "==", T.SEGMENTATION.value),
            ("masks.n_classes", ">", 2),
            ("masks.volume_ratio", ">", 100),
        ),
        "prefer",
        _s(properties=(P.VOLUME_WEIGHTED,)),
        "class volumes differ {masks.volume_ratio:.0f}-fold (> 100): weigh each class by the inverse of its "
        "volume (Generalized Dice), so the small classes count",
        "Sudre et al. 2017; science.md 2.4 [lit]",
        weight=2.0,
    ),
    Rule(
        "SEG-EMPTY-KEEP-BCE",
        (("task", "==", T.SEGMENTATION.value), ("masks.empty_share", ">", 0.0)),
        "prefer",
        _s(properties=(P.OVERLAP_METRIC,), combination=False),
        "{masks.empty_share:.0%} of the masks are empty: keep a BCE term beside the overlap term",
        "science.md 2.4 [heur]",
        weight=-1.0,
    ),
    Rule(
        "SEG-EMPTY-BATCH",
        (("task", "==", T.SEGMENTATION.value), ("masks.empty_share", ">=", 0.2)),
        "set",
        _s(properties=(P.OVERLAP_METRIC,)),
        "{masks.empty_share:.0%} of the masks are empty: the overlap is pooled over the batch",
        "science.md 2.4 [heur]",
        value=("aggregate", "batch"),
    ),
    Rule(
        "SEG-NO-POSWEIGHT",
        (("task", "==", T.SEGMENTATION.value), ("min_foreground", "<", 0.05)),
        "avoid",
        _s(roles=(R.POS_WEIGHT,)),
        "pos_weight = (1-f)/f at foreground {min_foreground:.1%}: measured recall 0.95 but precision 0.15",
        "science.md 2.4 [measured]",
    ),
)
