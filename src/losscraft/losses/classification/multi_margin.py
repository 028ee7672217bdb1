"""Weston-Watkins multi-class margin loss (torch's ``multi_margin_loss``)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..._core.checks import FloatVector, as_tensor_param, check_params
from ..._core.module import LossModule
from ..._core.reduction import Reduction, reduce
from ..._core.registry import register
from ..._core.spec import (
    Choice,
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
from ._common import (
    class_vector,
    gather_class,
    multiclass_curve_call,
    multiclass_sample,
    prepare_index_logits,
)

__all__ = ["MultiMarginLoss", "class_weight_param", "ignore_index_param", "margin_param", "multi_margin_loss"]


def margin_param() -> Param:
    """The margin every class-index margin loss takes (default 1)."""
    return Param(
        "margin",
        1.0,
        Interval(0.0, math.inf),
        "m: the target's logit must exceed each wrong class's by m for a zero loss",
    )


def class_weight_param() -> Param:
    """A per-class weight ``w_y`` multiplying a sample's loss (torch's ``multi_margin_loss``)."""
    return Param(
        "weight",
        None,
        TensorDomain(optional=True),
        "per-class weight w_c of shape (C,): sample i's loss is multiplied by w_{y_i}; "
        "the mean still divides by the sample count (torch)",
        role=Role.CLASS_WEIGHTS,
    )


def ignore_index_param() -> Param:
    """The class-index target value that is skipped."""
    return Param(
        "ignore_index",
        -100,
        Interval(-math.inf, math.inf, integer=True),
        "class-index target value that is skipped",
    )


SPEC = LossSpec(
    name="multi_margin",
    family=Family.CLASSIFICATION,
    tasks=(Task.MULTICLASS,),
    input_kind=InputKind.LOGITS,
    target_kind=TargetKind.CLASS_INDEX,
    params=(
        Param("p", 1, Choice((1, 2)), "power of each hinge: 1 (hinge) or 2 (squared hinge)"),
        margin_param(),
        class_weight_param(),
        ignore_index_param(),
    ),
    # At p = 1 along the target logit: a sum of hinges (convex, slopes bounded by (C-1)/C, kinked).
    properties=frozenset(
        {Property.NONNEGATIVE, Property.CONVEX, Property.BOUNDED_GRADIENT, Property.NEEDS_LOGITS}
    ),
    formula=r"\ell_i = \frac{w_{y_i}}{C} \sum_{j \ne y_i} \max\big(0,\; m - x_{i y_i} + x_{ij}\big)^p",
    summary="Weston-Watkins multi-class margin loss: sum_j max(0, m - x_y + x_j)^p / C (torch's multi_margin_loss).",
    references=(
        Ref(
            "J. Weston, C. Watkins",
            "Support Vector Machines for Multi-Class Pattern Recognition",
            "ESANN",
            1999,
            "https://www.esann.org/sites/default/files/proceedings/legacy/es1999-461.pdf",
        ),
    ),
    sample=multiclass_sample,
    curve=Curve("logit", (-4.0, 4.0), multiclass_curve_call),
    none_shape="sample",
    weight="class",
    ignore_index=True,
    when_to_use=(
        "Multi-class max-margin classification (a multi-class SVM head) when only the predicted "
        "class matters: every wrong class whose logit comes within the margin of the target's "
        "is pushed down. p=2 gives a smooth loss. A drop-in for torch's multi_margin_loss."
    ),
    when_not_to_use=(
        "Not when class probabilities are needed (calibration, top-k confidence): use "
        "cross_entropy. To penalise only the most-violating wrong class (the scale does not "
        "grow with the class count) use crammer_singer; for sparse probabilities with a margin "
        "use sparsemax. Not for two classes with one score: use hinge."
    ),
)


@register(SPEC, aliases=("weston_watkins", "multiclass_hinge"))
def multi_margin_loss(
    input: Tensor,
    target: Tensor,
    *,
    p: int = 1,
    margin: float = 1.0,
    weight: FloatVector | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Weston-Watkins multi-class margin loss: sum_j max(0, m - x_y + x_j)^p / C (torch's multi_margin_loss).

    The multi-class SVM of Weston & Watkins: each wrong class $j$ whose logit comes within
    the margin $m$ of the target's pays a hinge, and the hinges are summed, then divided by
    the class count $C$ (torch's normalisation, kept for parity). Values and gradients equal
    ``torch.nn.functional.multi_margin_loss`` for ``p``, ``margin``, ``weight`` and every
    reduction; in addition ``(N, C, d1, ...)`` inputs and ``ignore_index`` are accepted.

    $$\ell_i = \frac{w_{y_i}}{C} \sum_{j \ne y_i} \max\big(0,\; m - x_{i y_i} + x_{ij}\big)^p$$

    ($w_c = 1$ when ``weight=None``.) Example: $x = (0.1, 0.5, 0.4, 0.9)$, $y = 0$, $m = 1$:
    the hinges are $1.4, 1.3, 1.8$, so $\ell = 4.5 / 4 = 1.125$ (:func:`crammer_singer_loss`
    keeps only the largest, $1.8$). As in torch, ``"mean"`` divides the weighted sum by the
    number of (non-ignored) samples, not by $\sum_i w_{y_i}$ as :func:`cross_entropy_loss`
    does. Reduced otherwise as described in *Reductions* (``docs/conventions.md``).

    **Gradient:** $\partial\ell_i/\partial x_{ij} = \frac{w_{y_i}}{C}\, p\, h_{ij}^{p-1}$ for
    each violated wrong class ($h_{ij} = m - x_{iy_i} + x_{ij} > 0$), and minus their sum for
    the target: bounded at ``p=1`` (by $w_{y_i} (C-1)/C$), growing with the violation at ``p=2``.

    Args:
        input: logits of shape ``(N, C)`` or ``(N, C, d1, ...)`` (classes on dim 1).
        target: class indices, integer tensor of shape ``(N,)`` / ``(N, d1, ...)``, values in
            ``[0, C)`` or ``ignore_index``.
        p: 1 (hinge) or 2 (squared hinge). Default 1 (torch).
        margin: $m \ge 0$. Default 1.0 (torch).
        weight: per-class weight of shape ``(C,)`` (tensor or list), values $\ge 0$, multiplying
            each sample's loss by $w_{y_i}$ (torch's ``weight``). Default ``None``.
        ignore_index: target value whose positions are skipped. Default -100.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per position, shape
            ``(N, d1, ...)``).

    Returns:
        A scalar, or a tensor of shape ``(N, d1, ...)`` for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: ``input`` not ``(N, C, ...)`` floating with $C \ge 2$; a class index
            outside ``[0, C)``; a target of the wrong shape or dtype; ``p`` not 1 or 2;
            ``margin`` negative; ``weight`` not of shape ``(C,)`` or negative; bad
            ``ignore_index`` or ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import multi_margin_loss
        >>> x = torch.tensor([[0.1, 0.5, 0.4, 0.9], [3.0, 0.5, 0.4, 0.9]])
        >>> y = torch.tensor([0, 0])
        >>> multi_margin_loss(x, y, reduction="none")
        tensor([1.1250, 0.0000])
        >>> multi_margin_loss(x, y, p=2, reduction="none")
        tensor([1.7225, 0.0000])

    References:
        J. Weston, C. Watkins (1999). Support Vector Machines for Multi-Class Pattern Recognition.
            ESANN. https://www.esann.org/sites/default/files/proceedings/legacy/es1999-461.pdf
    """
    fn = "multi_margin_loss"
    weight = as_tensor_param(weight, input)  # a list or tuple: the same rule as the Module
    check_params(
        SPEC,
        {"p": p, "margin": margin, "weight": weight, "ignore_index": ignore_index, "reduction": reduction},
    )
    x, t_safe, mask = prepare_index_logits(fn, input, target, ignore_index, margin=True)
    num_classes = int(x.shape[1])
    w = class_vector(fn, "weight", weight, x)
    # x_j - x_y first: two logits of 1e4 differ exactly, then the margin is added.
    hinge = torch.relu(margin + (x - gather_class(x, t_safe).unsqueeze(1)))
    if p == 2:
        hinge = hinge * hinge
    # The target's own term would be m^p: drop it (where, not a subtraction: exact).
    onehot = F.one_hot(t_safe, num_classes).movedim(-1, 1).bool()
    values = torch.where(onehot, hinge.new_zeros(()), hinge).sum(dim=1) / num_classes
    if w is None:
        return reduce(values, reduction, mask=mask)
    # torch: each sample times w_y, the mean over the sample count (not over sum w_y).
    return reduce(values * w.reshape(-1)[t_safe], reduction, mask=mask)


class MultiMarginLoss(LossModule, spec=SPEC, fn=multi_margin_loss):
    """Module form of :func:`losscraft.functional.multi_margin_loss`."""

    def __init__(
        self,
        *,
        p: int = 1,
        margin: float = 1.0,
        weight: FloatVector | None = None,
        ignore_index: int = -100,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(p=p, margin=margin, weight=weight, ignore_index=ignore_index, reduction=reduction)
