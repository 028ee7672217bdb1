"""Keep the distributed benchmark from rotting: its quick mode end to end (tiny sizes, 2 gloo ranks)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.distributed
def test_quick_run_prints_both_tables(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # imported by name: the spawned ranks unpickle their entry point from the module (the
    # children inherit sys.path)
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    bench = importlib.import_module("bench_distributed")
    threads = torch.get_num_threads()
    res = bench.main(["--quick", "--repeats", "3", "--threads", "1"])
    assert torch.get_num_threads() == threads
    assert [r["case"] for r in res["single"]] == [r["case"] for r in res["ranks"]]
    assert {r["coupling"] for r in res["ranks"]} == {"samples", "overlap_sums", "embeddings"}
    for r in res["single"]:
        assert min(r["plain"], r["GlobalBatch"], r["block"]) > 0
    out = capsys.readouterr().out
    assert out.startswith("No process group (1 process):") and "2 gloo ranks on CPU" in out
