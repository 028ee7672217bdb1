"""Inputs, float64 runners and tolerances shared by the classification test files."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

D = torch.float64
HALF = [torch.float16, torch.bfloat16]
TIGHT12 = {"rtol": 1e-12, "atol": 1e-12}


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _run(fn, x, *rest, **kw):
    """Value and d(sum of value)/d input (and any floating second argument), in float64."""
    x = x.detach().clone().requires_grad_(True)
    others = [r.detach().clone().requires_grad_(r.is_floating_point()) for r in rest]
    out = fn(x, *others, **kw)
    out.backward(torch.ones_like(out))
    grads = [x.grad] + [o.grad for o in others if o.is_floating_point()]
    return [out.detach(), *grads]


def _close12(a, b, **tol):
    tol = tol or TIGHT12
    assert len(a) == len(b)
    for u, v in zip(a, b, strict=True):
        torch.testing.assert_close(u, v, **tol)


def _logits(seed: int, shape=(6, 5), scale: float = 3.0):
    g = _gen(seed)
    x = torch.randn(shape, generator=g, dtype=D) * scale
    t = torch.rand(shape, generator=g, dtype=D)
    t.view(-1)[::2] = (t.view(-1)[::2] > 0.5).to(D)  # mix of hard and soft targets
    return x, t


def _ce_case(seed: int, shape, ignore: int | None = None, n_ignore: int = 0):
    g = _gen(seed)
    c = shape[1]
    x = torch.randn(shape, generator=g, dtype=D) * 2
    t = torch.randint(0, c, (shape[0], *shape[2:]), generator=g)
    if ignore is not None and n_ignore:
        t.view(-1)[:n_ignore] = ignore
    return x, t


LOW = [torch.float32, *HALF]
TIGHT = {"rtol": 1e-10, "atol": 1e-12}
REDUCTIONS = ["mean", "sum", "none"]


def _case(seed: int, shape=(7, 4), ignore: int | None = None, n_ignore: int = 0, scale: float = 2.0):
    g = _gen(seed)
    x = torch.randn(shape, generator=g, dtype=D) * scale
    t = torch.randint(0, shape[1], (shape[0], *shape[2:]), generator=g)
    if ignore is not None and n_ignore:
        t.view(-1)[:n_ignore] = ignore
    return x, t


def _rows(x: torch.Tensor, t: torch.Tensor) -> list[tuple[list[float], int]]:
    """(N, C, *) logits and (N, *) targets as a flat list of (logit vector, class) positions."""
    c = x.shape[1]
    xs = x.detach().movedim(1, -1).reshape(-1, c).tolist()
    return list(zip(xs, t.reshape(-1).tolist(), strict=True))


def _softmax(z: list[float]) -> list[float]:
    m = max(z)
    e = [math.exp(v - m) for v in z]
    s = sum(e)
    return [v / s for v in e]


def _reduce_ref(values: list[float], keep: list[bool], reduction: str, shape, w: list[float] | None = None):
    """Plain reduction: 'none' = values (0 at ignored), 'mean' = sum(w l) / sum(w) over kept."""
    w = w or [1.0] * len(values)
    v = [vi * wi if k else 0.0 for vi, wi, k in zip(values, w, keep, strict=True)]
    if reduction == "none":
        return torch.tensor(v, dtype=D).reshape(shape)
    if reduction == "sum":
        return torch.tensor(sum(v), dtype=D)
    den = sum(wi for wi, k in zip(w, keep, strict=True) if k)
    return torch.tensor(sum(v) / den if den > 0 else 0.0, dtype=D)


def _close(a, b, **tol):
    tol = tol or TIGHT
    assert len(a) == len(b)
    for u, v in zip(a, b, strict=True):
        torch.testing.assert_close(u, v, **tol)


def _naive_index(fn_row, x, t, ignore_index=-100, reduction="mean"):
    """Reference: fn_row(z, y) -> float for every kept position, reduced plainly."""
    rows = _rows(x, t)
    keep = [y != ignore_index for _, y in rows]
    vals = [fn_row(z, y) if k else 0.0 for (z, y), k in zip(rows, keep, strict=True)]
    return _reduce_ref(vals, keep, reduction, t.shape)


PRIORS = torch.tensor([0.6, 0.25, 0.1, 0.05], dtype=D)
COUNTS = torch.tensor([800.0, 150.0, 40.0, 10.0], dtype=D)
LDAM_COUNTS = torch.tensor([5000.0, 500.0, 50.0, 5.0], dtype=D)
LDAM_W = torch.tensor([0.2, 0.7, 1.5, 3.0], dtype=D)
IGN = -100


def _problem(seed: int, n: int = 13, h: int = 6, v: int = 11, ignored: tuple[int, ...] = (2, 5), dtype=D):
    g = _gen(seed)
    hidden = torch.randn(n, h, generator=g, dtype=D)
    weight = torch.randn(v, h, generator=g, dtype=D)
    bias = torch.randn(v, generator=g, dtype=D)
    target = torch.randint(0, v, (n,), generator=g)
    for i in ignored:
        if i < n:
            target[i] = IGN
    return hidden.to(dtype), weight.to(dtype), bias.to(dtype), target


def _reference(
    hidden, weight, bias, target, *, ignore_index=IGN, label_smoothing=0.0, z_loss=0.0, reduction="mean"
):
    """The composed formula on the full logits (float64 in the tests)."""
    z = hidden @ weight.T
    if bias is not None:
        z = z + bias
    zf = z.reshape(-1, z.shape[-1])
    tf = target.reshape(-1)
    ce = F.cross_entropy(zf, tf, ignore_index=ignore_index, label_smoothing=label_smoothing, reduction="none")
    keep = tf != ignore_index
    lse = torch.logsumexp(zf, dim=1)
    per = ce + z_loss * torch.where(keep, lse * lse, torch.zeros_like(lse))
    if reduction == "none":
        return per.reshape(target.shape)
    if reduction == "sum":
        return per.sum()
    return per.sum() / keep.sum().clamp_min(1)


def _value_and_grads(fn, hidden, weight, bias, target, upstream=None, **kw):
    leaves = [hidden.detach().clone().requires_grad_(True), weight.detach().clone().requires_grad_(True)]
    b = None if bias is None else bias.detach().clone().requires_grad_(True)
    out = fn(leaves[0], leaves[1], target, bias=b, **kw)
    out.backward(torch.ones_like(out) if upstream is None else upstream)
    grads = [leaves[0].grad, leaves[1].grad] + ([] if b is None else [b.grad])
    return out.detach(), grads


def _ref_fn(hidden, weight, target, *, bias=None, chunk_size=None, **kw):
    return _reference(hidden, weight, bias, target, **kw)
