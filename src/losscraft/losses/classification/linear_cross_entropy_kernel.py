r"""The chunked kernel of linear cross-entropy: ``cross_entropy(hidden @ weight.T + bias, target)``.

The output layer of a language model and its loss, computed together so that the
``(tokens, vocab)`` logits are never held in memory: tokens are processed in chunks, and the
gradients for ``hidden``, ``weight`` and ``bias`` are accumulated chunk by chunk inside a custom
:class:`torch.autograd.Function`.

Why a custom Function: the naive composition keeps the logits *and* the log-softmax (and, in
backward, the gradient of the logits) alive, three ``N x V`` buffers (6 GB at 4096 tokens and a
128k vocabulary). Here one ``chunk x V`` buffer is reused for every chunk; the largest tensor
is the weight gradient ``V x H``, which any implementation must return.

* ``reduction="mean"`` / ``"sum"``: the forward pass computes the loss *and* the gradients
  (three GEMMs in all; the upstream gradient is a scalar, applied in backward). The first
  backward hands the buffers over to autograd without copying; a later backward through a
  retained graph recomputes them with the same operations (bit-identical).
* ``reduction="none"``: the upstream gradient differs per token, so the forward pass computes
  only the losses, and backward recomputes each chunk's logits (four GEMMs in all) with the
  per-token upstream weights folded in.

Where the chunked Function does not apply, the exact formula is composed from torch ops
(:func:`linear_cross_entropy_composed`), materialising the logits: for higher-order
gradients (a backward pass with ``create_graph=True`` recomputes the loss that way from the
saved inputs and differentiates it, so gradient penalties are exact, only slower and without
the memory saving) and under ``torch.func`` transforms (``vmap``, ``grad``, ``jacrev``,
``jvp``) and forward-mode AD (the Function reads the number of ignored tokens back to the host
and computes its gradients in the forward pass).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..._core.checks import compute_dtype, is_compiling, to_compute
from ..._core.distributed import BatchContext, current_context, global_sum_factor, use_context
from ..._core.reduction import mean_denominator, reduce

__all__ = [
    "CHUNK_FLOOR_BYTES",
    "LCEConfig",
    "default_chunk_size",
    "linear_cross_entropy_chunked",
    "linear_cross_entropy_composed",
]

CHUNK_FLOOR_BYTES = 32 * 2**20
"""The smallest memory budget (bytes) of one chunk of logits when ``chunk_size=None``."""


def default_chunk_size(num_tokens: int, num_classes: int, hidden_size: int, dtype: torch.dtype) -> int:
    r"""The number of tokens per chunk used when ``chunk_size=None``: a memory budget.

    One chunk of logits (``chunk x V`` in the compute dtype: float32 for half inputs) may take
    ``max(CHUNK_FLOOR_BYTES, weight-gradient bytes / 4)``, i.e. ``max(32 MiB, V * H * s / 4)``
    for an element size ``s``; so the number of tokens is ``max(32 MiB / (V * s), H / 4)``,
    clipped to ``[1, num_tokens]``.

    Why this budget: the weight gradient (``V x H``) must be returned whatever the
    implementation, so a chunk a quarter of its size adds at most 25 % to the loss's memory
    (peak about ``1.25 V H s + N H s``), while the chunk GEMM that accumulates the weight
    gradient still has an inner dimension of ``H / 4`` tokens, enough to keep it compute-bound
    (far smaller chunks re-read and re-write the whole ``V x H`` gradient once per chunk and
    become memory-bound). At ``H = 1024`` and float32 this is 256 tokens for a 128k
    vocabulary and 262 (the 32 MiB floor) for a 32k one: with 4096 tokens, a peak of about
    0.38 (32k) and 0.33 (128k) of the full float32 logits.

    Args:
        num_tokens: ``N``, the number of (non-ignored) tokens.
        num_classes: ``V``, the vocabulary size (rows of ``weight``).
        hidden_size: ``H``, the hidden size (columns of ``weight``).
        dtype: the compute dtype (float32 or float64).

    Returns:
        The chunk size in tokens, at least 1.
    """
    item = torch.empty((), dtype=dtype).element_size()
    budget = max(CHUNK_FLOOR_BYTES, num_classes * hidden_size * item // 4)
    tokens = budget // max(1, num_classes * item)
    return int(max(1, min(num_tokens, tokens)))


@dataclass(frozen=True)
class LCEConfig:
    """Hyperparameters of one call, passed through the autograd Function."""

    ignore_index: int
    label_smoothing: float
    z_loss: float
    chunk_size: int | None
    reduction: str


@dataclass
class _Plan:
    """Which tokens are computed and how each one's loss enters the result.

    ``rows`` lists the non-ignored token indices (``None``: all ``N`` tokens, in order);
    ``keep`` is the not-ignored mask when ignored tokens are computed and then zeroed
    (inside ``torch.compile``, where a data-dependent ``nonzero`` would break the graph);
    ``count`` is the number of non-ignored tokens (an int, or a tensor under ``keep``).
    """

    target: Tensor  # (N,) long, ignored positions replaced by class 0 (in range for gathers)
    rows: Tensor | None
    keep: Tensor | None
    count: int | Tensor


def _plan(target: Tensor, ignore_index: int) -> _Plan:
    mask = target != ignore_index
    safe = torch.where(mask, target, torch.zeros_like(target))
    if is_compiling():
        return _Plan(safe, None, mask, mask.sum())
    n_valid = int(mask.sum().item())
    if n_valid == target.numel():
        return _Plan(safe, None, None, n_valid)
    # Why compact: ignored tokens (prompts, padding) often are most of a batch; skipping them
    # skips their GEMMs instead of computing and discarding them.
    return _Plan(safe, mask.nonzero().squeeze(1), None, n_valid)


def _row_weights(plan: _Plan, reduction: str, n: int, dt: torch.dtype, device: torch.device) -> Tensor:
    """d(result)/d(loss of each computed row) for "mean"/"sum" (ignored rows: 0).

    Inside ``global_batch`` over R ranks: "mean" divides by the global count / R (through
    ``mean_denominator``) and "sum" weighs every row R.
    """
    m = n if plan.rows is None else int(plan.rows.numel())
    r = global_sum_factor() if reduction == "sum" else 1
    if plan.keep is not None:
        w = plan.keep.to(dt)
        if reduction == "mean":
            count = plan.count if isinstance(plan.count, Tensor) else torch.tensor(plan.count)
            # divide-no-nan: all ignored -> weights 0, result 0 with zero gradients.
            w = w / mean_denominator(count.to(dt))
        elif r != 1:
            w = w * r
        return w
    scale = 1.0 / mean_denominator(int(plan.count)) if reduction == "mean" else float(r)
    return torch.full((m,), scale, dtype=dt, device=device)


def _chunked(
    h: Tensor,
    w: Tensor,
    b: Tensor | None,
    plan: _Plan,
    cfg: LCEConfig,
    row_weight: Tensor | None,
    need: tuple[bool, bool, bool],
    want_loss: bool,
) -> tuple[Tensor | None, Tensor | None, Tensor | None, Tensor | None]:
    r"""One pass over the tokens in chunks: per-row losses and/or weighted gradients.

    With $z = W h + b$, $\mathrm{lse} = \log\sum_c e^{z_c}$, $p = \mathrm{softmax}(z)$ and the
    row weight $g$ (d result / d loss of the row), the logit gradient of a row is
    $g\,[(1 + 2\lambda\,\mathrm{lse})\,p - (1-\varepsilon)\,\mathrm{onehot}(y) - \varepsilon/V]$.
    It is never formed: the exponentials ``e = exp(z - max)`` (in the chunk buffer) go into the
    GEMMs with the row factor ``coef = g (1 + 2 lambda lse) / sum(e)``; the one-hot part (one
    logit per row) is applied as row gathers/scatters (``index_select`` / ``index_add_``) and
    the uniform part (the same for every logit) as rank-one corrections. This saves two full
    passes over the chunk per step compared with building the gradient of the logits.

    Args:
        h: ``(N, H)`` hidden states in the compute dtype.
        w: ``(V, H)`` classifier in the compute dtype.
        b: ``(V,)`` bias in the compute dtype, or ``None``.
        plan: targets and row selection (see :class:`_Plan`).
        cfg: hyperparameters.
        row_weight: weight of each computed row (``(M,)``), needed when any gradient is.
        need: whether to compute the gradient of ``(h, w, b)``.
        want_loss: whether to return the per-row losses.

    Returns:
        ``(loss of each computed row (M,), grad_h (N, H), grad_w (V, H), grad_b (V,))``, each
        ``None`` when not requested.
    """
    n, hidden = h.shape
    v = w.shape[0]
    dt, dev = h.dtype, h.device
    rows = plan.rows
    m = n if rows is None else int(rows.numel())
    eps, lam = cfg.label_smoothing, cfg.z_loss
    need_h, need_w, need_b = need
    grads = need_h or need_w or need_b

    # Some rows are never written when tokens are skipped: their gradient is zero.
    gh = (torch.empty if rows is None else torch.zeros)((n, hidden), dtype=dt, device=dev) if need_h else None
    gw = torch.zeros((v, hidden), dtype=dt, device=dev) if need_w else None
    gb = torch.zeros((v,), dtype=dt, device=dev) if need_b else None
    losses = torch.empty((m,), dtype=dt, device=dev) if want_loss else None
    # Label smoothing needs sum_c z_c = h . sum_c W_c + sum_c b_c: one (H,) vector, no chunk pass.
    w_sum = w.sum(0) if eps > 0 else None
    b_sum = b.sum() if (eps > 0 and b is not None) else None
    h_acc = torch.zeros((hidden,), dtype=dt, device=dev) if (eps > 0 and need_w) else None
    b_acc = torch.zeros((), dtype=dt, device=dev) if (eps > 0 and need_b) else None

    chunk = cfg.chunk_size or default_chunk_size(m, v, hidden, dt)
    chunk = max(1, min(chunk, m))
    # The chunk buffer holds the logits *transposed*, (V, chunk): the GEMM W @ h_c^T then has
    # the large operand W first, which measured ~10 % faster on CPU (MKL) than h_c @ W^T for
    # 256-token chunks, and the softmax reductions run over dim 0, vectorised along tokens.
    buf = torch.empty((v * chunk,), dtype=dt, device=dev) if m > 0 else None
    for s in range(0, m, chunk):
        e = min(s + chunk, m)
        assert buf is not None
        if rows is None:
            hc, tc = h[s:e], plan.target[s:e]
            rc = None
        else:
            rc = rows[s:e]
            hc, tc = h.index_select(0, rc), plan.target.index_select(0, rc)
        # A contiguous (V, k) view of the buffer's first V * k elements (also for a short last
        # chunk: a strided view would make the out= GEMM allocate a temporary).
        z = buf[: v * (e - s)].view(v, e - s)
        if b is None:
            torch.mm(w, hc.t(), out=z)
        else:
            torch.addmm(b.unsqueeze(1), w, hc.t(), out=z)
        zy = z.gather(0, tc.unsqueeze(0)).squeeze(0)  # before z is overwritten in place
        mx = z.amax(0, keepdim=True)
        # In place: the chunk buffer becomes e = exp(z - max) (no second chunk-sized tensor).
        z.sub_(mx).exp_()
        se = z.sum(0)
        lse = mx.squeeze(0) + se.log()
        if losses is not None:
            # torch's label smoothing: (1 - eps) CE + eps * mean_c(-log p_c)
            #   = lse - (1 - eps) z_y - eps / V * sum_c z_c.
            loss = lse - (1.0 - eps) * zy
            if w_sum is not None:
                zsum = hc @ w_sum
                if b_sum is not None:
                    zsum = zsum + b_sum
                loss = loss - (eps / v) * zsum
            if lam > 0:
                loss = loss + lam * lse * lse  # PaLM's z-loss: lambda * lse^2
            losses[s:e] = loss
        if not grads:
            continue
        assert row_weight is not None
        g = row_weight[s:e]
        coef = g / se if lam == 0 else g * (1.0 + 2.0 * lam * lse) / se  # p = e / sum(e)
        a = g * (1.0 - eps)  # weight of the one-hot part
        if need_h:
            assert gh is not None
            ghc = gh[s:e] if rc is None else torch.empty((e - s, hidden), dtype=dt, device=dev)
            torch.mm(z.t(), w, out=ghc)
            ghc.mul_(coef.unsqueeze(1))
            ghc.addcmul_(w.index_select(0, tc), a.unsqueeze(1), value=-1.0)
            if w_sum is not None:
                ghc.addr_(g * (eps / v), w_sum, alpha=-1.0)
            if rc is not None:
                gh.index_copy_(0, rc, ghc)
        if need_w:
            assert gw is not None
            gw.addmm_(z, hc * coef.unsqueeze(1))
            gw.index_add_(0, tc, hc * (-a).unsqueeze(1))
            if h_acc is not None:
                h_acc.addmv_(hc.t(), g * (eps / v))
        if need_b:
            assert gb is not None
            gb.addmv_(z, coef)
            gb.index_add_(0, tc, -a)
            if b_acc is not None:
                b_acc.add_(g.sum() * (eps / v))
    # The uniform part of the smoothed target, -eps/V per logit, summed over all chunks once.
    if gw is not None and h_acc is not None:
        gw.sub_(h_acc)
    if gb is not None and b_acc is not None:
        gb.sub_(b_acc)
    return losses, gh, gw, gb


def linear_cross_entropy_composed(
    hidden: Tensor, weight: Tensor, bias: Tensor | None, target: Tensor, cfg: LCEConfig
) -> Tensor:
    """The same loss composed of differentiable torch ops on the full ``(N, V)`` logits.

    The reference for higher-order gradients and ``torch.func`` transforms: no host reads, no
    data-dependent branches (ignored tokens are computed and zeroed), differentiable to any
    order in ``hidden``, ``weight`` and ``bias``. ``hidden`` is ``(N, H)``, ``target`` ``(N,)``.
    """
    dt = compute_dtype(hidden, weight, bias)
    h, w = to_compute(hidden, dt), to_compute(weight, dt)
    z = h @ w.t() if bias is None else torch.addmm(to_compute(bias, dt), h, w.t())
    keep = target != cfg.ignore_index
    safe = torch.where(keep, target, torch.zeros_like(target))  # ignored: class 0, zeroed below
    lse = torch.logsumexp(z, dim=1)
    loss = lse - (1.0 - cfg.label_smoothing) * z.gather(1, safe.unsqueeze(1)).squeeze(1)
    if cfg.label_smoothing > 0:
        loss = loss - (cfg.label_smoothing / z.shape[1]) * z.sum(1)
    if cfg.z_loss > 0:
        loss = loss + cfg.z_loss * lse * lse
    # The one reducer: ignored tokens 0, "mean" over the kept ones, 0 when all are ignored.
    return reduce(loss, cfg.reduction, mask=keep)


def _inputs_in(ctx: Any) -> tuple[Tensor, Tensor, Tensor | None, Tensor, torch.dtype]:
    hidden, weight, bias, target = ctx.saved_tensors
    dt = compute_dtype(hidden, weight, bias)
    return hidden, weight, bias, target, dt


class _LinearCrossEntropy(torch.autograd.Function):
    """Chunked linear cross-entropy; see the module docstring for the two strategies."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        hidden: Tensor,
        weight: Tensor,
        bias: Tensor | None,
        target: Tensor,
        cfg: LCEConfig,
        need: tuple[bool, bool, bool],
    ) -> Tensor:
        dt = compute_dtype(hidden, weight, bias)
        # float16/bfloat16 are computed in float32: one float32 copy of the inputs (the GEMMs
        # accumulate and the softmax runs in float32; the result is float32).
        h, w = to_compute(hidden, dt), to_compute(weight, dt)
        b = None if bias is None else to_compute(bias, dt)
        plan = _plan(target, cfg.ignore_index)
        n = h.shape[0]
        ctx.cfg = cfg
        ctx.save_for_backward(hidden, weight, bias, target)
        ctx.grads = None
        if cfg.reduction == "none":
            losses, _, _, _ = _chunked(h, w, b, plan, cfg, None, (False, False, False), True)
            assert losses is not None
            if plan.rows is not None:
                return torch.zeros((n,), dtype=dt, device=h.device).index_copy_(0, plan.rows, losses)
            if plan.keep is not None:
                return torch.where(plan.keep, losses, losses.new_zeros(()))
            return losses
        rw = _row_weights(plan, cfg.reduction, n, dt, h.device)
        # Kept for a retained graph's later backward (no second collective under global_batch),
        # and the switch for the composed recomputation (create_graph=True).
        ctx.rw, ctx.batch = rw, current_context()
        losses, gh, gw, gb = _chunked(h, w, b, plan, cfg, rw, need, True)
        assert losses is not None
        # sum_i g_i l_i with g_i = 1/count (mean), 1 (sum; R inside global_batch), 0 for ignored
        # rows; the row weights are exactly the ones the gradients were computed with.
        plain_sum = cfg.reduction == "sum" and plan.keep is None and global_sum_factor() == 1
        out = losses.sum() if plain_sum else torch.dot(losses, rw)
        if any(need):
            # Handed to backward in the inputs' dtypes (halves the stored bytes for fp16/bf16).
            ctx.grads = (
                None if gh is None else gh.to(hidden.dtype),
                None if gw is None else gw.to(weight.dtype),
                None if gb is None or bias is None else gb.to(bias.dtype),
            )
        return out

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        cfg: LCEConfig = ctx.cfg
        hidden, weight, bias, target, dt = _inputs_in(ctx)
        need = (
            ctx.needs_input_grad[0],
            ctx.needs_input_grad[1],
            bias is not None and ctx.needs_input_grad[2],
        )
        if torch.is_grad_enabled():
            # create_graph=True: the gradient buffers are constants, so differentiate the
            # composed formula recomputed from the saved inputs (exact to any order).
            ctx.grads = None
            batch: BatchContext | None = getattr(ctx, "batch", None)
            with use_context(batch):
                grads_c = _composed_grads(hidden, weight, bias, target, cfg, grad_out, need)
            return (*grads_c, None, None, None)
        if cfg.reduction == "none":
            h, w = to_compute(hidden, dt), to_compute(weight, dt)
            b = None if bias is None else to_compute(bias, dt)
            plan = _plan(target, cfg.ignore_index)
            g = grad_out.reshape(-1).to(dt)
            if plan.rows is not None:
                g = g.index_select(0, plan.rows)
            elif plan.keep is not None:
                g = torch.where(plan.keep, g, g.new_zeros(()))
            _, gh, gw, gb = _chunked(h, w, b, plan, cfg, g, need, False)
            grads: tuple[Tensor | None, ...] = (
                None if gh is None else gh.to(hidden.dtype),
                None if gw is None else gw.to(weight.dtype),
                None if gb is None or bias is None else gb.to(bias.dtype),
            )
        else:
            if ctx.grads is not None:
                # First backward: hand the buffers over. Dropping ctx's reference lets autograd
                # adopt them as .grad without a copy (a V x H copy would double the peak).
                grads, ctx.grads = ctx.grads, None
            else:
                # A retained graph's later backward: recompute with the same operations, so
                # the result is bit-identical to the first.
                h, w = to_compute(hidden, dt), to_compute(weight, dt)
                b = None if bias is None else to_compute(bias, dt)
                plan = _plan(target, cfg.ignore_index)
                rw = ctx.rw
                _, gh, gw, gb = _chunked(h, w, b, plan, cfg, rw, need, False)
                grads = (
                    None if gh is None else gh.to(hidden.dtype),
                    None if gw is None else gw.to(weight.dtype),
                    None if gb is None or bias is None else gb.to(bias.dtype),
                )
            if is_compiling() or bool((grad_out != 1).item()):
                # We own these buffers now: scale in place instead of allocating copies.
                grads = tuple(None if t is None else t.mul_(grad_out.to(t.dtype)) for t in grads)
        gh_, gw_, gb_ = grads
        return (
            gh_ if need[0] else None,
            gw_ if need[1] else None,
            gb_ if need[2] else None,
            None,
            None,
            None,
        )


