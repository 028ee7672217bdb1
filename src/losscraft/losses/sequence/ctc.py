"""Connectionist temporal classification (Graves et al. 2006), on torch's CTC kernel."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from ..._core.checks import (
    check_floating,
    check_params,
    check_tensor,
    compute_dtype,
    fmt_shape,
    is_compiling,
    to_compute,
    values_are_concrete,
)
from ..._core.errors import LosscraftError
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
from ..._core.sampling import randn
from ..._core.spec import (
    Call,
    Choice,
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

_FN = "ctc_loss"
_DOUBLE_BACKWARD = (
    "torch's CTC kernel (aten::_ctc_loss_backward) has no derivative: the gradient of ctc_loss "
    "cannot itself be differentiated (create_graph=True, gradient penalties, Hessians)"
)

# samples: T frames, C classes (blank 0), padded targets of up to S labels; T >= 2 S + 1, so
# every target, repeats included, has an alignment
_T, _C, _S = 8, 5, 3


# --------------------------------------------------------------------------- the kernel
class _CTCGradient(torch.autograd.Function):
    """``d nll / d log_probs`` by torch's kernel, as a node whose own backward refuses clearly."""

    @staticmethod
    def forward(
        grad: Tensor,
        lp: Tensor,
        targets: Tensor,
        il: Tensor,
        tl: Tensor,
        nll: Tensor,
        log_alpha: Tensor,
        blank: int,
        zero_infinity: bool,
    ) -> Tensor:
        out: Tensor = torch.ops.aten._ctc_loss_backward.Tensor(
            grad, lp, targets, il, tl, nll, log_alpha, blank, zero_infinity
        )
        return out

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
        pass

    @staticmethod
    def backward(ctx: Any, *grads: Tensor) -> Any:
        raise LosscraftError(f"{_FN}: no double backward: {_DOUBLE_BACKWARD}")

    @staticmethod
    def vmap(info: Any, in_dims: tuple[int | None, ...], *args: Any) -> tuple[Tensor, int]:
        *tensors, blank, zero_infinity = args
        outs = []
        for b in range(info.batch_size):
            picked = [a if d is None else a.select(d, b) for a, d in zip(tensors, in_dims[:-2], strict=True)]
            outs.append(_CTCGradient.apply(*picked, blank, zero_infinity))  # type: ignore[no-untyped-call]
        return torch.stack(outs), 0


class _CTC(torch.autograd.Function):
    """Per-sample CTC negative log-likelihood ``(N,)`` of log-probabilities ``(T, N, C)``."""

    @staticmethod
    def forward(
        lp: Tensor, targets: Tensor, il: Tensor, tl: Tensor, blank: int, zero_infinity: bool
    ) -> tuple[Tensor, Tensor, Tensor]:
        nll, log_alpha = torch.ops.aten._ctc_loss.Tensor(lp, targets, il, tl, blank, zero_infinity)
        # zero_infinity: an infeasible alignment (nll = inf) costs 0 (the kernel zeroes its gradient)
        out = torch.where(torch.isinf(nll), torch.zeros_like(nll), nll) if zero_infinity else nll.clone()
        return out, nll, log_alpha

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: tuple[Tensor, Tensor, Tensor]) -> None:
        lp, targets, il, tl, blank, zero_infinity = inputs
        _, nll, log_alpha = output
        ctx.mark_non_differentiable(nll, log_alpha)
        ctx.save_for_backward(lp, targets, il, tl, nll, log_alpha)
        ctx.save_for_forward(lp, targets, il, tl, nll, log_alpha)
        ctx.blank, ctx.zero_infinity = blank, zero_infinity

    @staticmethod
    def backward(ctx: Any, grad: Tensor, *_: Tensor) -> tuple[Tensor | None, ...]:
        lp, targets, il, tl, nll, log_alpha = ctx.saved_tensors
        # why a Function: a second differentiation reaches its backward and gets a clear error
        g = _CTCGradient.apply(  # type: ignore[no-untyped-call]
            grad, lp, targets, il, tl, nll, log_alpha, ctx.blank, ctx.zero_infinity
        )
        return g, None, None, None, None, None

    @staticmethod
    def jvp(ctx: Any, lp_t: Tensor, *_: Any) -> tuple[Tensor, None, None]:
        lp, targets, il, tl, nll, log_alpha = ctx.saved_tensors
        ones = torch.ones_like(nll)
        g = torch.ops.aten._ctc_loss_backward.Tensor(
            ones, lp, targets, il, tl, nll, log_alpha, ctx.blank, ctx.zero_infinity
        )
        # why valid: the kernel's gradient is with respect to the logits of a log_softmax; it
        # differs from d nll / d log_probs by softmax * const per frame, which is orthogonal to
        # every tangent of normalised log-probabilities (their exp sums to 1 in every frame)
        return (g * lp_t).sum((0, 2)), None, None

    @staticmethod
    def vmap(info: Any, in_dims: tuple[int | None, ...], *args: Any) -> tuple[Any, ...]:
        *tensors, blank, zero_infinity = args
        outs = []
        for b in range(info.batch_size):
            # why a loop: torch's CTC has no batching rule (its fallback warns); one call per element
            picked = [a if d is None else a.select(d, b) for a, d in zip(tensors, in_dims[:4], strict=True)]
            outs.append(_CTC.apply(*picked, blank, zero_infinity))  # type: ignore[no-untyped-call]
        return tuple(torch.stack(parts) for parts in zip(*outs, strict=True)), (0, 0, 0)


