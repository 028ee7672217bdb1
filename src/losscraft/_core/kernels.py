r"""Lean elementwise loss kernels: the gradient is computed in the forward pass, in chunks.

Why: a loss composed of elementwise torch ops (focal: about a dozen) allocates a full-size
intermediate per op and autograd keeps most of them for backward, so peak memory is many times
the input and every op is one more pass over memory. For an *elementwise* loss the gradient
:math:`\partial \ell_i / \partial x_i` has a closed form that needs the same few transcendental
values as the loss itself. :func:`elementwise_loss` therefore

* walks the flattened input in chunks of :data:`DEFAULT_CHUNK` elements,
* evaluates the loss *and* its derivative per chunk with a :class:`ChunkKernel` (the binary
  logit kernels need one ``exp`` and one ``log1p`` per element, see
  ``losscraft.losses.classification.binary_logit_kernel``), into a few chunk-sized scratch
  buffers that stay in the cache,
* accumulates the reduced loss per chunk (the chunk sums are added in float64),
* writes the gradient, already multiplied by the weights and the reduction's ``1/N``, into
  **one** preallocated buffer of the input's size and dtype, and saves only that buffer.
  Backward multiplies it in place by ``grad_output`` (nothing to do for ``loss.backward()``)
  and hands it to autograd, which adopts it as ``x.grad`` without a copy.

Forward + backward therefore costs one buffer of the input's size plus the scratch space,
instead of ~10x the input, and about one pass over memory.

Threads: chunks are shared out dynamically among ``torch.get_num_threads()`` pool threads
whose torch ops run single-threaded (see :func:`_pool`); the calling thread waits. With
intra-op parallelism instead, every one of the ~22 ops per chunk would end in an OpenMP
barrier, and on an oversubscribed machine (DataLoader workers, other jobs) each descheduled
thread stalls the others. The pool is a little slower than intra-op threads on an idle
machine (the threads hand the GIL back and forth ~22 times per chunk) and much faster on a
busy one (the measurements are in the comment above :func:`_pool`). Torch ops release the
GIL while they compute, so only the Python glue between them is serialised.

Scope and fall-backs (the callers keep the composed implementation and use it when):

* the device is not the CPU (the chunking and threading are tuned for CPU caches and untested
  elsewhere), ``torch.compile`` is tracing, a ``torch.func`` transform (``vmap``, ``grad``,
  ``jvp``) is active, or a forward-mode AD level (``torch.autograd.forward_ad``) is open:
  composed ops trace, vmap and carry tangents; this ``autograd.Function`` does not (a dual
  input would lose its tangent silently, see :func:`autograd_functions_unsupported`);
* a tensor other than the input requires a gradient (soft targets being learned, learned
  weights or ``pos_weight``): the lean kernels differentiate the input only;
* ``lean_kernels(False)`` is in effect (tests and benchmarks).

Higher-order gradients: the saved buffer is a constant and cannot be differentiated again.
When backward runs with ``create_graph=True``, the composed loss is recomputed from the saved
input and differentiated instead: higher-order gradients are exact, only slower. A second
backward after ``retain_graph=True`` (the first one handed the buffer to autograd) recomputes
the buffer with the same kernel, so repeated backward passes agree bitwise. The inputs are
saved as references (no copies), which keeps them alive until backward as torch's own losses
do.

Half precision: chunks are computed in float32 and the loss is float32; the gradient buffer has
the input's dtype (a float32 buffer would double the memory and be cast back anyway), so the
gradient is rounded once. For float16, whose range ends at 65504, the buffer holds the gradient
*without* the small ``1/N`` (or ``1/sum(w)``) factor, with weights normalised by their maximum;
backward applies the scale together with ``grad_output`` in one float32 multiply, so a
``GradScaler``-scaled gradient neither underflows nor overflows in between.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import itertools
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor

from .checks import compute_dtype, functorch_active, is_compiling
from .distributed import BatchContext, current_context, global_sum_factor, use_context
from .reduction import mean_denominator

__all__ = [
    "DEFAULT_CHUNK",
    "ChunkKernel",
    "Workspace",
    "autograd_functions_unsupported",
    "elementwise_loss",
    "lean_kernels",
    "use_lean",
    "weighted_sum",
    "write_grad",
]

#: Elements per chunk. 64K float32 = 256 KiB per scratch buffer: the ~12 buffers of a kernel
#: stay in L2/L3, and 128 chunks for 8.4M logits keep the Python overhead (~3 us per torch call,
#: ~22 calls per chunk, plus a GIL hand-off between the pool threads) to a few percent of the
#: time. Measured on 2 idle cores, binary focal fwd+bwd on 8.4M logits: 8K 250 ms, 16K 146-173,
#: 32K 105-136, 64K 96-122, 128K/256K 109-118 (the buffers leave the cache).
DEFAULT_CHUNK = 1 << 16


@dataclass
class _State:
    enabled: bool = True
    chunk: int = DEFAULT_CHUNK


_STATE = _State()


@contextlib.contextmanager
def lean_kernels(enabled: bool = True, *, chunk: int | None = None) -> Iterator[None]:
    """Switch the lean kernels off (or on) and/or change the chunk size, within a block.

    For tests and benchmarks: ``with lean_kernels(False):`` runs the composed reference
    implementation; ``with lean_kernels(chunk=7):`` exercises chunk boundaries on tiny inputs.
    Process-global (not thread-local).
    """
    old = (_STATE.enabled, _STATE.chunk)
    if chunk is not None and chunk < 1:
        raise ValueError(f"lean_kernels: 'chunk' must be >= 1, got {chunk}")
    _STATE.enabled = enabled
    if chunk is not None:
        _STATE.chunk = int(chunk)
    try:
        yield
    finally:
        _STATE.enabled, _STATE.chunk = old


def autograd_functions_unsupported() -> bool:
    """True where the lean custom ``autograd.Function`` kernels must give way to composed ops.

    That is under a ``torch.func`` transform (``vmap``, ``grad``, ``jacrev``, ``jvp``: the
    kernels read values back to the host and define no ``setup_context``/``vmap``/``jvp``) and
    while a forward-mode AD level is open (``torch.autograd.forward_ad.dual_level``: the kernels
    define no ``jvp``, and a dual input that does not require grad would lose its tangent).
    """
    if functorch_active():
        return True
    # The open forward-AD level (-1: none); a private global of torch.autograd.forward_ad.
    return getattr(torch.autograd.forward_ad, "_current_level", -1) >= 0


def use_lean(input: Tensor, *others: Tensor | None) -> bool:
    """Whether the lean path applies to ``input`` (see the module docstring for the rules).

    ``others`` are the remaining tensor arguments (target, weights, ...): if any of them needs a
    gradient the composed path is used, since the lean kernels differentiate ``input`` only.
    """
    if not _STATE.enabled or input.device.type != "cpu" or is_compiling() or autograd_functions_unsupported():
        return False
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in others):
        return False
    return all(t is None or t.device.type == "cpu" for t in others)


# --------------------------------------------------------------------------- chunk kernels
class Workspace:
    """Per-thread scratch space in the compute dtype: chunk-sized buffers and constants.

    Why: reusing a handful of cache-resident buffers with ``out=`` avoids an allocation per op
    per chunk, and 0-dim constants (:meth:`c`) avoid wrapping a Python scalar into a tensor on
    every call (a Python scalar argument adds to the fixed overhead of every torch op).
    """

    def __init__(self, size: int, dtype: torch.dtype, device: torch.device) -> None:
        self.size, self.dtype, self.device = size, dtype, device
        self.n = size  # the current chunk's length
        self._bufs: list[Tensor] = []
        self._consts: dict[float, Tensor] = {}
        self._ones = torch.ones(size, dtype=dtype, device=device)

    @property
    def ones(self) -> Tensor:
        """Ones of the current chunk's length."""
        return self._ones if self.n == self.size else self._ones[: self.n]

    def buffers(self, k: int) -> list[Tensor]:
        """``k`` scratch tensors of the current chunk's length (their contents are garbage)."""
        while len(self._bufs) < k:
            self._bufs.append(torch.empty(self.size, dtype=self.dtype, device=self.device))
        if self.n == self.size:
            return self._bufs[:k]
        return [b[: self.n] for b in self._bufs[:k]]

    def c(self, value: float) -> Tensor:
        """``value`` as a cached 0-dim tensor of the compute dtype."""
        # Measured per-call overhead of a torch op: ~3 us with tensor arguments, ~8 us with a
        # Python scalar.
        t = self._consts.get(value)
        if t is None:
            t = self._consts[value] = torch.tensor(value, dtype=self.dtype, device=self.device)
        return t


