"""Label-distribution-aware margin (LDAM) loss (Cao et al. 2019)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..._core.checks import FloatVector, as_tensor_param, check_params
from ..._core.module import LossModule
from ..._core.reduction import Reduction, reduce
from ..._core.registry import register
from ..._core.sampling import uniform
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
    Relation,
    Role,
    TargetKind,
    Task,
    TensorDomain,
)
from ._common import (
    class_vector,
    gather_class,
    multiclass_curve_call,
    multiclass_sample,
    prepare_index_logits,
    shift_to_max,
)

_WEIGHTS = torch.tensor([0.5, 1.0, 2.0, 4.0, 0.25], dtype=torch.float64)


def _class_param(hparams: dict[str, object]) -> str:
    return "class_counts" if hparams.get("class_counts") is not None else "weight"


def _sample(n: int, *, generator: torch.Generator, dtype: torch.dtype, **hparams: object) -> Call:
    """Cosine-like logits in [-1, 1] (LDAM expects a normalised classifier) and class indices."""
    c = multiclass_sample(n, generator=generator, dtype=dtype, class_param=_class_param(hparams), **hparams)
    x = uniform(tuple(c.args[0].shape), generator, dtype, -1.0, 1.0)
    return Call((x, c.args[1]))


def _curve(x: Tensor, **hparams: object) -> Call:
    return multiclass_curve_call(x, class_param=_class_param(hparams), **hparams)


SPEC = LossSpec(
    name="ldam",
    family=Family.CLASSIFICATION,
    tasks=(Task.MULTICLASS,),
    input_kind=InputKind.LOGITS,
    target_kind=TargetKind.CLASS_INDEX,
    params=(
        Param(
            "class_counts",
            None,
            TensorDomain(optional=True, positive=True),
            "training samples per class n_c of shape (C,), > 0: margins ~ n_c^(-1/4); "
            "None = the same margin for every class",
            role=Role.CLASS_COUNTS,
        ),
        Param("max_margin", 0.5, Interval(0.0, math.inf), "largest margin (of the rarest class)"),
        Param("scale", 30.0, Interval(0.0, math.inf, low_closed=False), "s: logits are multiplied by s"),
        Param(
            "weight",
            None,
            TensorDomain(optional=True),
            "per-class weight w_c of shape (C,) as in cross_entropy (DRW: class-balanced weights)",
            role=Role.CLASS_WEIGHTS,
        ),
        Param(
            "ignore_index",
            -100,
            Interval(-math.inf, math.inf, integer=True),
            "class-index target value that is skipped",
        ),
    ),
    properties=frozenset(
        {
            Property.NONNEGATIVE,
            Property.CONVEX,
            Property.SMOOTH,
            Property.BOUNDED_GRADIENT,
            Property.NEEDS_LOGITS,
            Property.HANDLES_IMBALANCE,
        }
    ),
    formula=(
        r"\ell_i = -w_{y_i} \log \frac{e^{s (z_{i y_i} - \Delta_{y_i})}}{e^{s (z_{i y_i} - \Delta_{y_i})} "
        r"+ \sum_{c \ne y_i} e^{s z_{ic}}},\qquad "
        r"\Delta_c = \Delta_{\max} \Big(\frac{\min_k n_k}{n_c}\Big)^{1/4}"
    ),
    summary=(
        "LDAM loss (Cao et al. 2019): cross-entropy on cosine logits with larger margins for rare classes."
    ),
    references=(
        Ref(
            "K. Cao, C. Wei, A. Gaidon, N. Arechiga, T. Ma",
            "Learning Imbalanced Datasets with Label-Distribution-Aware Margin Loss",
            "NeurIPS",
            2019,
            "https://arxiv.org/abs/1906.07413",
        ),
    ),
    sample=_sample,
    curve=Curve("logit", (-1.5, 1.5), _curve),
    relations=(
        Relation(
            "cross_entropy",
            params={"max_margin": 0.0, "scale": 1.0, "weight": _WEIGHTS},
            other_params={"weight": _WEIGHTS},
            note="no margin, no scaling: class-weighted cross-entropy",
        ),
    ),
    none_shape="sample",
    weight="class",
    ignore_index=True,
    when_to_use=(
        "Long-tailed classification with a deep net and a normalised (cosine) classifier: "
        "max_margin=0.5, scale=30, with deferred re-weighting (plain weights first, "
        "class-balanced weights for the last ~20% of epochs)."
    ),
    when_not_to_use=(
        "Not with a plain (unnormalised) linear classifier: its margins assume cosine logits "
        "scaled by s; use logit_adjusted, which needs no architecture change. Not for balanced "
        "data or a metric that follows the training distribution (cross_entropy)."
    ),
)


@register(SPEC, aliases=("ldam_drw", "label_distribution_aware_margin"))
def ldam_loss(
    input: Tensor,
    target: Tensor,
    *,
    class_counts: FloatVector | None = None,
    max_margin: float = 0.5,
    scale: float = 30.0,
    weight: FloatVector | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""LDAM loss (Cao et al. 2019): cross-entropy on cosine logits with larger margins for rare classes.

    The target logit is lowered by a margin $\Delta_y \propto n_y^{-1/4}$ before a scaled
    softmax cross-entropy, so rare classes must be separated by larger margins, which
    tightens their generalisation bound. Meant for long-tailed classification with a
    *normalised* classifier, whose logits $z$ are cosines in $[-1, 1]$ (hence the scale
    $s$); the official recipe adds deferred re-weighting (DRW): train with ``weight=None``,
    then switch to class-balanced ``weight`` for the last epochs (a new Module).

    $$\ell_i = -w_{y_i} \log \frac{e^{s (z_{i y_i} - \Delta_{y_i})}}{e^{s (z_{i y_i} - \Delta_{y_i})} + \sum_{c \ne y_i} e^{s z_{ic}}},\qquad \Delta_c = \Delta_{\max} \Big(\frac{\min_k n_k}{n_c}\Big)^{1/4}$$

    ($\Delta_c = \Delta_{\max}$ for every class when ``class_counts=None``; $w_c = 1$ when
    ``weight=None``). This is the official code's ``F.cross_entropy(s * (z - Δ_y onehot),
    weight=w)``. Reduced as described in *Reductions* (``docs/conventions.md``), with
    ``weight`` acting as :func:`cross_entropy_loss`'s class weight: ``"mean"`` is
    $\sum_i \ell_i / \sum_i w_{y_i}$ over non-ignored positions.

    **Gradient:** $\partial\ell_i/\partial z_{ic} = s\, w_{y_i} (\tilde p_{ic} -
    \mathbb 1[c = y_i])$ with $\tilde p_i$ the softmax of the scaled, margin-shifted logits:
    bounded by $s\,w_{y_i}$; zero at ignored positions.

    Args:
        input: logits $z$ of shape ``(N, C)`` or ``(N, C, d1, ...)`` (classes on dim 1),
            ideally cosine similarities in $[-1, 1]$.
        target: class indices, integer tensor of shape ``(N,)`` / ``(N, d1, ...)``, values in
            ``[0, C)`` or ``ignore_index``.
        class_counts: training samples per class $n_c$, shape ``(C,)`` (a tensor or a list), > 0,
            or ``None`` for equal margins. Default ``None``.
        max_margin: $\Delta_{\max} \ge 0$, the rarest class's margin. Default 0.5 (official
            code).
        scale: $s > 0$. Default 30.0 (official code).
        weight: per-class weight of shape ``(C,)`` (tensor or list), values $\ge 0$, like
            :func:`cross_entropy_loss`'s ``weight``. Default ``None``.
        ignore_index: target value whose positions are skipped. Default -100.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per position, shape
            ``(N, d1, ...)``).

    Returns:
        A scalar, or a tensor of shape ``(N, d1, ...)`` for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: ``input`` not ``(N, C, ...)`` floating; a class index outside
            ``[0, C)`` (the message names it); a target of the wrong shape or dtype;
            ``class_counts`` or ``weight`` not of shape ``(C,)``; a count $\le 0$ or a negative
            weight; ``max_margin < 0``; ``scale <= 0``; bad ``ignore_index`` or ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import ldam_loss
        >>> z = torch.tensor([[0.5, 0.1, -0.2], [0.1, 0.3, 0.2]])
        >>> y = torch.tensor([0, 2])
        >>> counts = torch.tensor([1000.0, 100.0, 10.0])
        >>> ldam_loss(z, y, class_counts=counts, reduction="none")
        tensor([7.0535e-04, 1.8002e+01])

    References:
        K. Cao, C. Wei, A. Gaidon, N. Arechiga, T. Ma (2019). Learning Imbalanced Datasets with
            Label-Distribution-Aware Margin Loss. NeurIPS. https://arxiv.org/abs/1906.07413
    """
    fn = "ldam_loss"
    class_counts = as_tensor_param(class_counts, input)  # a list or tuple: the same rule as the Module
    weight = as_tensor_param(weight, input)  # a list or tuple: the same rule as the Module
    check_params(
        SPEC,
        {
            "class_counts": class_counts,
            "max_margin": max_margin,
            "scale": scale,
            "weight": weight,
            "ignore_index": ignore_index,
            "reduction": reduction,
        },
    )
    x, t_safe, mask = prepare_index_logits(fn, input, target, ignore_index)
    num_classes = int(x.shape[1])
    counts = class_vector(fn, "class_counts", class_counts, x)
    w = class_vector(fn, "weight", weight, x)
    if counts is None:
        delta = x.new_full((num_classes,), float(max_margin))
    else:
        n = counts.reshape(-1)
        # max_margin * (n_min / n_c)^(1/4): the ratio is <= 1, nothing overflows.
        delta = max_margin * (n.min() / n).pow(0.25)
    # Subtract Delta_y from the target logit only; ignored positions use class 0 (masked).
    onehot = F.one_hot(t_safe, num_classes).movedim(-1, 1).to(x.dtype)
    margin = (delta[t_safe] * scale).unsqueeze(1) * onehot
    # Row maximum first (the softmax is shift invariant): a margin of O(s) subtracted from
    # s * 1e4 would lose ~0.03 to float32 rounding.
    logits = scale * shift_to_max(x) - margin
    values = -gather_class(F.log_softmax(logits, dim=1), t_safe)
    if w is None:
        return reduce(values, reduction, mask=mask)
    w_y = w.reshape(-1)[t_safe]
    # torch's class-weighted mean: sum_i w_y l_i / sum_i w_y over kept positions.
    return reduce(values * w_y, reduction, mask=mask, denominator=w_y)


class LDAMLoss(LossModule, spec=SPEC, fn=ldam_loss):
    """Module form of :func:`losscraft.functional.ldam_loss`."""

    def __init__(
        self,
        *,
        class_counts: FloatVector | None = None,
        max_margin: float = 0.5,
        scale: float = 30.0,
        weight: FloatVector | None = None,
        ignore_index: int = -100,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            class_counts=class_counts,
            max_margin=max_margin,
            scale=scale,
            weight=weight,
            ignore_index=ignore_index,
            reduction=reduction,
        )
