r"""Large-vocabulary linear cross-entropy: ``cross_entropy(hidden @ weight.T + bias, target)``.

The output layer of a language model and its loss, computed together so that the
``(tokens, vocab)`` logits are never held in memory: tokens are processed in chunks inside a
custom :class:`torch.autograd.Function`, which lives with its chunk-size rule and its composed
reference formula in :mod:`.linear_cross_entropy_kernel` (the two strategies, the fall-backs).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..._core.checks import (
    check_class_index,
    check_floating,
    check_params,
    check_tensor,
    fmt_shape,
)
from ..._core.errors import LosscraftError
from ..._core.kernels import autograd_functions_unsupported
from ..._core.module import LossModule
from ..._core.reduction import Reduction, reduce
from ..._core.registry import register
from ..._core.sampling import randn
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
from .linear_cross_entropy_kernel import (
    CHUNK_FLOOR_BYTES,
    LCEConfig,
    default_chunk_size,
    linear_cross_entropy_chunked,
    linear_cross_entropy_composed,
)

__all__ = ["CHUNK_FLOOR_BYTES", "LinearCrossEntropyLoss", "default_chunk_size", "linear_cross_entropy_loss"]

FN = "linear_cross_entropy_loss"


def _sample(n: int, *, generator: torch.Generator, dtype: torch.dtype, **_: object) -> Call:
    """Hidden states ``(n, 3)``, a ``(5, 3)`` classifier and class indices ``(n,)`` in ``[0, 5)``.

    The first token's target is the last class (4), so a classifier with fewer rows is caught
    as an out-of-range class index. No token equals ``ignore_index``.
    """
    h = randn((n, 3), generator, torch.float64)
    w = randn((5, 3), generator, torch.float64)
    t = torch.randint(0, 5, (n,), generator=generator, dtype=torch.long)
    if n > 0:
        t[0] = 4
    return Call((h.to(dtype), w.to(dtype), t))


def _curve(x: Tensor, **_: object) -> Call:
    """The true-class logit direction: ``H = 1``, ``W = [[1], [0], [0]]``, target 0.

    The logits are then ``[x, 0, 0]``: the same slice as ``cross_entropy``'s curve, traced
    through ``hidden`` (the grid enters as the hidden state of each token).
    """
    w = torch.zeros((3, 1), dtype=x.dtype, device=x.device)
    w[0, 0] = 1.0
    return Call((x.unsqueeze(1), w, torch.zeros(x.shape[0], dtype=torch.long, device=x.device)))


SPEC = LossSpec(
    name="linear_cross_entropy",
    family=Family.CLASSIFICATION,
    tasks=(Task.MULTICLASS,),
    input_kind=InputKind.EMBEDDINGS,
    target_kind=TargetKind.CLASS_INDEX,
    inputs=("hidden", "weight", "target"),
    params=(
        Param(
            "ignore_index",
            -100,
            Interval(-math.inf, math.inf, integer=True),
            "target value whose tokens are skipped (loss 0, not counted in the mean)",
        ),
        Param(
            "label_smoothing",
            0.0,
            Interval(0.0, 1.0),
            "epsilon: the target becomes (1 - epsilon) one-hot + epsilon / V (torch's rule)",
        ),
        Param(
            "z_loss",
            0.0,
            Interval(0.0, math.inf),
            "lambda of PaLM's auxiliary z-loss lambda * lse^2 per token (lse = log sum exp logits)",
        ),
        Param(
            "chunk_size",
            None,
            Interval(1, math.inf, integer=True, optional=True),
            "tokens per chunk; None derives it from a memory budget (default_chunk_size)",
        ),
    ),
    properties=frozenset(
        {
            Property.NONNEGATIVE,
            Property.CONVEX,
            Property.SMOOTH,
            Property.BOUNDED_GRADIENT,
        }
    ),
    formula=(
        r"\ell_i = \operatorname{lse}(z_i) - (1 - \varepsilon)\, z_{i y_i} "
        r"- \frac{\varepsilon}{V}\sum_{c=1}^{V} z_{ic} + \lambda\, \operatorname{lse}(z_i)^2,\qquad "
        r"z_i = W h_i + b,\quad \operatorname{lse}(z) = \log\sum_c e^{z_c}"
    ),
    summary="Cross-entropy of a linear layer (LM head), in chunks, without materialising the logits.",
    references=(
        Ref(
            "E. Wijmans, B. Huval, A. Hertzberg, V. Koltun, P. Kraehenbuehl",
            "Cut Your Losses in Large-Vocabulary Language Models",
            "ICLR",
            2025,
            "https://arxiv.org/abs/2411.09009",
        ),
        Ref(
            "P.-L. Hsu, Y. Dai, V. Kothapalli, Q. Song, S. Tang, S. Zhu, S. Shimizu, S. Sahni, "
            "H. Ning, Y. Chen",
            "Liger Kernel: Efficient Triton Kernels for LLM Training (fused linear cross-entropy)",
            "arXiv:2410.10989",
            2024,
            "https://arxiv.org/abs/2410.10989",
        ),
        Ref(
            "A. Chowdhery et al.",
            "PaLM: Scaling Language Modeling with Pathways (z-loss, section 5)",
            "JMLR",
            2023,
            "https://arxiv.org/abs/2204.02311",
        ),
    ),
    sample=_sample,
    curve=Curve("logit", (-6.0, 6.0), _curve),
    none_shape="sample",
    weight="none",
    call_inputs=("bias",),
    ignore_index=True,
    when_to_use=(
        "Training language models (or any classifier with a very large number of classes) when "
        "the tokens x vocabulary logits dominate memory: pass the last hidden states and the "
        "output-layer weight instead of the logits. Same value and gradients as "
        "cross_entropy(hidden @ weight.T + bias, target)."
    ),
    when_not_to_use=(
        "Not when the logits fit comfortably in memory (small vocabularies, ordinary "
        "classifiers): cross_entropy is simpler and gives the same value and gradients. Not "
        "when you need per-sample weights, probability targets or the logits themselves "
        "(sampling, distillation): it never materialises them, so use cross_entropy or kl_div "
        "on explicit logits."
    ),
)


@register(SPEC, aliases=("linear_ce", "fused_linear_cross_entropy"))
def linear_cross_entropy_loss(
    hidden: Tensor,
    weight: Tensor,
    target: Tensor,
    *,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    z_loss: float = 0.0,
    chunk_size: int | None = None,
    bias: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Cross-entropy of a linear layer (LM head), in chunks, without materialising the logits.

    For the output layer of a language model: ``hidden`` holds the last hidden states and
    ``weight`` the ``(V, H)`` output embedding. The ``(tokens, V)`` logits are never
    materialised: tokens are processed ``chunk_size`` at a time and the gradients for
    ``hidden``, ``weight`` and ``bias`` are accumulated chunk by chunk (see the module
    docstring), so memory is about the weight gradient plus one chunk of logits instead of
    three full logits tensors. Value and gradients equal
    ``torch.nn.functional.cross_entropy(hidden @ weight.T + bias, target, ignore_index=...,
    label_smoothing=...)`` (plus the z-loss term) for every chunk size, up to floating-point
    rounding; empty and all-ignored batches give 0 with zero gradients. Second-order
    gradients (``create_graph=True``, e.g. a gradient penalty) and ``torch.func`` transforms
    (``vmap``, ``grad``, ``jacrev``) use the composed formula on the materialised logits: exact,
    without the memory saving.

    $$\ell_i = \operatorname{lse}(z_i) - (1 - \varepsilon)\, z_{i y_i} - \frac{\varepsilon}{V}\sum_{c=1}^{V} z_{ic} + \lambda\, \operatorname{lse}(z_i)^2,\qquad z_i = W h_i + b,\quad \operatorname{lse}(z) = \log\sum_c e^{z_c}$$

    i.e. torch's label-smoothed cross-entropy
    $(1-\varepsilon)(-\log p_{i y_i}) + \varepsilon\,\frac1V\sum_c(-\log p_{ic})$ plus PaLM's
    z-loss $\lambda\,\operatorname{lse}^2$, which keeps the softmax normaliser near 1.
    ``"mean"`` divides the sum over non-ignored tokens by their number (the *global* count,
    whatever the chunking), ``"sum"`` adds them, ``"none"`` returns one value per token
    (0 where ignored).

    **Gradient:** with $p_i = \operatorname{softmax}(z_i)$ and
    $\delta_i = (1 + 2\lambda\operatorname{lse}(z_i))\,p_i - (1-\varepsilon)\,e_{y_i}
    - \varepsilon/V$: $\partial\ell_i/\partial h_i = W^\top\delta_i$,
    $\partial\ell_i/\partial W = \delta_i h_i^\top$, $\partial\ell_i/\partial b = \delta_i$;
    bounded in the logits for $\lambda = 0$, zero for ignored tokens.

    Chunk size: ``chunk_size=None`` takes as many tokens as fit a memory budget of
    ``max(32 MiB, V * H * s / 4)`` bytes of logits, ``s`` the compute element size
    (:func:`default_chunk_size`); pass an int to trade memory (``chunk x V x s`` bytes) for
    speed. The result does not depend on it beyond rounding.

    Precision: float16/bfloat16 inputs are computed in float32 (a float32 copy of ``weight``
    is made for the call) and the result is float32; gradients come back in each input's
    dtype.

    Args:
        hidden: hidden states of shape ``(N, H)`` or ``(*, H)`` (e.g. ``(B, T, H)``), floating.
        weight: classifier (output embedding) of shape ``(V, H)``, floating: the positional
            ``weight`` is the layer's weight, not a per-element loss weight.
        target: class indices of shape ``hidden.shape[:-1]``, an integer tensor with values in
            ``[0, V)`` or ``ignore_index``.
        ignore_index: target value whose tokens are skipped (loss 0, not counted in the mean,
            zero gradient). Default -100.
        label_smoothing: $\varepsilon \in [0, 1]$, torch's definition. Default 0.
        z_loss: $\lambda \ge 0$, weight of the z-loss $\lambda\,\operatorname{lse}^2$
            (PaLM used 1e-4). Default 0.
        chunk_size: tokens per chunk, an int $\ge 1$, or ``None`` for the memory-budget rule
            above. Default ``None``.
        bias: optional bias of shape ``(V,)`` (a call-time input like ``weight``, not a
            hyperparameter). Default ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (shape ``hidden.shape[:-1]``).

    Returns:
        A scalar, or one value per token for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: ``hidden`` not floating with a last (hidden) dimension; ``weight`` not
            ``(V, H)`` with ``V >= 2`` and the same ``H`` as ``hidden`` (the message gives both shapes);
            ``target`` not integer or not of shape ``hidden.shape[:-1]``; a class index outside
            ``[0, V)`` (the message names it); ``bias`` not ``(V,)``; bad ``ignore_index``,
            ``label_smoothing``, ``z_loss``, ``chunk_size`` or ``reduction``.

    Examples:
        >>> import torch, losscraft.functional as LF
        >>> h = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
        >>> w = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 1.0]])
        >>> y = torch.tensor([0, 1, -100])
        >>> LF.linear_cross_entropy_loss(h, w, y, reduction="none")
        tensor([0.4076, 0.7586, 0.0000])
        >>> LF.linear_cross_entropy_loss(h, w, y)  # == F.cross_entropy(h @ w.T, y)
        tensor(0.5831)
        >>> LF.linear_cross_entropy_loss(h, w, y, chunk_size=1, bias=torch.zeros(3))
        tensor(0.5831)

    References:
        E. Wijmans, B. Huval, A. Hertzberg, V. Koltun, P. Kraehenbuehl (2025). Cut Your Losses in
            Large-Vocabulary Language Models. ICLR. https://arxiv.org/abs/2411.09009
        P.-L. Hsu, Y. Dai, V. Kothapalli, Q. Song, S. Tang, S. Zhu, S. Shimizu, S. Sahni, H. Ning,
            Y. Chen (2024). Liger Kernel: Efficient Triton Kernels for LLM Training (fused linear
            cross-entropy). arXiv:2410.10989. https://arxiv.org/abs/2410.10989
        A. Chowdhery et al. (2023). PaLM: Scaling Language Modeling with Pathways (z-loss, section
            5). JMLR. https://arxiv.org/abs/2204.02311
    """
    check_params(
        SPEC,
        {
            "ignore_index": ignore_index,
            "label_smoothing": label_smoothing,
            "z_loss": z_loss,
            "chunk_size": chunk_size,
            "reduction": reduction,
        },
    )
    check_floating(FN, "hidden", hidden)
    check_floating(FN, "weight", weight)
    if hidden.dim() < 1:
        raise LosscraftError(f"{FN}: 'hidden' must have shape (N, H) or (*, H), got {fmt_shape(hidden)}")
    if weight.dim() != 2 or weight.shape[0] < 2:
        # V = 1: the softmax over one class is 1, the loss 0 with zero gradient (a silent no-op).
        hint = (
            "; for one logit per token use bce_with_logits_loss on hidden @ weight.T"
            if weight.dim() == 2
            else ""
        )
        raise LosscraftError(
            f"{FN}: 'weight' must have shape (V, H) with V >= 2 classes, got {fmt_shape(weight)}{hint}"
        )
    if weight.shape[1] != hidden.shape[-1]:
        raise LosscraftError(
            f"{FN}: 'hidden' and 'weight' must have the same last dimension (the hidden size H), got "
            f"hidden {fmt_shape(hidden)} and weight {fmt_shape(weight)}"
        )
    v = int(weight.shape[0])
    check_tensor(FN, "target", target)
    check_class_index(FN, "target", target, v, ignore_index)
    if tuple(target.shape) != tuple(hidden.shape[:-1]):
        raise LosscraftError(
            f"{FN}: 'target' must have shape hidden.shape[:-1] = {fmt_shape(hidden.shape[:-1])}, got "
            f"{fmt_shape(target)}"
        )
    if bias is not None:
        check_floating(FN, "bias", bias)
        if tuple(bias.shape) != (v,):
            raise LosscraftError(
                f"{FN}: 'bias' must have shape ({v},) (one value per class), got {fmt_shape(bias)}"
            )
    h2 = hidden.reshape(-1, hidden.shape[-1])
    t1 = target.reshape(-1).long()
    cfg = LCEConfig(int(ignore_index), float(label_smoothing), float(z_loss), chunk_size, reduction)
    if autograd_functions_unsupported():
        # vmap/grad/jacrev/jvp and forward-mode AD: the composed formula (the Function reads
        # values back to the host and has no setup_context, vmap or jvp).
        out = linear_cross_entropy_composed(h2, weight, bias, t1, cfg)
    else:
        out = linear_cross_entropy_chunked(h2, weight, bias, t1, cfg)
    if reduction == "none":
        # Through the reducer (ignored positions already hold 0): it reports the kept positions,
        # the mean's denominator, to wrappers such as Weighted. One pass over N values, not N x V.
        return reduce(out.reshape(target.shape), "none", mask=target != ignore_index)
    return out


class LinearCrossEntropyLoss(LossModule, spec=SPEC, fn=linear_cross_entropy_loss):
    """Module form of :func:`losscraft.functional.linear_cross_entropy_loss`.

    The Module holds the hyperparameters; ``hidden``, ``weight`` (e.g. ``lm_head.weight``) and
    ``target`` are call inputs, and so is the optional ``bias`` (a keyword:
    ``loss(hidden, lm_head.weight, target, bias=lm_head.bias)``).
    """

    def __init__(
        self,
        *,
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
        z_loss: float = 0.0,
        chunk_size: int | None = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            ignore_index=ignore_index,
            label_smoothing=label_smoothing,
            z_loss=z_loss,
            chunk_size=chunk_size,
            reduction=reduction,
        )

    def forward(  # type: ignore[override]
        self, hidden: Tensor, weight: Tensor, target: Tensor, *, bias: Tensor | None = None
    ) -> Tensor:
        """The loss of ``hidden @ weight.T + bias`` against ``target`` (see the function)."""
        return linear_cross_entropy_loss(hidden, weight, target, bias=bias, **self.hparams)
