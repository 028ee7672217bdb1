r"""Collectives for losses whose value couples the whole batch, under ``torch.distributed``.

Under data parallelism (DDP, FSDP and the trainers built on them) every rank $r = 0, \dots, R-1$
holds a shard $x_r$ of the batch, computes a loss $L_r$ and calls ``backward``; DDP then
**averages** the parameter gradients over the ranks. A batch-coupled loss (a mean over valid
items, a Dice ratio of batch sums, a contrastive loss over all negatives) has the full-batch
value only if it is computed from global quantities. The collectives here make those quantities
global *with gradient*, so that every rank computes the same full-batch loss $L$ and, after
DDP's averaging, the same gradient as one process on the concatenated batch:

* :func:`all_reduce_sum`: $S = \sum_r s_r$ (per-class sums, normalisers), differentiable;
* :func:`all_gather_cat`: $X = [x_0; x_1; \dots; x_{R-1}]$ along dim 0 with unequal
  (possibly zero) row counts (embeddings for contrastive losses), differentiable, plus the
  rows of this rank;
* :func:`all_reduce_count`: a global count or total weight, without gradient.

The switch that turns them on for the losses is :func:`global_batch` (a context variable); the
losses reach them through the hooks at the end of this module, one per kind of batch coupling
(``LossSpec.batch_coupling``): :func:`global_denominator` (the mean's count, called from
``reduction.mean_denominator``), :func:`sum_batch` (per-class overlap sums) and
:func:`gather_batch` (embeddings, and a global sort), with :func:`value_is_global` to reduce a
loss that is already the full-batch value and :func:`max_batch` (a shift shared by the ranks
for exponentials summed with :func:`sum_batch`).

Why the backward passes *sum* the gradients over ranks: each rank's graph ends in its own copy
of $L$ and autograd differentiates only that copy, so rank $k$ alone would obtain
$\partial L_k / \partial x_r$ for its local $x_r$ only from its own loss. The true gradient of
the total $\sum_k L_k$ with respect to rank $r$'s input is $\sum_k \partial L_k / \partial x_r$,
which the backward assembles with one all-reduce; with $L_k = L$ on every rank this is
$R \, \partial L / \partial x_r$, and DDP's division by $R$ gives back exactly the full-batch
gradient $\partial L / \partial x_r$. (This is the convention of
``torch.distributed.nn.functional.all_reduce``; a loss that wants ``dL/dx`` *without* DDP's
averaging divides by :func:`world_size` itself.)

No process group (``torch.distributed`` unavailable or not initialised) or a group of world size
1: every function is a no-op that returns its input object itself (bitwise the single-process
computation, no copy, no extra autograd node).

Failure instead of hanging: every rank must make the same calls in the same order with the
same trailing shapes and dtypes; a rank that dies or skips a call leaves the others waiting in
the collective until the process group's ``timeout`` (``init_process_group(...,
timeout=datetime.timedelta(seconds=...))``), after which the collective raises. Gloo honours the
timeout for every collective; NCCL does when its asynchronous error handling is on (the default
in recent torch). The tests initialise their groups with a timeout of a few seconds and run every
spawned job under a hard wall-clock limit as well.

Each call is one collective (plus one small size exchange in :func:`all_gather_cat`): callers
pack several statistics into one tensor (e.g. ``torch.stack([inter, psum, gsum])``) rather than
calling once per statistic or per class.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import torch
import torch.distributed as dist
from torch import Tensor

from .errors import LosscraftError

if TYPE_CHECKING:
    from torch.distributed import ProcessGroup

__all__ = [
    "BatchContext",
    "Gathered",
    "all_gather_cat",
    "all_reduce_count",
    "all_reduce_sum",
    "current_context",
    "current_group",
    "gather_batch",
    "global_batch",
    "global_denominator",
    "global_sum_factor",
    "is_active",
    "max_batch",
    "rank",
    "sum_batch",
    "use_context",
    "value_is_global",
    "world_size",
]


def is_active(group: ProcessGroup | None = None) -> bool:
    """Whether ``torch.distributed`` is available and initialised and ``group`` has more than one rank.

    ``group=None`` is the default (world) group. When this is ``False`` every collective here is a
    no-op returning its input.
    """
    return dist.is_available() and dist.is_initialized() and dist.get_world_size(group) > 1


def world_size(group: ProcessGroup | None = None) -> int:
    """The number of ranks in ``group`` (``None``: the world); 1 when not :func:`is_active`."""
    return dist.get_world_size(group) if is_active(group) else 1


def rank(group: ProcessGroup | None = None) -> int:
    """This process's rank within ``group`` (``None``: the world); 0 when not :func:`is_active`."""
    return dist.get_rank(group) if is_active(group) else 0


