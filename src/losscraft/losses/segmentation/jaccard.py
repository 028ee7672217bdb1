"""Soft Jaccard (IoU) loss."""

from __future__ import annotations

from torch import Tensor

from ..._core.checks import check_floating, check_params
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight
from ..._core.registry import register
from ..._core.spec import Curve, Family, InputKind, LossSpec, Property, Ref, TargetKind, Task
from ._common import (
    JML_REF,
    NONE_SHAPE,
    make_curve,
    overlap_params,
    overlap_sample,
    overlap_sums,
    safe_ratio,
)

SPEC = LossSpec(
    name="jaccard",
    batch_coupling="overlap_sums",
    family=Family.SEGMENTATION,
    tasks=(Task.SEGMENTATION,),
    input_kind=InputKind.LOGITS,
    target_kind=TargetKind.BINARY,  # default mode="binary"; "multiclass" takes class indices
    params=overlap_params(),
    # At the defaults along the curve (one foreground pixel, logit x): l = (1 - p)/2 =
    # sigmoid(-x)/2: in [0, 1/2], C-infinity, |dl/dx| <= 1/8, not convex (concave for x < 0),
    # and only 0 in the limit x -> +inf.
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
        r"\ell_{n,c} = 1 - \frac{I + s}{\sum_i p_{n,c,i} + \sum_i g_{n,c,i} - I + s} "
        r"= \frac{\sum_i |p_{n,c,i} - g_{n,c,i}|}{\sum_i p_{n,c,i} + \sum_i g_{n,c,i} - I + s}, \quad "
        r"I = \sum_i \min(p_{n,c,i}, g_{n,c,i})"
    ),
    summary="Soft Jaccard (IoU) loss on logits, per image (or per batch) and class; zero at a soft target.",
    references=(
        Ref(
            "M. A. Rahman, Y. Wang",
            "Optimizing Intersection-Over-Union in Deep Neural Networks for Image Segmentation",
            "ISVC 2016, LNCS 10072",
            2016,
            "https://doi.org/10.1007/978-3-319-50835-1_22",
        ),
        Ref(
            "T. Eelbode, J. Bertels, M. Berman, D. Vandermeulen, F. Maes, R. Bisschops, M. B. Blaschko",
            "Optimization for Medical Image Segmentation: Theory and Practice When "
            "Evaluating With Dice Score or Jaccard Index",
            "IEEE Transactions on Medical Imaging 39(11)",
            2020,
            "https://doi.org/10.1109/TMI.2020.3002417",
        ),
        JML_REF,
    ),
    sample=overlap_sample,
    curve=Curve("logit", (-6.0, 6.0), make_curve("jaccard_loss")),
    none_shape=NONE_SHAPE,
    ignore_index=True,
    when_to_use=(
        "Segmentation evaluated with IoU / Jaccard; same use as Dice (imbalanced foreground, "
        "combine with BCE/CE). It penalises partial overlap more than Dice (J = D / (2 - D)). "
        "For a convex IoU surrogate see the Lovasz losses."
    ),
    when_not_to_use=(
        "Not when the metric is Dice (dice) or per-pixel accuracy (cross_entropy, "
        "bce_with_logits), nor alone with many empty masks (add bce_with_logits / "
        "cross_entropy). For a tight surrogate of the IoU itself use lovasz_hinge or "
        "lovasz_softmax; when recall matters more than precision, tversky."
    ),
)


