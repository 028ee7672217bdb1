"""Every entry works under ``torch.func`` transforms, function and Module form.

``vmap`` over a leading batch of independent calls equals stacking the direct calls, ``grad``
equals the autograd gradient, and forward mode (``torch.func.jvp`` and
``torch.autograd.forward_ad`` dual tensors) gives the directional derivative. Under the transforms the value checks skip tensors whose
values are not concrete (batched by ``vmap``), as they do while ``torch.compile`` traces, and
the lean custom-autograd kernels give way to their composed formulas
(``docs/conventions.md``, *Errors*).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.autograd.forward_ad as fwAD

import losscraft.functional as LF
from losscraft import LosscraftError, LossEntry
from losscraft._core.checks import values_are_concrete

from lc_helpers import ENTRIES, IDS, diff_positions, sample

D = torch.float64


def _loss(entry: LossEntry, form: str, reduction: str, kwargs: dict[str, Any]) -> Callable[..., torch.Tensor]:
    if form == "function":
        return lambda *args: entry.function(*args, reduction=reduction, **kwargs)
    assert entry.module is not None
    module = entry.module(reduction=reduction)
    return lambda *args: module(*args, **kwargs)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
@pytest.mark.parametrize("reduction", ["mean", "none"])
@pytest.mark.parametrize("form", ["function", "module"])
def test_vmap_equals_stacked_calls(entry: LossEntry, reduction: str, form: str) -> None:
    calls = [sample(entry, 3, seed=s) for s in range(3)]
    kwargs = calls[0].kwargs
    assert all(c.kwargs == kwargs for c in calls), "the batched calls share their keyword arguments"
    batched = tuple(torch.stack([c.args[i] for c in calls]) for i in range(len(calls[0].args)))
    loss = _loss(entry, form, reduction, kwargs)
    out = torch.func.vmap(loss)(*batched)
    want = torch.stack([loss(*c.args) for c in calls])
    assert out.dtype == want.dtype
    torch.testing.assert_close(out, want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
@pytest.mark.parametrize("form", ["function", "module"])
def test_grad_equals_autograd(entry: LossEntry, form: str) -> None:
    c = sample(entry, 3, seed=5)
    i = diff_positions(entry, c.args)[0]
    loss = _loss(entry, form, "mean", c.kwargs)

    def scalar(x: torch.Tensor) -> torch.Tensor:
        args = list(c.args)
        args[i] = x
        return loss(*args)

    g = torch.func.grad(scalar)(c.args[i])
    x = c.args[i].detach().clone().requires_grad_(True)
    (want,) = torch.autograd.grad(scalar(x), x)
    torch.testing.assert_close(g, want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
@pytest.mark.parametrize("mode", ["torch.func.jvp", "forward_ad"])
def test_forward_mode_equals_autograd(entry: LossEntry, mode: str) -> None:
    """The directional derivative ``<grad, v>`` from forward-mode AD, never a lost tangent."""
    c = sample(entry, 3, seed=6)
    i = diff_positions(entry, c.args)[0]
    loss = _loss(entry, "function", "mean", c.kwargs)

    def scalar(x: torch.Tensor) -> torch.Tensor:
        args = list(c.args)
        args[i] = x
        return loss(*args)

    v = torch.linspace(-1.0, 1.5, c.args[i].numel(), dtype=c.args[i].dtype).reshape(c.args[i].shape)
    if mode == "torch.func.jvp":
        _, tangent = torch.func.jvp(scalar, (c.args[i],), (v,))
    else:
        with fwAD.dual_level():
            tangent = fwAD.unpack_dual(scalar(fwAD.make_dual(c.args[i], v))).tangent
    assert tangent is not None, "the tangent was lost"
    x = c.args[i].detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(scalar(x), x)
    torch.testing.assert_close(tangent, (g * v).sum(), rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------- the value-check rule
def test_values_are_concrete_except_for_vmapped_tensors() -> None:
    x = torch.randn(3, 2, dtype=D)
    seen: list[tuple[bool, bool]] = []

    def probe(a: torch.Tensor) -> torch.Tensor:
        seen.append((values_are_concrete(a), values_are_concrete(x)))  # x: captured, not batched
        return a.sum()

    probe(x[0])
    torch.func.grad(probe)(x[0])
    torch.func.vmap(probe)(x)
    torch.func.vmap(torch.func.grad(probe))(x)
    torch.func.grad(lambda a: torch.func.vmap(probe)(a).sum())(x)
    assert seen == [(True, True), (True, True), (False, True), (False, True), (False, True)]


def test_value_checks_still_run_where_values_are_concrete() -> None:
    """Under ``grad``, and for a tensor captured (not batched) by ``vmap``, bad values raise."""
    x = torch.randn(3, 4, dtype=D)
    bad = torch.tensor([0, 7, 1])  # class 7 of 4
    with pytest.raises(LosscraftError, match="class index 7"):
        torch.func.grad(lambda a: LF.cross_entropy_loss(a, bad))(x)
    with pytest.raises(LosscraftError, match="class index 7"):
        torch.func.vmap(lambda a: LF.cross_entropy_loss(a, bad))(x.expand(2, 3, 4))
    probs = torch.tensor([[0.5, 1.5]], dtype=D)  # not probabilities
    with pytest.raises(LosscraftError, match="'target' must contain"):
        torch.func.grad(lambda a: LF.bce_with_logits_loss(a, probs))(torch.zeros(1, 2, dtype=D))


def test_linear_cross_entropy_under_transforms_matches_torch() -> None:
    """``grad``/``vmap``/``jacrev`` over the chunked loss equal torch's on the materialised logits."""
    g = torch.Generator().manual_seed(3)
    h, w = torch.randn(2, 6, 4, generator=g, dtype=D), torch.randn(7, 4, generator=g, dtype=D)
    t = torch.randint(0, 7, (2, 6), generator=g)
    t[0, 2] = -100

    def ours(hh: torch.Tensor, ww: torch.Tensor, tt: torch.Tensor) -> torch.Tensor:
        return LF.linear_cross_entropy_loss(hh, ww, tt, label_smoothing=0.1, chunk_size=2)

    def torchs(hh: torch.Tensor, ww: torch.Tensor, tt: torch.Tensor) -> torch.Tensor:
        z = (hh @ ww.T).reshape(-1, ww.shape[0])
        return torch.nn.functional.cross_entropy(z, tt.reshape(-1), label_smoothing=0.1)

    for transform in (
        lambda f: torch.func.vmap(f, in_dims=(0, None, 0)),
        lambda f: torch.func.vmap(torch.func.grad(f, argnums=(0, 1)), in_dims=(0, None, 0)),
        lambda f: torch.func.jacrev(f, argnums=1),
        lambda f: torch.func.hessian(f, argnums=0),
    ):
        got, want = transform(ours)(h, w, t), transform(torchs)(h, w, t)
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mining", ["all", "hard", "semihard"])
def test_batch_triplet_mining_under_vmap(mining: str) -> None:
    """Mining lists triplets (a data-dependent shape); under ``vmap`` the same sums are dense."""
    g = torch.Generator().manual_seed(4)
    x = torch.randn(3, 6, 4, generator=g, dtype=D)
    t = torch.randint(0, 2, (3, 6), generator=g)
    for reduction in ("none", "mean"):

        def loss(a: torch.Tensor, b: torch.Tensor, r: str = reduction) -> torch.Tensor:
            return LF.batch_triplet_loss(a, b, mining=mining, margin=0.5, reduction=r)

        want = torch.stack([loss(x[i], t[i]) for i in range(3)])
        torch.testing.assert_close(torch.func.vmap(loss)(x, t), want, rtol=1e-12, atol=1e-14)
        assert want.abs().sum() > 0
