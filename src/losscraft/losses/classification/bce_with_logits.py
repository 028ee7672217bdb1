"""Binary cross-entropy on logits, with ``pos_weight`` and label smoothing."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ..._core.checks import (
    FloatVector,
    as_tensor_param,
    check_finite_range,
    check_floating,
    check_params,
    check_same_shape,
    compute_dtype,
    fmt_shape,
    to_compute,
)
from ..._core.errors import LosscraftError
from ..._core.kernels import use_lean
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
    Role,
    TargetKind,
    Task,
    TensorDomain,
)
from ._common import binary_curve_call, binary_logits_sample
from .bce_with_logits_kernel import bce_with_logits_lean

SPEC = LossSpec(
    name="bce_with_logits",
    family=Family.CLASSIFICATION,
    tasks=(Task.BINARY, Task.MULTILABEL, Task.PROPORTION),
    input_kind=InputKind.LOGITS,
    target_kind=TargetKind.BINARY,
    params=(
        Param(
            "pos_weight",
            None,
            TensorDomain(optional=True),
            "weight of the positive term per label (last dim of input), e.g. n_neg / n_pos",
            role=Role.POS_WEIGHT,
        ),
        Param(
            "label_smoothing",
            0.0,
            Interval(0.0, 1.0, high_closed=False),
            "epsilon: targets become y (1 - epsilon) + epsilon / 2",
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
        r"\ell_i = -\big[\rho_i\, y'_i \log\sigma(x_i) + (1 - y'_i) \log\sigma(-x_i)\big], \qquad "
        r"y'_i = y_i (1 - \varepsilon) + \tfrac{\varepsilon}{2}"
    ),
    summary=(
        "Binary cross-entropy on logits, stable for any logit, with per-label pos_weight and label smoothing."
    ),
    references=(
        Ref(
            "D. R. Cox",
            "The Regression Analysis of Binary Sequences",
            "Journal of the Royal Statistical Society B 20(2)",
            1958,
            "https://doi.org/10.1111/j.2517-6161.1958.tb00292.x",
        ),
        Ref(
            "C. Szegedy, V. Vanhoucke, S. Ioffe, J. Shlens, Z. Wojna",
            "Rethinking the Inception Architecture for Computer Vision (label smoothing)",
            "CVPR",
            2016,
            "https://arxiv.org/abs/1512.00567",
        ),
    ),
    sample=binary_logits_sample,
    curve=Curve("logit", (-6.0, 6.0), binary_curve_call),
    when_to_use=(
        "Default for binary and multi-label classification. Imbalanced labels: pos_weight = "
        "n_neg / n_pos per label, capped (or its square root) when positives are rare."
    ),
    when_not_to_use=(
        "Not for mutually exclusive classes (one label per sample): use cross_entropy. With "
        "many labels and few positives per sample use asl; for dense prediction flooded with "
        "easy negatives (detection anchors, sparse masks) use binary_focal, and for masks "
        "scored by Dice or IoU add dice or lovasz_hinge."
    ),
)


def _check_pos_weight(fn: str, pos_weight: Tensor, input: Tensor) -> None:
    last = int(input.shape[-1]) if input.dim() > 0 else 1
    if pos_weight.shape[0] not in (1, last):
        raise LosscraftError(
            f"{fn}: 'pos_weight' must have shape ({last},) (one value per label on input's last "
            f"dim) or (1,), got {fmt_shape(pos_weight)} for input {fmt_shape(input)}"
        )


@register(SPEC, aliases=("bce_logits", "binary_cross_entropy_with_logits"))
def bce_with_logits_loss(
    input: Tensor,
    target: Tensor,
    *,
    pos_weight: FloatVector | None = None,
    label_smoothing: float = 0.0,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Binary cross-entropy on logits, stable for any logit, with per-label pos_weight and label smoothing.

    The default loss for binary and multi-label (independent sigmoid per label)
    classification. ``pos_weight`` trades recall for precision per label; label smoothing
    pulls targets towards 1/2 and discourages over-confident logits.

    $$\ell_i = -\big[\rho_i\, y'_i \log\sigma(x_i) + (1 - y'_i) \log\sigma(-x_i)\big], \qquad y'_i = y_i (1 - \varepsilon) + \tfrac{\varepsilon}{2}$$

    where $\rho_i$ is ``pos_weight`` of $x_i$'s label (1 if ``None``) and $\varepsilon$ is
    ``label_smoothing``; reduced as described in *Reductions* (``docs/conventions.md``).
    Smoothing uses the Keras binary convention (towards 1/2, both classes); PyTorch has none
    for BCE. Finite for logits of any size: on the CPU a lean chunked kernel computes the loss
    and its gradient together from one $e^{-|x|}$ per element, keeping one gradient buffer of
    the input's size (half the peak memory of torch's own kernel, see
    :mod:`losscraft._core.kernels`); elsewhere, under ``torch.compile`` or when ``target``,
    ``weight`` or ``pos_weight`` requires a gradient, it is
    ``torch.nn.functional.binary_cross_entropy_with_logits`` (log-sum-exp form) followed by the
    common reducer.

    **Gradient:** $\partial\ell/\partial x = (1 - y')\,\sigma(x) - \rho\, y'\,\sigma(-x)$, i.e.
    $\sigma(x) - y'$ without ``pos_weight``: bounded by $\max(1, \rho)$, never saturating.

    Args:
        input: logits $x$, any shape, floating point.
        target: targets $y \in [0, 1]$ (hard or soft), same shape as ``input`` (validated).
        pos_weight: per-label weight $\rho \ge 0$ of the positive term, shape ``(L,)`` with
            ``L = input.shape[-1]`` (broadcast along the last dim, as in torch) or ``(1,)``; a
            tensor or a list. Default ``None`` (all 1).
        label_smoothing: $\varepsilon \in [0, 1)$. Default 0.
        weight: optional non-negative per-element weights broadcastable to ``input``'s shape.
            ``"mean"`` is then $\sum w\ell / \sum w$ (torch divides by the element count).
        reduction: ``"mean"`` (weighted mean), ``"sum"`` or ``"none"`` (``input``'s shape).

    Returns:
        A scalar, or a tensor of ``input``'s shape for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: shapes differ, non-floating tensors, ``target`` outside [0, 1],
            ``pos_weight`` negative / of the wrong length, ``label_smoothing`` outside [0, 1), bad
            ``weight`` or ``reduction``.

    Examples:
        >>> import torch, losscraft.functional as LF
        >>> x = torch.tensor([[2.0, -1.0], [0.0, 1e4]])
        >>> y = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
        >>> LF.bce_with_logits_loss(x, y, reduction="none")
        tensor([[1.2693e-01, 3.1326e-01],
                [6.9315e-01, 1.0000e+04]])
        >>> LF.bce_with_logits_loss(x, y, pos_weight=torch.tensor([3.0, 1.0]), reduction="none")
        tensor([[3.8078e-01, 3.1326e-01],
                [2.0794e+00, 1.0000e+04]])

    References:
        D. R. Cox (1958). The Regression Analysis of Binary Sequences. Journal of the Royal
            Statistical Society B 20(2). https://doi.org/10.1111/j.2517-6161.1958.tb00292.x
        C. Szegedy, V. Vanhoucke, S. Ioffe, J. Shlens, Z. Wojna (2016). Rethinking the Inception
            Architecture for Computer Vision (label smoothing). CVPR.
            https://arxiv.org/abs/1512.00567
    """
    fn = "bce_with_logits_loss"
    pos_weight = as_tensor_param(pos_weight, input)  # a list or tuple: the same rule as the Module
    check_params(SPEC, {"pos_weight": pos_weight, "label_smoothing": label_smoothing, "reduction": reduction})
    check_floating(fn, "input", input)
    check_floating(fn, "target", target)
    check_same_shape(fn, input, target)
    check_finite_range(fn, "target", target, 0.0, 1.0, "targets")
    check_weight(fn, weight, input.shape)
    if pos_weight is not None:
        _check_pos_weight(fn, pos_weight, input)
    return bce_with_logits_impl(input, target, pos_weight, label_smoothing, weight, reduction)


