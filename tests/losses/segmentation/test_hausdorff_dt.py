"""hausdorff_dt: parity with MONAI's HausdorffDTLoss (values and gradients, float64), the given-map
and one-sided forms against a float64 closed form, and the errors.

MONAI computes the prediction's map itself (``distance_field`` of the detached, thresholded
probabilities), casts both maps to float32 (``.float()``: exact for these integer-and-square-root
distances to about 1e-7) and returns ``(N, C, 1, 1)`` with ``reduction="none"``.
"""

from __future__ import annotations

import math

import pytest
import torch
from monai.losses import HausdorffDTLoss as MonaiHausdorffDTLoss

import losscraft
import losscraft.functional as LF
from losscraft import LosscraftError
from losscraft.segmentation import HausdorffDTLoss, distance_map

D = torch.float64
RTOL = 1e-6  # MONAI's maps are float32


def _case(mode: str, seed: int = 0, spatial: tuple[int, ...] = (7, 8)) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    c = 1 if mode == "binary" else 3
    x = torch.randn(3, c, *spatial, generator=g, dtype=D) * 2
    if mode == "multiclass":
        return x, torch.randint(0, 3, (3, *spatial), generator=g)
    t = (torch.rand(3, c, *spatial, generator=g) < 0.4).to(D)
    t[0, 0] = 0.0  # an empty mask: MONAI's map is 0 there
    return x, t


def _both(x: torch.Tensor, t: torch.Tensor, mode: str, monai_kw: dict, ours_kw: dict):
    xm = x.clone().requires_grad_(True)
    xo = x.clone().requires_grad_(True)
    target = torch.nn.functional.one_hot(t, x.shape[1]).movedim(-1, 1).to(D) if mode == "multiclass" else t
    act = {"softmax": True} if mode == "multiclass" else {"sigmoid": True}
    want = MonaiHausdorffDTLoss(include_background=True, **act, **monai_kw)(xm, target)
    dist = distance_map(target, dtype=D)
    got = LF.hausdorff_dt_loss(xo, t, dist, mode=mode, **ours_kw)
    return xm, xo, want, got


@pytest.mark.parametrize("mode", ["binary", "multilabel", "multiclass"])
@pytest.mark.parametrize("alpha", [2.0, 1.0, 0.5])
def test_matches_monai(mode: str, alpha: float) -> None:
    x, t = _case(mode, seed=int(alpha * 4))
    xm, xo, want, got = _both(
        x, t, mode, {"alpha": alpha, "reduction": "none"}, {"alpha": alpha, "reduction": "none"}
    )
    torch.testing.assert_close(got, want.reshape(got.shape), rtol=RTOL, atol=1e-9)
    up = torch.linspace(0.5, 1.5, got.numel(), dtype=D).reshape(got.shape)
    got.backward(up)
    want.backward(up.reshape(want.shape))
    torch.testing.assert_close(xo.grad, xm.grad, rtol=RTOL, atol=1e-9)


def test_matches_monai_in_3d_with_the_mean() -> None:
    x, t = _case("binary", seed=7, spatial=(4, 5, 6))
    xm, xo, want, got = _both(x, t, "binary", {}, {})
    torch.testing.assert_close(got, want, rtol=RTOL, atol=1e-9)
    got.backward()
    want.backward()
    torch.testing.assert_close(xo.grad, xm.grad, rtol=RTOL, atol=1e-9)


def test_without_background_is_a_class_weight() -> None:
    x, t = _case("multiclass", seed=3)
    onehot = torch.nn.functional.one_hot(t, 3).movedim(-1, 1).to(D)
    want = MonaiHausdorffDTLoss(include_background=False, softmax=True)(x, onehot)
    w = torch.tensor([0.0, 1.0, 1.0], dtype=D)
    got = LF.hausdorff_dt_loss(x, t, distance_map(onehot, dtype=D), mode="multiclass", weight=w)
    torch.testing.assert_close(got, want, rtol=RTOL, atol=1e-9)


def _closed_form(x, g, dg, dp, alpha):
    p = torch.sigmoid(x)
    return ((p - g) ** 2 * (dg**alpha + dp**alpha)).flatten(2).mean(-1)


