"""What the ordinal losses share: registry metadata, the class-count rule, 2 classes = BCE on logits.

The registry-wide single-class check (tests/contract/test_single_class.py) narrows dim 1 of the
first input to one class; the ordinal inputs have no class dim (K-1 task logits, or one score
per sample and K-1 cutpoints), so their counterpart is here: K = 1 (no task, no cutpoint) is an
error, K = 2 learns.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import losscraft
from losscraft import Family, LosscraftError, TargetKind, Task

f64 = torch.float64
NAMES = ("coral", "corn", "cumulative_link")


def _two_class_call(name: str, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The loss with K = 2 on scores ``x`` (a logit of 'y > 0')."""
    fn = losscraft.get(name).function
    if name == "cumulative_link":
        return fn(x, y, torch.zeros(1, dtype=x.dtype), reduction="none")  # theta_0 = 0: logit f
    return fn(x.unsqueeze(1), y, reduction="none")


def test_registry_metadata() -> None:
    entries = losscraft.catalog(family=Family.ORDINAL)
    assert {e.name for e in entries} == set(NAMES)
    for e in entries:
        assert e.spec.tasks == (Task.ORDINAL,)
        assert e.spec.target_kind is TargetKind.CLASS_INDEX
        assert e.spec.ignore_index and e.module is not None
        assert e.spec.when_not_to_use.strip()
    assert {e.name for e in losscraft.catalog(task=Task.ORDINAL)} >= set(NAMES)
    assert losscraft.get("proportional_odds").name == "cumulative_link"


@pytest.mark.parametrize("name", NAMES)
def test_two_classes_are_bce_with_logits_and_learn(name: str) -> None:
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(10, generator=g, dtype=f64) * 3).requires_grad_(True)
    y = torch.arange(10) % 2
    out = _two_class_call(name, x, y)
    torch.testing.assert_close(out, F.binary_cross_entropy_with_logits(x, y.to(f64), reduction="none"))
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize("name", NAMES)
def test_one_class_raises(name: str) -> None:
    fn = losscraft.get(name).function
    y = torch.zeros(3, dtype=torch.long)
    args = (torch.zeros(3), y, torch.zeros(0)) if name == "cumulative_link" else (torch.zeros(3, 0), y)
    with pytest.raises(LosscraftError, match=r"K-1.*>= 1|K >= 2"):
        fn(*args)


@pytest.mark.parametrize("name", NAMES)
def test_empty_batch_and_all_ignored(name: str) -> None:
    fn = losscraft.get(name).function
    for n, fill in ((0, 0), (4, -100)):
        y = torch.full((n,), fill, dtype=torch.long)
        if name == "cumulative_link":
            x = torch.zeros(n, requires_grad=True)
            out = fn(x, y, torch.tensor([-1.0, 1.0]))
        else:
            x = torch.zeros(n, 2, requires_grad=True)
            out = fn(x, y)
        assert out.item() == 0.0
        out.backward()
        assert x.grad is not None and (x.grad == 0).all()


def test_rank_consistent_models_predict_the_order() -> None:
    """A shared-score CORAL head, a free CORN head and a cumulative-link score, trained briefly on
    a latent-normal rating: every prediction rule recovers the ratings far above chance."""
    from losscraft.ordinal import OrderedCutpoints, predict_coral, predict_corn, predict_cumulative_link

    g = torch.Generator().manual_seed(0)
    z = torch.randn(600, generator=g)
    y = torch.bucketize(z + 0.2 * torch.randn(600, generator=g), torch.tensor([-1.0, -0.2, 0.5, 1.2]))
    w = torch.zeros(1, requires_grad=True)
    b = torch.zeros(4, requires_grad=True)  # CORAL: one weight, K-1 biases
    wc = torch.zeros(4, requires_grad=True)
    bc = torch.zeros(4, requires_grad=True)  # CORN: free per-task weights and biases
    s = torch.zeros(1, requires_grad=True)
    cut = OrderedCutpoints(5)
    opt = torch.optim.Adam([w, b, wc, bc, s, *cut.parameters()], lr=0.1)
    for _ in range(150):
        opt.zero_grad()
        loss = (
            losscraft.functional.coral_loss(z[:, None] * w + b, y)
            + losscraft.functional.corn_loss(z[:, None] * wc + bc, y)
            + losscraft.functional.cumulative_link_loss(z * s, y, cut())
        )
        loss.backward()
        opt.step()
    with torch.no_grad():
        preds = (
            predict_coral(z[:, None] * w + b),
            predict_corn(z[:, None] * wc + bc),
            predict_cumulative_link(z * s, cut()),
        )
    for p in preds:
        assert (p == y).float().mean() > 0.7  # chance: about 0.3
        assert (p - y).abs().max() <= 2
