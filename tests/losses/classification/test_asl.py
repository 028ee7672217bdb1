"""asl (asymmetric loss): float64 reference and the official code written out.

Convention differences, asserted below: ``"mean"`` averages over elements (official code: sum);
the official code detaches the focusing weights by default
(``disable_torch_grad_focal_loss=True``), we differentiate them (its gradient with
``disable_torch_grad_focal_loss=False`` is ours); soft targets enter linearly (official: one
mixed focusing weight; identical for hard targets).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from losscraft import LosscraftError
from losscraft.losses.classification import asl_loss, bce_with_logits_loss, binary_focal_loss
from losses.classification.helpers import LOW, REDUCTIONS, TIGHT, D, _close, _gen, _run


def _asl_ref(x, y, gamma_neg=4.0, gamma_pos=1.0, clip=0.05):
    """Naive float64 formula: p = sigmoid, p_m = max(p - m, 0)."""
    p = torch.sigmoid(x)
    pm = (p - (clip or 0.0)).clamp(min=0.0)
    pos = y * (1 - p) ** gamma_pos * torch.log(p)
    neg = (1 - y) * pm**gamma_neg * torch.log(1 - pm)
    return -(pos + neg)


def _ml_case(seed: int, shape=(6, 5), soft: bool = False, scale: float = 3.0):
    g = _gen(seed)
    x = torch.randn(shape, generator=g, dtype=D) * scale
    y = torch.rand(shape, generator=g, dtype=D)
    return x, (y if soft else (y > 0.7).to(D))


@pytest.mark.parametrize(
    ("gn", "gp", "clip"),
    [(4.0, 1.0, 0.05), (4.0, 0.0, 0.05), (2.0, 1.0, None), (0.5, 0.5, 0.2), (0.0, 2.0, 0.0)],
)
@pytest.mark.parametrize("soft", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_asl_reference(gn: float, gp: float, clip: float | None, soft: bool, reduction: str) -> None:
    x, y = _ml_case(21, soft=soft)
    ref = _asl_ref(x, y, gn, gp, clip)
    ref = {"none": ref, "sum": ref.sum(), "mean": ref.mean()}[reduction]
    _close(
        _run(asl_loss, x, y, gamma_neg=gn, gamma_pos=gp, clip=clip, reduction=reduction),
        _run(
            lambda a, b: {"none": lambda v: v, "sum": torch.sum, "mean": torch.mean}[reduction](
                _asl_ref(a, b, gn, gp, clip)
            ),
            x,
            y,
        ),
        rtol=1e-9,
        atol=1e-12,
    )
    torch.testing.assert_close(
        asl_loss(x, y, gamma_neg=gn, gamma_pos=gp, clip=clip, reduction=reduction), ref
    )


def _official_asl(x, y, gamma_neg=4.0, gamma_pos=1.0, clip=0.05, eps=1e-8, detach=True):
    """Ridnik et al.'s AsymmetricLoss.forward (official repository), written out."""
    xs_pos = torch.sigmoid(x)
    xs_neg = 1 - xs_pos
    if clip is not None and clip > 0:
        xs_neg = (xs_neg + clip).clamp(max=1)
    loss = y * torch.log(xs_pos.clamp(min=eps)) + (1 - y) * torch.log(xs_neg.clamp(min=eps))
    with torch.set_grad_enabled(not detach):
        pt = xs_pos * y + xs_neg * (1 - y)
        w = torch.pow(1 - pt, gamma_pos * y + gamma_neg * (1 - y))
    return -(loss * w).sum()


def test_asl_matches_official_code() -> None:
    x, y = _ml_case(22, (8, 6))  # |x| < ~12: the official eps clamp of log p is inactive
    ours = _run(asl_loss, x, y, reduction="sum")
    official_value = _official_asl(x, y).detach()
    torch.testing.assert_close(ours[0], official_value, **TIGHT)
    # the gradient through the focusing weights: the official code with the detach disabled
    # (the target gradient differs: the official code puts y into the focusing exponent)
    _close(ours[:2], _run(lambda a, b: _official_asl(a, b, detach=False), x, y)[:2])
    # mean over elements = official sum / number of elements
    torch.testing.assert_close(asl_loss(x, y), official_value / x.numel(), **TIGHT)


def test_asl_special_cases() -> None:
    x, y = _ml_case(23, soft=True)
    # no focusing, no margin: BCE with logits (torch), values and gradients incl. the soft target
    for clip in (None, 0.0):
        _close(
            _run(asl_loss, x, y, gamma_neg=0.0, gamma_pos=0.0, clip=clip, reduction="none"),
            _run(F.binary_cross_entropy_with_logits, x, y, reduction="none"),
            rtol=1e-9,
            atol=1e-12,
        )
    # symmetric focusing without margin on hard targets: the sigmoid focal loss without alpha
    xh, yh = _ml_case(24)
    for gamma in (0.5, 2.0):
        torch.testing.assert_close(
            asl_loss(xh, yh, gamma_neg=gamma, gamma_pos=gamma, clip=None, reduction="none"),
            binary_focal_loss(xh, yh, gamma=gamma, alpha=None, reduction="none"),
            **TIGHT,
        )
    torch.testing.assert_close(
        asl_loss(x, y, gamma_neg=0.0, gamma_pos=0.0, clip=None), bce_with_logits_loss(x, y), **TIGHT
    )