def test_given_map_equals_the_computed_one() -> None:
    x, t = _case("multilabel", seed=4)
    dg = distance_map(t, dtype=D)
    dp = distance_map(torch.sigmoid(x), dtype=D)
    given = LF.hausdorff_dt_loss(x, t, dg, dp, mode="multilabel", reduction="none")
    computed = LF.hausdorff_dt_loss(x, t, dg, mode="multilabel", reduction="none")
    torch.testing.assert_close(given, computed, rtol=0, atol=0)
    torch.testing.assert_close(given, _closed_form(x, t, dg, dp, 2.0), rtol=1e-12, atol=1e-12)


def test_zero_prediction_map_is_the_one_sided_loss() -> None:
    x, t = _case("binary", seed=5)
    dg = distance_map(t, dtype=D)
    got = LF.hausdorff_dt_loss(x, t, dg, torch.zeros_like(dg), alpha=1.5, reduction="none")
    p = torch.sigmoid(x)
    torch.testing.assert_close(got, ((p - t) ** 2 * dg**1.5).flatten(2).mean(-1), rtol=1e-12, atol=1e-12)


def test_module_forward_takes_the_maps() -> None:
    x, t = _case("binary", seed=6)
    dg = distance_map(t, dtype=D)
    m = HausdorffDTLoss(alpha=1.0)
    torch.testing.assert_close(m(x, t, dg), LF.hausdorff_dt_loss(x, t, dg, alpha=1.0), rtol=0, atol=0)
    zeros = torch.zeros_like(dg)
    torch.testing.assert_close(m(x, t, dg, zeros), LF.hausdorff_dt_loss(x, t, dg, zeros, alpha=1.0))
    assert losscraft.get("hausdorff_dt").module is HausdorffDTLoss


def test_perfect_prediction_is_zero_and_far_errors_cost_more() -> None:
    t = torch.zeros(1, 1, 12, 12, dtype=D)
    t[0, 0, 3:8, 3:8] = 1.0
    dg = distance_map(t, dtype=D)
    x = torch.where(t > 0, 40.0, -40.0)
    assert LF.hausdorff_dt_loss(x, t, dg) < 1e-12
    near, far = x.clone(), x.clone()
    near[0, 0, 2, 5] = 40.0  # a false positive next to the object
    far[0, 0, 11, 11] = 40.0  # one far from it
    assert LF.hausdorff_dt_loss(far, t, dg) > 10 * LF.hausdorff_dt_loss(near, t, dg)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (
            (torch.zeros(2, 1, 4), torch.zeros(2, 1, 4), torch.zeros(2, 1, 5)),
            {},
            r"'target_distance' must have",
        ),
        ((torch.zeros(2, 1, 4), torch.zeros(2, 1, 4), -torch.ones(2, 1, 4)), {}, r"distances >= 0"),
        (
            (
                torch.zeros(2, 1, 4),
                torch.zeros(2, 1, 4),
                torch.zeros(2, 1, 4),
                torch.full((2, 1, 4), math.inf),
            ),
            {},
            r"'input_distance' must contain finite distances",
        ),
        (
            (torch.zeros(2, 1, 4), torch.full((2, 1, 4), 2.0), torch.zeros(2, 1, 4)),
            {},
            r"'target' must contain",
        ),
        ((torch.zeros(2, 3, 4), torch.zeros(2, 4), torch.zeros(2, 3, 4)), {"mode": "multiclass"}, r"integer"),
        (
            (torch.zeros(2, 3, 4), torch.zeros(2, 5, dtype=torch.long), torch.zeros(2, 3, 4)),
            {"mode": "multiclass"},
            r"'target' must have shape \(2, 4\) \(input's shape without dim 1\)",
        ),
        ((torch.zeros(2, 1, 4), torch.zeros(2, 1, 4), torch.zeros(2, 1, 4)), {"alpha": -1.0}, r"'alpha'"),
        (
            (torch.zeros(2, 1, 4), torch.zeros(2, 1, 4), torch.zeros(2, 1, 4, dtype=torch.long)),
            {},
            r"floating",
        ),
    ],
)
def test_errors(args: tuple, kwargs: dict, match: str) -> None:
    with pytest.raises(LosscraftError, match=match):
        LF.hausdorff_dt_loss(*args, **kwargs)


@pytest.mark.compile
def test_computed_prediction_map_is_a_graph_break_under_compile() -> None:
    torch._dynamo.reset()
    x, t = _case("binary", seed=8)
    dg = distance_map(t, dtype=D)
    compiled = torch.compile(LF.hausdorff_dt_loss)
    torch.testing.assert_close(compiled(x, t, dg), LF.hausdorff_dt_loss(x, t, dg), rtol=1e-12, atol=1e-12)
