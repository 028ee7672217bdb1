"""Lovász-softmax loss: the Lovász extension of the per-class Jaccard loss (Berman et al. 2018)."""

from __future__ import annotations

import torch
from torch import Tensor

from ..._core.checks import check_floating, check_params, compute_dtype, to_compute
from ..._core.distributed import current_context, gather_batch, value_is_global
from ..._core.errors import LosscraftError
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
from ..._core.spec import (
    Call,
    Choice,
    Curve,
    Family,
    InputKind,
    LossSpec,
    Param,
    Property,
    TargetKind,
    Task,
)
from ._common import check_multiclass, overlap_params, overlap_sample
from .lovasz_hinge import BERMAN, LOVASZ_NONE_SHAPE
from .lovasz_kernel import lovasz_extension

_BASE = overlap_params()  # mode, smooth, ignore_index, aggregate


def _sample(n: int, *, generator: torch.Generator, dtype: torch.dtype, **_: object) -> Call:
    """``(n, 3, 4, 5)`` standard normal logits and an ``(n, 4, 5)`` class-index target."""
    return overlap_sample(n, generator=generator, dtype=dtype, mode="multiclass")


def _check_curve(aggregate: object) -> None:
    if aggregate != "sample":
        raise LosscraftError(
            "lovasz_softmax_loss: the logit curves need one value per image, aggregate='sample', "
            f"got aggregate={aggregate!r}"
        )


def _curve(x: Tensor, aggregate: object = "sample", **_: object) -> Call:
    """One-pixel images, logits ``[x, 0]``, class 0: the loss is ``1 - sigmoid(x)``."""
    _check_curve(aggregate)
    x = x.reshape(-1)
    logits = torch.stack([x, torch.zeros_like(x)], dim=1)  # (G, 2): N = G images, no spatial dims
    return Call((logits, torch.zeros(x.shape[0], dtype=torch.long)))


def _curve_two_pixels(x: Tensor, aggregate: object = "sample", **_: object) -> Call:
    """Two-pixel images: pixel 0 of class 0 with logits ``[x, 0]``, pixel 1 of class 1 at ``[0, 0]``.

    The sort order of the two pixels' errors flips at ``x = 0``: a kink of the Lovász
    extension.
    """
    _check_curve(aggregate)
    x = x.reshape(-1)
    z = torch.zeros_like(x)
    logits = torch.stack([torch.stack([x, z], dim=1), torch.stack([z, z], dim=1)], dim=2)  # (G, 2, 2)
    target = torch.tensor([0, 1]).expand(x.shape[0], 2)
    return Call((logits, target))


SPEC = LossSpec(
    name="lovasz_softmax",
    batch_coupling="sort",
    family=Family.SEGMENTATION,
    tasks=(Task.SEGMENTATION, Task.MULTICLASS),
    input_kind=InputKind.LOGITS,
    target_kind=TargetKind.CLASS_INDEX,
    params=(
        Param(
            "classes",
            "present",
            Choice(("present", "all")),
            "'present': average over the classes present in the target (reference default); "
            "'all': every class, an absent one costs its largest predicted probability",
        ),
        _BASE[2],  # ignore_index
        _BASE[3],  # aggregate
    ),
    # At the defaults along the one-pixel curve: 1 - sigmoid(x) (smooth, not convex); along
    # the two-pixel curve the sort order flips at x = 0, a kink: piecewise smooth, not C1.
    # Both bounded, nonnegative, never 0 at the centre.
    properties=frozenset(
        {
            Property.NONNEGATIVE,
            Property.BOUNDED_GRADIENT,
            Property.NEEDS_LOGITS,
            Property.OVERLAP_METRIC,
            Property.HANDLES_IMBALANCE,
        }
    ),
    formula=(
        r"\ell_n = \frac{1}{|\mathcal{C}_n|}\sum_{c \in \mathcal{C}_n}\sum_{k=1}^{P} "
        r"m_{\pi_k}(c)\,\Bigl(\Delta_{J_c}(\{\pi_1, \dots, \pi_k\}) "
        r"- \Delta_{J_c}(\{\pi_1, \dots, \pi_{k-1}\})\Bigr),\qquad m_i(c) = \bigl|[y_i = c] - p_{i,c}\bigr|"
    ),
    summary="Lovász-softmax loss on logits: a surrogate of each class's Jaccard loss (1 - IoU), per image.",
    references=(BERMAN,),
    sample=_sample,
    curve=Curve("logit", (-6.0, 6.0), _curve, label="one pixel"),
    more_curves=(Curve("logit", (-6.0, 6.0), _curve_two_pixels, label="two pixels of different classes"),),
    none_shape=LOVASZ_NONE_SHAPE,
    ignore_index=True,
    when_to_use=(
        "Multi-class semantic segmentation evaluated with mean IoU: optimises the Lovász "
        "extension of each class's Jaccard loss on the softmax errors. Often used to fine-tune "
        "a cross-entropy model, or summed with CE. Per-image (default here) for a per-image "
        "metric; aggregate='batch' (the reference's default) for a dataset-level mIoU. Costs a "
        "sort per image and class."
    ),
    when_not_to_use=(
        "Not for binary segmentation (lovasz_hinge), nor when the metric is Dice (dice) or "
        "per-pixel accuracy (cross_entropy). It sorts per image and class, the slowest of the "
        "segmentation losses: train with cross_entropy (plus dice) first and fine-tune with "
        "it, or add it to cross_entropy."
    ),
)


