"""The docs: the generated catalog page is current, and every code block in README.md and docs/**/*.md runs."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import losscraft

from lc_helpers import load_script

ROOT = Path(__file__).resolve().parents[1]


def _gen():
    return load_script("docs/gen_catalog.py")


def test_catalog_page_is_up_to_date() -> None:
    text = _gen().render()
    assert (ROOT / "docs" / "catalog.md").read_text() == text, "run `make docs`"


def test_choosing_page_is_up_to_date() -> None:
    pytest.importorskip("sklearn")  # the [guide] extra: the worked examples run the guide on bundled data
    text = load_script("docs/gen_choosing.py").render()
    assert (ROOT / "docs" / "choosing-a-loss.md").read_text() == text, "run `make docs`"


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


# --------------------------------------------------------------------------- runnable code blocks
# Every fenced block in README.md and docs/**/*.md (the per-loss pages of docs/losses/ too) runs
# as written: ```python blocks in order per file, sharing one namespace (a file reads like one
# session); ```bash lines that call
# `losscraft ...` run through the installed entry point, in a temporary directory (they write
# images). A ```text block right after a code block is the output the doc shows: it is checked.
DOC_FILES = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").rglob("*.md"))]

# Shell lines that are not `losscraft` calls, each skipped on purpose (the reason in the comment).
SKIPPED_SHELL = {
    "make demo": "sets up .venv and runs the whole-guide demo (tests/guide/test_demo.py runs it in --quick mode)",
    "make test": "this test suite",
    "make bench": "the benchmark suite (minutes; tests/tools/test_bench.py covers the harness)",
    "python benchmarks/bench_losses.py --out benchmarks/results/latest.json": "the benchmark suite",
    "torchrun --standalone --nproc_per_node=2 examples/ddp_contrastive.py": (
        "2 processes; tests/core/test_ddp_example.py runs it under torchrun with fewer steps"
    ),
    "python benchmarks/bench_distributed.py": "a benchmark; tests/core/test_bench_distributed.py runs its quick mode",
}

FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)


@dataclasses.dataclass
class Block:
    lang: str
    code: str
    line: int
    output: str | None  # the ```text block that follows, if any


def blocks(rel: str) -> list[Block]:
    text = (ROOT / rel).read_text()
    found = list(FENCE.finditer(text))
    out: list[Block] = []
    for i, m in enumerate(found):
        if m.group(1) == "text":
            continue
        nxt = found[i + 1] if i + 1 < len(found) else None
        shown = nxt is not None and nxt.group(1) == "text" and not text[m.end() : nxt.start()].strip()
        line = text.count("\n", 0, m.start()) + 1
        out.append(Block(m.group(1), m.group(2), line, nxt.group(2) if shown and nxt else None))
    return out


def _shell_lines(code: str) -> list[str]:
    """The commands of a shell block, without comments and blank lines."""
    lines = (re.sub(r"(^|\s+)#.*$", "", raw).strip() for raw in code.splitlines())
    return [line for line in lines if line]


def _same_output(got: str, want: str) -> bool:
    g, w = got.strip(), want.strip()
    try:  # a single number: equal to rounding (the last digits differ across machines)
        return math.isclose(float(g), float(w), rel_tol=1e-9)
    except ValueError:
        return [ln.rstrip() for ln in g.splitlines()] == [ln.rstrip() for ln in w.splitlines()]


def test_doc_blocks_are_found() -> None:
    langs = {rel: [b.lang for b in blocks(rel)] for rel in DOC_FILES}
    assert langs["README.md"].count("python") == 3 and langs["README.md"].count("bash") == 2
    assert langs["docs/design-your-own.md"].count("python") >= 6
    for e in losscraft.catalog():  # each per-loss page: a runnable example whose output is shown
        found = blocks(f"docs/losses/{e.name}.md")
        assert [b.lang for b in found] == ["python"] and found[0].output, e.name
    for rel, found in langs.items():
        assert set(found) <= {"python", "bash"}, (rel, found)  # a new language needs a runner here


@pytest.mark.parametrize("rel", DOC_FILES)
def test_python_blocks_run(rel: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import contextlib
    import io

    pytest.importorskip("matplotlib").use("Agg")
    monkeypatch.chdir(tmp_path)  # anything a snippet writes lands here
    namespace: dict[str, Any] = {"__name__": "__doc__"}
    for b in blocks(rel):
        if b.lang != "python":
            continue
        stdout = io.StringIO()
        try:
            with contextlib.redirect_stdout(stdout):
                exec(compile(b.code, f"{rel}:{b.line}", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(
                f"{rel}, block at line {b.line} failed: {type(exc).__name__}: {exc}"
            ) from exc
        if b.output is not None:
            assert _same_output(stdout.getvalue(), b.output), (rel, b.line, stdout.getvalue())


def _cli() -> str:
    exe = Path(sys.executable).with_name("losscraft")
    found = str(exe) if exe.exists() else shutil.which("losscraft")
    assert found, "the `losscraft` script is missing: run `pip install -e .` (make install does)"
    return found


def _jq(stdout: str, program: str) -> str:
    """``jq .a.b`` for the simple paths the docs use, when jq itself is not installed."""
    value: Any = json.loads(stdout)
    for key in program.strip(".").split("."):
        value = value[key]
    return json.dumps(value) + "\n"


def test_shell_blocks_run(tmp_path: Path) -> None:
    """Every `losscraft ...` line of every ```bash block, through the installed script, concurrently."""
    env = {**os.environ, "COLUMNS": "120", "MPLBACKEND": "Agg"}
    runs: list[tuple[str, int, str, str | None, str | None, subprocess.Popen[str]]] = []
    for rel in DOC_FILES:
        for b in blocks(rel):
            if b.lang != "bash":
                continue
            lines = _shell_lines(b.code)
            for k, line in enumerate(lines):
                if line in SKIPPED_SHELL:
                    continue
                command, _, pipe = line.partition(" | ")
                args = shlex.split(command)
                assert args[0] == "losscraft", (
                    f"{rel}:{b.line}: {line!r} is neither a losscraft call nor skipped"
                )
                jq = None
                if pipe:
                    jq_args = shlex.split(pipe)
                    assert jq_args[0] == "jq" and len(jq_args) == 2, (
                        f"{rel}:{b.line}: unsupported pipe {pipe!r}"
                    )
                    jq = jq_args[1]
                expected = b.output if k == len(lines) - 1 else None  # shown output: the last line's
                if jq is not None:  # a value picked out to be read: the doc shows it, and it is checked
                    assert expected is not None, f"{rel}:{b.line}: show the output of {line!r} (```text)"
                cwd = tmp_path / f"{Path(rel).stem}-{b.line}-{k}"
                cwd.mkdir()
                p = subprocess.Popen(
                    [_cli(), *args[1:]],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=env,
                    cwd=cwd,
                )
                runs.append((f"{rel}:{b.line}: {line}", k, str(cwd), jq, expected, p))
    assert len(runs) >= 10
    for where, _, cwd, jq, expected, p in runs:
        stdout, stderr = p.communicate(timeout=600)
        assert p.returncode == 0, f"{where}\n{stderr}"
        assert "Traceback" not in stderr, where
        for out in re.findall(r"-o (\S+)", where):
            assert (Path(cwd) / out).stat().st_size > 1000, where
        if jq is not None:
            if shutil.which("jq"):
                stdout = subprocess.run(
                    ["jq", jq], input=stdout, capture_output=True, text=True, check=True
                ).stdout
            else:
                stdout = _jq(stdout, jq)
        if expected is not None:
            assert _same_output(stdout, expected), (where, stdout)
