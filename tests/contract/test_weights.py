"""Registry-wide weight validation: sample weights and class weights are finite and non-negative.

A negative weight turns the weighted mean into a ratio with a negative (or zero) denominator,
and a NaN or inf weight poisons it: every entry rejects them, in the function and the Module
form, with a message naming the argument and the offending value.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

import losscraft.functional as LF
from losscraft import LosscraftError, LossEntry
from losscraft._core.spec import TensorDomain

from lc_helpers import ENTRIES, sample

ELEMENT = [e for e in ENTRIES if e.spec.weight == "element"]
BAD_VALUES = [(-1.0, "-1"), (math.nan, "nan"), (math.inf, "inf"), (-math.inf, "-inf")]

TENSOR_PARAMS = [(e, p.name) for e in ENTRIES for p in e.spec.params if isinstance(p.domain, TensorDomain)]


def test_negative_sample_weight_is_rejected() -> None:
    # The weighted mean sum(w l) / sum(w) = (-1 - 4) / -2 = 2.5 would be meaningless; the
    # unvalidated reducer returned -5.0 for a mean of squared errors.
    x, y = torch.tensor([1.0, 2.0]), torch.zeros(2)
    with pytest.raises(LosscraftError) as err:
        LF.mse_loss(x, y, weight=torch.tensor([-1.0, -1.0]))
    assert (
        str(err.value)
        == "mse_loss: 'weight' must contain finite weights >= 0, got -1 (observed range [-1, -1])"
    )


def test_nan_sample_weight_is_rejected() -> None:
    with pytest.raises(LosscraftError, match=r"^huber_loss: 'weight' .* got nan \(1 of 3 values are NaN"):
        LF.huber_loss(torch.ones(3), torch.zeros(3), weight=torch.tensor([1.0, math.nan, 2.0]))


def test_zero_weights_stay_valid() -> None:
    # The boundary of the domain: zero weights are allowed (and an all-zero mean is 0).
    x, y = torch.tensor([1.0, 2.0], dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
    w = torch.tensor([0.0, 3.0], dtype=torch.float64)
    assert LF.mse_loss(x, y, weight=w).item() == 4.0  # (0 * 1 + 3 * 4) / 3
    assert LF.mse_loss(x, y, weight=torch.zeros(2, dtype=torch.float64)).item() == 0.0


@pytest.mark.parametrize("entry", ELEMENT, ids=[e.name for e in ELEMENT])
@pytest.mark.parametrize(("bad", "shown"), BAD_VALUES, ids=[s for _, s in BAD_VALUES])
def test_element_weight_values(entry: LossEntry, bad: float, shown: str) -> None:
    c = sample(entry, 4)
    none = entry.function(*c.args, reduction="none", **c.kwargs)
    w = torch.ones(none.shape, dtype=torch.float64)
    assert torch.isfinite(entry.function(*c.args, weight=w, **c.kwargs))
    w.view(-1)[-1] = bad  # the last position: the check must scan the whole tensor
    msg = rf"^{entry.function.__name__}: 'weight' must contain finite weights >= 0, got {shown} \("
    for reduction in ("mean", "sum", "none"):
        with pytest.raises(LosscraftError, match=msg):
            entry.function(*c.args, weight=w, reduction=reduction, **c.kwargs)
    assert entry.module is not None
    with pytest.raises(LosscraftError, match=rf"'weight' must contain finite weights >= 0, got {shown} \("):
        entry.module()(*c.args, weight=w)
    # A per-sample weight (N, 1, ...) broadcasts: its values are checked too.
    if none.dim() >= 2:
        ws = torch.ones((none.shape[0],) + (1,) * (none.dim() - 1), dtype=torch.float64)
        ws.view(-1)[0] = bad
        with pytest.raises(LosscraftError, match=msg):
            entry.function(*c.args, weight=ws, **c.kwargs)


def _vector(entry: LossEntry, name: str) -> list[float]:
    """Valid values for a per-class / per-label tensor hyperparameter of the default sample."""
    x = sample(entry, 4).args[0]
    length = int(x.shape[1]) if x.dim() >= 2 else 1
    return [0.5 + 0.25 * i for i in range(length)]


@pytest.mark.parametrize(("entry", "name"), TENSOR_PARAMS, ids=[f"{e.name}-{n}" for e, n in TENSOR_PARAMS])
@pytest.mark.parametrize(("bad", "shown"), BAD_VALUES, ids=[s for _, s in BAD_VALUES])
def test_tensor_hyperparameter_values(entry: LossEntry, name: str, bad: float, shown: str) -> None:
    domain = entry.spec.param(name).domain
    assert isinstance(domain, TensorDomain)
    good = _vector(entry, name)
    c = sample(entry, 4, **{name: torch.tensor(good, dtype=torch.float64)})
    ok = entry.function(*c.args, **{**c.kwargs, name: torch.tensor(good, dtype=torch.float64)})
    assert torch.isfinite(ok)
    fn = entry.function.__name__
    rule = "> 0" if domain.positive else ">= 0"
    values = [*good[:-1], bad]
    msg = (
        rf"'{name}' must be a 1-D float tensor \(or list\) of finite values {rule}( or None)?, got {shown} \("
    )
    cases: list[Any] = [
        torch.tensor(values, dtype=torch.float64),
        torch.tensor(values),
        values,
        tuple(values),
    ]
    for value in cases:
        with pytest.raises(LosscraftError, match=rf"^{fn}: {msg}"):
            entry.function(*c.args, **{**c.kwargs, name: value})
        assert entry.module is not None
        with pytest.raises(LosscraftError, match=msg):
            entry.module(**{name: value})


@pytest.mark.parametrize(("entry", "name"), TENSOR_PARAMS, ids=[f"{e.name}-{n}" for e, n in TENSOR_PARAMS])
def test_tensor_hyperparameter_zero(entry: LossEntry, name: str) -> None:
    # 0 is the boundary: a valid class weight, an invalid count or prior (log 0).
    domain = entry.spec.param(name).domain
    assert isinstance(domain, TensorDomain)
    good = _vector(entry, name)
    c = sample(entry, 4, **{name: torch.tensor(good, dtype=torch.float64)})
    value = torch.tensor([0.0, *good[1:]], dtype=torch.float64)
    if domain.positive:
        with pytest.raises(LosscraftError, match=rf"'{name}' must be .* of finite values > 0.*, got 0 \("):
            entry.function(*c.args, **{**c.kwargs, name: value})
    else:
        assert torch.isfinite(entry.function(*c.args, **{**c.kwargs, name: value}))
