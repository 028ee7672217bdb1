"""Barron's general robust loss, fixed-shape (registry entry) and adaptive (learned shape/scale)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..._core.checks import check_floating, check_same_shape, compute_dtype, fmt_shape, to_compute
from ..._core.checks import check_params as _check_params
from ..._core.combine import Combinable
from ..._core.errors import LosscraftError
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import check_config_keys, register, register_composite
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
from ._robust import SCALE_PARAM, log_partition, rho, rho_tensor_alpha, scaled_residual

__all__ = ["AdaptiveBarronLoss", "BarronLoss", "barron_log_partition", "barron_loss"]

_BARRON = Ref(
    "J. T. Barron",
    "A General and Adaptive Robust Loss Function",
    "CVPR",
    2019,
    "https://arxiv.org/abs/1701.03077",
)

SPEC = LossSpec(
    name="barron",
    family=Family.REGRESSION,
    tasks=(Task.REGRESSION,),
    input_kind=InputKind.REAL,
    target_kind=TargetKind.REAL,
    params=(
        Param(
            "alpha",
            1.0,
            # Any real shape, and -inf (the Welsch limit); +inf (exp growth) is excluded.
            Interval(-math.inf, math.inf, low_closed=True, high_closed=False, allow_inf=True),
            "shape: 2 = L2, 1 = Charbonnier, 0 = Cauchy, -2 = Geman-McClure, -inf = Welsch",
        ),
        SCALE_PARAM,
    ),
    # At the default alpha = 1 this is the Charbonnier loss.
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
        r"\ell_i = f(r_i/c, \alpha) = \frac{|\alpha - 2|}{\alpha}\left[\left( \frac{(r_i/c)^2}{|\alpha "
        r"- 2|} + 1\right)^{\alpha/2} - 1\right],\qquad r_i = \hat y_i - y_i"
    ),
    summary=(
        "Barron's general robust loss: one shape alpha spans L2, Charbonnier, Cauchy, Geman-McClure, Welsch."
    ),
    references=(_BARRON,),
    sample=real_pair_sample,
    curve=Curve("residual", (-4.0, 4.0), residual_curve_call),
    relations=(
        Relation("mse", params={"alpha": 2.0}, factor=0.5, note="alpha = 2 is L2: (r/c)^2 / 2"),
        Relation("mse", params={"alpha": 2.0, "scale": 2.0}, factor=0.125, note="alpha = 2 is mse / (2 c^2)"),
        Relation("charbonnier", params={"alpha": 1.0}),
        Relation("charbonnier", params={"alpha": 1.0, "scale": 0.5}, other_params={"scale": 0.5}),
        Relation("cauchy", params={"alpha": 0.0}),
        Relation("cauchy", params={"alpha": 0.0, "scale": 3.0}, other_params={"scale": 3.0}),
        Relation("geman_mcclure", params={"alpha": -2.0}),
        Relation("geman_mcclure", params={"alpha": -2.0, "scale": 0.7}, other_params={"scale": 0.7}),
        Relation("welsch", params={"alpha": -math.inf}),
        Relation(
            "welsch",
            params={"alpha": -1e8},
            rtol=0.0,
            atol=1e-6,
            note="alpha -> -inf, through the general formula",
        ),
        Relation(
            "charbonnier",
            params={"alpha": 1.0 + 1e-10},
            rtol=0.0,
            atol=1e-8,
            note="continuity of the general formula at a special case",
        ),
    ),
    when_to_use=(
        "When you want to choose (or tune) how robust a regression loss is with a single "
        "continuous knob: lower alpha = more robust, less convex. Start at alpha = 1 "
        "(convex); alpha <= 0 needs a good initialisation. Set scale to the typical inlier "
        "residual (e.g. 1.4826 x MAD). To learn alpha and scale, use AdaptiveBarronLoss."
    ),
    when_not_to_use=(
        "Not for a quantile or unequal costs of under- and over-prediction: it is symmetric, "
        "use quantile or asymmetric_linear. alpha <= 0 is non-convex, so with a poor "
        "initialisation keep alpha >= 1 or fit huber first; when one fixed shape is enough, "
        "the named entry (charbonnier, cauchy, geman_mcclure, welsch) gives the same numbers "
        "with one parameter fewer."
    ),
)


@register(SPEC, aliases=("general_robust", "barron_general"))
def barron_loss(
    input: Tensor,
    target: Tensor,
    *,
    alpha: float = 1.0,
    scale: float = 1.0,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Barron's general robust loss: one shape alpha spans L2, Charbonnier, Cauchy, Geman-McClure, Welsch.

    A single family that contains L2, Charbonnier, Cauchy, Geman–McClure and Welsch; lower
    $\alpha$ means more robustness (and less convexity). Use it to pick the robustness of a
    regression loss with one number, or to tune it as a hyperparameter.

    $$\ell_i = f(r_i/c, \alpha) = \frac{|\alpha - 2|}{\alpha}\left[\left( \frac{(r_i/c)^2}{|\alpha - 2|} + 1\right)^{\alpha/2} - 1\right],\qquad r_i = \hat y_i - y_i$$

    reduced as described in *Reductions* (``docs/conventions.md``). Special cases (computed by
    the same kernels as the named entries, so the numbers are identical):
    $\alpha = 2$: $\tfrac12 (r/c)^2$ (``mse / (2c^2)``); $\alpha = 1$: ``charbonnier``;
    $\alpha = 0$: ``cauchy`` (the limit); $\alpha = -2$: ``geman_mcclure``;
    $\alpha = -\infty$: ``welsch`` (the limit; pass ``alpha=float("-inf")``). Values are in
    *scale-normalised* units, $\approx \tfrac12 (r/c)^2$ near zero for every $\alpha$.
    Other $\alpha$ use ``expm1(alpha/2 * log1p(t^2/|alpha-2|))``, accurate for $\alpha$ near
    0 and 2 and continuous across the special cases. $\alpha > 2$ is allowed (it grows
    faster than L2, and overflows sooner).

    **Gradient:** $\partial\ell/\partial\hat y = \dfrac{r}{c^2}\left(\dfrac{(r/c)^2}{|\alpha-2|}
    + 1\right)^{\alpha/2 - 1}$: linear ($r/c^2$) near zero; bounded for $\alpha \le 1$ and
    redescending (tending to 0) for $\alpha < 1$.

    Args:
        input: predictions, any shape, floating point.
        target: targets, same shape as ``input``.
        alpha: shape $\alpha$, any float or ``-inf``. Default 1.0 (Charbonnier; also the
            initial shape of Barron's adaptive loss): convex, smooth and robust.
        scale: $c > 0$, in target units: the size of the quadratic bowl around zero.
            Default 1.0 (Barron).
        weight: optional non-negative weights broadcastable to ``input``'s shape.
        reduction: ``"mean"`` (weighted mean), ``"sum"`` or ``"none"`` (``input``'s shape).

    Returns:
        A scalar, or a tensor of ``input``'s shape for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: shapes differ, non-floating input, ``alpha`` NaN or ``+inf``,
            ``scale`` not in (0, inf), bad ``weight`` or ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import barron_loss
        >>> r = torch.tensor([0.0, 1.0, 10.0])
        >>> for a in (2.0, 1.0, 0.5, 0.0, -2.0, float("-inf")):
        ...     print(a, barron_loss(r, torch.zeros(3), alpha=a, reduction="none"))
        2.0 tensor([ 0.0000,  0.5000, 50.0000])
        1.0 tensor([0.0000, 0.4142, 9.0499])
        0.5 tensor([0.0000, 0.4087, 5.6043])
        0.0 tensor([0.0000, 0.4055, 3.9318])
        -2.0 tensor([0.0000, 0.4000, 1.9231])
        -inf tensor([0.0000, 0.3935, 1.0000])

    References:
        J. T. Barron (2019). A General and Adaptive Robust Loss Function. CVPR.
            https://arxiv.org/abs/1701.03077
    """
    fn = "barron_loss"
    _check_params(SPEC, {"alpha": alpha, "scale": scale, "reduction": reduction})
    t = scaled_residual(fn, input, target, scale)
    check_weight(fn, weight, t.shape)
    return reduce(rho(t, float(alpha)), reduction, weight)


