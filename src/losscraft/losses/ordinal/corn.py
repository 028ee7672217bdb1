"""CORN: ordinal regression by conditional binary tasks (Shi, Cao & Raschka 2023)."""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor

from ..._core.checks import check_params
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
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
    TargetKind,
    Task,
)
from ._common import prepare_task_logits, task_curve_call, task_labels, task_logits_sample

SHI_2023 = Ref(
    "X. Shi, W. Cao, S. Raschka",
    "Deep Neural Networks for Rank-Consistent Ordinal Regression Based on Conditional Probabilities",
    "Pattern Analysis and Applications 26",
    2023,
    "https://doi.org/10.1007/s10044-023-01181-9",
)

SPEC = LossSpec(
    name="corn",
    family=Family.ORDINAL,
    tasks=(Task.ORDINAL,),
    input_kind=InputKind.LOGITS,
    target_kind=TargetKind.CLASS_INDEX,
    params=(
        Param(
            "mean_over",
            "samples",
            Choice(("samples", "pairs")),
            "'mean' divides by the samples (the NLL's mean) or by the (sample, task) training pairs "
            "(coral-pytorch's corn_loss)",
        ),
        Param(
            "ignore_index",
            -100,
            Interval(-math.inf, math.inf, integer=True),
            "class-index target value whose sample is skipped",
        ),
    ),
    properties=frozenset(
        {
            Property.NONNEGATIVE,
            Property.CONVEX,
            Property.SMOOTH,
            Property.BOUNDED_GRADIENT,
            Property.NEEDS_LOGITS,
        }
    ),
    formula=(
        r"\ell_i = -\sum_{k=0}^{\min(y_i, K-2)} \big[\mathbb 1[y_i > k] \log\sigma(x_{ik}) "
        r"+ \mathbb 1[y_i = k] \log\sigma(-x_{ik})\big]"
    ),
    summary="CORN ordinal loss: task k is binary cross-entropy of 'y > k' given 'y >= k', trained on those samples only.",
    references=(SHI_2023,),
    sample=task_logits_sample,
    curve=Curve("logit", (-6.0, 6.0), task_curve_call, label="class 1 of 4, logits x - (-1, 0, 1)"),
    none_shape="sample",
    ignore_index=True,
    when_not_to_use=(
        "Not when one latent score should drive every threshold (a linear or proportional-odds "
        "model, few samples per class): use cumulative_link, or coral with a shared-weight layer. "
        "Not for unordered classes: use cross_entropy."
    ),
    when_to_use=(
        "Ordered classes with a neural network whose last layer is unconstrained (K-1 free "
        "outputs): the conditional probabilities P(y > k | y >= k) chain into rank-consistent "
        "predictions (predict_corn) without CORAL's shared-weight layer, usually more accurately. "
        "The per-sample loss is the negative log-likelihood of the class."
    ),
)


