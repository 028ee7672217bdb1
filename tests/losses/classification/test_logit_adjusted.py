"""logit_adjusted: float64 reference from the paper's formula, torch parity, relations.

The reference is written in plain float64 (Python ``math`` loops or naive torch expressions),
never through losscraft's code path. Convention differences, asserted below:

* ``priors`` need not be normalised: the softmax cancels their scale.
* With every target ignored (or an empty batch) the loss is 0 with zero gradients;
  ``F.cross_entropy`` on the adjusted logits gives NaN.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from losscraft.losses.classification import cross_entropy_loss, logit_adjusted_loss
from losses.classification.helpers import (
    PRIORS,
    REDUCTIONS,
    TIGHT,
    D,
    _case,
    _close,
    _gen,
    _naive_index,
    _run,
)


def _la_row(priors: list[float], tau: float):
    def row(z: list[float], y: int) -> float:
        a = [zc + tau * math.log(pc) for zc, pc in zip(z, priors, strict=True)]
        return -math.log(math.exp(a[y]) / sum(math.exp(v) for v in a))

    return row


@pytest.mark.parametrize("shape", [(7, 4), (2, 4, 3, 2)])
@pytest.mark.parametrize("tau", [0.0, 0.5, 1.0, 2.0])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_logit_adjusted_reference(shape, tau: float, reduction: str) -> None:
    x, t = _case(1, shape, ignore=-100, n_ignore=2)
    got = logit_adjusted_loss(x, t, priors=PRIORS, tau=tau, reduction=reduction)
    ref = _naive_index(_la_row(PRIORS.tolist(), tau), x, t, reduction=reduction)
    torch.testing.assert_close(got, ref, **TIGHT)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_logit_adjusted_torch_parity_and_gradient(reduction: str) -> None:
    # Menon et al.'s definition: torch's CE on the adjusted logits, values and gradients.
    x, t = _case(2, (6, 4, 3), ignore=-100, n_ignore=3)
    shift = 0.7 * PRIORS.log().reshape(1, -1, 1)
    _close(
        _run(logit_adjusted_loss, x, t, priors=PRIORS, tau=0.7, reduction=reduction),
        _run(lambda a, b, **kw: F.cross_entropy(a + shift, b, **kw), x, t, reduction=reduction),
    )


def test_logit_adjusted_priors_scale_free_and_relations() -> None:
    x, t = _case(3, (9, 4))
    counts = PRIORS * 1234.0
    for tau in (0.3, 1.0):
        torch.testing.assert_close(
            logit_adjusted_loss(x, t, priors=counts, tau=tau, reduction="none"),
            logit_adjusted_loss(x, t, priors=PRIORS, tau=tau, reduction="none"),
            **TIGHT,
        )
    # tau = 0, uniform priors and priors=None are all cross-entropy
    ce = cross_entropy_loss(x, t, reduction="none")
    torch.testing.assert_close(logit_adjusted_loss(x, t, priors=PRIORS, tau=0.0, reduction="none"), ce)
    torch.testing.assert_close(logit_adjusted_loss(x, t, priors=torch.full((4,), 3.0, dtype=D)), ce.mean())
    torch.testing.assert_close(logit_adjusted_loss(x, t, reduction="none"), ce)
    # the adjustment hurts head classes and helps tail classes (target class 0 vs 3)
    x0 = torch.zeros(1, 4, dtype=D)
    head = logit_adjusted_loss(x0, torch.tensor([0]), priors=PRIORS).item()
    tail = logit_adjusted_loss(x0, torch.tensor([3]), priors=PRIORS).item()
    assert head < math.log(4) < tail


def test_logit_adjusted_element_weight_and_gradcheck() -> None:
    x, t = _case(4, (3, 4, 2), ignore=2, n_ignore=2)
    w = torch.rand(3, 2, generator=_gen(5), dtype=D) + 0.1
    got = logit_adjusted_loss(x, t, priors=PRIORS, ignore_index=2, weight=w)
    vals = _naive_index(_la_row(PRIORS.tolist(), 1.0), x, t, ignore_index=2, reduction="none")
    keep = t != 2
    torch.testing.assert_close(got, (vals * w).sum() / (w * keep).sum(), **TIGHT)
    assert torch.autograd.gradcheck(
        lambda a: logit_adjusted_loss(a, t, priors=PRIORS, tau=1.5, ignore_index=2, weight=w),
        (x.clone().requires_grad_(),),
    )
