"""gaussian_nll: parity with ``torch.nn.functional.gaussian_nll_loss`` and a reference.

Convention difference against torch, tested below: input and target must have the same shape
(torch broadcasts them).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from losscraft import LosscraftError
from losscraft.losses.regression import GaussianNLLLoss, gaussian_nll_loss, mse_loss
from losses.regression.helpers import f64


def _gauss(seed: int, shape=(4, 3, 5)) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(shape, generator=g, dtype=f64)
    y = torch.randn(shape, generator=g, dtype=f64) * 2
    var = torch.rand(shape, generator=g, dtype=f64) * 2 + 0.05
    return mu, y, var


VAR_SHAPES = {
    "same": lambda v: v,
    "last_dim_1": lambda v: v[..., :1],
    "one_dim_short": lambda v: v[..., 0],
    "middle_dim_1": lambda v: v[:, :1, :],
}


@pytest.mark.parametrize("var_shape", list(VAR_SHAPES))
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gaussian_parity_with_torch(var_shape: str, full: bool, reduction: str) -> None:
    mu, y, var = _gauss(20)
    var = VAR_SHAPES[var_shape](var).clone()
    var.view(-1)[:3] = torch.tensor([0.0, 1e-9, 5e-7])  # below eps: clamped, gradient straight through
    outs = []
    for fn in (gaussian_nll_loss, F.gaussian_nll_loss):
        args = [a.clone().requires_grad_(True) for a in (mu, y, var)]
        out = fn(*args, full=full, eps=1e-6, reduction=reduction)
        out.sum().backward()
        outs.append((out.detach(), *(a.grad for a in args)))
    assert outs[0][0].shape == (mu.shape if reduction == "none" else ())
    for a, b in zip(*outs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-13, atol=1e-13)


def test_gaussian_reference_gradcheck_and_relations() -> None:
    mu, y, var = _gauss(21, shape=(3, 4))
    r = (mu - y).numpy()
    v = var.numpy()
    got = gaussian_nll_loss(mu, y, var, full=True, reduction="none").numpy()
    np.testing.assert_allclose(got, 0.5 * np.log(2 * np.pi * v) + r**2 / (2 * v), rtol=1e-13)
    # unit variance: half the squared error; a float variance works like torch
    torch.testing.assert_close(gaussian_nll_loss(mu, y, torch.ones_like(mu)), 0.5 * mse_loss(mu, y))
    torch.testing.assert_close(gaussian_nll_loss(mu, y, 2.5), F.gaussian_nll_loss(mu, y, 2.5))
    args = tuple(a.clone().requires_grad_(True) for a in (mu, y, var[:, :1]))
    assert torch.autograd.gradcheck(
        lambda a, b, c: gaussian_nll_loss(a, b, c, full=True, reduction="none"), args
    )
    # the shared variance minimising the loss is the mean squared residual: zero gradient there
    v = ((mu - y) ** 2).mean().clone().requires_grad_(True)
    gaussian_nll_loss(mu, y, v.expand_as(mu)).backward()
    assert abs(v.grad.item()) < 1e-14


def test_gaussian_half_precision() -> None:
    mu, y, var = _gauss(22)
    for dt in (torch.float16, torch.bfloat16):
        args = [a.to(dt) for a in (mu, y, var)]
        out = gaussian_nll_loss(*args, reduction="none")
        assert out.dtype == torch.float32
        ref = gaussian_nll_loss(*[a.double() for a in args], reduction="none")
        torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-5)


def test_gaussian_errors() -> None:
    mu = torch.zeros(4, 3)
    with pytest.raises(
        LosscraftError,
        match=r"^gaussian_nll_loss: 'var' must contain variances in \[0, inf\], got -1 \(observed",
    ):
        gaussian_nll_loss(mu, mu, torch.tensor([[1.0, -1.0, 1.0]]).expand(4, 3))
    with pytest.raises(
        LosscraftError,
        match=r"^gaussian_nll_loss: 'var' must have the shape of 'input' \(4, 3\), that shape with one dimension "
        r"of size 1, or input.shape\[:-1\] = \(4,\), got \(2, 3\)$",
    ):
        gaussian_nll_loss(mu, mu, torch.ones(2, 3))
    with pytest.raises(LosscraftError, match=r"got \(4, 3, 1\)$"):
        gaussian_nll_loss(mu, mu, torch.ones(4, 3, 1))  # broadcastable but not one of torch's shapes
    with pytest.raises(LosscraftError, match=r"^gaussian_nll_loss: 'var' must be a floating-point tensor"):
        gaussian_nll_loss(mu, mu, torch.ones(4, 3, dtype=torch.long))
    with pytest.raises(LosscraftError, match=r"^gaussian_nll_loss: 'var' must be a variance >= 0, got -2.0$"):
        gaussian_nll_loss(mu, mu, -2.0)
    with pytest.raises(
        LosscraftError, match=r"^gaussian_nll_loss: 'input' and 'target' must have the same shape"
    ):
        gaussian_nll_loss(mu, torch.zeros(3), torch.ones(4, 3))  # torch would broadcast
    with pytest.raises(
        LosscraftError, match=r"^gaussian_nll_loss: 'eps' must be a float in \(0, inf\), got -1.0$"
    ):
        GaussianNLLLoss(eps=-1.0)
