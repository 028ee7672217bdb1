"""Lovász hinge loss: a convex surrogate of the binary Jaccard loss (Berman et al. 2018)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..._core.checks import (
    check_floating,
    check_params,
    check_same_shape,
    check_tensor,
    check_values_in,
    compute_dtype,
    fmt_shape,
    to_compute,
    values_are_concrete,
)
from ..._core.distributed import current_context, gather_batch, value_is_global
from ..._core.errors import LosscraftError
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
from ..._core.spec import Curve, Family, InputKind, LossSpec, Property, Ref, TargetKind, Task
from ._common import make_curve, overlap_params, overlap_sample
from .lovasz_kernel import lovasz_extension

_BASE = overlap_params()  # mode, smooth, ignore_index, aggregate

BERMAN = Ref(
    "M. Berman, A. Rannen Triki, M. B. Blaschko",
    "The Lovász-Softmax Loss: A Tractable Surrogate for the Optimization of the "
    "Intersection-Over-Union Measure in Neural Networks",
    "CVPR 2018",
    2018,
    "https://arxiv.org/abs/1705.08790",
)

LOVASZ_NONE_SHAPE = "(N,) one value per image; (1,) with aggregate='batch'"

SPEC = LossSpec(
    name="lovasz_hinge",
    batch_coupling="sort",
    family=Family.SEGMENTATION,
    tasks=(Task.SEGMENTATION,),
    input_kind=InputKind.LOGITS,
    target_kind=TargetKind.BINARY,
    params=(_BASE[2], _BASE[3]),  # ignore_index, aggregate
    # At the defaults along the curve (one-pixel foreground images, logit x): relu(1 - x),
    # the hinge: convex, bounded gradient (0 or -1), kink at the margin x = 1 (not C1),
    # zero only beyond the margin (not at the curve's centre x = 0).
    properties=frozenset(
        {
            Property.NONNEGATIVE,
            Property.CONVEX,
            Property.BOUNDED_GRADIENT,
            Property.NEEDS_LOGITS,
            Property.OVERLAP_METRIC,
            Property.HANDLES_IMBALANCE,
        }
    ),
    formula=(
        r"\ell_n = \sum_{k=1}^{P} m_{\pi_k}\,\Bigl(\Delta_J(\{\pi_1, \dots, \pi_k\}) "
        r"- \Delta_J(\{\pi_1, \dots, \pi_{k-1}\})\Bigr),\qquad m_i = \max(0,\, 1 - z_i y_i),\quad "
        r"\Delta_J(M) = \frac{|M|}{|G \cup M|}"
    ),
    summary=(
        "Lovász hinge loss on binary logits: a convex surrogate of the Jaccard loss (1 - IoU), per image."
    ),
    references=(BERMAN,),
    sample=overlap_sample,  # mode="binary": (n, 1, 4, 5) logits, {0, 1} masks
    curve=Curve("logit", (-6.0, 6.0), make_curve("lovasz_hinge_loss"), label="foreground pixel"),
    none_shape=LOVASZ_NONE_SHAPE,
    ignore_index=True,
    when_to_use=(
        "Binary segmentation evaluated with IoU: optimises a tight convex surrogate of the "
        "Jaccard loss directly. Often used to fine-tune a model trained with BCE (or combined "
        "with it); per-image (default) when the metric is a per-image IoU, aggregate='batch' "
        "for a dataset IoU. Costs a sort per image."
    ),
    when_not_to_use=(
        "Not for multi-class segmentation (lovasz_softmax), nor when the metric is Dice (dice) "
        "or per-pixel accuracy (bce_with_logits). Its gradient is piecewise constant and it "
        "sorts every image: train with bce_with_logits (plus dice) first and fine-tune with "
        "it, or add it to bce_with_logits."
    ),
)


def _check_binary_labels(fn: str, input: Tensor, target: Tensor, ignore_index: int | None) -> None:
    """Same shape, ``(N, *)``; labels in {0, 1} (any real dtype) or ``ignore_index``.

    ``input`` must already be checked floating point (the loss does it first, before its
    hyperparameters).
    """
    check_tensor(fn, "target", target)
    if input.dim() < 1:
        raise LosscraftError(f"{fn}: 'input' must have shape (N, *), got {fmt_shape(input)}")
    if target.is_complex():
        raise LosscraftError(f"{fn}: 'target' must be a real tensor of {{0, 1}} labels, got {target.dtype}")
    check_same_shape(fn, input, target)
    if target.numel() == 0 or not values_are_concrete(target):
        return
    t = target.detach()
    if ignore_index is not None:
        t = t[t != ignore_index]
    allowed = "0 or 1" + (f" (or ignore_index={ignore_index})" if ignore_index is not None else "")
    check_values_in(fn, "target", t.to(torch.float64), (0.0, 1.0), allowed)


@register(SPEC, aliases=("lovasz_binary",))
def lovasz_hinge_loss(
    input: Tensor,
    target: Tensor,
    *,
    ignore_index: int | None = None,
    aggregate: str = "sample",
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Lovász hinge loss on binary logits: a convex surrogate of the Jaccard loss (1 - IoU), per image.

    Use it for binary segmentation evaluated with IoU. The Jaccard loss is a set function
    of the mispredicted pixels; its Lovász extension is the tightest convex, piecewise-linear
    interpolation of it, evaluated at the hinge errors. It optimises IoU directly, so it is
    insensitive to the background size; it is typically used to fine-tune (or alongside)
    BCE.

    $$\ell_n = \sum_{k=1}^{P} m_{\pi_k}\,\Bigl(\Delta_J(\{\pi_1, \dots, \pi_k\}) - \Delta_J(\{\pi_1, \dots, \pi_{k-1}\})\Bigr),\qquad m_i = \max(0,\, 1 - z_i y_i),\quad \Delta_J(M) = \frac{|M|}{|G \cup M|}$$

    for image $n$ with logits $z_i$, signs $y_i = 2 g_i - 1$ of the {0, 1} labels, foreground
    set $G$, and $\pi$ the order of decreasing errors $m$ ($\Delta_J(\emptyset) = 0$). This is
    a port of the reference code's ``lovasz_hinge`` (github.com/bermanmaxim/LovaszSoftmax; errors $1 - z_i y_i$ sorted, ``relu`` after the
    sort, ``lovasz_grad`` increments); ``aggregate="sample"`` is the reference's
    ``per_image=True`` (the default there too), ``aggregate="batch"`` pools all pixels of the
    batch into one image. Positions whose label is ``ignore_index`` are removed first, like
    the reference's ``ignore``. Reduced as described in *Reductions*
    (``docs/conventions.md``): ``"mean"`` averages the per-image values.

    Edge cases: an image without foreground has $\Delta_J(M) = 1$ for every non-empty $M$, so
    its loss is the largest hinge error $\max_i (1 + z_i)_+$ (a false positive keeps its
    gradient). An image whose pixels are all ignored is 0 and, unlike the reference (which
    counts it as 0 in the per-image mean), is excluded from ``"mean"``; gradients are zero
    and the result stays attached.

    **Gradient:** piecewise constant: $\partial\ell_n/\partial z_{\pi_k} = -y_{\pi_k}\,
    \bigl(\Delta_J(\{\pi_1..\pi_k\}) - \Delta_J(\{\pi_1..\pi_{k-1}\})\bigr)$ where
    $m_{\pi_k} > 0$, else 0; each entry lies in $[-1, 1]$. Ties are broken by position (a
    stable sort), so every dtype takes the same subgradient.

    Args:
        input: logits of shape ``(N, *)`` (e.g. ``(N, H, W)`` or ``(N, 1, H, W)``); every
            non-batch dimension is spatial. Floating point.
        target: labels of the same shape, values 0 or 1 (or ``ignore_index``); floating,
            integer or bool dtype.
        ignore_index: label value whose positions are removed. Default None (the reference's
            ``ignore=None``).
        aggregate: ``"sample"`` (default; one loss per image, the reference's
            ``per_image=True``) or ``"batch"`` (one loss over all pixels of the batch).
        weight: optional non-negative per-image weights broadcastable to the unreduced shape.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``: ``(N,)``, or ``(1,)`` with
            ``aggregate="batch"``.

    Returns:
        A scalar, or the unreduced ``(N,)`` / ``(1,)`` tensor; float32 for float16/bfloat16
        inputs (computed in float32).

    Raises:
        LosscraftError: shapes differ, non-floating input, labels other than 0/1 (or
            ``ignore_index``), bad ``ignore_index``, ``aggregate``, ``weight`` or ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import lovasz_hinge_loss
        >>> logits = torch.tensor([[3.0, -2.0, -1.0, 0.5], [1.0, 2.0, -3.0, 0.0]])
        >>> labels = torch.tensor([[1, 0, 0, 1], [0, 0, 0, 0]])
        >>> lovasz_hinge_loss(logits, labels, reduction="none")
        tensor([0.2500, 3.0000])

    References:
        M. Berman, A. Rannen Triki, M. B. Blaschko (2018). The Lovász-Softmax Loss: A Tractable
            Surrogate for the Optimization of the Intersection-Over-Union Measure in Neural
            Networks. CVPR 2018. https://arxiv.org/abs/1705.08790
    """
    fn = "lovasz_hinge_loss"
    check_floating(fn, "input", input)
    check_params(SPEC, {"ignore_index": ignore_index, "aggregate": aggregate, "reduction": reduction})
    _check_binary_labels(fn, input, target, ignore_index)
    is_global = aggregate == "batch" and current_context() is not None
    if is_global:  # inside losscraft.distributed.global_batch: sort every rank's pixels
        (input, target), _ = gather_batch(fn, input, target, ratio=True)
    dt = compute_dtype(input)
    n, npos = input.shape[0], math.prod(input.shape[1:])
    rows, cols = (1, n * npos) if aggregate == "batch" else (n, npos)
    z = to_compute(input, dt).reshape(rows, cols)
    t = target.detach().reshape(rows, cols)
    valid = None
    if ignore_index is not None:
        valid = t != ignore_index
        t = torch.where(valid, t, torch.zeros_like(t))
    fg = (t == 1).to(dt)
    errors = 1.0 - z * (2.0 * fg - 1.0)
    loss = lovasz_extension(errors, fg, valid, hinge=True)
    mask = None if valid is None else valid.any(-1)
    check_weight(fn, weight, loss.shape)
    if is_global:  # the same full-batch value on every rank
        with value_is_global():
            return reduce(loss, reduction, weight, mask)
    return reduce(loss, reduction, weight, mask)


class LovaszHingeLoss(LossModule, spec=SPEC, fn=lovasz_hinge_loss):
    """Module form of :func:`losscraft.functional.lovasz_hinge_loss`."""

    def __init__(
        self,
        *,
        ignore_index: int | None = None,
        aggregate: str = "sample",
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(ignore_index=ignore_index, aggregate=aggregate, reduction=reduction)
