"""Inputs, float64 references and gradient helpers shared by the kernel test files."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import torch

D = torch.float64
LEAN = "_LeanElementwiseBackward"


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _data(seed: int, shape=(6, 7), scale: float = 3.0, dtype: torch.dtype = D):
    """Logits and a mix of hard and soft targets in [0, 1]."""
    g = _gen(seed)
    x = torch.randn(shape, generator=g, dtype=D) * scale
    t = torch.rand(shape, generator=g, dtype=D)
    t.view(-1)[::2] = (t.view(-1)[::2] > 0.5).to(D)
    return x.to(dtype), t.to(dtype)


def _focal_ref(x, t, gamma: float, alpha: float | None):
    """torchvision's sigmoid focal loss, written out (accurate for moderate logits)."""
    p = torch.sigmoid(x)
    ce = -(t * torch.log(p) + (1 - t) * torch.log(1 - p))
    p_t = p * t + (1 - p) * (1 - t)
    loss = ce * (1 - p_t) ** gamma
    if alpha is not None:
        loss = (alpha * t + (1 - alpha) * (1 - t)) * loss
    return loss


def _reduce(values, reduction: str, weight=None):
    w = torch.ones_like(values) if weight is None else weight.expand_as(values)
    if reduction == "none":
        return values * w
    if reduction == "sum":
        return (values * w).sum()
    return (values * w).sum() / w.sum()


def _value_grad_and_fn(fn: Callable[..., torch.Tensor], x, t, upstream=None, **kw):
    """Value and d(<value, upstream>)/dx; the target does not require grad (lean path)."""
    x = x.detach().clone().requires_grad_(True)
    out = fn(x, t, **kw)
    out.backward(torch.ones_like(out) if upstream is None else upstream)
    return out.detach(), x.grad, out.grad_fn


def _upstream(shape, seed: int = 99):
    """A non-uniform upstream gradient for reduction='none'."""
    return torch.randn(shape, generator=_gen(seed), dtype=D)


def _close(a, b, rtol=1e-10, atol=1e-12):
    for u, v in zip(a, b, strict=True):
        torch.testing.assert_close(u, v, rtol=rtol, atol=atol)


REDUCTIONS = ["mean", "sum", "none"]
HALF = [torch.float16, torch.bfloat16]


@contextmanager
def _saved_numels() -> Iterator[list[tuple[int, int]]]:
    """Record ``(numel, data_ptr)`` of every tensor autograd saves for backward."""
    seen: list[tuple[int, int]] = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        seen.append((t.numel(), t.untyped_storage().data_ptr()))
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        yield seen


def _small_blocks(monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    """Force blocks of ``size`` values in the shared planner: many blocks, images cut."""
    monkeypatch.setattr("losscraft._core.blocks.BLOCK_MIN", size)
    monkeypatch.setattr("losscraft._core.blocks.BLOCK_MAX", size)


def _grads(fn: Callable[..., torch.Tensor], x: torch.Tensor, *args: Any, **kw: Any):
    xr = x.detach().clone().requires_grad_(True)
    out = fn(xr, *args, **kw)
    up = torch.rand(out.shape, generator=_gen(99), dtype=out.dtype) + 0.5  # non-uniform
    (g,) = torch.autograd.grad(out, xr, grad_outputs=up)
    return out.detach(), g


def _class_case(shape: tuple[int, ...], seed: int, ignore: int | None = -100, scale: float = 3.0):
    g = _gen(seed)
    x = torch.randn(shape, generator=g, dtype=D) * scale
    t = torch.randint(0, shape[1], (shape[0], *shape[2:]), generator=g)
    if ignore is not None:
        t.view(-1)[::5] = ignore
    return x, t


MODES = ("binary", "multiclass", "multilabel")


def _overlap_case(mode: str, shape: tuple[int, ...], seed: int, ignore: int | None):
    g = _gen(seed)
    x = torch.randn(shape, generator=g, dtype=D) * 2
    if mode == "multiclass":
        t = torch.randint(0, shape[1], (shape[0], *shape[2:]), generator=g)
    else:
        t = (torch.rand(shape, generator=g, dtype=D) < 0.4).to(D)
    if ignore is not None:
        t.view(-1)[::6] = ignore
        if mode != "multiclass":
            t.view(-1)[1::6] = 0.3  # soft values among the kept
    return x, t
