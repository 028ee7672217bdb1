"""cumulative_link: parity with statsmodels' OrderedModel (logit), a float64 sigmoid reference, stability."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from losscraft import LosscraftError
from losscraft.losses.ordinal import CumulativeLinkLoss, OrderedCutpoints, cumulative_link_loss
from losses.ordinal.helpers import f64, ref_cumulative_link


def _case(seed: int, n: int = 40, k: int = 5) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    f = torch.randn(n, generator=g, dtype=f64) * 2
    cut = torch.cumsum(torch.rand(k - 1, generator=g, dtype=f64) + 0.3, 0) - 1.5
    y = torch.arange(n) % k
    return f, y, cut


def test_parity_with_statsmodels_ordered_logit() -> None:
    om = pytest.importorskip("statsmodels.miscmodels.ordinal_model")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 1))
    y = np.arange(30) % 4
    model = om.OrderedModel(y, x, distr="logit")
    beta, first, log_gaps = 1.3, -0.5, [math.log(0.7), math.log(1.2)]
    params = np.array([beta, first, *log_gaps])
    cut = torch.tensor(model.transform_threshold_params(params)[1:-1], dtype=f64)
    f = torch.tensor(x[:, 0] * beta, dtype=f64)
    ours = cumulative_link_loss(f, torch.tensor(y), cut, reduction="none")
    np.testing.assert_allclose(ours.numpy(), -model.loglikeobs(params), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_values_and_gradients_match_the_sigmoid_reference(reduction: str) -> None:
    f0, y, c0 = _case(1)
    reducers = {"mean": torch.mean, "sum": torch.sum, "none": lambda v: v}
    outs = []
    for fn in (
        lambda f, c: cumulative_link_loss(f, y, c, reduction=reduction),
        lambda f, c: reducers[reduction](ref_cumulative_link(f, y, c)),
    ):
        f = f0.clone().requires_grad_(True)
        c = c0.clone().requires_grad_(True)
        out = fn(f, c)
        out.sum().backward()
        outs.append((out.detach(), f.grad, c.grad))
    for a, b in zip(*outs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-12)


def test_score_gradient_closed_form() -> None:
    f, y, c = _case(2, n=10)
    f.requires_grad_(True)
    cumulative_link_loss(f, y, c, reduction="sum").backward()
    full = torch.cat([c.new_tensor([-math.inf]), c, c.new_tensor([math.inf])])
    want = 1 - torch.sigmoid(full[y + 1] - f.detach()) - torch.sigmoid(full[y] - f.detach())
    torch.testing.assert_close(f.grad, want, rtol=1e-12, atol=1e-12)


def test_extreme_scores_are_finite_and_match_the_asymptote() -> None:
    cut = torch.tensor([-1.0, 0.0, 1.0], dtype=f64)
    f = torch.tensor([1e4, -1e4, 1e4, -1e4, 40.0], dtype=f64, requires_grad=True)
    y = torch.tensor([1, 1, 3, 0, 2])
    out = cumulative_link_loss(f, y, cut, reduction="none")
    out.sum().backward()
    # inner class k: -log P ~ (f - theta_k) - log(1 - e^{-(theta_k - theta_{k-1})}) as f -> +inf
    gap = -math.log(1 - math.exp(-1.0))
    want = torch.tensor([1e4 - 0.0 + gap, 1e4 + (-1.0) + gap, 0.0, 0.0, 40.0 - 1.0 + gap], dtype=f64)
    torch.testing.assert_close(out.detach(), want, rtol=1e-12, atol=1e-12)
    assert torch.isfinite(f.grad).all()
    # float32 and float16 too (computed in float32)
    for dt in (torch.float32, torch.float16):
        got = cumulative_link_loss(f.detach().to(dt), y, cut.to(dt), reduction="none")
        assert torch.isfinite(got).all()
        torch.testing.assert_close(got.double(), want, rtol=1e-6, atol=1e-3)


def test_two_classes_is_bce_with_logits() -> None:
    f, _, _ = _case(3, n=12)
    y = torch.arange(12) % 2
    theta = torch.tensor([0.4], dtype=f64)
    torch.testing.assert_close(
        cumulative_link_loss(f, y, theta, reduction="none"),
        F.binary_cross_entropy_with_logits(f - theta, y.to(f64), reduction="none"),
        rtol=1e-13,
        atol=1e-13,
    )


def test_any_shape_weights_and_ignore_index() -> None:
    f, y, c = _case(4, n=12)
    f2, y2 = f.reshape(3, 4), y.reshape(3, 4)
    ref = ref_cumulative_link(f, y, c).reshape(3, 4)
    torch.testing.assert_close(cumulative_link_loss(f2, y2, c, reduction="none"), ref)
    w = torch.rand(3, 1, dtype=f64)
    torch.testing.assert_close(
        cumulative_link_loss(f2, y2, c, weight=w), (w * ref).sum() / w.expand_as(ref).sum()
    )
    yi = y2.clone()
    yi[0, :2] = -100
    torch.testing.assert_close(cumulative_link_loss(f2, yi, c), ref[yi != -100].mean())


def test_equal_cutpoints_give_zero_probability_to_the_class_between() -> None:
    cut = torch.tensor([0.0, 0.0, 1.0], dtype=f64)
    assert math.isinf(cumulative_link_loss(torch.zeros(1, dtype=f64), torch.tensor([1]), cut).item())
    assert math.isfinite(cumulative_link_loss(torch.zeros(1, dtype=f64), torch.tensor([2]), cut).item())


def test_module_and_ordered_cutpoints_train_together() -> None:
    g = torch.Generator().manual_seed(0)
    latent = torch.randn(300, generator=g)
    y = torch.bucketize(latent + 0.3 * torch.randn(300, generator=g), torch.tensor([-1.0, 0.0, 0.8]))
    cut = OrderedCutpoints(4)
    scale = torch.nn.Parameter(torch.tensor(0.1))
    loss = CumulativeLinkLoss()
    opt = torch.optim.Adam([*cut.parameters(), scale], lr=0.1)
    for _ in range(100):
        opt.zero_grad()
        loss(scale * latent, y, cut()).backward()
        opt.step()
    theta = cut().detach()
    assert bool((theta[1:] > theta[:-1]).all())
    # latent + N(0, 0.3^2) thresholded at (-1, 0, 0.8): the logit fit recovers the order and spacing
    ratios = theta / scale.detach()
    assert ratios[0] < -0.6 and -0.3 < ratios[1] < 0.3 and ratios[2] > 0.5


def test_ordered_cutpoints_init_and_errors() -> None:
    torch.testing.assert_close(OrderedCutpoints(3, init=[-2.0, 5.0])().detach(), torch.tensor([-2.0, 5.0]))
    torch.testing.assert_close(OrderedCutpoints(5)().detach(), torch.tensor([-1.5, -0.5, 0.5, 1.5]))
    assert OrderedCutpoints(2)().shape == (1,)
    with pytest.raises(LosscraftError, match=r"OrderedCutpoints: 'num_classes' must be an int >= 2, got 1"):
        OrderedCutpoints(1)
    with pytest.raises(LosscraftError, match=r"'init' must hold num_classes - 1 = 2 cutpoints"):
        OrderedCutpoints(3, init=[0.0])
    with pytest.raises(LosscraftError, match=r"'init' must hold finite, strictly increasing cutpoints"):
        OrderedCutpoints(3, init=[1.0, 1.0])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            (torch.zeros(3), torch.tensor([0, 1, 3]), torch.tensor([0.0, 1.0])),
            r"'target' contains class index 3, expected values in \[0, 2\]",
        ),
        (
            (torch.zeros(3), torch.tensor([0, 1, 2]), torch.tensor([1.0, 0.0])),
            r"'cutpoints' must be non-decreasing .* got theta_0 = 1 > theta_1 = 0",
        ),
        (
            (torch.zeros(3), torch.tensor([0, 1, 2]), torch.tensor([0.0, math.inf])),
            r"'cutpoints' must contain finite values, got inf",
        ),
        ((torch.zeros(3), torch.tensor([0, 1, 0]), torch.zeros(0)), r"'cutpoints' must have shape \(K-1,\)"),
        (
            (torch.zeros(3), torch.tensor([0, 1, 0]), torch.zeros(1, 2)),
            r"'cutpoints' must have shape \(K-1,\)",
        ),
        (
            (torch.zeros(3), torch.tensor([0, 1, 0]), torch.tensor([0, 1])),
            r"'cutpoints' must be a floating-point tensor",
        ),
        (
            (torch.zeros(3), torch.tensor([0, 1]), torch.tensor([0.0])),
            r"'input' and 'target' must have the same shape",
        ),
        (
            (torch.zeros(3), torch.tensor([0.0, 1.0, 0.0]), torch.tensor([0.0])),
            r"'target' must be an integer tensor",
        ),
    ],
)
def test_errors_name_the_argument(args: tuple, message: str) -> None:
    with pytest.raises(LosscraftError, match="cumulative_link_loss: " + message):
        cumulative_link_loss(*args)
