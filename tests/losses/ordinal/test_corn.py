"""corn: coral-pytorch 1.4.0's ``corn_loss`` (transcribed in helpers.py), the chained NLL, options."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from losscraft import LosscraftError
from losscraft.losses.ordinal import CornLoss, corn_loss
from losses.ordinal.helpers import f64, ref_corn_nll, ref_corn_pairs, task_case


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pairs_mean_matches_coral_pytorch_values_and_gradients(seed: int) -> None:
    x0, y = task_case(seed, n=10, tasks=4)
    outs = []
    for fn in (lambda x: corn_loss(x, y, mean_over="pairs"), lambda x: ref_corn_pairs(x, y, 5)):
        x = x0.clone().requires_grad_(True)
        out = fn(x)
        out.backward()
        outs.append((out.detach(), x.grad))
    for a, b in zip(*outs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-13, atol=1e-13)


def test_per_sample_loss_is_the_chained_negative_log_likelihood() -> None:
    x, y = task_case(4, n=12, tasks=5)
    none = corn_loss(x, y, reduction="none")
    torch.testing.assert_close(none, ref_corn_nll(x, y), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(corn_loss(x, y), none.mean())
    torch.testing.assert_close(corn_loss(x, y, reduction="sum"), none.sum())
    # the chained probabilities of one row sum to 1 over the classes
    rows = torch.stack([corn_loss(x[:1], torch.tensor([r]), reduction="none") for r in range(6)])
    torch.testing.assert_close((-rows).exp().sum(), torch.tensor(1.0, dtype=f64))


def test_pairs_and_samples_differ_by_the_pair_count() -> None:
    x, y = task_case(5, n=8, tasks=3)
    pairs = torch.clamp(y + 1, max=3).sum().to(f64)  # min(y + 1, K - 1) per sample
    torch.testing.assert_close(corn_loss(x, y, mean_over="pairs") * pairs, corn_loss(x, y) * 8)


def test_task_no_sample_reaches_is_finite_and_gets_no_gradient() -> None:
    x = torch.randn(4, 4, dtype=f64, requires_grad=True)
    y = torch.tensor([0, 1, 0, 1])  # tasks 2 and 3: no sample with y >= 2
    out = corn_loss(x, y, mean_over="pairs")
    out.backward()
    assert torch.isfinite(out)
    torch.testing.assert_close(out, ref_corn_pairs(x.detach(), y, 5))
    assert (x.grad[:, 2:] == 0).all() and (x.grad[:, :2] != 0).any()
    # all samples in class 0: only task 0 is trained
    x.grad = None
    corn_loss(x, torch.zeros(4, dtype=torch.long)).backward()
    assert (x.grad[:, 1:] == 0).all()


def test_two_classes_is_bce_with_logits() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 1, generator=g, dtype=f64) * 4
    y = torch.randint(0, 2, (8,), generator=g)
    ref = F.binary_cross_entropy_with_logits(x[:, 0], y.to(f64), reduction="none")
    for mean_over in ("samples", "pairs"):  # one task: one pair per sample
        torch.testing.assert_close(corn_loss(x, y, mean_over=mean_over, reduction="none"), ref)
        torch.testing.assert_close(corn_loss(x, y, mean_over=mean_over), ref.mean())


def test_nan_in_an_unreached_task_still_shows() -> None:
    x = torch.zeros(2, 3, dtype=f64)
    x[0, 2] = float("nan")  # sample 0 is class 0: task 2 is never reached
    out = corn_loss(x, torch.tensor([0, 1]), reduction="none")
    assert torch.isnan(out[0]) and torch.isfinite(out[1])


@pytest.mark.parametrize("mean_over", ["samples", "pairs"])
def test_weights_and_ignore_index(mean_over: str) -> None:
    x, y = task_case(6, n=7, tasks=3)
    none = ref_corn_nll(x, y)
    pairs = torch.clamp(y + 1, max=3).to(f64)
    w = torch.linspace(0.2, 2.0, 7, dtype=f64)
    den = (w * pairs).sum() if mean_over == "pairs" else w.sum()
    torch.testing.assert_close(corn_loss(x, y, weight=w, mean_over=mean_over), (w * none).sum() / den)
    torch.testing.assert_close(corn_loss(x, y, weight=w, reduction="none", mean_over=mean_over), w * none)
    yi = y.clone()
    yi[2] = 255
    keep = torch.arange(7) != 2
    den = pairs[keep].sum() if mean_over == "pairs" else keep.sum()
    torch.testing.assert_close(
        corn_loss(x, yi, ignore_index=255, mean_over=mean_over), none[keep].sum() / den
    )
    everything = torch.full_like(y, 255)
    assert corn_loss(x, everything, ignore_index=255, mean_over=mean_over).item() == 0.0


def test_module_and_errors() -> None:
    x, y = task_case(7, n=5, tasks=3)
    m = CornLoss(mean_over="pairs")
    torch.testing.assert_close(m(x, y), corn_loss(x, y, mean_over="pairs"))
    with pytest.raises(LosscraftError, match=r"corn_loss: 'mean_over' must be one of 'samples', 'pairs'"):
        corn_loss(x, y, mean_over="tasks")
    with pytest.raises(
        LosscraftError, match=r"corn_loss: 'target' contains class index 4, expected values in \[0, 3\]"
    ):
        corn_loss(x, torch.tensor([0, 1, 2, 3, 4]))
    with pytest.raises(LosscraftError, match=r"corn_loss: 'input' must have shape \(N, K-1\)"):
        corn_loss(x[:, :0], y)
