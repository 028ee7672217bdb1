"""Registry-wide API contract: naming, signatures, defaults, docs, Module parity, config."""

from __future__ import annotations

import inspect
import json

import pytest
import torch

import losscraft
import losscraft.functional as LF
from losscraft import LossEntry, LossModule

from lc_helpers import ENTRIES, IDS, sample


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_names_and_exports(entry: LossEntry) -> None:
    spec = entry.spec
    assert entry.function.__name__ == f"{spec.name}_loss"
    assert getattr(LF, entry.function.__name__) is entry.function
    assert entry.module is not None
    assert entry.module.__name__.endswith("Loss")
    assert getattr(losscraft, entry.module.__name__) is entry.module
    assert issubclass(entry.module, LossModule)
    assert losscraft.get(spec.name) is entry
    assert losscraft.get(entry.function.__name__) is entry


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_signature_and_default_parity(entry: LossEntry) -> None:
    spec = entry.spec
    sig = inspect.signature(entry.function)
    positional = [p.name for p in sig.parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional == list(spec.inputs)
    kwonly = {p.name: p.default for p in sig.parameters.values() if p.kind is p.KEYWORD_ONLY}
    expected = {p.name: p.default for p in spec.params}
    if spec.weight == "element":
        expected["weight"] = None
    for name in spec.call_inputs:  # call-time keyword tensors such as a bias: default None
        expected[name] = None
    expected["reduction"] = "mean"
    assert list(kwonly) == list(expected), "hyperparameters, then weight / call inputs, then reduction"
    for name, default in expected.items():
        assert kwonly[name] == default, name
    assert entry.module is not None
    init = inspect.signature(entry.module.__init__)
    mod_kw = {p.name: p.default for p in init.parameters.values() if p.kind is p.KEYWORD_ONLY}
    expected.pop("weight", None) if spec.weight == "element" else None
    for name in spec.call_inputs:  # inputs of forward, not hyperparameters of the Module
        expected.pop(name)
    assert mod_kw == expected
    assert all(
        p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and (p.name == "self" or p.kind is p.KEYWORD_ONLY)
        for p in init.parameters.values()
    )


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_docstring_template(entry: LossEntry) -> None:
    doc = inspect.getdoc(entry.function) or ""
    for section in ("$$", "Args:", "Returns:", "Raises:", "Examples:", "References:", "**Gradient:**", ">>>"):
        assert section in doc, f"{entry.function.__name__} docstring lacks {section!r}"
    for name in [*entry.spec.inputs, *(p.name for p in entry.spec.params), "reduction"]:
        assert f"{name}:" in doc, f"argument {name!r} undocumented"
    spec = entry.spec
    assert spec.formula and spec.summary and spec.references and spec.when_to_use
    assert entry.module is not None
    assert entry.function.__name__ in (entry.module.__doc__ or "")


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_when_not_to_use(entry: LossEntry) -> None:
    """Every entry says when another loss is the better choice, in whole sentences."""
    text = entry.spec.when_not_to_use.strip()
    assert text, f"{entry.name}: spec.when_not_to_use is empty"
    assert text.endswith("."), f"{entry.name}: spec.when_not_to_use must end with a period"


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_module_matches_function(entry: LossEntry) -> None:
    assert entry.module is not None
    c = sample(entry, 5)
    for reduction in ("mean", "sum", "none"):
        m = entry.module(reduction=reduction)
        torch.testing.assert_close(m(*c.args), entry.function(*c.args, reduction=reduction, **c.kwargs))


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_config_round_trip(entry: LossEntry) -> None:
    assert entry.module is not None
    m = entry.module(reduction="sum")
    cfg = m.get_config()
    assert cfg["name"] == entry.name
    json.dumps(cfg)  # plain data
    m2 = losscraft.build(cfg)
    assert type(m2) is type(m)
    assert m2.get_config() == cfg
    assert repr(m2) == repr(m)
    assert repr(m).startswith(entry.module.__name__ + "(")
    assert "reduction='sum'" in repr(m)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_module_validates_at_construction(entry: LossEntry) -> None:
    assert entry.module is not None
    with pytest.raises(losscraft.LosscraftError, match="'reduction' must be one of 'mean', 'sum', 'none'"):
        entry.module(reduction="avg")
    for p in entry.spec.params:
        for bad in p.domain.invalid_examples():
            with pytest.raises(losscraft.LosscraftError, match=f"'{p.name}' must be"):
                entry.module(**{p.name: bad})


def test_public_all_is_sorted_and_complete() -> None:
    assert losscraft.__all__ == sorted(losscraft.__all__)
    for name in losscraft.__all__:
        assert hasattr(losscraft, name)
    assert LF.__all__ == sorted(LF.__all__)
    assert sorted(LF.__all__) == sorted(e.function.__name__ for e in ENTRIES)


def test_catalog_filters() -> None:
    reg = losscraft.catalog(family="regression")
    assert reg and all(e.spec.family == losscraft.Family.REGRESSION for e in reg)
    robust = losscraft.catalog(property="robust_to_outliers")
    assert all(losscraft.Property.ROBUST_TO_OUTLIERS in e.spec.properties for e in robust)
    assert "mse" not in {e.name for e in robust} and "huber" in {e.name for e in robust}
    both = losscraft.catalog(family="regression", property="bounded_gradient")
    assert {e.name for e in both} <= {e.name for e in reg}
    with pytest.raises(losscraft.LosscraftError, match="'family' must be one of"):
        losscraft.catalog(family="nope")


def test_get_unknown_suggests() -> None:
    with pytest.raises(losscraft.LosscraftError, match=r"unknown loss 'hubber'; did you mean 'huber'"):
        losscraft.get("hubber")


def test_build_errors() -> None:
    with pytest.raises(losscraft.LosscraftError, match="unknown hyperparameter"):
        losscraft.build({"name": "huber", "delt": 1.0})
    with pytest.raises(losscraft.LosscraftError, match="'delta' must be a float in \\(0, inf\\), got -2.0"):
        losscraft.build({"name": "huber", "delta": -2.0})
    with pytest.raises(losscraft.LosscraftError, match="mapping with a 'name' key"):
        losscraft.build({"delta": 1.0})