class ChunkKernel(Protocol):
    """Loss and gradient of one chunk; every tensor is 1-D with the chunk's length.

    Args:
        ws: the thread's scratch space (``ws.n`` is the chunk length).
        x: input in the compute dtype.
        y: target in the compute dtype.
        aux: a per-element operand (e.g. ``pos_weight`` tiled along the last dim), a float, or
            ``None``.
        f: per-element factor of the loss, the weight times the reduction's scale (``1/N``,
            ``1/sum(w)`` or 1): a tensor, or a float when there is no per-element weight.
        vals: where to write ``loss * f`` (``reduction="none"``), or ``None``.
        grad: where to write ``d loss / d x * f * gmul`` (in the input's dtype), or ``None``.
        gmul: extra factor of the gradient only (1 except for float16 buffers).

    Returns:
        ``sum(loss * f)`` as a 0-dim tensor when ``vals`` is ``None``, else ``None``.
    """

    def __call__(
        self,
        ws: Workspace,
        x: Tensor,
        y: Tensor,
        aux: Tensor | float | None,
        f: Tensor | float,
        vals: Tensor | None,
        grad: Tensor | None,
        gmul: float,
    ) -> Tensor | None: ...


def weighted_sum(ws: Workspace, values: Tensor, f: Tensor | float) -> Tensor:
    """``sum(values * f)`` for a per-element tensor ``f`` or a float."""
    if isinstance(f, Tensor):
        return torch.dot(values, f)
    return values.sum() * ws.c(f)