class BarronLoss(LossModule, spec=SPEC, fn=barron_loss):
    """Module form of :func:`losscraft.functional.barron_loss` (fixed shape and scale).

    To learn ``alpha`` and ``scale`` with the model, use :class:`AdaptiveBarronLoss`.
    """

    def __init__(self, *, alpha: float = 1.0, scale: float = 1.0, reduction: Reduction = "mean") -> None:
        super().__init__(alpha=alpha, scale=scale, reduction=reduction)


def barron_log_partition(alpha: Tensor) -> Tensor:
    r"""$\log Z(\alpha)$, the log normaliser of Barron's distribution, for $\alpha \in [0, 2]$.

    $$Z(\alpha) = \int_{-\infty}^{\infty} \exp\big(-f(x, \alpha)\big)\,dx,\qquad
    p(x \mid \alpha, c) = \frac{e^{-f(x/c, \alpha)}}{c\,Z(\alpha)}$$

    $Z(2) = \sqrt{2\pi}$ (Gaussian), $Z(0) = \pi\sqrt2$ (Cauchy), $Z(1) = 2e\,K_1(1)$.
    A differentiable cubic Hermite spline through a float64 table computed once by
    quadrature (see ``_robust.log_partition_table``); accurate to about ``1e-10``. Values
    outside ``[0, 2]`` are clamped (the distribution is improper for $\alpha < 0$).

    Args:
        alpha: shape values, any shape, floating point.

    Returns:
        $\log Z(\alpha)$, same shape and dtype as ``alpha``.

    Examples:
        >>> import math, torch
        >>> from losscraft.losses.regression.barron import barron_log_partition
        >>> z = barron_log_partition(torch.tensor([0.0, 2.0], dtype=torch.float64)).exp()
        >>> print(f"{z[0].item():.12f} {math.pi * math.sqrt(2):.12f}")
        4.442882938158 4.442882938158
        >>> print(f"{z[1].item():.12f} {math.sqrt(2 * math.pi):.12f}")
        2.506628274631 2.506628274631
    """
    check_floating("barron_log_partition", "alpha", alpha)
    return log_partition(alpha)


