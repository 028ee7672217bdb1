"""The design-your-own walkthrough (examples/design_your_own.py) runs and shows what the docs claim."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import losscraft

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("design_your_own", ROOT / "examples" / "design_your_own.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


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
