"""boundary: a float64 closed form written from the paper, its gradient, the maps it takes, errors.

The reference sums p_i * phi_i over the pixels with explicit loops in float64 (sigmoid and
softmax written out); the maps come from Kervadec et al.'s ``one_hot2dist`` (transcribed in
``test_distance_maps.py``, checked against the helper there).
"""

from __future__ import annotations

import math

import pytest
import torch

import losscraft
import losscraft.functional as LF
from losscraft import LosscraftError
from losscraft.segmentation import BoundaryLoss, signed_distance_map

D = torch.float64


def _reference(x: torch.Tensor, phi: torch.Tensor, mode: str) -> torch.Tensor:
    """(N, C): mean over pixels of prob * phi, one pixel at a time."""
    n, c = x.shape[:2]
    xs, ps = x.reshape(n, c, -1).tolist(), phi.reshape(n, c, -1).tolist()
    out = torch.zeros(n, c, dtype=D)
    for i in range(n):
        for k in range(c):
            total = 0.0
            for j in range(len(xs[i][k])):
                if mode == "multiclass":
                    z = [xs[i][m][j] for m in range(c)]
                    top = max(z)
                    prob = math.exp(z[k] - top) / sum(math.exp(v - top) for v in z)
                else:
                    prob = 1.0 / (1.0 + math.exp(-xs[i][k][j]))
                total += prob * ps[i][k][j]
            out[i, k] = total / len(xs[i][k])
    return out


def _case(mode: str, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    c = 1 if mode == "binary" else 3
    x = torch.randn(3, c, 7, 8, generator=g, dtype=D) * 2
    if mode == "multiclass":
        labels = torch.randint(0, 3, (3, 7, 8), generator=g)
        phi = signed_distance_map(labels, num_classes=3, dtype=D)
    else:
        phi = signed_distance_map(torch.rand(3, c, 7, 8, generator=g) < 0.3, dtype=D)
    return x, phi


@pytest.mark.parametrize("mode", ["binary", "multilabel", "multiclass"])
def test_matches_the_closed_form(mode: str) -> None:
    x, phi = _case(mode)
    got = LF.boundary_loss(x, phi, mode=mode, reduction="none")
    want = _reference(x, phi, mode)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(LF.boundary_loss(x, phi, mode=mode), want.mean(), rtol=1e-12, atol=1e-12)


def test_gradient_is_phi_times_the_sigmoid_slope() -> None:
    x, phi = _case("multilabel", seed=1)
    x.requires_grad_(True)
    LF.boundary_loss(x, phi, mode="multilabel", reduction="sum").backward()
    s = torch.sigmoid(x.detach())
    torch.testing.assert_close(x.grad, phi * s * (1 - s) / (7 * 8), rtol=1e-12, atol=1e-15)


def test_kervadec_surface_loss_with_foreground_classes() -> None:
    # the authors' SurfaceLoss(idc=[1, 2]): einsum("bkwh,bkwh->bkwh", probs[:, idc], dist[:, idc]).mean()
    x, phi = _case("multiclass", seed=2)
    probs = torch.softmax(x, 1)
    want = torch.einsum("bkwh,bkwh->bkwh", probs[:, 1:], phi[:, 1:]).mean()
    w = torch.tensor([0.0, 1.0, 1.0], dtype=D)
    torch.testing.assert_close(LF.boundary_loss(x, phi, mode="multiclass", weight=w), want)


def test_can_be_negative_and_is_minimised_by_the_object() -> None:
    mask = torch.zeros(1, 1, 9, 9, dtype=torch.bool)
    mask[0, 0, 2:7, 2:7] = True
    phi = signed_distance_map(mask, dtype=D)
    exact = torch.where(mask, 30.0, -30.0).to(D)
    assert LF.boundary_loss(exact, phi) < 0
    assert LF.boundary_loss(exact, phi) < LF.boundary_loss(exact.roll(1, -1), phi)
    assert LF.boundary_loss(torch.full_like(exact, -30.0), phi).abs() < 1e-10


def test_empty_mask_gives_zero() -> None:
    phi = signed_distance_map(torch.zeros(2, 1, 4, 4, dtype=torch.bool), dtype=D)
    assert (LF.boundary_loss(torch.randn(2, 1, 4, 4, dtype=D), phi, reduction="none") == 0).all()


def test_module_equals_the_function() -> None:
    x, phi = _case("multilabel", seed=3)
    torch.testing.assert_close(
        BoundaryLoss(mode="multilabel", reduction="none")(x, phi),
        LF.boundary_loss(x, phi, mode="multilabel", reduction="none"),
        rtol=0,
        atol=0,
    )
    assert losscraft.get("boundary").module is BoundaryLoss


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (
            (torch.zeros(2, 1, 4), torch.zeros(2, 1, 5)),
            {},
            r"'target' must have the input's shape \(2, 1, 4\)",
        ),
        ((torch.zeros(2, 1, 4), torch.zeros(2, 1, 4, dtype=torch.long)), {}, r"'target' must be a floating"),
        (
            (torch.zeros(2, 1, 4), torch.full((2, 1, 4), math.nan)),
            {},
            r"'target' must contain finite distances",
        ),
        (
            (torch.zeros(2, 2, 4), torch.zeros(2, 2, 4)),
            {},
            r"one channel, \(N, 1, \*spatial\), for mode='binary'",
        ),
        ((torch.zeros(2, 1, 4), torch.zeros(2, 1, 4)), {"mode": "multiclass"}, r"C >= 2 classes"),
        ((torch.zeros(2, 3), torch.zeros(2, 3)), {"mode": "multilabel"}, r"at least one spatial dims"),
        ((torch.zeros(2, 1, 4, dtype=torch.long), torch.zeros(2, 1, 4)), {}, r"'input' must be a floating"),
    ],
)
def test_errors(args: tuple, kwargs: dict, match: str) -> None:
    with pytest.raises(LosscraftError, match=match):
        LF.boundary_loss(*args, **kwargs)
