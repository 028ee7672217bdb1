"""Jensen-Shannon divergence between softmax(input) and a target distribution."""

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
from ..._core.numerics import LOG2
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
from ..._core.sampling import randn
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
    """Two classes, logits ``[x, 0]`` against the uniform target ``[1/2, 1/2]``; zero at ``x = 0``."""
    logits = torch.stack([x, torch.zeros_like(x)], dim=-1)
    target = torch.full_like(logits, 0.5)
    return Call((logits, target.log() if log_target else target))


SPEC = LossSpec(
    name="js_div",
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
    ),
    # At the defaults on the curve logits [x, 0] vs [1/2, 1/2]: even, 0 at x = 0 (its
    # minimum), C-infinity, bounded by log 2 with a gradient that vanishes at both ends, so
    # not convex (it flattens out towards 0.216: concave for |x| beyond ~1.75).
    properties=frozenset(
        {
            Property.NONNEGATIVE,
            Property.ZERO_AT_MATCH,
            Property.SYMMETRIC,
            Property.SMOOTH,
            Property.BOUNDED_GRADIENT,
            Property.NEEDS_LOGITS,
            Property.ROBUST_TO_OUTLIERS,
        }
    ),
    formula=(
        r"\ell_i = \tfrac12 \sum_k q_{ik} \log\frac{q_{ik}}{m_{ik}} "
        r"+ \tfrac12 \sum_k y_{ik} \log\frac{y_{ik}}{m_{ik}},\qquad m_i = \tfrac12 (q_i + y_i),\quad "
        r"q_i = \operatorname{softmax}(z_i)"
    ),
    summary="Jensen-Shannon divergence between softmax(input) and the target: symmetric, bounded by log 2.",
    references=(
        Ref(
            "J. Lin",
            "Divergence Measures Based on the Shannon Entropy",
            "IEEE Transactions on Information Theory 37(1)",
            1991,
            "https://doi.org/10.1109/18.61115",
        ),
        Ref(
            "E. Englesson, H. Azizpour",
            "Generalized Jensen-Shannon Divergence Loss for Learning with Noisy Labels",
            "NeurIPS 2021",
            2021,
            "https://arxiv.org/abs/2105.04522",
        ),
    ),
    sample=_sample,
    curve=Curve("logit", (-6.0, 6.0), _curve),
    none_shape="sample",
    when_to_use=(
        "A symmetric, bounded (by log 2) alternative to KL for matching a predicted "
        "distribution to a soft or noisy target: the bounded loss limits the pull of wrong "
        "labels (robust to label noise, Englesson & Azizpour 2021), and unlike KL it is finite "
        "when either distribution has zeros. Consistency regularisation between two views "
        "(target = softmax of the other view)."
    ),
    when_not_to_use=(
        "Not for clean hard labels or for distillation: its gradient vanishes as the "
        "prediction saturates, so it learns slowly from a confidently wrong start; use "
        "cross_entropy, or kl_div (which also has the distillation temperature)."
    ),
)


def _js_kernel(d: Tensor) -> Tensor:
    r"""$g(v) = v \tanh v - \log\cosh v$ at $v = d/2$, accurate for every $d$ (no cancellation).

    ``|d| < 2``: direct, with $\log\cosh v = \operatorname{log1p}(2\sinh^2(v/2))$ (exact for
    tiny $v$, where $\cosh v$ rounds to 1). Otherwise $g = \log 2 - |d|\,\sigma(-|d|) -
    \operatorname{softplus}(-|d|)$ (no large terms to cancel). Each branch is evaluated on
    clamped arguments so the untaken one stays finite (and so does its gradient).
    """
    a = d.abs()
    small = a < 2.0
    v = torch.where(small, d, torch.zeros_like(d)) / 2.0
    sh = torch.sinh(v / 2.0)
    g_small = v * torch.tanh(v) - torch.log1p(2.0 * sh * sh)
    b = torch.where(small, torch.full_like(a, 2.0), a)
    g_large = LOG2 - b * torch.sigmoid(-b) - torch.nn.functional.softplus(-b)
    return torch.where(small, g_small, g_large)


