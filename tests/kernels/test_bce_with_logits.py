"""The lean chunk kernel of BCE-with-logits, ``pos_weight`` included.

Compared with independent float64 closed forms written here (values and gradients) and with the
composed reference implementation of the same loss (``lean_kernels(False)``).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import losscraft.functional as LF
from kernels.helpers import LEAN, REDUCTIONS, D, _close, _data, _gen, _reduce, _upstream, _value_grad_and_fn
from losscraft._core.kernels import lean_kernels


def _bce_ref(x, t, rho=None, eps: float = 0.0):
    """-[rho y' log sigma(x) + (1 - y') log sigma(-x)], y' = y (1 - eps) + eps / 2."""
    y = t * (1 - eps) + eps / 2
    rho = torch.ones(()) if rho is None else rho
    return -(rho * y * F.logsigmoid(x) + (1 - y) * F.logsigmoid(-x))


@pytest.mark.parametrize("eps", [0.0, 0.1])
@pytest.mark.parametrize("pw", [None, "per_label", "scalar"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_lean_matches_float64_reference(eps: float, pw: str | None, reduction: str) -> None:
    x, t = _data(4, (4, 3, 5))
    rho = {
        "per_label": torch.tensor([0.5, 1.0, 3.0, 0.0, 2.0], dtype=D),
        "scalar": torch.tensor([2.5], dtype=D),
    }
    pos_weight = rho.get(pw) if pw else None
    up = _upstream(x.shape) if reduction == "none" else None
    weights = [
        None,
        torch.rand(3, 5, generator=_gen(5), dtype=D),
        torch.rand(4, 1, 1, generator=_gen(6), dtype=D),
    ]
    for weight in weights:  # none, per feature (tiled), per sample (materialised)
        with lean_kernels(chunk=7):
            got = _value_grad_and_fn(
                LF.bce_with_logits_loss,
                x,
                t,
                up,
                pos_weight=pos_weight,
                label_smoothing=eps,
                weight=weight,
                reduction=reduction,
            )
        assert got[2].name() == LEAN
        want = _value_grad_and_fn(
            lambda a, b, w=weight: _reduce(_bce_ref(a, b, pos_weight, eps), reduction, w), x, t, up
        )
        _close(got[:2], want[:2])


def test_zero_dim_input_and_scalar_pos_weight() -> None:
    x = torch.tensor(1.5, dtype=D, requires_grad=True)
    t = torch.tensor(0.0, dtype=D)
    out = LF.bce_with_logits_loss(x, t, pos_weight=torch.tensor([3.0], dtype=D), reduction="none")
    assert out.shape == () and out.grad_fn.name() == LEAN
    out.backward()
    torch.testing.assert_close(out, F.softplus(torch.tensor(1.5, dtype=D)))
    torch.testing.assert_close(x.grad, torch.sigmoid(torch.tensor(1.5, dtype=D)))


def test_pos_weight_longer_than_a_chunk() -> None:
    # label dim 11 > chunk 4: chunks are segments of a row, pos_weight is sliced, not tiled
    x, t = _data(16, (3, 11))
    pw = torch.rand(11, generator=_gen(17), dtype=D) * 3
    w = torch.rand(11, generator=_gen(18), dtype=D)
    for red in REDUCTIONS:
        up = _upstream(x.shape) if red == "none" else None
        with lean_kernels(chunk=4):
            got = _value_grad_and_fn(
                LF.bce_with_logits_loss, x, t, up, pos_weight=pw, weight=w, reduction=red
            )
        want = _value_grad_and_fn(lambda a, b, r=red: _reduce(_bce_ref(a, b, pw), r, w), x, t, up)
        _close(got[:2], want[:2])
