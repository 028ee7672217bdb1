"""Registry-wide gradient checks in float64."""

from __future__ import annotations

import pytest
import torch

from losscraft import LossEntry

from lc_helpers import ENTRIES, IDS, diff_positions, sample


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_gradcheck(entry: LossEntry, reduction: str) -> None:
    c = sample(entry, 3, seed=11)
    pos = diff_positions(entry, c.args)
    assert pos, "every loss is differentiable in its first argument"

    def f(*diff: torch.Tensor) -> torch.Tensor:
        args = list(c.args)
        for i, t in zip(pos, diff, strict=True):
            args[i] = t
        return entry.function(*args, reduction=reduction, **c.kwargs)

    inputs = tuple(c.args[i].detach().clone().requires_grad_(True) for i in pos)
    if entry.spec.surrogate_gradient:  # declared: the backward is not the value's derivative
        assert not torch.autograd.gradcheck(
            f, inputs, eps=1e-6, atol=1e-6, rtol=1e-5, raise_exception=False
        ), f"{entry.name} declares a surrogate gradient, but its backward is the value's derivative"
        return
    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_module_backward_reaches_inputs(entry: LossEntry) -> None:
    assert entry.module is not None
    c = sample(entry, 4, dtype=torch.float32)
    x = c.args[0].detach().clone().requires_grad_(True)
    out = entry.module()(x, *c.args[1:])
    out.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert x.grad.abs().sum() > 0
