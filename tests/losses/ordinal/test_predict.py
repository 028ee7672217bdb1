"""Predict helpers: coral-pytorch's label rules and published examples, the cumulative-link statistics."""

from __future__ import annotations

import math

import pytest
import torch

import losscraft
from losscraft import LosscraftError
from losscraft.ordinal import (
    cumulative_link_probabilities,
    predict_coral,
    predict_corn,
    predict_cumulative_link,
)
from losses.ordinal.helpers import corn_label_from_logits, f64, proba_to_label, ref_cumulative_link


def test_public_paths() -> None:
    assert losscraft.ordinal.predict_coral is predict_coral
    assert losscraft.ordinal.CoralLoss is losscraft.CoralLoss
    assert losscraft.ordinal.cumulative_link_loss is losscraft.functional.cumulative_link_loss


def test_predict_coral_published_example_and_rule() -> None:
    # coral-pytorch 1.4.0, proba_to_label docstring: 6 classes -> [2, 0, 5]
    probas = torch.tensor(
        [
            [0.934, 0.861, 0.323, 0.492, 0.295],
            [0.496, 0.485, 0.267, 0.124, 0.058],
            [0.985, 0.967, 0.920, 0.819, 0.506],
        ],
        dtype=f64,
    )
    logits = torch.log(probas) - torch.log1p(-probas)
    assert predict_coral(logits).tolist() == [2, 0, 5]
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 6, generator=g, dtype=f64) * 3
    assert torch.equal(predict_coral(x), proba_to_label(torch.sigmoid(x)))
    assert predict_coral(x).dtype == torch.long


def test_predict_corn_published_example_and_rule() -> None:
    # coral-pytorch 1.4.0, corn_label_from_logits docstring: -> [1, 3]
    logits = torch.tensor([[14.152, -6.1942, 0.47710, 0.96850], [65.667, 0.303, 11.500, -4.524]])
    assert predict_corn(logits).tolist() == [1, 3]
    g = torch.Generator().manual_seed(1)
    x = torch.randn(300, 5, generator=g, dtype=f64) * 3 + 1.5
    assert torch.equal(predict_corn(x), corn_label_from_logits(x))
    assert torch.equal(predict_corn(x.half()), corn_label_from_logits(x.half().double()))


def test_cumulative_link_probabilities_match_the_sigmoid_differences() -> None:
    g = torch.Generator().manual_seed(2)
    f = torch.randn(4, 5, generator=g, dtype=f64) * 2
    cut = torch.tensor([-1.5, -0.2, 0.4, 2.0], dtype=f64)
    p = cumulative_link_probabilities(f, cut)
    assert p.shape == (4, 5, 5)
    torch.testing.assert_close(p.sum(-1), torch.ones(4, 5, dtype=f64))
    for k in range(5):
        want = torch.exp(-ref_cumulative_link(f.reshape(-1), torch.full((20,), k), cut)).reshape(4, 5)
        torch.testing.assert_close(p[..., k], want, rtol=1e-12, atol=1e-14)
    # far tails: finite, still summing to 1, the far class certain
    far = cumulative_link_probabilities(torch.tensor([-1e4, 1e4]), cut.float())
    torch.testing.assert_close(far, torch.tensor([[1.0, 0, 0, 0, 0], [0, 0, 0, 0, 1.0]]))


def test_predict_cumulative_link_statistics() -> None:
    g = torch.Generator().manual_seed(3)
    f = torch.randn(500, generator=g, dtype=f64) * 3
    cut = torch.tensor([-2.0, -0.5, 0.0, 3.0], dtype=f64)
    p = cumulative_link_probabilities(f, cut)
    assert torch.equal(predict_cumulative_link(f, cut), p.argmax(-1))
    # median: the smallest k with P(y <= k) >= 1/2
    median = (p.cumsum(-1) < 0.5).sum(-1)
    assert torch.equal(predict_cumulative_link(f, cut, statistic="median"), median)
    mean = predict_cumulative_link(f, cut, statistic="mean")
    torch.testing.assert_close(mean, (p * torch.arange(5, dtype=f64)).sum(-1))
    assert mean.dtype == f64 and ((mean >= 0) & (mean <= 4)).all()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: predict_coral(torch.zeros(3)), r"predict_coral: 'logits' must have shape \(N, K-1\)"),
        (
            lambda: predict_corn(torch.zeros(3, 2, dtype=torch.long)),
            r"predict_corn: 'logits' must be a floating-point",
        ),
        (
            lambda: predict_cumulative_link(torch.zeros(2), torch.tensor([1.0, 0.0])),
            r"predict_cumulative_link: 'cutpoints' must be non-decreasing",
        ),
        (
            lambda: predict_cumulative_link(torch.zeros(2), torch.tensor([0.0]), statistic="max"),  # type: ignore[arg-type]
            r"'statistic' must be one of 'mode', 'median', 'mean', got 'max'",
        ),
        (
            lambda: cumulative_link_probabilities(torch.zeros(2), torch.tensor([math.nan])),
            r"cumulative_link_probabilities: 'cutpoints' must contain finite values, got nan",
        ),
    ],
)
def test_errors(call, message: str) -> None:
    with pytest.raises(LosscraftError, match=message):
        call()
