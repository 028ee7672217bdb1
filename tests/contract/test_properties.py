"""Declared properties are measured, in both directions, for every registry entry.

The properties in ``CHECKED_PROPERTIES`` are measured by the library itself,
:func:`losscraft.analyze` (``src/losscraft/analysis/``; every definition is on
docs/understanding-losses.md, every threshold in ``analysis/thresholds.py``): at default
hyperparameters, in float64, on the entry's curves (and, for ``nonnegative`` and ``scale_invariant``, on random samples). A property that is
declared must hold; a property that holds must be declared. The measurement is independent
of any loss implementation, and there is only one of it: the CLI, the plots and this suite
all report the same numbers.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from losscraft import CHECKED_PROPERTIES, InputKind, LossEntry, Property, analyze
from losscraft.analysis import curve_data

from lc_helpers import ENTRIES, IDS, sample


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_declared_properties_are_measured(entry: LossEntry) -> None:
    report = analyze(entry)  # one analysis per entry: every checked property at once
    declared = entry.spec.properties & CHECKED_PROPERTIES
    assert report.declared == declared
    wrong = [
        f"property {p} is {'declared' if p in declared else 'not declared'} but measured "
        f"{'true' if p in report.properties else 'false'}"
        for p in sorted(CHECKED_PROPERTIES, key=str)
        if (p in declared) != (p in report.properties)
    ]
    assert not wrong, f"{entry.name}: " + "; ".join(wrong) + f"\n{report.table()}"


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_every_entry_has_a_curve(entry: LossEntry) -> None:
    assert entry.spec.curve is not None
    for curve in entry.spec.curves:
        lo, hi = curve.domain
        assert lo < hi
        assert curve.extent[0] <= lo and hi <= curve.extent[1]
    for d in curve_data(entry, n=11):
        assert d.x.numel() == d.loss.numel() == d.grad.numel() == 11, "one loss value per grid point"
        assert torch.isfinite(d.loss).all() and torch.isfinite(d.grad).all()


NONNEG = [e for e in ENTRIES if Property.NONNEGATIVE in e.spec.properties]


@pytest.mark.parametrize("entry", NONNEG, ids=[e.name for e in NONNEG])
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 6), scale=st.floats(1e-3, 1e3))
def test_nonnegative_and_finite_on_random_inputs(entry: LossEntry, seed: int, n: int, scale: float) -> None:
    c = sample(entry, n, seed=seed)
    args = list(c.args)
    if entry.spec.input_kind in (InputKind.REAL, InputKind.LOGITS, InputKind.EMBEDDINGS):
        args[0] = args[0] * scale
    out = entry.function(*args, reduction="none", **c.kwargs)
    assert torch.isfinite(out).all()
    assert (out >= -1e-12).all()
    mean = entry.function(*args, **c.kwargs)
    assert mean.item() <= out.max().item() + 1e-9 or entry.spec.weight == "class"
