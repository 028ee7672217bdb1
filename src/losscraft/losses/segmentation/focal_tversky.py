"""Focal Tversky loss: the Tversky loss raised to the power 1/gamma."""

from __future__ import annotations

import math

from torch import Tensor

from ..._core.checks import check_floating, check_params
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight
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
from ._common import (
    DML_REF,
    NONE_SHAPE,
    make_curve,
    overlap_sample,
    overlap_sums,
    safe_pow,
)
from .tversky import SALEHI, tversky_loss_from_sums, tversky_params

_TV = tversky_params()  # mode, alpha, beta, smooth, ignore_index, aggregate

SPEC = LossSpec(
    name="focal_tversky",
    batch_coupling="overlap_sums",
    family=Family.SEGMENTATION,
    tasks=(Task.SEGMENTATION,),
    input_kind=InputKind.LOGITS,
    target_kind=TargetKind.BINARY,  # default mode="binary"; "multiclass" takes class indices
    params=(
        *_TV[:3],
        Param(
            "gamma",
            4.0 / 3.0,
            Interval(0.0, math.inf, low_closed=False, high_closed=False),
            "focal parameter: the loss is (1 - TI)^(1/gamma); gamma = 1 is the Tversky loss",
        ),
        *_TV[3:],
    ),
    # At the defaults along both curves: (Tversky curve)^(3/4), still in [0, 1), C-infinity
    # (the Tversky loss never reaches 0 at finite logits), bounded gradient, not convex.
    properties=frozenset(
        {
            Property.NONNEGATIVE,
            Property.SMOOTH,
            Property.BOUNDED_GRADIENT,
            Property.NEEDS_LOGITS,
            Property.OVERLAP_METRIC,
            Property.HANDLES_IMBALANCE,
            Property.FAVOURS_RECALL,
        }
    ),
    formula=(
        r"\ell_{n,c} = \bigl(1 - TI_{n,c}\bigr)^{1/\gamma},\qquad "
        r"TI_{n,c} = \frac{TP + s}{TP + \alpha\,FP + \beta\,FN + s}"
    ),
    summary=(
        "Focal Tversky loss on logits: the Tversky loss raised to the power 1/gamma, per image and class."
    ),
    references=(
        Ref(
            "N. Abraham, N. M. Khan",
            "A Novel Focal Tversky Loss Function with Improved Attention U-Net for Lesion Segmentation",
            "ISBI 2019",
            2019,
            "https://arxiv.org/abs/1810.07842",
        ),
        SALEHI,
        DML_REF,
    ),
    sample=overlap_sample,
    curve=Curve("logit", (-6.0, 6.0), make_curve("focal_tversky_loss"), label="foreground pixel"),
    more_curves=(
        Curve(
            "logit",
            (-6.0, 6.0),
            make_curve("focal_tversky_loss", target=0.0),
            label="background pixel (false positive)",
        ),
    ),
    relations=(
        Relation("tversky", params={"gamma": 1.0}),
        Relation(
            "tversky",
            params={"gamma": 1.0, "mode": "multiclass", "alpha": 0.6, "beta": 0.2},
            other_params={"mode": "multiclass", "alpha": 0.6, "beta": 0.2},
        ),
        Relation("jaccard", params={"gamma": 1.0, "alpha": 1.0, "beta": 1.0}),
    ),
    none_shape=NONE_SHAPE,
    ignore_index=True,
    when_to_use=(
        "Small lesions / structures where the Tversky loss plateaus once most of the image is "
        "right: with gamma > 1 the exponent 1/gamma < 1 keeps the gradient large as the index "
        "approaches 1 (Abraham & Khan use gamma = 4/3 with beta = 0.7 on false negatives). "
        "gamma < 1 instead damps nearly-solved images/classes like the focal loss."
    ),
    when_not_to_use=(
        "Not when the plain Tversky loss does not plateau: gamma = 1 is exactly tversky, one "
        "knob fewer. Not when false positives cost as much as misses (dice), nor alone with "
        "many empty masks (add bce_with_logits / cross_entropy)."
    ),
)


