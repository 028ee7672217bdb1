"""Keep the guide benchmark from rotting: its quick mode end to end (tiny sizes, one timed call)."""

from __future__ import annotations

import pytest
import torch

from lc_helpers import load_script


def test_quick_run_prints_a_table(
    capsys: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip("sklearn")
    bench = load_script("benchmarks/bench_guide.py")
    threads = torch.get_num_threads()
    rows = bench.main(["--quick", "--repeats", "1", "--threads", "1"])
    assert torch.get_num_threads() == threads
    assert len(rows) == 7 and all(r["median_s"] > 0 and r["top"] for r in rows)
    by = {r["case"]: r for r in rows}
    assert by["binary 1:50, targets only"]["task"] == "binary_classification"
    assert by["regression, targets only"]["features"] == 0
    out = capsys.readouterr().out
    assert out.startswith("| case | rows |") and "regression + features" in out