def bce_with_logits_impl(
    input: Tensor,
    target: Tensor,
    pos_weight: Tensor | None,
    label_smoothing: float,
    weight: Tensor | None,
    reduction: str,
) -> Tensor:
    """BCE-with-logits on validated arguments (shared with ``binary_focal_loss(gamma=0)``).

    The lean chunked kernel when it applies (:func:`~losscraft._core.kernels.use_lean`),
    else the composed reference.
    """

    def composed(x: Tensor) -> Tensor:
        return _composed(x, target, pos_weight, label_smoothing, weight, reduction)

    if use_lean(input, target, weight, pos_weight):
        return bce_with_logits_lean(input, target, pos_weight, label_smoothing, weight, reduction, composed)
    return composed(input)


def _composed(
    input: Tensor,
    target: Tensor,
    pos_weight: Tensor | None,
    label_smoothing: float,
    weight: Tensor | None,
    reduction: str,
) -> Tensor:
    """The reference implementation: torch's kernel per element, then :func:`reduce`."""
    dt = compute_dtype(input, target)
    x, y = to_compute(input, dt), to_compute(target, dt)
    pw = pos_weight.to(device=x.device, dtype=x.dtype) if pos_weight is not None else None
    if label_smoothing > 0.0:
        y = y * (1.0 - label_smoothing) + 0.5 * label_smoothing
    # The native kernel uses max(-x, 0) + log(1 + exp(-|x|)): no overflow for any logit.
    values = F.binary_cross_entropy_with_logits(x, y, pos_weight=pw, reduction="none")
    return reduce(values, reduction, weight)


class BCEWithLogitsLoss(LossModule, spec=SPEC, fn=bce_with_logits_loss):
    """Module form of :func:`losscraft.functional.bce_with_logits_loss`."""

    def __init__(
        self,
        *,
        pos_weight: FloatVector | None = None,
        label_smoothing: float = 0.0,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(pos_weight=pos_weight, label_smoothing=label_smoothing, reduction=reduction)