# --------------------------------------------------------------------------- adaptive
def _inv_softplus(y: float) -> float:
    """``x`` with ``softplus(x) = y`` (``y > 0``), stable for small and large ``y``."""
    return y + math.log(-math.expm1(-y))


class AdaptiveBarronLoss(Combinable, nn.Module):
    r"""Barron's *adaptive* robust loss: shape $\alpha$ and scale $c$ are learned with the model.

    Use it when you do not know how heavy-tailed the residuals are: the optimiser moves
    $\alpha$ towards 2 for Gaussian-like residuals and towards 0 for heavy-tailed ones, and
    $c$ towards the inlier residual scale. Each element costs the negative log-likelihood of
    Barron's distribution,

    $$\ell_i = f(r_i / c, \alpha) + \log c + \log Z(\alpha),\qquad r_i = \hat y_i - y_i$$

    with $f$ as in :func:`barron_loss` and $\log Z$ from :func:`barron_log_partition`. The
    $\log c + \log Z(\alpha)$ terms stop the optimiser from making everything an outlier
    (without them, $\alpha \to -\infty$ and $c \to \infty$ would minimise the loss). The
    value can be negative (it is a log-density).

    **Parameters.** $\alpha = \alpha_{lo} + (\alpha_{hi} - \alpha_{lo})\,\sigma(\lambda_\alpha)$
    stays in $(\alpha_{lo}, \alpha_{hi}) \subseteq [0, 2]$ (the distribution needs
    $\alpha \ge 0$) and $c = c_{lo} + \operatorname{softplus}(\lambda_c) > c_{lo}$, with the
    unconstrained latents $\lambda$ as ``nn.Parameter`` s (``latent_alpha``,
    ``latent_scale``) so that ``model.parameters()`` — or ``loss.parameters()`` added to the
    optimiser — trains them. ``alpha_lo == alpha_hi`` fixes $\alpha$, and
    ``scale_init == scale_lo`` fixes $c$ (then no parameter is created). The latents are
    float32 by default; ``.to(torch.float64)`` converts them.

    **Shapes.** With ``num_dims=1`` one $(\alpha, c)$ is shared by every element of any
    input shape. With ``num_dims=D > 1``, ``input`` must have a trailing dimension of size
    ``D`` and each channel of that dimension gets its own $(\alpha, c)$, as in Barron's
    reference implementation (e.g. per colour channel or per output of a multi-output
    regressor).

    **Conventions.** Called as ``loss(input, target, weight=None)`` like every losscraft
    Module: ``input``/``target`` of the same shape (never broadcast), per-element ``weight``
    and the ``reduction`` of *Reductions* (``docs/conventions.md``); half-precision inputs are
    computed in float32. It is not a registry entry (its state is learned, not configured),
    and it needs the optimiser to see its parameters. :meth:`get_config` gives the
    constructor arguments and ``losscraft.build(config)`` makes a fresh Module from them (the
    learned $\alpha$ and $c$ are state: restore them with ``load_state_dict``).

    **Gradient:** w.r.t. the prediction as in :func:`barron_loss`; w.r.t. $\alpha$ and $c$
    through $f$, $\log c$ and the spline of $\log Z$ (whose slope grows like
    $\tfrac14\lvert\log(2 - \alpha)\rvert$ near $\alpha = 2$, one reason for the default
    $\alpha_{hi} = 1.999$).

    Args:
        num_dims: number of independent $(\alpha, c)$ pairs: 1 (shared, default) or the size
            of ``input``'s last dimension.
        alpha_lo: lower bound of $\alpha$, in [0, 2]. Default 0.001 (Barron).
        alpha_hi: upper bound of $\alpha$, in [``alpha_lo``, 2]. Default 1.999 (Barron).
        alpha_init: initial $\alpha$, strictly inside (``alpha_lo``, ``alpha_hi``); ``None``
            (default) = the midpoint, 1.0 for the default bounds.
        scale_lo: lower bound of $c$, > 0. Default 1e-5 (Barron).
        scale_init: initial $c$, >= ``scale_lo`` (equal fixes $c$). Default 1.0 (Barron);
            in target units, so standardise the target or pass its residual scale.
        reduction: ``"mean"`` (weighted mean), ``"sum"`` or ``"none"`` (``input``'s shape).

    Raises:
        LosscraftError: at construction, a bound or initial value outside its range; when
            called, shapes that differ, a last dimension that does not match ``num_dims``,
            non-floating input, bad ``weight``.

    Examples:
        >>> import torch
        >>> from losscraft import AdaptiveBarronLoss
        >>> loss = AdaptiveBarronLoss()
        >>> print(f"{loss.alpha.item():.3f} {loss.scale.item():.3f}")
        1.000 1.000
        >>> nll = loss(torch.tensor([0.0, 1.0, 10.0]), torch.zeros(3))
        >>> f_mean = nll - loss.log_partition() - loss.scale.log()  # charbonnier, averaged
        >>> print(f"{f_mean.item():.4f}")
        3.1547

    References:
        Barron (2019), *A General and Adaptive Robust Loss Function*, CVPR, Section 3.
    """

    def __init__(
        self,
        num_dims: int = 1,
        *,
        alpha_lo: float = 0.001,
        alpha_hi: float = 1.999,
        alpha_init: float | None = None,
        scale_lo: float = 1e-5,
        scale_init: float = 1.0,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__()
        name = type(self).__name__

        def bad(arg: str, rule: str, value: Any) -> LosscraftError:
            return LosscraftError(f"{name}: '{arg}' must be {rule}, got {value!r}")

        def real(x: Any) -> bool:
            return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)

        if isinstance(num_dims, bool) or not isinstance(num_dims, int) or num_dims < 1:
            raise bad("num_dims", "an int >= 1", num_dims)
        if not real(alpha_lo) or not 0.0 <= alpha_lo <= 2.0:
            raise bad("alpha_lo", "a float in [0, 2]", alpha_lo)
        if not real(alpha_hi) or not alpha_lo <= alpha_hi <= 2.0:
            raise bad("alpha_hi", f"a float in [alpha_lo, 2] = [{alpha_lo:g}, 2]", alpha_hi)
        if alpha_init is None:
            alpha_init = 0.5 * (alpha_lo + alpha_hi)
        elif alpha_lo == alpha_hi:
            if not real(alpha_init) or alpha_init != alpha_lo:
                raise bad(
                    "alpha_init", f"None or alpha_lo = alpha_hi = {alpha_lo:g} (fixed alpha)", alpha_init
                )
        elif not real(alpha_init) or not alpha_lo < alpha_init < alpha_hi:
            raise bad(
                "alpha_init",
                f"None or a float in (alpha_lo, alpha_hi) = ({alpha_lo:g}, {alpha_hi:g})",
                alpha_init,
            )
        if not real(scale_lo) or not scale_lo > 0.0:
            raise bad("scale_lo", "a float in (0, inf)", scale_lo)
        if not real(scale_init) or not scale_init >= scale_lo:
            raise bad("scale_init", f"a float in [scale_lo, inf) = [{scale_lo:g}, inf)", scale_init)
        if not isinstance(reduction, str) or reduction not in ("mean", "sum", "none"):
            raise bad("reduction", "one of 'mean', 'sum', 'none'", reduction)

        self.num_dims = num_dims
        self.alpha_lo = float(alpha_lo)
        self.alpha_hi = float(alpha_hi)
        self.alpha_init = float(alpha_init)
        self.scale_lo = float(scale_lo)
        self.scale_init = float(scale_init)
        self.reduction = reduction
        self.latent_alpha: Tensor | None
        self.latent_scale: Tensor | None
        if self.alpha_lo < self.alpha_hi:
            u = (self.alpha_init - self.alpha_lo) / (self.alpha_hi - self.alpha_lo)
            self.latent_alpha = nn.Parameter(torch.full((num_dims,), math.log(u / (1.0 - u))))
        else:
            self.register_parameter("latent_alpha", None)
        if self.scale_init > self.scale_lo:
            self.latent_scale = nn.Parameter(
                torch.full((num_dims,), _inv_softplus(self.scale_init - self.scale_lo))
            )
        else:
            self.register_parameter("latent_scale", None)

    def _dtype(self) -> torch.dtype:
        for p in (self.latent_alpha, self.latent_scale):
            if p is not None:
                return p.dtype
        return torch.get_default_dtype()

    def _device(self) -> torch.device:
        for p in (self.latent_alpha, self.latent_scale):
            if p is not None:
                return p.device
        return torch.device("cpu")

    @property
    def alpha(self) -> Tensor:
        r"""Current shape $\alpha$, shape ``(num_dims,)``, differentiable w.r.t. the latent."""
        if self.latent_alpha is None:
            return torch.full((self.num_dims,), self.alpha_lo, dtype=self._dtype(), device=self._device())
        return self.alpha_lo + (self.alpha_hi - self.alpha_lo) * torch.sigmoid(self.latent_alpha)

    @property
    def scale(self) -> Tensor:
        """Current scale $c$, shape ``(num_dims,)``, differentiable w.r.t. the latent."""
        if self.latent_scale is None:
            return torch.full((self.num_dims,), self.scale_lo, dtype=self._dtype(), device=self._device())
        return self.scale_lo + F.softplus(self.latent_scale)

    def log_partition(self) -> Tensor:
        r"""$\log Z(\alpha)$ at the current $\alpha$, shape ``(num_dims,)``."""
        return log_partition(self.alpha)

    def forward(self, input: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        """Negative log-likelihood of the residuals ``input - target``, reduced."""
        fn = type(self).__name__
        check_floating(fn, "input", input)
        check_floating(fn, "target", target)
        check_same_shape(fn, input, target)
        if self.num_dims > 1 and (input.dim() == 0 or input.shape[-1] != self.num_dims):
            raise LosscraftError(
                f"{fn}: 'input' must have a last dimension of size num_dims={self.num_dims}, "
                f"got shape {fmt_shape(input)}"
            )
        alpha, scale = self.alpha, self.scale
        dt = compute_dtype(input, target, alpha)
        alpha = alpha.to(device=input.device, dtype=dt)
        scale = scale.to(device=input.device, dtype=dt)
        if self.num_dims == 1:
            alpha, scale = alpha[0], scale[0]
        r = to_compute(input, dt) - to_compute(target, dt)
        values = rho_tensor_alpha(r / scale, alpha) + torch.log(scale) + log_partition(alpha)
        check_weight(fn, weight, values.shape)
        return reduce(values, self.reduction, weight)

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments as plain data; ``losscraft.build(config)`` inverts it.

        The learned shape and scale are not configuration: they live in ``state_dict``.
        """
        return {
            "name": CONFIG_NAME,
            "num_dims": self.num_dims,
            "alpha_lo": self.alpha_lo,
            "alpha_hi": self.alpha_hi,
            "alpha_init": self.alpha_init,
            "scale_lo": self.scale_lo,
            "scale_init": self.scale_init,
            "reduction": self.reduction,
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> AdaptiveBarronLoss:
        """Inverse of :meth:`get_config` (the ``name`` key is optional and checked).

        Raises:
            LosscraftError: an unknown key (named, with the valid ones), another loss's
                ``name`` or a value the constructor rejects.
        """
        keys = (
            "name",
            "num_dims",
            "alpha_lo",
            "alpha_hi",
            "alpha_init",
            "scale_lo",
            "scale_init",
            "reduction",
        )
        cfg = check_config_keys("AdaptiveBarronLoss.from_config", config, optional=keys)
        name = cfg.pop("name", CONFIG_NAME)
        if name != CONFIG_NAME:
            raise LosscraftError(
                f"AdaptiveBarronLoss.from_config: config is for {name!r}, not {CONFIG_NAME!r}"
            )
        return cls(**cfg)

    def extra_repr(self) -> str:
        """Bounds, initial values and the reduction."""
        return (
            f"num_dims={self.num_dims}, alpha_lo={self.alpha_lo:g}, alpha_hi={self.alpha_hi:g}, "
            f"alpha_init={self.alpha_init:g}, scale_lo={self.scale_lo:g}, "
            f"scale_init={self.scale_init:g}, reduction={self.reduction!r}"
        )


CONFIG_NAME = "adaptive_barron"  # the name in its get_config(); not a registry entry
register_composite(CONFIG_NAME, AdaptiveBarronLoss.from_config)
