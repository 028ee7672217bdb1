"""Multi-similarity loss (Wang et al. 2019) over labelled embeddings, on every pair of the batch."""

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
    ``log(1 + exp(-alpha (x - base))) / alpha + log(1 + 2 exp(-beta base)) / beta``.
    """
    e = torch.eye(4, dtype=x.dtype, device=x.device)
    input = torch.stack([e[0], unit_at_cosine(x), e[2], e[3]])
    return Call((input, torch.tensor([0, 0, 1, 2], device=x.device)))


_POSITIVE = Interval(0.0, math.inf, low_closed=False, high_closed=False)

SPEC = LossSpec(
    name="multi_similarity",
    batch_coupling="embeddings",
    family=Family.EMBEDDING,
    tasks=(Task.METRIC_LEARNING,),
    input_kind=InputKind.EMBEDDINGS,
    # Integer identity labels (any values), never differentiated: see supcon.
    target_kind=TargetKind.IDENTITY,
    params=(
        Param("alpha", 2.0, _POSITIVE, "alpha > 0: the positives' scale (Wang et al.: 2)"),
        Param("beta", 50.0, _POSITIVE, "beta > 0: the negatives' scale (Wang et al.: 50)"),
        Param(
            "base",
            0.5,
            Interval(-1.0, 1.0),
            "lambda: the cosine that positives are pulled above and negatives pushed below "
            "(pytorch-metric-learning's default 0.5)",
        ),
    ),
    # On the probe curve (x = cosine of the anchor's one positive, two orthogonal negatives):
    # a constant plus log(1 + e^{-alpha (x - base)}) / alpha: convex, smooth, slope in (-1, 0).
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
        r"\ell_i = \frac{1}{\alpha}\log\Bigl(1 + \sum_{p\in P(i)} e^{-\alpha(s_{ip} - \lambda)}\Bigr) "
        r"+ \frac{1}{\beta}\log\Bigl(1 + \sum_{n\in N(i)} e^{\beta(s_{in} - \lambda)}\Bigr)"
    ),
    summary=(
        "Multi-similarity loss (Wang et al. 2019): log-sum-exp penalties on every positive and negative pair."
    ),
    references=(
        Ref(
            "X. Wang, X. Han, W. Huang, D. Dong, M. R. Scott",
            "Multi-Similarity Loss with General Pair Weighting for Deep Metric Learning",
            "CVPR",
            2019,
            "https://arxiv.org/abs/1904.06627",
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
        "Metric learning from labelled batches (image retrieval: CUB, Cars, SOP) with P x K "
        "batches: every positive and negative pair of an anchor is weighted by a soft "
        "log-sum-exp, the hard negatives (beta = 50) most. Anchors without positives still push "
        "their negatives below base. Plot axis: cosine of the anchor's positive."
    ),
    when_not_to_use=(
        "Not without labels (info_nce on two augmented views). This is the loss on every pair, "
        "without the paper's pair mining (pytorch-metric-learning's MultiSimilarityMiner): for "
        "the mined variant mine the pairs first. With a classification head over a fixed set of "
        "identities, arcface or cosface."
    ),
)


@register(SPEC)
def multi_similarity_loss(
    input: Tensor,
    target: Tensor,
    *,
    alpha: float = 2.0,
    beta: float = 50.0,
    base: float = 0.5,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Multi-similarity loss (Wang et al. 2019): log-sum-exp penalties on every positive and negative pair.

    Use it for metric learning on labelled batches: every other sample with the anchor's label
    is a positive, every sample with another label a negative. With $\hat z$ the
    L2-normalised embeddings, $s_{ij} = \hat z_i\cdot\hat z_j$, $P(i) = \{p \ne i : y_p =
    y_i\}$, $N(i) = \{n : y_n \ne y_i\}$ and the threshold $\lambda$ (``base``):

    $$\ell_i = \frac{1}{\alpha}\log\Bigl(1 + \sum_{p\in P(i)} e^{-\alpha(s_{ip} - \lambda)}\Bigr) + \frac{1}{\beta}\log\Bigl(1 + \sum_{n\in N(i)} e^{\beta(s_{in} - \lambda)}\Bigr)$$

    A soft maximum of the positives' shortfall below $\lambda$ plus one of the negatives'
    excess above it; each pair's gradient weight is its softmax share, so the hardest pairs
    (relative to the others: the paper's *relative similarity*) dominate. This is
    pytorch-metric-learning's ``MultiSimilarityLoss`` (same values and gradients) **on every
    pair**: the paper first mines the pairs (a negative is kept if $s_{in} > \min_p s_{ip} -
    \epsilon$, a positive if $s_{ip} < \max_n s_{in} + \epsilon$), which pml does with a
    separate ``MultiSimilarityMiner``; without mining the easy pairs still count, with small
    weights. An anchor without positives (or negatives) keeps the other term (the empty sum's
    term is $\log 1 = 0$); ``"mean"`` averages over every anchor with a positive or a negative
    (every anchor when $N \ge 2$), as pml's ``MeanReducer``. Reduced as described in
    *Reductions* (``docs/conventions.md``).

    Defaults: $\alpha = 2$, $\beta = 50$, $\lambda = 0.5$ (pytorch-metric-learning's).

    Numerics: computed in float32 for float16/bfloat16 inputs, with max-subtracted
    log-sum-exps (the 1 of each $\log(1 + \cdot)$ is one more term of the sum).

    **Gradient:** $\partial\ell_i/\partial s_{ip} = -e^{-\alpha(s_{ip} - \lambda)} / \bigl(1 +
    \sum_{p'} e^{-\alpha(s_{ip'} - \lambda)}\bigr)$ and $\partial\ell_i/\partial s_{in} =
    e^{\beta(s_{in} - \lambda)} / \bigl(1 + \sum_{n'} e^{\beta(s_{in'} - \lambda)}\bigr)$:
    each in (-1, 1), and the weights of one anchor's positives (negatives) sum to less than
    1. An exact zero embedding has cosine 0 with everything and receives gradient 0; a NaN
    embedding makes the loss NaN.

    Args:
        input: embeddings of shape ``(N, D)``, floating point.
        target: integer labels of shape ``(N,)``; equal labels mark positives. Any integer
            values (identities, not indices into a class dimension).
        alpha: $\alpha > 0$, the positives' scale. Default 2.
        beta: $\beta > 0$, the negatives' scale. Default 50.
        base: $\lambda$ in [-1, 1]. Default 0.5.
        weight: optional non-negative per-anchor weights of shape ``(N,)``.
        reduction: ``"mean"`` (over anchors with a positive or a negative), ``"sum"`` or
            ``"none"`` (one value per anchor, shape ``(N,)``).

    Returns:
        A scalar, or a tensor of shape ``(N,)`` for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: ``input`` not a floating ``(N, D)`` tensor; ``target`` not an integer
            tensor of shape ``(N,)``; ``alpha`` or ``beta`` not in (0, inf); ``base`` not in
            [-1, 1]; bad ``weight`` or ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import multi_similarity_loss
        >>> z = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 1.0], [-1.0, 0.0]])
        >>> labels = torch.tensor([0, 0, 1, 1, 2])
        >>> multi_similarity_loss(z, labels, reduction="none")  # the last: far from its negatives
        tensor([0.1583, 0.1583, 0.1580, 0.1580, 0.0000])
        >>> multi_similarity_loss(z, torch.tensor([0, 1, 0, 1, 2]))  # wrong groups
        tensor(0.8635)

    References:
        X. Wang, X. Han, W. Huang, D. Dong, M. R. Scott (2019). Multi-Similarity Loss with
            General Pair Weighting for Deep Metric Learning. CVPR.
            https://arxiv.org/abs/1904.06627
    """
    fn = "multi_similarity_loss"
    (x,) = prepare_batch_embeddings(fn, ("input",), input)
    check_params(SPEC, {"alpha": alpha, "beta": beta, "base": base, "reduction": reduction})
    labels = check_labels(fn, target, x.shape[0]).to(x.device)
    # this rank's anchors against every rank's samples (see mining.anchor_cosines)
    sim, same, eye = anchor_cosines(fn, x, labels)
    pos = same & ~eye
    neg = ~same
    lse_p = _log1p_sum_exp((-alpha) * (sim - base), pos)
    lse_n = _log1p_sum_exp(beta * (sim - base), neg)
    values = lse_p / alpha + lse_n / beta
    check_weight(fn, weight, values.shape)
    return reduce(values, reduction, weight, mask=pos.any(dim=1) | neg.any(dim=1))


def _log1p_sum_exp(logits: Tensor, keep: Tensor) -> Tensor:
    """``log(1 + sum_j keep_ij exp(logits_ij))`` per row: 0 for a row that keeps nothing.

    The 1 is a zero logit appended to every row, so the max-subtracted ``logsumexp`` never
    runs over -inf only (whose gradient would be NaN).
    """
    masked = torch.where(keep, logits, torch.full_like(logits, -math.inf))
    one = logits.new_zeros((logits.shape[0], 1))
    return torch.logsumexp(torch.cat([masked, one], dim=1), dim=1)


class MultiSimilarityLoss(LossModule, spec=SPEC, fn=multi_similarity_loss):
    """Module form of :func:`losscraft.functional.multi_similarity_loss`."""

    def __init__(
        self,
        *,
        alpha: float = 2.0,
        beta: float = 50.0,
        base: float = 0.5,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(alpha=alpha, beta=beta, base=base, reduction=reduction)
