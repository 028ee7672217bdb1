"""cosine_similarity: torch parity, a numpy reference, and its numerics at extreme scales.

References: ``1 - F.cosine_similarity`` (values and gradients, float64) and numpy dot products.
Convention differences vs torch (asserted below):
* Zero vectors: losscraft gives cosine 0 with zero gradient; torch clamps the denominator
  (eps 1e-8). Only an *exact* zero vector takes that zero-vector rule.
* Paired inputs must have identical shapes (torch broadcasts some of them).

``1 - cos`` is scale invariant, so the loss on ``s * x`` must equal the loss on ``x`` at any
scale the dtype can hold, although the squared norms overflow (float32 beyond ~1e19) or
underflow (below ~1e-19). A NaN reaches the loss as NaN; an infinite entry gives the limit
(the direction of that axis) where there is one. Scales are powers of two where possible, so
``s * x`` holds exactly the direction of ``x``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from losscraft import LosscraftError
from losscraft.losses.embedding import CosineSimilarityLoss, cosine_similarity_loss
from losses.embedding.helpers import D64, INF, NAN, _assert_same, _emb, _randn


# ---------------------------------------------------------------- torch parity, references, errors
@pytest.mark.parametrize("shape", [(7, 6), (2, 3, 4), (5,)])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_cosine_similarity_parity_with_torch(shape: tuple[int, ...], reduction: str) -> None:
    x, y = _emb(*shape, seed=1)

    def ref(a, b):
        v = 1 - F.cosine_similarity(a, b, dim=-1)
        return {"none": v, "sum": v.sum(), "mean": v.mean()}[reduction]

    _assert_same(
        lambda a, b: cosine_similarity_loss(a, b, reduction=reduction).sum(),
        lambda a, b: ref(a, b).sum(),
        (x, y),
    )
    assert cosine_similarity_loss(x, y, reduction="none").shape == shape[:-1]


def test_cosine_similarity_numpy_reference() -> None:
    x, y = _emb(6, 3, seed=2)
    ref = [
        1 - float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))
        for a, b in zip(x.numpy(), y.numpy(), strict=True)
    ]
    np.testing.assert_allclose(
        cosine_similarity_loss(x, y, reduction="none").numpy(), ref, rtol=1e-12, atol=1e-14
    )


def test_cosine_similarity_zero_vectors_finite() -> None:
    x = torch.tensor([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [1e-9, 0.0, 0.0]], dtype=D64)
    y = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]], dtype=D64)
    xr, yr = x.clone().requires_grad_(True), y.clone().requires_grad_(True)
    out = cosine_similarity_loss(xr, yr, reduction="none")
    # an exact zero vector has cosine 0 with anything: loss 1, zero gradient; a short vector
    # (1e-9) still has a direction: aligned with y, loss 0 (and a zero gradient there too)
    torch.testing.assert_close(out, torch.tensor([1.0, 1.0, 1.0, 0.0], dtype=D64))
    out.sum().backward()
    assert torch.isfinite(xr.grad).all() and torch.isfinite(yr.grad).all()
    assert (xr.grad == 0).all() and (yr.grad == 0).all()


@given(
    c1=st.floats(1e-3, 1e3),
    c2=st.floats(1e-3, 1e3),
    seed=st.integers(0, 10_000),
)
def test_cosine_similarity_scale_invariant(c1: float, c2: float, seed: int) -> None:
    x, y = _emb(4, 5, seed=seed)
    base = cosine_similarity_loss(x, y, reduction="none")
    torch.testing.assert_close(
        cosine_similarity_loss(c1 * x, c2 * y, reduction="none"), base, rtol=1e-9, atol=1e-12
    )
    assert ((base >= -1e-12) & (base <= 2 + 1e-12)).all()


def test_cosine_similarity_half_precision_large_values() -> None:
    """fp16 embeddings of size 3e4: the squared norm (~1e9) overflows fp16, not float32."""
    x, y = _emb(8, 16, seed=3, scale=1.0)
    x = (x / x.abs().max() * 3e4).half()
    y = y.half()
    xr = x.clone().requires_grad_(True)
    out = cosine_similarity_loss(xr, y, reduction="none")
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    torch.testing.assert_close(
        out.double(), cosine_similarity_loss(x.double(), y.double(), reduction="none"), rtol=1e-5, atol=1e-6
    )
    out.sum().backward()
    assert torch.isfinite(xr.grad).all()


def test_cosine_similarity_gradcheck_and_weight() -> None:
    x, y = _emb(2, 3, 4, seed=4)
    w = torch.rand(2, 3, dtype=D64)
    assert torch.autograd.gradcheck(
        lambda a, b: cosine_similarity_loss(a, b, weight=w, reduction="none"),
        (x.requires_grad_(True), y.requires_grad_(True)),
    )
    none = cosine_similarity_loss(x, y, reduction="none")
    torch.testing.assert_close(cosine_similarity_loss(x, y, weight=w), (w * none).sum() / w.sum())


def test_cosine_similarity_errors() -> None:
    with pytest.raises(
        LosscraftError,
        match=r"cosine_similarity_loss: 'input' and 'target' must have the same "
        r"shape, got input \(3, 4\) and target \(1, 4\)",
    ):
        cosine_similarity_loss(torch.ones(3, 4), torch.ones(1, 4))
    with pytest.raises(LosscraftError, match="'input' must have shape \\(\\*, D\\)"):
        cosine_similarity_loss(torch.tensor(1.0), torch.tensor(1.0))
    with pytest.raises(LosscraftError, match="'target' must be a floating-point tensor"):
        cosine_similarity_loss(torch.ones(3, 4), torch.ones(3, 4, dtype=torch.long))
    assert repr(CosineSimilarityLoss()) == "CosineSimilarityLoss(reduction='mean')"


# --------------------------------------------------------------- scale invariance and zero vectors
# float32: squares of 2^+-80 overflow / underflow; 1e-30 and 1e20 are typical tiny / huge scales;
# 2^-140 is subnormal itself (the direction is then that of the rounded values).
F32_SCALES = [2.0**-140, 1e-30, 2.0**-80, 1e-10, 1e10, 2.0**80, 1e20, 2.0**120]
F64_SCALES = [2.0**-1000, 2.0**-600, 2.0**600, 2.0**1000]


def _np_cos(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    """Row cosines in float64 numpy, from the exact values of ``a`` and ``b``."""
    x, y = a.double().numpy(), b.double().numpy()
    # rescale each row exactly by a power of two first: float64 squares of 2^-1000 underflow
    x = x / 2.0 ** np.floor(np.log2(np.abs(x).max(axis=-1, keepdims=True)))
    y = y / 2.0 ** np.floor(np.log2(np.abs(y).max(axis=-1, keepdims=True)))
    return (x * y).sum(-1) / (np.sqrt((x * x).sum(-1)) * np.sqrt((y * y).sum(-1)))


@pytest.mark.parametrize("scale", F32_SCALES, ids=lambda s: f"{s:.0e}")
def test_cosine_similarity_is_scale_invariant_in_float32(scale: float) -> None:
    x, y = _randn(6, 16, seed=1), _randn(6, 16, seed=2)
    xs, ys = (scale * x).float(), (scale * y).float()
    # x with itself: 0 (old code: NaN at 1e20, 1.0 at 1e-10 and below)
    torch.testing.assert_close(
        cosine_similarity_loss(xs, xs, reduction="none"), torch.zeros(6), atol=1e-6, rtol=0
    )
    expected = torch.from_numpy(1.0 - _np_cos(xs, ys))
    torch.testing.assert_close(
        cosine_similarity_loss(xs, ys, reduction="none").double(), expected, atol=1e-6, rtol=0
    )
    # mixed scales in one call: one huge input against an ordinary target
    torch.testing.assert_close(
        cosine_similarity_loss(xs, y.float(), reduction="none").double(),
        torch.from_numpy(1.0 - _np_cos(xs, y.float())),
        atol=1e-6,
        rtol=0,
    )


@pytest.mark.parametrize("scale", F64_SCALES, ids=lambda s: f"{s:.0e}")
def test_cosine_similarity_is_scale_invariant_in_float64(scale: float) -> None:
    x, y = _randn(5, 7, seed=3), _randn(5, 7, seed=4)
    expected = 1.0 - F.cosine_similarity(x, y, dim=-1)  # unit scale
    torch.testing.assert_close(cosine_similarity_loss(scale * x, scale * y, reduction="none"), expected)
    torch.testing.assert_close(cosine_similarity_loss(scale * x, y, reduction="none"), expected)


def test_half_precision_tiny_vectors_are_compared_by_direction() -> None:
    """fp16 vectors of norm ~1e-6 (subnormal fp16 entries) are not zero vectors."""
    x, y = _randn(4, 8, seed=5), _randn(4, 8, seed=6)
    xh, yh = (1e-6 * x).half(), (1e-6 * y).half()
    assert (xh != 0).any(dim=-1).all()
    out = cosine_similarity_loss(xh, yh, reduction="none")
    torch.testing.assert_close(out.double(), torch.from_numpy(1.0 - _np_cos(xh, yh)), atol=1e-6, rtol=0)


def test_only_an_exact_zero_vector_takes_the_zero_rule() -> None:
    x = torch.tensor([[0.0, 0.0, 0.0], [1e-30, 0.0, 0.0], [0.0, 0.0, 0.0], [3e-39, 1e-39, 0.0]])
    y = torch.tensor([[1.0, 2.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [-3.0, -1.0, 0.0]])
    xr, yr = x.clone().requires_grad_(True), y.clone().requires_grad_(True)
    out = cosine_similarity_loss(xr, yr, reduction="none")
    # exact zeros: loss 1; a tiny vector along y: 0; a tiny (subnormal) vector opposite y: 2
    torch.testing.assert_close(out, torch.tensor([1.0, 0.0, 1.0, 2.0]), atol=1e-6, rtol=0)
    out.sum().backward()
    assert torch.isfinite(xr.grad).all() and torch.isfinite(yr.grad).all()
    assert (xr.grad[[0, 2]] == 0).all() and (yr.grad[[0, 2]] == 0).all()


@pytest.mark.parametrize("tiny_row", [False, True], ids=["fast-path", "scaled-path"])
def test_zero_rows_among_ordinary_rows(tiny_row: bool) -> None:
    """Zero padding: zero rows give loss 1 and gradient 0; the other rows are untouched."""
    x, y = _randn(6, 5, seed=7), _randn(6, 5, seed=8)
    x[1] = 0.0
    y[4] = 0.0
    if tiny_row:  # forces the scaled path for the whole call
        x[2] *= 2.0**-600
    xr, yr = x.clone().requires_grad_(True), y.clone().requires_grad_(True)
    out = cosine_similarity_loss(xr, yr, reduction="none")
    rest = [0, 2, 3, 5]
    torch.testing.assert_close(out[rest], torch.from_numpy(1.0 - _np_cos(x[rest], y[rest])))
    torch.testing.assert_close(out[[1, 4]], torch.ones(2, dtype=D64))
    out.sum().backward()
    assert (xr.grad[1] == 0).all() and (yr.grad[1] == 0).all()
    assert (xr.grad[4] == 0).all() and (yr.grad[4] == 0).all()
    ref_x = x.clone().requires_grad_(True)
    (1 - F.cosine_similarity(ref_x[[0, 3, 5]], y[[0, 3, 5]], dim=-1)).sum().backward()
    torch.testing.assert_close(xr.grad[[0, 3, 5]], ref_x.grad[[0, 3, 5]])


# ------------------------------------------------------------------------------------- NaN and inf
def test_cosine_nan_reaches_only_its_row() -> None:
    x, y = _randn(4, 5, seed=9), _randn(4, 5, seed=10)
    x[1, 2] = NAN
    y[3] = 0.0
    y[3, 0] = NAN  # a NaN next to zeros: not a zero vector
    out = cosine_similarity_loss(x, y, reduction="none")
    assert torch.isnan(out[[1, 3]]).all()
    torch.testing.assert_close(out[[0, 2]], 1 - F.cosine_similarity(x[[0, 2]], y[[0, 2]], dim=-1))
    assert torch.isnan(cosine_similarity_loss(x, y))
    z = torch.zeros(1, 3, dtype=D64)  # a zero vector against a NaN vector: NaN, not the zero rule
    assert torch.isnan(cosine_similarity_loss(z, torch.tensor([[NAN, 0.0, 0.0]], dtype=D64)))


def test_cosine_of_an_infinite_entry_is_the_limit() -> None:
    x = torch.tensor([[INF, 0.0, 5.0], [-INF, 3.0, 1.0], [INF, INF, 0.0], [INF, -INF, 1.0]], dtype=D64)
    y = torch.tensor([[1.0, 2.0, 0.0], [2.0, 1.0, 2.0], [1.0, 1.0, 0.0], [1.0, 0.0, 0.0]], dtype=D64)
    xr, yr = x.clone().requires_grad_(True), y.clone().requires_grad_(True)
    out = cosine_similarity_loss(xr, yr, reduction="none")
    # one infinite entry: the direction tends to that axis, cos -> +-y_k / ||y||
    torch.testing.assert_close(out[:2], torch.tensor([1 - 1 / math.sqrt(5), 1 + 2 / 3], dtype=D64))
    # the limit agrees with a huge finite entry
    big = x[:2].clone()
    big[:, 0] = big[:, 0].sign() * 1e300
    torch.testing.assert_close(out[:2], 1 - F.cosine_similarity(big / 1e300, y[:2], dim=-1))
    # several infinite entries: no limit (it depends on the rates), NaN
    assert torch.isnan(out[2:]).all()
    out[:2].sum().backward()
    assert (xr.grad[:2] == 0).all()  # the limit of a gradient of size 1/||x||
    assert torch.isfinite(yr.grad[:2]).all()
    # cos(e1-direction, y) as a function of y
    ref_y = y[:2].clone().requires_grad_(True)
    axis = torch.tensor([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]], dtype=D64)
    (1 - F.cosine_similarity(axis, ref_y, dim=-1)).sum().backward()
    torch.testing.assert_close(yr.grad[:2], ref_y.grad)


# -------------------------------------------------------- every normalising loss at extreme scales
@pytest.mark.parametrize("scale", [1.0, 2.0**-600, 2.0**600], ids=lambda s: f"{s:.0e}")
def test_cosine_similarity_gradcheck_at_every_scale(scale: float) -> None:
    x, y = _randn(5, 4, seed=50).requires_grad_(True), _randn(5, 4, seed=51).requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda a, b: cosine_similarity_loss(scale * a, b, reduction="none"), (x, y)
    )


def test_leading_dimensions_with_zero_and_tiny_rows() -> None:
    """``(*, D)`` inputs: the zero-row and rescaling bookkeeping works over every leading index."""
    x, y = _randn(2, 3, 4, seed=90), _randn(2, 3, 4, seed=91)
    x[1, 2] = 0.0
    x[0, 1] *= 2.0**-700
    out = cosine_similarity_loss(x, y, reduction="none")
    unit = x.clone()
    unit[0, 1] *= 2.0**700  # exact: the same direction at unit scale
    expected = 1 - F.cosine_similarity(unit, y, dim=-1)
    expected[1, 2] = 1.0
    torch.testing.assert_close(out, expected)
