"""Log-Cosh loss."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ..._core.checks import check_floating, check_params, check_same_shape, compute_dtype, to_compute
from ..._core.kernels import use_lean
from ..._core.module import LossModule
from ..._core.numerics import LOG2
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
from ..._core.sampling import real_pair_sample, residual_curve_call
from ..._core.spec import Curve, Family, InputKind, LossSpec, Property, Ref, TargetKind, Task
from .log_cosh_kernel import log_cosh_lean

SPEC = LossSpec(
    name="log_cosh",
    family=Family.REGRESSION,
    tasks=(Task.REGRESSION,),
    input_kind=InputKind.REAL,
    target_kind=TargetKind.REAL,
    params=(),
    properties=frozenset(
        {
            Property.NONNEGATIVE,
            Property.ZERO_AT_MATCH,
            Property.SYMMETRIC,
            Property.CONVEX,
            Property.SMOOTH,
            Property.BOUNDED_GRADIENT,
            Property.ROBUST_TO_OUTLIERS,
        }
    ),
    formula=(
        r"\ell_i = \log\cosh(r_i) = |r_i| + \log\!\left(1 + e^{-2|r_i|}\right) - \log 2, \qquad "
        r"r_i = \hat y_i - y_i"
    ),
    summary="Log-cosh loss: about r^2/2 near zero and |r| - log 2 in the tails, smooth, computed stably.",
    references=(
        Ref(
            "O. Saleh, S. Saleh",
            "Statistical properties of the log-cosh loss function used in machine learning",
            "arXiv:2208.04564",
            2022,
            "https://arxiv.org/abs/2208.04564",
        ),
    ),
    sample=real_pair_sample,
    curve=Curve("residual", (-4.0, 4.0), residual_curve_call),
    when_to_use="Like Huber with delta ~ 1 but smooth (C-infinity); scale-dependent: standardise y.",
    when_not_to_use=(
        "Not on an unstandardised target: it has no scale parameter (its quadratic zone is |r| "
        "< ~1 in target units), so use huber with delta set from the data, or charbonnier with "
        "a scale. Not for clean Gaussian noise (mse), nor with many gross outliers, which its "
        "tanh gradient keeps pulling with unit force (cauchy, geman_mcclure, welsch)."
    ),
)


@register(SPEC, aliases=("logcosh",))
def log_cosh_loss(
    input: Tensor, target: Tensor, *, weight: Tensor | None = None, reduction: Reduction = "mean"
) -> Tensor:
    r"""Log-cosh loss: about r^2/2 near zero and |r| - log 2 in the tails, smooth, computed stably.

    $$\ell_i = \log\cosh(r_i) = |r_i| + \log\!\left(1 + e^{-2|r_i|}\right) - \log 2, \qquad r_i = \hat y_i - y_i$$

    reduced as described in *Reductions* (``docs/conventions.md``). The right-hand form never
    overflows, unlike ``log(cosh(r))`` which is ``inf`` for ``|r| > 89`` in float32. On the
    CPU a lean chunked kernel computes the loss and its gradient together and keeps one
    gradient buffer (:mod:`losscraft._core.kernels`); composed torch ops are used elsewhere
    and when ``target`` or ``weight`` requires a gradient.

    **Gradient:** $\tanh(r)$, bounded by 1; smooth everywhere.

    Args:
        input: predictions, any shape, floating point.
        target: targets, same shape as ``input``.
        weight: optional non-negative weights broadcastable to ``input``'s shape.
        reduction: ``"mean"`` (weighted mean), ``"sum"`` or ``"none"`` (``input``'s shape).

    Returns:
        A scalar, or a tensor of ``input``'s shape for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: shapes differ, non-floating input, bad ``weight`` or ``reduction``.

    Examples:
        >>> import torch, losscraft.functional as LF
        >>> LF.log_cosh_loss(torch.tensor([0.0, 1.0, 50.0]), torch.zeros(3), reduction="none")
        tensor([ 0.0000,  0.4338, 49.3069])

    References:
        O. Saleh, S. Saleh (2022). Statistical properties of the log-cosh loss function used in
            machine learning. arXiv:2208.04564. https://arxiv.org/abs/2208.04564
    """
    fn = "log_cosh_loss"
    check_floating(fn, "input", input)
    check_floating(fn, "target", target)
    check_same_shape(fn, input, target)
    check_params(SPEC, {"reduction": reduction})
    check_weight(fn, weight, input.shape)

    def composed(x: Tensor) -> Tensor:
        return _composed(x, target, weight, reduction)

    if use_lean(input, target, weight):
        return log_cosh_lean(input, target, weight, reduction, composed)
    return composed(input)


def _composed(input: Tensor, target: Tensor, weight: Tensor | None, reduction: str) -> Tensor:
    """The reference implementation: composed torch ops, differentiable in both arguments."""
    dt = compute_dtype(input, target)
    a = (to_compute(input, dt) - to_compute(target, dt)).abs()
    return reduce(a + F.softplus(-2.0 * a) - LOG2, reduction, weight)


class LogCoshLoss(LossModule, spec=SPEC, fn=log_cosh_loss):
    """Module form of :func:`losscraft.functional.log_cosh_loss`."""

    def __init__(self, *, reduction: Reduction = "mean") -> None:
        super().__init__(reduction=reduction)
