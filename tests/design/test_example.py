"""The design-your-own walkthrough (examples/design_your_own.py) runs and shows what the docs claim."""

from __future__ import annotations

from pathlib import Path

import pytest

import losscraft

from lc_helpers import load_script

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def example():
    return load_script("examples/design_your_own.py")


def test_demand_forecasting(example) -> None:
    res = example.demand_forecasting(steps=300)
    mse = res["mse"]
    asym = res["asymmetric_linear(under=3, over=1)"]
    custom = res["custom formula (same loss)"]
    assert asym["cost per day"] < 0.95 * mse["cost per day"]
    assert 0.70 <= asym["share of days covered"] <= 0.80  # aims at the 75th percentile
    assert mse["share of days covered"] < 0.65
    assert custom == pytest.approx(asym, rel=1e-5)
    with pytest.raises(losscraft.LosscraftError):
        losscraft.get("newsvendor_formula")  # built unregistered


def test_segmentation_with_scheduled_dice(example) -> None:
    res = example.segmentation(steps=80, warmup=40)
    assert res["dice weight at step 0"] == 0.0
    assert res["dice weight at the end"] == 1.0
    assert res["test IoU"] > 0.5
