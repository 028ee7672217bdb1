"""Behaviour the list losses share: padding is exactly irrelevant, validation, dtypes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from losscraft import LosscraftError
from losscraft.losses.ranking import approx_ndcg_loss, listmle_loss, listnet_loss, ranknet_loss
from losses.ranking.helpers import f64, list_case

LIST_LOSSES: list[Callable[..., torch.Tensor]] = [ranknet_loss, listnet_loss, listmle_loss, approx_ndcg_loss]
IDS = [f.__name__ for f in LIST_LOSSES]


@pytest.mark.parametrize("fn", LIST_LOSSES, ids=IDS)
def test_padding_is_exactly_irrelevant(fn: Callable[..., torch.Tensor]) -> None:
    s, y = list_case(20)
    short = [torch.nonzero(y[q] != -1).flatten() for q in range(s.shape[0])]
    s_noisy = s.clone()
    s_noisy[y == -1] = torch.tensor([1e4, -1e4, float("nan")], dtype=f64).repeat(8)[: int((y == -1).sum())]
    s_noisy.requires_grad_(True)
    out = fn(s_noisy, y, reduction="none")
    out.sum().backward()
    assert s_noisy.grad is not None and bool((s_noisy.grad[y == -1] == 0).all())
    for q, keep in enumerate(short):  # each query alone, without its padding
        alone = fn(s[q : q + 1, keep], y[q : q + 1, keep], reduction="none")
        torch.testing.assert_close(out[q].detach(), alone[0], rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("fn", LIST_LOSSES, ids=IDS)
def test_custom_ignore_index_and_all_padded(fn: Callable[..., torch.Tensor]) -> None:
    s, y = list_case(21)
    y2 = torch.where(y == -1, torch.full_like(y, 99), y)
    torch.testing.assert_close(fn(s, y2, ignore_index=99), fn(s, y))
    y2[1] = 99
    x = s.clone().requires_grad_(True)
    out = fn(x, y2, ignore_index=99, reduction="none")
    out.sum().backward()
    assert out[1].item() == 0.0 and bool((x.grad[1] == 0).all())
    torch.testing.assert_close(fn(s, y2, ignore_index=99), out.detach()[[0, 2, 3]].mean())


@pytest.mark.parametrize("fn", LIST_LOSSES, ids=IDS)
def test_float_and_integer_labels_agree(fn: Callable[..., torch.Tensor]) -> None:
    s, y = list_case(22)
    torch.testing.assert_close(fn(s, y.to(f64)), fn(s, y))


@pytest.mark.parametrize("fn", LIST_LOSSES, ids=IDS)
def test_half_precision_is_computed_in_float32(fn: Callable[..., torch.Tensor]) -> None:
    s, y = list_case(23)
    ref = fn(s, y)
    for dt in (torch.float16, torch.bfloat16):
        out = fn(s.to(dt), y)
        assert out.dtype == torch.float32
        torch.testing.assert_close(out.double(), fn(s.to(dt).double(), y), rtol=1e-6, atol=1e-6)
    assert torch.isfinite(ref)


@pytest.mark.parametrize("fn", LIST_LOSSES, ids=IDS)
def test_errors_name_the_argument(fn: Callable[..., torch.Tensor]) -> None:
    name = fn.__name__
    s, y = list_case(24)
    with pytest.raises(LosscraftError, match=rf"{name}: 'input' must have shape \(Q, L\)"):
        fn(s[0], y[0])
    with pytest.raises(LosscraftError, match=rf"{name}: 'target' must have the shape of 'input'"):
        fn(s, y[:, :3])
    bad = y.clone()
    bad[0, 2] = -3
    with pytest.raises(LosscraftError, match=rf"{name}: 'target' must contain relevance labels >= 0"):
        fn(s, bad)
    badf = y.to(f64)
    badf[1, 1] = float("nan")
    with pytest.raises(LosscraftError, match=rf"{name}: 'target' must contain relevance labels >= 0"):
        fn(s, badf)