# torch.compile's path: the same kernels as opaque custom ops. The backward recomputes the
# forward's log_alpha inside the op (its shape cannot leave a traced graph).
@torch.library.custom_op("losscraft::ctc_nll", mutates_args=())
def _ctc_nll_op(
    lp: Tensor, targets: Tensor, il: Tensor, tl: Tensor, blank: int, zero_infinity: bool
) -> Tensor:
    nll, _ = torch.ops.aten._ctc_loss.Tensor(lp, targets, il, tl, blank, zero_infinity)
    out: Tensor = torch.where(torch.isinf(nll), torch.zeros_like(nll), nll) if zero_infinity else nll
    return out


@_ctc_nll_op.register_fake
def _(lp: Tensor, targets: Tensor, il: Tensor, tl: Tensor, blank: int, zero_infinity: bool) -> Tensor:
    return lp.new_empty(lp.shape[1])


@torch.library.custom_op("losscraft::ctc_grad", mutates_args=())
def _ctc_grad_op(
    grad: Tensor, lp: Tensor, targets: Tensor, il: Tensor, tl: Tensor, blank: int, zero_infinity: bool
) -> Tensor:
    nll, log_alpha = torch.ops.aten._ctc_loss.Tensor(lp, targets, il, tl, blank, zero_infinity)
    out: Tensor = torch.ops.aten._ctc_loss_backward.Tensor(
        grad, lp, targets, il, tl, nll, log_alpha, blank, zero_infinity
    )
    return out


@_ctc_grad_op.register_fake
def _(
    grad: Tensor, lp: Tensor, targets: Tensor, il: Tensor, tl: Tensor, blank: int, zero_infinity: bool
) -> Tensor:
    return torch.empty_like(lp)


def _ctc_nll_setup(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
    lp, targets, il, tl, blank, zero_infinity = inputs
    ctx.save_for_backward(lp, targets, il, tl)
    ctx.blank, ctx.zero_infinity = blank, zero_infinity


def _ctc_nll_backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
    lp, targets, il, tl = ctx.saved_tensors
    g = _ctc_grad_op(grad, lp, targets, il, tl, ctx.blank, ctx.zero_infinity)
    return g, None, None, None, None, None


_ctc_nll_op.register_autograd(_ctc_nll_backward, setup_context=_ctc_nll_setup)


# --------------------------------------------------------------------------- validation
def _as_lengths(name: str, x: Any, n: int, device: torch.device) -> Tensor:
    """``x`` as a ``(N,)`` int64 tensor (a tensor or a sequence of ints, like torch)."""
    if isinstance(x, Sequence) and not isinstance(x, str):
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in x):
            raise LosscraftError(
                f"{_FN}: '{name}' must be an integer tensor or a sequence of ints, got {x!r}"
            )
        x = torch.tensor(list(x), dtype=torch.long, device=device)
    t = check_tensor(_FN, name, x)
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise LosscraftError(f"{_FN}: '{name}' must be an integer tensor (torch.long), got {t.dtype}")
    if t.shape != (n,):
        raise LosscraftError(
            f"{_FN}: '{name}' must have shape ({n},) (one length per sequence of the batch), got {fmt_shape(t)}"
        )
    return t.long()


