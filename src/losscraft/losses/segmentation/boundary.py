"""Boundary loss on signed distance maps (Kervadec et al.)."""

from __future__ import annotations

import torch
from torch import Tensor

from ..._core.checks import check_floating, check_params, compute_dtype, to_compute
from ..._core.errors import LosscraftError
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
from ..._core.spec import Call, Curve, Family, InputKind, LossSpec, Property, Ref, TargetKind, Task
from ._maps import (
    NONE_SHAPE,
    activate,
    check_map,
    exact_maps,
    mode_param,
    rect_labels,
    rect_masks,
    sample_logits,
)

_SPATIAL = (6, 7)
_CLASSES = 3


def _sample(
    n: int, *, generator: torch.Generator, dtype: torch.dtype, mode: str = "binary", **_: object
) -> Call:
    """Logits ``(n, C, 6, 7)`` and the signed distance maps of random rectangles (with interiors)."""
    c = 1 if mode == "binary" else _CLASSES
    x = sample_logits(n, c, _SPATIAL, generator, dtype)
    if mode == "multiclass":
        fg = torch.nn.functional.one_hot(rect_labels(n, c, _SPATIAL, generator), c).movedim(-1, 1).bool()
    else:
        fg = rect_masks(n, c, _SPATIAL, generator)
    return Call((x, exact_maps(fg, signed=True).to(dtype)))


def _curve(phi: float):  # type: ignore[no-untyped-def]
    def make(x: Tensor, mode: str = "binary", **_: object) -> Call:
        if mode != "binary":
            raise LosscraftError(
                f"boundary_loss: the logit curve is defined for mode='binary', got mode={mode!r}"
            )
        x = x.reshape(-1, 1, 1)  # G one-pixel images (N, 1, 1)
        return Call((x, torch.full_like(x, phi)))

    return make


SPEC = LossSpec(
    name="boundary",
    family=Family.SEGMENTATION,
    tasks=(Task.SEGMENTATION,),
    input_kind=InputKind.LOGITS,
    target_kind=TargetKind.REAL,  # the target's signed distance map
    params=(mode_param(),),
    # Along both curves (a pixel at signed distance +1 or -1, logit x): l = +-sigmoid(x): smooth,
    # |dl/dx| <= 1/4, not convex, and negative inside the object (the loss has no lower bound 0).
    properties=frozenset(
        {Property.SMOOTH, Property.BOUNDED_GRADIENT, Property.NEEDS_LOGITS, Property.HANDLES_IMBALANCE}
    ),
    formula=r"\ell_{n,c} = \frac{1}{|\Omega|} \sum_{i \in \Omega} p_{n,c,i}\, \phi_{n,c,i}",
    summary="Boundary loss on logits: the predicted probabilities weighted by the target's signed distance map.",
    references=(
        Ref(
            "H. Kervadec, J. Bouchtiba, C. Desrosiers, E. Granger, J. Dolz, I. Ben Ayed",
            "Boundary loss for highly unbalanced segmentation",
            "MIDL 2019; Medical Image Analysis 67 (2021)",
            2019,
            "https://arxiv.org/abs/1812.07032",
        ),
    ),
    sample=_sample,
    curve=Curve("logit", (-6.0, 6.0), _curve(1.0), label="background pixel at distance 1"),
    more_curves=(Curve("logit", (-6.0, 6.0), _curve(-1.0), label="object pixel one inside the border"),),
    none_shape=NONE_SHAPE,
    when_to_use=(
        "Highly unbalanced segmentation (small lesions, thin organs) where region losses give "
        "vanishing or noisy gradients: it penalises predicted foreground by its distance to the "
        "true boundary. Use it combined with a region loss, e.g. dice + alpha * boundary with "
        "alpha increased over training (a linear schedule as in the paper: "
        "losscraft.compose's LinearWarmup); compute the target's map once with "
        "losscraft.segmentation.signed_distance_map."
    ),
    when_not_to_use=(
        "Not alone: its minimum (everything inside the object predicted foreground) carries no "
        "region information and the value is negative, not a score; use dice (or "
        "generalized_dice for many classes) as the main term. Not when distance maps cannot be "
        "precomputed (on-the-fly augmentation that moves the mask must recompute them), and not "
        "when the metric is the Hausdorff distance itself (hausdorff_dt)."
    ),
)


