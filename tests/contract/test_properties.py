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

import math

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


# ----------------------------------------------------------------------------------------------
# Advisory properties the guide reads: measured relative to Dice, in both directions, on every
# overlap entry they could apply to.
_OVERLAP = [e for e in ENTRIES if Property.OVERLAP_METRIC in e.spec.properties]
_BINARY_OVERLAP = [
    e for e in _OVERLAP if e.spec.target_kind.value == "binary" and e.spec.name != "lovasz_softmax"
]
_MODED_OVERLAP = [
    e for e in _OVERLAP if any(p.name == "mode" and p.domain.contains("multiclass") for p in e.spec.params)
]


def _fn_fp_ratio(name: str) -> float:
    """loss(5 missed foreground pixels) / loss(5 false foreground pixels), 20 foreground of 100."""
    from losscraft import build

    g = torch.zeros(1, 1, 10, 10, dtype=torch.float64)
    g[0, 0, :2, :] = 1.0
    perfect = torch.where(g > 0, 30.0, -30.0)
    fn, fp = perfect.clone(), perfect.clone()
    fn[0, 0, 0, :5] = -30.0
    fp[0, 0, 5, :5] = 30.0
    loss = build({"name": name})
    return float(loss(fn, g)) / float(loss(fp, g))


@pytest.mark.parametrize("entry", _BINARY_OVERLAP, ids=[e.name for e in _BINARY_OVERLAP])
def test_favours_recall_is_measured(entry: LossEntry) -> None:
    # Dice already charges a miss more than a false alarm (the miss also costs a true positive):
    # 1.28 here; Tversky (alpha 0.3, beta 0.7) 2.69. Declared iff at least 1.5x Dice's ratio.
    measured = _fn_fp_ratio(entry.name) > 1.5 * _fn_fp_ratio("dice")
    assert measured == (Property.FAVOURS_RECALL in entry.spec.properties), _fn_fp_ratio(entry.name)


def _small_large_ratio(name: str) -> float:
    """loss(one pixel of a 2-pixel class missed) / loss(one pixel of a 60-pixel class missed)."""
    from losscraft import build

    t = torch.zeros(1, 10, 10, dtype=torch.long)
    t[0, :6, :] = 1
    t[0, 9, :2] = 2
    perfect = torch.where(torch.nn.functional.one_hot(t, 3).permute(0, 3, 1, 2) > 0, 30.0, -30.0).double()

    def miss(cls: int) -> torch.Tensor:
        x = perfect.clone()
        r, c = (t[0] == cls).nonzero()[0].tolist()
        x[0, :, r, c] = -30.0
        x[0, 0, r, c] = 30.0  # predicted as background
        return x

    loss = build({"name": name, "mode": "multiclass"})
    return float(loss(miss(2), t)) / float(loss(miss(1), t))


@pytest.mark.parametrize("entry", _MODED_OVERLAP, ids=[e.name for e in _MODED_OVERLAP])
def test_volume_weighted_is_measured(entry: LossEntry) -> None:
    # the per-class mean of Dice already favours the small class (12x here); 1/V^2 weights 335x.
    # Declared iff at least 5x Dice's ratio.
    measured = _small_large_ratio(entry.name) > 5.0 * _small_large_ratio("dice")
    assert measured == (Property.VOLUME_WEIGHTED in entry.spec.properties), _small_large_ratio(entry.name)


# Count and amount losses on a log-mean input: how fast the pull on the log-mean grows with the
# size of the target at a fixed relative error, measured against the Poisson deviance.
_LOG_MEAN = [
    e
    for e in ENTRIES
    if e.spec.curve is not None
    and e.spec.curve.axis == "log_rate"
    and tuple(e.spec.inputs) == ("input", "target")
    and Property.ZERO_INFLATED not in e.spec.properties
]


def _large_small_pull(name: str) -> float:
    """|dl/d log-mean| at target 100 over target 1, both predicted 1.5x too high."""
    from losscraft import build

    loss = build({"name": name})
    pulls = []
    for y in (1.0, 100.0):
        x = torch.tensor([math.log(1.5 * y)], dtype=torch.float64, requires_grad=True)
        loss(x, torch.tensor([y], dtype=torch.float64)).backward()
        assert x.grad is not None
        pulls.append(abs(float(x.grad)))
    return pulls[1] / pulls[0]


@pytest.mark.parametrize("entry", _LOG_MEAN, ids=[e.name for e in _LOG_MEAN])
def test_dispersion_weighted_is_measured(entry: LossEntry) -> None:
    # the Poisson deviance's pull grows like the target (100x here); Tweedie p = 1.5 like its
    # square root (10x), the Gamma deviance not at all (1x). Declared iff below half of Poisson's.
    measured = _large_small_pull(entry.name) < 0.5 * _large_small_pull("poisson_nll")
    assert measured == (Property.DISPERSION_WEIGHTED in entry.spec.properties), _large_small_pull(entry.name)


_ZERO_INFLATED = [e for e in ENTRIES if Property.ZERO_INFLATED in e.spec.properties]


@pytest.mark.parametrize("entry", _ZERO_INFLATED, ids=[e.name for e in _ZERO_INFLATED])
def test_zero_inflated_is_measured(entry: LossEntry) -> None:
    # a zero target with a large rate (5): nearly free when the structural-zero logit is high,
    # the Poisson NLL (the rate, 5) when it is low; a count target is not excused by that logit
    from losscraft import build

    loss = build({"name": entry.name})
    zero = torch.zeros(1, dtype=torch.float64)

    def at(zero_logit: float, y: torch.Tensor) -> float:
        return float(loss(torch.tensor([[math.log(5.0), zero_logit]], dtype=torch.float64), y))

    assert at(20.0, zero) < 1e-6
    assert at(-40.0, zero) == pytest.approx(5.0, rel=1e-9)
    assert at(20.0, torch.tensor([3.0], dtype=torch.float64)) > 15.0


def test_advisory_property_checks_cover_their_entries() -> None:
    for prop, covered in (
        (Property.FAVOURS_RECALL, _BINARY_OVERLAP),
        (Property.VOLUME_WEIGHTED, _MODED_OVERLAP),
        (Property.DISPERSION_WEIGHTED, _LOG_MEAN),
        (Property.ZERO_INFLATED, _ZERO_INFLATED),
    ):
        declaring = {e.name for e in ENTRIES if prop in e.spec.properties}
        assert declaring and declaring <= {e.name for e in covered}