# --------------------------------------------------------------------------- all-reduce (sum)
class _AllReduceSum(torch.autograd.Function):
    r"""$S = \sum_r x_r$; backward: $\bar x_r = \sum_k \bar S_k$ (the all-reduce of the gradients)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, group: ProcessGroup | None) -> Tensor:  # type: ignore[override]
        ctx.group = group
        out = x.contiguous().clone()
        dist.all_reduce(out, op=dist.ReduceOp.SUM, group=group)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        # Through the Function again, so that the gradient stays differentiable (create_graph=True).
        return _reduce_sum(grad, ctx.group), None


def _reduce_sum(x: Tensor, group: ProcessGroup | None) -> Tensor:
    out: Tensor = _AllReduceSum.apply(x, group)  # type: ignore[no-untyped-call]
    return out


def all_reduce_sum(x: Tensor, group: ProcessGroup | None = None) -> Tensor:
    r"""The sum of ``x`` over the ranks of ``group``, differentiable.

    Forward: $S = \sum_{r} x_r$, the same on every rank; ``x`` must have the same shape and dtype
    on every rank. Backward: the gradient reaching rank $r$'s ``x`` is the all-reduce **sum** of
    the incoming gradients, $\bar x_r = \sum_k \partial L_k / \partial S$. When every rank
    computes the same loss $L = f(S)$ this is $R \, f'(S)$, which DDP's gradient averaging
    (division by $R$) turns into the full-batch gradient $f'(S)\,\partial S / \partial x_r$.

    One collective per call: pack several statistics into one tensor (``torch.stack`` or
    ``torch.cat``) and split the result, rather than calling once per statistic or per class.

    Not :func:`is_active`: returns ``x`` itself (no copy, no autograd node).
    """
    if not is_active(group):
        return x
    return _reduce_sum(x, group)


# --------------------------------------------------------------------------- all-gather (concatenate)
class Gathered(NamedTuple):
    """The result of :func:`all_gather_cat`: ``(tensor, rows)``, unpackable as a pair."""

    tensor: Tensor
    """Every rank's rows, concatenated along dim 0 in rank order."""
    rows: slice
    """This rank's rows of ``tensor``: ``tensor[rows]`` equals the local input."""


