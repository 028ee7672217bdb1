"""Supervised contrastive loss (Khosla et al. 2020), L_out form."""

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

    The negatives (labels 1 and 2) are orthogonal to the anchor, so the anchor's loss is
    ``log(1 + 2 exp(-x / tau))``.
    """
    e = torch.eye(4, dtype=x.dtype, device=x.device)
    input = torch.stack([e[0], unit_at_cosine(x), e[2], e[3]])
    return Call((input, torch.tensor([0, 0, 1, 2], device=x.device)))


SPEC = LossSpec(
    name="supcon",
    batch_coupling="embeddings",
    family=Family.EMBEDDING,
    tasks=(Task.METRIC_LEARNING,),
    input_kind=InputKind.EMBEDDINGS,
    # Integer labels that mark positives: identities, not indices into a class dimension.
    target_kind=TargetKind.IDENTITY,
    params=(
        Param(
            "temperature",
            0.1,
            Interval(0.0, math.inf, low_closed=False, high_closed=False),
            "tau > 0 dividing the cosine similarities (Khosla et al.: 0.1)",
        ),
    ),
    # On the probe curve (x = cosine of the anchor's one positive, two orthogonal negatives):
    # log(1 + 2 exp(-x / tau)): convex, smooth, slope bounded by 1 / tau, never 0.
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
        r"\ell_i = -\frac{1}{|P(i)|}\sum_{p\in P(i)} \log\frac{\exp(s_{ip}/\tau)}{\sum_{a\ne "
        r"i}\exp(s_{ia}/\tau)}"
    ),
    summary=(
        "Supervised contrastive loss (Khosla et al. 2020): pulls together every pair with the same label."
    ),
    references=(
        Ref(
            "P. Khosla, P. Teterwak, C. Wang, A. Sarna, Y. Tian, P. Isola, A. Maschinot, C. Liu, D. Krishnan",
            "Supervised Contrastive Learning",
            "NeurIPS",
            2020,
            "https://arxiv.org/abs/2004.11362",
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
        "Representation learning with labels (few samples per class, classes unseen at test "
        "time, or pre-training before a linear classifier). Use P x K batches so that every "
        "anchor has positives; tau = 0.1. Several augmented views per sample: flatten them "
        "into the batch and repeat the labels. Plot axis: cosine of the anchor's positive."
    ),
    when_not_to_use=(
        "Not without labels (info_nce on two augmented views). Not when most anchors have no "
        "positive in the batch (few samples per class, no P x K sampler): they are dropped "
        "from the loss, so sample P x K batches or use contrastive on explicit pairs."
    ),
)


@register(SPEC, aliases=("supervised_contrastive",))
def supcon_loss(
    input: Tensor,
    target: Tensor,
    *,
    temperature: float = 0.1,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Supervised contrastive loss (Khosla et al. 2020): pulls together every pair with the same label.

    Use it to learn embeddings from labelled data: every other sample with the anchor's label
    is a positive, every sample with another label a negative. With $\hat z$ the
    L2-normalised embeddings, $s_{ij} = \hat z_i\cdot\hat z_j$ and
    $P(i) = \{p \ne i : y_p = y_i\}$:

    $$\ell_i = -\frac{1}{|P(i)|}\sum_{p\in P(i)} \log\frac{\exp(s_{ip}/\tau)}{\sum_{a\ne i}\exp(s_{ia}/\tau)}$$

    This is the paper's $\mathcal L_{out}$ ($1/|P(i)|$ outside the log), the variant it found
    better. **Anchors without positives** ($|P(i)| = 0$) have no defined loss: they are
    excluded from the ``"mean"`` (like ignored positions) and give 0 under ``"none"``. A
    batch with no positive pair at all gives 0 with zero gradients, still attached to the
    graph. For several views per sample (the paper's ``(N, V, D)`` layout) pass
    ``views.flatten(0, 1)`` and ``labels.repeat_interleave(V)``. Reduced as described in
    *Reductions* (``docs/conventions.md``). With each sample's only positive its other view,
    the per-anchor losses equal NT-Xent's (:func:`info_nce_loss`).

    Numerics: computed in float32 for float16/bfloat16 inputs with a max-subtracted
    ``logsumexp``; within 1% of float32 at $\tau = 0.01$.

    **Gradient:** $\partial\ell_i/\partial s_{ia} = \bigl(p_{ia} - \mathbb 1[a\in P(i)]/|P(i)|\bigr)/\tau$
    ($p_i$ the softmax over $a \ne i$): bounded by $1/\tau$ per similarity. An exact zero
    embedding has cosine 0 with everything and receives gradient 0, so it cannot produce
    inf/NaN; any other embedding is normalised exactly at every scale, and a NaN makes the
    loss NaN.

    Args:
        input: embeddings of shape ``(N, D)``, floating point.
        target: integer labels of shape ``(N,)``; equal labels mark positives. Any integer
            values (identities, not indices into a class dimension).
        temperature: $\tau > 0$. Default 0.1 (Khosla et al.).
        weight: optional non-negative per-anchor weights of shape ``(N,)``.
        reduction: ``"mean"`` (over anchors that have a positive), ``"sum"`` or ``"none"``
            (one value per anchor, shape ``(N,)``, 0 for anchors without positives).

    Returns:
        A scalar, or a tensor of shape ``(N,)`` for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: ``input`` not a floating ``(N, D)`` tensor; ``target`` not an integer
            tensor of shape ``(N,)``; ``temperature`` not in (0, inf); bad ``weight`` or
            ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import supcon_loss
        >>> z = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 1.0], [-1.0, 0.0]])
        >>> labels = torch.tensor([0, 0, 1, 1, 2])
        >>> supcon_loss(z, labels, temperature=0.5, reduction="none")  # the last has no positive
        tensor([0.2797, 0.3348, 0.3673, 0.3963, 0.0000])
        >>> supcon_loss(z, torch.tensor([0, 1, 0, 1, 2]), temperature=0.5)  # wrong groups
        tensor(2.1247)
        >>> supcon_loss(z, torch.arange(5))  # no positive pair at all
        tensor(0.)

    References:
        P. Khosla, P. Teterwak, C. Wang, A. Sarna, Y. Tian, P. Isola, A. Maschinot, C. Liu, D.
            Krishnan (2020). Supervised Contrastive Learning. NeurIPS.
            https://arxiv.org/abs/2004.11362
    """
    fn = "supcon_loss"
    (x,) = prepare_batch_embeddings(fn, ("input",), input)
    check_params(SPEC, {"temperature": temperature, "reduction": reduction})
    labels = check_labels(fn, target, x.shape[0]).to(x.device)
    # this rank's anchors against every rank's samples (see mining.anchor_cosines)
    sim, same, eye = anchor_cosines(fn, x, labels)
    n = sim.shape[1]
    logits = sim / temperature
    # A sample is never its own candidate. With N = 1 the row would be all -inf (and its
    # logsumexp gradient NaN); that lone anchor has no positive anyway, so fill with 0.
    fill = -math.inf if n > 1 else 0.0
    logits = torch.where(eye, torch.full_like(logits, fill), logits)
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    positives = same & ~eye
    n_pos = positives.sum(dim=1)
    # where(), not a product: the diagonal's -inf must not meet a 0 (0 * inf = NaN).
    total = torch.where(positives, log_prob, torch.zeros_like(log_prob)).sum(dim=1)
    values = -total / n_pos.clamp_min(1).to(total.dtype)
    check_weight(fn, weight, values.shape)
    return reduce(values, reduction, weight, mask=n_pos > 0)


class SupConLoss(LossModule, spec=SPEC, fn=supcon_loss):
    """Module form of :func:`losscraft.functional.supcon_loss`."""

    def __init__(self, *, temperature: float = 0.1, reduction: Reduction = "mean") -> None:
        super().__init__(temperature=temperature, reduction=reduction)