def _first_bad(bad: Tensor) -> int:
    return int(bad.nonzero()[0, 0].item())


def _check_values(
    input: Tensor, target: Tensor, il: Tensor, tl: Tensor, blank: int, zero_infinity: bool
) -> None:
    """Lengths in range, labels in ``[0, C-1]`` but not ``blank``, and an alignment for every sample."""
    if not all(values_are_concrete(x) for x in (input, target, il, tl)) or il.numel() == 0:
        return
    T, _, C = input.shape
    il, tl, t = il.detach(), tl.detach(), target.detach().long()
    bad = (il < 0) | (il > T)
    if bool(bad.any()):
        i = _first_bad(bad)
        raise LosscraftError(
            f"{_FN}: 'input_lengths' must lie in [0, {T}] (the input's T), got {int(il[i])} for sequence {i}"
        )
    if bool((tl < 0).any()):
        i = _first_bad(tl < 0)
        raise LosscraftError(f"{_FN}: 'target_lengths' must be >= 0, got {int(tl[i])} for sequence {i}")
    if t.dim() == 2:
        if bool((tl > t.shape[1]).any()):
            i = _first_bad(tl > t.shape[1])
            raise LosscraftError(
                f"{_FN}: 'target_lengths' must be <= {t.shape[1]} (the padded target's S), got "
                f"{int(tl[i])} for sequence {i}"
            )
        valid = torch.arange(t.shape[1], device=t.device) < tl[:, None]
        labels = t[valid]
        # repeated labels (a, a) need a blank between them: one more frame each
        repeats = ((t[:, 1:] == t[:, :-1]) & valid[:, 1:]).sum(1)
    else:
        total = int(tl.sum())
        if total != t.numel():
            raise LosscraftError(
                f"{_FN}: a 1-D (concatenated) 'target' must hold sum(target_lengths) = {total} labels, "
                f"got {t.numel()}"
            )
        labels = t
        seq = torch.repeat_interleave(torch.arange(tl.numel(), device=t.device), tl)
        same = (t[1:] == t[:-1]) & (seq[1:] == seq[:-1])  # a repeat inside one sequence
        repeats = torch.zeros_like(tl).index_add_(0, seq[1:], same.long())
    bad_label = (labels < 0) | (labels >= C) | (labels == blank)
    if bool(bad_label.any()):
        v = int(labels[bad_label][0])
        why = "the blank index" if v == blank else "outside the classes"
        raise LosscraftError(
            f"{_FN}: 'target' contains label {v} ({why}), expected labels in [0, {C - 1}] other than "
            f"blank={blank} (padding beyond target_lengths is not read)"
        )
    need = tl + repeats
    infeasible = need > il
    if bool(infeasible.any()) and not zero_infinity:
        i = _first_bad(infeasible)
        raise LosscraftError(
            f"{_FN}: sequence {i} has no alignment: its target of {int(tl[i])} labels "
            f"({int(repeats[i])} repeats, each needing a blank between) needs at least "
            f"{int(need[i])} frames, got input_lengths {int(il[i])}; its loss would be inf "
            "(pass zero_infinity=True to count such sequences as 0)"
        )


