"""msle: float64 reference, sklearn / Keras agreement on non-negative data, domain errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from losscraft import LosscraftError
from losscraft.losses.regression import mse_loss, msle_loss
from losses.regression.helpers import _spread_pair, f64


@given(
    st.lists(st.tuples(st.floats(-0.99, 1e6), st.floats(-0.99, 1e6)), min_size=1, max_size=12),
)
def test_msle_reference(pairs: list[tuple[float, float]]) -> None:
    p = np.array([a for a, _ in pairs])
    t = np.array([b for _, b in pairs])
    x = torch.tensor(p, dtype=f64, requires_grad=True)
    out = msle_loss(x, torch.tensor(t, dtype=f64), reduction="none")
    ref = (np.log(1 + p) - np.log(1 + t)) ** 2
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-9, atol=1e-12)
    out.sum().backward()
    np.testing.assert_allclose(
        x.grad.numpy(), 2 * (np.log1p(p) - np.log1p(t)) / (1 + p), rtol=1e-9, atol=1e-12
    )


def test_msle_matches_sklearn_and_keras_on_nonnegative_data() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    g = torch.Generator().manual_seed(9)
    y = torch.rand(50, generator=g, dtype=f64) * 100
    p = torch.rand(50, generator=g, dtype=f64) * 100
    assert msle_loss(p, y).item() == pytest.approx(
        metrics.mean_squared_log_error(y.numpy(), p.numpy()), rel=1e-12
    )
    w = torch.rand(50, generator=g, dtype=f64)
    sk = metrics.mean_squared_log_error(y.numpy(), p.numpy(), sample_weight=w.numpy())
    assert msle_loss(p, y, weight=w).item() == pytest.approx(sk, rel=1e-12)


def test_msle_is_mse_of_log1p_and_gradcheck() -> None:
    x, y = _spread_pair(10)
    x, y = x.abs(), y.abs()
    torch.testing.assert_close(msle_loss(x, y), mse_loss(torch.log1p(x), torch.log1p(y)))
    xi = (x - 0.5).clone().requires_grad_(True)  # values in (-0.5, ...) are in the domain
    yi = y.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: msle_loss(a, b, reduction="none"), (xi, yi))


def test_msle_domain_errors() -> None:
    ok = torch.ones(2, 2)
    with pytest.raises(
        LosscraftError,
        match=r"^msle_loss: 'input' must contain values > -1, got -1 \(observed range \[-1, 1\]\)$",
    ):
        msle_loss(torch.tensor([[1.0, -1.0], [0.0, 0.0]]), ok)
    with pytest.raises(LosscraftError, match=r"^msle_loss: 'target' must contain values > -1, got -3"):
        msle_loss(ok, torch.tensor([[1.0, -3.0], [0.0, 0.0]]))
    with pytest.raises(LosscraftError, match=r"^msle_loss: 'input' must contain values > -1, got nan"):
        msle_loss(torch.tensor([[1.0, math.nan], [0.0, 0.0]]), ok)
    # in the domain but negative: computed as written (Keras would clip to 0 first)
    assert msle_loss(torch.tensor([-0.5]), torch.tensor([0.0])).item() == pytest.approx(math.log(0.5) ** 2)
