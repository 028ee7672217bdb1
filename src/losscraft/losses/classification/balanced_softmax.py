"""Balanced softmax cross-entropy for long-tailed classification (Ren et al. 2020)."""

from __future__ import annotations

import math

import torch
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
    Role,
    TargetKind,
    Task,
    TensorDomain,
)
from ._common import (
    class_vector,
    gather_class,
    multiclass_curve_call,
    multiclass_sample,
    prepare_index_logits,
    shift_to_max,
)

# Long-tailed counts over 5 classes (the relations' samples follow their length).
_COUNTS = torch.tensor([500.0, 200.0, 60.0, 12.0, 3.0], dtype=torch.float64)


def _sample(n: int, *, generator: torch.Generator, dtype: torch.dtype, **hparams: object) -> Call:
    return multiclass_sample(n, generator=generator, dtype=dtype, class_param="class_counts", **hparams)


def _curve(x: Tensor, **hparams: object) -> Call:
    return multiclass_curve_call(x, class_param="class_counts", **hparams)


SPEC = LossSpec(
    name="balanced_softmax",
    family=Family.CLASSIFICATION,
    tasks=(Task.MULTICLASS,),
    input_kind=InputKind.LOGITS,
    target_kind=TargetKind.CLASS_INDEX,
    params=(
        Param(
            "class_counts",
            None,
            TensorDomain(optional=True, positive=True),
            "training samples per class n_c of shape (C,), > 0 (any positive multiple, e.g. "
            "priors, gives the same loss); None = equal counts (plain cross-entropy)",
            role=Role.CLASS_COUNTS,
        ),
        Param(
            "ignore_index",
            -100,
            Interval(-math.inf, math.inf, integer=True),
            "class-index target value that is skipped",
        ),
    ),
    properties=frozenset(
        {
            Property.NONNEGATIVE,
            Property.CONVEX,
            Property.SMOOTH,
            Property.BOUNDED_GRADIENT,
            Property.NEEDS_LOGITS,
            Property.HANDLES_IMBALANCE,
        }
    ),
    formula=(
        r"\ell_i = -\log \frac{n_{y_i} e^{x_{i y_i}}}{\sum_{c=1}^{C} n_c e^{x_{ic}}} = "
        r"-\log\operatorname{softmax}(x_i + \log n)_{y_i}"
    ),
    summary=(
        "Balanced softmax cross-entropy (Ren et al. 2020): logits shifted by log class counts (long tails)."
    ),
    references=(
        Ref(
            "J. Ren, C. Yu, S. Sheng, X. Ma, H. Zhao, S. Yi, H. Li",
            "Balanced Meta-Softmax for Long-Tailed Visual Recognition",
            "NeurIPS",
            2020,
            "https://arxiv.org/abs/2007.10740",
        ),
    ),
    sample=_sample,
    curve=Curve("logit", (-6.0, 6.0), _curve),
    relations=(
        Relation(
            "logit_adjusted",
            params={"class_counts": _COUNTS},
            other_params={"priors": _COUNTS / _COUNTS.sum(), "tau": 1.0},
            note="the same loss with priors n_c / n",
        ),
        Relation(
            "cross_entropy",
            params={"class_counts": torch.full((5,), 40.0, dtype=torch.float64)},
            note="equal counts shift every logit equally",
        ),
    ),
    none_shape="sample",
    ignore_index=True,
    when_to_use=(
        "Long-tailed single-label classification evaluated on a balanced test distribution: "
        "pass the training class counts. Same loss as logit_adjusted with tau=1; use that one "
        "to tune the strength."
    ),
    when_not_to_use=(
        "Not when the test distribution keeps the training imbalance, or the metric is "
        "accuracy, ranking (AUC) or calibrated probabilities: use cross_entropy (and move the "
        "threshold post hoc), since the shift changes the predicted probabilities. To tune the "
        "strength of the adjustment use logit_adjusted (tau); for multi-label targets, "
        "bce_with_logits with pos_weight or asl."
    ),
)