@register(SPEC, aliases=("iou", "soft_jaccard"))
def jaccard_loss(
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
    r"""Soft Jaccard (IoU) loss on logits, per image (or per batch) and class; zero at a soft target.

    Optimises intersection over union with a soft intersection. Like Dice it weighs every
    class equally whatever its volume; it is stricter on partial overlap (for ``smooth=0``,
    $J = D / (2 - D)$). Combine with BCE/CE for stable training.

    $$\ell_{n,c} = 1 - \frac{I + s}{\sum_i p_{n,c,i} + \sum_i g_{n,c,i} - I + s} = \frac{\sum_i |p_{n,c,i} - g_{n,c,i}|}{\sum_i p_{n,c,i} + \sum_i g_{n,c,i} - I + s}, \quad I = \sum_i \min(p_{n,c,i}, g_{n,c,i})$$

    where $i$ runs over the spatial positions that are not ignored, $p$ is the predicted
    probability (sigmoid of the logit for ``"binary"``/``"multilabel"``, softmax over dim 1 for
    ``"multiclass"``), $g$ the target (the indicator $[t_i = c]$ in multiclass mode) and $s$ =
    ``smooth``. This is segmentation_models_pytorch's soft Jaccard; MONAI's
    ``DiceLoss(jaccard=True)`` computes $(2I + s)/(2U + s)$, i.e. ours with ``smooth`` = $s/2$.

    Soft targets: $\min(p_i, g_i)$ is the Jaccard metric loss (JML) of Wang, Ning & Blaschko
    (2023), $1 - (\|p\|_1 + \|g\|_1 - \|p - g\|_1)/(\|p\|_1 + \|g\|_1 + \|p - g\|_1)$
    at ``smooth=0``. On hard targets $g_i \in \{0, 1\}$, $\min(p_i, g_i) = p_i g_i$ exactly:
    the usual product-intersection soft Jaccard, same values bit for bit and the same gradient
    with respect to the logits. On soft targets it is 0 exactly when $p = g$ and positive
    otherwise (the product form is not minimised at the target).
    With ``aggregate="batch"`` the sums also run over the batch, giving one value per class.
    ``"mean"`` averages over all (sample, class) entries, i.e. a macro average over classes;
    reduced as described in *Reductions* (``docs/conventions.md``).

    Edge cases: an empty target with an empty prediction is a perfect score: the loss
    $\sum p / (\sum p + s)$ vanishes as the prediction empties, never 1 or NaN. With
    ``smooth=0`` a class whose target and prediction are both exactly empty (denominator 0)
    scores 1 (loss 0). Entries whose positions are all ``ignore_index`` are excluded from
    ``"mean"`` and are 0 under ``"none"``/``"sum"`` (zero gradient).

    **Gradient:** with $I = \sum_i \min(p_i, g_i)$, $U = \sum_i p_i + \sum_i g_i - I$ and
    $m_i = [p_i \le g_i]$ ($= g_i$ on hard targets; one image and class),
    $\partial \ell / \partial p_i = \big((I + s)(1 - m_i) - m_i (U + s)\big) / (U + s)^2$,
    times the sigmoid/softmax Jacobian: it couples all positions of an image. For
    ``smooth > 0`` a false positive on an empty image still gets $s / (\sum p + s)^2 > 0$;
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
            worth; segmentation_models_pytorch uses 0): empty masks score (nearly) 1 and the
            gradient on empty images does not vanish.
        ignore_index: target value whose positions are excluded from all sums; compared
            with the float target in binary/multilabel mode. Default None.
        aggregate: ``"sample"`` (default): one IoU per image and class, then averaged; this
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
        >>> LF.jaccard_loss(logits, mask)
        tensor(0.2400)
        >>> x = torch.tensor([[[2.0, 0.0, -1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 3.0]]])  # (1, C=3, 3)
        >>> LF.jaccard_loss(x, torch.tensor([[0, 1, 2]]), mode="multiclass", reduction="none")
        tensor([[0.1728, 0.2706, 0.1410]])

    References:
        M. A. Rahman, Y. Wang (2016). Optimizing Intersection-Over-Union in Deep Neural Networks for
            Image Segmentation. ISVC 2016, LNCS 10072. https://doi.org/10.1007/978-3-319-50835-1_22
        T. Eelbode, J. Bertels, M. Berman, D. Vandermeulen, F. Maes, R. Bisschops, M. B. Blaschko
            (2020). Optimization for Medical Image Segmentation: Theory and Practice When Evaluating
            With Dice Score or Jaccard Index. IEEE Transactions on Medical Imaging 39(11).
            https://doi.org/10.1109/TMI.2020.3002417
        Z. Wang, X. Ning, M. B. Blaschko (2023). Jaccard Metric Losses: Optimizing the Jaccard Index
            with Soft Labels. NeurIPS 2023. https://arxiv.org/abs/2302.05666
    """
    fn = "jaccard_loss"
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
    # 1 - J = Σ|p - g| / (Σp + Σg - Σmin(p, g) + s) with Σ|p - g| = Σp + Σg - 2Σmin(p, g),
    # written as err / (err + Σmin + s): no cancellation in 1 - J near a perfect score, and
    # 0 <= loss <= 1 even after rounding.
    err = (s.psum + s.gsum - 2.0 * s.inter).clamp_min(0.0)
    loss = safe_ratio(err, err + s.inter + smooth)  # 0/0 (smooth=0, both empty) -> 0
    return s.reduce(loss, reduction, weight, s.mask)


class JaccardLoss(LossModule, spec=SPEC, fn=jaccard_loss):
    """Module form of :func:`losscraft.functional.jaccard_loss`."""

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
