"""A fact about a loss is told once: the docstring and the spec agree, and docstrings hold no timings.

The spec holds a loss's summary, formula and references for the registry, the CLI and the docs;
the function's docstring shows the same text in the source (so an editor's hover, ``help()`` and
the docs site read it without running anything). :func:`drift` lists every way a docstring
disagrees with its spec; the synthetic cases at the end show that it catches each kind, and its
message gives the text to paste. Timings go stale: they belong on the benchmarks page, not in a
docstring.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

import losscraft
import losscraft.losses
from losscraft import LossEntry, LossSpec
from losscraft._core.spec import Ref

from lc_helpers import ENTRIES, IDS

_NUM = r"\d+(?:\.\d+)?(?:\s*[-\u2013]\s*\d+(?:\.\d+)?)?"
#: A measured time or speed-up: "6 ms", "~3 us", "2.75x faster", "0.8-0.9x the time of", "10 % faster".
TIMING = re.compile(
    rf"{_NUM}\s*(?:ms|µs|us|ns|sec|seconds?|minutes?)\b"
    rf"|{_NUM}\s*(?:x|\u00d7|times)\s+(?:faster|slower|quicker|the\s+(?:time|speed|runtime))"
    rf"|{_NUM}\s*%\s+(?:faster|slower|quicker)"
    rf"|(?:faster|slower|speed-?up)\s+(?:of|by)\s+{_NUM}",
    re.IGNORECASE,
)

#: A citation in the prose: a surname (possibly "A, B & C" or "A et al.") followed by a year.
CITATION = re.compile(
    r"\b([A-Z][\w'\-]+)(?:(?:,| &| and) [A-Z][\w'\-]+)*(?: et al\.)?,? \(?((?:1[5-9]|20)\d\d)\b"
)

_SECTION = re.compile(r"^(?:Args|Returns|Raises|Examples|References|Yields|Notes?|Warnings?):\s*$")


def source_docstring(fn: Any) -> str:
    """The docstring as written in the source, cleaned."""
    node = ast.parse(textwrap.dedent(inspect.getsource(fn))).body[0]
    assert isinstance(node, ast.FunctionDef)
    return ast.get_docstring(node) or ""


def section(doc: str, name: str) -> str:
    """The body of the Google-style section ``name`` (empty when absent)."""
    lines = doc.splitlines()
    try:
        start = lines.index(f"{name}:") + 1
    except ValueError:
        return ""
    end = next((i for i in range(start, len(lines)) if _SECTION.match(lines[i])), len(lines))
    return "\n".join(lines[start:end])


def _words(text: str) -> str:
    return " ".join(text.split())


def references_text(spec: LossSpec) -> str:
    """The spec's references as the docstring lists them: ``str(Ref)``, one per entry."""
    return "\n".join(str(r) for r in spec.references)


def drift(spec: LossSpec, source: str) -> list[str]:
    """Every way the docstring ``source`` (as written, cleaned) disagrees with ``spec``.

    Summary: the first line is ``spec.summary``, verbatim. Formula: the docstring has exactly one
    display formula, ``$$spec.formula$$``, verbatim. References: the section lists the spec's
    references (``str(Ref)``; line wrapping is free), and every "Surname (et al.) YEAR" cited in
    the prose is one of them. Timings: none.
    """
    problems: list[str] = []
    first = source.splitlines()[0] if source else ""
    if first != spec.summary:
        problems.append(f"summary: the docstring's first line {first!r} is not spec.summary {spec.summary!r}")

    blocks = re.findall(r"\$\$(.*?)\$\$", source, re.S)
    if blocks != [spec.formula]:
        problems.append(
            f"formula: the docstring's display math {blocks!r} is not the spec's one formula; "
            f"write it as: $${spec.formula}$$"
        )

    shown = _words(section(source, "References"))
    if shown != _words(references_text(spec)):
        problems.append(
            f"references: the docstring lists {shown!r}; the References section must list the spec's:\n"
            + references_text(spec)
        )
    prose = source.replace(section(source, "References"), "")  # the venues there are no citations
    for m in CITATION.finditer(prose):
        surname, year = m.group(1), int(m.group(2))
        if not any(surname in r.authors and r.year == year for r in spec.references):
            problems.append(f"references: {m.group(0)!r} is cited but not in spec.references")

    problems += [
        f"timing: {m.group(0)!r} (timings belong in docs/benchmarks.md)" for m in TIMING.finditer(source)
    ]
    return problems


