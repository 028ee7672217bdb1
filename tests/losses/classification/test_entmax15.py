"""entmax15: the entmax package's Entmax15Loss formula written out, the gradient, the margin.

The ``entmax`` package (deep-spin/entmax, ``entmax/losses.py``, ``_GenericLossFunction`` with
``Entmax15LossFunction``) computes ``omega(p) + <p - onehot(y), z>`` with
``omega(p) = (1 - sum p^alpha) / (alpha (alpha - 1))`` and ``p = entmax15(z)``, alpha = 1.5.
Written out here on a float64 1.5-entmax found by bisection (``p = (z/2 - tau)_+^2``, sum 1),
independent of the library's sort-based threshold.
"""

from __future__ import annotations

import pytest
import torch

from losscraft import LosscraftError, get
from losscraft.losses.classification import Entmax15Loss, entmax15_loss
from losscraft.losses.classification.sparse_activations import entmax15
from losses.classification.helpers import REDUCTIONS, D, _ce_case, _gen, _rows


def _scaled(seed: int, shape: tuple[int, int], scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    g = _gen(seed)
    return torch.randn(shape, generator=g, dtype=D) * scale, torch.randint(
        0, shape[1], (shape[0],), generator=g
    )


def _entmax15_bisect(z: list[float]) -> list[float]:
    h = [v / 2.0 for v in z]
    lo, hi = max(h) - 1.0, max(h)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if sum(max(0.0, v - mid) ** 2 for v in h) > 1.0:
            lo = mid
        else:
            hi = mid
    tau = 0.5 * (lo + hi)
    return [max(0.0, v - tau) ** 2 for v in h]


def _entmax_package_row(z: list[float], y: int) -> float:
    p = _entmax15_bisect(z)
    omega = (1.0 - sum(pi**1.5 for pi in p)) / (1.5 * 0.5)
    return omega + sum(
        (pi - (1.0 if j == y else 0.0)) * zj for j, (pi, zj) in enumerate(zip(p, z, strict=True))
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_matches_the_entmax_package_formula(reduction: str) -> None:
    x, t = _ce_case(61, (4, 5, 3), ignore=-100, n_ignore=2)
    rows = _rows(x, t)
    vals = torch.tensor([_entmax_package_row(z, y) if y != -100 else 0.0 for z, y in rows], dtype=D)
    kept = sum(y != -100 for _, y in rows)
    ref = {"none": vals.reshape(t.shape), "sum": vals.sum(), "mean": vals.sum() / kept}[reduction]
    torch.testing.assert_close(entmax15_loss(x, t, reduction=reduction), ref, rtol=1e-9, atol=1e-12)


def test_gradient_is_entmax_minus_onehot_and_second_order() -> None:
    x, t = _scaled(62, (30, 6), 3.0)
    xg = x.clone().requires_grad_(True)
    entmax15_loss(xg, t, reduction="sum").backward()
    p = torch.tensor([_entmax15_bisect(z) for z in x.tolist()], dtype=D)
    torch.testing.assert_close(xg.grad, p - torch.nn.functional.one_hot(t, 6).to(D), rtol=1e-9, atol=1e-12)
    assert (p == 0).any(), "the sample exercises a sparse support"
    xs, ts = _ce_case(63, (5, 4))
    w = torch.rand(5, generator=_gen(64), dtype=D)
    f = lambda a: entmax15_loss(a, ts, weight=w)  # noqa: E731
    assert torch.autograd.gradcheck(f, (xs.clone().requires_grad_(True),))
    assert torch.autograd.gradgradcheck(f, (xs.clone().requires_grad_(True),))


def test_zero_once_the_target_leads_by_two() -> None:
    x = torch.tensor([[2.0, 0.0, -1.0], [2.0, 0.1, -1.0]], dtype=D)
    out = entmax15_loss(x, torch.tensor([0, 0]), reduction="none")
    assert out[0].item() == 0.0
    assert out[1].item() == pytest.approx(_entmax_package_row([2.0, 0.1, -1.0], 0), abs=1e-15)
    assert out[1].item() > 0.0


def test_entmax15_map_matches_bisection_and_sits_between_softmax_and_sparsemax() -> None:
    x, _ = _scaled(65, (40, 7), 2.0)
    p = entmax15(x)
    torch.testing.assert_close(
        p, torch.tensor([_entmax15_bisect(z) for z in x.tolist()], dtype=D), rtol=1e-12, atol=1e-12
    )
    from losscraft.losses.classification.sparse_activations import sparsemax

    nnz = (p > 0).sum()
    assert (sparsemax(x) > 0).sum() <= nnz < x.numel()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_extreme_logits_are_finite_and_exact(dtype: torch.dtype) -> None:
    x = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4 - 1.0], [1e4, 1e4, 1e4]], dtype=D)
    t = torch.tensor([1, 1, 0])
    ref = torch.tensor(
        [_entmax_package_row(z, y) for z, y in zip(x.tolist(), t.tolist(), strict=True)], dtype=D
    )
    xl = x.to(dtype).requires_grad_(True)
    out = entmax15_loss(xl, t, reduction="none")
    out.sum().backward()
    assert out.dtype == torch.float32 and torch.isfinite(xl.grad).all()
    torch.testing.assert_close(
        out.double(), entmax15_loss(x.to(dtype).double(), t, reduction="none"), rtol=1e-6, atol=1e-5
    )
    if dtype == torch.float32:
        torch.testing.assert_close(out.double(), ref, rtol=1e-6, atol=1e-5)


def test_key_alias_errors_and_module() -> None:
    assert get("entmax_1_5").name == "entmax15"
    x, t = _ce_case(66, (3, 4))
    with pytest.raises(LosscraftError, match="C >= 2"):
        entmax15_loss(x[:, :1], torch.zeros(3, dtype=torch.long))
    with pytest.raises(LosscraftError, match="'weight' of shape"):
        entmax15_loss(x, t, weight=torch.ones(4, dtype=D))
    torch.testing.assert_close(Entmax15Loss()(x, t), entmax15_loss(x, t))
