"""Mean squared error."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ..._core.checks import check_params, prepare_real_pair
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
from ..._core.sampling import real_pair_sample, residual_curve_call
from ..._core.spec import Curve, Family, InputKind, LossSpec, Property, Ref, TargetKind, Task

SPEC = LossSpec(
    name="mse",
    family=Family.REGRESSION,
    tasks=(Task.REGRESSION, Task.COUNT),
    input_kind=InputKind.REAL,
    target_kind=TargetKind.REAL,
    params=(),
    properties=frozenset(
        {Property.NONNEGATIVE, Property.ZERO_AT_MATCH, Property.SYMMETRIC, Property.CONVEX, Property.SMOOTH}
    ),
    formula=r"\ell_i = (\hat y_i - y_i)^2",
    summary="Mean squared error (L2 loss): estimates the conditional mean, sensitive to outliers.",
    references=(Ref("C. F. Gauss", "Theoria motus corporum coelestium", "Perthes et Besser", 1809),),
    sample=real_pair_sample,
    curve=Curve("residual", (-4.0, 4.0), residual_curve_call),
    when_to_use="Gaussian-like noise and when the mean is what you predict; avoid with outliers.",
    when_not_to_use=(
        "Not with heavy-tailed noise or gross outliers, whose squared residuals dominate the "
        "fit: use huber (a few outliers) or mae / cauchy (many). Not when the target is a "
        "median or a quantile (mae, quantile), nor for counts whose variance grows with the "
        "mean (poisson_nll)."
    ),
)


@register(SPEC, aliases=("l2", "mean_squared_error"))
def mse_loss(
    input: Tensor, target: Tensor, *, weight: Tensor | None = None, reduction: Reduction = "mean"
) -> Tensor:
    r"""Mean squared error (L2 loss): estimates the conditional mean, sensitive to outliers.

    Consistent for the conditional mean; the gradient grows linearly with the residual, so a
    few outliers dominate training.

    $$\ell_i = (\hat y_i - y_i)^2$$

    reduced as described in *Reductions* (``docs/conventions.md``).

    **Gradient:** $\partial \ell / \partial \hat y = 2(\hat y - y)$, unbounded.

    Args:
        input: predictions $\hat y$, any shape, floating point.
        target: targets $y$, same shape as ``input``.
        weight: optional non-negative weights broadcastable to ``input``'s shape.
        reduction: ``"mean"`` (weighted mean), ``"sum"`` or ``"none"`` (``input``'s shape).

    Returns:
        A scalar, or a tensor of ``input``'s shape for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: shapes differ, non-floating input, bad ``weight`` or ``reduction``.

    Examples:
        >>> import torch, losscraft.functional as LF
        >>> LF.mse_loss(torch.tensor([1.0, 2.0, 4.0]), torch.tensor([1.0, 1.0, 1.0]))
        tensor(3.3333)

    References:
        C. F. Gauss (1809). Theoria motus corporum coelestium. Perthes et Besser.
    """
    fn = "mse_loss"
    x, y = prepare_real_pair(fn, input, target)
    check_params(SPEC, {"reduction": reduction})
    check_weight(fn, weight, x.shape)
    return reduce(F.mse_loss(x, y, reduction="none"), reduction, weight)


class MSELoss(LossModule, spec=SPEC, fn=mse_loss):
    """Module form of :func:`losscraft.functional.mse_loss`."""

    def __init__(self, *, reduction: Reduction = "mean") -> None:
        super().__init__(reduction=reduction)
