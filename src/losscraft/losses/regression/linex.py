"""LINEX (linear-exponential) loss."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..._core.checks import check_params, prepare_real_pair
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
from ..._core.sampling import real_pair_sample, residual_curve_call
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

# Beyond z = a*(y_hat - y) = _Z_MAX the exponential continues along its tangent: the value
# there is ~e^50 = 5e21, far beyond any useful loss, and float32 stays finite up to |r| ~ 1e30.
_Z_MAX = 50.0

SPEC = LossSpec(
    name="linex",
    family=Family.REGRESSION,
    tasks=(Task.REGRESSION,),
    input_kind=InputKind.REAL,
    target_kind=TargetKind.REAL,
    params=(
        Param(
            "a",
            1.0,
            Interval(-math.inf, math.inf, low_closed=False, high_closed=False, nonzero=True),
            "asymmetry: a > 0 penalises over-prediction exponentially, a < 0 under-prediction; a != 0",
        ),
        Param("b", 1.0, Interval(0.0, math.inf, low_closed=False, high_closed=False), "scale b > 0"),
    ),
    properties=frozenset({Property.NONNEGATIVE, Property.ZERO_AT_MATCH, Property.CONVEX, Property.SMOOTH}),
    formula=r"\ell_i = b\,\big(e^{z_i} - z_i - 1\big),\qquad z_i = a(\hat y_i - y_i)",
    summary="LINEX loss: exponential on one side of the target, roughly linear on the other (Varian 1975).",
    references=(
        Ref(
            "H. R. Varian",
            "A Bayesian Approach to Real Estate Assessment",
            "Studies in Bayesian Econometrics and Statistics, North-Holland",
            1975,
        ),
        Ref(
            "A. Zellner",
            "Bayesian Estimation and Prediction Using Asymmetric Loss Functions",
            "JASA 81(394)",
            1986,
            "https://doi.org/10.1080/01621459.1986.10478289",
        ),
    ),
    sample=real_pair_sample,
    curve=Curve("residual", (-4.0, 4.0), residual_curve_call),
    relations=(
        Relation(
            "mse",
            params={"a": 1e-4, "b": 2e8},
            rtol=2e-3,
            atol=1e-9,
            note="a -> 0 with b = 2/a^2: the squared error",
        ),
    ),
    when_to_use=(
        "One direction of error is much worse than the other and grows fast (e.g. over-estimating "
        "a safe dose); the minimiser is E[y] - log E[e^{-a(y - E y)}] / a, shifted away from the costly side."
    ),
    when_not_to_use=(
        "Not with heavy-tailed noise or outliers on the costly side: its gradient grows "
        "exponentially there, so a few large residuals dominate the fit (asymmetric_linear and "
        "quantile have bounded gradients). Not when the costs are linear or quadratic in the "
        "error (asymmetric_linear, asymmetric_squared); a is in inverse target units, so "
        "standardise y or rescale a."
    ),
)


@register(SPEC)
def linex_loss(
    input: Tensor,
    target: Tensor,
    *,
    a: float = 1.0,
    b: float = 1.0,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""LINEX loss: exponential on one side of the target, roughly linear on the other (Varian 1975).

    $$\ell_i = b\,\big(e^{z_i} - z_i - 1\big),\qquad z_i = a(\hat y_i - y_i)$$

    With $a > 0$ over-prediction costs exponentially and under-prediction about linearly
    ($a < 0$ the reverse); as $a \to 0$, $\ell \approx \tfrac{a^2 b}{2}(\hat y - y)^2$.
    Computed as ``expm1(z) - z`` (no cancellation for small $z$); for $z > 50$ the exponential
    continues along its tangent so the value stays finite (a documented C1 extension, only
    where the loss already exceeds $5\cdot10^{21} b$). Reduced as described in *Reductions*
    (``docs/conventions.md``).

    **Gradient:** $\partial\ell/\partial\hat y = a\,b\,(e^{z} - 1)$: unbounded on the costly
    side, bounded by $|a| b$ on the other.

    Args:
        input: predictions, any shape, floating point.
        target: targets, same shape as ``input``.
        a: asymmetry $a \ne 0$. Default 1.0 (over-prediction is the costly side).
        b: scale $b > 0$. Default 1.0.
        weight: optional non-negative weights broadcastable to ``input``'s shape.
        reduction: ``"mean"`` (weighted mean), ``"sum"`` or ``"none"`` (``input``'s shape).

    Returns:
        A scalar, or a tensor of ``input``'s shape for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: shapes differ, non-floating input, ``a == 0``, ``b <= 0``, bad
            ``weight`` or ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import linex_loss
        >>> linex_loss(torch.tensor([-1.0, 0.0, 1.0]), torch.zeros(3), reduction="none")
        tensor([0.3679, 0.0000, 0.7183])

    References:
        H. R. Varian (1975). A Bayesian Approach to Real Estate Assessment. Studies in Bayesian
            Econometrics and Statistics, North-Holland.
        A. Zellner (1986). Bayesian Estimation and Prediction Using Asymmetric Loss Functions. JASA
            81(394). https://doi.org/10.1080/01621459.1986.10478289
    """
    fn = "linex_loss"
    x, y = prepare_real_pair(fn, input, target)
    check_params(SPEC, {"a": a, "b": b, "reduction": reduction})
    check_weight(fn, weight, x.shape)
    z = a * (x - y)
    zc = z.clamp(max=_Z_MAX)
    # tangent continuation beyond _Z_MAX: f(z0) + f'(z0)(z - z0), f(z) = e^z - z - 1. Written
    # as clamp(z - z0, min=0) (not z - zc): below z0 its gradient is exactly 0, instead of
    # C - C with C = e^50 swallowing the e^z - 1 of the main branch in float32.
    tail = (z - _Z_MAX).clamp(min=0.0) * math.expm1(_Z_MAX)
    return reduce(b * (torch.expm1(zc) - zc + tail), reduction, weight)


class LinexLoss(LossModule, spec=SPEC, fn=linex_loss):
    """Module form of :func:`losscraft.functional.linex_loss`."""

    def __init__(self, *, a: float = 1.0, b: float = 1.0, reduction: Reduction = "mean") -> None:
        super().__init__(a=a, b=b, reduction=reduction)
