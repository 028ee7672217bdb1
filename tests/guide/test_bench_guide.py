"""Keep the guide benchmark from rotting: its quick mode end to end (tiny sizes, one timed call)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


def test_quick_run_prints_a_table(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("sklearn")
    spec = importlib.util.spec_from_file_location("bench_guide", ROOT / "benchmarks" / "bench_guide.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, bench)  # dataclasses resolve their module
    spec.loader.exec_module(bench)
    threads = torch.get_num_threads()
    rows = bench.main(["--quick", "--repeats", "1", "--threads", "1"])
    assert torch.get_num_threads() == threads
    assert len(rows) == 7 and all(r["median_s"] > 0 and r["top"] for r in rows)
    by = {r["case"]: r for r in rows}
    assert by["binary 1:50, targets only"]["task"] == "binary_classification"
    assert by["regression, targets only"]["features"] == 0
    out = capsys.readouterr().out
    assert out.startswith("| case | rows |") and "regression + features" in out
