"""Charbonnier / pseudo-Huber loss (Barron's alpha = 1)."""

from __future__ import annotations

from torch import Tensor

from ..._core.checks import check_params
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
from ..._core.sampling import real_pair_sample, residual_curve_call
from ..._core.spec import Curve, Family, InputKind, LossSpec, Property, Ref, TargetKind, Task
from ._robust import SCALE_PARAM, rho_charbonnier, scaled_residual

SPEC = LossSpec(
    name="charbonnier",
    family=Family.REGRESSION,
    tasks=(Task.REGRESSION,),
    input_kind=InputKind.REAL,
    target_kind=TargetKind.REAL,
    params=(SCALE_PARAM,),
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
    formula=r"\ell_i = \sqrt{(r_i/c)^2 + 1} - 1,\qquad r_i = \hat y_i - y_i",
    summary=(
        "Charbonnier (pseudo-Huber, L1-L2) loss: a smooth, convex L1, quadratic near zero; Barron's alpha=1."
    ),
    references=(
        Ref(
            "P. Charbonnier, L. Blanc-Féraud, G. Aubert, M. Barlaud",
            "Two deterministic half-quadratic regularization algorithms for computed imaging",
            "IEEE International Conference on Image Processing (ICIP)",
            1994,
            "https://doi.org/10.1109/ICIP.1994.413553",
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
        "A smooth, convex L1: like Huber with delta = scale but C-infinity, so second-order "
        "optimisers and small residuals behave well. Common in optical flow, image restoration "
        "and super-resolution; set scale to about the noise level of the target."
    ),
    when_not_to_use=(
        "Not for clean Gaussian noise (mse). Not with many gross outliers: its gradient tends "
        "to the constant 1/scale instead of redescending, so every outlier keeps pulling; use "
        "cauchy, geman_mcclure or welsch from a good initialisation."
    ),
)


@register(SPEC, aliases=("pseudo_huber",))
def charbonnier_loss(
    input: Tensor,
    target: Tensor,
    *,
    scale: float = 1.0,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Charbonnier (pseudo-Huber, L1-L2) loss: a smooth, convex L1, quadratic near zero; Barron's alpha=1.

    Quadratic near zero and linear in the tails, with a gradient bounded by $1/c$; use it
    where you would use Huber but want a loss that is smooth everywhere.

    $$\ell_i = \sqrt{(r_i/c)^2 + 1} - 1,\qquad r_i = \hat y_i - y_i$$

    reduced as described in *Reductions* (``docs/conventions.md``). This is Barron's general
    loss at $\alpha = 1$ (``barron_loss(alpha=1, scale=c)`` gives the same numbers), so its
    value is in *scale-normalised* units: about $\tfrac12 (r/c)^2$ near zero and
    $\lvert r\rvert/c - 1$ in the tails. The pseudo-Huber loss with parameter $\delta$,
    $\delta^2(\sqrt{1 + (r/\delta)^2} - 1)$, is $\delta^2 \times$ this loss at
    $c = \delta$; Charbonnier's $\sqrt{r^2 + \varepsilon^2}$ is $\varepsilon\,(\ell + 1)$ at
    $c = \varepsilon$.

    **Gradient:** $\partial\ell/\partial\hat y = \dfrac{r}{c^2\sqrt{(r/c)^2 + 1}}$: $r/c^2$
    near zero, tending to $\pm 1/c$ (bounded). Computed without cancellation near $r = 0$ and
    without overflow for large $\lvert r\rvert$.

    Args:
        input: predictions, any shape, floating point.
        target: targets, same shape as ``input``.
        scale: $c > 0$, in target units: the residual size where the quadratic bowl turns
            into the linear tails. Default 1.0 (Barron).
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
        >>> from losscraft.functional import charbonnier_loss
        >>> charbonnier_loss(torch.tensor([0.0, 1.0, 3.0]), torch.zeros(3), reduction="none")
        tensor([0.0000, 0.4142, 2.1623])

    References:
        P. Charbonnier, L. Blanc-Féraud, G. Aubert, M. Barlaud (1994). Two deterministic
            half-quadratic regularization algorithms for computed imaging. IEEE International
            Conference on Image Processing (ICIP). https://doi.org/10.1109/ICIP.1994.413553
        J. T. Barron (2019). A General and Adaptive Robust Loss Function. CVPR.
            https://arxiv.org/abs/1701.03077
    """
    fn = "charbonnier_loss"
    check_params(SPEC, {"scale": scale, "reduction": reduction})
    t = scaled_residual(fn, input, target, scale)
    check_weight(fn, weight, t.shape)
    return reduce(rho_charbonnier(t), reduction, weight)


class CharbonnierLoss(LossModule, spec=SPEC, fn=charbonnier_loss):
    """Module form of :func:`losscraft.functional.charbonnier_loss`."""

    def __init__(self, *, scale: float = 1.0, reduction: Reduction = "mean") -> None:
        super().__init__(scale=scale, reduction=reduction)
