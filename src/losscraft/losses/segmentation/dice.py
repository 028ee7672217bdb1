"""Soft Dice loss."""

from __future__ import annotations

from torch import Tensor

from ..._core.checks import check_floating, check_params
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight
from ..._core.registry import register
from ..._core.spec import Curve, Family, InputKind, LossSpec, Property, Ref, TargetKind, Task
from ._common import (
    DML_REF,
    NONE_SHAPE,
    make_curve,
    overlap_params,
    overlap_sample,
    overlap_sums,
    safe_ratio,
)

SPEC = LossSpec(
    name="dice",
    batch_coupling="overlap_sums",
    family=Family.SEGMENTATION,
    tasks=(Task.SEGMENTATION,),
    input_kind=InputKind.LOGITS,
    target_kind=TargetKind.BINARY,  # default mode="binary"; "multiclass" takes class indices
    params=overlap_params(),
    # At the defaults along the curve (one foreground pixel, logit x): l = (1 - p)/(2 + p),
    # p = sigmoid(x): in [0, 1/2], C-infinity, |dl/dx| <= 1/3, but not convex (concave for
    # p < 0.4) and only 0 in the limit x -> +inf.
    properties=frozenset(
        {
            Property.NONNEGATIVE,
            Property.SMOOTH,
            Property.BOUNDED_GRADIENT,
            Property.NEEDS_LOGITS,
            Property.OVERLAP_METRIC,
            Property.HANDLES_IMBALANCE,
        }
    ),
    formula=(
        r"\ell_{n,c} = 1 - \frac{2\sum_i \min(p_{n,c,i}, g_{n,c,i}) + s}{\sum_i p_{n,c,i} "
        r"+ \sum_i g_{n,c,i} + s} = \frac{\sum_i |p_{n,c,i} - g_{n,c,i}|}{\sum_i p_{n,c,i} "
        r"+ \sum_i g_{n,c,i} + s}"
    ),
    summary=(
        "Soft Dice loss on logits, per image (or per batch) and class; insensitive to the background size."
    ),
    references=(
        Ref(
            "F. Milletari, N. Navab, S.-A. Ahmadi",
            "V-Net: Fully Convolutional Neural Networks for Volumetric Medical Image Segmentation",
            "3DV 2016",
            2016,
            "https://arxiv.org/abs/1606.04797",
        ),
        Ref(
            "T. Eelbode, J. Bertels, M. Berman, D. Vandermeulen, F. Maes, R. Bisschops, M. B. Blaschko",
            "Optimization for Medical Image Segmentation: Theory and Practice When "
            "Evaluating With Dice Score or Jaccard Index",
            "IEEE Transactions on Medical Imaging 39(11)",
            2020,
            "https://doi.org/10.1109/TMI.2020.3002417",
        ),
        DML_REF,
    ),
    sample=overlap_sample,
    curve=Curve("logit", (-6.0, 6.0), make_curve("dice_loss")),
    none_shape=NONE_SHAPE,
    ignore_index=True,
    when_to_use=(
        "Segmentation evaluated with Dice, especially with small foreground structures where "
        "per-pixel losses are dominated by the background. Usually combined with BCE/CE "
        "(Dice + CE is the most robust default in Ma et al. 2021); keep smooth > 0 when images "
        "may have empty masks."
    ),
    when_not_to_use=(
        "Not alone when many images have empty masks, or when the metric is per-pixel accuracy "
        "or calibrated probabilities: use cross_entropy / bce_with_logits, or add one of them. "
        "Not when recall matters more than precision (tversky, focal_tversky), when the metric "
        "is IoU (jaccard, lovasz_hinge, lovasz_softmax), or for multi-class data with "
        "class-volume ratios above ~100 (generalized_dice)."
    ),
)


