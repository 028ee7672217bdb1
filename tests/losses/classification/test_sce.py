"""sce (symmetric cross-entropy): float64 reference and the official code's label clip.

The paper's A = log 0 := -4 is the default; the official code clips the one-hot label at 1e-4,
i.e. A = log(1e-4) (matched below with ``log_zero=log(1e-4)``).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from losscraft.losses.classification import gce_loss, sce_loss
from losses.classification.helpers import REDUCTIONS, TIGHT, D, _case, _gen, _naive_index, _run, _softmax


def _sce_row(alpha: float, beta: float, a: float):
    def row(z: list[float], y: int) -> float:
        p = _softmax(z)
        log_q = [0.0 if k == y else a for k in range(len(z))]  # log(one-hot), log 0 := A
        rce = -sum(pk * lq for pk, lq in zip(p, log_q, strict=True))
        return alpha * -math.log(p[y]) + beta * rce

    return row


@pytest.mark.parametrize("shape", [(7, 4), (2, 3, 5)])
@pytest.mark.parametrize(("alpha", "beta", "a"), [(0.1, 1.0, -4.0), (6.0, 0.1, -4.0), (1.0, 0.5, -9.0)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_sce_reference(shape, alpha: float, beta: float, a: float, reduction: str) -> None:
    x, t = _case(17, shape, ignore=-100, n_ignore=2)
    got = sce_loss(x, t, alpha=alpha, beta=beta, log_zero=a, reduction=reduction)
    torch.testing.assert_close(
        got, _naive_index(_sce_row(alpha, beta, a), x, t, reduction=reduction), **TIGHT
    )


def test_sce_matches_official_code_with_its_label_clip() -> None:
    # HanxunH/SCELoss-Reproduce: alpha * CE + beta * mean(-sum(clamp(p, 1e-7) * log(clamp(onehot, 1e-4))))
    x, t = _case(18, (10, 6))  # moderate logits: every p > 1e-7, so the pred clamp is inactive
    alpha, beta = 0.1, 1.0
    p = torch.softmax(x, 1).clamp(min=1e-7, max=1.0)
    oh = F.one_hot(t, 6).to(D).clamp(min=1e-4, max=1.0)
    official = alpha * F.cross_entropy(x, t) + beta * (-(p * oh.log()).sum(1)).mean()
    got = sce_loss(x, t, alpha=alpha, beta=beta, log_zero=math.log(1e-4))
    torch.testing.assert_close(got, official, **TIGHT)


def test_sce_gradient_relations_and_gradcheck() -> None:
    x, t = _case(19, (6, 4))
    alpha, beta, a = 0.3, 2.0, -4.0
    _, g = _run(sce_loss, x, t, alpha=alpha, beta=beta, log_zero=a, reduction="sum")
    p = torch.softmax(x, 1)
    onehot = F.one_hot(t, 4).to(D)
    p_y = (p * onehot).sum(1, keepdim=True)
    torch.testing.assert_close(g, (alpha - beta * a * p_y) * (p - onehot), **TIGHT)
    # the reverse term is -A * GCE(q=1) = -A (1 - p_y); with beta = 0 it is cross-entropy
    torch.testing.assert_close(
        sce_loss(x, t, alpha=0.0, beta=1.0, log_zero=-2.5), 2.5 * gce_loss(x, t, q=1.0), **TIGHT
    )
    torch.testing.assert_close(sce_loss(x, t, alpha=1.0, beta=0.0), F.cross_entropy(x, t), **TIGHT)
    xs, ts = _case(20, (2, 4, 3), ignore=-100, n_ignore=2)
    w = torch.rand(2, 3, generator=_gen(3), dtype=D)
    assert torch.autograd.gradcheck(
        lambda u: sce_loss(u, ts, alpha=0.5, beta=0.7, log_zero=-6.0, weight=w),
        (xs.clone().requires_grad_(),),
    )
