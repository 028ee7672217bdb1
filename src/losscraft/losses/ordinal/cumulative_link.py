"""Cumulative-link (proportional odds) negative log-likelihood for ordered classes (McCullagh 1980)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..._core.checks import (
    check_class_index,
    check_floating,
    check_params,
    check_same_shape,
    compute_dtype,
    to_compute,
)
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
from ..._core.sampling import randn, uniform
from ..._core.spec import (
    Call,
    Curve,
    Family,
    InputKind,
    Interval,
    LossSpec,
    Param,
    Property,
    Ref,
    TargetKind,
    Task,
)
from ._common import check_cutpoints, interval_nll

_SAMPLE_CUTPOINTS = 4  # 5 ordered classes in the samples
_CURVE_CUTPOINTS = (-1.0, 0.0, 1.0)
_CURVE_CLASS = 2  # the interval (0, 1): the curve is not symmetric about the score 0


def _sample(n: int, *, generator: torch.Generator, dtype: torch.dtype, **_: object) -> Call:
    """Scores ``(n,)``, classes ``(n,)`` in ``[0, 4]`` and 4 ordered cutpoints (gaps in [0.6, 1.4]).

    The first sample is in the top class, so that every cutpoint is needed by the batch.
    """
    f = randn((n,), generator, torch.float64) * 1.5
    gaps = uniform((_SAMPLE_CUTPOINTS,), generator, torch.float64, 0.6, 1.4)
    cut = torch.cumsum(gaps, 0)
    cut = cut - cut.mean()
    t = torch.randint(0, _SAMPLE_CUTPOINTS + 1, (n,), generator=generator, dtype=torch.long)
    if n > 0:
        t[0] = _SAMPLE_CUTPOINTS
    return Call((f.to(dtype), t, cut.to(dtype)))


def _curve_call(x: Tensor, **_: object) -> Call:
    """Score ``x`` against class 2 of 4 with cutpoints ``(-1, 0, 1)``."""
    cut = torch.tensor(_CURVE_CUTPOINTS, dtype=x.dtype, device=x.device)
    return Call((x, torch.full(x.shape, _CURVE_CLASS, dtype=torch.long, device=x.device), cut))


MCCULLAGH_1980 = Ref(
    "P. McCullagh",
    "Regression Models for Ordinal Data",
    "Journal of the Royal Statistical Society B 42(2)",
    1980,
    "https://doi.org/10.1111/j.2517-6161.1980.tb01109.x",
)

SPEC = LossSpec(
    name="cumulative_link",
    family=Family.ORDINAL,
    tasks=(Task.ORDINAL,),
    input_kind=InputKind.LOGITS,
    target_kind=TargetKind.CLASS_INDEX,
    inputs=("input", "target", "cutpoints"),
    params=(
        Param(
            "ignore_index",
            -100,
            Interval(-math.inf, math.inf, integer=True),
            "class-index target value whose position is skipped",
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
        r"\ell_i = -\log\big[\sigma(\theta_{y_i} - f_i) - \sigma(\theta_{y_i - 1} - f_i)\big],\qquad "
        r"\theta_{-1} = -\infty,\ \theta_{K-1} = +\infty"
    ),
    summary=(
        "Cumulative-link (proportional odds) NLL: one score per sample and K-1 ordered cutpoints "
        "give the class probabilities."
    ),
    references=(MCCULLAGH_1980,),
    sample=_sample,
    curve=Curve("logit", (-6.0, 6.0), _curve_call, label="class 2 of 4, cutpoints (-1, 0, 1)"),
    ignore_index=True,
    when_not_to_use=(
        "Not when the proportional-odds assumption fails (the classes are not ordered along one "
        "latent scale, or the thresholds move differently with the features): use corn, whose K-1 "
        "conditional tasks are free, or cross_entropy if the order carries no information."
    ),
    when_to_use=(
        "Ordered classes when you want a full, calibrated distribution over the levels from one "
        "latent score (the ordinal logistic / proportional-odds model of statistics): the model "
        "outputs one value per sample and the K-1 cutpoints are learned with it "
        "(losscraft.ordinal.OrderedCutpoints keeps them ordered). The fewest parameters of the "
        "ordinal losses; the proportional-odds assumption is that one score moves every threshold."
    ),
)


@register(SPEC, aliases=("proportional_odds", "ordinal_logistic"))
def cumulative_link_loss(
    input: Tensor,
    target: Tensor,
    cutpoints: Tensor,
    *,
    ignore_index: int = -100,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Cumulative-link (proportional odds) NLL: one score per sample and K-1 ordered cutpoints give the class probabilities.

    The ordinal logistic regression of statistics, for a network: a latent score $f_i$ (the
    model's one output per sample) and ordered cutpoints
    $\theta_0 \le \dots \le \theta_{K-2}$ define $P(y_i \le k) = \sigma(\theta_k - f_i)$, so
    that a larger score moves probability towards the higher classes, and the loss is the
    negative log-likelihood of the observed class:

    $$\ell_i = -\log\big[\sigma(\theta_{y_i} - f_i) - \sigma(\theta_{y_i - 1} - f_i)\big],\qquad \theta_{-1} = -\infty,\ \theta_{K-1} = +\infty$$

    The cutpoints are an input, learned with the model and shared by every sample; keep them
    ordered by parameterising them, e.g. with :class:`losscraft.ordinal.OrderedCutpoints`
    (first cutpoint plus cumulative softplus increments). Computed in log space as
    $\log\sigma(\theta_{y} - f) + \log\sigma(f - \theta_{y-1}) + \log(1 - e^{-(\theta_y - \theta_{y-1})})$
    (an exact factorisation of the difference of sigmoids), finite for scores of any size.
    Two equal cutpoints leave the class between them probability 0: observing it costs
    ``inf``. Reduced as described in *Reductions* (``docs/conventions.md``). With 2 classes it
    is :func:`~losscraft.functional.bce_with_logits_loss` on the logit $f - \theta_0$. Class
    probabilities and predictions: :func:`losscraft.ordinal.cumulative_link_probabilities`,
    :func:`losscraft.ordinal.predict_cumulative_link`.

    **Gradient:** $\partial\ell_i/\partial f_i = 1 - \sigma(\theta_{y_i} - f_i) - \sigma(\theta_{y_i-1} - f_i)$,
    in $(-1, 1)$: bounded; the cutpoints get the opposite shares.

    Args:
        input: scores $f$ (on the logit scale), any shape, floating point.
        target: class indices $y$ in ``[0, K-1]`` (integer), same shape as ``input``, or
            ``ignore_index``.
        cutpoints: the $K-1 \ge 1$ thresholds $\theta$, shape ``(K-1,)``, finite and
            non-decreasing (validated), floating point; gradients flow to them.
        ignore_index: a target value whose position is skipped (left out of the mean). Default -100.
        weight: optional non-negative weights broadcastable to ``input``'s shape.
        reduction: ``"mean"`` (weighted mean), ``"sum"`` or ``"none"`` (``input``'s shape).

    Returns:
        A scalar, or a tensor of ``input``'s shape for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: non-floating ``input`` or ``cutpoints``, ``target`` not integer, of
            another shape than ``input`` or outside ``[0, K-1]``, ``cutpoints`` not of shape
            ``(K-1,)``, not finite or decreasing, bad ``weight`` or ``reduction``.

    Examples:
        >>> import torch, losscraft.functional as LF
        >>> f = torch.tensor([-2.0, 0.5, 3.0, 1e4])
        >>> cut = torch.tensor([-1.0, 0.0, 1.0])
        >>> LF.cumulative_link_loss(f, torch.tensor([0, 2, 3, 3]), cut, reduction="none")
        tensor([0.3133, 1.4068, 0.1269, 0.0000])

    References:
        P. McCullagh (1980). Regression Models for Ordinal Data. Journal of the Royal Statistical
            Society B 42(2). https://doi.org/10.1111/j.2517-6161.1980.tb01109.x
    """
    fn = "cumulative_link_loss"
    check_params(SPEC, {"ignore_index": ignore_index, "reduction": reduction})
    check_floating(fn, "input", input)
    num_cut = check_cutpoints(fn, cutpoints)
    check_same_shape(fn, input, target)
    check_class_index(fn, "target", target, num_cut + 1, ignore_index)
    dt = compute_dtype(input, cutpoints)
    f, c = to_compute(input, dt), to_compute(cutpoints, dt)
    t = target.long()
    mask = t != ignore_index
    # ignored positions read class 0: finite values, removed by the mask
    values = interval_nll(f, torch.where(mask, t, torch.zeros_like(t)), c)
    check_weight(fn, weight, values.shape)
    return reduce(values, reduction, weight, mask)


class CumulativeLinkLoss(LossModule, spec=SPEC, fn=cumulative_link_loss):
    """Module form of :func:`losscraft.functional.cumulative_link_loss` (called as ``loss(input, target, cutpoints)``)."""

    def __init__(self, *, ignore_index: int = -100, reduction: Reduction = "mean") -> None:
        super().__init__(ignore_index=ignore_index, reduction=reduction)
