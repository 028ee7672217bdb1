"""Binary cross-entropy on probabilities."""

from __future__ import annotations

import torch.nn.functional as F
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
    # On the curve p -> -log p (target 1): the gradient -1/p is unbounded as p -> 0.
    properties=frozenset(
        {
            Property.NONNEGATIVE,
            Property.ZERO_AT_MATCH,
            Property.CONVEX,
            Property.SMOOTH,
        }
    ),
    formula=r"\ell(p, y) = -\big[y \log p + (1 - y) \log(1 - p)\big],\quad \log \text{ clamped at } -100",
    summary="Binary cross-entropy on probabilities in [0, 1]; prefer bce_with_logits on logits.",
    references=(
        Ref("D. R. Cox", "The Regression Analysis of Binary Sequences",
            "Journal of the Royal Statistical Society B 20(2)", 1958,
            "https://doi.org/10.1111/j.2517-6161.1958.tb00292.x"),
    ),
    sample=binary_probabilities_sample,
    curve=Curve("probability", (0.01, 0.99), binary_curve_call, zero=1.0, extent=(0.0, 1.0)),
    when_to_use=(
        "Only when the model already outputs probabilities (e.g. a calibrated ensemble); for a "
        "network's last layer use bce_with_logits, which is exact where sigmoid saturates."
    ),
)


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
    *Reductions* (``docs/conventions.md``). Computed by torch's native kernel.

    **Gradient:** $\partial\ell/\partial p = (p - y) / \max(p(1 - p), 10^{-12})$: it grows like
    $1/p$ near the wrong end (unbounded, unlike the logit form) and is finite at $p \in \{0, 1\}$.

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
    # torch's kernel clamps log at -100, so p in {0, 1} stays finite in value and gradient.
    return reduce(F.binary_cross_entropy(x, y, reduction="none"), reduction, weight)


class BCELoss(LossModule, spec=SPEC, fn=bce_loss):
    """Module form of :func:`losscraft.functional.bce_loss`."""

    def __init__(self, *, reduction: Reduction = "mean") -> None:
        super().__init__(reduction=reduction)
