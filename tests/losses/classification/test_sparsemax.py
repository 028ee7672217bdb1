"""sparsemax: optax's multi-class sparsemax loss written out, the Fenchel-Young gradient, the margin.

optax (0.2.x, ``optax/losses/_classification.py``, ``_multiclass_sparsemax_loss``; optax's own
``sparsemax_loss`` is the binary one) computes, per sample::

    proba = projection_simplex(scores)
    scores = (scores - scores[label]).at[label].set(0.0)
    loss = dot(proba, where(proba, scores, 0.0)) + 0.5 * (1.0 - dot(proba, proba))

optax is not installable here: the formula is written out below on a float64 simplex projection
found by bisection (independent of the library's sort-based threshold).
"""

from __future__ import annotations

import pytest
import torch

from losscraft import LosscraftError
from losscraft.losses.classification import SparsemaxLoss, sparsemax_loss
from losscraft.losses.classification.sparse_activations import sparsemax
from losses.classification.helpers import REDUCTIONS, D, _ce_case, _gen, _rows


def _scaled(seed: int, shape: tuple[int, int], scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    g = _gen(seed)
    return torch.randn(shape, generator=g, dtype=D) * scale, torch.randint(
        0, shape[1], (shape[0],), generator=g
    )


def _projection_simplex(z: list[float]) -> list[float]:
    """argmin_{p in simplex} |p - z|^2 = (z - tau)_+, tau by 200 bisection steps in float64."""
    lo, hi = max(z) - 1.0, max(z)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if sum(max(0.0, v - mid) for v in z) > 1.0:
            lo = mid
        else:
            hi = mid
    tau = 0.5 * (lo + hi)
    return [max(0.0, v - tau) for v in z]


def _optax_row(z: list[float], y: int) -> float:
    proba = _projection_simplex(z)
    s = [0.0 if j == y else v - z[y] for j, v in enumerate(z)]
    return sum(p * (sj if p != 0.0 else 0.0) for p, sj in zip(proba, s, strict=True)) + 0.5 * (
        1.0 - sum(p * p for p in proba)
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_matches_optax_written_out(reduction: str) -> None:
    x, t = _ce_case(51, (4, 5, 3), ignore=-100, n_ignore=2)
    rows = _rows(x, t)
    vals = torch.tensor([_optax_row(z, y) if y != -100 else 0.0 for z, y in rows], dtype=D)
    kept = sum(y != -100 for _, y in rows)
    ref = {"none": vals.reshape(t.shape), "sum": vals.sum(), "mean": vals.sum() / kept}[reduction]
    torch.testing.assert_close(sparsemax_loss(x, t, reduction=reduction), ref, rtol=1e-9, atol=1e-12)


def test_gradient_is_sparsemax_minus_onehot() -> None:
    x, t = _scaled(52, (30, 6), 1.5)
    xg = x.clone().requires_grad_(True)
    sparsemax_loss(xg, t, reduction="sum").backward()
    p = torch.tensor([_projection_simplex(z) for z in x.tolist()], dtype=D)
    torch.testing.assert_close(xg.grad, p - torch.nn.functional.one_hot(t, 6).to(D), rtol=1e-9, atol=1e-12)
    assert (p == 0).any(), "the sample exercises a sparse support"


def test_gradcheck_and_second_order() -> None:
    x, t = _ce_case(53, (5, 4))
    w = torch.rand(5, generator=_gen(54), dtype=D)
    f = lambda a: sparsemax_loss(a, t, weight=w)  # noqa: E731
    assert torch.autograd.gradcheck(f, (x.clone().requires_grad_(True),))
    assert torch.autograd.gradgradcheck(f, (x.clone().requires_grad_(True),))


def test_zero_once_the_target_leads_by_one() -> None:
    x = torch.tensor([[2.0, 1.0, 0.5], [2.0, 1.001, -3.0], [1.0, 1.5, 0.0]], dtype=D)
    out = sparsemax_loss(x, torch.tensor([0, 0, 1]), reduction="none")
    assert out[0].item() == 0.0
    assert out[1].item() > 0.0  # a lead of 0.999 < 1: just inside the margin
    assert out[2].item() == pytest.approx(_optax_row([1.0, 1.5, 0.0], 1), abs=1e-15)
    assert out[2].item() > 0.0


def test_sparsemax_projection_matches_bisection_and_handles_ties() -> None:
    x, _ = _scaled(55, (40, 7), 2.0)
    want = torch.tensor([_projection_simplex(z) for z in x.tolist()], dtype=D)
    torch.testing.assert_close(sparsemax(x), want, rtol=1e-12, atol=1e-12)
    tied = torch.tensor([[1.0, 1.0, 1.0, -5.0]], dtype=D)
    torch.testing.assert_close(sparsemax(tied), torch.tensor([[1 / 3, 1 / 3, 1 / 3, 0.0]], dtype=D))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_extreme_logits_are_finite_and_exact(dtype: torch.dtype) -> None:
    x = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4 - 0.5], [1e4, 1e4, 1e4]], dtype=D)
    t = torch.tensor([1, 1, 0])
    ref = torch.tensor([_optax_row(z, y) for z, y in zip(x.tolist(), t.tolist(), strict=True)], dtype=D)
    xl = x.to(dtype).requires_grad_(True)
    out = sparsemax_loss(xl, t, reduction="none")
    out.sum().backward()
    assert out.dtype == torch.float32 and torch.isfinite(xl.grad).all()
    torch.testing.assert_close(
        out.double(), sparsemax_loss(x.to(dtype).double(), t, reduction="none"), rtol=1e-6, atol=1e-6
    )
    if dtype == torch.float32:
        torch.testing.assert_close(out.double(), ref, rtol=1e-6, atol=1e-6)


def test_errors_and_module() -> None:
    x, t = _ce_case(56, (3, 4))
    with pytest.raises(LosscraftError, match="C >= 2"):
        sparsemax_loss(x[:, :1], torch.zeros(3, dtype=torch.long))
    with pytest.raises(LosscraftError, match="class index 4"):
        sparsemax_loss(x, torch.tensor([0, 4, 1]))
    torch.testing.assert_close(SparsemaxLoss(ignore_index=1)(x, t), sparsemax_loss(x, t, ignore_index=1))
