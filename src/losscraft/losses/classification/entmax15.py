"""1.5-entmax loss (Peters, Niculae & Martins 2019): the Fenchel-Young loss of 1.5-entmax."""

from __future__ import annotations

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
from ._common import gather_class, multiclass_curve_call, multiclass_sample, prepare_index_logits
from .multi_margin import ignore_index_param
from .sparse_activations import entmax15_threshold
from .sparsemax import FENCHEL_YOUNG_REF

SPEC = LossSpec(
    name="entmax15",
    family=Family.CLASSIFICATION,
    tasks=(Task.MULTICLASS,),
    input_kind=InputKind.LOGITS,
    target_kind=TargetKind.CLASS_INDEX,
    params=(ignore_index_param(),),
    # A Fenchel-Young loss: convex, C1 (gradient entmax15(z) - e_y is continuous), that
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
        r"\ell_i = \tfrac23 \sum_c p_{ic}^{3/2} + \tfrac43 - 2\big(\tfrac{z_{i y_i}}{2} - \tau_i\big),"
        r"\qquad p_i = \operatorname{entmax}_{1.5}(z_i) = \big(\tfrac{z_i}{2} - \tau_i\big)_+^2"
    ),
    summary=(
        "1.5-entmax loss (Peters et al. 2019): the Fenchel-Young loss of 1.5-entmax, "
        "zero once the target logit leads by 2."
    ),
    references=(
        Ref(
            "B. Peters, V. Niculae, A. F. T. Martins",
            "Sparse Sequence-to-Sequence Models",
            "ACL",
            2019,
            "https://arxiv.org/abs/1905.05702",
        ),
        FENCHEL_YOUNG_REF,
    ),
    sample=multiclass_sample,
    curve=Curve("logit", (-4.0, 4.0), multiclass_curve_call),
    none_shape="sample",
    ignore_index=True,
    when_to_use=(
        "Multi-class classification or sequence generation whose predicted distribution "
        "should be sparse but less abruptly than sparsemax (1.5-entmax sits between softmax "
        "and sparsemax): the sparse seq2seq models of Peters et al. An example whose target "
        "logit leads every other by 2 costs exactly 0."
    ),
    when_not_to_use=(
        "Not when every class needs a non-zero, calibrated probability (log-likelihood "
        "scoring, beam search that needs every continuation): use cross_entropy. When an exact "
        "Euclidean projection (and a margin of 1) is wanted, sparsemax is simpler and faster."
    ),
)


@register(SPEC, aliases=("entmax_1_5", "entmax15_fy"))
def entmax15_loss(
    input: Tensor,
    target: Tensor,
    *,
    ignore_index: int = -100,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""1.5-entmax loss (Peters et al. 2019): the Fenchel-Young loss of 1.5-entmax, zero once the target logit leads by 2.

    1.5-entmax maps logits to $p = (z/2 - \tau)_+^2$ on the simplex: sparse like sparsemax,
    smoother, and closer to softmax. Its loss is the Fenchel-Young loss of the Tsallis
    1.5-entropy, $\Omega(p) = \tfrac43 (\sum_c p_c^{3/2} - 1)$:
    $\ell = \Omega^*(z) + \Omega(e_y) - z_y$ (Blondel et al. 2020), convex, non-negative and
    exactly 0 when $\operatorname{entmax}_{1.5}(z) = e_y$, i.e. when $z_y \ge z_j + 2$ for
    every $j \ne y$. Written with the threshold $\tau$ (every term O(1) for logits of any
    size):

    $$\ell_i = \tfrac23 \sum_c p_{ic}^{3/2} + \tfrac43 - 2\big(\tfrac{z_{i y_i}}{2} - \tau_i\big),\qquad p_i = \operatorname{entmax}_{1.5}(z_i) = \big(\tfrac{z_i}{2} - \tau_i\big)_+^2$$

    the value of the ``entmax`` package's ``entmax15_loss``. $\tau$ is exact (the sort-based
    algorithm of Peters et al., see
    :mod:`losscraft.losses.classification.sparse_activations`, whose ``entmax15`` is the map
    itself). Reduced as described in *Reductions* (``docs/conventions.md``); ignored
    positions are excluded from the mean. The key is ``entmax15`` (the ``entmax`` package's
    name for it; ``entmax_1_5`` is an alias).

    **Gradient:** $\partial\ell_i/\partial z_i = \operatorname{entmax}_{1.5}(z_i) - e_{y_i}$
    (autograd through the closed form on the support): bounded by 1 per class, zero once the
    margin is met.

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
        >>> from losscraft.functional import entmax15_loss
        >>> z = torch.tensor([[1.0, 0.5, -1.0], [3.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
        >>> y = torch.tensor([0, 0, 2])
        >>> entmax15_loss(z, y, reduction="none")
        tensor([0.1844, 0.0000, 0.5635])

    References:
        B. Peters, V. Niculae, A. F. T. Martins (2019). Sparse Sequence-to-Sequence Models. ACL.
            https://arxiv.org/abs/1905.05702
        M. Blondel, A. F. T. Martins, V. Niculae (2020). Learning with Fenchel-Young Losses.
            Journal of Machine Learning Research 21(35). https://jmlr.org/papers/v21/19-021.html
    """
    fn = "entmax15_loss"
    check_params(SPEC, {"ignore_index": ignore_index, "reduction": reduction})
    x, t_safe, mask = prepare_index_logits(fn, input, target, ignore_index)
    check_weight(fn, weight, t_safe.shape)
    # hs = (z - max z) / 2 (max detached), tau its threshold: entmax15(z) = (hs - tau)_+^2.
    tau, hs = entmax15_threshold(x, dim=1)
    r = (hs - tau).clamp_min(0.0)  # sqrt(p)
    # <z, p> = 2 tau + 2 sum p^{3/2} on the simplex, so Omega*(z) - z_y needs no large numbers.
    values = (
        (2.0 / 3.0) * (r * r * r).sum(dim=1) + 4.0 / 3.0 - 2.0 * (gather_class(hs, t_safe) - tau.squeeze(1))
    )
    return reduce(values, reduction, weight, mask)


class Entmax15Loss(LossModule, spec=SPEC, fn=entmax15_loss):
    """Module form of :func:`losscraft.functional.entmax15_loss`."""

    def __init__(self, *, ignore_index: int = -100, reduction: Reduction = "mean") -> None:
        super().__init__(ignore_index=ignore_index, reduction=reduction)