class _AllGatherCat(torch.autograd.Function):
    r"""$X = [x_0; \dots; x_{R-1}]$; backward: $\bar x_r = (\sum_k \bar X_k)[\text{rows}_r]$."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, x: Tensor, sizes: tuple[int, ...], rows: slice, group: ProcessGroup | None
    ) -> Tensor:
        ctx.group = group
        ctx.rows = rows
        most = max(sizes)
        if most == 0:  # nothing anywhere: no collective to run (every rank knows it)
            return x.new_empty((0, *x.shape[1:]))
        padded = x.contiguous()
        if x.shape[0] < most:
            padded = torch.cat([padded, x.new_zeros((most - x.shape[0], *x.shape[1:]))])
        parts = [torch.empty_like(padded) for _ in sizes]
        dist.all_gather(parts, padded, group=group)
        return torch.cat([p[:n] for p, n in zip(parts, sizes, strict=True)])

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None, None]:  # type: ignore[override]
        # Reduce-scatter as all-reduce + local slice: every backend has all_reduce (gloo has no
        # reduce_scatter); through the Function, so the gradient stays differentiable.
        total = _reduce_sum(grad, ctx.group)
        return total[ctx.rows], None, None, None


def all_gather_cat(x: Tensor, group: ProcessGroup | None = None) -> Gathered:
    r"""Every rank's ``x`` concatenated along dim 0 (in rank order), differentiable, and this rank's rows.

    The ranks may hold different numbers of rows, zero included; the trailing shape and the dtype
    must agree. The row counts are exchanged first (one small all-gather of an ``int64`` tensor and
    one host synchronisation to read them), then the rows, padded to the largest count, are
    gathered in one ``all_gather`` and trimmed. ``bool`` tensors travel as ``uint8``.

    Backward: the gradient $\bar X$ of the gathered tensor is summed over the ranks and rank $r$
    keeps its own rows, $\bar x_r = \sum_k (\partial L_k / \partial X)[\text{rows}_r]$ (reduce-scatter
    semantics, implemented as an all-reduce of $\bar X$ followed by the local slice). When every
    rank computes the same loss $L(X)$ this is $R \, \partial L / \partial x_r$, which DDP's
    gradient averaging turns into the full-batch gradient. The remote rows therefore keep their
    gradient: a contrastive loss computed on the gathered embeddings trains every rank's encoder
    through every other rank's negatives.

    Returns :class:`Gathered` ``(tensor, rows)``: ``tensor[rows]`` are this rank's rows (e.g. the
    anchors of a contrastive loss, or the rows to return for ``reduction="none"``).

    Not :func:`is_active`: ``(x, slice(0, len(x)))`` with ``x`` itself (no copy, no autograd node).
    """
    if not is_active(group):
        return Gathered(x, slice(0, x.shape[0]))
    if x.dim() == 0:
        raise LosscraftError("all_gather_cat concatenates along dim 0: x must have at least one dimension")
    sizes, rows = _exchange_sizes(x.shape[0], x.device, group)
    return Gathered(_gather_known(x, sizes, rows, group), rows)


def _exchange_sizes(
    n: int, device: torch.device, group: ProcessGroup | None
) -> tuple[tuple[int, ...], slice]:
    """Every rank's row count (one small all-gather and one host read) and this rank's rows."""
    size = torch.tensor([n], dtype=torch.int64, device=device)
    size_parts = [torch.empty_like(size) for _ in range(dist.get_world_size(group))]
    dist.all_gather(size_parts, size, group=group)
    sizes = tuple(int(k) for k in torch.cat(size_parts).tolist())
    start = sum(sizes[: dist.get_rank(group)])
    return sizes, slice(start, start + n)


def _gather_known(x: Tensor, sizes: tuple[int, ...], rows: slice, group: ProcessGroup | None) -> Tensor:
    """:func:`all_gather_cat` once the row counts are known."""
    if x.dtype == torch.bool:
        flat: Tensor = _AllGatherCat.apply(x.to(torch.uint8), sizes, rows, group)  # type: ignore[no-untyped-call]
        return flat.bool()
    out: Tensor = _AllGatherCat.apply(x, sizes, rows, group)  # type: ignore[no-untyped-call]
    return out


# --------------------------------------------------------------------------- counts
def all_reduce_count(
    n: int | float | Tensor, group: ProcessGroup | None = None, *, device: torch.device | None = None
) -> Tensor:
    """The sum of a count or total weight over the ranks, as a tensor without gradient.

    For global denominators: the number of valid items, the total class weight, the number of
    tokens in all micro-batches. A tensor ``n`` keeps its dtype and device (and is detached); a
    Python ``int`` becomes ``int64`` and a ``float`` the default float dtype, on ``device``
    (default: the current CUDA device for an NCCL group, else the CPU). No host synchronisation
    beyond the collective itself.

    Not :func:`is_active`: ``n.detach()`` for a tensor (the same values, no copy), else
    ``torch.tensor(n)`` on ``device``.
    """
    if isinstance(n, Tensor):
        value = n.detach()
    else:
        if device is None:
            device = _default_device(group)
        dtype = torch.int64 if isinstance(n, int) else torch.get_default_dtype()
        value = torch.tensor(n, dtype=dtype, device=device)
    if not is_active(group):
        return value
    out = value.contiguous().clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM, group=group)
    return out


def _default_device(group: ProcessGroup | None) -> torch.device:
    """Where a collective on ``group`` needs its tensors: the current CUDA device for NCCL, else CPU."""
    if is_active(group) and dist.get_backend(group) == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


# --------------------------------------------------------------------------- the global-batch switch
@dataclass(frozen=True)
class BatchContext:
    """What :func:`global_batch` switched on: the process group and an optional fixed denominator."""

    group: ProcessGroup | None
    """The ranks whose batches form the global batch (``None``: the world)."""
    denominator: float | None
    """The total count (or weight) of the global batch, given by the caller; ``None``: all-reduced."""


_CONTEXT: contextvars.ContextVar[BatchContext | None] = contextvars.ContextVar(
    "losscraft_global_batch", default=None
)

# How many global_batch / use_context blocks are open, in any thread. 0 (the usual case) lets the
# hot path (every "mean") skip the ContextVar: torch.compile cannot trace ContextVar.get, while it
# traces this integer (a guard). Inside a block, compiled code graph-breaks at the lookup.
_OPEN = 0
_OPEN_LOCK = threading.Lock()


@contextlib.contextmanager
def _opened(state: BatchContext | None) -> Iterator[None]:
    global _OPEN
    token = _CONTEXT.set(state)
    with _OPEN_LOCK:
        _OPEN += 1
    try:
        yield
    finally:
        with _OPEN_LOCK:
            _OPEN -= 1
        _CONTEXT.reset(token)


def _state() -> BatchContext | None:
    if _OPEN == 0:
        return None
    return _CONTEXT.get()


@contextlib.contextmanager
def global_batch(
    group: ProcessGroup | None = None, *, denominator: float | int | None = None
) -> Iterator[BatchContext]:
    r"""Within the block, losses return this rank's share of the global-batch loss, scaled by $R$.

    The rule, with $R$ = :func:`world_size` of ``group``: each rank returns $R$ times its
    contribution to the loss of the global batch (every rank's batch, concatenated). The mean
    of the returned values over the ranks is then the global-batch loss, and DDP's gradient
    averaging (a division by $R$) gives the global-batch gradient. For a loss whose only batch
    coupling is the mean's count:

    * ``"mean"``: the local weighted sum over $D / R$, where $D$ is the global count or total
      weight (one all-reduce per call in :func:`~losscraft._core.reduction.mean_denominator`;
      divide-no-nan on the global $D$: a rank whose items are all ignored, or that holds no
      items, still divides by the global count);
    * ``"sum"``: $R$ times the local sum;
    * ``"none"``: this rank's rows, unchanged.

    ``denominator``: the global count (or total weight) fixed by the caller instead of
    all-reduced, for gradient accumulation: with $k$ micro-batches per optimiser step, pass the
    number of valid items (or the total weight) of *all* micro-batches on *all* ranks; each
    micro-batch's ``"mean"`` is then its weighted sum over ``denominator / R`` and the $k$
    accumulated gradients equal those of one big batch. It also works without a process group
    (plain gradient accumulation, $R = 1$). No collective is run for the denominator then.

    Without an initialised process group (or with world size 1) and without ``denominator`` the
    block changes nothing: every loss is bitwise the plain loss.

    Context variables follow threads and asyncio tasks as Python defines them: the switch is
    per thread (``nn.DataParallel`` replicas start outside it) and is inherited by tasks.
    """
    if denominator is not None and not (isinstance(denominator, (int, float)) and denominator >= 0):
        raise LosscraftError(f"global_batch: 'denominator' must be a number >= 0, got {denominator!r}")
    state = BatchContext(group, None if denominator is None else float(denominator))
    with _opened(state):
        yield state


@contextlib.contextmanager
def use_context(state: BatchContext | None) -> Iterator[None]:
    """Re-enter a :func:`current_context` captured earlier (e.g. in a forward pass, for its backward)."""
    with _opened(state):
        yield


def current_context() -> BatchContext | None:
    """The innermost :func:`global_batch` in effect, or ``None``."""
    return _state()


def current_group() -> tuple[bool, ProcessGroup | None]:
    """``(active, group)``: whether a :func:`global_batch` is in effect over a group of more than one rank."""
    state = _state()
    if state is None:
        return False, None
    return is_active(state.group), state.group


def global_sum_factor() -> int:
    """$R$ under an active :func:`global_batch` (what ``"sum"`` multiplies by), else 1."""
    active, group = current_group()
    return dist.get_world_size(group) if active else 1


def global_denominator(total: int | float | Tensor) -> float | Tensor | None:
    r"""The global-batch ``"mean"`` denominator $D / R$ for a local ``total``, or ``None`` when none applies.

    ``None`` (outside :func:`global_batch`, or inside one without ``denominator`` and without an
    active group): the caller keeps its local total. Otherwise $D$ is the given ``denominator``
    or the sum of ``total`` over the ranks (one all-reduce; differentiable for a tensor
    ``total``, so learned weights in a weighted mean keep their gradient), with the
    divide-no-nan rule applied to $D$ (a non-positive $D$ becomes 1). A tensor ``total`` gives a
    tensor of its dtype and device; a Python number gives a ``float`` (one host read under a
    process group).
    """
    state = _state()
    if state is None:
        return None
    n_ranks = world_size(state.group)
    if state.denominator is not None:
        d = state.denominator if state.denominator > 0 else 1.0
        if isinstance(total, Tensor):
            return torch.full_like(total, d / n_ranks, dtype=_float_dtype(total))
        return d / n_ranks
    if n_ranks == 1:
        return None
    if isinstance(total, Tensor):
        t = total if total.is_floating_point() else total.to(torch.get_default_dtype())
        g = all_reduce_sum(t, state.group)
        return torch.where(g > 0, g, torch.ones_like(g)) / n_ranks
    local = torch.tensor(float(total), dtype=torch.float64, device=_default_device(state.group))
    g_count = float(all_reduce_count(local, state.group).item())
    return (g_count if g_count > 0 else 1.0) / n_ranks


def _float_dtype(t: Tensor) -> torch.dtype:
    return t.dtype if t.is_floating_point() else torch.get_default_dtype()


# --------------------------------------------------------------------------- hooks for coupled losses
def _accumulation_error(fn: str, what: str) -> LosscraftError:
    return LosscraftError(
        f"{fn}: {what} cannot be split into micro-batches: global_batch(denominator=...) (gradient "
        "accumulation) fixes a mean's count, but this loss is a ratio of batch-wide quantities, so "
        "k accumulated micro-batches cannot give the loss of one big batch; use aggregate='sample', "
        "or a larger batch per step"
    )


def sum_batch(fn: str, x: Tensor) -> Tensor:
    r"""The overlap-sums hook: ``x`` summed over the ranks of the :func:`global_batch` in effect.

    For losses that are a function of per-class sums over the batch (the Dice family with
    ``aggregate="batch"``): pack every statistic into ``x`` (e.g. ``torch.stack([inter, psum,
    gsum])``), so one all-reduce serves the call. Differentiable (:func:`all_reduce_sum`): every
    rank then computes the same full-batch loss $L$ from the global sums and the backward sums
    the gradient over the ranks, which DDP's averaging turns into the full-batch gradient. The
    loss must then be reduced under :func:`value_is_global` (it is already the global value).

    Outside :func:`global_batch`, or over a group of one rank: ``x`` itself.

    Raises:
        LosscraftError: a ``denominator`` (gradient accumulation) is set: a ratio of batch sums
            cannot be accumulated over micro-batches.
    """
    state = _state()
    if state is None:
        return x
    if state.denominator is not None:
        raise _accumulation_error(fn, "aggregate='batch' (per-class sums over the whole batch)")
    return all_reduce_sum(x, state.group)


def max_batch(fn: str, x: Tensor) -> Tensor:
    r"""The shift hook: the elementwise maximum of ``x`` over the ranks of the :func:`global_batch` in effect, detached.

    For a shift that must be the same on every rank before exponentials are summed with
    :func:`sum_batch` (a log-sum-exp over the whole batch, e.g. the per-proxy sums of the Proxy
    Anchor loss): with the maximum over the ranks every term is at most 1 and the largest is 1.
    A shift does not change the value, so it carries no gradient. One all-reduce (``MAX``).

    Outside :func:`global_batch`, or over a group of one rank: ``x.detach()``. ``fn`` names the
    loss for the caller's error messages (the same signature as the other hooks).
    """
    del fn
    x = x.detach()
    state = _state()
    if state is None or not is_active(state.group):
        return x
    out = x.contiguous().clone()
    dist.all_reduce(out, op=dist.ReduceOp.MAX, group=state.group)
    return out


def gather_batch(fn: str, *tensors: Tensor, ratio: bool = False) -> tuple[tuple[Tensor, ...], slice]:
    r"""The gather hook: every rank's rows of each tensor, concatenated in rank order, and this rank's rows.

    For losses that compare each sample with the rest of the batch (contrastive losses: the
    negatives; Lovász with ``aggregate="batch"``: the sort of every error). The tensors share
    dim 0 (one row per sample; floating tensors keep their gradient through
    :func:`all_gather_cat`'s backward, integer and bool tensors travel without). One exchange
    of the row counts serves every tensor; the ranks may hold different numbers of rows, zero
    included.

    Two ways to use the result, both giving the full-batch loss and gradients after DDP's
    averaging:

    * compute the loss of **this rank's rows** (anchors) against the gathered batch and reduce
      it as usual (a per-sample mean follows the global-batch rule of ``reduction.py``);
    * compute the whole loss on the gathered batch (a global sort) and reduce it under
      :func:`value_is_global`.

    Outside :func:`global_batch`, or over a group of one rank: the tensors themselves and
    ``slice(0, N)``. ``ratio=True`` (a loss whose value is a ratio over the whole batch, such as
    Lovász) refuses a ``denominator``, like :func:`sum_batch`.

    Raises:
        LosscraftError: the tensors' dim 0 differ, or ``ratio`` and a ``denominator`` is set.
    """
    n = tensors[0].shape[0]
    if any(t.shape[0] != n for t in tensors):
        shapes = ", ".join(str(tuple(t.shape)) for t in tensors)
        raise LosscraftError(f"{fn}: gather_batch needs one row per sample in every tensor, got {shapes}")
    state = _state()
    if state is None:
        return tensors, slice(0, n)
    if ratio and state.denominator is not None:
        raise _accumulation_error(fn, "aggregate='batch' (one sort over the whole batch)")
    if not is_active(state.group):
        return tensors, slice(0, n)
    sizes, rows = _exchange_sizes(n, tensors[0].device, state.group)
    return tuple(_gather_known(t, sizes, rows, state.group) for t in tensors), rows


@contextlib.contextmanager
def value_is_global() -> Iterator[None]:
    """Reduce a loss that is already the global-batch value (from :func:`sum_batch` or a full gather).

    Inside, the global-batch rule is off: ``"mean"`` divides by the local count (the values are
    the same on every rank) and ``"sum"`` is not scaled by $R$, so each rank returns the
    full-batch loss $L$ itself, whose collectives' backward already supplies the factor $R$.
    """
    with _opened(None):
        yield
