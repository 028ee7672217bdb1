"""asymmetric_squared: closed-form reference and gradient (minimisers and errors: ``test_family.py``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import losscraft.functional as LF
from losses.regression.helpers import _xy


@pytest.mark.parametrize(("cu", "co"), [(1.0, 1.0), (3.0, 1.0), (0.2, 5.0)])
def test_asymmetric_squared_reference_and_gradient(cu: float, co: float) -> None:
    x, y = _xy(1)
    ref = [
        cu * (b - a) ** 2 if b > a else co * (a - b) ** 2 for a, b in zip(x.tolist(), y.tolist(), strict=True)
    ]
    xr = x.clone().requires_grad_(True)
    got = LF.asymmetric_squared_loss(xr, y, under=cu, over=co, reduction="none")
    np.testing.assert_allclose(got.detach().numpy(), ref, rtol=1e-14)
    got.sum().backward()
    expected = torch.where(y > x, -2 * cu * (y - x), 2 * co * (x - y))
    torch.testing.assert_close(xr.grad, expected)
