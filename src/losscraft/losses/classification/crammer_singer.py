"""Crammer-Singer multi-class margin loss: the hinge of the most-violating wrong class."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..._core.checks import FloatVector, as_tensor_param, check_params
from ..._core.module import LossModule
from ..._core.reduction import Reduction, reduce
from ..._core.registry import register
from ..._core.spec import (
    Curve,
    Family,
    InputKind,
    LossSpec,
    Property,
    Ref,
    Relation,
    TargetKind,
    Task,
)
from ._common import (
    class_vector,
    gather_class,
    multiclass_curve_call,
    multiclass_sample,
    prepare_index_logits,
)
from .multi_margin import class_weight_param, ignore_index_param, margin_param

_W2 = torch.tensor([0.5, 2.0], dtype=torch.float64)

SPEC = LossSpec(
    name="crammer_singer",
    family=Family.CLASSIFICATION,
    tasks=(Task.MULTICLASS,),
    input_kind=InputKind.LOGITS,
    target_kind=TargetKind.CLASS_INDEX,
    params=(margin_param(), class_weight_param(), ignore_index_param()),
    # Along the target logit: one hinge (convex, slope -1 or 0, a kink at the margin).
    properties=frozenset(
        {Property.NONNEGATIVE, Property.CONVEX, Property.BOUNDED_GRADIENT, Property.NEEDS_LOGITS}
    ),
    formula=r"\ell_i = w_{y_i} \max\big(0,\; m + \max_{j \ne y_i} x_{ij} - x_{i y_i}\big)",
    summary="Crammer-Singer multi-class margin loss: max(0, m + max_{j != y} x_j - x_y), the worst wrong class's hinge.",
    references=(
        Ref(
            "K. Crammer, Y. Singer",
            "On the Algorithmic Implementation of Multiclass Kernel-based Vector Machines",
            "Journal of Machine Learning Research 2",
            2001,
            "https://www.jmlr.org/papers/v2/crammer01a.html",
        ),
    ),
    sample=multiclass_sample,
    curve=Curve("logit", (-4.0, 4.0), multiclass_curve_call),
    relations=(
        Relation(
            "multi_margin",
            params={"weight": _W2},
            other_params={"weight": _W2},
            factor=2.0,
            note="with two classes the one wrong class is the worst; torch's form divides by C = 2",
        ),
    ),
    none_shape="sample",
    weight="class",
    ignore_index=True,
    when_to_use=(
        "Multi-class max-margin classification that charges only the most-violating wrong "
        "class (the multi-class SVM of Crammer & Singer; scikit-learn's multi-class "
        "hinge_loss): its scale does not grow with the class count, and it is consistent "
        "with the top-1 error on separable data."
    ),
    when_not_to_use=(
        "Not when class probabilities are needed: use cross_entropy. One gradient per sample "
        "reaches only two classes, so with many classes learning can be slower than "
        "multi_margin, which pushes every violating class; for sparse probabilities with a "
        "margin use sparsemax."
    ),
)


@register(SPEC, aliases=("multiclass_svm", "crammer_singer_hinge"))
def crammer_singer_loss(
    input: Tensor,
    target: Tensor,
    *,
    margin: float = 1.0,
    weight: FloatVector | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Crammer-Singer multi-class margin loss: max(0, m + max_{j != y} x_j - x_y), the worst wrong class's hinge.

    The multi-class SVM of Crammer & Singer: the target's logit must beat the *largest*
    wrong logit by the margin $m$; only that one violation is charged (where
    :func:`multi_margin_loss`, Weston-Watkins, sums every violation and divides by $C$).
    With ``margin=1`` this is ``sklearn.metrics.hinge_loss`` for multi-class decision scores.

    $$\ell_i = w_{y_i} \max\big(0,\; m + \max_{j \ne y_i} x_{ij} - x_{i y_i}\big)$$

    ($w_c = 1$ when ``weight=None``.) Example: $x = (0.1, 0.5, 0.4, 0.9)$, $y = 0$, $m = 1$:
    $\ell = 1 + 0.9 - 0.1 = 1.8$ (Weston-Watkins: $4.5 / 4 = 1.125$). ``weight`` follows
    :func:`multi_margin_loss`: each sample's loss times $w_{y_i}$, ``"mean"`` over the number
    of (non-ignored) samples. Reduced otherwise as described in *Reductions*
    (``docs/conventions.md``). With two classes it is twice :func:`multi_margin_loss`, and on
    logits $[0, x]$ it is :func:`hinge_loss`.

    **Gradient:** where the loss is positive, $-w_{y_i}$ for the target logit and $+w_{y_i}$
    for the largest wrong one (shared equally between tied maxima); zero elsewhere: bounded.

    Args:
        input: logits of shape ``(N, C)`` or ``(N, C, d1, ...)`` (classes on dim 1), $C \ge 2$.
        target: class indices, integer tensor of shape ``(N,)`` / ``(N, d1, ...)``, values in
            ``[0, C)`` or ``ignore_index``.
        margin: $m \ge 0$. Default 1.0.
        weight: per-class weight of shape ``(C,)`` (tensor or list), values $\ge 0$, multiplying
            each sample's loss by $w_{y_i}$. Default ``None``.
        ignore_index: target value whose positions are skipped. Default -100.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per position, shape
            ``(N, d1, ...)``).

    Returns:
        A scalar, or a tensor of shape ``(N, d1, ...)`` for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: ``input`` not ``(N, C, ...)`` floating with $C \ge 2$; a class index
            outside ``[0, C)``; a target of the wrong shape or dtype; ``margin`` negative;
            ``weight`` not of shape ``(C,)`` or negative; bad ``ignore_index`` or ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import crammer_singer_loss
        >>> x = torch.tensor([[0.1, 0.5, 0.4, 0.9], [3.0, 0.5, 0.4, 0.9]])
        >>> y = torch.tensor([0, 0])
        >>> crammer_singer_loss(x, y, reduction="none")
        tensor([1.8000, 0.0000])

    References:
        K. Crammer, Y. Singer (2001). On the Algorithmic Implementation of Multiclass
            Kernel-based Vector Machines. Journal of Machine Learning Research 2.
            https://www.jmlr.org/papers/v2/crammer01a.html
    """
    fn = "crammer_singer_loss"
    weight = as_tensor_param(weight, input)  # a list or tuple: the same rule as the Module
    check_params(
        SPEC, {"margin": margin, "weight": weight, "ignore_index": ignore_index, "reduction": reduction}
    )
    x, t_safe, mask = prepare_index_logits(fn, input, target, ignore_index, margin=True)
    w = class_vector(fn, "weight", weight, x)
    # x_j - x_y first (exact for close logits of any size); the target's own 0 is masked to -inf.
    diff = x - gather_class(x, t_safe).unsqueeze(1)
    onehot = F.one_hot(t_safe, int(x.shape[1])).movedim(-1, 1).bool()
    worst = torch.where(onehot, diff.new_full((), float("-inf")), diff).amax(dim=1)
    values = torch.relu(margin + worst)
    if w is None:
        return reduce(values, reduction, mask=mask)
    # as multi_margin (torch): each sample times w_y, the mean over the sample count.
    return reduce(values * w.reshape(-1)[t_safe], reduction, mask=mask)


class CrammerSingerLoss(LossModule, spec=SPEC, fn=crammer_singer_loss):
    """Module form of :func:`losscraft.functional.crammer_singer_loss`."""

    def __init__(
        self,
        *,
        margin: float = 1.0,
        weight: FloatVector | None = None,
        ignore_index: int = -100,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(margin=margin, weight=weight, ignore_index=ignore_index, reduction=reduction)
