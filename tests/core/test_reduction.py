"""The reducer's record of its "mean" denominator (what ``Weighted`` reads) agrees with its own "mean"."""

from __future__ import annotations

import pytest
import torch

from losscraft._core.reduction import record_unreduced, reduce


@pytest.mark.parametrize("normalize", ["weight", "count"])
@pytest.mark.parametrize("masked", [False, True])
def test_the_recorded_denominator_gives_the_mean(normalize: str, masked: bool) -> None:
    g = torch.Generator().manual_seed(0)
    values = torch.rand(5, 4, generator=g, dtype=torch.float64)
    weight = torch.rand(5, 4, generator=g, dtype=torch.float64) + 0.5
    mask = (torch.rand(5, 4, generator=g) > 0.3) if masked else None
    with record_unreduced() as records:
        none = reduce(values, "none", weight, mask, normalize=normalize)
    recorded, den, rec_mask = records[-1]
    assert recorded is none
    if den is None:
        count = rec_mask.sum() if rec_mask is not None else torch.tensor(float(none.numel()))
    else:
        count = den.sum()
    mean = reduce(values, "mean", weight, mask, normalize=normalize)
    torch.testing.assert_close(none.sum() / count, mean, rtol=1e-12, atol=0)
