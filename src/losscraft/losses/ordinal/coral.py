"""CORAL: ordinal regression as K-1 cumulative binary tasks (Cao, Mirjalili & Raschka 2020)."""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor

from ..._core.checks import FloatVector, as_tensor_param, check_params
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
    Relation,
    TargetKind,
    Task,
    TensorDomain,
)
from ._common import prepare_task_logits, task_curve_call, task_labels, task_logits_sample, task_vector

CAO_2020 = Ref(
    "W. Cao, V. Mirjalili, S. Raschka",
    "Rank Consistent Ordinal Regression for Neural Networks with Application to Age Estimation",
    "Pattern Recognition Letters 140",
    2020,
    "https://doi.org/10.1016/j.patrec.2020.11.008",
)


def _as_binary(c: Call) -> Call:
    """One task (2 classes): logits ``(N, 1)`` and classes ``(N,)`` as BCE's ``(N,)`` logits and 0/1 targets."""
    x, t = c.args
    return Call((x[:, 0], t.to(x.dtype)), dict(c.kwargs))


SPEC = LossSpec(
    name="coral",
    family=Family.ORDINAL,
    tasks=(Task.ORDINAL,),
    input_kind=InputKind.LOGITS,
    target_kind=TargetKind.CLASS_INDEX,
    params=(
        Param(
            "importance",
            None,
            TensorDomain(optional=True),
            "per-task weight lambda_k of shape (K-1,) (the paper's importance weights)",
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
        r"\ell_i = -\sum_{k=0}^{K-2} \lambda_k \big[\mathbb 1[y_i > k] \log\sigma(x_{ik}) "
        r"+ \mathbb 1[y_i \le k] \log\sigma(-x_{ik})\big]"
    ),
    summary="CORAL ordinal loss: binary cross-entropy on the K-1 cumulative labels 'y > k', summed over tasks.",
    references=(CAO_2020,),
    sample=task_logits_sample,
    curve=Curve("logit", (-6.0, 6.0), task_curve_call, label="class 1 of 4, logits x - (-1, 0, 1)"),
    relations=(
        Relation(
            "bce_with_logits",
            params={"importance": [1.0]},
            transform=_as_binary,
            note="with 2 classes (one task) CORAL is binary cross-entropy on logits",
        ),
    ),
    none_shape="sample",
    ignore_index=True,
    when_not_to_use=(
        "Not when the network's last layer cannot share one weight vector across the K-1 tasks: "
        "with free outputs use corn, which stays rank-consistent without that constraint. Not for "
        "calibrated class probabilities (its task probabilities need not chain into a "
        "distribution): use cumulative_link. Unordered classes: cross_entropy."
    ),
    when_to_use=(
        "Ordered classes (ratings, grades, disease stages, age bins) with a neural network: the "
        "last layer gives one shared score plus K-1 biases, so the K-1 probabilities P(y > k) are "
        "ordered and the predicted rank (predict_coral) is consistent. Simple and robust; CORN "
        "drops the shared-weight constraint, the cumulative-link loss gives calibrated class "
        "probabilities."
    ),
)


@register(SPEC)
def coral_loss(
    input: Tensor,
    target: Tensor,
    *,
    importance: FloatVector | None = None,
    ignore_index: int = -100,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""CORAL ordinal loss: binary cross-entropy on the K-1 cumulative labels 'y > k', summed over tasks.

    For ordered classes $0 < 1 < \dots < K-1$: the model answers the $K-1$ binary questions
    "is $y > k$?" with one logit each, and each answer is scored by binary cross-entropy.
    Rank consistency ($P(y > 0) \ge P(y > 1) \ge \dots$, so that the predicted rank is
    well defined) is the *model's* job, not the loss's: CORAL's output layer computes
    $x_{ik} = g(\mathbf h_i) + b_k$, one shared score and $K-1$ biases (the paper's
    Theorem 1 then orders the biases at the optimum). Predict with
    :func:`losscraft.ordinal.predict_coral` (the number of $\sigma(x_{ik}) > 0.5$).

    $$\ell_i = -\sum_{k=0}^{K-2} \lambda_k \big[\mathbb 1[y_i > k] \log\sigma(x_{ik}) + \mathbb 1[y_i \le k] \log\sigma(-x_{ik})\big]$$

    with $\lambda$ the per-task ``importance`` (all 1 if ``None``). Reduced over samples as
    described in *Reductions* (``docs/conventions.md``): ``"mean"`` is the mean over samples of
    the per-sample sums, as in coral-pytorch's ``coral_loss``. With 2 classes (one task) it is
    :func:`~losscraft.functional.bce_with_logits_loss`. Finite for logits of any size
    (log-sigmoid form).

    **Gradient:** $\partial\ell_i/\partial x_{ik} = \lambda_k\big(\sigma(x_{ik}) - \mathbb 1[y_i > k]\big)$:
    bounded by $\lambda_k$, never saturating.

    Args:
        input: task logits $x$ of shape ``(N, K-1)``, floating point, $K \ge 2$.
        target: class indices $y$ of shape ``(N,)`` in ``[0, K-1]`` (integer), or ``ignore_index``.
        importance: per-task weights $\lambda_k \ge 0$, shape ``(K-1,)`` (the paper's importance
            weights $\lambda^{(k)}$); a tensor or a list. Default ``None`` (all 1).
        ignore_index: a target value whose sample is skipped (left out of the mean). Default -100.
        weight: optional non-negative per-sample weights broadcastable to ``(N,)``.
        reduction: ``"mean"`` (weighted mean over samples), ``"sum"`` or ``"none"`` (shape ``(N,)``).

    Returns:
        A scalar, or a tensor of shape ``(N,)`` for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: ``input`` not floating or not of shape ``(N, K-1)`` with ``K-1 >= 1``,
            ``target`` not integer, not of shape ``(N,)`` or outside ``[0, K-1]``, ``importance``
            negative or not of shape ``(K-1,)``, bad ``weight`` or ``reduction``.

    Examples:
        >>> import torch, losscraft.functional as LF
        >>> logits = torch.tensor([[2.1, 1.8, -2.1, -1.8], [1.9, -1.0, -1.5, -1.3], [1.9, 1.8, 1.7, 1.6]])
        >>> LF.coral_loss(logits, torch.tensor([2, 1, 4]), reduction="none")
        tensor([0.5370, 0.8951, 0.6441])
        >>> LF.coral_loss(logits, torch.tensor([2, 1, 4]))
        tensor(0.6920)

    References:
        W. Cao, V. Mirjalili, S. Raschka (2020). Rank Consistent Ordinal Regression for Neural
            Networks with Application to Age Estimation. Pattern Recognition Letters 140.
            https://doi.org/10.1016/j.patrec.2020.11.008
    """
    fn = "coral_loss"
    importance = as_tensor_param(importance, input)  # a list or tuple: the same rule as the Module
    check_params(SPEC, {"importance": importance, "ignore_index": ignore_index, "reduction": reduction})
    x, t, mask = prepare_task_logits(fn, input, target, ignore_index)
    lam = task_vector(fn, "importance", importance, x)
    above, _ = task_labels(t, int(x.shape[1]))
    # log-sum-exp form of each task's BCE: finite for any logit
    per_task = F.binary_cross_entropy_with_logits(x, above.to(x.dtype), reduction="none")
    if lam is not None:
        per_task = per_task * lam
    values = per_task.sum(dim=1)
    check_weight(fn, weight, values.shape)
    return reduce(values, reduction, weight, mask)


class CoralLoss(LossModule, spec=SPEC, fn=coral_loss):
    """Module form of :func:`losscraft.functional.coral_loss`."""

    def __init__(
        self,
        *,
        importance: FloatVector | None = None,
        ignore_index: int = -100,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(importance=importance, ignore_index=ignore_index, reduction=reduction)
