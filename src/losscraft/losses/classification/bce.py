"""Binary cross-entropy on probabilities."""

from __future__ import annotations

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
    tasks=(Task.BINARY, Task.MULTILABEL),
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
    formula=r"\ell(p, y) = -\big[y \log p + (1 - y) \log(1 - p)\big],\quad \log \text{ clamped at } -100",
    summary="Binary cross-entropy on probabilities in [0, 1]; prefer bce_with_logits on logits.",
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
)


def _clamped_logs(p: Tensor) -> tuple[Tensor, Tensor]:
    """``max(log p, -100)`` and ``max(log(1 - p), -100)`` (as torch), gradient 0 where clamped.

    Why not ``F.binary_cross_entropy``: its backward is ``(p - y) / max(p (1 - p), 1e-12)``,
    about 1e12 at ``p in {0, 1}``, which is not the derivative of its own clamped value and
    overflows float16 gradients. Here the gradient is that of the clamped value: a saturated
    term contributes 0, the other a bounded amount. The inner ``where`` keeps ``log(0)`` out of
    the graph (its ``1/0`` times the clamp's 0 would be NaN); ``log1p(-p)`` is accurate for
    small ``p``.
    """
    pos, below = p > 0, p < 1
    log_p = torch.where(pos, torch.log(torch.where(pos, p, torch.ones_like(p))), -100.0)
    log_1mp = torch.where(below, torch.log1p(-torch.where(below, p, torch.zeros_like(p))), -100.0)
    return log_p.clamp_min(-100.0), log_1mp.clamp_min(-100.0)


@register(SPEC, aliases=("binary_cross_entropy",))
def bce_loss(
    input: Tensor,
    target: Tensor,
    *,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Binary cross-entropy between predicted probabilities and (soft) binary targets.

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
    ($p < e^{-100}$, in particular $p \in \{0, 1\}$) its term contributes 0, the derivative
    of the clamped value; torch's kernel returns about $(p - y)\cdot 10^{12}$ there instead,
    which overflows float16. Elsewhere the gradient equals torch's.

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
        Cox (1958), *The Regression Analysis of Binary Sequences*, J. R. Stat. Soc. B.
    """
    fn = "bce_loss"
    check_params(SPEC, {"reduction": reduction})
    x, y = prepare_binary(fn, input, target, probabilities=True)
    check_weight(fn, weight, x.shape)
    log_p, log_1mp = _clamped_logs(x)
    values = (y - 1.0) * log_1mp - y * log_p
    return reduce(values, reduction, weight)


class BCELoss(LossModule, spec=SPEC, fn=bce_loss):
    """Module form of :func:`losscraft.functional.bce_loss`."""

    def __init__(self, *, reduction: Reduction = "mean") -> None:
        super().__init__(reduction=reduction)