@register(SPEC)
def corn_loss(
    input: Tensor,
    target: Tensor,
    *,
    mean_over: str = "samples",
    ignore_index: int = -100,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""CORN ordinal loss: task k is binary cross-entropy of 'y > k' given 'y >= k', trained on those samples only.

    For ordered classes $0 < 1 < \dots < K-1$ the logit $x_{ik}$ models the *conditional*
    probability $P(y > k \mid y \ge k) = \sigma(x_{ik})$, so task $k$ is trained only on the
    samples with $y_i \ge k$ (those that passed the earlier thresholds); a task no sample of
    the batch reaches simply contributes nothing. The chain rule gives
    $P(y > k) = \prod_{j \le k} \sigma(x_{ij})$, decreasing in $k$ for *any* logits: rank
    consistency without constraining the output layer. Predict with
    :func:`losscraft.ordinal.predict_corn`.

    $$\ell_i = -\sum_{k=0}^{\min(y_i, K-2)} \big[\mathbb 1[y_i > k] \log\sigma(x_{ik}) + \mathbb 1[y_i = k] \log\sigma(-x_{ik})\big]$$

    i.e. $\ell_i = -\log P(y = y_i)$ under the chained model. Reduced over samples as
    described in *Reductions* (``docs/conventions.md``) with ``mean_over="samples"`` (default:
    the mean negative log-likelihood). ``mean_over="pairs"`` gives coral-pytorch's
    ``corn_loss`` instead: the sum of the terms divided by the number of (sample, task)
    training pairs $\sum_i \min(y_i + 1, K-1)$ (a weighted sum of those counts with
    ``weight``); the two differ by a batch-dependent positive factor. Finite for logits of any
    size (log-sigmoid form).

    **Gradient:** $\partial\ell_i/\partial x_{ik} = \sigma(x_{ik}) - \mathbb 1[y_i > k]$ for
    $k \le y_i$, 0 for the tasks beyond $y_i$: bounded by 1.

    Args:
        input: conditional task logits $x$ of shape ``(N, K-1)``, floating point, $K \ge 2$.
        target: class indices $y$ of shape ``(N,)`` in ``[0, K-1]`` (integer), or ``ignore_index``.
        mean_over: what ``"mean"`` divides by: ``"samples"`` (default) or ``"pairs"`` (the
            (sample, task) training pairs, the normalisation of coral-pytorch 1.4's
            ``corn_loss``).
        ignore_index: a target value whose sample is skipped (left out of the mean). Default -100.
        weight: optional non-negative per-sample weights broadcastable to ``(N,)``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (shape ``(N,)``, the per-sample sums).

    Returns:
        A scalar, or a tensor of shape ``(N,)`` for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: ``input`` not floating or not of shape ``(N, K-1)`` with ``K-1 >= 1``,
            ``target`` not integer, not of shape ``(N,)`` or outside ``[0, K-1]``, a bad
            ``mean_over``, ``weight`` or ``reduction``.

    Examples:
        >>> import torch, losscraft.functional as LF
        >>> logits = torch.tensor([[2.0, 1.0, -1.0], [-1.0, 0.5, 3.0], [1.0, 1.0, 1.0]])
        >>> LF.corn_loss(logits, torch.tensor([2, 0, 3]), reduction="none")
        tensor([0.7535, 0.3133, 0.9398])
        >>> LF.corn_loss(logits, torch.tensor([2, 0, 3]), mean_over="pairs")
        tensor(0.2866)

    References:
        X. Shi, W. Cao, S. Raschka (2023). Deep Neural Networks for Rank-Consistent Ordinal
            Regression Based on Conditional Probabilities. Pattern Analysis and Applications 26.
            https://doi.org/10.1007/s10044-023-01181-9
    """
    fn = "corn_loss"
    check_params(SPEC, {"mean_over": mean_over, "ignore_index": ignore_index, "reduction": reduction})
    x, t, mask = prepare_task_logits(fn, input, target, ignore_index)
    above, k = task_labels(t, int(x.shape[1]))
    # task k sees only the samples that reached it: y >= k
    eligible = t.unsqueeze(1) >= k
    per_task = F.binary_cross_entropy_with_logits(x, above.to(x.dtype), reduction="none")
    # multiply, not where: a NaN logit of a task the sample never reached still shows (NaN rule)
    values = (per_task * eligible.to(x.dtype)).sum(dim=1)
    check_weight(fn, weight, values.shape)
    if mean_over == "samples":
        return reduce(values, reduction, weight, mask)
    # coral-pytorch: divide by the number of (sample, task) pairs, min(y + 1, K - 1) per sample
    pairs = eligible.sum(dim=1).to(values.dtype)
    if weight is not None:
        w = weight.to(values.dtype)
        values, pairs = values * w, pairs * w
    return reduce(values, reduction, mask=mask, denominator=pairs)


class CornLoss(LossModule, spec=SPEC, fn=corn_loss):
    """Module form of :func:`losscraft.functional.corn_loss`."""

    def __init__(
        self,
        *,
        mean_over: str = "samples",
        ignore_index: int = -100,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(mean_over=mean_over, ignore_index=ignore_index, reduction=reduction)
