"""Logit-adjusted softmax cross-entropy for long-tailed classification (Menon et al. 2021)."""

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

LOGIT_ADJUSTMENT_REF = Ref(
    "A. K. Menon, S. Jayasumana, A. S. Rawat, H. Jain, A. Veit, S. Kumar",
    "Long-tail learning via logit adjustment",
    "ICLR",
    2021,
    "https://arxiv.org/abs/2007.07314",
)

# A skewed prior over 5 classes (the relation's sample follows its length).
_PRIORS = torch.tensor([0.55, 0.25, 0.12, 0.05, 0.03], dtype=torch.float64)


def _sample(n: int, *, generator: torch.Generator, dtype: torch.dtype, **hparams: object) -> Call:
    return multiclass_sample(n, generator=generator, dtype=dtype, class_param="priors", **hparams)


def _curve(x: Tensor, **hparams: object) -> Call:
    return multiclass_curve_call(x, class_param="priors", **hparams)


SPEC = LossSpec(
    name="logit_adjusted",
    family=Family.CLASSIFICATION,
    tasks=(Task.MULTICLASS,),
    input_kind=InputKind.LOGITS,
    target_kind=TargetKind.CLASS_INDEX,
    params=(
        Param(
            "priors",
            None,
            TensorDomain(optional=True, positive=True),
            "class priors pi_c of shape (C,), > 0, any positive scale (counts work too); "
            "None = uniform (plain cross-entropy)",
            role=Role.CLASS_PRIORS,
        ),
        Param("tau", 1.0, Interval(0.0, math.inf), "adjustment strength: logits + tau log pi"),
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
        r"\ell_i = -\log \frac{e^{x_{i y_i} + \tau \log \pi_{y_i}}}{\sum_{c=1}^{C} e^{x_{ic} "
        r"+ \tau \log \pi_c}}"
    ),
    summary=(
        "Logit-adjusted cross-entropy (Menon et al. 2021): logits shifted by tau log(prior), for long tails."
    ),
    references=(LOGIT_ADJUSTMENT_REF,),
    sample=_sample,
    curve=Curve("logit", (-6.0, 6.0), _curve),
    relations=(
        Relation(
            "cross_entropy",
            params={"tau": 0.0, "priors": _PRIORS},
            note="tau = 0 switches the adjustment off",
        ),
        Relation(
            "cross_entropy",
            params={"priors": torch.full((5,), 0.2, dtype=torch.float64)},
            note="uniform priors shift every logit equally",
        ),
    ),
    none_shape="sample",
    ignore_index=True,
    when_to_use=(
        "Long-tailed single-label classification evaluated on a balanced metric (balanced "
        "accuracy, macro recall): pass the training class frequencies as priors, tau=1. "
        "First choice before class re-weighting. Predict with the plain logits."
    ),
    when_not_to_use=(
        "Not when the test distribution keeps the training imbalance, or the metric is "
        "accuracy, ranking (AUC) or calibrated probabilities: use cross_entropy (and move the "
        "threshold post hoc). Not for multi-label targets (bce_with_logits with pos_weight, or "
        "asl)."
    ),
)


