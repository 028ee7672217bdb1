"""Cox proportional-hazards negative partial log-likelihood, right-censored, Breslow or Efron ties."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..._core.checks import (
    check_finite_range,
    check_floating,
    check_params,
    check_values_in,
    compute_dtype,
    fmt_shape,
    to_compute,
    values_are_concrete,
)
from ..._core.distributed import current_context, gather_batch, value_is_global
from ..._core.errors import LosscraftError
from ..._core.module import LossModule
from ..._core.reduction import Reduction, reduce
from ..._core.registry import register
from ..._core.sampling import randn, uniform
from ..._core.spec import (
    Call,
    Choice,
    Curve,
    Family,
    InputKind,
    LossSpec,
    Param,
    Property,
    Ref,
    TargetKind,
    Task,
)

COX_NONE_SHAPE = "(N,) one value per sample, 0 for a censored one"

# The probe of the curve: one event at time 1 against this many others still at risk (score 0).
_CURVE_AT_RISK = 3


def _sample(n: int, *, generator: torch.Generator, dtype: torch.dtype, **_: object) -> Call:
    """Scores ``(n,)`` ~ N(0, 1) and rows ``(time, event)`` with integer times in [0, 5]: many ties.

    Every sample is an event: the registry-wide suite holds ``"mean"`` equal to the mean of
    ``"none"``, which censored rows (left out of the mean's count, like ``ignore_index``)
    would break; censoring is covered by the entry's own tests. Integer times stay exact in
    float16 and bfloat16, so half-precision calls see the same ties as float64.
    """
    scores = randn((n,), generator, dtype)
    times = torch.floor(uniform((n,), generator, torch.float64, 0.0, 6.0))
    target = torch.stack([times, torch.ones_like(times)], dim=-1)
    return Call((scores, target.to(dtype)))


def _curve_call(x: Tensor, **_: object) -> Call:
    """Score ``x`` of an event at time 1, with ``_CURVE_AT_RISK`` censored samples of score 0 at risk."""
    others = x.new_zeros((_CURVE_AT_RISK,))
    scores = torch.cat([x.reshape(1), others])
    times = torch.tensor([1.0] + [2.0] * _CURVE_AT_RISK, dtype=x.dtype, device=x.device)
    events = torch.tensor([1.0] + [0.0] * _CURVE_AT_RISK, dtype=x.dtype, device=x.device)
    return Call((scores, torch.stack([times, events], dim=-1)))


SPEC = LossSpec(
    name="cox",
    family=Family.SURVIVAL,
    tasks=(Task.SURVIVAL,),
    input_kind=InputKind.REAL,
    target_kind=TargetKind.SURVIVAL,
    params=(
        Param(
            "ties",
            "efron",
            Choice(("efron", "breslow")),
            "how tied event times share their risk set: Efron's approximation or Breslow's",
        ),
    ),
    # Along the probe's score: log(e^x + k) - x, the log-sum-exp of the risk set minus the
    # event's score: convex, smooth, gradient e^x / (e^x + k) - 1 in (-1, 0). Per-sample values
    # are not always >= 0 under Efron's ties (a tied event's share of the group's terms).
    properties=frozenset({Property.CONVEX, Property.SMOOTH, Property.BOUNDED_GRADIENT}),
    formula=(
        r"\ell_i = \delta_i\Big[\tfrac{1}{d_i}\sum_{l=0}^{d_i-1}"
        r"\log\Big(\sum_{j\in R_i} e^{\eta_j} - \tfrac{l}{d_i}\sum_{j\in D_i} e^{\eta_j}\Big)"
        r" - \eta_i\Big]"
    ),
    summary="Cox proportional-hazards negative partial log-likelihood of right-censored event times.",
    references=(
        Ref(
            "D. R. Cox",
            "Regression Models and Life-Tables",
            "Journal of the Royal Statistical Society B 34(2)",
            1972,
            "https://doi.org/10.1111/j.2517-6161.1972.tb00899.x",
        ),
        Ref(
            "N. Breslow",
            "Covariance Analysis of Censored Survival Data",
            "Biometrics 30(1)",
            1974,
            "https://doi.org/10.2307/2529620",
        ),
        Ref(
            "B. Efron",
            "The Efficiency of Cox's Likelihood Function for Censored Data",
            "Journal of the American Statistical Association 72(359)",
            1977,
            "https://doi.org/10.1080/01621459.1977.10480613",
        ),
        Ref(
            "J. L. Katzman, U. Shaham, A. Cloninger, J. Bates, T. Jiang, Y. Kluger",
            "DeepSurv: Personalized Treatment Recommender System Using a Cox Proportional Hazards "
            "Deep Neural Network",
            "BMC Medical Research Methodology 18",
            2018,
            "https://doi.org/10.1186/s12874-018-0482-1",
        ),
    ),
    sample=_sample,
    curve=Curve("logit", (-6.0, 6.0), _curve_call, label="one event, 3 others at risk", pointwise=True),
    none_shape=COX_NONE_SHAPE,
    weight="none",
    batch_coupling="risk_sets",
    when_to_use=(
        "Time-to-event (survival) targets with right censoring: the model outputs one log-risk "
        "score per sample and only the order of the times matters (a semi-parametric model: "
        "no baseline hazard to fit, DeepSurv). Efron's ties (the default, as in lifelines and "
        "statsmodels) when many times are equal; batches need events and a few samples at risk."
    ),
    when_not_to_use=(
        "Not for uncensored positive durations whose value, not only order, is to be predicted "
        "(gamma_deviance or a regression loss on the log-time). Not when the hazards of the "
        "groups cross (non-proportional hazards): the score acts multiplicatively on one shared "
        "baseline hazard. Tiny batches give noisy risk sets: gather them across ranks with "
        "losscraft.distributed.global_batch."
    ),
)


def _check_survival(fn: str, input: Tensor, target: Tensor) -> None:
    """Scores ``(N,)``, rows ``(N, 2)`` of finite times >= 0 and events in {0, 1}."""
    check_floating(fn, "input", input)
    check_floating(fn, "target", target)
    if input.dim() != 1:
        raise LosscraftError(
            f"{fn}: 'input' must hold one log-risk score per sample, shape (N,), got {fmt_shape(input)}"
        )
    if target.shape != (input.shape[0], 2):
        raise LosscraftError(
            f"{fn}: 'target' must hold one row (time, event) per sample, shape ({input.shape[0]}, 2), "
            f"got {fmt_shape(target)}"
        )
    # one pass over both columns first: a NaN or a negative value, counted over the whole target
    check_finite_range(fn, "target", target, 0.0, math.inf, "times >= 0 (column 0) and events (column 1)")
    times, events = target[:, 0], target[:, 1]
    if times.numel() > 0 and values_are_concrete(times) and not bool(torch.isfinite(times.detach()).all()):
        raise LosscraftError(f"{fn}: 'target' must contain finite times in column 0, got inf")
    check_values_in(
        fn, "target", events, (0.0, 1.0), "event indicators 0 (censored) or 1 (event) in column 1"
    )


def cox_terms(scores: Tensor, times: Tensor, events: Tensor, efron: bool) -> Tensor:
    r"""Each sample's term of the negative partial log-likelihood (0 for a censored sample).

    One stable sort by time; the risk set's $\log\sum_{t_j \ge t_i} e^{\eta_j}$ of every
    position is a reverse cumulative log-sum-exp, read at the first position of its tie group
    (tied samples are at risk for each other). Efron's correction is computed as
    $\log S_R + \log(1 - \tfrac{l}{d} S_D / S_R)$ with $S_D / S_R \le 1$, so nothing overflows.
    """
    n = scores.shape[0]
    if n == 0:
        return scores * 0.0  # empty: stays attached to the graph
    order = torch.argsort(times, stable=True)
    ts, xs = times[order], scores[order]
    ev = events[order] > 0.5
    pos = torch.arange(n, device=scores.device)
    start = torch.cat([torch.ones(1, dtype=torch.bool, device=scores.device), ts[1:] != ts[:-1]])
    # first position of each position's tie group (positions are sorted, so a running max)
    first = torch.cummax(torch.where(start, pos, torch.zeros_like(pos)), 0).values
    # log of the sum of e^score over positions >= p, for every p: a reverse cumulative log-sum-exp
    log_tail = torch.logcumsumexp(xs.flip(0), 0).flip(0)
    log_risk = log_tail[first]  # the whole tie group is in each member's risk set
    zero = xs.new_zeros(())
    if efron:
        group = torch.cumsum(start.to(torch.int64), 0) - 1
        evf = ev.to(xs.dtype)
        # each event's share e^{eta} / S_R <= 1 (it is in its own risk set): no overflow at 1e4
        share = torch.where(ev, torch.exp(xs - log_risk), zero)
        ratio = torch.zeros_like(xs).index_add(0, group, share)[group]  # S_D / S_R of the group
        count = torch.zeros_like(xs).index_add(0, group, evf)[group]  # d, events in the group
        cum = torch.cumsum(evf, 0)
        rank = cum - (cum - evf)[first] - 1  # l = 0, 1, ... among the group's events
        # safe values off the events, so no NaN reaches the backward through torch.where
        d = torch.where(ev, count, torch.ones_like(count))
        l_over_d = torch.where(ev, rank, torch.zeros_like(rank)) / d
        step = torch.log1p(-l_over_d * ratio)  # log(1 - (l/d) S_D/S_R) >= log(1/d)
        # every event of a group takes the mean of the group's d terms (order-free, same total)
        mean_step = torch.zeros_like(xs).index_add(0, group, torch.where(ev, step, zero))[group] / d
        sorted_terms = torch.where(ev, log_risk + mean_step - xs, zero)
    else:
        sorted_terms = torch.where(ev, log_risk - xs, zero)
    # back to the caller's order (the inverse permutation; out of place, so vmap can batch it)
    return sorted_terms[torch.argsort(order)]


@register(SPEC, aliases=("cox_ph", "coxph"))
def cox_loss(input: Tensor, target: Tensor, *, ties: str = "efron", reduction: Reduction = "mean") -> Tensor:
    r"""Cox proportional-hazards negative partial log-likelihood of right-censored event times.

    Use it for survival data: the model outputs one log-risk score $\eta_i$ per sample (a
    log-hazard ratio; larger means an earlier event) and the loss asks that, at every event
    time, the sample that had the event outranks every sample still at risk. With the risk set
    $R_i = \{j : t_j \ge t_i\}$, the events $D_i$ tied at $t_i$ and $d_i = |D_i|$,

    $$\ell_i = \delta_i\Big[\tfrac{1}{d_i}\sum_{l=0}^{d_i-1}\log\Big(\sum_{j\in R_i} e^{\eta_j} - \tfrac{l}{d_i}\sum_{j\in D_i} e^{\eta_j}\Big) - \eta_i\Big]$$

    (Efron's ties; ``ties="breslow"`` drops the correction: $\ell_i = \delta_i[\log\sum_{j\in
    R_i} e^{\eta_j} - \eta_i]$). Each event of a tie group takes the mean of the group's
    Efron terms, so the split does not depend on the order of the tied rows; the sum is
    Efron's. ``"mean"`` divides the sum by the number of events (as DeepSurv and pycox do),
    ``"sum"`` is the negative partial log-likelihood itself and ``"none"`` gives each sample's
    term, 0 for a censored sample; no event gives 0 with a zero gradient. Efron is the default,
    as in lifelines and statsmodels, because it is closer to the exact partial likelihood when
    many times are tied; without ties both are the same. Computed in log space (a reverse
    cumulative log-sum-exp over the time-sorted batch), finite at scores of $\pm 10^4$.

    The risk sets span the batch: inside ``losscraft.distributed.global_batch`` every rank
    gathers the whole batch and computes the full-batch loss (``"none"``: its own rows). The
    partial likelihood is not a sum over micro-batches, so ``global_batch(denominator=...)``
    (gradient accumulation) raises.

    **Gradient:** $\partial L/\partial\eta_k = \sum_i \delta_i\,\pi_{ik} - \delta_k$, with
    $\pi_{ik}$ the softmax weight of $k$ in event $i$'s (Efron-weighted) risk set: bounded by 1
    in magnitude per event.

    Args:
        input: log-risk scores $\eta$, shape ``(N,)``, floating point.
        target: rows ``(time, event)``, shape ``(N, 2)``, floating point: finite times
            $\ge 0$ and event indicators 1 (the event happened at that time) or 0 (censored:
            known to be event-free up to that time).
        ties: ``"efron"`` (default) or ``"breslow"``.
        reduction: ``"mean"`` (sum over the number of events), ``"sum"`` or ``"none"``
            (``(N,)``).

    Returns:
        A scalar, or a tensor of shape ``(N,)`` for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: ``input`` not 1-D, ``target`` not ``(N, 2)``, non-floating tensors, a
            negative, infinite or NaN time, an event indicator other than 0 or 1, a
            ``denominator`` set in ``global_batch``, bad ``ties`` or ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import cox_loss
        >>> scores = torch.tensor([0.5, -0.2, 1.0, 0.0])
        >>> target = torch.tensor([[1.0, 1.0], [2.0, 1.0], [2.0, 1.0], [3.0, 0.0]])
        >>> cox_loss(scores, target, reduction="none")
        tensor([1.3222, 1.4653, 0.2653, 0.0000])
        >>> cox_loss(scores, target, ties="breslow")
        tensor(1.1823)

    References:
        D. R. Cox (1972). Regression Models and Life-Tables. Journal of the Royal Statistical
            Society B 34(2). https://doi.org/10.1111/j.2517-6161.1972.tb00899.x
        N. Breslow (1974). Covariance Analysis of Censored Survival Data. Biometrics 30(1).
            https://doi.org/10.2307/2529620
        B. Efron (1977). The Efficiency of Cox's Likelihood Function for Censored Data. Journal
            of the American Statistical Association 72(359).
            https://doi.org/10.1080/01621459.1977.10480613
        J. L. Katzman, U. Shaham, A. Cloninger, J. Bates, T. Jiang, Y. Kluger (2018). DeepSurv:
            Personalized Treatment Recommender System Using a Cox Proportional Hazards Deep Neural
            Network. BMC Medical Research Methodology 18.
            https://doi.org/10.1186/s12874-018-0482-1
    """
    fn = "cox_loss"
    _check_survival(fn, input, target)
    check_params(SPEC, {"ties": ties, "reduction": reduction})
    state = current_context()
    if state is not None and state.denominator is not None:
        raise LosscraftError(
            f"{fn}: the partial likelihood cannot be split into micro-batches: its risk sets span the "
            "whole batch, so global_batch(denominator=...) (gradient accumulation) cannot give the loss "
            "of one big batch; use a larger batch per step, or gather it across ranks with global_batch()"
        )
    is_global = state is not None
    rows = slice(0, input.shape[0])
    if is_global:  # inside losscraft.distributed.global_batch: every rank's rows, with gradient
        (input, target), rows = gather_batch(fn, input, target, ratio=True)
    dt = compute_dtype(input)
    x = to_compute(input, dt)
    t = to_compute(target.detach(), dt)
    events = t[:, 1] > 0.5
    terms = cox_terms(x, t[:, 0], t[:, 1], ties == "efron")
    if not is_global:
        return reduce(terms, reduction, mask=events)
    with value_is_global():  # the same full-batch value on every rank
        out = reduce(terms, reduction, mask=events)
    return out[rows] if reduction == "none" else out


class CoxLoss(LossModule, spec=SPEC, fn=cox_loss):
    """Module form of :func:`losscraft.functional.cox_loss`."""

    def __init__(self, *, ties: str = "efron", reduction: Reduction = "mean") -> None:
        super().__init__(ties=ties, reduction=reduction)
