"""A fact about a loss is written once: the docstring and the spec agree, and docstrings hold no timings.

The spec is the only home of a loss's formula and references: the function's docstring holds the
lines ``{formula}`` and ``{references}``, which ``register`` fills in from the spec
(``losscraft._core.docstrings``). The summary is written twice on purpose (the docstring's first
line must read as a sentence in the source) and must be the same text. :func:`drift` lists every
way a docstring disagrees with its spec or repeats it by hand; the synthetic cases at the end show
that it catches each kind. Timings go stale: they belong on the benchmarks page, not in a docstring.
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
from losscraft._core.docstrings import FORMULA, REFERENCES, render_docstring
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
    """The docstring as written in the source (before ``register`` filled it in), cleaned."""
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


def drift(spec: LossSpec, source: str) -> list[str]:
    """Every way the docstring ``source`` (as written, cleaned) disagrees with ``spec``.

    Summary: the first line is ``spec.summary``, verbatim. Formula: the docstring holds the line
    ``{formula}`` once and no display math of its own, and the rendered docstring's formula is
    ``spec.formula`` (one line). References: the section is the line ``{references}`` only, and
    renders as the spec's references; every "Surname (et al.) YEAR" cited in the prose is one of
    them. Timings: none.
    """
    problems: list[str] = []
    rendered = render_docstring(spec, source) or ""
    first = rendered.splitlines()[0] if rendered else ""
    if first != spec.summary:
        problems.append(f"summary: the docstring's first line {first!r} is not spec.summary {spec.summary!r}")

    if "\n" in spec.formula:
        problems.append("formula: spec.formula spans several lines (the docstring shows it on one)")
    if sum(line.strip() == FORMULA for line in source.splitlines()) != 1:
        problems.append(f"formula: the docstring must hold the line {FORMULA} exactly once")
    if "$$" in source:
        problems.append(
            "formula: the docstring writes display math of its own; the spec's formula is the only one"
        )
    blocks = re.findall(r"\$\$(.*?)\$\$", rendered, re.S)
    if not blocks or blocks[0] != spec.formula:
        problems.append(f"formula: the rendered docstring shows {blocks[:1]!r}, the spec {spec.formula!r}")

    if section(source, "References").strip() != REFERENCES:
        problems.append(f"references: the References section must be the line {REFERENCES} only")
    shown = _words(section(rendered, "References"))
    if shown != _words(" ".join(str(r) for r in spec.references)):
        problems.append(f"references: the rendered docstring lists {shown!r}")
    for m in CITATION.finditer(source):
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
def test_registered_docstring_is_filled_in(entry: LossEntry) -> None:
    """``register`` replaced the placeholders: ``help()`` and the doctests see the full docstring."""
    doc = inspect.getdoc(entry.function) or ""
    assert FORMULA not in doc and REFERENCES not in doc
    assert f"$${entry.spec.formula}$$" in doc
    assert all(_words(str(r)) in _words(section(doc, "References")) for r in entry.spec.references)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_module_docstring_repeats_no_fact(entry: LossEntry) -> None:
    """The Module's docstring points at the function; it repeats no formula or reference."""
    assert entry.module is not None
    doc = inspect.getdoc(entry.module) or ""
    assert "$$" not in doc and "References:" not in doc
    assert not TIMING.search(doc)


def _loss_source_files() -> list[Path]:
    root = Path(losscraft.losses.__file__).parent
    return sorted(root.rglob("*.py"))


@pytest.mark.parametrize("path", _loss_source_files(), ids=lambda p: p.stem)
def test_no_timings_in_loss_docstrings(path: Path) -> None:
    """No docstring under ``losscraft/losses`` (modules, functions, classes, kernels) quotes a timing.

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
    """Synthetic loss: a square.

    {formula}

    reduced as described in *Reductions*; the square of Author & Other 2001.

    Args:
        input: predictions.

    References:
        {references}
    """
)


def test_clean_synthetic_docstring_has_no_drift() -> None:
    assert drift(SPEC, CLEAN) == []
    rendered = render_docstring(SPEC, CLEAN) or ""
    assert rendered.splitlines()[2] == r"$$\ell_i = (\hat y_i - y_i)^2$$"
    assert section(rendered, "References").strip() == str(SPEC.references[0])


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("Synthetic loss: a square.", "Synthetic loss: a cube.", "summary:"),
        ("{formula}", r"$$\ell_i = |\hat y_i - y_i|^3$$", "formula:"),
        ("{formula}\n", "{formula}\n\n$$\\ell = 0$$\n", "display math of its own"),
        ("{references}", "Author & Other (2001), *A Title*.", "references: the References section"),
        ("Author & Other 2001", "Someone et al. 2020", "'Someone et al. 2020' is cited"),
        ("the square of", "3.2x faster than the square of", "timing: '3.2x faster'"),
        ("the square of", "takes 12 ms, the square of", "timing: '12 ms'"),
    ],
    ids=["summary", "formula", "second-formula", "references", "citation", "speedup", "time"],
)
def test_drift_is_caught(old: str, new: str, problem: str) -> None:
    """Each kind of drift, planted in a copy of a clean docstring, is reported."""
    doc = CLEAN.replace(old, new)
    assert doc != CLEAN
    assert any(problem in p for p in drift(SPEC, doc)), drift(SPEC, doc)


def test_spec_side_drift_is_caught() -> None:
    """A spec whose summary changed, or whose formula spans lines, disagrees with the docstring."""
    assert any("summary:" in p for p in drift(dataclasses.replace(SPEC, summary="Changed."), CLEAN))
    assert any("one" in p for p in drift(dataclasses.replace(SPEC, formula="a\nb"), CLEAN))


def test_the_docstring_follows_the_spec() -> None:
    """Formula and references cannot drift: a changed spec changes the rendered docstring."""
    spec = dataclasses.replace(SPEC, formula=r"\ell = 0", references=(Ref("C. New", "T", "V", 2024),))
    rendered = render_docstring(spec, CLEAN) or ""
    assert r"$$\ell = 0$$" in rendered and "C. New (2024). T. V." in rendered
    assert drift(spec, CLEAN.replace("Author & Other 2001", "New 2024")) == []


def test_render_docstring_edge_cases() -> None:
    assert render_docstring(SPEC, None) is None  # python -OO
    plain = "A custom loss.\n\n$$x$$\n"
    assert render_docstring(SPEC, plain) is plain  # no placeholder: untouched
    raw = "Loss.\n\n        {formula}\n"  # the indentation of the placeholder is kept
    assert render_docstring(SPEC, raw) == "Loss.\n\n        $$" + SPEC.formula + "$$\n"
    long_ref = Ref("A. B", "T " * 60, "V", 2000, "https://example.org/" + "x" * 120)
    out = (
        render_docstring(dataclasses.replace(SPEC, references=(long_ref,)), "L.\n\n    {references}\n") or ""
    )
    assert all(line.startswith("    ") for line in out.splitlines()[2:])
    assert "https://example.org/" + "x" * 120 in out  # a URL is never broken
