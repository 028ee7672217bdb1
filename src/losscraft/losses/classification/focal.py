"""Softmax (multi-class) focal loss."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..._core.checks import (
    FloatVector,
    as_tensor_param,
    check_class_input,
    check_class_weight,
    check_index_target,
    check_params,
    compute_dtype,
    to_compute,
)
from ..._core.kernels import use_lean
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
    Relation,
    Role,
    TargetKind,
    Task,
    TensorDomain,
)
from ._common import multiclass_curve_call, multiclass_sample
from .binary_focal import FOCAL_REF
from .focal_kernel import focal_values_composed, softmax_focal_values


def _sample(n: int, *, generator: torch.Generator, dtype: torch.dtype, **hparams: object) -> Call:
    return multiclass_sample(n, generator=generator, dtype=dtype, class_param="alpha", **hparams)


def _curve(x: Tensor, **hparams: object) -> Call:
    return multiclass_curve_call(x, class_param="alpha", **hparams)


SPEC = LossSpec(
    name="focal",
    family=Family.CLASSIFICATION,
    tasks=(Task.MULTICLASS,),
    input_kind=InputKind.LOGITS,
    target_kind=TargetKind.CLASS_INDEX,
    params=(
        Param(
            "gamma",
            2.0,
            Interval(0.0, math.inf),
            "focusing parameter: (1 - p_y)^gamma down-weights well-classified samples",
        ),
        Param(
            "alpha",
            None,
            TensorDomain(optional=True),
            "per-class weight alpha_c of shape (C,), like cross_entropy's weight; None = all 1",
            role=Role.CLASS_WEIGHTS,
        ),
        Param(
            "ignore_index",
            -100,
            Interval(-math.inf, math.inf, integer=True),
            "class-index target value that is skipped",
        ),
    ),
    # Not CONVEX: with gamma = 2 the curve on logits [x, 0, 0] (target 0) is concave around
    # x ~ -3.2 (second difference < 0, measured on the (-6, 6) grid).
    properties=frozenset(
        {
            Property.NONNEGATIVE,
            Property.SMOOTH,
            Property.BOUNDED_GRADIENT,
            Property.NEEDS_LOGITS,
            Property.HANDLES_IMBALANCE,
            Property.DOWNWEIGHTS_EASY,
        }
    ),
    formula=(
        r"\ell_i = -\alpha_{y_i}\,(1 - p_{i y_i})^\gamma \log p_{i y_i},\qquad "
        r"p_i = \operatorname{softmax}(x_i) \text{ over dim 1}"
    ),
    summary="Softmax focal loss: cross-entropy scaled by (1 - p_y)^gamma; gamma=0 is cross_entropy exactly.",
    references=(FOCAL_REF,),
    sample=_sample,
    curve=Curve("logit", (-6.0, 6.0), _curve),
    relations=(
        Relation("cross_entropy", params={"gamma": 0.0}, rtol=0.0, atol=0.0, note="exactly, same reduction"),
    ),
    none_shape="sample",
    ignore_index=True,
    when_to_use=(
        "Multi-class dense prediction (segmentation, detection heads) dominated by easy "
        "examples; long-tailed classification with small gamma (0.5) and class-balanced alpha."
    ),
    when_not_to_use=(
        "Not with noisy labels: the (1 - p_y)^gamma factor shifts the weight towards the hard "
        "examples, and mislabelled samples are the hardest; use gce or sce. Not to correct "
        "class priors for a balanced metric: focal loss targets easy-example domination, not "
        "priors (use logit_adjusted or balanced_softmax). Not for multi-label targets "
        "(binary_focal, asl)."
    ),
)


@register(SPEC, aliases=("softmax_focal", "multiclass_focal"))
def focal_loss(
    input: Tensor,
    target: Tensor,
    *,
    gamma: float = 2.0,
    alpha: FloatVector | None = None,
    ignore_index: int = -100,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Softmax focal loss: cross-entropy scaled by (1 - p_y)^gamma; gamma=0 is cross_entropy exactly.

    The multi-class form of Lin et al.'s focal loss: samples (or pixels) the model already
    classifies confidently contribute little, so dense tasks are not swamped by easy
    examples. With ``gamma=0`` it equals :func:`cross_entropy_loss` with ``weight=alpha``
    exactly, for every reduction.

    $$\ell_i = -\alpha_{y_i}\,(1 - p_{i y_i})^\gamma \log p_{i y_i},\qquad p_i = \operatorname{softmax}(x_i) \text{ over dim 1}$$

    ($\alpha_c = 1$ when ``alpha=None``), reduced as described in *Reductions*
    (``docs/conventions.md``), with ``alpha`` acting like ``cross_entropy``'s class weight:
    ``"mean"`` is $\sum_i \ell_i / \sum_i \alpha_{y_i}$ over non-ignored positions (times the
    per-position ``weight`` if given, in both sums). This differs from MONAI's and kornia's
    softmax focal loss, which average over classes too (their ``gamma=0`` is CE / C), and whose
    scalar ``alpha`` weights class 0 by $1 - \alpha$ and every other class by $\alpha$.

    **Gradient:** with $p = p_{iy_i}$ and $u = 1 - p$:
    $\partial\ell/\partial x_{ic} = \alpha_{y_i} u^{\gamma-1}\big(u - \gamma p \log p\big)
    (p_{ic} - \mathbb 1[c = y_i])$ — bounded, vanishing as $p \to 1$; zero at ignored
    positions.

    Computed by a blocked kernel with one exponential per logit: when the logits need a
    gradient, the forward pass writes it into one buffer that backward scales in place, so
    forward plus backward peaks at about 1.1-1.4 times the logits' size (the gradient itself
    is 1) and runs faster than torch's ``cross_entropy`` on the CPU (see
    ``docs/benchmarks.md``), where the composed formula keeps ``log_softmax`` and its
    gather/scatter temporaries (about 3 times) and runs two exponential passes. ``gamma=0``
    calls torch's ``cross_entropy`` kernel.

    Args:
        input: logits of shape ``(N, C)`` or ``(N, C, d1, ...)`` (classes on dim 1).
        target: class indices, integer tensor of shape ``(N,)`` / ``(N, d1, ...)``, values in
            ``[0, C)`` or ``ignore_index``.
        gamma: focusing parameter $\gamma \ge 0$. Default 2.0.
        alpha: per-class weights of shape ``(C,)`` (a tensor or a list), finite values $\ge 0$,
            or ``None``. Default ``None``.
        ignore_index: target value whose positions are skipped. Default -100.
        weight: optional non-negative per-position weights broadcastable to ``(N, d1, ...)``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per position, shape
            ``(N, d1, ...)``).

    Returns:
        A scalar, or a tensor of shape ``(N, d1, ...)`` for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: ``input`` not ``(N, C, ...)`` floating, or ``C = 1`` (use
            :func:`binary_focal_loss`); a class index outside
            ``[0, C)`` (the message names it); a target of the wrong shape or dtype; ``alpha`` not
            ``(C,)`` / negative; ``gamma < 0``; bad ``ignore_index``, ``weight`` or ``reduction``.

    Examples:
        >>> import torch, losscraft.functional as LF
        >>> x = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0], [1.0, 3.0, 0.0]])
        >>> y = torch.tensor([0, 2, -100])
        >>> LF.focal_loss(x, y, reduction="none")
        tensor([0.0041, 0.4883, 0.0000])
        >>> LF.focal_loss(x, y, gamma=0.0, reduction="none")  # cross-entropy
        tensor([0.1698, 1.0986, 0.0000])

    References:
        T.-Y. Lin, P. Goyal, R. Girshick, K. He, P. Dollár (2017). Focal Loss for Dense Object
            Detection. ICCV. https://arxiv.org/abs/1708.02002
    """
    fn = "focal_loss"
    alpha = as_tensor_param(alpha, input)  # a list or tuple: the same rule as the Module
    check_params(SPEC, {"gamma": gamma, "alpha": alpha, "ignore_index": ignore_index, "reduction": reduction})
    num_classes = check_class_input(fn, input)
    check_class_weight(fn, "alpha", alpha, num_classes)
    check_index_target(fn, input, target, ignore_index)
    dt = compute_dtype(input)
    t = target.long()
    mask = t != ignore_index
    check_weight(fn, weight, t.shape)
    w = None if alpha is None else alpha.to(device=input.device, dtype=dt)
    if gamma == 0.0:
        # Cross-entropy exactly: torch's native kernel and the same reducer as
        # cross_entropy_loss(weight=alpha), whose values already carry alpha_y.
        values = F.cross_entropy(
            to_compute(input, dt), t, weight=w, ignore_index=ignore_index, reduction="none"
        )
        if w is None:
            return reduce(values, reduction, weight, mask)
        a = w[torch.where(mask, t, torch.zeros_like(t))]
        if weight is not None:
            values, a = values * weight.to(dt), a * weight.to(dt)
        return reduce(values, reduction, mask=mask, denominator=a)
    if not use_lean(input):
        # torch.compile (inductor fuses the composed formula; the blocked loop would unroll),
        # vmap/functorch, non-CPU devices, or lean_kernels(False): the composed formula.
        values = focal_values_composed(to_compute(input, dt), t, mask, gamma)
    else:
        values = softmax_focal_values(input, t, ignore_index, gamma, dt)
    if w is None:
        return reduce(values, reduction, weight, mask)
    # Ignored positions gather class 0 (finite); reduce() zeroes them through the mask.
    a = w[torch.where(mask, t, torch.zeros_like(t))]
    if weight is not None:
        a = a * weight.to(dt)
    # alpha acts like cross_entropy's class weight: "mean" divides by sum(alpha_y).
    return reduce(values * a, reduction, mask=mask, denominator=a)


class FocalLoss(LossModule, spec=SPEC, fn=focal_loss):
    """Module form of :func:`losscraft.functional.focal_loss`."""

    def __init__(
        self,
        *,
        gamma: float = 2.0,
        alpha: FloatVector | None = None,
        ignore_index: int = -100,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(gamma=gamma, alpha=alpha, ignore_index=ignore_index, reduction=reduction)
