"""Kullback-Leibler divergence KL(target || softmax(input)), with distillation temperature."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..._core.checks import (
    check_distribution,
    check_floating,
    check_params,
    check_same_shape,
    compute_dtype,
    to_compute,
)
from ..._core.errors import LosscraftError
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
from ..._core.sampling import randn
from ..._core.spec import (
    Call,
    Choice,
    Curve,
    Family,
    InputKind,
    Interval,
    LossSpec,
    Param,
    Property,
    Ref,
    TargetKind,
    Task,
)


def _sample(
    n: int,
    *,
    generator: torch.Generator,
    dtype: torch.dtype,
    log_target: bool = False,
    **_: object,
) -> Call:
    """Logits ``(n, 4)`` and a strictly positive target distribution (or its log)."""
    logits = randn((n, 4), generator, dtype)
    t = randn((n, 4), generator, torch.float64)
    target = torch.log_softmax(t, dim=1) if log_target else torch.softmax(t, dim=1)
    return Call((logits, target.to(dtype)))


def _curve(x: Tensor, *, log_target: bool = False, **_: object) -> Call:
    """Two classes, logits ``[x, 0]`` against the uniform target ``[1/2, 1/2]``.

    The loss is ``softplus(x)/2 + softplus(-x)/2 - log 2``: zero at ``x = 0``, where
    ``softmax([x, 0])`` equals the target.
    """
    logits = torch.stack([x, torch.zeros_like(x)], dim=-1)
    target = torch.full_like(logits, 0.5)
    return Call((logits, target.log() if log_target else target))


SPEC = LossSpec(
    name="kl_div",
    family=Family.DIVERGENCE,
    tasks=(Task.MULTICLASS, Task.DISTILLATION, Task.SOFT_LABELS),
    input_kind=InputKind.LOGITS,
    target_kind=TargetKind.PROBABILITIES,
    params=(
        Param(
            "log_target",
            False,
            Choice((False, True)),
            "the target holds log-probabilities instead of probabilities",
        ),
        Param(
            "temperature",
            1.0,
            Interval(0.0, math.inf, low_closed=False, high_closed=False),
            "distillation temperature T: both distributions softened by T, loss scaled by T^2",
        ),
    ),
    # At the defaults, on the curve logits [x, 0] vs target [1/2, 1/2]:
    # softplus(x)/2 + softplus(-x)/2 - log 2, even, convex, |gradient| < 1/2.
    properties=frozenset(
        {
            Property.NONNEGATIVE,
            Property.ZERO_AT_MATCH,
            Property.SYMMETRIC,
            Property.CONVEX,
            Property.SMOOTH,
            Property.BOUNDED_GRADIENT,
            Property.NEEDS_LOGITS,
        }
    ),
    formula=(
        r"\ell_i = T^2 \sum_k p_{ik}\,\bigl(\log p_{ik} - \log q_{ik}\bigr),\qquad "
        r"q_i = \operatorname{softmax}(z_i / T),\quad p_i = \operatorname{softmax}(\log y_i / T)"
    ),
    summary=(
        "KL divergence of softmax(input) from the target distribution, with a temperature for distillation."
    ),
    references=(
        Ref(
            "S. Kullback, R. A. Leibler",
            "On Information and Sufficiency",
            "Annals of Mathematical Statistics 22(1)",
            1951,
            "https://doi.org/10.1214/aoms/1177729694",
        ),
        Ref(
            "G. Hinton, O. Vinyals, J. Dean",
            "Distilling the Knowledge in a Neural Network",
            "NIPS Deep Learning Workshop",
            2015,
            "https://arxiv.org/abs/1503.02531",
        ),
    ),
    sample=_sample,
    curve=Curve("logit", (-6.0, 6.0), _curve),
    none_shape="sample",
    when_to_use=(
        "Matching a predicted distribution to a soft target: knowledge distillation "
        "(temperature 2-5, teacher probabilities or log-probabilities as target), label "
        "distributions, soft labels. With one-hot targets it equals cross-entropy."
    ),
    when_not_to_use=(
        "Not for hard one-hot labels: it equals cross_entropy there, the simpler call (with "
        "label_smoothing if wanted). Not for noisy or unreliable targets: its gradient q - y "
        "follows a wrong label all the way, while js_div is bounded by log 2 and limits the "
        "pull of wrong labels."
    ),
)


def _masked_kl_terms(log_p: Tensor, log_q: Tensor) -> Tensor:
    """``p (log p - log q)`` from ``log p`` (may hold ``-inf``), with ``0 log 0 = 0``.

    Why the double ``where``: at ``log p = -inf`` the naive product is ``0 * -inf = nan``, and
    its gradient would be nan even if the value were masked afterwards.
    """
    pos = log_p > -math.inf
    lp = torch.where(pos, log_p, torch.zeros_like(log_p))
    return torch.where(pos, lp.exp() * (lp - log_q), torch.zeros_like(lp))


@register(SPEC, aliases=("kl", "kl_divergence"))
def kl_div_loss(
    input: Tensor,
    target: Tensor,
    *,
    log_target: bool = False,
    temperature: float = 1.0,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""KL divergence of softmax(input) from the target distribution, with a temperature for distillation.

    Use it to match a predicted distribution to a soft target: knowledge distillation,
    label distributions, soft labels. ``input`` holds **logits** (``log_softmax`` is applied
    over the class dimension 1; since ``log_softmax`` of log-probabilities is the identity,
    log-probabilities work too). The target holds probabilities, or log-probabilities with
    ``log_target=True``. Per sample (and per position for ``(N, C, *)`` inputs):

    $$\ell_i = T^2 \sum_k p_{ik}\,\bigl(\log p_{ik} - \log q_{ik}\bigr),\qquad q_i = \operatorname{softmax}(z_i / T),\quad p_i = \operatorname{softmax}(\log y_i / T)$$

    with $z$ the logits, $y$ the target and $0 \log 0 = 0$ (zeros in the target are allowed).
    At $T = 1$ the target is used as given, $p = y$ (not renormalised, as in
    ``torch.nn.functional.kl_div``); for $T \ne 1$ the teacher is softened the same way as the
    student, $p \propto y^{1/T}$, and the loss is scaled by $T^2$ so that gradient magnitudes
    do not shrink with $T$ (Hinton et al. 2015). With ``log_target=True``,
    $p = \operatorname{softmax}(y / T)$, so teacher log-probabilities ``log_softmax(t)`` give
    exactly the classic ``softmax(t / T)``.

    Reduced as described in *Reductions* (``docs/conventions.md``): ``"mean"`` averages the
    per-sample divergences, which for 2-D input is torch's ``reduction="batchmean"`` (torch's
    ``"mean"`` divides by the number of elements N·C instead). For ``(N, C, d1, ...)`` input
    it averages over the N·d1·... positions, where torch's ``batchmean`` divides by N only.

    **Gradient:** $\partial\ell/\partial z = T\,(q - p)$: each component bounded by $T$ in
    absolute value, zero when the distributions match (with respect to log-probability
    input it is the same, as ``log_softmax`` is idempotent).

    Args:
        input: logits (or log-probabilities) of shape ``(N, C, *)``, or ``(C,)`` for a single
            distribution; floating point.
        target: probabilities in [0, 1] (validated), or log-probabilities in [-inf, 0] with
            ``log_target=True``; same shape as ``input``; each row should sum to 1 over
            dim 1 (not renormalised). A row without probability mass (all zeros, all
            ``-inf``: summing to less than the dtype's epsilon) raises: it is no distribution,
            and its divergence would be a meaningless 0. Logits of ``-inf`` (masked classes)
            are fine where the target is 0.
        log_target: whether ``target`` holds log-probabilities. Default ``False``.
        temperature: $T > 0$ (finite). Default 1.0. Typical distillation values are 2 to 5.
        weight: optional non-negative weights broadcastable to the per-sample shape
            ``(N, *)``.
        reduction: ``"mean"`` (weighted mean over samples/positions), ``"sum"`` or ``"none"``
            (shape ``(N, *)``, class dimension reduced).

    Returns:
        A scalar, or a tensor of shape ``(N, *)`` for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: shapes differ, 0-dimensional or non-floating input, target outside
            [0, 1] (or above 0 with ``log_target=True``) or a target row without probability
            mass, ``temperature`` not in (0, inf), bad
            ``weight`` or ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import kl_div_loss
        >>> logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
        >>> target = torch.tensor([[0.7, 0.2, 0.1], [1.0, 0.0, 0.0]])
        >>> kl_div_loss(logits, target, reduction="none")
        tensor([0.0680, 1.0986])
        >>> kl_div_loss(logits, target, temperature=2.0, reduction="none")
        tensor([0.0982, 4.3944])

    References:
        S. Kullback, R. A. Leibler (1951). On Information and Sufficiency. Annals of Mathematical
            Statistics 22(1). https://doi.org/10.1214/aoms/1177729694
        G. Hinton, O. Vinyals, J. Dean (2015). Distilling the Knowledge in a Neural Network. NIPS
            Deep Learning Workshop. https://arxiv.org/abs/1503.02531
    """
    fn = "kl_div_loss"
    check_floating(fn, "input", input)
    check_floating(fn, "target", target)
    check_same_shape(fn, input, target)
    check_params(SPEC, {"log_target": log_target, "temperature": temperature, "reduction": reduction})
    if input.dim() == 0:
        raise LosscraftError(f"{fn}: 'input' must have shape (N, C, *) or (C,), got a 0-dimensional tensor")
    # values in range and no row without mass (all zeros / all -inf): one pass each, one sync
    check_distribution(fn, "target", target, 1 if target.dim() >= 2 else 0, log=log_target)
    dt = compute_dtype(input, target)
    z, y = to_compute(input, dt), to_compute(target, dt)
    cdim = 1 if z.dim() >= 2 else 0
    t = float(temperature)
    scaled = t != 1.0
    log_q = torch.log_softmax(z / t if scaled else z, dim=cdim)
    if log_target:
        terms = _masked_kl_terms(torch.log_softmax(y / t, dim=cdim) if scaled else y, log_q)
    elif not scaled:
        # p (log p - log q) straight from p: bit-compatible with torch's xlogy formulation.
        pos = y > 0
        log_y = torch.log(torch.where(pos, y, torch.ones_like(y)))
        terms = torch.where(pos, y * (log_y - log_q), torch.zeros_like(y))
    else:
        # Soften the teacher: p ∝ y^(1/T) = softmax(log y / T); log 0 = -inf keeps zeros at 0.
        pos = y > 0
        log_y = torch.where(
            pos, torch.log(torch.where(pos, y, torch.ones_like(y))), torch.full_like(y, -math.inf)
        )
        terms = _masked_kl_terms(torch.log_softmax(log_y / t, dim=cdim), log_q)
    kl = terms.sum(dim=cdim)
    if scaled:
        kl = kl * (t * t)
    check_weight(fn, weight, kl.shape)
    return reduce(kl, reduction, weight)


class KLDivLoss(LossModule, spec=SPEC, fn=kl_div_loss):
    """Module form of :func:`losscraft.functional.kl_div_loss`."""

    def __init__(
        self, *, log_target: bool = False, temperature: float = 1.0, reduction: Reduction = "mean"
    ) -> None:
        super().__init__(log_target=log_target, temperature=temperature, reduction=reduction)