# --------------------------------------------------------------------------- the registry
@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_docstring_agrees_with_spec(entry: LossEntry) -> None:
    assert drift(entry.spec, source_docstring(entry.function)) == []


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_module_docstring_repeats_no_fact(entry: LossEntry) -> None:
    """The Module's docstring points at the function; it repeats no formula or reference."""
    assert entry.module is not None
    doc = inspect.getdoc(entry.module) or ""
    assert "$$" not in doc and "References:" not in doc
    assert not TIMING.search(doc)


def _source_files() -> list[Path]:
    root = Path(losscraft.__file__).parent
    return sorted(root.rglob("*.py"))


@pytest.mark.parametrize(
    "path", _source_files(), ids=lambda p: str(p.relative_to(Path(losscraft.__file__).parent))
)
def test_no_timings_in_docstrings(path: Path) -> None:
    """No docstring in the package (modules, functions, classes, kernels) quotes a timing.

    A code comment that justifies a design choice may keep its measurement.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            doc = ast.get_docstring(node) or ""
            found += [f"{getattr(node, 'name', '<module>')}: {m.group(0)!r}" for m in TIMING.finditer(doc)]
    assert found == []


# --------------------------------------------------------------------------- drift is caught
SPEC = dataclasses.replace(
    losscraft.get("huber").spec,
    name="synthetic",
    formula=r"\ell_i = (\hat y_i - y_i)^2",
    summary="Synthetic loss: a square.",
    references=(Ref("A. Author, B. Other", "A Title", "A Venue", 2001, "https://example.org"),),
)

CLEAN = inspect.cleandoc(
    r"""Synthetic loss: a square.

    $$\ell_i = (\hat y_i - y_i)^2$$

    reduced as described in *Reductions*; the square of Author & Other 2001.

    Args:
        input: predictions.

    References:
        A. Author, B. Other (2001). A Title. A Venue.
            https://example.org
    """
)


def test_clean_synthetic_docstring_has_no_drift() -> None:
    assert drift(SPEC, CLEAN) == []


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("Synthetic loss: a square.", "Synthetic loss: a cube.", "summary:"),
        (r"(\hat y_i - y_i)^2", r"|\hat y_i - y_i|^3", "formula:"),
        ("Reductions*;", "Reductions*; $$\\ell = 0$$", "formula:"),
        ("A Title", "Another Title", "references: the docstring lists"),
        (
            "References:\n    A. Author, B. Other (2001). A Title. A Venue.\n        https://example.org",
            "References:",
            "references:",
        ),
        ("Author & Other 2001", "Someone et al. 2020", "'Someone et al. 2020' is cited"),
        ("the square of", "3.2x faster than the square of", "timing: '3.2x faster'"),
        ("the square of", "takes 12 ms, the square of", "timing: '12 ms'"),
    ],
    ids=[
        "summary",
        "formula",
        "second-formula",
        "reference-text",
        "no-references",
        "citation",
        "speedup",
        "time",
    ],
)
def test_drift_is_caught(old: str, new: str, problem: str) -> None:
    """Each kind of drift, planted in a copy of a clean docstring, is reported."""
    doc = CLEAN.replace(old, new)
    assert doc != CLEAN
    assert any(problem in p for p in drift(SPEC, doc)), drift(SPEC, doc)


def test_spec_side_drift_is_caught() -> None:
    """A spec whose summary, formula or references changed disagrees with the unchanged docstring."""
    assert any("summary:" in p for p in drift(dataclasses.replace(SPEC, summary="Changed."), CLEAN))
    assert any("formula:" in p for p in drift(dataclasses.replace(SPEC, formula=r"\ell = 0"), CLEAN))
    new_refs = (*SPEC.references, Ref("C. New", "T", "V", 2024))
    assert any("references:" in p for p in drift(dataclasses.replace(SPEC, references=new_refs), CLEAN))
