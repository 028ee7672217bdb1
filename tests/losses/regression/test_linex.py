"""linex: closed-form reference, the small-``a`` limit and the tail."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import losscraft.functional as LF
from losses.regression.helpers import _xy


def test_linex_reference_small_a_and_tail() -> None:
    x, y = _xy(3)
    for a, b in ((1.0, 1.0), (-0.5, 2.0), (0.1, 3.0)):
        d = (x - y).numpy()
        ref = b * (np.expm1(a * d) - a * d)  # e^z - z - 1 without the cancellation of exp(z) - 1
        np.testing.assert_allclose(LF.linex_loss(x, y, a=a, b=b, reduction="none").numpy(), ref, rtol=1e-12)
    # tiny a: b (e^z - z - 1) without cancellation (expm1) ~ a^2 b d^2 / 2
    a = 1e-6
    got = LF.linex_loss(x, y, a=a, b=1.0, reduction="none")
    torch.testing.assert_close(got, (a * (x - y)) ** 2 / 2, rtol=1e-5, atol=0)
    # beyond z = 50 the tangent: value and slope continuous at 50, finite at 1e4 in float32
    z = torch.tensor([49.999, 50.0, 50.001, 1e4], requires_grad=True)
    v = LF.linex_loss(z, torch.zeros(4), reduction="none")
    assert torch.isfinite(v).all()
    v.sum().backward()
    f50, df50 = math.expm1(50) - 50, math.expm1(50)
    assert v[1].item() == pytest.approx(f50, rel=1e-6)
    assert v[2].item() == pytest.approx(f50 + 0.001 * df50, rel=1e-6)
    assert z.grad[3].item() == pytest.approx(df50, rel=1e-6)
