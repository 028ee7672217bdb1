"""Tversky loss: Dice with separate weights for false positives and false negatives."""

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
    OverlapSums,
    make_curve,
    overlap_params,
    overlap_sample,
    overlap_sums,
    safe_ratio,
)

ALPHA = Param(
    "alpha",
    0.3,
    Interval(0.0, math.inf, high_closed=False),
    "weight of the false positives (Salehi et al.'s alpha; Keras/TF swap the names)",
)
BETA = Param(
    "beta",
    0.7,
    Interval(0.0, math.inf, high_closed=False),
    "weight of the false negatives; beta > alpha favours recall",
)

_BASE = overlap_params()  # mode, smooth, ignore_index, aggregate


def tversky_params() -> tuple[Param, ...]:
    """``mode, alpha, beta, smooth, ignore_index, aggregate`` (shared with focal Tversky)."""
    return (_BASE[0], ALPHA, BETA, *_BASE[1:])


def tversky_loss_from_sums(s: OverlapSums, alpha: float, beta: float, smooth: float) -> Tensor:
    r"""$1 - TI$ with $TI = (TP + s) / (TP + \alpha FP + \beta FN + s)$ from the overlap sums.

    ``TP = inter`` $= \sum \min(p, g)$, ``FP = psum - inter`` $= \sum (p - g)_+$ and
    ``FN = gsum - inter`` $= \sum (g - p)_+$ (clamped at 0 against rounding): the split of the
    Dice semimetric's $\|p - g\|_1$ into over- and under-prediction, so the loss is 0 exactly
    at a soft target, and Salehi et al.'s counts on hard targets. Written as
    ``err / (err + TP + s)`` with ``err = alpha FP + beta FN``: no cancellation in ``1 - TI``
    near a perfect score, and ``0 <= loss <= 1``; ``0 / 0`` (``smooth=0``, both empty) is 0.
    Shared with focal Tversky.
    """
    fp = (s.psum - s.inter).clamp_min(0.0)
    fn = (s.gsum - s.inter).clamp_min(0.0)
    err = alpha * fp + beta * fn
    return safe_ratio(err, err + s.inter + smooth)


SALEHI = Ref(
    "S. S. M. Salehi, D. Erdogmus, A. Gholipour",
    "Tversky Loss Function for Image Segmentation Using 3D Fully Convolutional Deep Networks",
    "MLMI 2017 (MICCAI workshop), LNCS 10541",
    2017,
    "https://arxiv.org/abs/1706.05721",
)

SPEC = LossSpec(
    name="tversky",
    batch_coupling="overlap_sums",
    family=Family.SEGMENTATION,
    tasks=(Task.SEGMENTATION,),
    input_kind=InputKind.LOGITS,
    target_kind=TargetKind.BINARY,  # default mode="binary"; "multiclass" takes class indices
    params=tversky_params(),
    # At the defaults, along the foreground curve (one pixel, target 1, logit x):
    # l = 0.7 (1 - p) / (p + 0.7 (1 - p) + 1), p = sigmoid(x); along the false-positive curve
    # (one background pixel): l = 0.3 p / (0.3 p + 1). Both in [0, 1), C-infinity, bounded
    # gradient, neither convex (sigmoid-shaped) nor ever exactly 0.
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
        r"\ell_{n,c} = 1 - \frac{TP + s}{TP + \alpha\,FP + \beta\,FN + s},\quad "
        r"TP = \sum_i \min(p_i, g_i),\ FP = \sum_i (p_i - g_i)_+,\ FN = \sum_i (g_i - p_i)_+"
    ),
    summary="Tversky loss on logits: Dice with alpha weighting false positives and beta false negatives.",
    references=(SALEHI, DML_REF),
    sample=overlap_sample,
    curve=Curve("logit", (-6.0, 6.0), make_curve("tversky_loss"), label="foreground pixel"),
    more_curves=(
        Curve(
            "logit",
            (-6.0, 6.0),
            make_curve("tversky_loss", target=0.0),
            label="background pixel (false positive)",
        ),
    ),
    relations=(
        Relation(
            "dice",
            params={"alpha": 0.5, "beta": 0.5},
            other_params={"smooth": 2.0},
            note="Tversky's smooth s enters as (TP + s)/(TP + FP/2 + FN/2 + s) = (2TP + 2s)/(P + G + 2s)",
        ),
        Relation(
            "dice",
            params={"alpha": 0.5, "beta": 0.5, "smooth": 0.5, "mode": "multiclass", "aggregate": "batch"},
            other_params={"smooth": 1.0, "mode": "multiclass", "aggregate": "batch"},
        ),
        Relation("jaccard", params={"alpha": 1.0, "beta": 1.0}, note="same smooth"),
        Relation(
            "jaccard",
            params={"alpha": 1.0, "beta": 1.0, "mode": "multilabel"},
            other_params={"mode": "multilabel"},
        ),
    ),
    none_shape=NONE_SHAPE,
    ignore_index=True,
    when_to_use=(
        "Segmentation of small or under-segmented structures where recall matters more than "
        "precision: beta > alpha (default 0.7 / 0.3, Salehi et al.'s best) penalises missed "
        "foreground more than false alarms. alpha = beta = 1/2 is Dice, alpha = beta = 1 is "
        "Jaccard. Combine with BCE/CE like Dice."
    ),
    when_not_to_use=(
        "Not when false positives cost as much as misses: alpha = beta = 1/2 is dice, use "
        "that. Not when the loss plateaus on nearly solved small structures (focal_tversky), "
        "nor alone with many empty masks (add bce_with_logits / cross_entropy)."
    ),
)


