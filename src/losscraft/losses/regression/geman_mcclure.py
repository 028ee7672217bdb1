"""Geman–McClure loss (Barron's alpha = -2)."""

from __future__ import annotations

from torch import Tensor

from ..._core.checks import check_params
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
from ..._core.sampling import real_pair_sample, residual_curve_call
from ..._core.spec import Curve, Family, InputKind, LossSpec, Property, Ref, TargetKind, Task
from ._robust import SCALE_PARAM, rho_geman_mcclure, scaled_residual

SPEC = LossSpec(
    name="geman_mcclure",
    family=Family.REGRESSION,
    tasks=(Task.REGRESSION,),
    input_kind=InputKind.REAL,
    target_kind=TargetKind.REAL,
    params=(SCALE_PARAM,),
    # Bounded by 2; non-convex beyond |r| = 2c/sqrt(3), where the gradient peaks and then
    # decays like 16 c^2/r^3 (redescending).
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
    formula=r"\ell_i = \frac{2 (r_i/c)^2}{(r_i/c)^2 + 4},\qquad r_i = \hat y_i - y_i",
    summary="Geman-McClure loss: bounded by 2, with a gradient that redescends like 1/r^3; non-convex.",
    references=(
        Ref(
            "S. Geman, D. E. McClure",
            "Bayesian image analysis: an application to single photon emission tomography",
            "Proceedings of the Statistical Computing Section, American Statistical Association",
            1985,
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
        "Registration, structure-from-motion and other fits with many gross outliers: the "
        "cost of a residual saturates at 2, so far outliers are effectively ignored. "
        "Non-convex: needs a good initialisation (e.g. an L1/Huber fit first)."
    ),
    when_not_to_use=(
        "Not from a poor initialisation: it is non-convex and its gradient vanishes like "
        "1/r^3, so residuals that start large are ignored rather than corrected; fit huber or "
        "mae first. Not for mostly Gaussian noise with few outliers (huber, mse), nor when the "
        "mean is the target (mse)."
    ),
)


@register(SPEC, aliases=("gm",))
def geman_mcclure_loss(
    input: Tensor,
    target: Tensor,
    *,
    scale: float = 1.0,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Geman-McClure loss: bounded by 2, with a gradient that redescends like 1/r^3; non-convex.

    Use it when gross outliers should be (nearly) ignored and the fit can start close to the
    answer: every residual costs at most 2.

    $$\ell_i = \frac{2 (r_i/c)^2}{(r_i/c)^2 + 4},\qquad r_i = \hat y_i - y_i$$

    reduced as described in *Reductions* (``docs/conventions.md``). This is Barron's general
    loss at $\alpha = -2$ (``barron_loss(alpha=-2, scale=c)`` gives the same numbers); value
    in *scale-normalised* units, $\approx \tfrac12 (r/c)^2$ near zero. The classical form
    $r^2/(r^2 + \sigma^2)$ is half of this loss at $c = \sigma/2$.

    **Gradient:** $\partial\ell/\partial\hat y = \dfrac{16\,t}{c\,(t^2 + 4)^2}$ with
    $t = r/c$: largest, $\tfrac{3\sqrt3}{8c}$, at $\lvert r\rvert = 2c/\sqrt3$, then decaying
    like $16c^2/r^3$. Computed as $2\,(t/\operatorname{hypot}(t, 2))^2$, which never forms
    $\infty/\infty$.

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
        >>> from losscraft.functional import geman_mcclure_loss
        >>> geman_mcclure_loss(torch.tensor([0.0, 1.0, 2.0, 10.0]), torch.zeros(4), reduction="none")
        tensor([0.0000, 0.4000, 1.0000, 1.9231])

    References:
        S. Geman, D. E. McClure (1985). Bayesian image analysis: an application to single photon
            emission tomography. Proceedings of the Statistical Computing Section, American
            Statistical Association.
        J. T. Barron (2019). A General and Adaptive Robust Loss Function. CVPR.
            https://arxiv.org/abs/1701.03077
    """
    fn = "geman_mcclure_loss"
    check_params(SPEC, {"scale": scale, "reduction": reduction})
    t = scaled_residual(fn, input, target, scale)
    check_weight(fn, weight, t.shape)
    return reduce(rho_geman_mcclure(t), reduction, weight)


class GemanMcClureLoss(LossModule, spec=SPEC, fn=geman_mcclure_loss):
    """Module form of :func:`losscraft.functional.geman_mcclure_loss`."""

    def __init__(self, *, scale: float = 1.0, reduction: Reduction = "mean") -> None:
        super().__init__(scale=scale, reduction=reduction)
