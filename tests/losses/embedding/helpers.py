"""Inputs, float64 references and comparisons shared by the embedding test files."""

from __future__ import annotations

import itertools
import math

import torch

D64 = torch.float64


def _emb(*shape: int, n: int = 2, seed: int = 0, scale: float = 1.0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [scale * torch.randn(shape, generator=g, dtype=D64) for _ in range(n)]


def _grad(fn, *tensors):
    ts = [t.detach().clone().requires_grad_(True) for t in tensors]
    out = fn(*ts)
    grads = torch.autograd.grad(out, ts)
    return out.detach(), grads


def _assert_same(fn_a, fn_b, tensors, rtol=1e-10, atol=1e-12) -> None:
    va, ga = _grad(fn_a, *tensors)
    vb, gb = _grad(fn_b, *tensors)
    torch.testing.assert_close(va, vb, rtol=rtol, atol=atol)
    for a, b in zip(ga, gb, strict=True):
        torch.testing.assert_close(a, b, rtol=rtol, atol=atol)


def _randn(*shape: int, seed: int = 0, scale: float = 1.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(shape, generator=g, dtype=D64)


def _grads(fn, *tensors: torch.Tensor):
    ts = [t.detach().clone().requires_grad_(True) for t in tensors]
    out = fn(*ts)
    return out.detach(), torch.autograd.grad(out, ts)


def _assert_value_and_grad(fn_a, fn_b, tensors, rtol: float = 1e-10, atol: float = 1e-12) -> None:
    va, ga = _grads(fn_a, *tensors)
    vb, gb = _grads(fn_b, *tensors)
    torch.testing.assert_close(va, vb, rtol=rtol, atol=atol)
    for a, b in zip(ga, gb, strict=True):
        torch.testing.assert_close(a, b, rtol=rtol, atol=atol)


def _cos(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    nu, nv = torch.sqrt((u * u).sum()), torch.sqrt((v * v).sum())
    return (u * v).sum() / (nu * nv)


def _logsumexp(xs: list[torch.Tensor]) -> torch.Tensor:
    m = max(float(x.detach()) for x in xs)
    return m + torch.log(sum(torch.exp(x - m) for x in xs))


def brute_force_triplets(d: torch.Tensor, labels: list[int], strategy: str, margin: float = 0.0):
    n = len(labels)
    out = []
    if strategy == "hard":
        for a in range(n):
            ps = [p for p in range(n) if p != a and labels[p] == labels[a]]
            ns = [k for k in range(n) if labels[k] != labels[a]]
            if ps and ns:
                p = max(ps, key=lambda j: (float(d[a, j]), -j))
                k = min(ns, key=lambda j: (float(d[a, j]), j))
                out.append((a, p, k))
        return out
    for a, p, k in itertools.product(range(n), repeat=3):
        if a == p or labels[a] != labels[p] or labels[k] == labels[a]:
            continue
        if strategy == "semihard" and not (d[a, p] < d[a, k] < d[a, p] + margin):
            continue
        out.append((a, p, k))
    return out


def ref_arcface_psi(c: float, m: float) -> float:
    """cos(acos(c) + m), with insightface's fallback c - m sin m when acos(c) + m > pi."""
    theta = math.acos(max(-1.0, min(1.0, c)))
    return math.cos(theta + m) if theta + m <= math.pi else c - m * math.sin(m)


def ref_margin_ce(cos: torch.Tensor, target: torch.Tensor, s: float, psi) -> torch.Tensor:
    out = []
    for i in range(cos.shape[0]):
        y = int(target[i])
        logits = [s * (psi(float(cos[i, j])) if j == y else float(cos[i, j])) for j in range(cos.shape[1])]
        mx = max(logits)
        out.append(mx + math.log(sum(math.exp(v - mx) for v in logits)) - logits[y])
    return torch.tensor(out, dtype=D64)


def _cos_batch(n: int = 6, c: int = 5, seed: int = 31) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    cos = torch.rand(n, c, generator=g, dtype=D64) * 1.9 - 0.95
    return cos, torch.randint(0, c, (n,), generator=g)


NAN, INF = math.nan, math.inf