def test_asl_margin_discards_easy_negatives() -> None:
    # negatives with p <= m: loss exactly 0 and gradient exactly 0; above the margin it is positive
    x = torch.tensor([-1e4, -8.0, math.log(0.04 / 0.96), 0.0, 5.0, 1e4], dtype=D, requires_grad=True)
    y = torch.zeros_like(x)
    v = asl_loss(x, y, clip=0.05, reduction="none")
    v.sum().backward()
    assert (v[:3] == 0).all() and (x.grad[:3] == 0).all()
    assert (v[3:] > 0).all()
    # at x = +1e4, p = 1: p_m = 1 - m, so the value is (1 - m)^4 * -log(m), finite, zero gradient
    assert v[-1].item() == pytest.approx(0.95**4 * -math.log(0.05), rel=1e-12)
    assert x.grad[-1].item() == 0.0


@pytest.mark.parametrize("dtype", LOW)
@pytest.mark.parametrize(("gn", "gp", "clip"), [(4.0, 1.0, 0.05), (0.3, 0.2, 0.05), (0.3, 0.2, None)])
def test_asl_extreme_logits(dtype: torch.dtype, gn: float, gp: float, clip: float | None) -> None:
    x = torch.tensor([[1e4, -1e4, 1e4, -1e4, 0.0, 3.0]], dtype=dtype, requires_grad=True)
    y = torch.tensor([[1.0, 1.0, 0.0, 0.0, 0.5, 0.3]], dtype=dtype)
    v = asl_loss(x, y, gamma_neg=gn, gamma_pos=gp, clip=clip, reduction="none")
    assert v.dtype == torch.float32 and torch.isfinite(v).all()
    v.sum().backward()
    assert torch.isfinite(x.grad).all()
    ref = asl_loss(x.detach().double(), y.double(), gamma_neg=gn, gamma_pos=gp, clip=clip, reduction="none")
    torch.testing.assert_close(v.double(), ref, rtol=1e-5, atol=1e-5)


def test_asl_gradcheck() -> None:
    x, y = _ml_case(25, (3, 4), soft=True, scale=2.0)
    w = torch.rand(3, 1, generator=_gen(4), dtype=D)
    for gn, gp, clip in [(4.0, 1.0, 0.05), (0.5, 0.7, 0.1), (2.0, 0.0, None)]:
        assert torch.autograd.gradcheck(
            lambda a, b, gn=gn, gp=gp, clip=clip: asl_loss(
                a, b, gamma_neg=gn, gamma_pos=gp, clip=clip, weight=w
            ),
            (x.clone().requires_grad_(), y.clone().requires_grad_()),
        )


@settings(max_examples=40)
@given(
    gn=st.floats(0.0, 6.0),
    gp=st.floats(0.0, 3.0),
    clip=st.one_of(st.none(), st.floats(0.0, 0.5)),
    seed=st.integers(0, 10_000),
)
def test_asl_reference_hypothesis(gn: float, gp: float, clip: float | None, seed: int) -> None:
    x, y = _ml_case(seed, (4, 3), soft=True)
    got = asl_loss(x, y, gamma_neg=gn, gamma_pos=gp, clip=clip, reduction="none")
    torch.testing.assert_close(got, _asl_ref(x, y, gn, gp, clip), rtol=1e-9, atol=1e-12)


def test_asl_errors() -> None:
    x, y = _ml_case(33, (3, 4))
    with pytest.raises(
        LosscraftError,
        match=r"asl_loss: 'input' and 'target' must have the same shape, got input \(3, 4\) and target \(3, 1\)",
    ):
        asl_loss(x, y[:, :1])
    with pytest.raises(LosscraftError, match=r"asl_loss: 'target' must contain targets in \[0, 1\], got 2"):
        asl_loss(x, torch.full_like(y, 2.0))
    with pytest.raises(LosscraftError, match="asl_loss: 'target' must be a floating-point tensor"):
        asl_loss(x, y.long())
    with pytest.raises(
        LosscraftError, match=r"asl_loss: 'clip' must be a float in \[0, 1\) or None, got 1.0"
    ):
        asl_loss(x, y, clip=1.0)
    with pytest.raises(
        LosscraftError, match=r"asl_loss: 'gamma_neg' must be a float in \[0, inf\), got -1.0"
    ):
        asl_loss(x, y, gamma_neg=-1.0)
