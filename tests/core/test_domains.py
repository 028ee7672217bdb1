"""Domain.parse: the text syntax of every hyperparameter domain, its round-trips and its errors."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pytest
import torch

from losscraft._core.spec import Choice, Domain, FloatSeq, Interval, Param, TensorDomain, parse_number

from lc_helpers import ENTRIES

PARAMS: list[tuple[str, Param]] = [(e.name, p) for e in ENTRIES for p in e.spec.params]

POSITIVE = Interval(0.0, math.inf, low_closed=False)
INDEX = Interval(integer=True)
UNIT_SEQ = FloatSeq(Interval(0.0, 1.0, low_closed=False, high_closed=False))
MODES = Choice(("binary", "multiclass", "Multilabel"))
FLAG = Choice((True, False))
WEIGHTS = TensorDomain()


@dataclass(frozen=True)
class _Free(Domain):
    """A domain with no syntax of its own: the generic literal reader."""

    def contains(self, value: Any) -> bool:
        return True

    def describe(self) -> str:
        return "anything"


def _error(domain: Domain, text: str) -> str:
    """The message of the ValueError ``domain.parse(text)`` raises."""
    with pytest.raises(ValueError, match=r"^cannot parse ") as info:
        domain.parse(text)
    return str(info.value)


# --------------------------------------------------------------------------- every registry entry
@pytest.mark.parametrize(("entry", "param"), PARAMS, ids=[f"{n}.{p.name}" for n, p in PARAMS])
def test_default_round_trips(entry: str, param: Param) -> None:
    """``domain.parse(str(default))`` is the default again: same value, same type, inside the domain."""
    parsed = param.domain.parse(str(param.default))
    if param.default is None:
        assert parsed is None
        return
    assert parsed == param.default
    if isinstance(param.domain, Choice) or isinstance(param.default, bool):
        assert parsed is param.default or type(parsed) is type(param.default)
    if isinstance(param.domain, Interval) and param.domain.integer:
        assert type(parsed) is int
    assert param.domain.contains(parsed)


@pytest.mark.parametrize(("entry", "param"), PARAMS, ids=[f"{n}.{p.name}" for n, p in PARAMS])
def test_none_parses_in_every_domain(entry: str, param: Param) -> None:
    """``none`` is read as None everywhere; whether None is allowed is the domain's ``contains``."""
    for text in ("none", "None", " NULL "):
        assert param.domain.parse(text) is None


@pytest.mark.parametrize(("entry", "param"), PARAMS, ids=[f"{n}.{p.name}" for n, p in PARAMS])
def test_unparsable_text_names_the_domain(entry: str, param: Param) -> None:
    if isinstance(param.domain, Choice) and any(str(v) == "__bad__" for v in param.domain.values):
        pytest.skip("the text is a choice")
    with pytest.raises(ValueError, match=r"^cannot parse '__bad__': must be ") as info:
        param.domain.parse("__bad__")
    assert str(info.value) == f"cannot parse '__bad__': must be {param.domain.describe()}"


# --------------------------------------------------------------------------- Interval
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2", 2.0),
        (" 0.5 ", 0.5),
        ("-3", -3.0),
        ("1e-3", 1e-3),
        ("inf", math.inf),
        ("+inf", math.inf),
        ("Infinity", math.inf),
        ("-inf", -math.inf),
        ("-INFINITY", -math.inf),
    ],
)
def test_interval_reads_floats(text: str, value: float) -> None:
    parsed = POSITIVE.parse(text)
    assert type(parsed) is float
    assert parsed == value


def test_interval_reads_nan_and_does_not_validate() -> None:
    """Parsing only reads the text: the value is checked against the domain afterwards."""
    assert math.isnan(POSITIVE.parse("nan"))
    assert POSITIVE.parse("-5") == -5.0
    assert not POSITIVE.contains(POSITIVE.parse("-5"))


def test_integer_interval_reads_ints_only() -> None:
    assert INDEX.parse("-100") == -100
    assert type(INDEX.parse(" 7 ")) is int
    assert INDEX.parse(str(2**70)) == 2**70  # read; contains() then rejects it (beyond int64)
    for text in ("1.5", "inf", "1e3", "abc", ""):
        with pytest.raises(ValueError, match=r"must be an int in \(-inf, inf\)$"):
            INDEX.parse(text)


