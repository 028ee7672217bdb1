"""Squared hinge loss (the L2-SVM's loss) on a score, with {0, 1} labels."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..._core.checks import check_params
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
from ..._core.spec import (
    Curve,
    Family,
    InputKind,
    Interval,
    LossSpec,
    Param,
    Property,
    Ref,
    Relation,
    TargetKind,
    Task,
)
from ._common import binary_curve_call, binary_negative_curve_call
from .hinge import MARGIN_REF, hinge_sample, prepare_signed, two_class_call

SPEC = LossSpec(
    name="squared_hinge",
    family=Family.CLASSIFICATION,
    tasks=(Task.BINARY, Task.MULTILABEL),
    input_kind=InputKind.LOGITS,
    target_kind=TargetKind.BINARY,
    params=(
        Param(
            "margin",
            1.0,
            Interval(0.0, math.inf),
            "m: the score's signed margin (2y - 1) x must reach m for a zero loss",
        ),
    ),
    # Along the score: max(0, m - x)^2 is convex and C1 (its slope -2 (m - x)_+ is continuous),
    # and that slope grows without bound for confidently wrong scores.
    properties=frozenset({Property.NONNEGATIVE, Property.CONVEX, Property.SMOOTH, Property.NEEDS_LOGITS}),
    formula=r"\ell_i = \max\big(0,\; m - s_i x_i\big)^2,\qquad s_i = 2 y_i - 1 \in \{-1, +1\}",
    summary="Squared hinge loss (the L2-SVM's loss): max(0, margin - s x)^2 on a score x, labels y in {0, 1}.",
    references=(
        MARGIN_REF,
        Ref(
            "Y. Tang",
            "Deep Learning using Linear Support Vector Machines",
            "ICML Workshop on Representation Learning",
            2013,
            "https://arxiv.org/abs/1306.0239",
        ),
    ),
    sample=hinge_sample,
    curve=Curve("logit", (-3.0, 3.0), binary_curve_call, label="label 1"),
    more_curves=(Curve("logit", (-3.0, 3.0), binary_negative_curve_call, label="label 0"),),
    relations=(
        Relation(
            "multi_margin",
            other_params={"p": 2},
            transform=two_class_call,
            factor=2.0,
            note="on two-class logits [0, x] (torch's multi_margin_loss divides by C = 2)",
        ),
    ),
    when_to_use=(
        "Binary (or per-label) max-margin classification with a continuous gradient: the "
        "L2-SVM (scikit-learn's LinearSVC default), or an SVM head trained by gradient descent. "
        "Smooth, so quasi-Newton solvers converge; it punishes large violations more than hinge."
    ),
    when_not_to_use=(
        "Not with label noise or outliers: its gradient grows with the violation, so a few "
        "mislabelled points dominate; use hinge (bounded gradient) or bce_with_logits. Not when "
        "probabilities are needed (bce_with_logits), nor for several classes (multi_margin with p=2)."
    ),
)


@register(SPEC, aliases=("l2_svm", "squared_hinge_svm"))
def squared_hinge_loss(
    input: Tensor,
    target: Tensor,
    *,
    margin: float = 1.0,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Squared hinge loss (the L2-SVM's loss): max(0, margin - s x)^2 on a score x, labels y in {0, 1}.

    The square of :func:`hinge_loss`: still zero beyond the margin, but continuously
    differentiable (the L2-SVM; scikit-learn's ``LinearSVC`` default, Keras'
    ``squared_hinge``), so smooth optimisers apply and large violations cost quadratically.
    Labels are $y \in \{0, 1\}$; the sign $s = 2y - 1$ is taken inside.

    $$\ell_i = \max\big(0,\; m - s_i x_i\big)^2,\qquad s_i = 2 y_i - 1 \in \{-1, +1\}$$

    Reduced as described in *Reductions* (``docs/conventions.md``). On two-class logits
    $[0, x]$ it equals twice :func:`multi_margin_loss` with ``p=2`` (torch divides by the
    class count).

    **Gradient:** $\partial\ell/\partial x = -2 s \max(0, m - s x)$: continuous, zero beyond
    the margin, growing linearly with the violation (unbounded).

    Args:
        input: scores (logits) $x$, any shape, floating point.
        target: labels $y \in \{0, 1\}$, same shape as ``input``, floating point (validated:
            a $\{-1, +1\}$ label raises; convert it with ``(s + 1) / 2``).
        margin: $m \ge 0$. Default 1.0.
        weight: optional non-negative per-element weights broadcastable to ``input``'s shape.
        reduction: ``"mean"`` (weighted mean), ``"sum"`` or ``"none"`` (``input``'s shape).

    Returns:
        A scalar, or a tensor of ``input``'s shape for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: shapes differ, non-floating tensors, a label other than 0 or 1,
            ``margin`` negative or not finite, bad ``weight`` or ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import squared_hinge_loss
        >>> x = torch.tensor([2.0, 0.5, -0.5, -3.0])
        >>> y = torch.tensor([1.0, 1.0, 1.0, 0.0])
        >>> squared_hinge_loss(x, y, reduction="none")
        tensor([0.0000, 0.2500, 2.2500, 0.0000])

    References:
        C. Cortes, V. Vapnik (1995). Support-Vector Networks. Machine Learning 20(3).
            https://doi.org/10.1007/BF00994018
        Y. Tang (2013). Deep Learning using Linear Support Vector Machines. ICML Workshop on
            Representation Learning. https://arxiv.org/abs/1306.0239
    """
    fn = "squared_hinge_loss"
    check_params(SPEC, {"margin": margin, "reduction": reduction})
    x, s = prepare_signed(fn, input, target)
    check_weight(fn, weight, x.shape)
    violation = torch.relu(margin - s * x)
    return reduce(violation * violation, reduction, weight)


class SquaredHingeLoss(LossModule, spec=SPEC, fn=squared_hinge_loss):
    """Module form of :func:`losscraft.functional.squared_hinge_loss`."""

    def __init__(self, *, margin: float = 1.0, reduction: Reduction = "mean") -> None:
        super().__init__(margin=margin, reduction=reduction)
