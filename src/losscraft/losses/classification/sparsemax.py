"""Sparsemax loss (Martins & Astudillo 2016): the Fenchel-Young loss of sparsemax."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ..._core.checks import check_params
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
from ..._core.spec import (
    Curve,
    Family,
    InputKind,
    LossSpec,
    Property,
    Ref,
    TargetKind,
    Task,
)
from ._common import multiclass_curve_call, multiclass_sample, prepare_index_logits
from .multi_margin import ignore_index_param
from .sparse_activations import sparsemax_threshold

FENCHEL_YOUNG_REF = Ref(
    "M. Blondel, A. F. T. Martins, V. Niculae",
    "Learning with Fenchel-Young Losses",
    "Journal of Machine Learning Research 21(35)",
    2020,
    "https://jmlr.org/papers/v21/19-021.html",
)

SPEC = LossSpec(
    name="sparsemax",
    family=Family.CLASSIFICATION,
    tasks=(Task.MULTICLASS,),
    input_kind=InputKind.LOGITS,
    target_kind=TargetKind.CLASS_INDEX,
    params=(ignore_index_param(),),
    # A Fenchel-Young loss: convex, C1 (gradient sparsemax(z) - e_y is continuous), that
    # gradient bounded by 1 per class.
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
        r"\ell_i = \tfrac12 \lVert p_i \rVert^2 + \tfrac12 - (z_{i y_i} - \tau_i),\qquad "
        r"p_i = \operatorname{sparsemax}(z_i) = (z_i - \tau_i)_+"
    ),
    summary=(
        "Sparsemax loss (Martins & Astudillo 2016): the Fenchel-Young loss of sparsemax, "
        "zero once the target logit leads by 1."
    ),
    references=(
        Ref(
            "A. F. T. Martins, R. F. Astudillo",
            "From Softmax to Sparsemax: A Sparse Model of Attention and Multi-Label Classification",
            "ICML",
            2016,
            "https://arxiv.org/abs/1602.02068",
        ),
        FENCHEL_YOUNG_REF,
    ),
    sample=multiclass_sample,
    curve=Curve("logit", (-4.0, 4.0), multiclass_curve_call),
    none_shape="sample",
    ignore_index=True,
    when_to_use=(
        "Multi-class classification whose predicted distribution should be sparse "
        "(sparsemax(z) gives exact zeros: a short list of candidate classes, sparse attention "
        "heads), trained with its own loss so the prediction and the loss agree. It has a "
        "margin: an example whose target logit leads every other by 1 costs exactly 0."
    ),
    when_not_to_use=(
        "Not when every class needs a non-zero, calibrated probability (log-likelihood "
        "scoring, ensembling): use cross_entropy. For a smoother map with sparse outputs use "
        "entmax15; for a plain max-margin classifier without probabilities, multi_margin or "
        "crammer_singer."
    ),
)


@register(SPEC, aliases=("sparsemax_fy",))
def sparsemax_loss(
    input: Tensor,
    target: Tensor,
    *,
    ignore_index: int = -100,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Sparsemax loss (Martins & Astudillo 2016): the Fenchel-Young loss of sparsemax, zero once the target logit leads by 1.

    Sparsemax maps logits to the Euclidean projection onto the simplex,
    $p = (z - \tau)_+$, a distribution with exact zeros. Its loss is the Fenchel-Young loss
    of $\Omega(p) = \tfrac12\lVert p\rVert^2$: $\ell = \Omega^*(z) + \Omega(e_y) -
    z_y$ (Blondel et al. 2020), convex in $z$, non-negative, and exactly 0 when
    $\operatorname{sparsemax}(z) = e_y$, i.e. when $z_y \ge z_j + 1$ for every $j \ne y$
    (a margin, as in the hinge). Written with the threshold $\tau$ (which makes every term
    an O(1) number for logits of any size):

    $$\ell_i = \tfrac12 \lVert p_i \rVert^2 + \tfrac12 - (z_{i y_i} - \tau_i),\qquad p_i = \operatorname{sparsemax}(z_i) = (z_i - \tau_i)_+$$

    the same value as optax's ``sparsemax_loss`` and the ``entmax`` package's
    ``sparsemax_loss``. $\tau$ is exact (the sort-based algorithm of the paper, see
    :mod:`losscraft.losses.classification.sparse_activations`); ``sparsemax(z)`` itself is
    :func:`~losscraft.losses.classification.sparse_activations.sparsemax`. Reduced as
    described in *Reductions* (``docs/conventions.md``); ignored positions are excluded
    from the mean.

    **Gradient:** $\partial\ell_i/\partial z_i = \operatorname{sparsemax}(z_i) - e_{y_i}$
    (autograd through the closed form on the support gives exactly this, and the exact
    Hessian): bounded by 1 per class, zero once the margin is met.

    Args:
        input: logits of shape ``(N, C)`` or ``(N, C, d1, ...)`` (classes on dim 1), $C \ge 2$.
        target: class indices, integer tensor of shape ``(N,)`` / ``(N, d1, ...)``, values in
            ``[0, C)`` or ``ignore_index``.
        ignore_index: target value whose positions are skipped. Default -100.
        weight: optional non-negative per-position weights broadcastable to ``(N, d1, ...)``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per position, shape
            ``(N, d1, ...)``).

    Returns:
        A scalar, or a tensor of shape ``(N, d1, ...)`` for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: ``input`` not ``(N, C, ...)`` floating with $C \ge 2$; a class index
            outside ``[0, C)``; a target of the wrong shape or dtype; bad ``ignore_index``,
            ``weight`` or ``reduction``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import sparsemax_loss
        >>> z = torch.tensor([[1.0, 0.5, -1.0], [3.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
        >>> y = torch.tensor([0, 0, 2])
        >>> sparsemax_loss(z, y, reduction="none")
        tensor([0.0625, 0.0000, 0.3333])

    References:
        A. F. T. Martins, R. F. Astudillo (2016). From Softmax to Sparsemax: A Sparse Model of
            Attention and Multi-Label Classification. ICML. https://arxiv.org/abs/1602.02068
        M. Blondel, A. F. T. Martins, V. Niculae (2020). Learning with Fenchel-Young Losses.
            Journal of Machine Learning Research 21(35). https://jmlr.org/papers/v21/19-021.html
    """
    fn = "sparsemax_loss"
    check_params(SPEC, {"ignore_index": ignore_index, "reduction": reduction})
    x, t_safe, mask = prepare_index_logits(fn, input, target, ignore_index)
    check_weight(fn, weight, t_safe.shape)
    # zs = z - max z (detached), tau its threshold: sparsemax(z) = (zs - tau)_+.
    tau, zs = sparsemax_threshold(x, dim=1)
    p = (zs - tau).clamp_min(0.0)
    # <z, p> - |p|^2 / 2 = (|p|^2 + tau) - |p|^2 / 2 on the simplex: Omega*(z) written via tau.
    # The target's z as a one-hot product, not a gather: under torch.compile (inductor, torch
    # 2.13) the gather's gradient was dropped when the values met reduce's masked mean
    # (tests/contract/test_compile.py caught it); the product has no such path.
    onehot = F.one_hot(t_safe, zs.shape[1]).movedim(-1, 1).to(zs.dtype)
    values = 0.5 * (p * p).sum(dim=1) + 0.5 - ((zs * onehot).sum(dim=1) - tau.squeeze(1))
    return reduce(values, reduction, weight, mask)


class SparsemaxLoss(LossModule, spec=SPEC, fn=sparsemax_loss):
    """Module form of :func:`losscraft.functional.sparsemax_loss`."""

    def __init__(self, *, ignore_index: int = -100, reduction: Reduction = "mean") -> None:
        super().__init__(ignore_index=ignore_index, reduction=reduction)
