"""The worked examples of docs/choosing-a-loss.md: their data loads offline, has the published
size, and the code block a reader types computes the same target and features as the generator."""

from __future__ import annotations

import re
import socket
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np
import pytest

from lc_helpers import load_script

pytest.importorskip("sklearn")  # the [guide] extra: the examples' data sets ship in these wheels
pytest.importorskip("statsmodels")
pytest.importorskip("skimage")

ROOT = Path(__file__).resolve().parents[2]

# Sizes as published with each data set (independent of the generator): target shape, feature shape.
SIZES: dict[str, tuple[tuple[int, ...], tuple[int, ...] | None]] = {
    "_diabetes": ((442,), (442, 10)),
    "_cancer": ((569,), (569, 30)),
    "_wine": ((178,), (178, 13)),
    "_digits": ((1797,), (1797, 64)),
    "_digit_zero": ((1797,), (1797, 64)),
    "_randhie": ((20190,), (20190, 9)),  # RAND HIE, statsmodels docs: 20,190 observations
    "_stackloss": ((21,), (21, 3)),  # Brownlee 1965: 21 days, 3 regressors
    "_engel": ((235,), (235, 1)),  # Koenker and Bassett 1982: 235 households
    "_fair": ((6366,), (6366, 8)),  # Fair 1978, Redbook survey: 6,366 women
    "_anes96": ((944,), (944, 5)),  # ANES 1996 subset in statsmodels: 944 respondents
    "_coins": (((303 // 64) * (384 // 64), 64, 64), None),  # coins(): 303x384
    "_horse": (((328 // 64) * (400 // 64), 64, 64), None),  # horse(): 328x400
}

# Brownlee's stack loss (R's datasets::stackloss, Rousseeuw and Leroy 1987, table 9 of chapter 2).
STACKLOSS = [42, 37, 37, 28, 18, 18, 19, 20, 15, 14, 14, 13, 11, 12, 8, 7, 8, 8, 9, 15, 15]


def _gen() -> ModuleType:
    return load_script("docs/gen_choosing.py")


GEN = _gen()
EXAMPLES = GEN.EXAMPLES


def _id(ex: Any) -> str:
    return str(ex.load.__name__)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a socket (a download) fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a worked example tried to reach the network")

    class Refused(socket.socket):  # a class, so that a first `import ssl` can still subclass it
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            refuse()

    monkeypatch.setattr(socket, "socket", Refused)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_every_example_has_a_published_size() -> None:
    assert {_id(ex) for ex in EXAMPLES} == set(SIZES)


@pytest.mark.parametrize("ex", EXAMPLES, ids=_id)
def test_load_offline_with_published_size(ex: Any, offline: None) -> None:
    y, x = ex.load()
    want_y, want_x = SIZES[_id(ex)]
    target = np.asarray(y, dtype=float)
    assert target.shape == want_y
    assert np.isfinite(target).all()
    if want_x is None:
        assert x is None
    else:
        assert np.asarray(x).shape == want_x
        assert np.isfinite(np.asarray(x, dtype=float)).all()
    if len(want_y) == 3:  # segmentation tiles: uint8 masks holding both classes
        assert np.asarray(y).dtype == np.uint8
        assert set(np.unique(target)) == {0.0, 1.0}


def test_published_values() -> None:
    """Spot checks against the data sets' published descriptions."""
    by_id = {_id(ex): ex for ex in EXAMPLES}
    y, _ = by_id["_stackloss"].load()
    np.testing.assert_array_equal(np.asarray(y), STACKLOSS)
    y, x = by_id["_engel"].load()  # Koenker's first household: income 420.1577, food 255.8394
    assert np.asarray(y)[0] == pytest.approx(255.8394, abs=1e-4)
    assert np.asarray(x)[0, 0] == pytest.approx(420.1577, abs=1e-4)
    y, _ = by_id["_anes96"].load()  # PID: 0 (strong Democrat) .. 6 (strong Republican), all used
    assert set(np.unique(np.asarray(y))) == set(range(7))
    y, _ = by_id["_randhie"].load()  # mdvis: doctor visits, a count
    counts = np.asarray(y)
    assert (counts >= 0).all() and (counts == np.round(counts)).all()
    y, _ = by_id["_fair"].load()  # affairs: non-negative, mostly zeros
    rate = np.asarray(y)
    assert (rate >= 0).all() and (rate == 0).mean() > 0.5


# --------------------------------------------------------------------------- code block == load()
# The page runs its blocks in order in one namespace. A block that imports its data starts a
# chain; a block without imports continues the chain before it (e.g. a second goal on the same
# data). Each chain runs here in a fresh namespace whose `losscraft` records what `recommend` was
# given (tests/test_docs.py runs the blocks against the real guide).
_STARTS = re.compile(r"^(?:from \S+ )?import ", re.M)


def _chain(index: int) -> list[Any]:
    start = index
    while start > 0 and not _STARTS.search(EXAMPLES[start].code):
        start -= 1
    return list(EXAMPLES[start : index + 1])


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def recommend(
        self, target: Any, *, features: Any = None, goal: Any = None, task: Any = None
    ) -> list[Any]:
        self.calls.append({"target": target, "features": features, "goal": goal, "task": task})
        return [SimpleNamespace(name="stub", params={})]


def _same(got: Any, want: Any) -> None:
    if want is None:
        assert got is None
        return
    assert type(got) is type(want)  # pandas stays pandas, as a reader passes it
    if hasattr(want, "columns"):
        assert list(got.columns) == list(want.columns)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


@pytest.mark.parametrize("index", range(len(EXAMPLES)), ids=[_id(ex) for ex in EXAMPLES])
def test_code_block_computes_the_loaded_data(index: int, offline: None) -> None:
    ex = EXAMPLES[index]
    recorder = _Recorder()
    namespace: dict[str, Any] = {"__name__": "__doc__", "losscraft": recorder}
    for block in _chain(index):
        exec(compile(block.code, f"example {block.title!r}", "exec"), namespace)
    call = recorder.calls[-1]
    y, x = ex.load()
    _same(call["target"], y)
    _same(call["features"], x)
    assert call["goal"] == ex.goal
    assert call["task"] == ex.task


def test_chains_are_detected() -> None:
    """The chain rule itself: continuation blocks exist and really depend on their chain."""
    lengths = [len(_chain(i)) for i in range(len(EXAMPLES))]
    assert max(lengths) == 2 and lengths.count(1) >= 8
    for i, n in enumerate(lengths):
        if n == 2:  # alone, a continuation block fails: it needs the data of the block before
            with pytest.raises(NameError):
                exec(EXAMPLES[i].code, {"losscraft": _Recorder()})
