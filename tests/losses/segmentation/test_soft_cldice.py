"""soft_cldice: parity with MONAI's SoftclDiceLoss (values and gradients, float64), the skeleton,
the paper's behaviour on a broken vessel, and the errors.

MONAI takes probabilities (``sigmoid=True`` / ``softmax=True`` apply the activation), pools the
channels of an image into one value, and adds ``smooth`` (default 1e-4) to the harmonic mean's
denominator; with one channel, ``smooth=1e-30`` (MONAI requires > 0) and ``smooth_nr = smooth_dr``
it is this loss. The multiclass case is compared one class at a time.
"""

from __future__ import annotations

import pytest
import torch
from monai.losses import SoftclDiceLoss
from monai.losses.cldice import soft_skel

import losscraft
import losscraft.functional as LF
from losscraft import LosscraftError
from losscraft.segmentation import SoftClDiceLoss, soft_skeleton

D = torch.float64


def _vessels(n: int, spatial: tuple[int, ...], seed: int) -> torch.Tensor:
    """Masks of random thick lines: (n, 1, *spatial) in {0, 1}."""
    g = torch.Generator().manual_seed(seed)
    t = torch.zeros(n, 1, *spatial, dtype=D)
    for i in range(n):
        r = int(torch.randint(1, spatial[0] - 2, (1,), generator=g))
        c = int(torch.randint(1, spatial[1] - 2, (1,), generator=g))
        t[i, 0, r : r + 2] = 1.0  # a horizontal band two pixels thick
        t[i, 0, :, c] = 1.0  # and a vertical line
    return t


@pytest.mark.parametrize("spatial", [(9, 10), (6, 7, 5)])
@pytest.mark.parametrize(("iterations", "smooth"), [(3, 1.0), (5, 0.5), (0, 1.0)])
def test_matches_monai_binary(spatial: tuple[int, ...], iterations: int, smooth: float) -> None:
    t = _vessels(4, spatial, seed=iterations)
    g = torch.Generator().manual_seed(1)
    x = (torch.randn(t.shape, generator=g, dtype=D) + 2 * (2 * t - 1)).requires_grad_(True)
    xm = x.detach().clone().requires_grad_(True)
    peer = SoftclDiceLoss(iter_=iterations, smooth_nr=smooth, smooth_dr=smooth, smooth=1e-30, sigmoid=True)
    want = peer(xm, t)
    got = LF.soft_cldice_loss(x, t, iterations=iterations, smooth=smooth)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-14)
    got.backward()
    want.backward()
    torch.testing.assert_close(x.grad, xm.grad, rtol=1e-10, atol=1e-14)


def test_matches_monai_per_class_in_multiclass() -> None:
    g = torch.Generator().manual_seed(2)
    labels = torch.randint(0, 3, (3, 8, 9), generator=g)
    x = torch.randn(3, 3, 8, 9, generator=g, dtype=D)
    got = LF.soft_cldice_loss(x, labels, mode="multiclass", reduction="none")
    probs = torch.softmax(x, 1)
    onehot = torch.nn.functional.one_hot(labels, 3).movedim(-1, 1).to(D)
    peer = SoftclDiceLoss(smooth=1e-30, reduction="none")  # takes probabilities
    want = torch.stack([peer(probs[:, [k]], onehot[:, [k]]) for k in range(3)], dim=1)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-14)


def test_monai_default_differs_by_its_harmonic_mean_epsilon() -> None:
    t = _vessels(2, (8, 8), seed=3)
    x = 3 * (2 * t - 1)
    ours = LF.soft_cldice_loss(x, t)
    default = SoftclDiceLoss(sigmoid=True)(x, t)
    assert 0 < float(default - ours) < 1e-4


def test_skeleton_is_monais() -> None:
    g = torch.Generator().manual_seed(4)
    for shape in ((2, 3, 9, 9), (1, 2, 5, 6, 7)):
        img = torch.rand(shape, generator=g, dtype=D)
        torch.testing.assert_close(soft_skeleton(img, 4), soft_skel(img, 4), rtol=0, atol=0)


def test_perfect_prediction_is_zero_and_a_break_costs() -> None:
    vessel = torch.zeros(1, 1, 7, 15, dtype=D)
    vessel[0, 0, 3, :] = 1.0
    perfect = torch.where(vessel > 0, 40.0, -40.0)
    broken = perfect.clone()
    broken[0, 0, 3, 7] = -40.0  # a one-pixel gap: 1 of 15 foreground pixels
    assert LF.soft_cldice_loss(perfect, vessel) < 1e-12
    assert LF.soft_cldice_loss(broken, vessel) > 0.02
    # a one-pixel false positive beside the vessel leaves the topology intact: cheaper than the break
    extra = perfect.clone()
    extra[0, 0, 5, 7] = 40.0
    assert LF.soft_cldice_loss(extra, vessel) < LF.soft_cldice_loss(broken, vessel)


def test_smooth_zero_and_empty_skeletons() -> None:
    t = torch.zeros(1, 1, 4, 4, dtype=D)
    x = torch.full_like(t, -50.0)
    out = LF.soft_cldice_loss(x, t, smooth=0.0)
    assert torch.isfinite(out) and out == 1.0


def test_module_equals_the_function() -> None:
    t = _vessels(3, (8, 9), seed=5)
    x = torch.randn(t.shape, generator=torch.Generator().manual_seed(5), dtype=D)
    m = SoftClDiceLoss(iterations=2, smooth=0.5, reduction="none")
    torch.testing.assert_close(m(x, t), LF.soft_cldice_loss(x, t, iterations=2, smooth=0.5, reduction="none"))
    assert losscraft.get("soft_cldice").module is SoftClDiceLoss


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((torch.zeros(2, 1, 4), torch.zeros(2, 1, 4)), {}, r"with 2 or 3 spatial dims"),
        ((torch.zeros(2, 1, 3, 3, 3, 3), torch.zeros(2, 1, 3, 3, 3, 3)), {}, r"with 2 or 3 spatial dims"),
        ((torch.zeros(2, 2, 4, 4), torch.zeros(2, 2, 4, 4)), {}, r"one channel"),
        ((torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 4, 5)), {}, r"same shape"),
        (
            (torch.zeros(2, 1, 4, 4), torch.full((2, 1, 4, 4), -1.0)),
            {},
            r"'target' must contain values in \[0, 1\]",
        ),
        ((torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 4, 4)), {"iterations": -1}, r"'iterations'"),
        ((torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 4, 4)), {"smooth": -1.0}, r"'smooth'"),
        (
            (torch.zeros(2, 3, 4, 4), torch.zeros(2, 4, 4, dtype=torch.long) + 3),
            {"mode": "multiclass"},
            r"index 3",
        ),
    ],
)
def test_errors(args: tuple, kwargs: dict, match: str) -> None:
    with pytest.raises(LosscraftError, match=match):
        LF.soft_cldice_loss(*args, **kwargs)