# --------------------------------------------------------------------------- spec
def _sample(n: int, *, generator: torch.Generator, dtype: torch.dtype, blank: int = 0, **_: object) -> Call:
    """Logits ``(8, n, C)``, padded targets ``(n, 3)`` (padded with ``blank``) and the lengths.

    ``C = max(5, blank + 1)``; labels avoid ``blank``. Input lengths lie in [7, 8] (the first
    is 8), target lengths in [0, 3] (the first is 3, with a repeated label).
    """
    classes = max(_C, blank + 1)
    x = randn((_T, n, classes), generator, dtype) * 2.0
    tl = torch.randint(0, _S + 1, (n,), generator=generator)
    il = torch.randint(_T - 1, _T + 1, (n,), generator=generator)
    r = torch.randint(0, classes - 1, (n, _S), generator=generator)
    t = r + (r >= blank).long()  # every class but the blank
    if n > 0:
        il[0], tl[0] = _T, _S
        t[0, 1] = t[0, 0]  # a repeated label
    t = torch.where(torch.arange(_S) < tl[:, None], t, torch.full_like(t, blank))
    return Call((x, t, il, tl))


def _curve_call(x: Tensor, **_: object) -> Call:
    """One frame, classes (blank, a): logits ``(0, x)``, target ``(a,)``: the loss is softplus(-x)."""
    n = x.shape[0]
    logits = torch.stack([torch.zeros_like(x), x], dim=-1).unsqueeze(0)
    ones = torch.ones(n, dtype=torch.long, device=x.device)
    return Call((logits, ones.unsqueeze(1), ones, ones))


GRAVES_2006 = Ref(
    "A. Graves, S. Fernández, F. Gomez, J. Schmidhuber",
    "Connectionist Temporal Classification: Labelling Unsegmented Sequence Data with Recurrent "
    "Neural Networks",
    "ICML",
    2006,
    "https://doi.org/10.1145/1143844.1143891",
)

SPEC = LossSpec(
    name="ctc",
    family=Family.SEQUENCE,
    tasks=(Task.SEQUENCE,),
    input_kind=InputKind.LOGITS,
    target_kind=TargetKind.CLASS_INDEX,
    inputs=("input", "target", "input_lengths", "target_lengths"),
    params=(
        Param("blank", 0, Interval(0, float("inf"), integer=True), "class index of the blank label"),
        Param(
            "zero_infinity",
            False,
            Choice((False, True)),
            "count a sequence without an alignment as 0 (else it is an error)",
        ),
        Param(
            "divide_by_length",
            False,
            Choice((False, True)),
            "divide each sequence's loss by its target length (at least 1); with reduction='mean' torch's mean",
        ),
    ),
    properties=frozenset(
        {
            Property.NONNEGATIVE,
            Property.CONVEX,  # along the curve (one frame: cross-entropy); not in every direction
            Property.SMOOTH,
            Property.BOUNDED_GRADIENT,
            Property.NEEDS_LOGITS,
        }
    ),
    formula=(
        r"\ell_n = -\log \sum_{\pi \in \mathcal{B}^{-1}(y_n)} \prod_{t=1}^{T_n} "
        r"\operatorname{softmax}(x_{t,n})_{\pi_t}"
    ),
    summary=(
        "Connectionist temporal classification: the negative log-probability of a label sequence, "
        "summed over every frame alignment."
    ),
    references=(GRAVES_2006,),
    sample=_sample,
    curve=Curve("logit", (-6.0, 6.0), _curve_call, label="one frame, logit of the label over the blank"),
    none_shape="sample",
    batch_coupling="samples",
    double_backward=_DOUBLE_BACKWARD,
    when_to_use=(
        "Sequence outputs without a frame-level alignment: speech recognition, handwriting and "
        "scene-text recognition, where a model emits one distribution per frame and the target is "
        "a shorter label sequence. The loss sums over every monotonic alignment (blanks and "
        "repeats) with a dynamic program, so no segmentation of the input is needed."
    ),
    when_not_to_use=(
        "Not when every frame or token has its own label (tagging, per-pixel classes): use "
        "cross_entropy per position. Not when the outputs depend on one another (CTC assumes the "
        "frames independent given the input) and a decoder can be trained instead: a sequence-to-"
        "sequence model with cross_entropy on the next token."
    ),
)


