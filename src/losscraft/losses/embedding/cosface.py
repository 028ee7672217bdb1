"""CosFace: additive cosine margin on cosine logits (Wang et al. 2018)."""

from __future__ import annotations

import math

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
from ._common import margin_softmax_values, prepare_cosine_logits
from .arcface import cosine_curve_call, cosine_logits_sample, scaled_logits

SPEC = LossSpec(
    name="cosface",
    family=Family.EMBEDDING,
    tasks=(Task.METRIC_LEARNING, Task.MULTICLASS),
    # Cosine similarities in [-1, 1] (validated): see arcface for the choice of kind.
    input_kind=InputKind.COSINES,
    target_kind=TargetKind.CLASS_INDEX,
    params=(
        Param(
            "scale",
            64.0,
            Interval(0.0, math.inf, low_closed=False, high_closed=False),
            "s > 0 multiplying the cosines; 64 in the paper",
        ),
        Param(
            "margin",
            0.35,
            Interval(0.0, math.inf),
            "additive cosine margin m >= 0 subtracted from the target cosine; 0.35 in the paper",
        ),
        Param(
            "ignore_index",
            -100,
            Interval(-math.inf, math.inf, integer=True),
            "target value whose rows are skipped",
        ),
    ),
    # On the curve (target cosine x vs one class at cosine 0): softplus(-s (x - m)), convex,
    # smooth, slope bounded by s, about 1e-18 at x = 1.
    properties=frozenset(
        {
            Property.NONNEGATIVE,
            Property.ZERO_AT_MATCH,
            Property.CONVEX,
            Property.SMOOTH,
            Property.BOUNDED_GRADIENT,
        }
    ),
    formula=(
        r"\ell_i = -\log\frac{e^{s(\cos\theta_{y_i} - m)}}{e^{s(\cos\theta_{y_i} - m)} "
        r"+ \sum_{j\ne y_i} e^{s\cos\theta_j}}"
    ),
    summary="CosFace (large margin cosine loss): cross-entropy on scaled cosines, target minus a margin.",
    references=(
        Ref(
            "H. Wang, Y. Wang, Z. Zhou, X. Ji, D. Gong, J. Zhou, Z. Li, W. Liu",
            "CosFace: Large Margin Cosine Loss for Deep Face Recognition",
            "CVPR",
            2018,
            "https://arxiv.org/abs/1801.09414",
        ),
    ),
    sample=cosine_logits_sample,
    curve=Curve(
        "cosine", (-1.0, 1.0), cosine_curve_call, zero=1.0, extent=(-1.0, 1.0), label="target cosine"
    ),
    relations=(
        Relation(
            "cross_entropy",
            params={"margin": 0.0},
            transform=scaled_logits,
            note="without a margin the head is cross-entropy on the logits 64 * cos",
        ),
    ),
    none_shape="sample",
    ignore_index=True,
    when_to_use=(
        "Open-set identification trained as classification (faces, speakers, products): the "
        "cosine margin separates classes on the hypersphere; simpler than ArcFace, with no "
        "fallback branch and a convex, smooth curve. Feed cosines between normalised "
        "embeddings and normalised class weights. Plot axis: the target-class cosine."
    ),
    when_not_to_use=(
        "Not for ordinary closed-set classification on logits (cross_entropy). It needs one "
        "class-weight row per identity: with very many or changing identities, batch_triplet "
        "or supcon learn from labelled batches without a class matrix; with only pairs or "
        "triplets, contrastive or triplet."
    ),
)


