"""Hyperparameters are Module attributes: reading works, and assigning takes effect or raises.

Torch users write ``m = HuberLoss(); m.delta = 0.1`` and ``ce.weight = w``. For every entry
and every hyperparameter (and ``reduction``): the attribute reads the current value; a valid
assignment is used by the next call (equal to the function called with that value) and shown
by ``get_config`` and ``repr``, exactly as if it had been given to the constructor; an invalid
one raises ``LosscraftError`` and leaves the Module unchanged.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from losscraft import LosscraftError, LossEntry
from losscraft._core.spec import Choice, Domain, FloatSeq, Interval, TensorDomain

from lc_helpers import ENTRIES, IDS, sample


def _interval_alternative(d: Interval, default: Any) -> Any:
    if d.integer:
        candidates: list[Any] = [255, -1, 1, 2, 3, 7]
    else:
        base = default if isinstance(default, (int, float)) and not isinstance(default, bool) else 1.0
        candidates = [base * 0.5, base + 0.25, 0.3, 0.5, 1.5, 2.0, 0.05]
        if math.isfinite(d.low) and math.isfinite(d.high):
            candidates.insert(0, d.low + 0.37 * (d.high - d.low))
    for v in candidates:
        if v != default and d.contains(v):
            return v
    raise AssertionError(f"no alternative value in {d.describe()}")


def _alternative(domain: Domain, default: Any, n_classes: int) -> Any:
    if isinstance(domain, Choice):
        return next(v for v in domain.values if v != default)
    if isinstance(domain, Interval):
        return _interval_alternative(domain, default)
    if isinstance(domain, FloatSeq):
        return _interval_alternative(domain.element, default)
    assert isinstance(domain, TensorDomain)
    w = torch.arange(1, n_classes + 1, dtype=torch.float32)
    return w / w.sum()


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and torch.equal(a, b)
    return bool(a == b) and type(a) is type(b)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_hyperparameter_attributes_read_and_write(entry: LossEntry) -> None:
    assert entry.module is not None
    x = sample(entry, 4).args[0]
    n_classes = x.shape[1] if x.dim() >= 2 else 1  # class weights, pos_weight, counts, priors
    fresh = entry.module()
    for p in entry.spec.params:
        current = getattr(fresh, p.name)
        assert _same(current, p.default) or (isinstance(current, torch.Tensor) and p.default is not None), (
            p.name
        )  # read back: the default
        alt = _alternative(p.domain, p.default, n_classes)
        m = entry.module()
        setattr(m, p.name, alt)
        built = entry.module(**{p.name: alt})
        assert _same(getattr(m, p.name), getattr(built, p.name)), p.name
        assert m.get_config() == built.get_config(), p.name
        assert repr(m) == repr(built), p.name
        c = sample(entry, 4, **{p.name: alt})
        try:
            ref = entry.function(*c.args, **c.kwargs, **{p.name: alt})
        except LosscraftError:  # the value needs other inputs: the Module must agree
            with pytest.raises(LosscraftError):
                m(*c.args, **c.kwargs)
        else:
            torch.testing.assert_close(m(*c.args, **c.kwargs), ref, msg=lambda s, n=p.name: f"{n}: {s}")
        for bad in p.domain.invalid_examples():
            m = entry.module()
            before = m.get_config()
            with pytest.raises(LosscraftError, match=f"'{p.name}' must be"):
                setattr(m, p.name, bad)
            assert m.get_config() == before, p.name


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_reduction_attribute(entry: LossEntry) -> None:
    assert entry.module is not None
    c = sample(entry, 4)
    m = entry.module()
    assert m.reduction == "mean"
    m.reduction = "sum"
    assert m.reduction == "sum" and m.get_config()["reduction"] == "sum"
    torch.testing.assert_close(m(*c.args, **c.kwargs), entry.function(*c.args, **c.kwargs, reduction="sum"))
    with pytest.raises(LosscraftError, match="'reduction' must be one of"):
        m.reduction = "batchmean"
    assert m.reduction == "sum"


def test_tensor_hyperparameter_becomes_a_buffer_and_back() -> None:
    import losscraft

    x = torch.randn(6, 3, dtype=torch.float64)
    t = torch.tensor([0, 1, 2, 2, 1, 0])
    ce = losscraft.CrossEntropyLoss()
    w = torch.tensor([0.2, 1.0, 3.0], dtype=torch.float64)
    ce.weight = w
    assert [n for n, _ in ce.named_buffers()] == ["_hp_weight"]
    torch.testing.assert_close(ce(x, t), torch.nn.functional.cross_entropy(x, t, weight=w))
    w.mul_(10.0)  # the Module holds its own copy, as at construction
    torch.testing.assert_close(ce(x, t), torch.nn.functional.cross_entropy(x, t, weight=w / 10.0))
    ce.weight = None
    assert list(ce.named_buffers()) == []
    torch.testing.assert_close(ce(x, t), torch.nn.functional.cross_entropy(x, t))
    ce.weight = [1.0, 2.0, 0.5]  # a list, as in a config
    assert ce.get_config()["weight"] == [1.0, 2.0, 0.5]
    with pytest.raises(LosscraftError, match="'weight' must be"):
        ce.weight = torch.tensor([1.0, -1.0, 1.0])
    assert ce.get_config()["weight"] == [1.0, 2.0, 0.5]
    h = losscraft.HuberLoss()
    h.delta = 0.1
    assert h.delta == 0.1 and repr(h) == "HuberLoss(delta=0.1, reduction='mean')"
    r = torch.tensor([0.05, 2.0], dtype=torch.float64)
    # Huber closed form at delta = 0.1: 0.5 r^2 inside, delta (|r| - delta / 2) outside
    expected = torch.tensor((0.5 * 0.05**2 + 0.1 * (2.0 - 0.05)) / 2, dtype=torch.float64)
    torch.testing.assert_close(h(r, torch.zeros(2, dtype=torch.float64)), expected)
