"""balanced_softmax: float64 reference from the paper's formula, relations.

The reference is written in plain float64, never through losscraft's code path.
``class_counts`` need not be normalised: the softmax cancels their scale (counts == priors), so
balanced_softmax with counts equals logit_adjusted with priors (asserted below).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from losscraft.losses.classification import balanced_softmax_loss, cross_entropy_loss, logit_adjusted_loss
from losses.classification.helpers import COUNTS, REDUCTIONS, TIGHT, D, _case, _close, _naive_index, _run


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_balanced_softmax_reference_and_logit_adjusted(reduction: str) -> None:
    x, t = _case(6, (8, 4, 2), ignore=-100, n_ignore=3)
    n = COUNTS.tolist()

    def row(z: list[float], y: int) -> float:  # n_y e^{z_y} / sum_c n_c e^{z_c}
        return -math.log(n[y] * math.exp(z[y]) / sum(nc * math.exp(zc) for nc, zc in zip(n, z, strict=True)))

    got = balanced_softmax_loss(x, t, class_counts=COUNTS, reduction=reduction)
    torch.testing.assert_close(got, _naive_index(row, x, t, reduction=reduction), **TIGHT)
    # == logit_adjusted(priors = n / sum n, tau = 1), values and gradients
    _close(
        _run(balanced_softmax_loss, x, t, class_counts=COUNTS, reduction=reduction),
        _run(logit_adjusted_loss, x, t, priors=COUNTS / COUNTS.sum(), tau=1.0, reduction=reduction),
    )
    # Ren et al.'s code: F.cross_entropy(logits + log(counts))
    _close(
        _run(balanced_softmax_loss, x, t, class_counts=COUNTS, reduction=reduction),
        _run(
            lambda a, b, **kw: F.cross_entropy(a + COUNTS.log().reshape(1, -1, 1), b, **kw),
            x,
            t,
            reduction=reduction,
        ),
    )


def test_balanced_softmax_gradcheck_and_equal_counts() -> None:
    x, t = _case(7, (4, 4), ignore=1, n_ignore=1)
    assert torch.autograd.gradcheck(
        lambda a: balanced_softmax_loss(a, t, class_counts=COUNTS, ignore_index=1),
        (x.clone().requires_grad_(),),
    )
    torch.testing.assert_close(
        balanced_softmax_loss(x, t, class_counts=torch.full((4,), 5.0, dtype=D), ignore_index=1),
        cross_entropy_loss(x, t, ignore_index=1),
    )
