"""Mean absolute error."""

from __future__ import annotations

from torch import Tensor

from ..._core.checks import check_params, prepare_real_pair
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
from ..._core.sampling import real_pair_sample, residual_curve_call
from ..._core.spec import Curve, Family, InputKind, LossSpec, Property, Ref, TargetKind, Task

SPEC = LossSpec(
    name="mae",
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
            Property.BOUNDED_GRADIENT,
            Property.ROBUST_TO_OUTLIERS,
        }
    ),
    formula=r"\ell_i = \lvert \hat y_i - y_i \rvert",
    summary="Mean absolute error (L1 loss): estimates the conditional median, robust to outliers.",
    references=(
        Ref("P. S. Laplace", "Théorie analytique des probabilités", "Courcier", 1812),
        Ref(
            "R. Koenker, G. Bassett",
            "Regression Quantiles",
            "Econometrica 46(1)",
            1978,
            "https://doi.org/10.2307/1913643",
        ),
    ),
    sample=real_pair_sample,
    curve=Curve("residual", (-4.0, 4.0), residual_curve_call),
    when_to_use="Heavy-tailed noise or outliers, or when the median is what you predict.",
    when_not_to_use=(
        "Not when the mean is the target: mae estimates the conditional median, which differs "
        "from the mean under skewed noise (use mse, or huber for a robust compromise). Its "
        "gradient has the same magnitude at every residual, so for a smooth, convex L1 use "
        "charbonnier or log_cosh, and for unequal costs of under- and over-prediction use "
        "quantile."
    ),
)


@register(SPEC, aliases=("l1", "mean_absolute_error"))
def mae_loss(
    input: Tensor, target: Tensor, *, weight: Tensor | None = None, reduction: Reduction = "mean"
) -> Tensor:
    r"""Mean absolute error (L1 loss): estimates the conditional median, robust to outliers.

    Consistent for the conditional median; every residual pulls with the same force, so
    outliers have bounded influence.

    $$\ell_i = \lvert \hat y_i - y_i \rvert$$

    reduced as described in *Reductions* (``docs/conventions.md``).

    **Gradient:** $\operatorname{sign}(\hat y - y)$, with the subgradient 0 at a zero residual
    (as ``torch.nn.functional.l1_loss``).

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
        >>> LF.mae_loss(torch.tensor([1.0, 2.0, 4.0]), torch.tensor([1.0, 1.0, 1.0]))
        tensor(1.3333)

    References:
        P. S. Laplace (1812). Théorie analytique des probabilités. Courcier.
        R. Koenker, G. Bassett (1978). Regression Quantiles. Econometrica 46(1).
            https://doi.org/10.2307/1913643
    """
    fn = "mae_loss"
    x, y = prepare_real_pair(fn, input, target)
    check_params(SPEC, {"reduction": reduction})
    check_weight(fn, weight, x.shape)
    return reduce((x - y).abs(), reduction, weight)


class MAELoss(LossModule, spec=SPEC, fn=mae_loss):
    """Module form of :func:`losscraft.functional.mae_loss`."""

    def __init__(self, *, reduction: Reduction = "mean") -> None:
        super().__init__(reduction=reduction)
