"""Cauchy / Lorentzian loss (Barron's alpha = 0)."""

from __future__ import annotations

from torch import Tensor

from ..._core.checks import check_params
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
from ..._core.sampling import real_pair_sample, residual_curve_call
from ..._core.spec import Curve, Family, InputKind, LossSpec, Property, Ref, TargetKind, Task
from ._robust import SCALE_PARAM, rho_cauchy, scaled_residual

SPEC = LossSpec(
    name="cauchy",
    family=Family.REGRESSION,
    tasks=(Task.REGRESSION,),
    input_kind=InputKind.REAL,
    target_kind=TargetKind.REAL,
    params=(SCALE_PARAM,),
    # Non-convex beyond |r| = sqrt(2) c; the gradient peaks at |r| = sqrt(2) c and then
    # decays like 2/|r| (redescending).
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
    formula=r"\ell_i = \log\!\left(\tfrac12 (r_i/c)^2 + 1\right),\qquad r_i = \hat y_i - y_i",
    summary=(
        "Cauchy (Lorentzian) loss: logarithmic growth, redescending gradient: gross outliers barely matter."
    ),
    references=(
        Ref(
            "M. J. Black, P. Anandan",
            "The Robust Estimation of Multiple Motions: Parametric and Piecewise-Smooth Flow Fields",
            "Computer Vision and Image Understanding 63(1)",
            1996,
            "https://doi.org/10.1006/cviu.1996.0006",
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
        "Many gross outliers (the negative log-likelihood of Cauchy noise). Its gradient "
        "redescends, so outliers far beyond the scale are almost ignored, but it is "
        "non-convex: start from an L1/Huber fit or a good initialisation."
    ),
    when_not_to_use=(
        "Not from a random or poor initialisation: it is non-convex with a redescending "
        "gradient, so fit huber or mae first. Not for mostly Gaussian noise with few outliers, "
        "where the convex huber (or mse) suffices without spurious local minima, nor when the "
        "mean is the target (mse): it fits the bulk and discounts the tails."
    ),
)


@register(SPEC, aliases=("lorentzian",))
def cauchy_loss(
    input: Tensor,
    target: Tensor,
    *,
    scale: float = 1.0,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Cauchy (Lorentzian) loss: logarithmic growth, redescending gradient: gross outliers barely matter.

    Use it when a sizeable fraction of the targets are gross outliers: a residual 100 times the
    scale costs only about $\log(5000) \approx 8.5$. It is the negative log-likelihood of a
    Cauchy (Student-t with one degree of freedom) noise model, up to a constant.

    $$\ell_i = \log\!\left(\tfrac12 (r_i/c)^2 + 1\right),\qquad r_i = \hat y_i - y_i$$

    reduced as described in *Reductions* (``docs/conventions.md``). This is Barron's general
    loss in the limit $\alpha \to 0$ (``barron_loss(alpha=0, scale=c)`` gives the same
    numbers); value in *scale-normalised* units. The other common convention,
    $\log(1 + (r/\sigma)^2)$ (e.g. SciPy's ``least_squares(loss="cauchy")``), is this loss at
    $c = \sigma/\sqrt2$.

    **Gradient:** $\partial\ell/\partial\hat y = \dfrac{2r}{r^2 + 2c^2}$: largest,
    $1/(\sqrt2\,c)$, at $\lvert r\rvert = \sqrt2\,c$, then decaying like $2/r$
    (redescending). The loss is non-convex for $\lvert r\rvert > \sqrt2\,c$.

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
        >>> from losscraft.functional import cauchy_loss
        >>> cauchy_loss(torch.tensor([0.0, 1.0, 2.0, 10.0]), torch.zeros(4), reduction="none")
        tensor([0.0000, 0.4055, 1.0986, 3.9318])

    References:
        M. J. Black, P. Anandan (1996). The Robust Estimation of Multiple Motions: Parametric and
            Piecewise-Smooth Flow Fields. Computer Vision and Image Understanding 63(1).
            https://doi.org/10.1006/cviu.1996.0006
        J. T. Barron (2019). A General and Adaptive Robust Loss Function. CVPR.
            https://arxiv.org/abs/1701.03077
    """
    fn = "cauchy_loss"
    check_params(SPEC, {"scale": scale, "reduction": reduction})
    t = scaled_residual(fn, input, target, scale)
    check_weight(fn, weight, t.shape)
    return reduce(rho_cauchy(t), reduction, weight)


class CauchyLoss(LossModule, spec=SPEC, fn=cauchy_loss):
    """Module form of :func:`losscraft.functional.cauchy_loss`."""

    def __init__(self, *, scale: float = 1.0, reduction: Reduction = "mean") -> None:
        super().__init__(scale=scale, reduction=reduction)