def _composed_grads(
    hidden: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    target: Tensor,
    cfg: LCEConfig,
    grad_out: Tensor,
    need: tuple[bool, bool, bool],
) -> list[Tensor | None]:
    """Differentiable gradients of :func:`linear_cross_entropy_composed` for ``(hidden, weight, bias)``."""
    wrt = [t for t, n in zip((hidden, weight, bias), need, strict=True) if n and t is not None]
    with torch.enable_grad():
        out = linear_cross_entropy_composed(hidden, weight, bias, target, cfg)
        grads = iter(torch.autograd.grad(out, wrt, grad_out, create_graph=True))
    return [
        next(grads) if n and t is not None else None
        for t, n in zip((hidden, weight, bias), need, strict=True)
    ]


def linear_cross_entropy_chunked(
    hidden: Tensor, weight: Tensor, bias: Tensor | None, target: Tensor, cfg: LCEConfig
) -> Tensor:
    """The loss by the chunked Function: ``hidden`` ``(N, H)``, ``target`` ``(N,)`` long.

    The reduced loss, or the ``(N,)`` per-token losses (0 where ignored) for ``"none"``.
    """
    grad_on = torch.is_grad_enabled()
    need = (
        grad_on and hidden.requires_grad,
        grad_on and weight.requires_grad,
        grad_on and bias is not None and bias.requires_grad,
    )
    out = _LinearCrossEntropy.apply(hidden, weight, bias, target, cfg, need)  # type: ignore[no-untyped-call]
    loss: Tensor = out
    return loss
