"""Hyperparameters drawn from their declared domains give finite losses and gradients."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from losscraft import LossEntry
from losscraft._core.spec import Choice, Domain, FloatSeq, Interval

from lc_helpers import ENTRIES, IDS, sample, with_grad


def _interval(d: Interval) -> st.SearchStrategy[Any]:
    lo = d.low if math.isfinite(d.low) else -10.0
    if lo == 0.0 and not d.low_closed and not d.integer:
        lo = 1e-3  # (0, ...) scales such as temperature or delta: no denormals like 5e-324
    hi = d.high if math.isfinite(d.high) else lo + 10.0 if math.isfinite(d.low) else 10.0
    if d.integer:
        s: st.SearchStrategy[Any] = st.integers(math.ceil(lo), math.floor(hi))
    else:
        s = st.floats(lo, hi, exclude_min=not d.low_closed, exclude_max=not d.high_closed)
        if d.nonzero:
            s = s.filter(lambda v: v != 0.0)
    return st.one_of(st.none(), s) if d.optional else s


def strategy(domain: Domain) -> st.SearchStrategy[Any] | None:
    if isinstance(domain, Interval):
        return _interval(domain)
    if isinstance(domain, FloatSeq):
        el = _interval(domain.element)
        return st.one_of(el, st.lists(el, min_size=1, max_size=4).map(tuple))
    if isinstance(domain, Choice):
        return st.sampled_from(domain.values)
    return None  # tensor-valued: shape depends on the data, covered by per-loss tests


def _params_strategy(entry: LossEntry) -> st.SearchStrategy[dict[str, Any]]:
    parts = {}
    for p in entry.spec.params:
        s = strategy(p.domain)
        if s is not None and p.name != "ignore_index":
            parts[p.name] = s
    return st.fixed_dictionaries(parts)


WITH_PARAMS = [e for e in ENTRIES if any(strategy(p.domain) is not None for p in e.spec.params)]


@pytest.mark.parametrize("entry", WITH_PARAMS, ids=[e.name for e in WITH_PARAMS])
def test_hyperparameters_from_domain(entry: LossEntry) -> None:
    @settings(max_examples=30)
    @given(hp=_params_strategy(entry), seed=st.integers(0, 1000))
    def check(hp: dict[str, Any], seed: int) -> None:
        for p in entry.spec.params:
            assert p.domain.contains(hp.get(p.name, p.default)), p.name
        c = sample(entry, 3, seed=seed, **hp)
        args = with_grad(entry, c.args)
        out = entry.function(*args, **{**c.kwargs, **hp})
        assert torch.isfinite(out), hp
        out.backward()
        for a in args:
            if a.requires_grad:
                assert a.grad is not None and torch.isfinite(a.grad).all(), hp
        assert entry.module is not None
        torch.testing.assert_close(entry.module(**hp)(*c.args), entry.function(*c.args, **{**c.kwargs, **hp}))

    check()


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_domains_reject_their_invalid_examples(entry: LossEntry) -> None:
    for p in entry.spec.params:
        assert p.domain.contains(p.default), f"default of {p.name} outside its domain"
        for bad in p.domain.invalid_examples():
            assert not p.domain.contains(bad), (p.name, bad)
