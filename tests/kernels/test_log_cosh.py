"""The lean chunk kernel of the Log-Cosh loss.

Compared with an independent float64 closed form written here (values and gradients).
"""

from __future__ import annotations

import pytest
import torch

import losscraft.functional as LF
from kernels.helpers import LEAN, REDUCTIONS, D, _close, _data, _gen, _reduce, _upstream, _value_grad_and_fn
from losscraft._core.kernels import lean_kernels


def _log_cosh_ref(x, t):
    return torch.log(torch.cosh(x - t))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_log_cosh_lean_matches_float64_reference(reduction: str) -> None:
    x, y = _data(7, (9, 4))
    y = torch.randn(y.shape, generator=_gen(8), dtype=D) * 2  # real targets
    up = _upstream(x.shape) if reduction == "none" else None
    for weight in (None, torch.rand(4, generator=_gen(9), dtype=D)):
        with lean_kernels(chunk=6):
            got = _value_grad_and_fn(LF.log_cosh_loss, x, y, up, weight=weight, reduction=reduction)
        assert got[2].name() == LEAN
        want = _value_grad_and_fn(lambda a, b, w=weight: _reduce(_log_cosh_ref(a, b), reduction, w), x, y, up)
        _close(got[:2], want[:2])
        # the gradient is tanh(r), exactly as documented
        if reduction == "sum" and weight is None:
            torch.testing.assert_close(got[1], torch.tanh(x - y), rtol=1e-15, atol=0)