@register(SPEC)
def lovasz_softmax_loss(
    input: Tensor,
    target: Tensor,
    *,
    classes: str = "present",
    ignore_index: int | None = None,
    aggregate: str = "sample",
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Lovász-softmax loss on logits: a surrogate of each class's Jaccard loss (1 - IoU), per image.

    Use it for multi-class segmentation evaluated with (mean) IoU. For every class $c$ the
    Jaccard loss is a set function of the mispredicted pixels; its Lovász extension,
    evaluated at the softmax errors, is a tight piecewise-linear surrogate that can be
    optimised by gradient descent. The per-class losses are averaged, so small classes
    count as much as large ones.

    $$\ell_n = \frac{1}{|\mathcal{C}_n|}\sum_{c \in \mathcal{C}_n}\sum_{k=1}^{P} m_{\pi_k}(c)\,\Bigl(\Delta_{J_c}(\{\pi_1, \dots, \pi_k\}) - \Delta_{J_c}(\{\pi_1, \dots, \pi_{k-1}\})\Bigr),\qquad m_i(c) = \bigl|[y_i = c] - p_{i,c}\bigr|$$

    for image $n$, with $p = \operatorname{softmax}(z)$ over dim 1, $\pi$ the order of
    decreasing errors $m(c)$, $\Delta_{J_c}(M) = |M| / |G_c \cup M|$ the Jaccard loss of
    class $c$ ($G_c$ its pixels), and $\mathcal{C}_n$ the classes present in image $n$'s
    target (``classes="present"``) or all $C$ classes (``"all"``). A port of the reference
    code's ``lovasz_softmax`` (github.com/bermanmaxim/LovaszSoftmax), which takes probabilities: here the softmax is applied to the logits
    (and $1 - p$ is computed as $-\operatorname{expm1}(\log p)$). ``aggregate="sample"``
    (default, consistent with Dice, Jaccard and Lovász hinge) is the reference's
    ``per_image=True``; ``aggregate="batch"`` pools all pixels, the reference's default
    ``per_image=False``. Reduced as described in *Reductions* (``docs/conventions.md``):
    ``"mean"`` averages the per-image values.

    Edge cases: an image whose pixels are all ``ignore_index`` is 0 and is excluded from
    ``"mean"`` (the reference counts it as 0 in its per-image mean); gradients are zero and
    the result stays attached. With ``classes="all"`` an absent class contributes its
    largest predicted probability ($\Delta_J = 1$ for every non-empty set).

    **Gradient:** with respect to the probabilities it is piecewise constant,
    $\partial\ell/\partial p_{\pi_k, c} = \pm(\Delta_{J_c}(\{\pi_1..\pi_k\}) -
    \Delta_{J_c}(\{\pi_1..\pi_{k-1}\}))/|\mathcal{C}_n|$ ($-$ on class $c$'s own pixels),
    each in $[-1, 1]$, then through the softmax Jacobian: bounded, and continuous except
    where two errors swap order (ties are broken by position, a stable sort).

    Args:
        input: logits of shape ``(N, C, *)``. Floating point.
        target: integer class indices of shape ``(N, *)`` in ``[0, C)`` or ``ignore_index``.
        classes: ``"present"`` (default, as the reference) or ``"all"``.
        ignore_index: class-index value whose positions are removed. Default None (the
            reference's ``ignore=None``).
        aggregate: ``"sample"`` (default; one loss per image) or ``"batch"`` (one loss over
            all pixels of the batch).
        weight: optional non-negative per-image weights broadcastable to the unreduced shape.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``: ``(N,)``, or ``(1,)`` with
            ``aggregate="batch"``.

    Returns:
        A scalar, or the unreduced ``(N,)`` / ``(1,)`` tensor; float32 for float16/bfloat16
        inputs (computed in float32).

    Raises:
        LosscraftError: wrong shapes, non-floating input, a single channel (C = 1: use
            :func:`lovasz_hinge_loss`), non-integer or out-of-range class indices, bad
            ``classes``, ``ignore_index``, ``aggregate``, ``weight`` or ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import lovasz_softmax_loss
        >>> x = torch.tensor([[[2.0, 0.0, -1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 3.0]]])  # (1, C=3, 3)
        >>> lovasz_softmax_loss(x, torch.tensor([[0, 1, 2]]), reduction="none")
        tensor([0.2486])
        >>> lovasz_softmax_loss(x, torch.tensor([[0, 0, 2]]), classes="all", reduction="none")
        tensor([0.3954])

    References:
        M. Berman, A. Rannen Triki, M. B. Blaschko (2018). The Lovász-Softmax Loss: A Tractable
            Surrogate for the Optimization of the Intersection-Over-Union Measure in Neural
            Networks. CVPR 2018. https://arxiv.org/abs/1705.08790
    """
    fn = "lovasz_softmax_loss"
    check_floating(fn, "input", input)
    check_params(
        SPEC,
        {"classes": classes, "ignore_index": ignore_index, "aggregate": aggregate, "reduction": reduction},
    )
    n, c, npos = check_multiclass(
        fn,
        input,
        target,
        ignore_index,
        "for one foreground channel use lovasz_hinge_loss",
        "a softmax over the classes",
    )
    is_global = aggregate == "batch" and current_context() is not None
    if is_global:  # inside losscraft.distributed.global_batch: sort every rank's pixels
        (input, target), _ = gather_batch(fn, input, target, ratio=True)
        n = input.shape[0]
    dt = compute_dtype(input)
    x = to_compute(input, dt).reshape(n, c, npos)
    t = target.detach().reshape(n, 1, npos).long()
    valid = None
    if ignore_index is not None:
        valid = t != ignore_index
        t = torch.where(valid, t, torch.zeros_like(t))
        # An ignored pixel's logits (even NaN, ignored as in torch's cross_entropy) must not
        # reach the log-softmax, whose backward would turn their zero gradient into NaN.
        x = torch.where(valid, x, x.new_zeros(()))
    logp = torch.log_softmax(x, dim=1)
    # (N, C, P) boolean class indicator: the per-class errors and the sort are O(N·C·P) anyway.
    fg = t == torch.arange(c, device=t.device).reshape(1, c, 1)
    errors = torch.where(fg, -torch.expm1(logp), logp.exp())
    if valid is not None:
        valid = valid.expand(n, c, npos)
    if aggregate == "batch":

        def pool(u: Tensor) -> Tensor:
            return u.transpose(0, 1).reshape(1, c, n * npos)

        errors, fg = pool(errors), pool(fg)
        valid = None if valid is None else pool(valid)
    per_class = lovasz_extension(errors, fg, valid, hinge=False)  # (rows, C)
    if classes == "present":
        present = fg if valid is None else fg & valid
        sel = present.any(-1).to(dt)
    else:
        sel = torch.ones_like(per_class)
    loss = (per_class * sel).sum(-1) / sel.sum(-1).clamp_min(1.0)
    mask = None if valid is None else valid.any(-1).any(-1)
    check_weight(fn, weight, loss.shape)
    if is_global:  # the same full-batch value on every rank
        with value_is_global():
            return reduce(loss, reduction, weight, mask)
    return reduce(loss, reduction, weight, mask)


class LovaszSoftmaxLoss(LossModule, spec=SPEC, fn=lovasz_softmax_loss):
    """Module form of :func:`losscraft.functional.lovasz_softmax_loss`."""

    def __init__(
        self,
        *,
        classes: str = "present",
        ignore_index: int | None = None,
        aggregate: str = "sample",
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(classes=classes, ignore_index=ignore_index, aggregate=aggregate, reduction=reduction)
