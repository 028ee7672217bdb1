"""The docs site: pages generated from the registry are current, complete, and the strict build passes."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor

import losscraft
from losscraft import Family, InputKind, LossSpec, Property, TargetKind, Task
from losscraft._core.module import LossModule
from losscraft._core.registry import lookup, register, unregister
from losscraft._core.spec import Call, Interval, Param, Ref

from lc_helpers import ROOT, load_script

DOCS = ROOT / "docs"
REPO_URL = "https://github.com/losscraft/losscraft"


@pytest.fixture(scope="module")
def gen() -> Any:
    return load_script("docs/gen_site.py")


@pytest.fixture(scope="module")
def pages(gen: Any) -> dict[str, str]:
    return gen.render_all()


# --------------------------------------------------------------------------- the committed pages
def test_generated_pages_are_up_to_date(gen: Any, pages: dict[str, str]) -> None:
    stale = [
        rel for rel, text in pages.items() if not (DOCS / rel).exists() or (DOCS / rel).read_text() != text
    ]
    assert not stale, f"{stale}: run `make docs`"
    leftover = gen.generated_files() - set(pages) - set(gen.image_paths().values())
    assert not leftover, f"generated files of no registry entry: {sorted(leftover)}: run `make docs`"


def test_every_entry_has_a_page_an_index_row_and_a_plot(gen: Any, pages: dict[str, str]) -> None:
    index = pages["losses/index.md"]
    plots = gen.image_paths()
    for e in losscraft.catalog():
        s = e.spec
        page = pages.get(f"losses/{s.name}.md")
        assert page is not None, f"{s.name} has no page"
        assert f"| [`{s.name}`]({s.name}.md) |" in index, s.name
        assert s.formula in page and s.summary in page, s.name
        for p in s.params:  # the hyperparameters table: name, default, domain
            assert f"| `{p.name}` | `{p.default!r}` | {gen.cell(p.domain.describe())} |" in page, (
                s.name,
                p.name,
            )
        for prop in s.properties:
            assert str(prop) in page, (s.name, prop)
        for ref in s.references:
            assert str(ref) in page, s.name
        if s.curves:
            assert f"](images/{s.name}.png)" in page
            assert (DOCS / plots[s.name]).stat().st_size > 1000, (
                f"{plots[s.name]} is missing: run `make docs`"
            )
        assert "```python\n" in page and "```text\n" in page, s.name
    assert index.count("| [`") == len(losscraft.catalog())


def test_equivalent_calls_come_from_the_table(pages: dict[str, str]) -> None:
    eq = load_script("docs/equivalents.py")
    with_rows = {r.entry for r in eq.EQUIVALENTS}
    for e in losscraft.catalog():
        page = pages[f"losses/{e.name}.md"]
        section = page.split("## Equivalent calls in other libraries", 1)[1].split("\n## ", 1)[0]
        if e.name in with_rows:
            for r in eq.for_entry(e.name):
                assert f"| {r.library} |" in section and r.peer.replace("|", "\\|") in section, (e.name, r)
        else:
            assert section.strip().startswith("None"), e.name


def test_api_pages_cover_the_public_modules(pages: dict[str, str]) -> None:
    api = "\n".join(text for rel, text in pages.items() if rel.startswith("api/"))
    for module in (
        "losscraft.functional",
        "losscraft.nn",
        "losscraft._core.registry",
        "losscraft.compose",
        "losscraft.weighting",
        "losscraft.multitask",
        "losscraft.builder",
        "losscraft.analysis",
        "losscraft.plotting",
        "losscraft.guide",
        "losscraft.distributed",
    ):
        assert f"::: {module}\n" in api, module


# --------------------------------------------------------------------------- a new entry
def site_dummy_loss(input: Tensor, target: Tensor, *, scale: float = 2.0, reduction: str = "mean") -> Tensor:
    """A scaled absolute error used only by this test."""
    out = scale * (input - target).abs()
    return out.mean() if reduction == "mean" else out.sum() if reduction == "sum" else out


def _dummy_sample(n: int, *, generator: torch.Generator, dtype: torch.dtype, **_: Any) -> Call:
    return Call((torch.randn(n, 3, generator=generator, dtype=dtype), torch.zeros(n, 3, dtype=dtype)))


DUMMY = LossSpec(
    name="site_dummy",
    family=Family.REGRESSION,
    tasks=(Task.REGRESSION,),
    input_kind=InputKind.REAL,
    target_kind=TargetKind.REAL,
    params=(Param("scale", 2.0, Interval(0.0, low_closed=False), "multiplies the absolute error"),),
    properties=frozenset({Property.NONNEGATIVE, Property.ROBUST_TO_OUTLIERS}),
    formula=r"\ell_i = s\,|\hat y_i - y_i|",
    summary="A scaled absolute error used only by this test.",
    references=(Ref("A. Author", "A Test Loss", "Nowhere", 2024),),
    sample=_dummy_sample,
    when_to_use="Never: it exists to test the docs generator.",
)


@pytest.fixture
def dummy_entry() -> Iterator[str]:
    """``site_dummy`` in the registry for the test (with a Module that losscraft does not export)."""
    register(DUMMY)(site_dummy_loss)
    try:

        class SiteDummyLoss(LossModule, spec=DUMMY, fn=site_dummy_loss):
            pass

        yield DUMMY.name
    finally:
        if lookup(DUMMY.name) is not None:
            unregister(DUMMY.name)


def test_a_new_entry_gets_its_page(gen: Any, dummy_entry: str, tmp_path: Path) -> None:
    pages = gen.render_all()
    page = pages[f"losses/{dummy_entry}.md"]
    assert f"| [`{dummy_entry}`]({dummy_entry}.md) |" in pages["losses/index.md"]
    assert r"\ell_i = s\,|\hat y_i - y_i|" in page and "A scaled absolute error" in page
    assert "| `scale` | `2.0` | a float in (0, inf) | multiplies the absolute error |" in page
    assert "Never: it exists to test the docs generator." in page
    assert "A. Author (2024). A Test Loss. Nowhere." in page
    assert "declares no 1-D curve" in page and dummy_entry not in gen.image_paths()
    assert "## Equivalent calls in other libraries\n\nNone" in page
    # the example: the Module is not exported by losscraft, so the page reaches it through the registry
    code = page.split("```python\n", 1)[1].split("```", 1)[0]
    shown = page.split("```text\n", 1)[1].split("```", 1)[0]
    assert f'losscraft.get("{dummy_entry}").module(scale=2.0)' in code
    x = _dummy_sample(4, generator=torch.Generator().manual_seed(0), dtype=torch.float64).args[0]
    assert shown == f"{2.0 * x.abs().mean().item():.4f}\n(4, 3)\n"  # the value from the formula itself
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "site_dummy.md", "exec"), {"__name__": "__doc__"})
    assert out.getvalue() == shown
    assert (
        not list(tmp_path.iterdir()) and not (DOCS / "losses" / f"{dummy_entry}.md").exists()
    )  # nothing written


def test_writing_the_pages_removes_those_of_a_removed_entry(
    gen: Any, dummy_entry: str, tmp_path: Path
) -> None:
    (tmp_path / "losses").mkdir()
    (tmp_path / "losses" / "notes.md").write_text("# hand-written\n")  # not generated: kept
    assert gen.main(["--out", str(tmp_path), "--no-images"]) == 0
    assert (tmp_path / "losses" / f"{dummy_entry}.md").exists() and (
        tmp_path / "losses" / "huber.md"
    ).exists()
    unregister(dummy_entry)
    assert gen.main(["--out", str(tmp_path), "--no-images"]) == 0
    assert not (tmp_path / "losses" / f"{dummy_entry}.md").exists()
    assert (tmp_path / "losses" / "huber.md").exists() and (tmp_path / "losses" / "notes.md").exists()
    assert gen.main(["--out", str(tmp_path), "--check"]) == 0


# --------------------------------------------------------------------------- links and the build
@pytest.mark.parametrize(
    ("page", "link", "url"),
    [
        ("benchmarks.md", "../benchmarks/README.md", f"{REPO_URL}/blob/main/benchmarks/README.md"),
        ("conventions.md", "../README.md#set-up", f"{REPO_URL}/blob/main/README.md#set-up"),
        ("design-your-own.md", "../examples", f"{REPO_URL}/tree/main/examples"),
        (
            "losses/huber.md",
            "../../src/losscraft/plotting.py",
            f"{REPO_URL}/blob/main/src/losscraft/plotting.py",
        ),
        ("losses/huber.md", "../conventions.md", None),
        ("catalog.md", "conventions.md#reductions", None),
        ("catalog.md", "https://example.org/x.md", None),
        ("catalog.md", "#huber", None),
    ],
)
def test_links_leaving_docs_point_at_the_repository(page: str, link: str, url: str | None) -> None:
    hooks = load_script("docs/site_hooks.py")
    assert hooks.repository_url(page, link) == url
    text = f"see [x]({link}).\n\n```python\n# [y]({link})\n```\n"
    want = f"see [x]({url or link}).\n\n```python\n# [y]({link})\n```\n"  # code blocks stay as written
    assert hooks.rewrite_links(text, page) == want


def test_strict_site_build(tmp_path: Path) -> None:
    """`mkdocs build --strict`: no broken link, missing reference or docstring warning (~20 s)."""
    site = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    for e in losscraft.catalog():
        assert (site / "losses" / e.name / "index.html").exists(), e.name
    functional = (site / "api" / "functional" / "index.html").read_text()
    assert all(f'id="losscraft.functional.{e.function.__name__}"' in functional for e in losscraft.catalog())
    assert (
        f'href="{REPO_URL}/blob/main/benchmarks/README.md"'
        in (site / "benchmarks" / "index.html").read_text()
    )
    assert (site / "search" / "search_index.json").exists()