@register(SPEC, aliases=("tversky_index",))
def tversky_loss(
    input: Tensor,
    target: Tensor,
    *,
    mode: str = "binary",
    alpha: float = 0.3,
    beta: float = 0.7,
    smooth: float = 1.0,
    ignore_index: int | None = None,
    aggregate: str = "sample",
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Tversky loss on logits: Dice with alpha weighting false positives and beta false negatives.

    A Dice loss whose false positives and false negatives are weighted separately: with
    ``beta > alpha`` a missed foreground pixel costs more than a false alarm, which trades
    precision for recall on small, under-segmented structures (lesions). Same modes,
    smoothing, ``ignore_index`` and aggregation as :func:`dice_loss`.

    $$\ell_{n,c} = 1 - \frac{TP + s}{TP + \alpha\,FP + \beta\,FN + s},\quad TP = \sum_i \min(p_i, g_i),\ FP = \sum_i (p_i - g_i)_+,\ FN = \sum_i (g_i - p_i)_+$$

    per image $n$ and class $c$, where $i$ runs over the spatial positions that are not
    ignored, $p$ is the predicted probability (sigmoid of the logit for
    ``"binary"``/``"multilabel"``, softmax over dim 1 for ``"multiclass"``), $g$ the target
    (the indicator $[t_i = c]$ in multiclass mode) and $s$ = ``smooth``. **Orientation:** as in
    Salehi et al. (2017), $\alpha$ weights the false positives and $\beta$ the false
    negatives; Keras/TensorFlow-style code often swaps the two. ``"mean"`` averages over all
    (sample, class) entries (a macro average over classes); reduced as described in
    *Reductions* (``docs/conventions.md``).

    Soft targets: the counts split the $L^1$ distance of the Dice semimetric loss (Wang et
    al. 2023) into over- and under-prediction, $\|p - g\|_1 = FP + FN$, with
    $TP = \sum_i \min(p_i, g_i)$ the part both share. On hard targets $g_i \in \{0, 1\}$ these
    are exactly Salehi et al.'s $\sum_i p_i g_i$, $\sum_i p_i (1 - g_i)$ and
    $\sum_i (1 - p_i) g_i$ (same values bit for bit, same gradient with respect to the
    logits); on soft targets the loss is 0 exactly when $p = g$ (for $\alpha, \beta > 0$) and
    positive otherwise, and the relations below hold as well ($\alpha = \beta = \tfrac12$ is
    the Dice semimetric loss, $\alpha = \beta = 1$ the Jaccard metric loss). The product form
    is not minimised at a soft target.

    Relations (tested): $\alpha = \beta = 1$ is :func:`jaccard_loss` with the same ``smooth``;
    $\alpha = \beta = \tfrac12$ is :func:`dice_loss` with ``smooth`` $= 2s$, because the
    smoothing term follows the paper/segmentation_models_pytorch convention
    $(TP + s)/(\dots + s)$ while Dice's is $(2TP + s)/(\dots + s)$.

    Edge cases: as for Dice, an empty target with an empty prediction is a perfect score
    (loss $\alpha \sum p / (\alpha \sum p + s) \to 0$); with ``smooth=0`` a class whose target
    and prediction are both exactly empty scores 0; entries whose positions are all
    ``ignore_index`` are excluded from ``"mean"`` (0 under ``"none"``/``"sum"``).

    **Gradient:** with $E = \alpha FP + \beta FN$, $D = TP + E + s$ and $m_i = [p_i \le g_i]$
    ($= g_i$ on hard targets), $\partial \ell/\partial p_i = \big(\alpha (1 - m_i) - \beta m_i\big)/D
    - E\,\big(\alpha + (1 - \alpha - \beta) m_i\big)/D^2$, times the sigmoid/softmax Jacobian;
    bounded for ``smooth > 0`` ($D \ge s$) and it couples all positions of an image. A false
    positive on an empty image gets $\alpha s / (\alpha \sum p + s)^2 > 0$.

    Args:
        input: logits. ``"binary"``: ``(N, *)`` or ``(N, 1, *)``; ``"multiclass"`` and
            ``"multilabel"``: ``(N, C, *)``. Floating point.
        target: ``"binary"``/``"multilabel"``: same shape as ``input``, floating point with
            values in [0, 1] (soft targets allowed: the loss is 0 exactly at $p = g$) or
            ``ignore_index``; ``"multiclass"``:
            integer class indices of shape ``(N, *)`` in ``[0, C)`` or ``ignore_index``.
        mode: ``"binary"`` (default), ``"multiclass"`` or ``"multilabel"``.
        alpha: weight $\alpha \ge 0$ of the false positives. Default 0.3.
        beta: weight $\beta \ge 0$ of the false negatives. Default 0.7 (Salehi et al.'s best
            lesion result; $\alpha = \beta = 0.5$ would be Dice).
        smooth: $s \ge 0$, added to numerator and denominator. Default 1.0 (as Dice).
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
            ``alpha``, ``beta``, ``smooth``, ``ignore_index``, ``aggregate``, ``weight`` or
            ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import tversky_loss
        >>> logits = torch.tensor([[[3.0, -2.0], [-1.0, 0.5]]])  # (N=1, 2, 2)
        >>> mask = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
        >>> tversky_loss(logits, mask)
        tensor(0.1385)
        >>> # a pure false positive costs more when alpha is larger
        >>> empty = torch.zeros(1, 2, 2)
        >>> tversky_loss(logits, empty, alpha=0.7, beta=0.3) > tversky_loss(logits, empty)
        tensor(True)

    References:
        S. S. M. Salehi, D. Erdogmus, A. Gholipour (2017). Tversky Loss Function for Image
            Segmentation Using 3D Fully Convolutional Deep Networks. MLMI 2017 (MICCAI workshop),
            LNCS 10541. https://arxiv.org/abs/1706.05721
        Z. Wang, T. Popordanoska, J. Bertels, R. Lemmens, M. B. Blaschko (2023). Dice Semimetric
            Losses: Optimizing the Dice Score with Soft Labels. MICCAI 2023.
            https://arxiv.org/abs/2303.16296
    """
    fn = "tversky_loss"
    check_floating(fn, "input", input)
    check_params(
        SPEC,
        {
            "mode": mode,
            "alpha": alpha,
            "beta": beta,
            "smooth": smooth,
            "ignore_index": ignore_index,
            "aggregate": aggregate,
            "reduction": reduction,
        },
    )
    s = overlap_sums(fn, input, target, mode=mode, ignore_index=ignore_index, aggregate=aggregate)
    check_weight(fn, weight, s.inter.shape)
    loss = tversky_loss_from_sums(s, float(alpha), float(beta), float(smooth))
    return s.reduce(loss, reduction, weight, s.mask)


class TverskyLoss(LossModule, spec=SPEC, fn=tversky_loss):
    """Module form of :func:`losscraft.functional.tversky_loss`."""

    def __init__(
        self,
        *,
        mode: str = "binary",
        alpha: float = 0.3,
        beta: float = 0.7,
        smooth: float = 1.0,
        ignore_index: int | None = None,
        aggregate: str = "sample",
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            mode=mode,
            alpha=alpha,
            beta=beta,
            smooth=smooth,
            ignore_index=ignore_index,
            aggregate=aggregate,
            reduction=reduction,
        )
