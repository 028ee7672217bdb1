"""Circle loss (Sun et al. 2020) over labelled embeddings, pair-based (unified) form."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..._core.checks import check_params
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
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
    TargetKind,
    Task,
)
from ._common import check_labels, labelled_sample, prepare_batch_embeddings, unit_at_cosine
from .mining import anchor_cosines


def _probe(x: Tensor, **_: object) -> Call:
    """Anchor ``e1`` (label 0), its positive at cosine ``x`` (label 0), negatives ``e3``, ``e4``.

    The negatives (labels 1 and 2) are orthogonal to the anchor: each contributes the constant
    ``-gamma m^2`` to the negative log-sum-exp, and the anchor's loss is
    ``softplus(log 2 - 2 gamma m^2 + gamma (x - 1)^2)``.
    """
    e = torch.eye(4, dtype=x.dtype, device=x.device)
    input = torch.stack([e[0], unit_at_cosine(x), e[2], e[3]])
    return Call((input, torch.tensor([0, 0, 1, 2], device=x.device)))


SPEC = LossSpec(
    name="circle",
    batch_coupling="embeddings",
    family=Family.EMBEDDING,
    tasks=(Task.METRIC_LEARNING,),
    input_kind=InputKind.EMBEDDINGS,
    # Integer identity labels (any values), never differentiated: see supcon.
    target_kind=TargetKind.IDENTITY,
    params=(
        Param(
            "margin",
            0.4,
            Interval(0.0, 1.0),
            "relaxation m: optima O_p = 1 + m, O_n = -m, decision margins Delta_p = 1 - m, "
            "Delta_n = m (pytorch-metric-learning's default 0.4; the paper: 0.25 for faces "
            "and re-identification, 0.4 for fine-grained retrieval)",
        ),
        Param(
            "scale",
            80.0,
            Interval(0.0, math.inf, low_closed=False, high_closed=False),
            "gamma > 0 multiplying the weighted similarities (pytorch-metric-learning's default "
            "80; the paper: 256 for faces, 128 for re-identification, 80 for fine-grained retrieval)",
        ),
    ),
    # On the probe curve (x = cosine of the anchor's one positive, two orthogonal negatives):
    # softplus(log 2 - 2 gamma m^2 + gamma (x - 1)^2): a convex parabola through a softplus,
    # minimal at x = 1 with the value softplus(log 2 - 25.6) ~ 1e-11 at the defaults; its
    # gradient (a_p detached) is bounded by gamma (2 + m) per similarity.
    properties=frozenset(
        {
            Property.NONNEGATIVE,
            Property.ZERO_AT_MATCH,
            Property.CONVEX,
            Property.SMOOTH,
            Property.BOUNDED_GRADIENT,
            Property.SCALE_INVARIANT,
        }
    ),
    formula=(
        r"\ell_i = \log\Bigl(1 + \sum_{n\in N(i)} e^{\gamma a_{in}(s_{in} - \Delta_n)}\sum_{p\in "
        r"P(i)} e^{-\gamma a_{ip}(s_{ip} - \Delta_p)}\Bigr)"
    ),
    summary=(
        "Circle loss (Sun et al. 2020): every pair's cosine, weighted by its distance from its optimum."
    ),
    references=(
        Ref(
            "Y. Sun, C. Cheng, Y. Zhang, C. Zhang, L. Zheng, Z. Wang, Y. Wei",
            "Circle Loss: A Unified Perspective of Pair Similarity Optimization",
            "CVPR",
            2020,
            "https://arxiv.org/abs/2002.10857",
        ),
    ),
    sample=labelled_sample,
    curve=Curve(
        "cosine",
        (-0.99, 0.99),
        _probe,
        zero=1.0,
        extent=(-1.0, 1.0),
        pointwise=True,
        label="one positive, two orthogonal negatives",
    ),
    none_shape="sample",
    when_to_use=(
        "Metric learning from labelled batches (face recognition, person re-identification, "
        "fine-grained retrieval) with P x K batches: every pair of the batch is used, and each "
        "similarity is weighted by how far it is from its optimum, so the hard pairs dominate "
        "without a separate miner. Set margin and scale for the task (the paper: 0.25 and 256 "
        "for faces, 0.25 and 128 for re-identification, 0.4 and 80 for retrieval). Plot axis: "
        "cosine of the anchor's positive."
    ),
    when_not_to_use=(
        "Not without labels (info_nce on two augmented views). Not when most anchors lack a "
        "positive or a negative in the batch: they are dropped, so sample P x K batches. With "
        "a classification head over a fixed set of identities, arcface or cosface learn the "
        "class centres directly."
    ),
    surrogate_gradient=(
        "The weights a_p = (1 + m - s_p)_+ and a_n = (s_n + m)_+ are held constant in the backward "
        "pass, as in Sun et al. (2020) and pytorch-metric-learning: the published gradient. "
        "Differentiating through them would pull negatives with cosine in (-m, 0) towards 0."
    ),
)


@register(SPEC)
def circle_loss(
    input: Tensor,
    target: Tensor,
    *,
    margin: float = 0.4,
    scale: float = 80.0,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Circle loss (Sun et al. 2020): every pair's cosine, weighted by its distance from its optimum.

    Use it for metric learning on labelled batches: every other sample with the anchor's label
    is a positive, every sample with another label a negative. With $\hat z$ the
    L2-normalised embeddings, $s_{ij} = \hat z_i\cdot\hat z_j$, $P(i) = \{p \ne i : y_p =
    y_i\}$, $N(i) = \{n : y_n \ne y_i\}$, the weights $a_{ip} = [1 + m - s_{ip}]_+$ and
    $a_{in} = [s_{in} + m]_+$ (treated as constants, as in the paper), $\Delta_p = 1 - m$,
    $\Delta_n = m$ and the scale $\gamma$:

    $$\ell_i = \log\Bigl(1 + \sum_{n\in N(i)} e^{\gamma a_{in}(s_{in} - \Delta_n)}\sum_{p\in P(i)} e^{-\gamma a_{ip}(s_{ip} - \Delta_p)}\Bigr)$$

    This is the paper's pair-wise (unified) form on the batch, and pytorch-metric-learning's
    ``CircleLoss`` (same values and gradients). Computed as
    $\mathrm{softplus}(\mathrm{LSE}_n + \mathrm{LSE}_p)$ with max-subtracted log-sum-exps, so
    the large logits of $\gamma = 256$ stay finite. **Anchors without a positive or without a
    negative** have no defined loss: they are excluded from the ``"mean"`` (like ignored
    positions) and give 0 under ``"none"``; a batch without any such anchor gives 0 with zero
    gradients, still attached to the graph. pytorch-metric-learning's default reducer
    (``AvgNonZeroReducer``) averages the anchors whose loss is positive, which is the same set
    unless a loss underflows to exactly 0. Reduced as described in *Reductions*
    (``docs/conventions.md``).

    Defaults: ``margin=0.4, scale=80`` as pytorch-metric-learning; the paper recommends
    $m = 0.25, \gamma = 256$ for face recognition, $m = 0.25, \gamma = 128$ for person
    re-identification and $m = 0.4, \gamma = 80$ for fine-grained image retrieval.

    Numerics: computed in float32 for float16/bfloat16 inputs.

    **Gradient:** with $\sigma$ the logistic function of the bracket's log and $w$ the
    softmax weights of each log-sum-exp, $\partial\ell_i/\partial s_{ip} = -\sigma\,
    w_{ip}\,\gamma a_{ip}$ and $\partial\ell_i/\partial s_{in} = \sigma\, w_{in}\,\gamma
    a_{in}$: at most $\gamma(2 + m)$ per similarity, and 0 for a positive beyond $1 + m$ or a
    negative below $-m$. This is the paper's gradient (and pml's): the weights are held
    constant, so it is the derivative of the value with $a_{ip}, a_{in}$ frozen at their
    current values, **not** the derivative of the value itself (no function has this
    gradient; differentiating through the weights would pull negatives in $(-m, 0)$ towards
    0). An exact zero embedding has cosine 0 with everything and receives
    gradient 0; a NaN embedding makes the loss NaN.

    Args:
        input: embeddings of shape ``(N, D)``, floating point.
        target: integer labels of shape ``(N,)``; equal labels mark positives. Any integer
            values (identities, not indices into a class dimension).
        margin: relaxation $m$ in [0, 1]. Default 0.4.
        scale: $\gamma > 0$. Default 80.
        weight: optional non-negative per-anchor weights of shape ``(N,)``.
        reduction: ``"mean"`` (over anchors with a positive and a negative), ``"sum"`` or
            ``"none"`` (one value per anchor, shape ``(N,)``, 0 for the excluded anchors).

    Returns:
        A scalar, or a tensor of shape ``(N,)`` for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: ``input`` not a floating ``(N, D)`` tensor; ``target`` not an integer
            tensor of shape ``(N,)``; ``margin`` not in [0, 1]; ``scale`` not in (0, inf); bad
            ``weight`` or ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import circle_loss
        >>> z = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 1.0], [-1.0, 0.0]])
        >>> labels = torch.tensor([0, 0, 1, 1, 2])
        >>> circle_loss(z, labels, margin=0.25, scale=16.0, reduction="none")  # the last: no positive
        tensor([0.5081, 0.5904, 0.3614, 0.4632, 0.0000])
        >>> circle_loss(z, torch.tensor([0, 1, 0, 1, 2]), margin=0.25, scale=16.0)  # wrong groups
        tensor(26.8315)
        >>> circle_loss(z, torch.arange(5))  # no positive pair at all
        tensor(0.)

    References:
        Y. Sun, C. Cheng, Y. Zhang, C. Zhang, L. Zheng, Z. Wang, Y. Wei (2020). Circle Loss: A
            Unified Perspective of Pair Similarity Optimization. CVPR.
            https://arxiv.org/abs/2002.10857
    """
    fn = "circle_loss"
    (x,) = prepare_batch_embeddings(fn, ("input",), input)
    check_params(SPEC, {"margin": margin, "scale": scale, "reduction": reduction})
    labels = check_labels(fn, target, x.shape[0]).to(x.device)
    # this rank's anchors against every rank's samples (see mining.anchor_cosines)
    sim, same, eye = anchor_cosines(fn, x, labels)
    pos = same & ~eye
    neg = ~same
    valid = pos.any(dim=1) & neg.any(dim=1)
    # The self-paced weights are constants (the paper's gradient; pml detaches them too).
    s = sim.detach()
    a_p = (1.0 + margin - s).clamp_min(0.0)
    a_n = (s + margin).clamp_min(0.0)
    logit_p = (-scale) * a_p * (sim - (1.0 - margin))
    logit_n = scale * a_n * (sim - margin)
    # An excluded anchor's row keeps every entry (finite) instead of none: a log-sum-exp over
    # -inf only is -inf with a NaN gradient; its value is dropped by the reduction anyway.
    keep_p = pos | ~valid.unsqueeze(1)
    keep_n = neg | ~valid.unsqueeze(1)
    lse_p = torch.logsumexp(torch.where(keep_p, logit_p, torch.full_like(logit_p, -math.inf)), dim=1)
    lse_n = torch.logsumexp(torch.where(keep_n, logit_n, torch.full_like(logit_n, -math.inf)), dim=1)
    # log(1 + e^t) exactly (torch's softplus switches to t itself beyond t = 20).
    values = torch.logaddexp(lse_p + lse_n, torch.zeros_like(lse_p))
    check_weight(fn, weight, values.shape)
    return reduce(values, reduction, weight, mask=valid)


class CircleLoss(LossModule, spec=SPEC, fn=circle_loss):
    """Module form of :func:`losscraft.functional.circle_loss`."""

    def __init__(self, *, margin: float = 0.4, scale: float = 80.0, reduction: Reduction = "mean") -> None:
        super().__init__(margin=margin, scale=scale, reduction=reduction)
