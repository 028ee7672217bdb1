"""Registry-wide error messages for NaN in a range-checked argument.

A range message reports the offending value, how many values are NaN and the range of the
others: never a range made up by the NaN values (``observed range [inf, inf]``).
"""

from __future__ import annotations

import re

import pytest
import torch

import losscraft.functional as LF
from losscraft import LosscraftError, LossEntry

from lc_helpers import ENTRIES, IDS, sample


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_all_nan_argument_message_counts_nan(entry: LossEntry) -> None:
    c = sample(entry, 4)
    for i, name in enumerate(entry.spec.inputs):
        a = c.args[i]
        if not a.is_floating_point() or a.numel() == 0:
            continue
        args = list(c.args)
        args[i] = torch.full_like(a, float("nan"))
        try:
            entry.function(*args, **c.kwargs)
        except LosscraftError as err:
            msg = str(err)
            assert "inf, inf" not in msg, msg
            if "values are NaN" in msg or "observed range" in msg:  # a range message
                n = a.numel()
                assert re.search(rf"'{name}' must contain .*, got nan \({n} of {n} values are NaN\)$", msg), (
                    msg
                )


def test_partial_nan_message_gives_range_of_the_others() -> None:
    t = torch.tensor([0.25, float("nan"), 0.75, float("nan")])
    with pytest.raises(LosscraftError) as err:
        LF.bce_with_logits_loss(torch.zeros(4), t)
    assert str(err.value) == (
        "bce_with_logits_loss: 'target' must contain targets in [0, 1], got nan "
        "(2 of 4 values are NaN; observed range of the other values [0.25, 0.75])"
    )
