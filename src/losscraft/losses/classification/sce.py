"""Symmetric cross-entropy for noisy labels (Wang et al. 2019)."""

from __future__ import annotations

import math

import torch.nn.functional as F
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
from ._common import (
    gather_class,
    multiclass_curve_call,
    multiclass_sample,
    one_minus_exp,
    prepare_index_logits,
)

SPEC = LossSpec(
    name="sce",
    family=Family.CLASSIFICATION,
    tasks=(Task.MULTICLASS,),
    input_kind=InputKind.LOGITS,
    target_kind=TargetKind.CLASS_INDEX,
    params=(
        Param("alpha", 0.1, Interval(0.0, math.inf), "weight of the cross-entropy term"),
        Param("beta", 1.0, Interval(0.0, math.inf), "weight of the reverse cross-entropy term"),
        Param(
            "log_zero",
            -4.0,
            Interval(-math.inf, 0.0, high_closed=False),
            "A: the value that replaces log 0 of the one-hot label in the reverse term",
        ),
        Param(
            "ignore_index",
            -100,
            Interval(-math.inf, math.inf, integer=True),
            "class-index target value that is skipped",
        ),
    ),
    # Not CONVEX at the defaults: along the curve d2/dz2 = p (1 - p)(alpha + 4 beta (2p - 1)) < 0
    # for small p.
    properties=frozenset(
        {
            Property.NONNEGATIVE,
            Property.SMOOTH,
            Property.BOUNDED_GRADIENT,
            Property.NEEDS_LOGITS,
            Property.ROBUST_TO_OUTLIERS,
        }
    ),
    formula=(
        r"\ell_i = -\alpha \log p_{i y_i} - \beta \sum_{c=1}^{C} p_{ic} \log q_{ic} = "
        r"-\alpha \log p_{i y_i} - \beta A\,(1 - p_{i y_i})"
    ),
    summary=(
        "Symmetric cross-entropy (Wang et al. 2019): CE plus a bounded reverse CE, robust to noisy labels."
    ),
    references=(
        Ref(
            "Y. Wang, X. Ma, Z. Chen, Y. Luo, J. Yi, J. Bailey",
            "Symmetric Cross Entropy for Robust Learning with Noisy Labels",
            "ICCV",
            2019,
            "https://arxiv.org/abs/1908.06112",
        ),
    ),
    sample=multiclass_sample,
    curve=Curve("logit", (-6.0, 6.0), multiclass_curve_call),
    relations=(
        Relation("cross_entropy", params={"alpha": 1.0, "beta": 0.0}, note="no reverse term"),
        Relation(
            "gce",
            params={"alpha": 0.0, "beta": 1.0},
            other_params={"q": 1.0},
            factor=4.0,
            note="the reverse term is -A (1 - p_y), A = log_zero = -4",
        ),
    ),
    none_shape="sample",
    ignore_index=True,
    when_to_use=(
        "Single-label classification with noisy labels: cross-entropy fits the hard classes, "
        "the reverse term resists the noise. alpha=0.1, beta=1 for CIFAR-10-like data; the "
        "paper uses alpha=6, beta=0.1 for CIFAR-100."
    ),
    when_not_to_use=(
        "Not on clean labels: use cross_entropy, without two extra weights to tune (the "
        "paper's alpha, beta differ between CIFAR-10 and CIFAR-100). It takes class indices "
        "only: for soft or noisy target distributions use js_div, and for multi-label targets "
        "bce_with_logits."
    ),
)


