"""bce_with_logits: parity with ``torch.nn.functional`` and an independent float64 reference.

Convention differences from torch, asserted below:

* ``"mean"`` with a per-element ``weight`` is the weighted mean sum(w l) / sum(w) (torch's
  ``binary_cross_entropy_with_logits(weight=w)`` divides by the element count).
* Label smoothing (torch has none) follows Keras: y' = y (1 - eps) + eps / 2.

The lean chunk kernel: ``tests/kernels/test_bce_with_logits.py``.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import losscraft
from losscraft import LosscraftError
from losscraft.losses.classification import BCEWithLogitsLoss, bce_with_logits_loss
from losses.classification.helpers import HALF, TIGHT12, D, _close12, _gen, _logits, _run


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("pw", [None, "per_label", "scalar"])
@pytest.mark.parametrize("shape", [(6, 5), (3, 4, 5)])
def test_bce_with_logits_parity_with_torch(reduction: str, pw: str | None, shape) -> None:
    x, t = _logits(10, shape)
    pos_weight = {
        None: None,
        "per_label": torch.tensor([0.5, 1.0, 2.0, 3.0, 0.0], dtype=D),
        "scalar": torch.tensor([4.0], dtype=D),
    }[pw]
    _close12(
        _run(bce_with_logits_loss, x, t, pos_weight=pos_weight, reduction=reduction),
        _run(F.binary_cross_entropy_with_logits, x, t, pos_weight=pos_weight, reduction=reduction),
    )


def test_bce_with_logits_element_weight_vs_torch() -> None:
    x, t = _logits(11)
    w = torch.rand(6, 1, generator=_gen(1), dtype=D)
    for red in ("none", "sum"):
        _close12(
            _run(bce_with_logits_loss, x, t, weight=w, reduction=red),
            _run(F.binary_cross_entropy_with_logits, x, t, weight=w, reduction=red),
        )
    # DIFFERENCE: weighted mean (torch divides by the element count).
    s = F.binary_cross_entropy_with_logits(x, t, weight=w, reduction="sum")
    torch.testing.assert_close(bce_with_logits_loss(x, t, weight=w), s / w.expand_as(x).sum(), **TIGHT12)


def _bce_logits_ref(x: float, y: float, rho: float = 1.0, eps: float = 0.0) -> float:
    # Written from the formula in float64: log sigmoid(x) = -log1p(exp(-x)) and
    # log(1 - sigmoid(x)) = -log1p(exp(x)) (|x| <= 30 here, so exp cannot overflow).
    ys = y * (1 - eps) + eps / 2
    return rho * ys * math.log1p(math.exp(-x)) + (1 - ys) * math.log1p(math.exp(x))


@given(
    st.lists(st.tuples(st.floats(-30, 30), st.floats(0, 1)), min_size=1, max_size=12),
    st.floats(0, 0.99),
    st.floats(0, 10),
)
def test_bce_with_logits_reference(pairs, eps: float, rho: float) -> None:
    x = torch.tensor([a for a, _ in pairs], dtype=D)
    t = torch.tensor([b for _, b in pairs], dtype=D)
    got = bce_with_logits_loss(
        x, t, pos_weight=torch.tensor([rho], dtype=D), label_smoothing=eps, reduction="none"
    )
    ref = torch.tensor([_bce_logits_ref(a, b, rho, eps) for a, b in pairs], dtype=D)
    torch.testing.assert_close(got, ref, rtol=1e-9, atol=1e-11)


def test_bce_with_logits_label_smoothing_keras_convention() -> None:
    x, t = _logits(12)
    eps = 0.2
    _close12(
        _run(bce_with_logits_loss, x, t, label_smoothing=eps, reduction="none")[:2],
        _run(F.binary_cross_entropy_with_logits, x, t * (1 - eps) + eps / 2, reduction="none")[:2],
    )
    # a hard positive becomes 0.9: the loss is minimal at sigmoid(x) = 0.9
    xs = torch.linspace(0, 5, 5001, dtype=D)
    v = bce_with_logits_loss(xs, torch.ones_like(xs), label_smoothing=eps, reduction="none")
    assert torch.sigmoid(xs[v.argmin()]).item() == pytest.approx(0.9, abs=1e-3)


def test_bce_with_logits_gradcheck_options() -> None:
    x, t = _logits(13, (3, 4))
    pw = torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=D)
    w = torch.rand(3, 4, generator=_gen(3), dtype=D)
    t = t.clamp(0.05, 0.95)  # keep finite differences of the target inside [0, 1]

    def f(a, b):
        return bce_with_logits_loss(a, b, pos_weight=pw, label_smoothing=0.1, weight=w)

    assert torch.autograd.gradcheck(f, (x.requires_grad_(), t.requires_grad_()))


@pytest.mark.parametrize("dtype", [torch.float32, *HALF])
def test_bce_with_logits_extreme_logits(dtype: torch.dtype) -> None:
    x = torch.tensor([1e4, -1e4, 1e4, -1e4, 0.0], dtype=dtype, requires_grad=True)
    t = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.5], dtype=dtype)
    v = bce_with_logits_loss(x, t, pos_weight=torch.tensor([2.0]), label_smoothing=0.1, reduction="none")
    assert torch.isfinite(v).all()
    v.sum().backward()
    assert torch.isfinite(x.grad).all()
    # exact asymptotics: -log sigmoid(-1e4) = 1e4 (times the smoothed target weights)
    ref = bce_with_logits_loss(
        x.detach().double(),
        t.double(),
        pos_weight=torch.tensor([2.0], dtype=D),
        label_smoothing=0.1,
        reduction="none",
    )
    torch.testing.assert_close(v.double(), ref, rtol=1e-5, atol=1e-5)


def test_bce_with_logits_errors() -> None:
    x = torch.zeros(2, 3)
    t = torch.zeros(2, 3)
    with pytest.raises(
        LosscraftError,
        match=r"bce_with_logits_loss: 'pos_weight' must have shape \(3,\) .* or \(1,\), got \(2,\)",
    ):
        bce_with_logits_loss(x, t, pos_weight=torch.ones(2))
    with pytest.raises(
        LosscraftError,
        match=r"'pos_weight' must be a 1-D float tensor \(or list\) of finite values >= 0 or None",
    ):
        bce_with_logits_loss(x, t, pos_weight=torch.tensor([1.0, -1.0, 1.0]))
    with pytest.raises(
        LosscraftError, match=r"bce_with_logits_loss: 'label_smoothing' must be a float in \[0, 1\), got 1.0"
    ):
        bce_with_logits_loss(x, t, label_smoothing=1.0)
    with pytest.raises(
        LosscraftError, match=r"bce_with_logits_loss: 'target' must contain targets in \[0, 1\], got 2"
    ):
        bce_with_logits_loss(x, t + 2)
    with pytest.raises(
        LosscraftError,
        match=r"'input' and 'target' must have the same shape, got input \(2, 3\) and target \(3,\)",
    ):
        bce_with_logits_loss(x, t[0])
    with pytest.raises(
        LosscraftError, match=r"bce_with_logits_loss: 'target' must be a floating-point tensor"
    ):
        bce_with_logits_loss(x, t.long())


def test_bce_with_logits_module_buffer() -> None:
    m = BCEWithLogitsLoss(pos_weight=[1.0, 2.0, 3.0], label_smoothing=0.1)
    assert "_hp_pos_weight" in dict(m.named_buffers())
    x, t = _logits(14, (4, 3))
    torch.testing.assert_close(
        m.double()(x, t),
        bce_with_logits_loss(x, t, pos_weight=torch.tensor([1.0, 2.0, 3.0], dtype=D), label_smoothing=0.1),
    )
    assert m.get_config() == {
        "name": "bce_with_logits",
        "pos_weight": [1.0, 2.0, 3.0],
        "label_smoothing": 0.1,
        "reduction": "mean",
    }
    assert losscraft.get("bce_logits").name == "bce_with_logits"