def write_grad(ws: Workspace, g: Tensor, f: Tensor | float, gmul: float, grad: Tensor) -> None:
    """``grad = g * f * gmul``; the last multiply writes straight into the (any-dtype) buffer."""
    if isinstance(f, Tensor):
        if gmul != 1.0:
            g.mul_(ws.c(gmul))
        torch.mul(g, f, out=grad)
    else:
        torch.mul(g, ws.c(f * gmul), out=grad)


# --------------------------------------------------------------------------- operands
@dataclass
class _Operand:
    """A tensor broadcastable to the input's shape, read chunk by chunk."""

    kind: str  # "scalar" | "periodic" | "full"
    scalar: float = 0.0
    flat: Tensor | None = None  # period-long (periodic) or numel-long (full)

    @property
    def period(self) -> int:
        return int(self.flat.numel()) if self.kind == "periodic" and self.flat is not None else 1


def _operand(t: Tensor, shape: torch.Size, dtype: torch.dtype) -> _Operand:
    """Classify ``t`` (broadcastable to ``shape``) as a scalar, a periodic suffix or full.

    A tensor whose shape without leading 1s is a suffix of ``shape`` (per feature, per label)
    repeats with period ``t.numel()`` along the flattened input: it is tiled per chunk instead
    of expanded. Any other broadcast (per sample, ``(N, 1, ...)``) is materialised once, in
    ``dtype``.
    """
    t = t.detach()
    if t.numel() == 1:
        return _Operand("scalar", scalar=float(t.reshape(()).item()))
    dims = list(t.shape)
    while dims and dims[0] == 1:
        dims.pop(0)
    n = 1
    for s in shape:
        n *= int(s)
    if t.numel() == n:
        return _Operand("full", flat=t.reshape(-1))
    if tuple(dims) == tuple(shape[len(shape) - len(dims) :]):
        return _Operand("periodic", flat=t.reshape(-1).to(dtype))
    return _Operand("full", flat=t.to(dtype).expand(shape).reshape(-1))


