"""Generalized Dice loss with inverse-volume class weights (Sudre et al. 2017)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..._core.checks import check_floating, check_params
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight
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
    Relation,
    TargetKind,
    Task,
)
from ._common import DML_REF, make_curve, overlap_params, overlap_sample, overlap_sums, safe_ratio

WEIGHT_TYPES = ("square", "simple", "uniform")
_BASE = overlap_params()  # mode, smooth, ignore_index, aggregate

SPEC = LossSpec(
    name="generalized_dice",
    batch_coupling="overlap_sums",
    family=Family.SEGMENTATION,
    tasks=(Task.SEGMENTATION,),
    input_kind=InputKind.LOGITS,
    target_kind=TargetKind.BINARY,  # default mode="binary"; "multiclass" takes class indices
    params=(
        _BASE[0],
        Param(
            "weight_type",
            "square",
            Choice(WEIGHT_TYPES),
            "class weight from the target volume V: 'square' 1/V^2 (Sudre et al.), 'simple' 1/V, 'uniform' 1",
        ),
        Param(
            "smooth",
            1e-5,
            Interval(0.0, math.inf),
            "additive smoothing of the weighted numerator and denominator (MONAI's 1e-5: the "
            "weighted sums are of order 1/V)",
        ),
        *_BASE[2:],
    ),
    # At the defaults along the curve (one-pixel images, target 1, weight 1):
    # l = (1 - p) / (1 + p + s) ~ 1 / (2 e^x + 1): in [0, 1], C-infinity, |dl/dx| <= 1/4,
    # sigmoid-shaped (not convex), 0 only in the limit.
    properties=frozenset(
        {
            Property.NONNEGATIVE,
            Property.SMOOTH,
            Property.BOUNDED_GRADIENT,
            Property.NEEDS_LOGITS,
            Property.OVERLAP_METRIC,
            Property.HANDLES_IMBALANCE,
            Property.VOLUME_WEIGHTED,
        }
    ),
    formula=(
        r"\ell_n = 1 - \frac{2\sum_c w_{n,c}\sum_i \min(p_{n,c,i}, g_{n,c,i}) "
        r"+ s}{\sum_c w_{n,c}\sum_i (p_{n,c,i} + g_{n,c,i}) + s},\qquad "
        r"w_{n,c} = \Bigl(\sum_i g_{n,c,i}\Bigr)^{-2}"
    ),
    summary="Generalized Dice loss on logits: one volume-weighted overlap score per image over all classes.",
    references=(
        Ref(
            "C. H. Sudre, W. Li, T. Vercauteren, S. Ourselin, M. J. Cardoso",
            "Generalised Dice Overlap as a Deep Learning Loss Function for Highly Unbalanced Segmentations",
            "DLMIA 2017 (MICCAI workshop), LNCS 10553",
            2017,
            "https://arxiv.org/abs/1707.03237",
        ),
        Ref(
            "W. R. Crum, O. Camara, D. L. G. Hill",
            "Generalized Overlap Measures for Evaluation and Validation in Medical Image Analysis",
            "IEEE Transactions on Medical Imaging 25(11)",
            2006,
            "https://doi.org/10.1109/TMI.2006.880587",
        ),
        DML_REF,
    ),
    sample=overlap_sample,
    curve=Curve(
        "logit", (-6.0, 6.0), make_curve("generalized_dice_loss", per_class=False), label="foreground pixel"
    ),
    relations=(
        Relation(
            "dice",
            params={"smooth": 0.0, "aggregate": "batch"},
            other_params={"smooth": 0.0, "aggregate": "batch"},
            note="one class (binary mode): the class weight cancels; per sample too, as (N,) vs (N, 1)",
        ),
        Relation(
            "dice",
            params={"weight_type": "uniform", "smooth": 0.5, "aggregate": "batch"},
            other_params={"smooth": 0.5, "aggregate": "batch"},
        ),
    ),
    none_shape="(N,) one value per sample (classes combined inside the score); (1,) with aggregate='batch'",
    ignore_index=True,
    when_to_use=(
        "Multi-class segmentation with very unequal class volumes (ratio > ~100): the "
        "1/volume^2 weights give every class the same say in a single overlap score, which is "
        "more stable than averaging per-class Dice when some classes are tiny or absent."
    ),
    when_not_to_use=(
        "Not for binary segmentation, where the weight cancels and it is dice up to smooth, "
        "nor for classes of similar volume, where per-class dice is simpler. Not when the "
        "metric is per-class mean IoU (lovasz_softmax, jaccard), and not alone with many empty "
        "masks (add cross_entropy)."
    ),
)


def _class_weights(gsum: Tensor, weight_type: str) -> Tensor:
    """``w = 1/V^2``, ``1/V`` or 1 over the last (class) dim, absent classes made finite.

    MONAI's rule: an absent class (``V = 0``, weight ``inf``) gets the largest finite weight
    of its row; a row without any present class (an empty binary mask) gets 1, the weight of
    a one-pixel structure (the largest a hard mask can have). Constants for autograd.
    """
    v = gsum.detach()
    if weight_type == "uniform":
        return torch.ones_like(v)
    present = v > 0
    safe_v = torch.where(present, v, torch.ones_like(v))
    w = 1.0 / (safe_v * safe_v) if weight_type == "square" else 1.0 / safe_v
    w = torch.where(present, w, torch.zeros_like(w))
    if w.shape[-1] == 0:
        return w
    row_max = w.amax(dim=-1, keepdim=True)
    fill = torch.where(row_max > 0, row_max, torch.ones_like(row_max))
    return torch.where(present, w, fill.expand_as(w))


@register(SPEC, aliases=("gdl", "generalised_dice"))
def generalized_dice_loss(
    input: Tensor,
    target: Tensor,
    *,
    mode: str = "binary",
    weight_type: str = "square",
    smooth: float = 1e-5,
    ignore_index: int | None = None,
    aggregate: str = "sample",
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Generalized Dice loss on logits: one volume-weighted overlap score per image over all classes.

    For multi-class segmentation with very unequal class volumes. Plain Dice averages one
    score per class; Generalized Dice forms a single score in which class $c$ is weighted by
    the inverse of its squared target volume, so a 50-voxel lesion and a 10^6-voxel
    background contribute comparably and an absent class does not make the average jump.

    $$\ell_n = 1 - \frac{2\sum_c w_{n,c}\sum_i \min(p_{n,c,i}, g_{n,c,i}) + s}{\sum_c w_{n,c}\sum_i (p_{n,c,i} + g_{n,c,i}) + s},\qquad w_{n,c} = \Bigl(\sum_i g_{n,c,i}\Bigr)^{-2}$$

    where $i$ runs over the spatial positions that are not ignored, $p$ is the predicted
    probability (sigmoid for ``"binary"``/``"multilabel"``, softmax over dim 1 for
    ``"multiclass"``), $g$ the target (the indicator $[t_i = c]$ in multiclass mode) and
    $s$ = ``smooth``. ``weight_type`` picks $w = V^{-2}$ (``"square"``, Sudre et al.),
    $V^{-1}$ (``"simple"``) or 1 (``"uniform"``: a micro-averaged Dice), as in MONAI's
    ``GeneralizedDiceLoss``, whose value this reproduces for ``include_background=True``,
    ``smooth_nr = smooth_dr = s`` (tested). The weights depend on the target only and are
    treated as constants (no gradient flows through them). With ``aggregate="batch"`` the
    volumes and sums run over the whole batch (one score per batch). Reduced as described in
    *Reductions* (``docs/conventions.md``): ``"mean"`` averages the per-image scores.

    Soft targets: the intersection is $\min(p, g)$ as in :func:`dice_loss` (the Dice
    semimetric loss of Wang et al. 2023): the product $p g$ exactly on hard targets, and on
    soft targets the numerator of the loss is $\sum_c w_c \|p_c - g_c\|_1$, 0 exactly at
    $p = g$.

    Absent classes: $V = 0$ would give an infinite weight. As in MONAI, such a class gets
    the largest finite weight of its image (so predicting it is still penalised); an image
    with no present class at all (an empty binary mask) uses weight 1, the weight of a
    one-voxel structure, and its loss is $\sum p / (\sum p + s)$. Everything stays finite,
    gradients included. With one class (binary mode) the weight cancels and this is
    :func:`dice_loss` up to the scale of ``smooth`` (exactly Dice for ``smooth=0``; tested).
    ``smooth`` is added after weighting, where the sums are of order $1/V$, hence the small
    default (MONAI's 1e-5; Dice's 1.0 would swamp the score).

    **Gradient:** with $A = \sum_c w_c I_c$ and $B = \sum_c w_c S_c$ ($I$ the soft
    intersection, $S = \sum p + \sum g$), $\partial\ell/\partial p_{c,i} = w_c\,\big(2A + s
    - 2 [p_{c,i} \le g_{c,i}] (B + s)\big)/(B + s)^2$ ($= g_{c,i}$ on hard targets), times the sigmoid/softmax Jacobian: a small class
    gets a large weight and hence a large gradient; bounded for ``smooth > 0``.

    Args:
        input: logits. ``"binary"``: ``(N, *)`` or ``(N, 1, *)``; ``"multiclass"`` and
            ``"multilabel"``: ``(N, C, *)``. Floating point.
        target: ``"binary"``/``"multilabel"``: same shape as ``input``, floating point with
            values in [0, 1] (soft targets allowed: the loss is 0 exactly at $p = g$) or
            ``ignore_index``; ``"multiclass"``:
            integer class indices of shape ``(N, *)`` in ``[0, C)`` or ``ignore_index``.
        mode: ``"binary"`` (default), ``"multiclass"`` or ``"multilabel"``.
        weight_type: ``"square"`` (default), ``"simple"`` or ``"uniform"``.
        smooth: $s \ge 0$, added to the weighted numerator and denominator. Default 1e-5.
        ignore_index: target value whose positions are excluded from all sums (and from the
            volumes). Default None.
        aggregate: ``"sample"`` (default): one score per image; ``"batch"``: one score for
            the whole batch (volumes summed over the batch).
        weight: optional non-negative per-sample weights broadcastable to the unreduced
            shape ``(N,)`` (``"mean"`` is then the weighted mean). Class weights are
            ``weight_type``'s job.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``: ``(N,)`` per sample, or ``(1,)`` with
            ``aggregate="batch"``.

    Returns:
        A scalar, or the unreduced ``(N,)`` / ``(1,)`` tensor; float32 for float16/bfloat16
        inputs (computed in float32).

    Raises:
        LosscraftError: wrong shapes for the mode, non-floating input, non-integer or
            out-of-range class indices, a single channel (C = 1) with ``mode="multiclass"``
            (use ``mode="binary"``), binary/multilabel targets outside [0, 1], bad ``mode``,
            ``weight_type``, ``smooth``, ``ignore_index``, ``aggregate``, ``weight`` or
            ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import generalized_dice_loss
        >>> x = torch.tensor([[[2.0, 0.0, -1.0, 1.0], [0.0, 1.0, 0.0, 0.0], [-1.0, 0.0, 3.0, 0.0]]])
        >>> t = torch.tensor([[0, 1, 2, 0]])  # (N=1, 4 pixels), class 0 twice as large
        >>> generalized_dice_loss(x, t, mode="multiclass", reduction="none")
        tensor([0.2904])
        >>> generalized_dice_loss(x, t, mode="multiclass", weight_type="uniform", reduction="none")
        tensor([0.2669])

    References:
        C. H. Sudre, W. Li, T. Vercauteren, S. Ourselin, M. J. Cardoso (2017). Generalised Dice
            Overlap as a Deep Learning Loss Function for Highly Unbalanced Segmentations. DLMIA 2017
            (MICCAI workshop), LNCS 10553. https://arxiv.org/abs/1707.03237
        W. R. Crum, O. Camara, D. L. G. Hill (2006). Generalized Overlap Measures for Evaluation and
            Validation in Medical Image Analysis. IEEE Transactions on Medical Imaging 25(11).
            https://doi.org/10.1109/TMI.2006.880587
        Z. Wang, T. Popordanoska, J. Bertels, R. Lemmens, M. B. Blaschko (2023). Dice Semimetric
            Losses: Optimizing the Dice Score with Soft Labels. MICCAI 2023.
            https://arxiv.org/abs/2303.16296
    """
    fn = "generalized_dice_loss"
    check_floating(fn, "input", input)
    check_params(
        SPEC,
        {
            "mode": mode,
            "weight_type": weight_type,
            "smooth": smooth,
            "ignore_index": ignore_index,
            "aggregate": aggregate,
            "reduction": reduction,
        },
    )
    s = overlap_sums(fn, input, target, mode=mode, ignore_index=ignore_index, aggregate=aggregate)
    inter, psum, gsum = s.inter, s.psum, s.gsum
    if aggregate == "batch":  # (C,) -> (1, C): one "sample", the batch
        inter, psum, gsum = inter.unsqueeze(0), psum.unsqueeze(0), gsum.unsqueeze(0)
    w = _class_weights(gsum, weight_type)
    # 1 - GD = Σ_c w (Σp + Σg - 2I) / (Σ_c w (Σp + Σg) + s), written as err / (err + 2ΣwI + s):
    # no cancellation near a perfect score and 0 <= loss <= 1 after rounding.
    err = (w * (psum + gsum - 2.0 * inter).clamp_min(0.0)).sum(-1)
    num = 2.0 * (w * inter).sum(-1)
    loss = safe_ratio(err, err + num + float(smooth))  # 0/0 (smooth=0, all empty) -> 0
    mask = None
    if s.mask is not None:  # an image (or the batch) with every position ignored
        m = s.mask if aggregate == "sample" else s.mask.unsqueeze(0)
        mask = m.any(-1)
    check_weight(fn, weight, loss.shape)
    return s.reduce(loss, reduction, weight, mask)


class GeneralizedDiceLoss(LossModule, spec=SPEC, fn=generalized_dice_loss):
    """Module form of :func:`losscraft.functional.generalized_dice_loss`."""

    def __init__(
        self,
        *,
        mode: str = "binary",
        weight_type: str = "square",
        smooth: float = 1e-5,
        ignore_index: int | None = None,
        aggregate: str = "sample",
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            mode=mode,
            weight_type=weight_type,
            smooth=smooth,
            ignore_index=ignore_index,
            aggregate=aggregate,
            reduction=reduction,
        )
