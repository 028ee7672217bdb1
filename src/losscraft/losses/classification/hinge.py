"""Binary hinge loss (the soft-margin SVM's loss) on a score, with {0, 1} labels."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..._core.checks import (
    check_floating,
    check_params,
    check_same_shape,
    check_values_in,
    compute_dtype,
    to_compute,
)
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
from ..._core.sampling import randn
from ..._core.spec import (
    Call,
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

__all__ = ["HingeLoss", "hinge_loss", "hinge_sample", "prepare_signed", "two_class_call"]

LABELS_WHAT = "labels 0 or 1 (a {-1, +1} label s is written (s + 1) / 2)"
"""What a binary margin loss's target holds, for its error message."""

MARGIN_REF = Ref(
    "C. Cortes, V. Vapnik",
    "Support-Vector Networks",
    "Machine Learning 20(3)",
    1995,
    "https://doi.org/10.1007/BF00994018",
)


def prepare_signed(fn: str, input: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Validate scores and {0, 1} labels of one shape; return the scores and the signs ``2y - 1``.

    Both floating, cast to the compute dtype (float32 for half inputs).
    """
    check_floating(fn, "input", input)
    check_floating(fn, "target", target)
    check_same_shape(fn, input, target)
    check_values_in(fn, "target", target, (0.0, 1.0), LABELS_WHAT)
    dt = compute_dtype(input, target)
    # the sign s = 2y - 1 in {-1, +1}: the margin of a score x is s x
    return to_compute(input, dt), 2.0 * to_compute(target, dt) - 1.0


def hinge_sample(n: int, *, generator: torch.Generator, dtype: torch.dtype, **_: object) -> Call:
    """Scores ``(n,)`` (standard normal, times 2) and hard labels in {0, 1}.

    One score per sample, so that :func:`two_class_call` can turn the batch into two-class
    logits with the same unreduced shape ``(n,)``.
    """
    x = randn((n,), generator, torch.float64) * 2.0
    y = torch.randint(0, 2, (n,), generator=generator).to(torch.float64)
    return Call((x.to(dtype), y.to(dtype)))


def two_class_call(c: Call) -> Call:
    """Scores ``x`` with {0, 1} labels ``y`` as two-class logits ``[0, x]`` with class indices ``y``.

    The multi-class margins then see the binary margin: ``x_y - x_other = (2y - 1) x``.
    """
    x, y = c.args[0], c.args[1]
    return Call((torch.stack([torch.zeros_like(x), x], dim=1), y.long()), dict(c.kwargs))


SPEC = LossSpec(
    name="hinge",
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
    # Along the score: max(0, m - x) is convex, with slope -1 or 0 (bounded), a kink at x = m.
    properties=frozenset(
        {Property.NONNEGATIVE, Property.CONVEX, Property.BOUNDED_GRADIENT, Property.NEEDS_LOGITS}
    ),
    formula=r"\ell_i = \max\big(0,\; m - s_i x_i\big),\qquad s_i = 2 y_i - 1 \in \{-1, +1\}",
    summary="Binary hinge loss (the linear SVM's loss): max(0, margin - s x) on a score x, labels y in {0, 1}.",
    references=(MARGIN_REF,),
    sample=hinge_sample,
    curve=Curve("logit", (-3.0, 3.0), binary_curve_call, label="label 1"),
    more_curves=(Curve("logit", (-3.0, 3.0), binary_negative_curve_call, label="label 0"),),
    relations=(
        Relation(
            "multi_margin",
            transform=two_class_call,
            factor=2.0,
            note="on two-class logits [0, x] (torch's multi_margin_loss divides by C = 2)",
        ),
        Relation(
            "crammer_singer",
            transform=two_class_call,
            note="on two-class logits [0, x]: the one wrong class is the largest",
        ),
    ),
    when_to_use=(
        "Binary (or per-label) classification where only the decision matters, not calibrated "
        "probabilities: a linear or kernel SVM, or a max-margin head. Examples beyond the "
        "margin cost nothing, so the model concentrates on the hard ones near the boundary."
    ),
    when_not_to_use=(
        "Not when probabilities are needed (ranking by confidence, thresholds, calibration): "
        "its scores are not log-odds; use bce_with_logits. Not with a smooth optimiser that "
        "needs a continuous gradient (L-BFGS, Newton): use squared_hinge. Not for one label "
        "among several classes: use multi_margin or crammer_singer."
    ),
)


@register(SPEC, aliases=("svm", "binary_hinge"))
def hinge_loss(
    input: Tensor,
    target: Tensor,
    *,
    margin: float = 1.0,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Binary hinge loss (the linear SVM's loss): max(0, margin - s x) on a score x, labels y in {0, 1}.

    The loss of the soft-margin support-vector machine: zero once the score is on the right
    side of the boundary by at least the margin, linear in the violation otherwise. It pushes
    on misclassified and barely-classified examples only, and its scores are not
    probabilities. Labels are $y \in \{0, 1\}$ (the catalog's binary convention, shared with
    :func:`bce_with_logits_loss`); the sign $s = 2y - 1$ is taken inside.

    $$\ell_i = \max\big(0,\; m - s_i x_i\big),\qquad s_i = 2 y_i - 1 \in \{-1, +1\}$$

    Reduced as described in *Reductions* (``docs/conventions.md``). On two-class logits
    $[0, x]$ it equals :func:`crammer_singer_loss` and twice :func:`multi_margin_loss`
    (torch's ``multi_margin_loss`` divides by the class count). This is
    ``sklearn.metrics.hinge_loss`` for binary labels (``margin=1``); it is *not*
    ``torch.nn.functional.hinge_embedding_loss``, which takes a distance and adds $x$ itself
    for similar pairs.

    **Gradient:** $\partial\ell/\partial x = -s$ where $s x < m$, else 0 (0 at the kink
    $s x = m$): bounded by 1, and exactly zero for examples beyond the margin.

    Args:
        input: scores (logits) $x$, any shape, floating point.
        target: labels $y \in \{0, 1\}$, same shape as ``input``, floating point (validated:
            a $\{-1, +1\}$ label raises; convert it with ``(s + 1) / 2``).
        margin: $m \ge 0$. Default 1.0 (the SVM's; ``margin=0`` is the perceptron's loss).
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
        >>> from losscraft.functional import hinge_loss
        >>> x = torch.tensor([2.0, 0.5, -0.5, -3.0])
        >>> y = torch.tensor([1.0, 1.0, 1.0, 0.0])
        >>> hinge_loss(x, y, reduction="none")
        tensor([0.0000, 0.5000, 1.5000, 0.0000])

    References:
        C. Cortes, V. Vapnik (1995). Support-Vector Networks. Machine Learning 20(3).
            https://doi.org/10.1007/BF00994018
    """
    fn = "hinge_loss"
    check_params(SPEC, {"margin": margin, "reduction": reduction})
    x, s = prepare_signed(fn, input, target)
    check_weight(fn, weight, x.shape)
    values = torch.relu(margin - s * x)
    return reduce(values, reduction, weight)


class HingeLoss(LossModule, spec=SPEC, fn=hinge_loss):
    """Module form of :func:`losscraft.functional.hinge_loss`."""

    def __init__(self, *, margin: float = 1.0, reduction: Reduction = "mean") -> None:
        super().__init__(margin=margin, reduction=reduction)
