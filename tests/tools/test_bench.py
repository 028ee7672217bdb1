"""Keep the benchmark harness from rotting: one tiny case end to end, no peers needed.

The suite itself (benchmarks/) is not collected by pytest; this runs its quick mode on the
log-cosh case (losscraft, naive, floor), once in-process and one implementation in a fresh
worker process, then renders the docs page from the JSON it wrote.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

from losscraft.bench import PeakMemory, Timing, run_isolated, time_call

from lc_helpers import load_script

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks" / "bench_losses.py"


def _load(name: str, path: Path) -> ModuleType:
    mod = load_script(path)
    assert mod.__name__ == name
    return mod


def test_time_call_and_peak_memory() -> None:
    calls = []
    t = time_call(lambda: calls.append(1), warmup=2, repeats=4, setup=lambda: None)
    assert isinstance(t, Timing) and t.repeats == 4 and len(calls) == 6
    assert t.min_s <= t.median_s <= t.max_s
    budget = time_call(lambda: sum(range(1000)), repeats=50, min_repeats=2, budget_s=0.0)
    assert budget.repeats == 2  # the budget stops repeating once min_repeats are done
    with PeakMemory() as m:
        buf = bytearray(64 * 2**20)  # 64 MiB, touched
        buf[::4096] = b"\x01" * len(range(0, len(buf), 4096))
    assert m.result is not None
    del buf
    if m.result.method == "vmhwm-reset":
        assert 48 * 2**20 <= m.result.peak_bytes <= 256 * 2**20


def test_quick_run_writes_json_and_docs(tmp_path: Path) -> None:
    pytest.importorskip("rich")  # the tables; the harness itself needs torch only
    bench = _load("bench_losses", BENCH)
    out = tmp_path / "quick.json"
    threads = torch.get_num_threads()
    data = bench.main(["--quick", "--in-process", "--threads", "1", "--cases", "log_cosh", "--out", str(out)])
    assert torch.get_num_threads() == threads  # an in-process run leaves the caller's setting
    assert data is not None and json.loads(out.read_text())["schema"] == "losscraft-bench/1"
    (case,) = data["cases"]
    by = {r["impl"]: r for r in case["results"]}
    assert set(by) == {"losscraft", "naive", "naive_stable", "floor"}
    for r in by.values():
        assert r["status"] == "ok", r
        assert r["fwd_bwd"]["median_s"] > 0 and r["peak"]["peak_bytes"] >= 0
        assert r["input_bytes"] == 2 * 131072 * 4
    assert by["losscraft"]["value_ok"] and by["naive_stable"]["value_ok"]
    assert by["losscraft"]["fwd_bwd_vs_floor"] > 0
    assert case["best_peer"]["fwd_bwd"] in ("naive", "naive_stable")
    assert {t["id"] for t in data["targets"]} >= {"bfocal-peak", "lce128256-peak"}
    assert all(t["met"] is None for t in data["targets"])  # no measured case has a target
    gen = _load("gen_benchmarks", ROOT / "docs" / "gen_benchmarks.py")
    page = gen.render(data)
    assert "smoke run" in page and "## Log-cosh" in page and "losscraft log_cosh_loss" in page


def test_worker_process_protocol() -> None:
    argv = [sys.executable, str(BENCH), "--worker", "log_cosh", "losscraft", "--quick", "--threads", "1"]
    r = run_isolated(argv, timeout_s=60, env={"OMP_NUM_THREADS": "1"})
    assert r["status"] == "ok", r
    assert r["threads"] == 1 and r["value"] > 0 and r["peak"]["peak_bytes"] > 0
    bad = run_isolated([sys.executable, "-c", "raise SystemExit(3)"], timeout_s=60)
    assert bad["status"] == "error" and "exited with 3" in bad["reason"]


def test_missed_targets_carry_a_reason_from_the_same_run() -> None:
    """``evaluate_targets``: met/missed from the ratios; a miss explains itself with this run's numbers."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        common = importlib.import_module("common")  # as bench_losses.py imports it
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))

    def res(impl: str, t: float) -> dict[str, object]:
        return {
            "impl": impl,
            "label": impl,
            "status": "ok",
            "fwd_bwd": {"median_s": t},
            "peak": {"peak_bytes": 1},
        }

    def case(lc: float) -> dict[str, object]:
        # naive 10 s, the GEMMs alone 9 s (0.9x naive), torch's chunked path 12 s
        return {
            "key": "linear_ce_32k",
            "ref_bytes": 100,
            "results": [res("losscraft", lc), res("naive", 10.0), res("floor", 9.0), res("torch", 12.0)],
        }

    slow = {t["id"]: t for t in common.evaluate_targets([case(9.9)])}
    assert slow["lce32000-naive"]["met"] is False
    assert slow["lce32000-naive"]["measured"] == pytest.approx(0.99)
    why = slow["lce32000-naive"]["why"]
    assert "0.90x naive's time" in why and "no implementation" in why and "1.10x the GEMMs" in why
    assert slow["lce32000-gemm"]["met"] is True and slow["lce32000-gemm"]["why"] is None
    assert "0.75x torch's chunked time" in slow["lce32000-torch"]["why"]
    assert "out of reach" in slow["lce32000-torch"]["why"]
    assert slow["bfocal-vs-bce"]["met"] is None and slow["bfocal-vs-bce"]["why"] is None  # case absent
    fast = {t["id"]: t for t in common.evaluate_targets([case(5.0)])}
    assert fast["lce32000-naive"]["met"] is True and fast["lce32000-naive"]["why"] is None


def test_cpu_busy_sample_and_the_busy_warning() -> None:
    from losscraft.bench import cpu_busy_fraction

    busy = cpu_busy_fraction(0.2)
    if Path("/proc/stat").exists():
        assert busy is not None and 0.0 <= busy <= 1.0
    gen = _load("gen_benchmarks", ROOT / "docs" / "gen_benchmarks.py")
    from losscraft.bench import run_metadata

    meta = {
        **run_metadata(threads=1),
        "mode": "full",
        "isolation": "subprocess",
        "cpu_count": 2,
        "loadavg_start": [1.9, 1.0, 1.0],
        "loadavg_end": None,
        "elapsed_s": 1.0,
    }
    base = {"schema": "losscraft-bench/1", "command": "x", "metadata": meta, "cases": [], "targets": []}
    # a high 1-minute load average alone (the previous minute's work) is not "busy" when the
    # one-second sample says the CPUs are idle now
    assert "was busy" not in gen.render({**base, "metadata": {**meta, "cpu_busy_start": 0.05}})
    page = gen.render({**base, "metadata": {**meta, "cpu_busy_start": 0.6}})
    assert "busy when the run started (60% of the CPUs" in page
    no_sample = {**base, "metadata": {**meta, "cpu_busy_start": None}}
    assert "may have been busy" in gen.render(no_sample)  # no sample: the load-average fallback


def test_benchmarks_page_is_rendered_from_the_committed_results() -> None:
    """docs/benchmarks.md is exactly what gen_benchmarks.py renders from results/latest.json."""
    gen = _load("gen_benchmarks", ROOT / "docs" / "gen_benchmarks.py")
    data = json.loads((ROOT / "benchmarks" / "results" / "latest.json").read_text())
    assert data["metadata"]["mode"] == "full"  # the page shows a real run, not a smoke run
    assert gen.render(data) == (ROOT / "docs" / "benchmarks.md").read_text(), (
        "docs/benchmarks.md is stale: python docs/gen_benchmarks.py benchmarks/results/latest.json"
    )
