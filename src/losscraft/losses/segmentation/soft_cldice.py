"""Soft clDice: a topology-preserving loss on soft skeletons (Shit et al.)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..._core.checks import check_floating, check_params, compute_dtype
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
from ._common import safe_ratio
from ._maps import NONE_SHAPE, activate, mask_target, mode_param, rect_labels, sample_logits

_SPATIAL = (6, 7)
_CLASSES = 3


def soft_erode(img: Tensor) -> Tensor:
    """Soft erosion of ``(N, C, H, W[, D])``: the minimum over the cross (plus-shaped) neighbourhood.

    The axis-wise minima of the original clDice code (min pooling as ``-max_pool(-x)``; the
    padding is ``-inf`` for max pooling, so the border sees only the pixels inside).
    """
    if img.dim() == 4:
        p1 = -F.max_pool2d(-img, (3, 1), (1, 1), (1, 0))
        p2 = -F.max_pool2d(-img, (1, 3), (1, 1), (0, 1))
        return torch.minimum(p1, p2)
    p1 = -F.max_pool3d(-img, (3, 1, 1), (1, 1, 1), (1, 0, 0))
    p2 = -F.max_pool3d(-img, (1, 3, 1), (1, 1, 1), (0, 1, 0))
    p3 = -F.max_pool3d(-img, (1, 1, 3), (1, 1, 1), (0, 0, 1))
    return torch.minimum(torch.minimum(p1, p2), p3)


def soft_dilate(img: Tensor) -> Tensor:
    """Soft dilation: the maximum over the 3x3 (3x3x3) neighbourhood."""
    if img.dim() == 4:
        return F.max_pool2d(img, (3, 3), (1, 1), (1, 1))
    return F.max_pool3d(img, (3, 3, 3), (1, 1, 1), (1, 1, 1))


def soft_skeleton(img: Tensor, iterations: int) -> Tensor:
    """Soft skeleton of probabilities ``(N, C, H, W[, D])`` (Shit et al., Algorithm 1).

    Iterated soft erosions; at each step the part that an opening removes is added to the
    skeleton. Torch-only (pooling, ``relu``), differentiable and ``torch.compile``-clean.
    """
    skel = F.relu(img - soft_dilate(soft_erode(img)))
    for _ in range(iterations):
        img = soft_erode(img)
        delta = F.relu(img - soft_dilate(soft_erode(img)))
        skel = skel + F.relu(delta - skel * delta)
    return skel


def _sample(
    n: int, *, generator: torch.Generator, dtype: torch.dtype, mode: str = "binary", **_: object
) -> Call:
    """Logits ``(n, C, 6, 7)`` and masks of random rectangles (class indices for multiclass)."""
    c = 1 if mode == "binary" else _CLASSES
    x = sample_logits(n, c, _SPATIAL, generator, dtype)
    t = rect_labels(n, 2 if mode != "multiclass" else c, _SPATIAL, generator)
    if mode == "multiclass":
        return Call((x, t))
    if mode == "multilabel":  # one rectangle per class, drawn independently
        t = torch.stack([rect_labels(n, 2, _SPATIAL, generator) for _ in range(c)], dim=1)
        return Call((x, t.to(dtype)))
    return Call((x, t[:, None].to(dtype)))


def _curve(x: Tensor, mode: str = "binary", **_: object) -> Call:
    """A one-pixel vessel: the centre of a 3x3 image is foreground, its logit ``x``; the rest -30."""
    if mode != "binary":
        raise LosscraftError(
            f"soft_cldice_loss: the logit curve is defined for mode='binary', got mode={mode!r}"
        )
    g = x.numel()
    base = torch.full((g, 1, 3, 3), -30.0, dtype=x.dtype)
    centre = torch.zeros((1, 1, 3, 3), dtype=x.dtype)
    centre[0, 0, 1, 1] = 1.0
    logits = base * (1 - centre) + x.reshape(-1, 1, 1, 1) * centre  # differentiable in x
    return Call((logits, centre.expand(g, 1, 3, 3).contiguous()))


SPEC = LossSpec(
    name="soft_cldice",
    family=Family.SEGMENTATION,
    tasks=(Task.SEGMENTATION,),
    input_kind=InputKind.LOGITS,
    target_kind=TargetKind.BINARY,  # default mode="binary"; "multiclass" takes class indices
    params=(
        mode_param(),
        Param(
            "iterations",
            3,
            Interval(0, math.inf, integer=True),
            "soft-erosion steps of the skeleton; at least the largest structure's half-width in pixels",
        ),
        Param(
            "smooth",
            1.0,
            Interval(0.0, math.inf),
            "additive smoothing of the topology precision and sensitivity (numerator and denominator)",
        ),
    ),
    # Along the curve (a one-pixel vessel whose logit is x): with p = sigmoid(x),
    # l = 1 - 2 (p + 1) / (p + 3) in (0, 1/3]: smooth, bounded slope, not convex, 0 only as x -> inf.
    properties=frozenset(
        {Property.NONNEGATIVE, Property.SMOOTH, Property.BOUNDED_GRADIENT, Property.NEEDS_LOGITS}
    ),
    formula=(
        r"\ell_{n,c} = 1 - \frac{2\, T_{prec} T_{sens}}{T_{prec} + T_{sens}},\quad "
        r"T_{prec} = \frac{\sum_i S(p)_i\, g_i + s}{\sum_i S(p)_i + s},\quad "
        r"T_{sens} = \frac{\sum_i S(g)_i\, p_i + s}{\sum_i S(g)_i + s}"
    ),
    summary="Soft clDice loss on logits: the Dice of soft skeletons against the masks, preserving thin structures.",
    references=(
        Ref(
            "S. Shit, J. C. Paetzold, A. Sekuboyina, I. Ezhov, A. Unger, A. Zhylka, J. P. W. Pluim, "
            "U. Bauer, B. H. Menze",
            "clDice - a Novel Topology-Preserving Loss Function for Tubular Structure Segmentation",
            "CVPR 2021",
            2021,
            "https://arxiv.org/abs/2003.07311",
        ),
    ),
    sample=_sample,
    curve=Curve("logit", (-6.0, 6.0), _curve, label="centre of a one-pixel vessel"),
    none_shape=NONE_SHAPE,
    when_to_use=(
        "Tubular and curvilinear structures (vessels, airways, neurons, roads, cracks) where "
        "connectivity matters more than volume: it scores the predicted skeleton inside the "
        "mask and the true skeleton inside the prediction. Use it combined with a region loss, "
        "e.g. (1 - alpha) * dice + alpha * soft_cldice (MONAI's SoftDiceclDiceLoss; the paper "
        "uses alpha up to 0.5), with iterations at least the vessels' largest radius in pixels."
    ),
    when_not_to_use=(
        "Not alone (the skeleton says nothing about thickness): add dice. Not for blob-like "
        "objects without thin parts, where it adds cost and no signal (dice, or boundary for "
        "tiny objects), nor when the metric is boundary distance (hausdorff_dt)."
    ),
)


@register(SPEC)
def soft_cldice_loss(
    input: Tensor,
    target: Tensor,
    *,
    mode: str = "binary",
    iterations: int = 3,
    smooth: float = 1.0,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Soft clDice loss on logits: the Dice of soft skeletons against the masks, preserving thin structures.

    clDice (Shit et al.) is the harmonic mean of the *topology precision* (how much of the
    predicted skeleton lies inside the true mask) and the *topology sensitivity* (how much of
    the true skeleton the prediction covers): a broken vessel loses sensitivity however few
    pixels the break costs. The soft skeleton $S$ comes from iterated min/max pooling
    (torch-only, differentiable, ``torch.compile``-clean). Combine it with Dice:
    ``(1 - alpha) * dice + alpha * soft_cldice``.

    $$\ell_{n,c} = 1 - \frac{2\, T_{prec} T_{sens}}{T_{prec} + T_{sens}},\quad T_{prec} = \frac{\sum_i S(p)_i\, g_i + s}{\sum_i S(p)_i + s},\quad T_{sens} = \frac{\sum_i S(g)_i\, p_i + s}{\sum_i S(g)_i + s}$$

    where $i$ runs over the spatial positions of image $n$ and class $c$, $p$ is the
    predicted probability (sigmoid for ``"binary"``/``"multilabel"``, softmax over dim 1 for
    ``"multiclass"``), $g$ the target mask (one-hot of the class indices in multiclass mode)
    and $s$ = ``smooth``. One value per image and class. MONAI's ``SoftclDiceLoss`` pools the
    channels of an image into one value (the same for one channel) and adds ``1e-4`` to the
    harmonic mean's denominator (``smooth``), so its loss of a perfect prediction is about
    5e-5; here it is 0. With ``smooth=0`` the ratios of an empty skeleton are 0 (so the loss is 1).

    **Gradient:** through $p$ in $T_{sens}$ and through the soft skeleton $S(p)$ in
    $T_{prec}$ (the pooling routes each gradient to the arg-min/arg-max pixel), times the
    sigmoid/softmax Jacobian; the target's skeleton is a constant.

    Args:
        input: logits ``(N, C, H, W)`` or ``(N, C, H, W, D)``: ``"binary"`` has ``C = 1``.
            Floating point.
        target: ``"binary"``/``"multilabel"``: masks of the input's shape, values in [0, 1];
            ``"multiclass"``: class indices ``(N, H, W[, D])``.
        mode: ``"binary"`` (default), ``"multiclass"`` or ``"multilabel"``.
        iterations: soft-erosion steps (MONAI's ``iter_``), at least the largest half-width of
            the structures in pixels. Default 3.
        smooth: $s \ge 0$ (MONAI's ``smooth_nr = smooth_dr``). Default 1.0.
        weight: optional non-negative weights broadcastable to ``(N, C)``, e.g. a ``(C,)``
            class weight (0 for the background).
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (``(N, C)``, per image and class).

    Returns:
        A scalar or the ``(N, C)`` tensor; float32 for float16/bfloat16 inputs.

    Raises:
        LosscraftError: a bad layout for the mode (two or three spatial dims), a target
            outside [0, 1] or of the wrong shape, class indices out of range, bad ``mode``,
            ``iterations``, ``smooth``, ``weight`` or ``reduction``.

    Examples:
        >>> import torch, losscraft.functional as LF
        >>> vessel = torch.zeros(1, 1, 5, 5)
        >>> vessel[0, 0, 2, :] = 1.0  # a horizontal line
        >>> broken = torch.where(vessel > 0, 6.0, -6.0)
        >>> broken[0, 0, 2, 2] = -6.0  # one pixel missing: the line is cut
        >>> LF.soft_cldice_loss(torch.where(vessel > 0, 6.0, -6.0), vessel) < LF.soft_cldice_loss(broken, vessel)
        tensor(True)

    References:
        S. Shit, J. C. Paetzold, A. Sekuboyina, I. Ezhov, A. Unger, A. Zhylka, J. P. W. Pluim, U. Bauer,
            B. H. Menze (2021). clDice - a Novel Topology-Preserving Loss Function for Tubular Structure
            Segmentation. CVPR 2021. https://arxiv.org/abs/2003.07311
    """
    fn = "soft_cldice_loss"
    check_floating(fn, "input", input)
    check_params(SPEC, {"mode": mode, "iterations": iterations, "smooth": smooth, "reduction": reduction})
    p = activate(fn, input, mode, spatial_dims=(2, 3))
    dt = compute_dtype(input) if mode == "multiclass" else compute_dtype(input, target)
    g = mask_target(fn, input, target, mode, dt)
    p = p.to(dt)
    skel_p = soft_skeleton(p, iterations)
    skel_g = soft_skeleton(g, iterations)
    # sums over the spatial positions of each image and class: (N, C)
    tprec = safe_ratio((skel_p * g).flatten(2).sum(-1) + smooth, skel_p.flatten(2).sum(-1) + smooth)
    tsens = safe_ratio((skel_g * p).flatten(2).sum(-1) + smooth, skel_g.flatten(2).sum(-1) + smooth)
    # 1 - harmonic mean; 0/0 (smooth = 0, both ratios 0) -> loss 1
    loss = 1.0 - safe_ratio(2.0 * tprec * tsens, tprec + tsens)
    check_weight(fn, weight, loss.shape)
    return reduce(loss, reduction, weight)


class SoftClDiceLoss(LossModule, spec=SPEC, fn=soft_cldice_loss):
    """Module form of :func:`losscraft.functional.soft_cldice_loss`."""

    def __init__(
        self, *, mode: str = "binary", iterations: int = 3, smooth: float = 1.0, reduction: Reduction = "mean"
    ) -> None:
        super().__init__(mode=mode, iterations=iterations, smooth=smooth, reduction=reduction)
