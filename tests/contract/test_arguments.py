"""Registry-wide argument parity: the function and the Module take the same hyperparameter values.

Every hyperparameter value the Module accepts (tensor hyperparameters as tensors, lists or
tuples; sequences for ``FloatSeq``; ints for float intervals) is accepted by the function with
the same type and gives the same result, and ``get_config()`` returns the values as given.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import torch

import losscraft
import losscraft.functional as LF
from losscraft import LosscraftError, LossEntry
from losscraft._core.spec import Choice, FloatSeq, Interval, TensorDomain

from lc_helpers import ENTRIES, IDS, sample

# Not representable in float32: a list stored with float32 rounding comes back changed.
_FRACTIONS = [0.1, 0.7, 1.3, 2.9, 0.3, 1.1, 3.7, 0.9]


def _vector_length(entry: LossEntry) -> int:
    x = sample(entry, 4).args[0]
    return int(x.shape[1]) if x.dim() >= 2 else 1


def _variants(entry: LossEntry, name: str) -> list[Any]:
    """Values of every accepted type for one hyperparameter (beyond its default)."""
    p = entry.spec.param(name)
    d = p.domain
    if isinstance(d, TensorDomain):
        vals = _FRACTIONS[: _vector_length(entry)]
        ints = [i + 1 for i in range(len(vals))]
        return [vals, tuple(vals), ints, torch.tensor(vals, dtype=torch.float64), torch.tensor(vals)]
    if isinstance(d, FloatSeq):
        return [0.3, [0.3], (0.1, 0.9), [0.25, 0.5, 0.75]]
    if isinstance(d, Choice):
        return list(d.values)
    integral = isinstance(p.default, float) and p.default.is_integer()
    if isinstance(d, Interval) and not d.integer and integral and d.contains(int(p.default)):
        return [int(p.default)]  # an int where a float is expected
    return []


PARAMS = [(e, p.name) for e in ENTRIES for p in e.spec.params if _variants(e, p.name)]


@pytest.mark.parametrize(("entry", "name"), PARAMS, ids=[f"{e.name}-{n}" for e, n in PARAMS])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_function_accepts_what_the_module_accepts(entry: LossEntry, name: str, dtype: torch.dtype) -> None:
    assert entry.module is not None
    for value in _variants(entry, name):
        hp = {name: value}
        c = sample(entry, 5, dtype=dtype, **hp)
        for reduction in ("mean", "none"):
            m = entry.module(reduction=reduction, **hp)
            got_f = entry.function(*c.args, **{**c.kwargs, **hp, "reduction": reduction})
            got_m = m(*c.args, **c.kwargs)
            torch.testing.assert_close(got_m, got_f, msg=lambda s, v=value: f"{name}={v!r}: {s}")
            if isinstance(value, (list, tuple)) and isinstance(entry.spec.param(name).domain, TensorDomain):
                # A list is the tensor of its values, in the compute dtype.
                as_tensor = torch.tensor(value, dtype=dtype)
                ref = entry.function(*c.args, **{**c.kwargs, name: as_tensor, "reduction": reduction})
                torch.testing.assert_close(got_f, ref, rtol=0.0, atol=0.0)


@pytest.mark.parametrize(("entry", "name"), PARAMS, ids=[f"{e.name}-{n}" for e, n in PARAMS])
def test_config_keeps_the_values_given(entry: LossEntry, name: str) -> None:
    assert entry.module is not None
    for value in _variants(entry, name):
        m = entry.module(**{name: value})
        cfg = m.get_config()
        if isinstance(value, torch.Tensor):
            expected: Any = value.tolist()  # a tensor's own values (float32 ones stay float32's)
        elif isinstance(value, tuple):
            expected = list(value)  # JSON has no tuples
        else:
            expected = value
        assert cfg[name] == expected, (name, value, cfg[name])
        assert type(cfg[name]) is type(expected)
        assert json.loads(json.dumps(cfg)) == cfg
        rebuilt = losscraft.build(cfg)
        assert rebuilt.get_config() == cfg
        c = sample(entry, 4, **{name: value})
        torch.testing.assert_close(rebuilt(*c.args, **c.kwargs), m(*c.args, **c.kwargs))


def test_list_class_weight_regression() -> None:
    # Class weights as a list, in both forms; float64 closed form of the weighted mean.
    x = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]], dtype=torch.float64)
    y = torch.tensor([0, 2])
    w = [0.1, 1.0, 3.0]
    lse = [math.log(math.exp(2.0) + 1.0 + math.exp(-1.0)), math.log(2.0 + math.e)]
    nll = [lse[0] - 2.0, lse[1] - 0.0]
    expected = (0.1 * nll[0] + 3.0 * nll[1]) / (0.1 + 3.0)
    for fn_value in (w, tuple(w)):
        assert LF.cross_entropy_loss(x, y, weight=fn_value).item() == pytest.approx(expected, rel=1e-14)
    m = losscraft.CrossEntropyLoss(weight=w)
    assert m(x, y).item() == pytest.approx(expected, rel=1e-7)  # a float32 buffer
    assert m.get_config()["weight"] == [0.1, 1.0, 3.0]  # not 0.10000000149011612
    bce = LF.bce_with_logits_loss(torch.zeros(1, 2), torch.ones(1, 2), pos_weight=[2, 3], reduction="sum")
    assert bce.item() == pytest.approx(5.0 * math.log(2.0), rel=1e-6)
    focal = LF.focal_loss(x, y, gamma=0.0, alpha=w)
    assert focal.item() == pytest.approx(expected, rel=1e-14)


def test_config_follows_a_changed_buffer() -> None:
    # The user's list is reported only while the buffer still holds it.
    m = losscraft.CrossEntropyLoss(weight=[0.1, 0.2])
    assert m.get_config()["weight"] == [0.1, 0.2]
    assert m.double().get_config()["weight"] == [0.1, 0.2]
    m._hp_weight.copy_(torch.tensor([0.5, 0.25]))
    assert m.get_config()["weight"] == [0.5, 0.25]


def test_sequence_of_non_numbers_is_rejected_in_both_forms() -> None:
    x, y = torch.zeros(2, 3), torch.tensor([0, 1])
    for bad in (["a", "b", "c"], [True, False, True], [[1.0, 2.0, 3.0]]):
        with pytest.raises(LosscraftError, match=r"cross_entropy_loss: 'weight' must be a 1-D float tensor"):
            LF.cross_entropy_loss(x, y, weight=bad)
        with pytest.raises(LosscraftError, match=r"'weight' must be a 1-D float tensor"):
            losscraft.CrossEntropyLoss(weight=bad)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_infinite_hyperparameters_rejected_in_both_forms(entry: LossEntry) -> None:
    # inf is outside every domain that does not say otherwise (Barron's alpha takes -inf).
    c = sample(entry, 3)
    fn = entry.function.__name__
    assert entry.module is not None
    for p in entry.spec.params:
        if not isinstance(p.domain, Interval):
            continue
        for v in (math.inf, -math.inf):
            if p.domain.allow_inf and p.domain.contains(v):
                continue
            with pytest.raises(LosscraftError, match=rf"^{fn}: '{p.name}' must be .*, got -?inf$"):
                entry.function(*c.args, **{**c.kwargs, p.name: v})
            with pytest.raises(LosscraftError, match=rf"'{p.name}' must be .*, got -?inf$"):
                entry.module(**{p.name: v})


def test_infinite_hyperparameter_examples() -> None:
    x = torch.tensor([[-100.0, 0.0]])
    y = torch.tensor([1])
    with pytest.raises(LosscraftError, match=r"^focal_loss: 'gamma' must be a float in \[0, inf\), got inf$"):
        LF.focal_loss(x, y, gamma=math.inf)
    with pytest.raises(LosscraftError, match=r"^huber_loss: 'delta' must be a float in \(0, inf\), got inf$"):
        LF.huber_loss(torch.zeros(2), torch.ones(2), delta=math.inf)
    with pytest.raises(LosscraftError, match=r"^HuberLoss|'delta' must be a float in \(0, inf\), got inf"):
        losscraft.HuberLoss(delta=math.inf)
    # Barron's alpha = -inf is the Welsch limit, part of its domain; +inf is not.
    r = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
    got = LF.barron_loss(r, torch.zeros(3, dtype=torch.float64), alpha=-math.inf, reduction="none")
    torch.testing.assert_close(got, 1.0 - torch.exp(-0.5 * r**2))
    with pytest.raises(LosscraftError, match=r"'alpha' must be a float in \[-inf, inf\), got inf"):
        LF.barron_loss(r, r, alpha=math.inf)