def _operand_sum(op: _Operand, n: int) -> float:
    """Sum of the operand broadcast to ``n`` elements, in float64."""
    if op.kind == "scalar":
        return op.scalar * n
    assert op.flat is not None
    total = float(op.flat.sum(dtype=torch.float64).item())
    return total * (n // op.flat.numel()) if op.kind == "periodic" else total


def _operand_absmax(op: _Operand) -> float:
    if op.kind == "scalar":
        return abs(op.scalar)
    assert op.flat is not None
    return float(op.flat.abs().max().item()) if op.flat.numel() else 0.0


class _ChunkReader:
    """The slices of an operand for the chunks of :func:`_chunks`."""

    def __init__(self, op: _Operand, period: int, chunk_len: int) -> None:
        self.op = op
        self.tile: Tensor | None = None
        if op.kind == "periodic":
            assert op.flat is not None
            q = op.flat.numel()
            # chunk_len (or the period) is a multiple of q: suffix products divide each other
            length = chunk_len if period <= chunk_len else period
            self.tile = op.flat.repeat(length // q)

    def get(self, i0: int, i1: int, j0: int) -> Tensor | float:
        if self.op.kind == "scalar":
            return self.op.scalar
        if self.op.kind == "full":
            assert self.op.flat is not None
            return self.op.flat[i0:i1]
        assert self.tile is not None
        return self.tile[j0 : j0 + (i1 - i0)]


def _chunks(n: int, period: int, chunk: int) -> tuple[int, list[tuple[int, int, int]]]:
    """``(chunk_len, [(i0, i1, j0), ...])`` covering ``range(n)``.

    With ``period <= chunk`` each chunk holds whole periods and starts at a period boundary
    (``j0 = 0``, tiles are aligned); otherwise chunks never cross a period boundary and ``j0``
    is the offset inside the period.
    """
    if period <= chunk:
        length = (chunk // period) * period
        return length, [(i, min(i + length, n), 0) for i in range(0, n, length)]
    out = []
    for r in range(0, n, period):
        for j in range(0, period, chunk):
            out.append((r + j, r + min(j + chunk, period), j))
    return chunk, out


def _views(flat: Tensor | None, chunks: list[tuple[int, int, int]], uniform: int) -> list[Tensor | None]:
    """The chunk views of ``flat``: one ``split`` call when chunks are uniform."""
    if flat is None:
        return [None] * len(chunks)
    if uniform:  # one split call: ~2 us per view, cheaper than slicing each chunk
        return list(torch.split(flat, uniform))
    return [flat[i0:i1] for i0, i1, _ in chunks]


# --------------------------------------------------------------------------- driver
@dataclass
class _Run:
    kernel: ChunkKernel
    x: Tensor | None
    y: Tensor | None
    weight: Tensor | None
    aux: Tensor | None
    reduction: str
    grad_bound: float
    chunk: int
    scale: float | None = None
    """The reduction's scale ``k``, fixed by the first :meth:`execute` (a recomputation in
    backward reuses it: no second collective under ``global_batch``)."""

    def execute(self, need_grad: bool) -> tuple[Tensor, Tensor | None, float]:
        """Loss value, gradient buffer (or ``None``) and the scale pending on the buffer."""
        x, y = self.x, self.y
        assert x is not None and y is not None
        shape, n = x.shape, x.numel()
        cdt = compute_dtype(x, y)
        dev = x.device
        w = _operand(self.weight, shape, cdt) if self.weight is not None else None
        aux = _operand(self.aux, shape, cdt) if self.aux is not None else None
        period = max([1] + [o.period for o in (w, aux) if o is not None])
        chunk_len, chunks = _chunks(n, period, self.chunk)
        chunk_len = min(chunk_len, max(n, 1))
        uniform = chunk_len if period <= self.chunk else 0
        w_reader = _ChunkReader(w, period, chunk_len) if w is not None else None
        aux_reader = _ChunkReader(aux, period, chunk_len) if aux is not None else None

        # k: the reduction's scale, folded into the per-element factor f = w k.
        # Inside global_batch, "mean" divides by the global count / R and "sum" multiplies by R.
        k = 1.0
        if self.scale is not None:
            k = self.scale
        elif self.reduction == "mean":
            den = float(n) if w is None else _operand_sum(w, n)
            k = 1.0 / mean_denominator(den)  # divide-no-nan: the mean of nothing is 0
        elif self.reduction == "sum":
            k = float(global_sum_factor())
        self.scale = k
        # float16 buffers hold an O(1) gradient; bscale is applied in backward (docstring).
        gmul, bscale = 1.0, 1.0
        if need_grad and x.dtype == torch.float16:
            wmax = _operand_absmax(w) if w is not None else 1.0
            bscale = (wmax if wmax > 0 else 1.0) * self.grad_bound * k
            gmul = 1.0 / bscale

        grad = torch.empty(shape, dtype=x.dtype, device=dev) if need_grad else None
        vals = torch.empty(shape, dtype=cdt, device=dev) if self.reduction == "none" else None
        xs = _views(x.detach().reshape(-1), chunks, uniform)
        ys = _views(y.detach().reshape(-1), chunks, uniform)
        gs = _views(grad.view(-1) if grad is not None else None, chunks, uniform)
        vs = _views(vals.view(-1) if vals is not None else None, chunks, uniform)
        partials: list[Tensor | None] = [None] * len(chunks)
        kernel = self.kernel

        def work(next_chunk: Callable[[], int]) -> None:
            ws = Workspace(chunk_len, cdt, dev)
            xbuf = torch.empty(chunk_len, dtype=cdt, device=dev) if x.dtype != cdt else None
            ybuf = torch.empty(chunk_len, dtype=cdt, device=dev) if y.dtype != cdt else None
            fbuf = torch.empty(chunk_len, dtype=cdt, device=dev) if w_reader is not None else None
            while (ci := next_chunk()) < len(chunks):
                i0, i1, j0 = chunks[ci]
                m = i1 - i0
                ws.n = m
                xc, yc = xs[ci], ys[ci]
                assert xc is not None and yc is not None
                if xbuf is not None:  # half (or mixed) precision: compute in float32
                    xc = xbuf[:m].copy_(xc)
                if ybuf is not None:
                    yc = ybuf[:m].copy_(yc)
                f: Tensor | float = k
                if w_reader is not None:
                    wc = w_reader.get(i0, i1, j0)
                    if isinstance(wc, Tensor):
                        assert fbuf is not None
                        f = torch.mul(wc, ws.c(k), out=fbuf[:m])
                    else:
                        f = wc * k
                a = aux_reader.get(i0, i1, j0) if aux_reader is not None else None
                partials[ci] = kernel(ws, xc, yc, a, f, vs[ci], gs[ci], gmul)

        _run_chunks(work, len(chunks))
        if vals is not None:
            return vals, grad, bscale
        parts = [p for p in partials if p is not None]
        if not parts:
            return torch.zeros((), dtype=cdt, device=dev), grad, bscale
        return torch.stack(parts).sum(dtype=torch.float64).to(cdt), grad, bscale


_POOL: concurrent.futures.ThreadPoolExecutor | None = None
_POOL_KEY = (0, 0)  # (pid, size)
_POOL_LOCK = threading.Lock()


def _single_threaded_worker() -> None:
    # get_num_threads() first: torch initialises a thread's intra-op settings lazily, from the
    # process default, on first use; setting them before that would be overwritten.
    torch.get_num_threads()
    torch.set_num_threads(1)


# Pool against intra-op threads, measured (binary focal fwd+bwd, 8.4M logits, 2 cores, 64K
# chunks): idle, intra-op 88 ms and this pool 102 ms; with two busy processes competing for the
# cores, intra-op 389 ms and the pool 206 ms (torch's BCE-with-logits 221 ms). The pool gives up
# ~15 % on an idle machine to stay robust on a busy one.
def _pool(workers: int) -> concurrent.futures.ThreadPoolExecutor:
    """A process-wide pool of ``workers`` threads whose torch ops run single-threaded.

    Why single-threaded: each pool thread processes whole chunks; intra-op parallelism inside
    them would only add a nested OpenMP (or MKL) team per thread and a barrier per op. Setting
    a thread's intra-op thread count also rewrites torch's process-wide default for threads
    created later, so the default is restored once all pool threads have started (a one-time
    window at pool creation). Grown on demand, never shrunk; recreated in a forked child
    (DataLoader workers), where the parent's threads do not exist.
    """
    global _POOL, _POOL_KEY
    with _POOL_LOCK:
        pid, size = _POOL_KEY
        if _POOL is not None and pid == os.getpid() and workers <= size:
            return _POOL
        if _POOL is not None and pid == os.getpid():
            _POOL.shutdown(wait=False)  # queued work still runs; then its threads exit
        default = torch.get_num_threads()
        pool = concurrent.futures.ThreadPoolExecutor(
            workers, thread_name_prefix="losscraft-lean", initializer=_single_threaded_worker
        )
        started = threading.Barrier(workers + 1)
        futures = [pool.submit(started.wait) for _ in range(workers)]  # one per thread
        started.wait()
        for fut in futures:
            fut.result()
        torch.set_num_threads(default)
        _POOL, _POOL_KEY = pool, (os.getpid(), workers)
        return pool


def _reset_after_fork() -> None:  # pragma: no cover - runs in forked children
    global _POOL, _POOL_KEY, _POOL_LOCK
    _POOL, _POOL_KEY, _POOL_LOCK = None, (0, 0), threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def _run_chunks(work: Callable[[Callable[[], int]], None], nchunks: int) -> None:
    """Run ``work`` on ``torch.get_num_threads()`` single-threaded pool threads.

    ``work`` pulls chunk indices from a shared counter until they run out, so a thread that is
    descheduled simply processes fewer chunks. Torch ops release the GIL while they compute;
    only the Python glue between them is serialised. With one thread (or one chunk) ``work``
    runs on the calling thread.
    """
    counter = itertools.count()
    lock = threading.Lock()

    def next_chunk() -> int:
        with lock:
            return next(counter)

    def guarded() -> None:
        # Grad mode is thread-local: out= ops must not record. inference_mode rather than
        # no_grad: it also skips version-counter and view tracking, ~0.5 us of the ~3 us
        # each torch call costs (the scratch tensors it creates never leave the worker).
        with torch.inference_mode():
            work(next_chunk)

    workers = min(torch.get_num_threads(), nchunks)
    if workers <= 1:
        guarded()
        return
    futures = [_pool(workers).submit(guarded) for _ in range(workers)]
    for fut in futures:
        fut.result()


class _LeanElementwise(torch.autograd.Function):
    """Forward computes the loss and the gradient buffer; backward scales the buffer."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, x: Tensor, run: _Run, composed: Callable[[Tensor], Tensor]
    ) -> Tensor:
        value, buf, bscale = run.execute(need_grad=True)
        ctx.buf = buf
        ctx.bscale = bscale
        ctx.composed = composed
        ctx.batch = current_context()  # the composed recomputation runs under the same switch
        # For the rare second backward: the tensors (references, no copies; unpacking checks
        # that none was modified in place) and the settings to recompute the buffer.
        ctx.has = (run.weight is not None, run.aux is not None)
        ctx.save_for_backward(x, run.y, *(t for t in (run.weight, run.aux) if t is not None))
        ctx.run = dataclasses.replace(run, x=None, y=None, weight=None, aux=None)
        return value

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor | None, None, None]:  # type: ignore[override]
        buf: Tensor | None = ctx.buf
        ctx.buf = None  # hand the buffer over: autograd adopts it as x.grad without a copy
        if torch.is_grad_enabled():
            # create_graph=True: differentiate the composed loss instead (exact and
            # differentiable again, only slower).
            batch: BatchContext | None = ctx.batch
            with use_context(batch):
                return _recompute(ctx.composed, ctx.saved_tensors[0], grad_output), None, None
        scale: float = ctx.bscale
        if buf is None:
            # A second backward through the same graph (retain_graph=True): the first one
            # handed the buffer to autograd. Recompute it with the same kernel and chunking,
            # so repeated backward passes agree bitwise (gradcheck's reentrancy test).
            x, y, *rest = ctx.saved_tensors
            has_w, has_aux = ctx.has
            w = rest.pop(0) if has_w else None
            aux = rest.pop(0) if has_aux else None
            run = dataclasses.replace(ctx.run, x=x, y=y, weight=w, aux=aux)
            _, buf, scale = run.execute(need_grad=True)
            assert buf is not None
        if grad_output.dim() == 0:
            s = float(grad_output.item()) * scale
            if s != 1.0:  # loss.backward(): the buffer already is the gradient
                buf.mul_(s)
        elif scale == 1.0:
            buf.mul_(grad_output)
        else:
            buf.mul_(grad_output * scale)
        return buf, None, None


def _recompute(composed: Callable[[Tensor], Tensor], x: Tensor, grad_output: Tensor) -> Tensor:
    create_graph = torch.is_grad_enabled()
    with torch.enable_grad():
        xr = x if create_graph else x.detach().requires_grad_(True)
        out = composed(xr)
        (g,) = torch.autograd.grad(out, xr, grad_output, create_graph=create_graph)
    return g


def elementwise_loss(
    kernel: ChunkKernel,
    input: Tensor,
    target: Tensor,
    *,
    weight: Tensor | None,
    aux: Tensor | None,
    reduction: str,
    composed: Callable[[Tensor], Tensor],
    grad_bound: float = 1.0,
) -> Tensor:
    """Evaluate an elementwise loss with ``kernel``: lean in memory and time.

    Call it only when :func:`use_lean` holds.

    Args:
        kernel: the chunk kernel (loss and gradient of one chunk).
        input: the validated input, in its own dtype (chunks are cast to the compute dtype on
            the fly; nothing full-size is converted).
        target: the validated target, same shape as ``input``.
        weight: validated per-element weights broadcastable to ``input``, or ``None``.
        aux: an extra operand broadcastable to ``input`` for the kernel, or ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``, with the semantics of
            :func:`~losscraft._core.reduction.reduce` (weighted mean; 0 for an empty input).
        composed: ``composed(x)`` evaluates the same loss with composed torch ops (same target,
            weights and hyperparameters); used for higher-order gradients.
        grad_bound: an upper bound of ``|d loss / d x|`` per unit weight (float16 gradient
            buffers are normalised by it).

    Returns:
        The reduced loss (0-dim) or the per-element loss, in the compute dtype.
    """
    run = _Run(kernel, input, target, weight, aux, reduction, grad_bound, _STATE.chunk)
    if torch.is_grad_enabled() and input.requires_grad:
        out: Tensor = _LeanElementwise.apply(input, run, composed)  # type: ignore[no-untyped-call]
        return out
    value, _, _ = run.execute(need_grad=False)
    return value