@register(SPEC, aliases=("ftl",))
def focal_tversky_loss(
    input: Tensor,
    target: Tensor,
    *,
    mode: str = "binary",
    alpha: float = 0.3,
    beta: float = 0.7,
    gamma: float = 4.0 / 3.0,
    smooth: float = 1.0,
    ignore_index: int | None = None,
    aggregate: str = "sample",
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Focal Tversky loss on logits: the Tversky loss raised to the power 1/gamma, per image and class.

    Use it instead of :func:`tversky_loss` for small structures: with the default
    $\gamma = 4/3$ the exponent $3/4 < 1$ raises small losses ($u^{3/4} > u$ for $u < 1$), so
    images and classes whose Tversky index is already high keep a substantial gradient
    instead of flattening out. Same modes, smoothing, ``ignore_index`` and aggregation as
    :func:`tversky_loss` / :func:`dice_loss`.

    $$\ell_{n,c} = \bigl(1 - TI_{n,c}\bigr)^{1/\gamma},\qquad TI_{n,c} = \frac{TP + s}{TP + \alpha\,FP + \beta\,FN + s}$$

    with $TP = \sum_i \min(p_i, g_i)$, $FP = \sum_i (p_i - g_i)_+$, $FN = \sum_i (g_i - p_i)_+$
    the soft counts of image $n$ and class $c$ as in :func:`tversky_loss` ($\alpha$ weights
    false positives, $\beta$ false negatives): Salehi et al.'s products on hard targets (same
    values bit for bit), and 0 exactly at a soft target (Wang et al. 2023's semimetric form). This is the paper's form
    $(1 - TI)^{1/\gamma}$ with $\gamma = 4/3$; many codes write $(1 - TI)^{\gamma'}$ with
    $\gamma' = 0.75$, the same thing. The paper sums over classes; here ``"mean"`` averages
    over all (sample, class) entries like Dice (``"sum"`` is the paper's sum for one image).
    Abraham & Khan write the index with $\alpha$ on the false negatives ($\alpha = 0.7$);
    in Salehi's orientation used here that is $\beta = 0.7$, $\alpha = 0.3$, the defaults.
    $\gamma = 1$ is exactly :func:`tversky_loss` (tested). Reduced as described in
    *Reductions* (``docs/conventions.md``).

    Edge cases: as for Tversky/Dice; a perfect prediction ($TI = 1$ exactly, e.g. saturated
    logits) gives loss 0 with gradient 0 instead of the $0 \cdot \infty$ NaN of a plain
    power.

    **Gradient:** $\partial\ell/\partial p_i = \gamma^{-1} (1 - TI)^{1/\gamma - 1}\,
    \partial(1 - TI)/\partial p_i$. For $\gamma > 1$ the factor $(1 - TI)^{1/\gamma - 1}$
    grows without bound as $TI \to 1$ in terms of the index, but through the sigmoid/softmax
    the gradient with respect to the logits still tends to 0 (the probability saturates
    faster); the base is clamped at the smallest normal float so the gradient stays finite
    in every dtype.

    Args:
        input: logits. ``"binary"``: ``(N, *)`` or ``(N, 1, *)``; ``"multiclass"`` and
            ``"multilabel"``: ``(N, C, *)``. Floating point.
        target: ``"binary"``/``"multilabel"``: same shape as ``input``, floating point with
            values in [0, 1] (soft targets allowed: the loss is 0 exactly at $p = g$) or
            ``ignore_index``; ``"multiclass"``:
            integer class indices of shape ``(N, *)`` in ``[0, C)`` or ``ignore_index``.
        mode: ``"binary"`` (default), ``"multiclass"`` or ``"multilabel"``.
        alpha: weight $\alpha \ge 0$ of the false positives. Default 0.3.
        beta: weight $\beta \ge 0$ of the false negatives. Default 0.7.
        gamma: $\gamma > 0$ (finite); the exponent is $1/\gamma$. Default 4/3 (the paper;
            it explored $\gamma \in [1, 3]$).
        smooth: $s \ge 0$, added to numerator and denominator of the index. Default 1.0.
        ignore_index: target value whose positions are excluded from all sums. Default None.
        aggregate: ``"sample"`` (default): one index per image and class, then averaged;
            ``"batch"``: sums over the whole batch first (one value per class).
        weight: optional non-negative weights broadcastable to the unreduced shape, e.g. a
            ``(C,)`` class weight (``"mean"`` is then the weighted mean).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``: ``(N, C)`` per sample and class, or
            ``(C,)`` with ``aggregate="batch"`` (``C = 1`` in binary mode).

    Returns:
        A scalar, or the unreduced ``(N, C)`` / ``(C,)`` tensor; float32 for float16/bfloat16
        inputs (computed in float32).

    Raises:
        LosscraftError: wrong shapes for the mode, non-floating input, non-integer or
            out-of-range class indices, a single channel (C = 1) with ``mode="multiclass"``
            (use ``mode="binary"``), binary/multilabel targets outside [0, 1], bad ``mode``,
            ``alpha``, ``beta``, ``gamma``, ``smooth``, ``ignore_index``, ``aggregate``,
            ``weight`` or ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import focal_tversky_loss
        >>> logits = torch.tensor([[[3.0, -2.0], [-1.0, 0.5]]])  # (N=1, 2, 2)
        >>> mask = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
        >>> focal_tversky_loss(logits, mask)
        tensor(0.2270)
        >>> focal_tversky_loss(logits, mask, gamma=1.0)  # the Tversky loss
        tensor(0.1385)

    References:
        N. Abraham, N. M. Khan (2019). A Novel Focal Tversky Loss Function with Improved Attention
            U-Net for Lesion Segmentation. ISBI 2019. https://arxiv.org/abs/1810.07842
        S. S. M. Salehi, D. Erdogmus, A. Gholipour (2017). Tversky Loss Function for Image
            Segmentation Using 3D Fully Convolutional Deep Networks. MLMI 2017 (MICCAI workshop),
            LNCS 10541. https://arxiv.org/abs/1706.05721
        Z. Wang, T. Popordanoska, J. Bertels, R. Lemmens, M. B. Blaschko (2023). Dice Semimetric
            Losses: Optimizing the Dice Score with Soft Labels. MICCAI 2023.
            https://arxiv.org/abs/2303.16296
    """
    fn = "focal_tversky_loss"
    check_floating(fn, "input", input)
    check_params(
        SPEC,
        {
            "mode": mode,
            "alpha": alpha,
            "beta": beta,
            "gamma": gamma,
            "smooth": smooth,
            "ignore_index": ignore_index,
            "aggregate": aggregate,
            "reduction": reduction,
        },
    )
    s = overlap_sums(fn, input, target, mode=mode, ignore_index=ignore_index, aggregate=aggregate)
    check_weight(fn, weight, s.inter.shape)
    tv = tversky_loss_from_sums(s, float(alpha), float(beta), float(smooth))
    loss = safe_pow(tv, 1.0 / float(gamma))
    return s.reduce(loss, reduction, weight, s.mask)


class FocalTverskyLoss(LossModule, spec=SPEC, fn=focal_tversky_loss):
    """Module form of :func:`losscraft.functional.focal_tversky_loss`."""

    def __init__(
        self,
        *,
        mode: str = "binary",
        alpha: float = 0.3,
        beta: float = 0.7,
        gamma: float = 4.0 / 3.0,
        smooth: float = 1.0,
        ignore_index: int | None = None,
        aggregate: str = "sample",
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            mode=mode,
            alpha=alpha,
            beta=beta,
            gamma=gamma,
            smooth=smooth,
            ignore_index=ignore_index,
            aggregate=aggregate,
            reduction=reduction,
        )
