"""asymmetric_linear: closed-form reference (minimisers and errors: ``test_family.py``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import losscraft.functional as LF
from losses.regression.helpers import _xy


@pytest.mark.parametrize(("cu", "co"), [(1.0, 1.0), (3.0, 1.0), (0.2, 5.0)])
def test_asymmetric_linear_reference(cu: float, co: float) -> None:
    x, y = _xy()
    ref = [cu * (b - a) if b > a else co * (a - b) for a, b in zip(x.tolist(), y.tolist(), strict=True)]
    got = LF.asymmetric_linear_loss(x, y, under=cu, over=co, reduction="none")
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-14)
    tau = cu / (cu + co)
    torch.testing.assert_close(
        LF.asymmetric_linear_loss(x, y, under=cu, over=co), (cu + co) * LF.quantile_loss(x, y, quantiles=tau)
    )