@register(SPEC, aliases=("symmetric_cross_entropy",))
def sce_loss(
    input: Tensor,
    target: Tensor,
    *,
    alpha: float = 0.1,
    beta: float = 1.0,
    log_zero: float = -4.0,
    ignore_index: int = -100,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Symmetric cross-entropy (Wang et al. 2019): CE plus a bounded reverse CE, robust to noisy labels.

    Adds to cross-entropy the *reverse* cross-entropy $-\sum_c p_c \log q_c$, with the
    roles of prediction $p$ and one-hot label $q$ swapped. Since $\log 0$ is undefined, it
    is replaced by a constant $A$ (``log_zero``), which makes the reverse term
    $-A\,(1 - p_y)$, a bounded MAE-like loss that is robust to label noise, while the CE
    term keeps learning the hard classes. Use it for classification with noisy labels.

    $$\ell_i = -\alpha \log p_{i y_i} - \beta \sum_{c=1}^{C} p_{ic} \log q_{ic} = -\alpha \log p_{i y_i} - \beta A\,(1 - p_{i y_i})$$

    with $p_i = \operatorname{softmax}(x_i)$, $q_{ic} = \mathbb 1[c = y_i]$ and
    $\log 0 := A$. Reduced as described in *Reductions* (``docs/conventions.md``); ignored
    positions are excluded from the mean. The official code clips the one-hot label to
    $[10^{-4}, 1]$, i.e. $A = \log 10^{-4} \approx -9.21$ (pass ``log_zero=-9.2103``
    to match it); the paper states $A = -4$, our default.

    **Gradient:** $\partial\ell_i/\partial x_{ic} = (\alpha - \beta A\,p_{iy_i})
    (p_{ic} - \mathbb 1[c = y_i])$: bounded; the reverse term's weight $p_y$ vanishes for
    samples the model finds implausible (possibly mislabelled).

    Args:
        input: logits of shape ``(N, C)`` or ``(N, C, d1, ...)`` (classes on dim 1).
        target: class indices, integer tensor of shape ``(N,)`` / ``(N, d1, ...)``, values in
            ``[0, C)`` or ``ignore_index``.
        alpha: weight $\alpha \ge 0$ of the cross-entropy term. Default 0.1 (the paper's
            CIFAR-10 value; CIFAR-100 used 6.0).
        beta: weight $\beta \ge 0$ of the reverse term. Default 1.0 (CIFAR-10; CIFAR-100
            used 0.1).
        log_zero: $A < 0$, the value of $\log 0$ in the reverse term. Default -4.0 (paper).
        ignore_index: target value whose positions are skipped. Default -100.
        weight: optional non-negative per-position weights broadcastable to ``(N, d1, ...)``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per position, shape
            ``(N, d1, ...)``).

    Returns:
        A scalar, or a tensor of shape ``(N, d1, ...)`` for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: ``input`` not ``(N, C, ...)`` floating; a class index outside
            ``[0, C)`` (the message names it); a target of the wrong shape or dtype; ``alpha``
            or ``beta`` negative; ``log_zero >= 0``; bad ``ignore_index``, ``weight`` or
            ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import sce_loss
        >>> x = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
        >>> y = torch.tensor([0, 2])
        >>> sce_loss(x, y, reduction="none")  # 0.1 CE + 4 (1 - p_y)
        tensor([0.6418, 2.7765])

    References:
        Y. Wang, X. Ma, Z. Chen, Y. Luo, J. Yi, J. Bailey (2019). Symmetric Cross Entropy for Robust
            Learning with Noisy Labels. ICCV. https://arxiv.org/abs/1908.06112
    """
    fn = "sce_loss"
    check_params(
        SPEC,
        {
            "alpha": alpha,
            "beta": beta,
            "log_zero": log_zero,
            "ignore_index": ignore_index,
            "reduction": reduction,
        },
    )
    x, t_safe, mask = prepare_index_logits(fn, input, target, ignore_index)
    check_weight(fn, weight, t_safe.shape)
    log_p_y = gather_class(F.log_softmax(x, dim=1), t_safe)
    # sum_c p_c log q_c = A sum_{c != y} p_c = A (1 - p_y); 1 - p_y via -expm1(log p_y).
    values = alpha * -log_p_y + (beta * -log_zero) * one_minus_exp(log_p_y)
    return reduce(values, reduction, weight, mask)


class SCELoss(LossModule, spec=SPEC, fn=sce_loss):
    """Module form of :func:`losscraft.functional.sce_loss`."""

    def __init__(
        self,
        *,
        alpha: float = 0.1,
        beta: float = 1.0,
        log_zero: float = -4.0,
        ignore_index: int = -100,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            alpha=alpha, beta=beta, log_zero=log_zero, ignore_index=ignore_index, reduction=reduction
        )
