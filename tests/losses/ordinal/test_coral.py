"""coral: coral-pytorch's ``coral_loss`` (transcribed in helpers.py), its published example, options."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from losscraft import LosscraftError
from losscraft.losses.ordinal import CoralLoss, coral_loss
from losses.ordinal.helpers import f64, levels_from_labelbatch, ref_coral, task_case


def test_published_example_of_coral_pytorch() -> None:
    # coral-pytorch 1.4.0, coral_loss docstring: levels [[1,1,0,0],[1,0,0,0],[1,1,1,1]] -> 0.6920
    levels = torch.tensor([[1.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    logits = torch.tensor([[2.1, 1.8, -2.1, -1.8], [1.9, -1.0, -1.5, -1.3], [1.9, 1.8, 1.7, 1.6]])
    y = levels.sum(dim=1).long()
    assert torch.equal(levels_from_labelbatch(y, 5).float(), levels)
    assert round(coral_loss(logits, y).item(), 4) == 0.6920


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_matches_coral_pytorch_values_and_gradients(reduction: str, weighted: bool) -> None:
    x0, y = task_case(3, n=11, tasks=5)
    imp = torch.tensor([0.5, 1.0, 2.0, 0.0, 1.5], dtype=f64) if weighted else None
    outs = []
    for fn in (
        lambda x: coral_loss(x, y, importance=imp, reduction=reduction),
        lambda x: ref_coral(x, y, imp, reduction),
    ):
        x = x0.clone().requires_grad_(True)
        out = fn(x)
        out.sum().backward()
        outs.append((out.detach(), x.grad))
    for a, b in zip(*outs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-13, atol=1e-13)


def test_gradient_is_sigmoid_minus_label() -> None:
    x, y = task_case(4, n=6, tasks=3)
    x.requires_grad_(True)
    coral_loss(x, y, reduction="sum").backward()
    above = (y.unsqueeze(1) > torch.arange(3)).to(f64)
    torch.testing.assert_close(x.grad, torch.sigmoid(x.detach()) - above, rtol=1e-13, atol=1e-13)


def test_two_classes_is_bce_with_logits() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 1, generator=g, dtype=f64) * 4
    y = torch.randint(0, 2, (8,), generator=g)
    torch.testing.assert_close(
        coral_loss(x, y, reduction="none"),
        F.binary_cross_entropy_with_logits(x[:, 0], y.to(f64), reduction="none"),
        rtol=1e-14,
        atol=1e-14,
    )


def test_extreme_logits_are_finite_and_exact() -> None:
    x = torch.tensor([[1e4, -1e4, -1e4]], requires_grad=True)
    out = coral_loss(x, torch.tensor([2]))  # task 1 wrong by 1e4
    out.backward()
    assert out.item() == pytest.approx(1e4, rel=1e-6)
    assert torch.isfinite(x.grad).all()


def test_ignore_index_and_per_sample_weight() -> None:
    x, y = task_case(5, n=6, tasks=3)
    ref = ref_coral(x, y, reduction="none")
    yi = y.clone()
    yi[[1, 4]] = -1
    keep = torch.tensor([True, False, True, True, False, True])
    torch.testing.assert_close(coral_loss(x, yi, ignore_index=-1), ref[keep].mean())
    w = torch.linspace(0.5, 2.0, 6, dtype=f64)
    torch.testing.assert_close(coral_loss(x, y, weight=w), (w * ref).sum() / w.sum())


def test_module_matches_function_and_keeps_importance() -> None:
    x, y = task_case(6, n=5, tasks=3)
    m = CoralLoss(importance=[1.0, 2.0, 0.5], reduction="sum")
    torch.testing.assert_close(m(x, y), coral_loss(x, y, importance=[1.0, 2.0, 0.5], reduction="sum"))
    assert m.get_config() == {
        "name": "coral",
        "importance": [1.0, 2.0, 0.5],
        "ignore_index": -100,
        "reduction": "sum",
    }


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (
            (torch.zeros(4, 3), torch.tensor([0, 1, 4, 2])),
            {},
            r"coral_loss: 'target' contains class index 4, expected values in \[0, 3\]",
        ),
        (
            (torch.zeros(4, 3), torch.tensor([0, -1, 1, 2])),
            {},
            r"contains class index -1, expected values in \[0, 3\] or ignore_index=-100",
        ),
        (
            (torch.zeros(4, 3), torch.tensor([0.0, 1.0, 1.0, 2.0])),
            {},
            r"coral_loss: 'target' must be an integer tensor of class indices",
        ),
        (
            (torch.zeros(4), torch.tensor([0, 1, 1, 0])),
            {},
            r"coral_loss: 'input' must have shape \(N, K-1\).*got \(4,\)",
        ),
        (
            (torch.zeros(4, 0), torch.zeros(4, dtype=torch.long)),
            {},
            r"'input' must have shape \(N, K-1\).*K >= 2.*got \(4, 0\)",
        ),
        (
            (torch.zeros(4, 3), torch.tensor([0, 1, 2])),
            {},
            r"coral_loss: 'target' of class indices must have shape \(N,\) = \(4,\)",
        ),
        (
            (torch.zeros(4, 3), torch.tensor([0, 1, 2, 3])),
            {"importance": [1.0, 1.0]},
            r"coral_loss: 'importance' must have shape \(3,\) \(one value per task",
        ),
        (
            (torch.zeros(4, 3), torch.tensor([0, 1, 2, 3])),
            {"importance": [1.0, -1.0, 1.0]},
            r"coral_loss: 'importance' must",
        ),
    ],
)
def test_errors_name_the_argument(args: tuple, kwargs: dict, message: str) -> None:
    with pytest.raises(LosscraftError, match=message):
        coral_loss(*args, **kwargs)
