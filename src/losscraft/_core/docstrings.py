"""A loss function's docstring takes its formula and references from the spec.

The spec holds the facts a reader, the CLI and the catalog all need (see :mod:`.spec`); the
function's docstring does not repeat them. It holds a line ``{formula}`` where the display
formula goes and a line ``{references}`` under ``References:``, and :func:`render_docstring`
(called by ``register``) replaces them with the spec's ``formula`` (as ``$$...$$``) and its
``references`` (one per line), so ``help()``, the doctests and the docs show both while the
source writes each once. A docstring without these lines is left as it is (custom losses).

The summary stays written in both places because the docstring's first line must be a real
sentence in the source: the spec's ``summary`` is that line, verbatim, and the contract suite
(``tests/contract/test_docstrings.py``) holds the two equal.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .spec import LossSpec

__all__ = ["FORMULA", "REFERENCES", "render_docstring"]

FORMULA = "{formula}"
"""The line of a loss docstring that :func:`render_docstring` replaces with ``$$spec.formula$$``."""

REFERENCES = "{references}"
"""The line of a loss docstring that :func:`render_docstring` replaces with the spec's references."""

_WIDTH = 100  # wrap each reference at this width (a URL is never broken)


def render_docstring(spec: LossSpec, doc: str | None) -> str | None:
    """``doc`` with its ``{formula}`` and ``{references}`` lines filled from ``spec``.

    Each placeholder must stand alone on its line; its indentation is kept. ``None`` (docstrings
    stripped by ``python -OO``) and docstrings without placeholders are returned unchanged.
    """
    if doc is None or (FORMULA not in doc and REFERENCES not in doc):
        return doc
    out: list[str] = []
    for line in doc.split("\n"):
        token = line.strip()
        indent = line[: len(line) - len(line.lstrip())]
        if token == FORMULA:
            out.append(f"{indent}$${spec.formula}$$")
        elif token == REFERENCES:
            for ref in spec.references:
                out.append(
                    textwrap.fill(
                        str(ref),
                        width=_WIDTH,
                        initial_indent=indent,
                        subsequent_indent=indent + "    ",
                        break_long_words=False,
                        break_on_hyphens=False,
                    )
                )
        else:
            out.append(line)
    return "\n".join(out)
