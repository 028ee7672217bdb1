"""Softmax cross-entropy with class-index or probability targets."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..._core.checks import (
    FloatVector,
    as_tensor_param,
    check_class_input,
    check_class_weight,
    check_distribution,
    check_index_target,
    check_params,
    compute_dtype,
    fmt_shape,
    to_compute,
)
from ..._core.errors import LosscraftError
from ..._core.module import LossModule
from ..._core.reduction import Reduction, reduce
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
    Role,
    TargetKind,
    Task,
    TensorDomain,
)
from ._common import multiclass_curve_call, multiclass_sample

SPEC = LossSpec(
    name="cross_entropy",
    family=Family.CLASSIFICATION,
    tasks=(Task.MULTICLASS, Task.SOFT_LABELS),
    input_kind=InputKind.LOGITS,
    target_kind=TargetKind.CLASS_INDEX_OR_PROBABILITIES,
    params=(
        Param(
            "weight",
            None,
            TensorDomain(optional=True),
            "per-class weight w_c of shape (C,); 'mean' divides by the sum of w_y",
            role=Role.CLASS_WEIGHTS,
        ),
        Param(
            "ignore_index",
            -100,
            Interval(-math.inf, math.inf, integer=True),
            "class-index target value that is skipped (index targets only)",
        ),
        Param(
            "label_smoothing",
            0.0,
            Interval(0.0, 1.0),
            "epsilon: the target becomes (1 - epsilon) one-hot + epsilon / C",
        ),
    ),
    properties=frozenset(
        {
            Property.NONNEGATIVE,
            Property.CONVEX,
            Property.SMOOTH,
            Property.BOUNDED_GRADIENT,
            Property.NEEDS_LOGITS,
        }
    ),
    formula=(
        r"\ell_i = -\sum_{c=1}^{C} w_c\, q_{ic} \log \frac{e^{x_{ic}}}{\sum_k e^{x_{ik}}},\qquad "
        r"q_{ic} = (1 - \varepsilon)\, t_{ic} + \frac{\varepsilon}{C}"
    ),
    summary="Softmax cross-entropy over dim 1, with class-index or probability targets and label smoothing.",
    references=(
        Ref(
            "I. Goodfellow, Y. Bengio, A. Courville",
            "Deep Learning, section 6.2.2.3 (softmax units)",
            "MIT Press",
            2016,
            "https://www.deeplearningbook.org/",
        ),
        Ref(
            "C. Szegedy, V. Vanhoucke, S. Ioffe, J. Shlens, Z. Wojna",
            "Rethinking the Inception Architecture for Computer Vision (label smoothing)",
            "CVPR",
            2016,
            "https://arxiv.org/abs/1512.00567",
        ),
    ),
    sample=multiclass_sample,
    curve=Curve("logit", (-6.0, 6.0), multiclass_curve_call),
    none_shape="sample",
    weight="class",
    ignore_index=True,
    when_to_use=(
        "Default for single-label multi-class classification and per-pixel segmentation. "
        "Label smoothing 0.1 improves calibration (not for distillation teachers)."
    ),
    when_not_to_use=(
        "Not for multi-label targets (bce_with_logits, asl). Not with noisy labels (above "
        "~10%), where mislabelled samples dominate its unbounded loss (gce, sce), nor for "
        "long-tailed training scored by a balanced metric (logit_adjusted). When the tokens x "
        "classes logits do not fit in memory, linear_cross_entropy gives the same value and "
        "gradients without materialising them."
    ),
)


@register(SPEC, aliases=("ce", "softmax_cross_entropy"))
def cross_entropy_loss(
    input: Tensor,
    target: Tensor,
    *,
    weight: FloatVector | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Softmax cross-entropy over dim 1, with class-index or probability targets and label smoothing.

    The default loss for single-label multi-class classification and per-pixel segmentation.
    Equals ``torch.nn.functional.cross_entropy`` in value and gradient for every option; the
    one difference is that an empty batch or a batch whose targets are all ``ignore_index``
    gives 0 (torch: NaN), with zero gradients.

    $$\ell_i = -\sum_{c=1}^{C} w_c\, q_{ic} \log \frac{e^{x_{ic}}}{\sum_k e^{x_{ik}}},\qquad q_{ic} = (1 - \varepsilon)\, t_{ic} + \frac{\varepsilon}{C}$$

    where $t_{ic} = \mathbb 1[c = y_i]$ for class-index targets (so without smoothing
    $\ell_i = -w_{y_i} \log p_{i y_i}$) or the given probabilities, $w$ is the class
    ``weight`` (all 1 if ``None``) and $\varepsilon$ is ``label_smoothing``. Reduced as
    described in *Reductions* (``docs/conventions.md``), except that with class weights and
    index targets ``"mean"`` is torch's $\sum_i \ell_i / \sum_i w_{y_i}$ over non-ignored
    positions; with probability targets ``"mean"`` divides by the number of positions.

    **Gradient:** $\partial\ell_i/\partial x_{ic} = \big(\sum_k w_k q_{ik}\big) p_{ic} - w_c q_{ic}$
    ($p - q$ without weights): bounded, never saturating; zero at ignored positions.

    Args:
        input: logits of shape ``(N, C)`` or ``(N, C, d1, ...)`` (classes on dim 1).
        target: class indices, an integer tensor of shape ``(N,)`` / ``(N, d1, ...)`` with
            values in ``[0, C)`` or ``ignore_index``; or class probabilities, a floating tensor
            of ``input``'s shape with values in [0, 1] (each row should sum to 1, not
            renormalised; an all-zero row raises).
        weight: per-class weight of shape ``(C,)`` (a tensor or a list), finite values $\ge 0$
            (torch's ``weight``; not a per-element weight). Default ``None``.
        ignore_index: index-target value whose positions are skipped (loss 0, excluded from
            the mean). Ignored for probability targets. Default -100.
        label_smoothing: $\varepsilon \in [0, 1]$. Default 0.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per position, shape
            ``(N, d1, ...)``).

    Returns:
        A scalar, or a tensor of shape ``(N, d1, ...)`` for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: ``input`` not ``(N, C, ...)`` floating; a class index outside
            ``[0, C)`` (the message names it); a target of the wrong shape or dtype; probabilities
            outside [0, 1] or a row of them summing to 0; ``weight`` not ``(C,)`` / negative; bad ``ignore_index``,
            ``label_smoothing`` or ``reduction``.

    Examples:
        >>> import torch, losscraft.functional as LF
        >>> x = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0], [1.0, 3.0, 0.0]])
        >>> y = torch.tensor([0, 2, -100])
        >>> LF.cross_entropy_loss(x, y, reduction="none")
        tensor([0.1698, 1.0986, 0.0000])
        >>> LF.cross_entropy_loss(x, y)  # mean over the two non-ignored rows
        tensor(0.6342)
        >>> LF.cross_entropy_loss(x, y, weight=torch.tensor([1.0, 1.0, 3.0]))
        tensor(0.8664)

    References:
        I. Goodfellow, Y. Bengio, A. Courville (2016). Deep Learning, section 6.2.2.3 (softmax
            units). MIT Press. https://www.deeplearningbook.org/
        C. Szegedy, V. Vanhoucke, S. Ioffe, J. Shlens, Z. Wojna (2016). Rethinking the Inception
            Architecture for Computer Vision (label smoothing). CVPR.
            https://arxiv.org/abs/1512.00567
    """
    fn = "cross_entropy_loss"
    weight = as_tensor_param(weight, input)  # a list or tuple: the same rule as the Module
    check_params(
        SPEC,
        {
            "weight": weight,
            "ignore_index": ignore_index,
            "label_smoothing": label_smoothing,
            "reduction": reduction,
        },
    )
    num_classes = check_class_input(fn, input)
    check_class_weight(fn, "weight", weight, num_classes)
    if isinstance(target, Tensor) and target.is_floating_point():
        # Probability targets: torch's "mean" divides by the number of positions.
        if target.shape != input.shape:
            raise LosscraftError(
                f"{fn}: a floating 'target' holds class probabilities and must have input's shape "
                f"{fmt_shape(input)}, got {fmt_shape(target)}; class indices must be an integer "
                "tensor (torch.long)"
            )
        check_distribution(fn, "target", target, 1)  # in [0, 1], and no all-zero row (loss 0)
        dt = compute_dtype(input, target)
        x, q = to_compute(input, dt), to_compute(target, dt)
        w = None if weight is None else weight.to(device=x.device, dtype=dt)
        values = F.cross_entropy(x, q, weight=w, label_smoothing=label_smoothing, reduction="none")
        return reduce(values, reduction)

    check_index_target(fn, input, target, ignore_index)
    dt = compute_dtype(input)
    x = to_compute(input, dt)
    t = target.long()
    mask = t != ignore_index
    w = None if weight is None else weight.to(device=x.device, dtype=dt)
    # torch already zeroes ignored positions and multiplies by w (also inside the smoothing term).
    values = F.cross_entropy(
        x, t, weight=w, ignore_index=ignore_index, label_smoothing=label_smoothing, reduction="none"
    )
    w_y = None
    if w is not None:
        # Class weight of each position's target; ignored positions get class 0 (masked anyway).
        w_y = w[torch.where(mask, t, torch.zeros_like(t))]
    # torch's values already carry w_y (and the smoothing term every class's weight): the mean
    # divides by sum(w_y) over kept positions, torch's class-weighted mean.
    return reduce(values, reduction, mask=mask, denominator=w_y)


class CrossEntropyLoss(LossModule, spec=SPEC, fn=cross_entropy_loss):
    """Module form of :func:`losscraft.functional.cross_entropy_loss`."""

    def __init__(
        self,
        *,
        weight: FloatVector | None = None,
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            weight=weight, ignore_index=ignore_index, label_smoothing=label_smoothing, reduction=reduction
        )
