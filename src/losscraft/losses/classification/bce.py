"""Binary cross-entropy on probabilities."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..._core.checks import check_params
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
from ..._core.spec import Curve, Family, InputKind, LossSpec, Property, Ref, TargetKind, Task
from ._common import binary_curve_call, binary_probabilities_sample, prepare_binary

SPEC = LossSpec(
    name="bce",
    family=Family.CLASSIFICATION,
    tasks=(Task.BINARY, Task.MULTILABEL, Task.PROPORTION),
    input_kind=InputKind.PROBABILITIES,
    target_kind=TargetKind.BINARY,
    params=(),
    # On the curve p -> -log p (target 1): the gradient -1/p is unbounded as p -> 0. Not
    # ZERO_AT_MATCH: a soft target y gives the entropy H(y) > 0 at p = y (0 only for hard y).
    properties=frozenset(
        {
            Property.NONNEGATIVE,
            Property.CONVEX,
            Property.SMOOTH,
        }
    ),
    formula=r"\ell_i = -\big[y_i \log p_i + (1 - y_i) \log(1 - p_i)\big]",
    summary="Binary cross-entropy on probabilities in [0, 1], hard or soft targets; prefer bce_with_logits.",
    references=(
        Ref(
            "D. R. Cox",
            "The Regression Analysis of Binary Sequences",
            "Journal of the Royal Statistical Society B 20(2)",
            1958,
            "https://doi.org/10.1111/j.2517-6161.1958.tb00292.x",
        ),
    ),
    sample=binary_probabilities_sample,
    # zero = 0.5 is the curve's centre (the match p = 1 is the extent's end; a centre outside
    # the domain would make the symmetry probe leave [0, 1]).
    curve=Curve("probability", (0.01, 0.99), binary_curve_call, zero=0.5, extent=(0.0, 1.0)),
    when_to_use=(
        "Only when the model already outputs probabilities (e.g. a calibrated ensemble); for a "
        "network's last layer use bce_with_logits, which is exact where sigmoid saturates."
    ),
    when_not_to_use=(
        "Not on a network's output: a sigmoid probability that rounded to 0 or 1 has lost what "
        "the logit carries and its gradient grows like 1/p, so use bce_with_logits (exact, "
        "with a bounded gradient). Not for single-label multi-class targets (cross_entropy)."
    ),
)


_LOG_FLOOR = -100.0  # torch's clamp of log p and log(1 - p)


def _grad_floor(input_dtype: torch.dtype, compute: torch.dtype) -> float:
    """Smallest probability whose reciprocal, the gradient, is finite in ``input_dtype``.

    ``e^-100`` (torch's clamp) in float64; in float32 and bfloat16 the smallest normal float32
    (its reciprocal 8.5e37 fits both); in float16 just above ``1 / 65504``, so that the
    gradient, cast back to float16, stays finite.
    """
    return max(
        math.exp(_LOG_FLOOR),
        1.001 / torch.finfo(input_dtype).max,
        torch.finfo(compute).tiny,  # no subnormal floor: flush-to-zero would make it 0
    )


def _clamped_log(q: Tensor, value: Tensor, floor: float) -> Tensor:
    """``value`` (``max(log q, -100)``) with the gradient of ``log max(q, floor)`` w.r.t. ``q``.

    Straight-through clamp (as in ``gaussian_nll``'s variance clamp): ``q`` is raised to
    ``floor`` in the forward pass of the gradient path while its gradient passes through
    unchanged, so below the floor (``q = 0`` in particular) the gradient is ``1 / floor``,
    finite and non-zero: a saturated probability still pulls back. At and above the floor
    it is ``1 / q``, the exact derivative. ``log(0)`` never enters the graph.
    """
    q_st = q + (q.clamp_min(floor) - q).detach()
    g = torch.log(q_st)
    return g + (value - g).detach()


def _clamped_logs(p: Tensor, floor: float) -> tuple[Tensor, Tensor]:
    """``max(log p, -100)`` and ``max(log(1 - p), -100)`` (torch's values), gradients kept alive.

    Why not ``F.binary_cross_entropy``: its backward is ``(p - y) / max(p (1 - p), 1e-12)``,
    about 1e12 at ``p in {0, 1}``, which overflows float16 gradients. Here the gradient is
    the exact ``1/p`` (``-1/(1 - p)``) down to ``floor`` and constant below it (see
    :func:`_clamped_log`): finite in the input's dtype and never 0, unlike the derivative of
    the clamped value (0 where clamped, which stops a saturated probability from learning).
    ``log1p(-p)`` is accurate for small ``p``.
    """
    with torch.no_grad():
        log_p = torch.log(p).clamp_min(_LOG_FLOOR)  # log(0) = -inf -> -100
        log_1mp = torch.log1p(-p).clamp_min(_LOG_FLOOR)
    return _clamped_log(p, log_p, floor), _clamped_log(1.0 - p, log_1mp, floor)


@register(SPEC, aliases=("binary_cross_entropy",))
def bce_loss(
    input: Tensor,
    target: Tensor,
    *,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Binary cross-entropy on probabilities in [0, 1], hard or soft targets; prefer bce_with_logits.

    Use it when the predictions already are probabilities. Networks should output logits and
    use :func:`bce_with_logits_loss` instead: a probability that rounded to 0 or 1 has lost the
    information the logit still carries.

    $$\ell_i = -\big[y_i \log p_i + (1 - y_i) \log(1 - p_i)\big]$$

    with each $\log$ clamped below at $-100$ (as ``torch.nn.functional.binary_cross_entropy``),
    so $p_i \in \{0, 1\}$ gives a finite loss (at most 100), reduced as described in
    *Reductions* (``docs/conventions.md``). Values equal (to rounding)
    ``torch.nn.functional.binary_cross_entropy``.

    **Gradient:** $\partial\ell/\partial p = -y/p + (1 - y)/(1 - p)$: it grows like $1/p$ near
    the wrong end (unbounded, unlike the logit form). Where a $\log$ is clamped
    ($p \in \{0, 1\}$ in particular) the probability is clamped with a straight-through
    gradient: $\partial\ell/\partial p = -y/\max(p, \epsilon) + (1 - y)/\max(1 - p, \epsilon)$,
    finite and non-zero, so a saturated wrong prediction is still pulled back. $\epsilon$
    is $e^{-100}$ (torch's clamp) in float64 and the smallest probability whose reciprocal
    is finite in the input's dtype otherwise (about 1.2e-38 in float32 and bfloat16, 1.5e-5
    in float16), so the gradient never overflows. Torch's kernel returns about
    $(p - y)\cdot 10^{12}$ at $p \in \{0, 1\}$ instead, which overflows float16. Elsewhere
    the gradient equals torch's.

    Args:
        input: probabilities $p \in [0, 1]$, any shape, floating point (validated).
        target: targets $y \in [0, 1]$ (hard 0/1 or soft), same shape as ``input``
            (validated).
        weight: optional non-negative per-element weights broadcastable to ``input``'s shape.
            ``"mean"`` is then $\sum w\ell / \sum w$ (torch divides by the element count).
        reduction: ``"mean"`` (weighted mean), ``"sum"`` or ``"none"`` (``input``'s shape).

    Returns:
        A scalar, or a tensor of ``input``'s shape for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: shapes differ, non-floating tensors, ``input`` or ``target`` outside
            [0, 1] (or NaN), bad ``weight`` or ``reduction``.

    Examples:
        >>> import torch, losscraft.functional as LF
        >>> p = torch.tensor([0.9, 0.2, 0.5, 1.0])
        >>> y = torch.tensor([1.0, 0.0, 1.0, 0.0])
        >>> LF.bce_loss(p, y, reduction="none")
        tensor([  0.1054,   0.2231,   0.6931, 100.0000])

    References:
        D. R. Cox (1958). The Regression Analysis of Binary Sequences. Journal of the Royal
            Statistical Society B 20(2). https://doi.org/10.1111/j.2517-6161.1958.tb00292.x
    """
    fn = "bce_loss"
    check_params(SPEC, {"reduction": reduction})
    x, y = prepare_binary(fn, input, target, probabilities=True)
    check_weight(fn, weight, x.shape)
    log_p, log_1mp = _clamped_logs(x, _grad_floor(input.dtype, x.dtype))
    values = (y - 1.0) * log_1mp - y * log_p
    return reduce(values, reduction, weight)


class BCELoss(LossModule, spec=SPEC, fn=bce_loss):
    """Module form of :func:`losscraft.functional.bce_loss`."""

    def __init__(self, *, reduction: Reduction = "mean") -> None:
        super().__init__(reduction=reduction)