@register(SPEC, aliases=("soft_dice",))
def dice_loss(
    input: Tensor,
    target: Tensor,
    *,
    mode: str = "binary",
    smooth: float = 1.0,
    ignore_index: int | None = None,
    aggregate: str = "sample",
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Soft Dice loss on logits, per image (or per batch) and class; insensitive to the background size.

    Optimises the overlap score the segmentation is usually evaluated with. Every class
    counts the same whatever its volume, so small structures are not drowned by the
    background, but the gradient is noisy for tiny structures; combine it with BCE/CE
    (e.g. ``DiceLoss() + BCEWithLogitsLoss()``) for stable training.

    $$\ell_{n,c} = 1 - \frac{2\sum_i \min(p_{n,c,i}, g_{n,c,i}) + s}{\sum_i p_{n,c,i} + \sum_i g_{n,c,i} + s} = \frac{\sum_i |p_{n,c,i} - g_{n,c,i}|}{\sum_i p_{n,c,i} + \sum_i g_{n,c,i} + s}$$

    where $i$ runs over the spatial positions that are not ignored, $p$ is the predicted
    probability (sigmoid of the logit for ``"binary"``/``"multilabel"``, softmax over dim 1 for
    ``"multiclass"``), $g$ the target (the indicator $[t_i = c]$ in multiclass mode) and $s$ =
    ``smooth``.

    Soft targets (label smoothing, mixup, averaged annotations): the intersection is
    $\sum_i \min(p_i, g_i)$, the Dice semimetric loss (DML) of Wang et al. (2023). On hard
    targets $g_i \in \{0, 1\}$, $\min(p_i, g_i) = p_i g_i$ exactly, so this *is* the usual soft
    Dice $1 - (2\sum p g + s)/(\sum p + \sum g + s)$ (same values, bit for bit, and the same
    gradient with respect to the logits); on soft targets the product form is not minimised at
    the target ($p = g = 0.5$ everywhere gives about 0.5 for it, against 0 here), while this loss
    is 0 exactly when $p = g$ and positive otherwise, since its numerator is
    $\|p - g\|_1$. The gradient with respect to a differentiable target follows $\min$.
    The denominator is linear ($\sum p + \sum g$, as in MONAI and
    segmentation_models_pytorch), not V-Net's squared $\sum p^2 + \sum g^2$. With
    ``aggregate="batch"`` the sums also run over the batch, giving one value per class.
    ``"mean"`` averages over all (sample, class) entries, i.e. a macro average over classes;
    reduced as described in *Reductions* (``docs/conventions.md``).

    Edge cases: an empty target with an empty prediction is a perfect score: the loss
    $\sum p / (\sum p + s)$ vanishes as the prediction empties, never 1 or NaN. With
    ``smooth=0`` a class whose target and prediction are both exactly empty (denominator 0)
    scores 1 (loss 0). Entries whose positions are all ``ignore_index`` are excluded from
    ``"mean"`` and are 0 under ``"none"``/``"sum"`` (zero gradient).

    **Gradient:** with $I = \sum_i \min(p_i, g_i)$ and $S = \sum_i p_i + \sum_i g_i$ (one
    image and class), $\partial \ell / \partial p_i = \big(2I + s - 2 [p_i \le g_i] (S + s)\big)
    / (S + s)^2$ ($[p_i \le g_i] = g_i$ on hard targets), times the sigmoid/softmax Jacobian: it
    couples all positions of an image. On soft targets it jumps where $p_i$ crosses $g_i$ (the
    kink of $|p_i - g_i|$ at the minimum).
    For ``smooth > 0`` a false positive on an empty image still gets $s / (\sum p + s)^2 > 0$;
    with ``smooth=0`` the loss of an empty image is constant 1 and its gradient vanishes.

    Memory: the per-(image, class) sums come from a blocked kernel that keeps no full-size
    tensor for backward (it recomputes the activation block by block), so forward plus
    backward peaks at about the size of the logits' gradient; the multiclass target is never
    expanded to a one-hot tensor (MONAI's ``DiceLoss`` peaks at about three times the input).

    Args:
        input: logits. ``"binary"``: ``(N, *)`` or ``(N, 1, *)``; ``"multiclass"`` and
            ``"multilabel"``: ``(N, C, *)``. Floating point.
        target: ``"binary"``/``"multilabel"``: same shape as ``input``, floating point with
            values in [0, 1] (soft targets allowed: the loss is 0 exactly at $p = g$) or
            ``ignore_index``; ``"multiclass"``:
            integer class indices of shape ``(N, *)`` in ``[0, C)`` or ``ignore_index``.
        mode: ``"binary"`` (default), ``"multiclass"`` or ``"multilabel"``.
        smooth: $s \ge 0$, added to numerator and denominator. Default 1.0 (one pixel's
            worth; MONAI uses 1e-5, segmentation_models_pytorch 0): empty masks score
            (nearly) 1 and the gradient on empty images does not vanish.
        ignore_index: target value whose positions are excluded from all sums; compared
            with the float target in binary/multilabel mode. Default None.
        aggregate: ``"sample"`` (default): one Dice per image and class, then averaged; this
            matches per-image evaluation and never lets one big image dominate. ``"batch"``:
            sums over the whole batch first (one value per class); more stable when
            structures are tiny or often absent.
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
            ``smooth``, ``ignore_index``, ``aggregate``, ``weight`` or ``reduction``.

    Examples:
        >>> import torch, losscraft.functional as LF
        >>> logits = torch.tensor([[[3.0, -2.0], [-1.0, 0.5]]])  # (N=1, 2, 2)
        >>> mask = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
        >>> LF.dice_loss(logits, mask)
        tensor(0.1638)
        >>> x = torch.tensor([[[2.0, 0.0, -1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 3.0]]])  # (1, C=3, 3)
        >>> LF.dice_loss(x, torch.tensor([[0, 1, 2]]), mode="multiclass", reduction="none")
        tensor([[0.1254, 0.2136, 0.0996]])
        >>> soft = torch.tensor([[0.2, 0.7, 0.5]])  # e.g. averaged annotations
        >>> LF.dice_loss(torch.logit(soft), soft) < 1e-6  # minimised at the soft target
        tensor(True)

    References:
        F. Milletari, N. Navab, S.-A. Ahmadi (2016). V-Net: Fully Convolutional Neural Networks for
            Volumetric Medical Image Segmentation. 3DV 2016. https://arxiv.org/abs/1606.04797
        T. Eelbode, J. Bertels, M. Berman, D. Vandermeulen, F. Maes, R. Bisschops, M. B. Blaschko
            (2020). Optimization for Medical Image Segmentation: Theory and Practice When Evaluating
            With Dice Score or Jaccard Index. IEEE Transactions on Medical Imaging 39(11).
            https://doi.org/10.1109/TMI.2020.3002417
        Z. Wang, T. Popordanoska, J. Bertels, R. Lemmens, M. B. Blaschko (2023). Dice Semimetric
            Losses: Optimizing the Dice Score with Soft Labels. MICCAI 2023.
            https://arxiv.org/abs/2303.16296
    """
    fn = "dice_loss"
    check_floating(fn, "input", input)
    check_params(
        SPEC,
        {
            "mode": mode,
            "smooth": smooth,
            "ignore_index": ignore_index,
            "aggregate": aggregate,
            "reduction": reduction,
        },
    )
    s = overlap_sums(fn, input, target, mode=mode, ignore_index=ignore_index, aggregate=aggregate)
    check_weight(fn, weight, s.inter.shape)
    # 1 - D = Σ|p - g| / (Σp + Σg + s) with Σ|p - g| = Σp + Σg - 2Σmin(p, g), written as
    # err / (err + 2Σmin + s): no cancellation in 1 - D near a perfect score, and
    # 0 <= loss <= 1 even after rounding.
    err = (s.psum + s.gsum - 2.0 * s.inter).clamp_min(0.0)
    loss = safe_ratio(err, err + 2.0 * s.inter + smooth)  # 0/0 (smooth=0, both empty) -> 0; NaN stays
    return s.reduce(loss, reduction, weight, s.mask)


class DiceLoss(LossModule, spec=SPEC, fn=dice_loss):
    """Module form of :func:`losscraft.functional.dice_loss`."""

    def __init__(
        self,
        *,
        mode: str = "binary",
        smooth: float = 1.0,
        ignore_index: int | None = None,
        aggregate: str = "sample",
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            mode=mode, smooth=smooth, ignore_index=ignore_index, aggregate=aggregate, reduction=reduction
        )
