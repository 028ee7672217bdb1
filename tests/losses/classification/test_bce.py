"""bce: parity with ``torch.nn.functional`` and an independent float64 reference.

Convention differences from torch, asserted below:

* ``"mean"`` with a per-element ``weight`` is the weighted mean sum(w l) / sum(w) (torch's
  ``binary_cross_entropy(weight=w)`` divides by the element count).
* At probabilities exactly 0 or 1: same values as torch (log clamped at -100), but the
  probability is clamped with a straight-through gradient (at e^-100 in float64, at the
  smallest probability with a finite reciprocal in lower precision); torch's kernel returns
  about (p - y) * 1e12 there.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import losscraft
from losscraft import LosscraftError
from losscraft.losses.classification import BCELoss, bce_loss
from losses.classification.helpers import HALF, TIGHT12, D, _close12, _gen, _run


def _probs(seed: int, shape=(6, 5)):
    g = _gen(seed)
    p = torch.rand(shape, generator=g, dtype=D) * 0.98 + 0.01
    t = torch.rand(shape, generator=g, dtype=D)
    t[0] = (t[0] > 0.5).to(D)  # some hard targets too
    return p, t


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_parity_with_torch(reduction: str) -> None:
    p, t = _probs(0)
    _close12(
        _run(bce_loss, p, t, reduction=reduction), _run(F.binary_cross_entropy, p, t, reduction=reduction)
    )


def test_bce_element_weight_vs_torch() -> None:
    p, t = _probs(1)
    w = torch.rand(p.shape, generator=_gen(2), dtype=D) + 0.1
    for red in ("none", "sum"):
        _close12(
            _run(bce_loss, p, t, weight=w, reduction=red),
            _run(F.binary_cross_entropy, p, t, weight=w, reduction=red),
        )
    # DIFFERENCE: our mean is sum(w l) / sum(w); torch divides by the element count.
    ours = bce_loss(p, t, weight=w)
    torch.testing.assert_close(
        ours, F.binary_cross_entropy(p, t, weight=w, reduction="sum") / w.sum(), **TIGHT12
    )


def test_bce_reference_formula() -> None:
    p, t = _probs(3, (40,))
    ref = torch.tensor(
        [
            -(ti * math.log(pi) + (1 - ti) * math.log(1 - pi))
            for pi, ti in zip(p.tolist(), t.tolist(), strict=True)
        ],
        dtype=D,
    )
    torch.testing.assert_close(bce_loss(p, t, reduction="none"), ref.to(D), **TIGHT12)


def test_bce_at_exact_zero_and_one() -> None:
    p = torch.tensor([0.0, 0.0, 1.0, 1.0, 0.0, 1.0], dtype=D)
    t = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.3, 0.3], dtype=D)
    v, gp, _ = _run(bce_loss, p, t, reduction="none")
    # values: identical to torch (log clamped at -100)
    torch.testing.assert_close(v, F.binary_cross_entropy(p, t, reduction="none"), **TIGHT12)
    torch.testing.assert_close(v, torch.tensor([100.0, 0.0, 100.0, 0.0, 30.0, 70.0], dtype=D), **TIGHT12)
    # gradient: -y / max(p, e^-100) + (1 - y) / max(1 - p, e^-100), the derivative at the clamp:
    # a saturated log still pulls back (finite, non-zero, the right sign)
    big = math.exp(100.0)
    expected = torch.tensor([-big, 1.0, big, -1.0, -0.3 * big + 0.7, -0.3 + 0.7 * big], dtype=D)
    torch.testing.assert_close(gp, expected, rtol=1e-12, atol=0.0)
    # DIFFERENCE: torch's kernel gives ~ (p - y) * 1e12 at the boundary.
    x = p.clone().requires_grad_(True)
    F.binary_cross_entropy(x, t, reduction="sum").backward()
    assert x.grad.abs().max() > 1e11


@pytest.mark.parametrize("dtype", [torch.float32, *HALF])
def test_bce_boundary_finite_in_low_precision(dtype: torch.dtype) -> None:
    p = torch.tensor([0.0, 1.0, 0.0, 1.0], dtype=dtype, requires_grad=True)
    t = torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=dtype)
    out = bce_loss(p, t, reduction="sum")
    assert out.dtype == torch.float32 and out.item() == pytest.approx(200.0)
    out.backward()
    assert torch.isfinite(p.grad).all()


@pytest.mark.parametrize(
    ("dtype", "floor"),
    [
        (torch.float32, torch.finfo(torch.float32).tiny),
        (torch.bfloat16, torch.finfo(torch.float32).tiny),
        (torch.float16, 1.001 / 65504.0),
    ],
)
def test_bce_saturated_probability_still_pulls_back(dtype: torch.dtype, floor: float) -> None:
    """p = 0 with y = 1 (and p = 1 with y = 0): loss 100, gradient -1/floor (+1/floor), finite.

    1e-40 is subnormal in float32 and bfloat16 (0 in float16): its exact gradient -1e40 overflows.
    """
    p = torch.tensor([0.0, 1.0, 0.25, 1e-40], dtype=dtype, requires_grad=True)
    t = torch.tensor([1.0, 0.0, 1.0, 1.0], dtype=dtype)
    out = bce_loss(p, t, reduction="none")
    tiny = float(p[3].detach())
    assert out[:2].tolist() == [100.0, 100.0]
    assert out[3].item() == pytest.approx(-max(math.log(tiny), -100.0) if tiny > 0 else 100.0, rel=1e-6)
    out.sum().backward()
    expected = torch.tensor([-1.0 / floor, 1.0 / floor, -4.0, -1.0 / floor], dtype=torch.float64)
    assert torch.isfinite(p.grad).all() and p.grad.dtype == dtype
    torch.testing.assert_close(
        p.grad.double(), expected, rtol=1e-2 if dtype != torch.float32 else 1e-6, atol=0
    )
    # one gradient step moves the saturated probabilities back into (0, 1)
    assert p.grad[0] < 0 < p.grad[1]


def test_bce_gradient_exact_down_to_the_floor() -> None:
    """Between e^-100 and the dtype's floor the value is exact and so is the gradient (float64)."""
    p = torch.tensor([1e-40, 1e-20, 1.0 - 1e-15], dtype=D, requires_grad=True)
    t = torch.tensor([1.0, 0.5, 0.0], dtype=D)
    v = bce_loss(p, t, reduction="none")
    pv, tv = p.tolist(), t.tolist()
    ref = [-(ti * math.log(pi) + (1 - ti) * math.log1p(-pi)) for pi, ti in zip(pv, tv, strict=True)]
    torch.testing.assert_close(v.detach(), torch.tensor(ref, dtype=D), rtol=1e-12, atol=0.0)
    v.sum().backward()
    gref = [-ti / pi + (1 - ti) / (1 - pi) for pi, ti in zip(pv, tv, strict=True)]
    torch.testing.assert_close(p.grad, torch.tensor(gref, dtype=D), rtol=1e-12, atol=0.0)


