"""The distance-map helpers against the authors' code: Kervadec's one_hot2dist and MONAI's field.

``one_hot2dist`` is transcribed from the boundary-loss authors' repository (LIVIA,
``utils.py``); MONAI's ``HausdorffDTLoss.distance_field`` is called directly. The brute-force
torch maps behind the registry's samples must agree with both.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy.ndimage import distance_transform_edt as eucl_distance

from losscraft import LosscraftError
from losscraft.losses.segmentation._maps import exact_maps, rect_masks
from losscraft.segmentation import distance_map, signed_distance_map


def one_hot2dist(seg: np.ndarray, resolution: tuple[float, ...] | None = None) -> np.ndarray:
    """Kervadec et al.'s ``one_hot2dist`` (boundary-loss repository), for a (K, *spatial) one-hot mask."""
    k = len(seg)
    res = np.zeros_like(seg, dtype=np.float64)
    for i in range(k):
        posmask = seg[i].astype(bool)
        if posmask.any():
            negmask = ~posmask
            res[i] = (
                eucl_distance(negmask, sampling=resolution) * negmask
                - (eucl_distance(posmask, sampling=resolution) - 1) * posmask
            )
    return res


def _masks(seed: int, shape: tuple[int, ...] = (3, 2, 9, 11)) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=g) < 0.4


@pytest.mark.parametrize("seed", range(3))
def test_signed_map_is_one_hot2dist(seed: int) -> None:
    m = _masks(seed)
    got = signed_distance_map(m, dtype=torch.float64)
    want = np.stack([one_hot2dist(im.numpy()) for im in m])
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-12)
    assert (got[m] <= 0).all() and (got[~m] >= 1).all()


def test_signed_map_with_spacing_and_3d() -> None:
    m = _masks(4, (2, 1, 5, 6, 7))
    got = signed_distance_map(m, spacing=(2.0, 1.0, 0.5), dtype=torch.float64)
    want = np.stack([one_hot2dist(im.numpy(), (2.0, 1.0, 0.5)) for im in m])
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-12)


def test_empty_and_full_masks_have_zero_maps() -> None:
    m = torch.zeros(2, 1, 4, 5, dtype=torch.bool)
    m[1] = True  # all foreground
    for fn in (signed_distance_map, distance_map):
        assert (fn(m) == 0).all()
    # one_hot2dist agrees on the empty mask (scipy's transform of an all-true mask is not a
    # distance to any boundary: the helper defines the full mask's map as 0 too)
    np.testing.assert_array_equal(one_hot2dist(m[0].numpy()), 0.0)


@pytest.mark.parametrize("seed", range(3))
def test_unsigned_map_is_monais_distance_field(seed: int) -> None:
    from monai.losses import HausdorffDTLoss

    m = _masks(seed).double()
    m[0, 0] = 0.0  # an empty mask
    m[1, 1] = 1.0  # a full one
    field = HausdorffDTLoss().distance_field
    want = torch.cat([field(m[:, [c]]) for c in range(m.shape[1])], dim=1)
    torch.testing.assert_close(distance_map(m, dtype=torch.float64), want, rtol=0, atol=1e-12)


def test_class_indices_and_probabilities() -> None:
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 3, (2, 6, 7), generator=g)
    onehot = torch.nn.functional.one_hot(labels, 3).movedim(-1, 1)
    for fn in (signed_distance_map, distance_map):
        torch.testing.assert_close(fn(labels, num_classes=3), fn(onehot))
        probs = torch.where(onehot > 0, 0.8, 0.3)  # thresholded at 0.5
        torch.testing.assert_close(fn(probs), fn(onehot.bool()))
    assert signed_distance_map(onehot, dtype=torch.float64).dtype == torch.float64


@pytest.mark.parametrize("seed", range(3))
def test_sample_maps_equal_the_helpers(seed: int) -> None:
    fg = rect_masks(4, 3, (6, 7), torch.Generator().manual_seed(seed)) | _masks(seed, (4, 3, 6, 7))
    fg[0, 0] = False
    fg[1, 1] = True
    torch.testing.assert_close(exact_maps(fg, signed=True), signed_distance_map(fg, dtype=torch.float64))
    torch.testing.assert_close(exact_maps(fg, signed=False), distance_map(fg, dtype=torch.float64))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mask": torch.zeros(2, 3)}, r"'mask' must have shape \(N, C, \*spatial\)"),
        ({"mask": [[0, 1]]}, r"'mask' must be a torch.Tensor, got list"),
        (
            {"mask": torch.zeros(2, 3, dtype=torch.long), "num_classes": 1},
            r"'num_classes' must be an int >= 2",
        ),
        ({"mask": torch.full((2, 3), 4), "num_classes": 3}, r"'mask' contains class index 4"),
        ({"mask": torch.zeros(1, 1, 3, 3), "spacing": (1.0,)}, r"'spacing' must be .* sequence of 2"),
        ({"mask": torch.zeros(1, 1, 3, 3), "spacing": -1.0}, r"'spacing' must be a positive finite float"),
        ({"mask": torch.zeros(1, 1, 3), "dtype": torch.long}, r"'dtype' must be a floating torch dtype"),
    ],
)
def test_bad_arguments(kwargs: dict, match: str) -> None:
    for fn in (signed_distance_map, distance_map):
        with pytest.raises(LosscraftError, match=match):
            fn(**kwargs)


def test_missing_scipy_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "scipy.ndimage", None)
    with pytest.raises(LosscraftError, match=r"pip install 'losscraft\[seg\]'"):
        distance_map(torch.zeros(1, 1, 3))


def test_import_losscraft_does_not_import_scipy() -> None:
    code = (
        "import sys, losscraft, losscraft.segmentation, losscraft.functional; "
        "assert 'scipy' not in sys.modules, sorted(m for m in sys.modules if m.startswith('scipy'))"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
