"""Keep the compare benchmark from rotting: its quick mode end to end (tiny sizes, one timed call)."""

from __future__ import annotations

import sys

import pytest
import torch

from lc_helpers import load_script


def test_quick_run_prints_a_table(
    capsys: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip("sklearn")
    bench = load_script("benchmarks/bench_compare.py")
    threads = torch.get_num_threads()
    rows = bench.main(["--quick", "--repeats", "1", "--threads", "1"])
    assert torch.get_num_threads() == threads
    # two cases x (n_jobs=1, n_jobs=2), 5 losses x 5 folds each
    assert [(r["case"], r["n_jobs"]) for r in rows] == [
        ("regression, outliers:0.1", 1),
        ("regression, outliers:0.1", 2),
        ("binary", 1),
        ("binary", 2),
    ]
    assert all(r["fits"] == 25 and r["median_s"] > 0 for r in rows)
    assert all(r["per_fit_s"] == pytest.approx(r["median_s"] / 25) for r in rows)
    # joblib's workers give the same numbers as the fits in this process
    assert [r["same_as_n_jobs_1"] for r in rows] == [None, True, None, True]
    # 10% one-sided gross outliers in every training fold: MSE is not the best on RMSE of clean test folds
    assert rows[0]["best"] != "mse" and rows[0]["metric"] == "rmse"
    assert rows[2]["metric"] == "log_loss"  # binary: the default goal, calibrated probabilities
    if sys.platform.startswith("linux"):
        assert rows[0]["peak_main_bytes"] > 0 and rows[1]["peak_workers_bytes"] > 0
    out = capsys.readouterr().out
    assert out.startswith("| case | rows x features |") and "| binary | 400 x 5 | 5 x 5 | 2 |" in out
