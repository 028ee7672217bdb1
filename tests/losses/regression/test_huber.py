"""huber: clipped-residual gradient and the bounds by scaled L1 and L2."""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st

import losscraft.functional as LF
from losses.regression.helpers import _grads, _pair, finite


def test_huber_gradient_is_clipped_residual() -> None:
    x, y = _pair(2)
    for delta in (0.5, 1.0, 2.0):
        _, gx, _ = _grads(LF.huber_loss, x, y, delta=delta, reduction="sum")
        torch.testing.assert_close(gx, (x - y).clamp(-delta, delta), rtol=0, atol=1e-14)


@given(st.lists(st.tuples(finite, finite), min_size=1, max_size=10), st.floats(0.01, 10.0))
def test_huber_between_scaled_l1_and_l2(pairs: list[tuple[float, float]], delta: float) -> None:
    x = torch.tensor([p[0] for p in pairs], dtype=torch.float64)
    y = torch.tensor([p[1] for p in pairs], dtype=torch.float64)
    h = LF.huber_loss(x, y, delta=delta, reduction="none")
    r = (x - y).abs()
    assert (h <= 0.5 * r * r + 1e-9).all()
    assert (h <= delta * r + 1e-9).all()
    assert (h >= delta * r - 0.5 * delta * delta - 1e-9).all()
