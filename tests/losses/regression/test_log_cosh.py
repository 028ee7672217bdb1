"""log_cosh: an independent float64 reference, large residuals and the gradient.

The lean chunk kernel: ``tests/kernels/test_log_cosh.py``.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import losscraft.functional as LF
from losses.regression.helpers import finite


def _log_cosh_ref(r: float) -> float:
    # float64 closed form, independent of the library: log(cosh r) directly where it cannot
    # overflow, and the exact identity |r| - log 2 + log1p(exp(-2|r|)) beyond.
    if abs(r) < 300:
        return math.log(math.cosh(r))
    return abs(r) - math.log(2.0) + math.log1p(math.exp(-2 * abs(r)))


@given(st.lists(finite, min_size=1, max_size=20))
def test_log_cosh_reference(values: list[float]) -> None:
    r = torch.tensor(values, dtype=torch.float64)
    got = LF.log_cosh_loss(r, torch.zeros_like(r), reduction="none")
    ref = torch.tensor([_log_cosh_ref(v) for v in values], dtype=torch.float64)
    torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-15)


def test_log_cosh_large_residuals_and_gradient() -> None:
    r = torch.tensor([-1e4, -100.0, -1.0, 0.0, 0.5, 89.0, 1e4], dtype=torch.float32, requires_grad=True)
    out = LF.log_cosh_loss(r, torch.zeros_like(r), reduction="none")
    assert torch.isfinite(out).all()
    assert out[-1].item() == pytest.approx(1e4 - math.log(2.0), rel=1e-6)
    # naive log(cosh) overflows in float32 where ours does not
    assert torch.isinf(torch.log(torch.cosh(r.detach()[-1])))
    out.sum().backward()
    torch.testing.assert_close(r.grad, torch.tanh(r.detach()), rtol=1e-6, atol=1e-7)