@register(SPEC, aliases=("connectionist_temporal_classification",))
def ctc_loss(
    input: Tensor,
    target: Tensor,
    input_lengths: Tensor | Sequence[int],
    target_lengths: Tensor | Sequence[int],
    *,
    blank: int = 0,
    zero_infinity: bool = False,
    divide_by_length: bool = False,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Connectionist temporal classification: the negative log-probability of a label sequence, summed over every frame alignment.

    For outputs that emit one class distribution per frame when the target is a shorter label
    sequence with no alignment (speech, handwriting, scene text). An alignment $\pi$ labels
    every frame with a class or the blank; collapsing repeats and then removing blanks
    ($\mathcal{B}$) must give the target $y_n$. The loss is

    $$\ell_n = -\log \sum_{\pi \in \mathcal{B}^{-1}(y_n)} \prod_{t=1}^{T_n} \operatorname{softmax}(x_{t,n})_{\pi_t}$$

    computed by torch's CTC kernel (the forward-backward dynamic program, in log space). Unlike
    :func:`torch.nn.functional.ctc_loss`, ``input`` holds *logits*: the log-softmax over the
    classes is taken here, in float32 for float16/bfloat16 (torch's CPU kernel has no half
    precision), so an unnormalised input cannot give a wrong value or gradient.

    Policy. An empty target (length 0) is valid: the loss of emitting only blanks, finite. A
    sequence without any alignment (fewer frames than its labels plus one blank between each
    repeated pair) would cost ``inf``: with ``zero_infinity=False`` (the default, as in torch)
    it is an error naming the sequence, never a silent ``inf`` or ``0``; with
    ``zero_infinity=True`` such sequences cost 0 with a zero gradient, for datasets that knowingly
    hold a few too-short utterances. (Under ``torch.compile`` or ``vmap`` the values are not
    checked and an infeasible sequence gives ``inf``, as in torch.) Reductions follow the
    library's convention (``"mean"`` is the mean of the ``"none"`` values, shape ``(N,)``):
    torch's ``reduction="mean"`` divides each sequence's loss by its target length (at least 1)
    before averaging, which is ``divide_by_length=True`` here; ``"sum"`` and ``"none"`` match
    torch's at the default ``divide_by_length=False``.

    The kernel's gradient has no derivative: a second differentiation (``create_graph=True``
    followed by a backward through the gradient) raises :class:`LosscraftError`. Forward-mode AD
    and ``vmap`` are supported.

    **Gradient:** $\partial\ell_n/\partial x_{t,n,k} = \operatorname{softmax}(x_{t,n})_k - \gamma_{t,n}(k)$,
    with $\gamma$ the posterior probability that frame $t$ emits class $k$: in $(-1, 1)$, bounded.

    Args:
        input: logits of shape ``(T, N, C)`` (frames, batch, classes, torch's layout), floating point.
        target: labels in ``[0, C-1]`` other than ``blank``: padded ``(N, S)`` (entries beyond
            ``target_lengths`` are not read) or the batch's sequences concatenated, 1-D of length
            ``sum(target_lengths)``; integer.
        input_lengths: frames of each sequence, ``(N,)`` integers in ``[0, T]`` (tensor or list).
        target_lengths: labels of each sequence, ``(N,)`` integers ``>= 0`` (``<= S`` when padded).
        blank: class index of the blank, in ``[0, C-1]``. Default 0.
        zero_infinity: count a sequence without an alignment as 0 instead of raising. Default False.
        divide_by_length: divide each sequence's loss by its target length (at least 1), a
            per-label loss; with ``reduction="mean"`` it is torch's mean. Default False.
        weight: optional non-negative per-sequence weights broadcastable to ``(N,)``.
        reduction: ``"mean"`` (weighted mean over the sequences), ``"sum"`` or ``"none"``
            (shape ``(N,)``).

    Returns:
        A scalar, or a ``(N,)`` tensor for ``reduction="none"``; float32 for float16/bfloat16
        inputs.

    Raises:
        LosscraftError: ``input`` not a floating ``(T, N, C)`` tensor, ``blank`` outside
            ``[0, C-1]``, ``target`` not integer or of another shape than ``(N, S)`` / 1-D,
            a target label outside the classes or equal to ``blank``, lengths of another shape
            or out of range, a sequence without an alignment (unless ``zero_infinity``), bad
            ``weight`` or ``reduction``; a double backward through the gradient.

    Examples:
        >>> import torch, losscraft.functional as LF
        >>> x = torch.tensor([[[0.0, 2.0, 0.0]], [[1.0, 0.0, 0.0]], [[0.0, 0.0, 3.0]]])
        >>> LF.ctc_loss(x, torch.tensor([[1, 2]]), torch.tensor([3]), torch.tensor([2]), reduction="none")
        tensor([0.2960])

    References:
        A. Graves, S. Fernández, F. Gomez, J. Schmidhuber (2006). Connectionist Temporal
            Classification: Labelling Unsegmented Sequence Data with Recurrent Neural Networks.
            ICML. https://doi.org/10.1145/1143844.1143891
    """
    check_params(
        SPEC,
        {
            "blank": blank,
            "zero_infinity": zero_infinity,
            "divide_by_length": divide_by_length,
            "reduction": reduction,
        },
    )
    check_floating(_FN, "input", input)
    if input.dim() != 3:
        raise LosscraftError(
            f"{_FN}: 'input' must have shape (T, N, C) (frames, batch, classes), got {fmt_shape(input)}"
        )
    _, N, C = input.shape
    if C < 2:
        raise LosscraftError(
            f"{_FN}: 'input' must have C >= 2 classes (the blank and at least one label), got {fmt_shape(input)}"
        )
    if blank >= C:
        raise LosscraftError(f"{_FN}: 'blank' must be a class index in [0, {C - 1}], got {blank}")
    check_tensor(_FN, "target", target)
    if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
        raise LosscraftError(
            f"{_FN}: 'target' must be an integer tensor of labels (torch.long), got {target.dtype}"
        )
    if not (target.dim() == 1 or (target.dim() == 2 and target.shape[0] == N)):
        raise LosscraftError(
            f"{_FN}: 'target' must be padded ({N}, S) or 1-D (the sequences concatenated), got {fmt_shape(target)}"
        )
    il = _as_lengths("input_lengths", input_lengths, N, input.device)
    tl = _as_lengths("target_lengths", target_lengths, N, input.device)
    _check_values(input, target, il, tl, blank, zero_infinity)
    # why float32 for half precision: torch's CPU kernel has none, and log-space sums need the range
    lp = torch.log_softmax(to_compute(input, compute_dtype(input)), dim=-1)
    if N == 0:
        values = lp.sum((0, 2))  # (0,): an empty batch, still on the graph
    elif is_compiling():
        # why: dynamo cannot trace a Function with a custom jvp, nor torch's op (its log_alpha's
        # shape depends on the target lengths); these opaque ops have shapes known from lp
        values = _ctc_nll_op(lp, target.long(), il, tl, blank, zero_infinity)
    else:
        values, _, _ = _CTC.apply(lp, target.long(), il, tl, blank, zero_infinity)  # type: ignore[no-untyped-call]
    if divide_by_length:
        # torch's mean divides so: per label, an empty target counting as one
        values = values / tl.clamp(min=1).to(values.dtype)
    check_weight(_FN, weight, values.shape)
    return reduce(values, reduction, weight)


class CTCLoss(LossModule, spec=SPEC, fn=ctc_loss):
    """Module form of :func:`losscraft.functional.ctc_loss` (called as ``loss(input, target, input_lengths, target_lengths)``)."""

    def __init__(
        self,
        *,
        blank: int = 0,
        zero_infinity: bool = False,
        divide_by_length: bool = False,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            blank=blank, zero_infinity=zero_infinity, divide_by_length=divide_by_length, reduction=reduction
        )