@register(SPEC, aliases=("logit_adjustment", "la_cross_entropy"))
def logit_adjusted_loss(
    input: Tensor,
    target: Tensor,
    *,
    priors: FloatVector | None = None,
    tau: float = 1.0,
    ignore_index: int = -100,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Logit-adjusted cross-entropy (Menon et al. 2021): logits shifted by tau log(prior), for long tails.

    Softmax cross-entropy on logits shifted by $\tau \log \pi_c$: a head class must win by a
    margin of $\tau \log(\pi_{\text{head}} / \pi_{\text{tail}})$, so the trained model is
    Fisher-consistent for the *balanced* error. Use it on long-tailed data evaluated on a
    balanced metric; at test time predict with the plain (unadjusted) logits $x$. It equals
    :func:`balanced_softmax_loss` at $\tau = 1$ and :func:`cross_entropy_loss` at $\tau = 0$
    or with uniform priors.

    $$\ell_i = -\log \frac{e^{x_{i y_i} + \tau \log \pi_{y_i}}}{\sum_{c=1}^{C} e^{x_{ic} + \tau \log \pi_c}}$$

    $\pi$ is only defined up to a positive factor (adding $\tau \log k$ to every logit leaves
    the softmax unchanged), so ``priors`` need not sum to 1: class counts give the same loss.
    Reduced as described in *Reductions* (``docs/conventions.md``); ignored positions are
    excluded from the mean.

    **Gradient:** $\partial\ell_i/\partial x_{ic} = \tilde p_{ic} - \mathbb 1[c = y_i]$ with
    $\tilde p_i = \operatorname{softmax}(x_i + \tau \log \pi)$: bounded by 1, like
    cross-entropy; zero at ignored positions.

    Args:
        input: logits of shape ``(N, C)`` or ``(N, C, d1, ...)`` (classes on dim 1).
        target: class indices, integer tensor of shape ``(N,)`` / ``(N, d1, ...)``, values in
            ``[0, C)`` or ``ignore_index``.
        priors: class priors $\pi$ of shape ``(C,)`` (tensor or list), values $> 0$ (e.g. class
            frequencies $n_c / n$, or the counts $n_c$ themselves), or ``None`` for uniform
            priors, i.e. plain cross-entropy. Default ``None``.
        tau: adjustment strength $\tau \ge 0$. Default 1.0 (the paper's choice).
        ignore_index: target value whose positions are skipped. Default -100.
        weight: optional non-negative per-position weights broadcastable to ``(N, d1, ...)``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per position, shape
            ``(N, d1, ...)``).

    Returns:
        A scalar, or a tensor of shape ``(N, d1, ...)`` for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: ``input`` not ``(N, C, ...)`` floating; a class index outside
            ``[0, C)`` (the message names it); a target of the wrong shape or dtype; ``priors``
            not of shape ``(C,)`` or with a value $\le 0$; ``tau < 0``; bad ``ignore_index``,
            ``weight`` or ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import logit_adjusted_loss
        >>> x = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
        >>> y = torch.tensor([0, 2])
        >>> priors = torch.tensor([0.7, 0.2, 0.1])
        >>> logit_adjusted_loss(x, y, priors=priors, reduction="none")
        tensor([0.0448, 2.3026])
        >>> logit_adjusted_loss(x, y, priors=priors, tau=0.0, reduction="none")  # CE
        tensor([0.1698, 1.0986])

    References:
        A. K. Menon, S. Jayasumana, A. S. Rawat, H. Jain, A. Veit, S. Kumar (2021). Long-tail
            learning via logit adjustment. ICLR. https://arxiv.org/abs/2007.07314
    """
    fn = "logit_adjusted_loss"
    priors = as_tensor_param(priors, input)  # a list or tuple: the same rule as the Module
    check_params(SPEC, {"priors": priors, "tau": tau, "ignore_index": ignore_index, "reduction": reduction})
    x, t_safe, mask = prepare_index_logits(fn, input, target, ignore_index)
    check_weight(fn, weight, t_safe.shape)
    # log taken in the priors' own dtype: a tiny prior must not underflow to 0 in the cast.
    log_pi = class_vector(fn, "priors", None if priors is None else torch.log(priors), x)
    if log_pi is not None and tau != 0.0:
        # priors > 0 (validated), so the shift is finite; their scale cancels in the softmax.
        # Subtract the row maximum first (log_softmax is shift invariant): a shift of O(1)
        # added to a logit of 1e4 would lose ~1e-3 to float32 rounding.
        x = shift_to_max(x) + tau * log_pi
    values = -gather_class(F.log_softmax(x, dim=1), t_safe)
    return reduce(values, reduction, weight, mask)


class LogitAdjustedLoss(LossModule, spec=SPEC, fn=logit_adjusted_loss):
    """Module form of :func:`losscraft.functional.logit_adjusted_loss`."""

    def __init__(
        self,
        *,
        priors: FloatVector | None = None,
        tau: float = 1.0,
        ignore_index: int = -100,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(priors=priors, tau=tau, ignore_index=ignore_index, reduction=reduction)