@register(SPEC, aliases=("js", "jensen_shannon"))
def js_div_loss(
    input: Tensor,
    target: Tensor,
    *,
    log_target: bool = False,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Jensen-Shannon divergence between softmax(input) and the target: symmetric, bounded by log 2.

    A symmetrised, smoothed KL: both distributions are compared with their mixture
    $m$. It is bounded by $\log 2$ (natural log), finite when either side has zeros, and
    symmetric in its two arguments; the bounded value limits the pull of wrong (noisy)
    labels, and it suits consistency losses between two predictions. ``input`` holds
    **logits** (softmax over the class dimension 1; log-probabilities work too). Per sample
    (and per position for ``(N, C, *)`` inputs):

    $$\ell_i = \tfrac12 \sum_k q_{ik} \log\frac{q_{ik}}{m_{ik}} + \tfrac12 \sum_k y_{ik} \log\frac{y_{ik}}{m_{ik}},\qquad m_i = \tfrac12 (q_i + y_i),\quad q_i = \operatorname{softmax}(z_i)$$

    with $0 \log 0 = 0$. It is evaluated per class as $\tfrac12 (q + y)\,g(v)$ with
    $v = \tfrac12(\log q - \log y)$ and $g(v) = v\tanh v - \log\cosh v \in [0, \log 2)$, an
    exact rewriting that has no cancellation near a match (where each KL half is
    $O(\delta)$ but their sum is $O(\delta^2)$); a class where exactly one side is 0
    contributes $\tfrac12 \log 2$ times the other's mass. Reduced as described in
    *Reductions* (``docs/conventions.md``): ``"mean"`` averages the per-sample divergences.
    Gradients also flow into the target if it requires them (both arguments play the same
    role).

    **Gradient:** $\partial\ell/\partial z_k = \tfrac12 q_k\bigl(\log(q_k/m_k) -
    \sum_j q_j \log(q_j/m_j)\bigr)$: bounded, 0 at a match, and vanishing as $q$ saturates,
    unlike KL's $q - y$ (so JS learns slowly from a confidently wrong start, and a wrong
    label cannot pull hard).

    Args:
        input: logits (or log-probabilities) of shape ``(N, C, *)``, or ``(C,)`` for a single
            distribution; floating point.
        target: probabilities in [0, 1] (validated), or log-probabilities in [-inf, 0] with
            ``log_target=True``; same shape as ``input``; each row should sum to 1 over dim 1
            (not renormalised). A row without probability mass (all zeros, all ``-inf``:
            summing to less than the dtype's epsilon) raises.
        log_target: whether ``target`` holds log-probabilities. Default ``False``.
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
            mass, bad ``log_target``, ``weight`` or ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import js_div_loss
        >>> logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
        >>> target = torch.tensor([[0.7, 0.2, 0.1], [1.0, 0.0, 0.0]])
        >>> js_div_loss(logits, target, reduction="none")
        tensor([0.0154, 0.3183])
        >>> js_div_loss(torch.tensor([50.0, -50.0]), torch.tensor([0.0, 1.0]))  # disjoint: log 2
        tensor(0.6931)

    References:
        J. Lin (1991). Divergence Measures Based on the Shannon Entropy. IEEE Transactions on
            Information Theory 37(1). https://doi.org/10.1109/18.61115
        E. Englesson, H. Azizpour (2021). Generalized Jensen-Shannon Divergence Loss for Learning
            with Noisy Labels. NeurIPS 2021. https://arxiv.org/abs/2105.04522
    """
    fn = "js_div_loss"
    check_floating(fn, "input", input)
    check_floating(fn, "target", target)
    check_same_shape(fn, input, target)
    check_params(SPEC, {"log_target": log_target, "reduction": reduction})
    if input.dim() == 0:
        raise LosscraftError(f"{fn}: 'input' must have shape (N, C, *) or (C,), got a 0-dimensional tensor")
    # values in range and no row without mass (all zeros / all -inf): one pass each, one sync
    check_distribution(fn, "target", target, 1 if target.dim() >= 2 else 0, log=log_target)
    dt = compute_dtype(input, target)
    z, y = to_compute(input, dt), to_compute(target, dt)
    cdim = 1 if z.dim() >= 2 else 0
    log_q = torch.log_softmax(z, dim=cdim)
    pos_q = log_q > -math.inf  # False only for -inf logits (masked classes)
    if log_target:
        pos_y = y > -math.inf
        log_y = torch.where(pos_y, y, torch.zeros_like(y))
        py = torch.where(pos_y, log_y.exp(), torch.zeros_like(y))
    else:
        pos_y = y > 0
        log_y = torch.log(torch.where(pos_y, y, torch.ones_like(y)))
        py = y
    q = log_q.exp()  # exp(-inf) = 0, with gradient 0
    both = pos_q & pos_y
    d = torch.where(both, torch.where(pos_q, log_q, torch.zeros_like(log_q)) - log_y, torch.zeros_like(y))
    # exactly one side zero: g -> log 2 (the mixture is half the other side); both zero: 0
    g = torch.where(both, _js_kernel(d), torch.full_like(d, LOG2))
    terms = torch.where(pos_q | pos_y, 0.5 * (q + py) * g, torch.zeros_like(g))
    js = terms.sum(dim=cdim)
    check_weight(fn, weight, js.shape)
    return reduce(js, reduction, weight)


class JSDivLoss(LossModule, spec=SPEC, fn=js_div_loss):
    """Module form of :func:`losscraft.functional.js_div_loss`."""

    def __init__(self, *, log_target: bool = False, reduction: Reduction = "mean") -> None:
        super().__init__(log_target=log_target, reduction=reduction)
