"""binary_focal (sigmoid focal loss): reference, paper gradient, relation to BCE.

torchvision is not installed: the sigmoid focal reference below is its formula written out.

The lean chunk kernel: ``tests/kernels/test_binary_focal.py``.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import losscraft
from losscraft import LosscraftError
from losscraft.losses.classification import BinaryFocalLoss, bce_with_logits_loss, binary_focal_loss
from losses.classification.helpers import HALF, D, _close12, _gen, _logits, _run


def _sigmoid_focal_ref(x: torch.Tensor, t: torch.Tensor, gamma: float, alpha: float | None) -> torch.Tensor:
    """torchvision.ops.sigmoid_focal_loss, written out in float64 (reduction='none')."""
    x, t = x.double(), t.double()
    p = torch.sigmoid(x)
    ce = -(t * torch.log(p) + (1 - t) * torch.log(1 - p))
    p_t = p * t + (1 - p) * (1 - t)
    loss = ce * (1 - p_t) ** gamma
    if alpha is not None:
        loss = (alpha * t + (1 - alpha) * (1 - t)) * loss
    return loss


@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 2.0, 5.0])
@pytest.mark.parametrize("alpha", [None, 0.25, 0.8])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_focal_reference(gamma: float, alpha: float | None, reduction: str) -> None:
    x, t = _logits(30, (5, 4), scale=3.0)  # |x| moderate: the naive reference is accurate
    ref = _sigmoid_focal_ref
    red = {"none": lambda v: v, "sum": torch.sum, "mean": torch.mean}[reduction]
    _close12(
        _run(binary_focal_loss, x, t, gamma=gamma, alpha=alpha, reduction=reduction),
        _run(lambda a, b: red(ref(a, b, gamma, alpha)), x, t),
        rtol=1e-10,
        atol=1e-12,
    )


@given(
    st.lists(st.tuples(st.floats(-20, 20), st.sampled_from([0.0, 1.0, 0.3, 0.9])), min_size=1, max_size=10),
    st.floats(0, 4),
    st.one_of(st.none(), st.floats(0, 1)),
)
def test_binary_focal_reference_hypothesis(pairs, gamma: float, alpha: float | None) -> None:
    x = torch.tensor([a for a, _ in pairs], dtype=D)
    t = torch.tensor([b for _, b in pairs], dtype=D)
    got = binary_focal_loss(x, t, gamma=gamma, alpha=alpha, reduction="none")
    torch.testing.assert_close(got, _sigmoid_focal_ref(x, t, gamma, alpha), rtol=1e-8, atol=1e-12)


def test_binary_focal_paper_gradient() -> None:
    # Lin et al. (2017), appendix: with y in {+-1}, x_t = y x, p_t = sigmoid(x_t):
    # dFL/dx = y (1 - p_t)^gamma (gamma p_t log p_t + p_t - 1), times alpha_t.
    x = torch.linspace(-8, 8, 41, dtype=D)
    for hard in (0.0, 1.0):
        t = torch.full_like(x, hard)
        for gamma in (0.0, 0.5, 2.0):
            _, g, _ = _run(binary_focal_loss, x, t, gamma=gamma, alpha=0.25, reduction="sum")
            y = 2 * hard - 1
            pt = torch.sigmoid(y * x)
            at = 0.25 if hard else 0.75
            expected = at * y * (1 - pt) ** gamma * (gamma * pt * torch.log(pt) + pt - 1)
            torch.testing.assert_close(g, expected, rtol=1e-10, atol=1e-14)


def test_binary_focal_accurate_in_the_tails() -> None:
    # Far in the easy tail (1 - p_t) underflows naively: sigmoid(40) == 1.0 in float64. The
    # log-space form keeps the value: alpha sigmoid(-x)^gamma softplus(-x).
    x = torch.tensor([40.0, 60.0, 700.0], dtype=D)
    got = binary_focal_loss(x, torch.ones_like(x), gamma=2.0, alpha=0.25, reduction="none")
    ref = 0.25 * torch.sigmoid(-x) ** 2 * F.softplus(-x)
    torch.testing.assert_close(got, ref, rtol=1e-12, atol=0)
    assert got[0] > 0


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_focal_gamma0_equals_bce_with_logits(reduction: str) -> None:
    x, t = _logits(31, (6, 3), scale=10.0)
    w = torch.rand(6, 1, generator=_gen(4), dtype=D)
    for kw in ({}, {"weight": w}):
        a = _run(binary_focal_loss, x, t, gamma=0.0, alpha=None, reduction=reduction, **kw)
        b = _run(bce_with_logits_loss, x, t, reduction=reduction, **kw)
        for u, v in zip(a, b, strict=True):
            assert torch.equal(u, v)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, *HALF])
@pytest.mark.parametrize("gamma", [0.0, 0.3, 0.5, 1.0, 2.0])
def test_binary_focal_extreme_logits_finite(dtype: torch.dtype, gamma: float) -> None:
    x = torch.tensor([1e4, -1e4, 1e4, -1e4, 1e4, -1e4], dtype=dtype, requires_grad=True)
    t = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.5, 0.2], dtype=dtype)
    v = binary_focal_loss(x, t, gamma=gamma, alpha=0.25, reduction="none")
    assert torch.isfinite(v).all()
    v.sum().backward()
    assert torch.isfinite(x.grad).all()
    # the confident correct ones are exactly 0 loss (for gamma > 0) and gradient
    if gamma > 0:
        assert v[0].item() == 0.0 and v[1].item() == 0.0
        assert x.grad[0].item() == 0.0 and x.grad[1].item() == 0.0
    # confidently wrong: loss alpha_t |x| (modulating factor 1); |x| as rounded to dtype
    big = x.detach()[0].float().item()
    assert v[2].item() == pytest.approx(0.75 * big, rel=1e-6)
    assert v[3].item() == pytest.approx(0.25 * big, rel=1e-6)


def test_binary_focal_gradcheck() -> None:
    x, t = _logits(32, (3, 4))
    t = t.clamp(0.05, 0.95)
    for gamma in (0.5, 2.0):
        assert torch.autograd.gradcheck(
            lambda a, b, g=gamma: binary_focal_loss(a, b, gamma=g, alpha=0.3),
            (x.clone().requires_grad_(), t.clone().requires_grad_()),
        )


def test_binary_focal_errors_and_module() -> None:
    x = torch.zeros(4)
    t = torch.zeros(4)
    with pytest.raises(
        LosscraftError, match=r"binary_focal_loss: 'gamma' must be a float in \[0, inf\), got -1.0"
    ):
        binary_focal_loss(x, t, gamma=-1.0)
    with pytest.raises(
        LosscraftError, match=r"binary_focal_loss: 'alpha' must be a float in \[0, 1\] or None, got 1.5"
    ):
        binary_focal_loss(x, t, alpha=1.5)
    with pytest.raises(
        LosscraftError, match=r"binary_focal_loss: 'target' must contain targets in \[0, 1\], got 3"
    ):
        binary_focal_loss(x, t + 3)
    with pytest.raises(
        LosscraftError, match=r"binary_focal_loss: 'input' and 'target' must have the same shape"
    ):
        binary_focal_loss(x, t[:3])
    with pytest.raises(LosscraftError, match=r"'alpha' must be a float in \[0, 1\] or None"):
        BinaryFocalLoss(alpha=-0.1)
    m = BinaryFocalLoss(gamma=1.0, alpha=None, reduction="sum")
    xx, tt = _logits(33)
    torch.testing.assert_close(m(xx, tt), binary_focal_loss(xx, tt, gamma=1.0, alpha=None, reduction="sum"))
    assert losscraft.get("sigmoid_focal").name == "binary_focal"


def test_binary_focal_gradients_at_zero_logit_and_hard_targets() -> None:
    # Both branches of the log-space form meet at x = 0: the slopes (input and target) must
    # match the naive reference there and at hard targets.
    x = torch.tensor([0.0, 0.0, 0.0, -0.0, 1e-300, -1e-300, 1.5, -1.5, 4.0, -4.0], dtype=D)
    t = torch.tensor([0.0, 0.3, 1.0, 0.7, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0], dtype=D)
    for gamma in (0.5, 2.0):
        _close12(
            _run(binary_focal_loss, x, t, gamma=gamma, alpha=0.25, reduction="none"),
            _run(lambda a, b, g=gamma: _sigmoid_focal_ref(a, b, g, 0.25), x, t),
            rtol=1e-12,
            atol=1e-14,
        )