@register(SPEC, aliases=("large_margin_cosine", "lmcl"))
def cosface_loss(
    input: Tensor,
    target: Tensor,
    *,
    scale: float = 64.0,
    margin: float = 0.35,
    ignore_index: int = -100,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""CosFace (large margin cosine loss): cross-entropy on scaled cosines, target minus a margin.

    Use it to train embeddings as a classifier over identities: the target cosine must beat
    every other class by $m$. The head takes **cosines**, not logits: with embeddings $x$ and
    a class-weight matrix $W$ (a ``Parameter`` of shape ``(C, D)`` that you own),
    ``input = F.normalize(x) @ F.normalize(W).T``. With $\theta_j$ the angle to class $j$:

    $$\ell_i = -\log\frac{e^{s(\cos\theta_{y_i} - m)}}{e^{s(\cos\theta_{y_i} - m)} + \sum_{j\ne y_i} e^{s\cos\theta_j}}$$

    Reduced as described in *Reductions* (``docs/conventions.md``); rows whose target is
    ``ignore_index`` are excluded. With ``margin=0`` this is
    ``cross_entropy_loss(scale * input, target)``. Cosines up to 0.01 outside [-1, 1]
    (rounding) are accepted; float16/bfloat16 inputs are computed in float32.

    **Gradient:** $\partial\ell/\partial\cos\theta_j = s\,(p_j - \mathbb 1[j = y])$ with $p$
    the softmax of the margin-adjusted logits: bounded by $s$, smooth.

    Args:
        input: cosine similarities of shape ``(N, C)`` (or ``(N, C, d1, ...)``), in [-1, 1].
        target: class indices, an integer tensor of shape ``(N,)`` (``(N, d1, ...)``) with
            values in ``[0, C)`` or ``ignore_index``.
        scale: $s > 0$. Default 64.
        margin: cosine margin $m \ge 0$. Default 0.35 (the paper's).
        ignore_index: target value whose rows are skipped (loss 0, excluded from the mean).
            Default -100.
        weight: optional non-negative per-sample weights broadcastable to ``(N, d1, ...)``.
        reduction: ``"mean"`` (over non-ignored rows), ``"sum"`` or ``"none"`` (shape
            ``(N, d1, ...)``).

    Returns:
        A scalar, or a tensor of shape ``(N, d1, ...)`` for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: ``input`` not floating ``(N, C, ...)``, or a value outside [-1, 1]
            (beyond rounding: raw logits were probably passed); a class index outside ``[0, C)``
            (named); a target of the wrong shape or dtype; ``scale``, ``margin``,
            ``ignore_index``, ``weight`` or ``reduction`` invalid.

    Examples:
        >>> import torch
        >>> from losscraft.functional import cosface_loss
        >>> cos = torch.tensor([[0.9, 0.1, -0.2], [0.3, 0.4, 0.0], [-1.0, 1.0, 0.0]])
        >>> cosface_loss(cos, torch.tensor([0, 1, 0]), reduction="none")
        tensor([  0.0000,  16.0000, 150.4000])
        >>> cosface_loss(cos, torch.tensor([0, 1, 0]), scale=16.0, margin=0.2)
        tensor(12.3303)

    References:
        H. Wang, Y. Wang, Z. Zhou, X. Ji, D. Gong, J. Zhou, Z. Li, W. Liu (2018). CosFace: Large
            Margin Cosine Loss for Deep Face Recognition. CVPR. https://arxiv.org/abs/1801.09414
    """
    fn = "cosface_loss"
    check_params(
        SPEC,
        {"scale": scale, "margin": margin, "ignore_index": ignore_index, "reduction": reduction},
    )
    cos, t, mask = prepare_cosine_logits(fn, input, target, ignore_index)
    values = margin_softmax_values(cos, t, lambda c: c - margin, scale)
    check_weight(fn, weight, values.shape)
    return reduce(values, reduction, weight, mask)


class CosFaceLoss(LossModule, spec=SPEC, fn=cosface_loss):
    """Module form of :func:`losscraft.functional.cosface_loss` (the head on given cosines)."""

    def __init__(
        self,
        *,
        scale: float = 64.0,
        margin: float = 0.35,
        ignore_index: int = -100,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(scale=scale, margin=margin, ignore_index=ignore_index, reduction=reduction)
