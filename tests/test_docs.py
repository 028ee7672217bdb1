"""The generated catalog page is current and covers every registry entry."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import losscraft

ROOT = Path(__file__).resolve().parents[1]


def _gen():
    spec = importlib.util.spec_from_file_location("gen_catalog", ROOT / "docs" / "gen_catalog.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_catalog_page_is_up_to_date() -> None:
    text = _gen().render()
    assert (ROOT / "docs" / "catalog.md").read_text() == text, "run `make docs`"


def test_every_entry_documented() -> None:
    text = (ROOT / "docs" / "catalog.md").read_text()
    for e in losscraft.catalog():
        assert f"### {e.name}\n" in text
        assert e.spec.formula in text


def test_readme_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
