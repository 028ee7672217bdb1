"""Probability-distribution targets (KL, JS, cross-entropy with soft labels): a row without mass raises.

A target row of all zeros (all ``-inf`` as log-probabilities) is no distribution; the divergence
would silently be 0 (or a constant) with a zero gradient, so the learner gets no signal.
"""

from __future__ import annotations

import math

import pytest
import torch

from losscraft import LosscraftError, LossEntry, TargetKind

from lc_helpers import ENTRIES, sample

DIST = [
    e
    for e in ENTRIES
    if e.spec.target_kind in (TargetKind.PROBABILITIES, TargetKind.CLASS_INDEX_OR_PROBABILITIES)
]


def _soft(entry: LossEntry, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    x, *_ = sample(entry, n=4, dtype=dtype).args
    g = torch.Generator().manual_seed(1)
    return x, torch.softmax(torch.randn(x.shape, generator=g, dtype=torch.float64), dim=1).to(dtype)


def _log_target_options(entry: LossEntry) -> list[bool]:
    return [False, True] if any(p.name == "log_target" for p in entry.spec.params) else [False]


def test_the_sweep_covers_the_distribution_entries() -> None:
    assert {"kl_div", "js_div", "cross_entropy"} <= {e.name for e in DIST}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16])
@pytest.mark.parametrize("entry", DIST, ids=[e.name for e in DIST])
def test_a_target_row_without_mass_raises(entry: LossEntry, dtype: torch.dtype) -> None:
    x, y = _soft(entry, dtype)
    for log_target in _log_target_options(entry):
        kw = {"log_target": True} if log_target else {}
        good = y.log() if log_target else y
        entry.function(x, good, **kw)  # valid distributions pass
        bad = good.clone()
        bad[2] = -math.inf if log_target else 0.0
        with pytest.raises(
            LosscraftError,
            match=rf"^{entry.function.__name__}: 'target' must hold a probability distribution along "
            r"dim 1 \(each row should sum to 1\), got a row at index 2 whose probabilities sum to 0$",
        ):
            entry.function(x, bad, **kw)
        if entry.module is not None:
            with pytest.raises(LosscraftError, match="'target' must hold a probability distribution"):
                entry.module(**kw)(x, bad)


@pytest.mark.parametrize("entry", DIST, ids=[e.name for e in DIST])
def test_spatial_rows_report_the_position(entry: LossEntry) -> None:
    """(N, C, H) targets: the row is a position; its index is reported in full."""
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 3, 5, generator=g, dtype=torch.float64)
    y = torch.softmax(torch.randn(2, 3, 5, generator=g, dtype=torch.float64), dim=1)
    entry.function(x, y)
    y[1, :, 3] = 0.0
    with pytest.raises(LosscraftError, match=r"got a row at index \(1, 3\) whose probabilities sum to 0$"):
        entry.function(x, y)


def test_threshold_is_the_dtype_epsilon() -> None:
    """A row summing to less than the dtype's epsilon is 0 next to 1; sub-distributions pass."""
    from losscraft._core.checks import check_distribution

    x = torch.tensor([[0.5, 0.0], [1e-20, 0.0]], dtype=torch.float64)
    with pytest.raises(LosscraftError, match=r"got a row at index 1 whose probabilities sum to 1e-20$"):
        check_distribution("f", "target", x, 1)
    check_distribution("f", "target", torch.tensor([[0.5, 0.0], [3e-16, 0.0]], dtype=torch.float64), 1)
    half = torch.tensor([[0.5, 0.0], [4.9e-4, 0.0]], dtype=torch.float16)  # eps(float16) = 9.8e-4
    with pytest.raises(LosscraftError, match="whose probabilities sum to 0.000"):
        check_distribution("f", "target", half, 1)
    log = torch.tensor([[-0.7, -0.7], [-40.0, -math.inf]], dtype=torch.float64)
    with pytest.raises(LosscraftError, match=r"at index 1 whose probabilities sum to 4.2\d*e-18$"):
        check_distribution("f", "target", log, 1, log=True)
