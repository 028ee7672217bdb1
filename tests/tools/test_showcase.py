"""The demo (`make demo`) runs end to end and the README example works."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_showcase_runs(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    from losscraft.showcase import main

    assert main(["--out", str(tmp_path), "--steps", "30"]) == 0
    png = tmp_path / "curves.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000
    results = json.loads((tmp_path / "results.json").read_text())
    assert len(results["regression"]) == 5
    assert len(results["classification"]) == 4
    for row in results["numerics"]:
        assert row["losscraft"] not in ("nan", "inf", "-inf"), row


def test_readme_example_runs() -> None:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks
    for code in blocks:
        exec(compile(code, "README.md", "exec"), {})
