"""NT-Xent / InfoNCE on two views of a batch (SimCLR's contrastive loss)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..._core.checks import check_params
from ..._core.distributed import gather_batch
from ..._core.module import LossModule
from ..._core.numerics import safe_normalize
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
from ..._core.sampling import randn
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
from ._common import EMBED_DIM, prepare_batch_embeddings, unit_at_cosine


def _sample(n: int, *, generator: torch.Generator, dtype: torch.dtype, **_: object) -> Call:
    """Two correlated views ``(n, 5)``: ``z2 = z1 + 0.5 * noise`` (standard normal ``z1``)."""
    z1 = randn((n, EMBED_DIM), generator, torch.float64)
    z2 = z1 + 0.5 * randn((n, EMBED_DIM), generator, torch.float64)
    return Call((z1.to(dtype), z2.to(dtype)))


def _probe(x: Tensor, **_: object) -> Call:
    """Pair 0 at cosine ``x`` (``e1`` and ``[x, sqrt(1 - x^2), 0, 0]``), pair 1 = ``(e3, e4)``.

    Both views of pair 1 are orthogonal to pair 0, so the probe's two negatives have cosine 0
    and its loss is ``log(1 + 2 exp(-x / tau))``.
    """
    e = torch.eye(4, dtype=x.dtype, device=x.device)
    input1 = torch.stack([e[0], e[2]])
    input2 = torch.stack([unit_at_cosine(x), e[3]])
    return Call((input1, input2))


SPEC = LossSpec(
    name="info_nce",
    batch_coupling="embeddings",
    family=Family.EMBEDDING,
    tasks=(Task.METRIC_LEARNING,),
    input_kind=InputKind.EMBEDDINGS,
    target_kind=TargetKind.NONE,
    inputs=("input1", "input2"),
    params=(
        Param(
            "temperature",
            0.1,
            Interval(0.0, math.inf, low_closed=False, high_closed=False),
            "tau > 0 dividing the cosine similarities; smaller = sharper (SimCLR 0.1-0.5, MoCo 0.07)",
        ),
    ),
    # On the probe curve (x = cosine of the positive pair, two orthogonal negatives):
    # log(1 + 2 exp(-x / tau)), a softplus of an affine function: convex, smooth, slope
    # bounded by 1 / tau; never 0 (a negative always takes some probability).
    properties=frozenset(
        {
            Property.NONNEGATIVE,
            Property.CONVEX,
            Property.SMOOTH,
            Property.BOUNDED_GRADIENT,
            Property.SCALE_INVARIANT,
        }
    ),
    formula=(
        r"\ell_k = -\log\frac{\exp(s_{k,k^+}/\tau)}{\sum_{j=1,\,j\ne k}^{2N}\exp(s_{kj}/\tau)}, \qquad "
        r"L_i = \tfrac12\bigl(\ell_i + \ell_{N+i}\bigr)"
    ),
    summary=(
        "NT-Xent (SimCLR's InfoNCE) on two views: each view must pick its partner out of the 2N - 1 others."
    ),
    references=(
        Ref(
            "T. Chen, S. Kornblith, M. Norouzi, G. Hinton",
            "A Simple Framework for Contrastive Learning of Visual Representations",
            "ICML",
            2020,
            "https://arxiv.org/abs/2002.05709",
        ),
        Ref(
            "A. van den Oord, Y. Li, O. Vinyals",
            "Representation Learning with Contrastive Predictive Coding",
            "arXiv:1807.03748",
            2018,
            "https://arxiv.org/abs/1807.03748",
        ),
    ),
    sample=_sample,
    curve=Curve(
        "cosine",
        (-0.99, 0.99),
        _probe,
        zero=1.0,
        extent=(-1.0, 1.0),
        pointwise=True,
        label="positive pair, two orthogonal negatives",
    ),
    none_shape="sample",
    when_to_use=(
        "Self-supervised pre-training from augmentation pairs without labels (SimCLR-style). "
        "Use the largest batch that fits (more negatives tighten the bound) and tune the "
        "temperature in [0.05, 0.5]. With labels, prefer SupCon. Plot axis: the cosine of the "
        "positive pair (one small problem per point)."
    ),
    when_not_to_use=(
        "Not when class labels are available: same-class samples in the batch are pushed apart "
        "as negatives, so use supcon. Not for labelled pairs or triplets (contrastive, "
        "cosine_embedding, triplet)."
    ),
)


@register(SPEC, aliases=("nt_xent", "ntxent"))
def info_nce_loss(
    input1: Tensor,
    input2: Tensor,
    *,
    temperature: float = 0.1,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""NT-Xent (SimCLR's InfoNCE) on two views: each view must pick its partner out of the 2N - 1 others.

    Use it for self-supervised contrastive learning: row ``i`` of ``input1`` and row ``i`` of
    ``input2`` are two views (augmentations) of the same example; every other row of either
    view is a negative. With $z = [z^{(1)}; z^{(2)}]$ the $2N$ stacked, L2-normalised views,
    $s_{kj} = \hat z_k\cdot\hat z_j$ their cosine similarity and $k^+$ the other view of $k$:

    $$\ell_k = -\log\frac{\exp(s_{k,k^+}/\tau)}{\sum_{j=1,\,j\ne k}^{2N}\exp(s_{kj}/\tau)}, \qquad L_i = \tfrac12\bigl(\ell_i + \ell_{N+i}\bigr)$$

    $L_i$ averages both orderings of pair $i$ (view 1 as anchor, then view 2), so the
    ``"mean"`` is SimCLR's $\frac{1}{2N}\sum_k \ell_k$ and equals pytorch-metric-learning's
    ``NTXentLoss`` on ``cat([input1, input2])`` with labels ``cat([arange(N), arange(N)])``.
    Reduced as described in *Reductions* (``docs/conventions.md``).

    Numerics: the similarities are computed in float32 for float16/bfloat16 inputs and the
    denominator is a max-subtracted ``logsumexp``, so at $\tau = 0.01$ (logits up to 100)
    half-precision inputs stay within 1% of float32 (pytorch-metric-learning, computing in
    float16 with ``log(ratio + tiny)``, caps each term at $-\log(6.1\cdot10^{-5}) = 9.7$). A
    batch of one pair has no negatives: its loss is 0 (the positive is the only candidate).
    A zero embedding has cosine 0 with every view (see *Gradient*).

    **Gradient:** $\partial\ell_k/\partial s_{kj} = (p_{kj} - \mathbb 1[j = k^+])/\tau$ with
    $p_k$ the softmax over $j \ne k$: bounded by $1/\tau$ per similarity; through the
    normalisation it is orthogonal to each embedding and scales like $1/\lVert z\rVert$. An
    exact zero embedding receives gradient 0 and passes none on, so it cannot produce inf/NaN;
    any other embedding is normalised exactly at every scale, and a NaN makes the loss NaN.

    Args:
        input1: first views, embeddings of shape ``(N, D)``, floating point.
        input2: second views, shape ``(N, D)`` (no broadcasting); row ``i`` is the positive
            of ``input1`` row ``i``.
        temperature: $\tau > 0$. Default 0.1 (SimCLR's ImageNet setting; 0.5 for CIFAR-10,
            MoCo uses 0.07).
        weight: optional non-negative per-pair weights of shape ``(N,)``.
        reduction: ``"mean"`` (over pairs, i.e. over all $2N$ anchors), ``"sum"`` or
            ``"none"`` (one value per pair, $L_i$, shape ``(N,)``).

    Returns:
        A scalar, or a tensor of shape ``(N,)`` for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: inputs not floating, not 2-D, or of different shapes; ``temperature``
            not in (0, inf); bad ``weight`` or ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import info_nce_loss
        >>> z1 = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> z2 = torch.tensor([[1.0, 0.2], [0.1, 1.0]])
        >>> info_nce_loss(z1, z2, reduction="none")
        tensor([0.0008, 0.0007])
        >>> info_nce_loss(z1, z2.flip(0), temperature=0.5)  # views swapped: the wrong partners
        tensor(2.0020)
        >>> info_nce_loss(z1[:1], z2[:1])  # one pair: no negatives
        tensor(0.)

    References:
        T. Chen, S. Kornblith, M. Norouzi, G. Hinton (2020). A Simple Framework for Contrastive
            Learning of Visual Representations. ICML. https://arxiv.org/abs/2002.05709
        A. van den Oord, Y. Li, O. Vinyals (2018). Representation Learning with Contrastive
            Predictive Coding. arXiv:1807.03748. https://arxiv.org/abs/1807.03748
    """
    fn = "info_nce_loss"
    z1, z2 = prepare_batch_embeddings(fn, ("input1", "input2"), input1, input2)
    check_params(SPEC, {"temperature": temperature, "reduction": reduction})
    # Inside losscraft.distributed.global_batch: this rank's pairs as anchors against every
    # rank's views (outside it, or on one rank, rows is every pair and the matrix is square).
    (z1, z2), rows = gather_batch(fn, z1, z2)
    n = z1.shape[0]
    z = safe_normalize(torch.cat([z1, z2], dim=0), dim=-1)
    if rows.stop - rows.start == n:
        anchors = torch.arange(2 * n, device=z.device)
        logits = (z @ z.transpose(0, 1)) / temperature
        is_self = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    else:  # anchors: this rank's pairs in view 1, then in view 2
        mine = torch.arange(rows.start, rows.stop, device=z.device)
        anchors = torch.cat([mine, mine + n])
        logits = (z[anchors] @ z.transpose(0, 1)) / temperature
        is_self = anchors.unsqueeze(1) == torch.arange(2 * n, device=z.device).unsqueeze(0)
    # -inf where a view meets itself, in place (no (2N)^2 float copy): a view is never its
    # own candidate. Every row keeps its positive, so no row is all -inf. (masked_fill_ with
    # a boolean mask rather than diagonal().fill_, which inductor lowers with a FutureWarning.)
    logits.masked_fill_(is_self, -math.inf)
    partner = (anchors + n) % (2 * n)
    # torch's fused log-softmax + NLL: its backward is one softmax, where logsumexp minus a
    # gather keeps more (2N)^2 temporaries (measured 1.3x slower than the naive formula).
    per_anchor = F.cross_entropy(logits, partner, reduction="none")
    m = per_anchor.shape[0] // 2
    values = 0.5 * (per_anchor[:m] + per_anchor[m:])
    check_weight(fn, weight, values.shape)
    return reduce(values, reduction, weight)


class InfoNCELoss(LossModule, spec=SPEC, fn=info_nce_loss):
    """Module form of :func:`losscraft.functional.info_nce_loss`."""

    def __init__(self, *, temperature: float = 0.1, reduction: Reduction = "mean") -> None:
        super().__init__(temperature=temperature, reduction=reduction)