def test_bce_gradcheck() -> None:
    p, t = _probs(4, (3, 4))
    t = t.clamp(0.05, 0.95)  # finite differences of the target stay inside [0, 1]
    w = torch.rand(3, 1, generator=_gen(5), dtype=D)
    assert torch.autograd.gradcheck(
        lambda a, b: bce_loss(a, b, weight=w), (p.requires_grad_(), t.requires_grad_()), eps=1e-7
    )


def test_bce_errors() -> None:
    p = torch.tensor([0.1, 1.5])
    t = torch.tensor([0.0, 1.0])
    msg = r"bce_loss: 'input' must contain probabilities in \[0, 1\], got 1.5 \(observed range \[0.1, 1.5\]\)"
    with pytest.raises(LosscraftError, match=msg):
        bce_loss(p, t)
    with pytest.raises(
        LosscraftError, match=r"bce_loss: 'input' must contain probabilities in \[0, 1\], got nan"
    ):
        bce_loss(torch.tensor([0.1, float("nan")]), t)
    with pytest.raises(LosscraftError, match=r"bce_loss: 'target' must contain targets in \[0, 1\], got -1"):
        bce_loss(torch.tensor([0.1, 0.2]), torch.tensor([-1.0, 1.0]))
    with pytest.raises(
        LosscraftError,
        match=r"bce_loss: 'input' and 'target' must have the same shape, got input \(2,\) and "
        r"target \(1, 2\)",
    ):
        bce_loss(torch.tensor([0.1, 0.2]), t[None])
    with pytest.raises(
        LosscraftError, match=r"bce_loss: 'target' must be a floating-point tensor .* got torch.int64"
    ):
        bce_loss(torch.tensor([0.1, 0.2]), torch.tensor([0, 1]))


def test_bce_module_and_alias() -> None:
    p, t = _probs(50)
    torch.testing.assert_close(BCELoss(reduction="sum")(p, t), bce_loss(p, t, reduction="sum"))
    assert losscraft.get("binary_cross_entropy").name == "bce"