def test_interval_errors_name_the_interval() -> None:
    assert _error(POSITIVE, "abc") == "cannot parse 'abc': must be a float in (0, inf)"
    optional = Interval(0.0, 1.0, optional=True)
    assert _error(optional, " 1,2 ") == "cannot parse ' 1,2 ': must be a float in [0, 1] or None"


# --------------------------------------------------------------------------- FloatSeq
def test_float_seq_reads_a_scalar_or_a_comma_list() -> None:
    assert UNIT_SEQ.parse("0.5") == 0.5
    assert UNIT_SEQ.parse("0.1,0.5,0.9") == [0.1, 0.5, 0.9]
    assert UNIT_SEQ.parse(" 0.1 , 0.9 ") == [0.1, 0.9]
    assert UNIT_SEQ.contains(UNIT_SEQ.parse("0.1,0.5,0.9"))
    assert FloatSeq(Interval(integer=True)).parse("1,2") == [1, 2]


def test_float_seq_errors() -> None:
    for text in ("0.1,x", "0.1,", "abc"):
        assert _error(UNIT_SEQ, text) == (
            f"cannot parse {text!r}: must be a float in (0, 1), or a non-empty sequence of them"
        )


# --------------------------------------------------------------------------- Choice
def test_choice_matches_text_case_insensitively() -> None:
    assert MODES.parse("binary") == "binary"
    assert MODES.parse(" MULTICLASS ") == "multiclass"
    assert MODES.parse("multilabel") == "Multilabel"  # the choice itself is returned
    assert Choice((1, 2)).parse("2") == 2
    assert type(Choice((1, 2)).parse("2")) is int


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("True", True),
        ("yes", True),
        ("ON", True),
        ("false", False),
        ("no", False),
        ("off", False),
    ],
)
def test_choice_reads_boolean_words(text: str, value: bool) -> None:
    assert FLAG.parse(text) is value


def test_choice_errors_list_the_choices() -> None:
    assert _error(MODES, "best") == "cannot parse 'best': must be one of 'binary', 'multiclass', 'Multilabel'"
    assert _error(FLAG, "1") == "cannot parse '1': must be one of True, False"
    with pytest.raises(ValueError, match="must be one of True$"):
        Choice((True,)).parse("no")  # a boolean word only matches a choice of that truth value


# --------------------------------------------------------------------------- TensorDomain
def test_tensor_domain_reads_a_float64_tensor() -> None:
    w = WEIGHTS.parse("3")
    assert w.dtype == torch.float64
    assert w.tolist() == [3.0]
    w = WEIGHTS.parse(" 1, 2.5 ,inf")
    assert w.tolist() == [1.0, 2.5, math.inf]
    assert WEIGHTS.contains(WEIGHTS.parse("1,2"))


def test_tensor_domain_errors() -> None:
    for text in ("3,x", "1,", "abc"):
        assert _error(WEIGHTS, text) == (
            f"cannot parse {text!r}: must be a 1-D float tensor (or list) of finite values >= 0 or None"
        )
    with pytest.raises(ValueError, match=r"of finite values > 0$"):
        TensorDomain(optional=False, positive=True).parse("x")


# --------------------------------------------------------------------------- the generic reader
def test_a_domain_without_syntax_reads_literals() -> None:
    d = _Free()
    assert d.parse("3") == 3
    assert type(d.parse("3")) is int
    assert d.parse("2.5") == 2.5
    assert d.parse("yes") is True
    assert d.parse("Off") is False
    assert d.parse("null") is None
    assert d.parse("word") == "word"
    assert d.parse("1, x ,none,true") == [1, "x", None, True]


# --------------------------------------------------------------------------- parse_number
def test_parse_number() -> None:
    assert parse_number(" 2 ") == 2.0
    assert type(parse_number("2")) is float
    assert parse_number("2", integer=True) == 2
    assert parse_number("-Infinity") == -math.inf
    for text, integer in (("none", False), ("1,2", False), ("inf", True), ("2.0", True), ("", False)):
        with pytest.raises(ValueError, match=r"could not convert|invalid literal"):
            parse_number(text, integer=integer)
