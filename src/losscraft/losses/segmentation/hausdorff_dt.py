"""Hausdorff distance-transform loss (Karimi & Salcudean)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from ..._core.checks import check_floating, check_params, compute_dtype, to_compute
from ..._core.errors import LosscraftError
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
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
from ._common import safe_pow
from ._maps import (
    NONE_SHAPE,
    activate,
    check_map,
    exact_maps,
    mask_target,
    mode_param,
    rect_labels,
    rect_masks,
    sample_logits,
)
from .distance_maps import distance_map

_SPATIAL = (5, 6)
_CLASSES = 3


def _sample(
    n: int,
    *,
    generator: torch.Generator,
    dtype: torch.dtype,
    mode: str = "binary",
    **_: object,
) -> Call:
    """Logits ``(n, C, 5, 6)``, rectangle masks, the target's map and the prediction's map."""
    c = 1 if mode == "binary" else _CLASSES
    x = sample_logits(n, c, _SPATIAL, generator, dtype)
    if mode == "multiclass":
        t = rect_labels(n, c, _SPATIAL, generator)
        fg = torch.nn.functional.one_hot(t, c).movedim(-1, 1).bool()
        pred = torch.softmax(x.double(), 1) > 0.5
    else:
        fg = rect_masks(n, c, _SPATIAL, generator)
        t = fg.to(dtype)
        pred = x > 0  # sigmoid(x) > 0.5
    return Call((x, t, exact_maps(fg, signed=False).to(dtype), exact_maps(pred, signed=False).to(dtype)))


def _curve(x: Tensor, mode: str = "binary", **_: object) -> Call:
    """One foreground pixel with logit ``x``, both its distances 1 (held fixed: maps are inputs)."""
    if mode != "binary":
        raise LosscraftError(
            f"hausdorff_dt_loss: the logit curve is defined for mode='binary', got mode={mode!r}"
        )
    x = x.reshape(-1, 1, 1)
    ones = torch.ones_like(x)
    return Call((x, ones, ones, ones))


SPEC = LossSpec(
    name="hausdorff_dt",
    family=Family.SEGMENTATION,
    tasks=(Task.SEGMENTATION,),
    input_kind=InputKind.LOGITS,
    target_kind=TargetKind.BINARY,  # default mode="binary"; "multiclass" takes class indices
    inputs=("input", "target", "target_distance", "input_distance"),
    params=(
        mode_param(),
        Param(
            "alpha",
            2.0,
            Interval(0.0, math.inf, low_closed=False),
            "exponent of the distances: larger values weigh errors far from the boundary more",
        ),
    ),
    # Along the curve (one foreground pixel, both distances 1, logit x): l = 2 (1 - sigmoid(x))^2:
    # in [0, 2], smooth, |dl/dx| <= 16/27 (at sigmoid(x) = 1/3), not convex, 0 only as x -> +inf.
    properties=frozenset(
        {Property.NONNEGATIVE, Property.SMOOTH, Property.BOUNDED_GRADIENT, Property.NEEDS_LOGITS}
    ),
    formula=(
        r"\ell_{n,c} = \frac{1}{|\Omega|} \sum_{i \in \Omega} (p_{n,c,i} - g_{n,c,i})^2 "
        r"\left(d^{G}_{n,c,i}{}^{\alpha} + d^{P}_{n,c,i}{}^{\alpha}\right)"
    ),
    summary="Hausdorff distance-transform loss on logits: squared errors weighted by distances to the boundaries.",
    references=(
        Ref(
            "D. Karimi, S. E. Salcudean",
            "Reducing the Hausdorff Distance in Medical Image Segmentation with Convolutional Neural Networks",
            "IEEE Transactions on Medical Imaging 39(2)",
            2019,
            "https://arxiv.org/abs/1904.10030",
        ),
    ),
    sample=_sample,
    curve=Curve("logit", (-6.0, 6.0), _curve, label="foreground pixel, distances 1"),
    none_shape=NONE_SHAPE,
    when_to_use=(
        "Segmentation evaluated with the Hausdorff distance (worst boundary error: organ "
        "contours in radiotherapy planning), to penalise errors far from the true boundary. "
        "Use it combined with a region loss, e.g. dice + lambda * hausdorff_dt with lambda "
        "scheduled, as in the paper; compute the target's map once with "
        "losscraft.segmentation.distance_map."
    ),
    when_not_to_use=(
        "Not alone from scratch: early predictions have meaningless maps; start with dice "
        "(or dice + cross_entropy). Not when the metric is overlap (dice, jaccard) or per-pixel "
        "accuracy (cross_entropy). Not in a fully compiled step without input_distance (the "
        "prediction's map is then computed on the CPU each call): pass the map, zeros for the "
        "one-sided form, or use the boundary loss (boundary), which needs only the target's map."
    ),
)


def _prediction_map_eager(p: Tensor) -> Tensor:
    """The distance map of the thresholded prediction (scipy, on the CPU)."""
    return distance_map(p.detach() > 0.5, dtype=p.dtype)


# never traced: a graph break under torch.compile (the scipy call reads the tensor on the host)
_prediction_map: Callable[[Tensor], Tensor] = torch.compiler.disable(_prediction_map_eager)  # type: ignore[no-untyped-call]


@register(SPEC)
def hausdorff_dt_loss(
    input: Tensor,
    target: Tensor,
    target_distance: Tensor,
    input_distance: Tensor | None = None,
    *,
    mode: str = "binary",
    alpha: float = 2.0,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Hausdorff distance-transform loss on logits: squared errors weighted by distances to the boundaries.

    The HD-DT loss of Karimi & Salcudean: each pixel's squared error is weighted by its
    distance to the true boundary and to the predicted one, so errors far from either
    boundary (the ones that make the Hausdorff distance large) dominate. Combine it with a
    region loss: ``dice + lambda * hausdorff_dt``.

    $$\ell_{n,c} = \frac{1}{|\Omega|} \sum_{i \in \Omega} (p_{n,c,i} - g_{n,c,i})^2 \left(d^{G}_{n,c,i}{}^{\alpha} + d^{P}_{n,c,i}{}^{\alpha}\right)$$

    where $\Omega$ is the set of spatial positions, $p$ the predicted probability (sigmoid for
    ``"binary"``/``"multilabel"``, softmax over dim 1 for ``"multiclass"``), $g$ the target
    mask, $d^G$ the target's distance map (``target_distance``) and $d^P$ the prediction's:
    both the unsigned distance to the boundary of :func:`losscraft.segmentation.distance_map`
    (0 for an empty or full mask), held constant in the gradient, as in the paper and MONAI.

    The prediction's map changes every step, and the loss stays torch-only: pass it as
    ``input_distance`` (e.g. ``distance_map(torch.sigmoid(x).detach())``; it is used as
    given, so a map computed from the detached prediction sends no gradient to the network),
    or leave it None and it is computed here from ``p > 0.5`` with
    scipy on the CPU (each probability channel thresholded, as MONAI does; a host transfer and
    a graph break under ``torch.compile``). An all-zero ``input_distance``
    (``torch.zeros_like(target_distance)``) gives the one-sided weighting by the target's map
    alone: no per-step map, compile-clean.
    Equal to MONAI's ``HausdorffDTLoss(sigmoid=True, include_background=True)`` (or
    ``softmax=True`` with one-hot targets), reduced per image and class; MONAI's
    ``include_background=False`` is a class ``weight`` with 0 for the background.

    **Gradient:** $\partial \ell / \partial p_i = 2 (p_i - g_i) (d^{G\,\alpha}_i +
    d^{P\,\alpha}_i) / |\Omega|$ times the sigmoid/softmax Jacobian (the maps are constants).

    Args:
        input: logits ``(N, C, *spatial)``: ``"binary"`` ``(N, 1, *spatial)``. Floating point.
        target: ``"binary"``/``"multilabel"``: the mask, the input's shape, values in [0, 1];
            ``"multiclass"``: class indices ``(N, *spatial)``.
        target_distance: the target's distance map ``(N, C, *spatial)``, finite, ``>= 0``.
        input_distance: the prediction's distance map (the input's shape, finite, ``>= 0``),
            or None (default) to compute it from the prediction with scipy; zeros: one-sided.
        mode: ``"binary"`` (default), ``"multiclass"`` or ``"multilabel"``.
        alpha: exponent $\alpha > 0$ of the distances. Default 2.0 (the paper, MONAI).
        weight: optional non-negative weights broadcastable to ``(N, C)``, e.g. a ``(C,)``
            class weight.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (``(N, C)``, per image and class).

    Returns:
        A scalar or the ``(N, C)`` tensor; float32 for float16/bfloat16 inputs.

    Raises:
        LosscraftError: a bad layout for the mode, a target outside [0, 1] or of the wrong
            shape, class indices out of range, a map that is not floating, of another shape,
            negative or not finite, bad ``mode``, ``alpha``, ``weight`` or ``reduction``.

    Examples:
        >>> import torch, losscraft.functional as LF
        >>> from losscraft.segmentation import distance_map
        >>> mask = torch.tensor([[[0.0, 1.0, 1.0, 1.0, 0.0, 0.0]]])  # (N=1, 1, 6)
        >>> x = torch.tensor([[[-3.0, 2.0, 4.0, -1.0, 1.0, -5.0]]])
        >>> LF.hausdorff_dt_loss(x, mask, distance_map(mask))
        tensor(0.3621)
        >>> LF.hausdorff_dt_loss(x, mask, distance_map(mask), torch.zeros(1, 1, 6))  # one-sided
        tensor(0.1811)

    References:
        D. Karimi, S. E. Salcudean (2019). Reducing the Hausdorff Distance in Medical Image
            Segmentation with Convolutional Neural Networks. IEEE Transactions on Medical Imaging
            39(2). https://arxiv.org/abs/1904.10030
    """
    fn = "hausdorff_dt_loss"
    check_floating(fn, "input", input)
    check_params(SPEC, {"mode": mode, "alpha": alpha, "reduction": reduction})
    p = activate(fn, input, mode)
    dt = compute_dtype(input, target_distance, input_distance)
    g = mask_target(fn, input, target, mode, dt)
    check_map(fn, "target_distance", target_distance, input, signed=False)
    if input_distance is not None:
        check_map(fn, "input_distance", input_distance, input, signed=False)
    p = to_compute(p, dt)
    # why safe_pow: d^alpha at d = 0 (an empty mask's map) has an infinite slope for alpha < 1
    dist = safe_pow(to_compute(target_distance, dt), alpha)
    d_p = _prediction_map(p) if input_distance is None else to_compute(input_distance, dt)
    # a map computed from the (detached) prediction carries no gradient to the network
    dist = dist + safe_pow(d_p, alpha)
    loss = ((p - g) ** 2 * dist).flatten(2).mean(-1)  # (N, C): the mean over the spatial positions
    check_weight(fn, weight, loss.shape)
    return reduce(loss, reduction, weight)


class HausdorffDTLoss(LossModule, spec=SPEC, fn=hausdorff_dt_loss):
    """Module form of :func:`losscraft.functional.hausdorff_dt_loss`.

    ``forward(input, target, target_distance, input_distance=None, *, weight=None)``.
    """

    def __init__(self, *, mode: str = "binary", alpha: float = 2.0, reduction: Reduction = "mean") -> None:
        super().__init__(mode=mode, alpha=alpha, reduction=reduction)
