"""crammer_singer: a float64 reference, scikit-learn's and optax's multi-class hinge written out.

``sklearn.metrics.hinge_loss`` with multi-class decision scores is Crammer-Singer with margin 1
(``1 - (s_y - max_{j != y} s_j)``, clipped at 0, averaged); optax's ``multiclass_hinge_loss``
(optax/losses/_classification.py) is ``max(scores + 1 - onehot) - scores[label]``, the same loss.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import hinge_loss as sk_hinge_loss

from losscraft import LosscraftError
from losscraft.losses.classification import CrammerSingerLoss, crammer_singer_loss, multi_margin_loss
from losses.classification.helpers import REDUCTIONS, TIGHT, D, _ce_case, _rows

W = torch.tensor([0.5, 1.0, 2.0, 0.25], dtype=D)


def _ref_row(z: list[float], y: int, margin: float) -> float:
    return max(0.0, max(margin + z[j] - z[y] for j in range(len(z)) if j != y))


@pytest.mark.parametrize("margin", [1.0, 0.25])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_reference_with_class_weight(margin: float, reduction: str) -> None:
    x, t = _ce_case(41, (3, 4, 5), ignore=-100, n_ignore=2)
    rows = _rows(x, t)
    w = W.tolist()
    vals = [w[y] * _ref_row(z, y, margin) if y != -100 else 0.0 for z, y in rows]
    kept = sum(y != -100 for _, y in rows)
    v = torch.tensor(vals, dtype=D)
    # each sample times w_y; the mean over the kept sample count (as torch's multi_margin_loss)
    ref = {"none": v.reshape(t.shape), "sum": v.sum(), "mean": v.sum() / kept}[reduction]
    got = crammer_singer_loss(x, t, margin=margin, weight=W, reduction=reduction)
    torch.testing.assert_close(got, ref, **TIGHT)


def test_issue_example_differs_from_weston_watkins() -> None:
    x = torch.tensor([[0.1, 0.5, 0.4, 0.9]], dtype=D)
    y = torch.tensor([0])
    assert crammer_singer_loss(x, y).item() == pytest.approx(1.8, abs=1e-15)
    assert multi_margin_loss(x, y).item() == pytest.approx(1.125, abs=1e-15)


def test_matches_sklearn_multiclass_hinge_loss() -> None:
    for seed in range(3):
        x, t = _ce_case(42 + seed, (40, 4))
        want = sk_hinge_loss(t.numpy(), x.numpy(), labels=np.arange(4))
        assert crammer_singer_loss(x, t).item() == pytest.approx(want, rel=1e-12)


def test_matches_optax_multiclass_hinge_written_out() -> None:
    x, t = _ce_case(45, (20, 6))
    onehot = torch.nn.functional.one_hot(t, 6).to(D)
    optax = (x + 1.0 - onehot).amax(dim=1) - (x * onehot).sum(dim=1)
    torch.testing.assert_close(crammer_singer_loss(x, t, reduction="none"), optax, **TIGHT)


def test_gradient_reaches_the_target_and_the_worst_class_only() -> None:
    x = torch.tensor([[0.1, 0.5, 0.4, 0.9], [5.0, 0.0, 0.0, 1.0]], dtype=D, requires_grad=True)
    crammer_singer_loss(x, torch.tensor([0, 0]), weight=W, reduction="sum").backward()
    want = torch.tensor([[-0.5, 0.0, 0.0, 0.5], [0.0, 0.0, 0.0, 0.0]], dtype=D)
    torch.testing.assert_close(x.grad, want, rtol=0, atol=0)
    xr, tr = _ce_case(46, (4, 4))
    assert torch.autograd.gradcheck(
        lambda a: crammer_singer_loss(a, tr, weight=W, margin=0.5), (xr.clone().requires_grad_(True),)
    )


def test_two_classes_is_twice_weston_watkins() -> None:
    x, t = _ce_case(47, (25, 2))
    torch.testing.assert_close(
        crammer_singer_loss(x, t, reduction="none"), 2.0 * multi_margin_loss(x, t, reduction="none"), **TIGHT
    )


def test_errors_and_module() -> None:
    x, t = _ce_case(48, (4, 4))
    with pytest.raises(LosscraftError, match="margin"):
        crammer_singer_loss(x, t, margin=-1.0)
    with pytest.raises(LosscraftError, match="C >= 2"):
        crammer_singer_loss(x[:, :1], torch.zeros(4, dtype=torch.long))
    with pytest.raises(LosscraftError, match="integer tensor of class indices"):
        crammer_singer_loss(x, t.to(D))
    m = CrammerSingerLoss(margin=0.5, weight=W)
    torch.testing.assert_close(m(x, t), crammer_singer_loss(x, t, margin=0.5, weight=W))
