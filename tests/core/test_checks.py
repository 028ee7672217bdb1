"""The central value checks: the one-pass fast path accepts exactly what the detailed check accepts."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from losscraft._core.checks import (
    as_tensor_param,
    check_class_index,
    check_finite_range,
    check_nonnegative,
    value_error,
)
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
    assert str(err.value) == (
        "bce: 'target' must contain probabilities in [0, 1], got 1.5 "
        "(1 of 4 values are NaN; observed range of the other values [-0.5, 1.5])"
    )
    with pytest.raises(LosscraftError) as err:
        check_finite_range("bce", "input", torch.tensor([0.1, 1.5]), 0.0, 1.0, "probabilities")
    assert (
        str(err.value)
        == "bce: 'input' must contain probabilities in [0, 1], got 1.5 (observed range [0.1, 1.5])"
    )


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_finite_range_message_all_nan_counts_them(dtype: torch.dtype) -> None:
    # No finite value: the message counts the NaN values instead of a range [inf, inf].
    x = torch.full((2, 2), float("nan"), dtype=dtype)
    with pytest.raises(LosscraftError) as err:
        check_finite_range("bce_loss", "target", x, 0.0, 1.0, "targets")
    assert (
        str(err.value) == "bce_loss: 'target' must contain targets in [0, 1], got nan (4 of 4 values are NaN)"
    )
    assert "inf" not in str(err.value)


def test_finite_range_message_keeps_infinite_values_in_the_range() -> None:
    x = torch.tensor([0.5, float("inf"), float("nan")])
    with pytest.raises(
        LosscraftError,
        match=r"got inf \(1 of 3 values are NaN; observed range of the other values \[0.5, inf\]\)",
    ):
        check_finite_range("f", "t", x, 0.0, 1.0)


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


# --------------------------------------------------------------------------- weights
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize(
    ("values", "first"),
    [
        ([1.0, 0.0, 2.0], None),
        ([1.0, -1.0, 2.0], "-1"),
        ([1.0, -0.0, 2.0], None),  # -0.0 == 0
        ([1.0, float("nan")], "nan"),
        ([float("inf"), 1.0], "inf"),
        ([1.0, float("-inf")], "-inf"),
    ],
)
def test_nonnegative_fast_path_matches_detailed(
    dtype: torch.dtype, values: list[float], first: str | None
) -> None:
    x = torch.tensor(values, dtype=dtype)
    detailed_ok = bool((torch.isfinite(x) & (x >= 0)).all())
    assert detailed_ok is (first is None)
    for arg in (x, values):  # a tensor and a list take the same rule
        if first is None:
            check_nonnegative("f", "weight", arg)
            assert value_error(arg) is None
        else:
            with pytest.raises(
                LosscraftError, match=rf"^f: 'weight' must contain finite weights >= 0, got {first} \("
            ):
                check_nonnegative("f", "weight", arg)


def test_nonnegative_messages() -> None:
    with pytest.raises(LosscraftError) as err:
        check_nonnegative("mse_loss", "weight", torch.tensor([-1.0, -1.0]))
    assert (
        str(err.value)
        == "mse_loss: 'weight' must contain finite weights >= 0, got -1 (observed range [-1, -1])"
    )
    with pytest.raises(LosscraftError) as err:
        check_nonnegative("f", "class_counts", [3.0, 0.0], positive=True, what="counts")
    assert str(err.value) == "f: 'class_counts' must contain finite counts > 0, got 0 (observed range [0, 3])"
    check_nonnegative("f", "w", None)
    check_nonnegative("f", "w", torch.empty(0))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=1, max_size=20), st.booleans()
)
def test_nonnegative_property(values: list[float], strict: bool) -> None:
    x = torch.tensor(values, dtype=torch.float32)
    ok = all(v == v and abs(v) != float("inf") and (v > 0 if strict else v >= 0) for v in x.tolist())
    assert (value_error(x, strict=strict) is None) is ok
    assert (value_error(x.tolist(), strict=strict) is None) is ok


def test_as_tensor_param_converts_number_sequences_only() -> None:
    like = torch.zeros(2, 3, dtype=torch.float64)
    t = as_tensor_param([1, 0.1, 3], like)
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float64 and t.tolist() == [1.0, 0.1, 3.0]
    assert (
        as_tensor_param((1.0, 2.0), torch.zeros(2, dtype=torch.float16)).dtype == torch.float32
    )  # compute dtype
    assert as_tensor_param([1.0]).dtype == torch.float32  # no input: a Module buffer's dtype
    w = torch.ones(3)
    assert as_tensor_param(w, like) is w
    for left_alone in (None, [], ["1"], [True, False], [[1.0, 2.0]], 1.0):
        assert as_tensor_param(left_alone, like) is left_alone  # check_params rejects them with a message
