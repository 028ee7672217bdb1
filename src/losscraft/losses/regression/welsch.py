"""Welsch / Leclerc loss (Barron's alpha -> -inf)."""

from __future__ import annotations

from torch import Tensor

from ..._core.checks import check_params
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
from ..._core.sampling import real_pair_sample, residual_curve_call
from ..._core.spec import Curve, Family, InputKind, LossSpec, Property, Ref, TargetKind, Task
from ._robust import SCALE_PARAM, rho_welsch, scaled_residual

SPEC = LossSpec(
    name="welsch",
    family=Family.REGRESSION,
    tasks=(Task.REGRESSION,),
    input_kind=InputKind.REAL,
    target_kind=TargetKind.REAL,
    params=(SCALE_PARAM,),
    # Bounded by 1; non-convex beyond |r| = c, where the gradient peaks; the gradient then
    # vanishes like r exp(-r^2 / 2c^2) (redescending).
    properties=frozenset(
        {
            Property.NONNEGATIVE,
            Property.ZERO_AT_MATCH,
            Property.SYMMETRIC,
            Property.SMOOTH,
            Property.BOUNDED_GRADIENT,
            Property.ROBUST_TO_OUTLIERS,
        }
    ),
    formula=r"\ell_i = 1 - \exp\!\left(-\tfrac12 (r_i/c)^2\right),\qquad r_i = \hat y_i - y_i",
    summary=(
        "Welsch (Leclerc) loss: inverted Gaussian, bounded by 1; residuals beyond a few scales barely count."
    ),
    references=(
        Ref(
            "J. E. Dennis Jr., R. E. Welsch",
            "Techniques for nonlinear least squares and robust regression",
            "Communications in Statistics - Simulation and Computation 7(4)",
            1978,
            "https://doi.org/10.1080/03610917808812083",
        ),
        Ref(
            "Y. G. Leclerc",
            "Constructing simple stable descriptions for image partitioning",
            "International Journal of Computer Vision 3(1)",
            1989,
            "https://doi.org/10.1007/BF00054839",
        ),
        Ref(
            "J. T. Barron",
            "A General and Adaptive Robust Loss Function",
            "CVPR",
            2019,
            "https://arxiv.org/abs/1701.03077",
        ),
    ),
    sample=real_pair_sample,
    curve=Curve("residual", (-4.0, 4.0), residual_curve_call),
    when_to_use=(
        "The most aggressive of the robust losses (Barron's alpha -> -inf): residuals beyond "
        "about 3 scales get almost no gradient, so it finds the mode of the residuals. Use "
        "when outliers are plentiful and the initialisation is good; non-convex."
    ),
    when_not_to_use=(
        "Not from a poor initialisation: residuals beyond about 3 scales get almost no "
        "gradient, so points that start far from the fit are never pulled in; fit huber or mae "
        "first, or use cauchy, whose gradient redescends more slowly. Not when the mean is the "
        "target (mse, huber): it seeks the mode of the residuals."
    ),
)


@register(SPEC, aliases=("leclerc",))
def welsch_loss(
    input: Tensor,
    target: Tensor,
    *,
    scale: float = 1.0,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Welsch (Leclerc) loss: inverted Gaussian, bounded by 1; residuals beyond a few scales barely count.

    Use it to fit the bulk of the data while ignoring everything a few scales away (a
    mode-seeking estimator); it needs a good starting point.

    $$\ell_i = 1 - \exp\!\left(-\tfrac12 (r_i/c)^2\right),\qquad r_i = \hat y_i - y_i$$

    reduced as described in *Reductions* (``docs/conventions.md``). This is Barron's general
    loss in the limit $\alpha \to -\infty$ (``barron_loss(alpha=-inf, scale=c)`` gives the
    same numbers); value in *scale-normalised* units, $\approx \tfrac12 (r/c)^2$ near zero.
    The classical Welsch function $\tfrac{\sigma^2}{2}(1 - e^{-(r/\sigma)^2})$ is
    $\tfrac{\sigma^2}{2} \times$ this loss at $c = \sigma/\sqrt2$.

    **Gradient:** $\partial\ell/\partial\hat y = \dfrac{r}{c^2}\,e^{-r^2/(2c^2)}$: largest,
    $e^{-1/2}/c$, at $\lvert r\rvert = c$, then vanishing (redescending). Computed with
    ``-expm1`` so small residuals keep their digits.

    Args:
        input: predictions, any shape, floating point.
        target: targets, same shape as ``input``.
        scale: $c > 0$, in target units: the residual size where the quadratic bowl ends.
            Default 1.0 (Barron).
        weight: optional non-negative weights broadcastable to ``input``'s shape.
        reduction: ``"mean"`` (weighted mean), ``"sum"`` or ``"none"`` (``input``'s shape).

    Returns:
        A scalar, or a tensor of ``input``'s shape for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: shapes differ, non-floating input, ``scale`` not in (0, inf), bad
            ``weight`` or ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import welsch_loss
        >>> welsch_loss(torch.tensor([0.0, 1.0, 2.0, 10.0]), torch.zeros(4), reduction="none")
        tensor([0.0000, 0.3935, 0.8647, 1.0000])

    References:
        J. E. Dennis Jr., R. E. Welsch (1978). Techniques for nonlinear least squares and robust
            regression. Communications in Statistics - Simulation and Computation 7(4).
            https://doi.org/10.1080/03610917808812083
        Y. G. Leclerc (1989). Constructing simple stable descriptions for image partitioning.
            International Journal of Computer Vision 3(1). https://doi.org/10.1007/BF00054839
        J. T. Barron (2019). A General and Adaptive Robust Loss Function. CVPR.
            https://arxiv.org/abs/1701.03077
    """
    fn = "welsch_loss"
    check_params(SPEC, {"scale": scale, "reduction": reduction})
    t = scaled_residual(fn, input, target, scale)
    check_weight(fn, weight, t.shape)
    return reduce(rho_welsch(t), reduction, weight)


class WelschLoss(LossModule, spec=SPEC, fn=welsch_loss):
    """Module form of :func:`losscraft.functional.welsch_loss`."""

    def __init__(self, *, scale: float = 1.0, reduction: Reduction = "mean") -> None:
        super().__init__(scale=scale, reduction=reduction)