@register(SPEC)
def boundary_loss(
    input: Tensor,
    target: Tensor,
    *,
    mode: str = "binary",
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Boundary loss on logits: the predicted probabilities weighted by the target's signed distance map.

    The boundary term of Kervadec et al.: an integral over the image of the probability
    times the target's signed distance, which (up to a constant) is the distance between the
    predicted and the true boundaries. Outside the object every predicted unit costs its
    distance to the object; inside, predicted foreground earns minus its depth. Used with a
    region loss: ``dice + alpha * boundary``, ``alpha`` scheduled up over training.

    $$\ell_{n,c} = \frac{1}{|\Omega|} \sum_{i \in \Omega} p_{n,c,i}\, \phi_{n,c,i}$$

    where $\Omega$ is the set of spatial positions, $p$ the predicted probability (sigmoid of
    the logit for ``"binary"``/``"multilabel"``, softmax over dim 1 for ``"multiclass"``) and
    $\phi$ the target's signed distance map (``target``): positive outside the object,
    $\le 0$ inside, as computed by :func:`losscraft.segmentation.signed_distance_map`
    (Kervadec et al.'s ``one_hot2dist``). The value can be negative (it is minimised, not
    zeroed, by the perfect prediction); an image and class with an all-zero map (no
    boundary) contributes 0. The paper applies it to the foreground classes only: pass a
    class ``weight`` with 0 for the background (``weight=torch.tensor([0.0, 1.0, 1.0])``).

    **Gradient:** $\partial \ell / \partial p_i = \phi_i / |\Omega|$, times the sigmoid/softmax
    Jacobian: bounded by the largest distance in the map. With respect to the map it is
    $p_i / |\Omega|$.

    Args:
        input: logits ``(N, C, *spatial)``: ``"binary"`` ``(N, 1, *spatial)``. Floating point.
        target: the target's signed distance map, the input's shape, floating point, finite.
        mode: ``"binary"`` (default), ``"multiclass"`` or ``"multilabel"``.
        weight: optional non-negative weights broadcastable to ``(N, C)``, e.g. a ``(C,)``
            class weight (``"mean"`` is then the weighted mean).
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (``(N, C)``, per image and class).

    Returns:
        A scalar or the ``(N, C)`` tensor; float32 for float16/bfloat16 inputs.

    Raises:
        LosscraftError: a bad layout for the mode (``C != 1`` in binary mode, ``C = 1`` in
            multiclass mode, no spatial dim), a map that is not floating, of another shape or
            not finite, bad ``mode``, ``weight`` or ``reduction``.

    Examples:
        >>> import torch, losscraft.functional as LF
        >>> from losscraft.segmentation import signed_distance_map
        >>> mask = torch.tensor([[[0.0, 1.0, 1.0, 1.0, 0.0, 0.0]]])  # (N=1, 1, 6)
        >>> phi = signed_distance_map(mask)  # [1, 0, -1, 0, 1, 2]
        >>> LF.boundary_loss(torch.tensor([[[-3.0, 2.0, 4.0, 2.0, -3.0, -5.0]]]), phi)
        tensor(-0.1456)

    References:
        H. Kervadec, J. Bouchtiba, C. Desrosiers, E. Granger, J. Dolz, I. Ben Ayed (2019). Boundary
            loss for highly unbalanced segmentation. MIDL 2019; Medical Image Analysis 67 (2021).
            https://arxiv.org/abs/1812.07032
    """
    fn = "boundary_loss"
    check_floating(fn, "input", input)
    check_params(SPEC, {"mode": mode, "reduction": reduction})
    p = activate(fn, input, mode)
    check_map(fn, "target", target, input, signed=True)
    dt = compute_dtype(input, target)  # a float64 map with float32 logits: computed in float64
    p, phi = to_compute(p, dt), to_compute(target, dt)
    loss = (p * phi).flatten(2).mean(-1)  # (N, C): the mean over the spatial positions
    check_weight(fn, weight, loss.shape)
    return reduce(loss, reduction, weight)


class BoundaryLoss(LossModule, spec=SPEC, fn=boundary_loss):
    """Module form of :func:`losscraft.functional.boundary_loss`."""

    def __init__(self, *, mode: str = "binary", reduction: Reduction = "mean") -> None:
        super().__init__(mode=mode, reduction=reduction)
