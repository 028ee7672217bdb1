"""The central value checks: the one-pass fast path accepts exactly what the detailed check accepts."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from losscraft._core.checks import check_class_index, check_finite_range
from losscraft._core.errors import LosscraftError


def _detailed_range_ok(x: torch.Tensor, low: float, high: float) -> bool:
    xd = x.double()
    return bool(((xd >= low) & (xd <= high) & ~torch.isnan(xd)).all())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize(
    ("values", "ok"),
    [
        ([0.0, 0.5, 1.0], True),
        ([0.0, 1.0 + 1e-2, 0.5], False),
        ([-1e-2, 0.5], False),
        ([0.5, float("nan"), 0.2], False),
        ([float("nan")], False),
        ([0.5, float("inf")], False),
        ([float("-inf"), 0.5], False),
    ],
)
def test_finite_range_fast_path_matches_detailed(dtype: torch.dtype, values: list[float], ok: bool) -> None:
    x = torch.tensor(values, dtype=dtype)
    assert _detailed_range_ok(x, 0.0, 1.0) is ok
    if ok:
        check_finite_range("f", "target", x, 0.0, 1.0, "targets")
    else:
        with pytest.raises(LosscraftError, match=r"f: 'target' must contain targets in \[0, 1\], got"):
            check_finite_range("f", "target", x, 0.0, 1.0, "targets")


def test_finite_range_message_names_first_bad_value_and_range() -> None:
    x = torch.tensor([0.2, 1.5, -0.5, float("nan")])
    with pytest.raises(LosscraftError) as err:
        check_finite_range("bce", "target", x, 0.0, 1.0, "probabilities")
    assert "got 1.5" in str(err.value)
    assert "observed range [-0.5, inf]" in str(err.value)  # NaN shown as inf in the range


def test_finite_range_integer_and_empty_inputs() -> None:
    check_finite_range("f", "t", torch.tensor([0, 1, 1]), 0.0, 1.0)
    with pytest.raises(LosscraftError, match="got 2"):
        check_finite_range("f", "t", torch.tensor([0, 2]), 0.0, 1.0)
    check_finite_range("f", "t", torch.empty(0, 3), 0.0, 1.0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=1, max_size=20),
)
def test_finite_range_property(values: list[float]) -> None:
    x = torch.tensor(values, dtype=torch.float32)
    if _detailed_range_ok(x, 0.0, 1.0):
        check_finite_range("f", "t", x, 0.0, 1.0)
    else:
        with pytest.raises(LosscraftError):
            check_finite_range("f", "t", x, 0.0, 1.0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(min_value=-120, max_value=8), min_size=1, max_size=20),
    st.sampled_from([None, -100, 5]),
)
def test_class_index_fast_path_property(values: list[int], ignore: int | None) -> None:
    t = torch.tensor(values)
    valid = all(0 <= v < 5 or v == ignore for v in values)
    if valid:
        check_class_index("ce", "target", t, 5, ignore)
    else:
        first = next(v for v in values if not (0 <= v < 5 or v == ignore))
        with pytest.raises(LosscraftError, match=rf"'target' contains class index {first}, expected"):
            check_class_index("ce", "target", t, 5, ignore)
