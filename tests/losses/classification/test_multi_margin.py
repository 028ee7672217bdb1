"""multi_margin: torch's ``multi_margin_loss`` parity (p, margin, weight; values and gradients).

Also the issue's worked example (Weston-Watkins with torch's normalisation by C), the
ignore_index / (N, C, d1, ...) extension against torch on the kept rows, and errors.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from losscraft import LosscraftError
from losscraft.losses.classification import MultiMarginLoss, multi_margin_loss
from losses.classification.helpers import REDUCTIONS, D, _ce_case, _close, _gen, _run

W = torch.tensor([0.5, 1.0, 2.0, 0.25, 3.0], dtype=D)


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("margin", [1.0, 0.3])
@pytest.mark.parametrize("use_w", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_matches_torch_values_and_gradients(p: int, margin: float, use_w: bool, reduction: str) -> None:
    x, t = _ce_case(31, (11, 5))
    w = W if use_w else None
    _close(
        _run(multi_margin_loss, x, t, p=p, margin=margin, weight=w, reduction=reduction),
        _run(lambda a, b: F.multi_margin_loss(a, b, p=p, margin=margin, weight=w, reduction=reduction), x, t),
    )


def test_issue_example_weston_watkins_divides_by_c() -> None:
    x = torch.tensor([[0.1, 0.5, 0.4, 0.9]], dtype=D)
    y = torch.tensor([0])
    # hinges 1 - 0.1 + {0.5, 0.4, 0.9} = 1.4, 1.3, 1.8; their sum 4.5 over C = 4
    assert multi_margin_loss(x, y).item() == pytest.approx(1.125, abs=1e-15)
    assert F.multi_margin_loss(x, y).item() == pytest.approx(1.125, abs=1e-15)
    assert multi_margin_loss(x, y, p=2).item() == pytest.approx((1.4**2 + 1.3**2 + 1.8**2) / 4, abs=1e-15)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_ignore_index_and_spatial_inputs_match_torch_on_kept_rows(reduction: str) -> None:
    x, t = _ce_case(32, (3, 5, 4), ignore=-100, n_ignore=3)
    got = multi_margin_loss(x, t, weight=W, p=2, reduction=reduction)
    rows, tt = x.movedim(1, -1).reshape(-1, 5), t.reshape(-1)
    keep = tt != -100
    per = F.multi_margin_loss(rows[keep], tt[keep], weight=W, p=2, reduction="none")
    if reduction == "none":
        want = torch.zeros(tt.shape, dtype=D)
        want[keep] = per
        torch.testing.assert_close(got, want.reshape(t.shape))
    else:
        torch.testing.assert_close(got, per.sum() if reduction == "sum" else per.mean())


def test_zero_beyond_the_margin_and_gradcheck() -> None:
    x = torch.tensor([[3.0, 0.5, 1.9], [0.0, 0.0, 0.0]], dtype=D)
    y = torch.tensor([0, 1])
    out = multi_margin_loss(x, y, reduction="none")
    assert out[0].item() == 0.0 and out[1].item() == pytest.approx(2.0 / 3.0)
    xr, tr = _ce_case(33, (4, 3))
    assert torch.autograd.gradcheck(
        lambda a: multi_margin_loss(a, tr, p=2, weight=W[:3], margin=0.5), (xr.clone().requires_grad_(True),)
    )


def test_errors() -> None:
    x, t = _ce_case(34, (4, 5))
    with pytest.raises(LosscraftError, match="'p' must be one of 1, 2"):
        multi_margin_loss(x, t, p=3)
    with pytest.raises(LosscraftError, match="margin"):
        multi_margin_loss(x, t, margin=-0.1)
    with pytest.raises(LosscraftError, match=r"'weight' must have shape \(5,\)"):
        multi_margin_loss(x, t, weight=torch.ones(4, dtype=D))
    with pytest.raises(LosscraftError, match="class index 7"):
        multi_margin_loss(x, torch.tensor([0, 1, 7, 2]))


def test_module_stores_the_class_weight() -> None:
    x, t = _ce_case(35, (6, 5))
    m = MultiMarginLoss(p=2, weight=W.tolist())
    torch.testing.assert_close(m(x, t), F.multi_margin_loss(x, t, p=2, weight=W))
    assert {k for k, _ in m.named_buffers()} == {"_hp_weight"}
    torch.testing.assert_close(MultiMarginLoss()(x, t), F.multi_margin_loss(x, t))
    g = _gen(36)
    assert m(torch.randn(2, 5, generator=g, dtype=D), torch.tensor([1, 2])).dim() == 0