@register(SPEC, aliases=("balanced_softmax_cross_entropy",))
def balanced_softmax_loss(
    input: Tensor,
    target: Tensor,
    *,
    class_counts: FloatVector | None = None,
    ignore_index: int = -100,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Balanced softmax cross-entropy (Ren et al. 2020): logits shifted by log class counts (long tails).

    Cross-entropy of the label-distribution-aware softmax $n_c e^{x_c} / \sum_k n_k e^{x_k}$:
    the training softmax accounts for the label shift between a long-tailed training set and
    a balanced test set, so the plain logits $x$ estimate the balanced posterior. Use it on
    long-tailed data evaluated on a balanced metric; predict with the plain logits. It is
    :func:`logit_adjusted_loss` with ``priors`` $\propto n$ and $\tau = 1$.

    $$\ell_i = -\log \frac{n_{y_i} e^{x_{i y_i}}}{\sum_{c=1}^{C} n_c e^{x_{ic}}} = -\log\operatorname{softmax}(x_i + \log n)_{y_i}$$

    Only the ratios of the counts matter, so priors $n_c / n$ (or any positive multiple of
    the counts) give the same loss. Reduced as described in *Reductions*
    (``docs/conventions.md``); ignored positions are excluded from the mean.

    **Gradient:** $\partial\ell_i/\partial x_{ic} = \hat p_{ic} - \mathbb 1[c = y_i]$ with
    $\hat p_i = \operatorname{softmax}(x_i + \log n)$: bounded by 1; zero at ignored
    positions.

    Args:
        input: logits of shape ``(N, C)`` or ``(N, C, d1, ...)`` (classes on dim 1).
        target: class indices, integer tensor of shape ``(N,)`` / ``(N, d1, ...)``, values in
            ``[0, C)`` or ``ignore_index``.
        class_counts: training samples per class $n_c$, shape ``(C,)`` (tensor or list), $> 0$
            (give an absent class a small positive count), or ``None`` for equal counts, i.e.
            plain cross-entropy. Default ``None``.
        ignore_index: target value whose positions are skipped. Default -100.
        weight: optional non-negative per-position weights broadcastable to ``(N, d1, ...)``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per position, shape
            ``(N, d1, ...)``).

    Returns:
        A scalar, or a tensor of shape ``(N, d1, ...)`` for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: ``input`` not ``(N, C, ...)`` floating; a class index outside
            ``[0, C)`` (the message names it); a target of the wrong shape or dtype;
            ``class_counts`` not of shape ``(C,)`` or with a value $\le 0$; bad ``ignore_index``,
            ``weight`` or ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import balanced_softmax_loss
        >>> x = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
        >>> y = torch.tensor([0, 2])
        >>> counts = torch.tensor([700.0, 200.0, 100.0])
        >>> balanced_softmax_loss(x, y, class_counts=counts, reduction="none")
        tensor([0.0448, 2.3026])

    References:
        J. Ren, C. Yu, S. Sheng, X. Ma, H. Zhao, S. Yi, H. Li (2020). Balanced Meta-Softmax for
            Long-Tailed Visual Recognition. NeurIPS. https://arxiv.org/abs/2007.10740
    """
    fn = "balanced_softmax_loss"
    class_counts = as_tensor_param(class_counts, input)  # a list or tuple: the same rule as the Module
    check_params(SPEC, {"class_counts": class_counts, "ignore_index": ignore_index, "reduction": reduction})
    x, t_safe, mask = prepare_index_logits(fn, input, target, ignore_index)
    check_weight(fn, weight, t_safe.shape)
    # log taken in the counts' own dtype; counts > 0 (validated), so the shift is finite.
    log_n = class_vector(fn, "class_counts", None if class_counts is None else torch.log(class_counts), x)
    if log_n is not None:
        # Row maximum first: log n added to a logit of 1e4 would lose ~1e-3 to float32 rounding.
        x = shift_to_max(x) + log_n
    values = -gather_class(F.log_softmax(x, dim=1), t_safe)
    return reduce(values, reduction, weight, mask)


class BalancedSoftmaxLoss(LossModule, spec=SPEC, fn=balanced_softmax_loss):
    """Module form of :func:`losscraft.functional.balanced_softmax_loss`."""

    def __init__(
        self,
        *,
        class_counts: FloatVector | None = None,
        ignore_index: int = -100,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(class_counts=class_counts, ignore_index=ignore_index, reduction=reduction)
