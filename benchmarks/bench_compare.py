"""How long `losscraft.compare` takes: 5 losses x 5 folds on 10,000 rows x 20 features.

    python benchmarks/bench_compare.py            # 10,000 x 20, 300 steps per fit, n_jobs 1 and 2
    python benchmarks/bench_compare.py --quick    # tiny sizes (the smoke test runs this)

Two cases, each compared with 5 candidate losses over 5 folds (one repeat): 25 (loss, fold)
fits of a linear model, full-batch Adam, early stopping on an inner validation split
(see `losscraft.guide.training`). A regression with 10% gross one-sided contamination of every
training fold (``contaminate="outliers:0.1"``), and a binary classification. Each case runs
with ``n_jobs=1`` (the fits one after another in this process, torch set to ``--threads``
threads) and ``n_jobs=2`` (joblib's two worker processes, one thread each: joblib limits a
worker's threads to cores / n_jobs). The table gives the torch threads set; ``compare`` itself
runs a fit smaller than ``losscraft.guide.training.SMALL_WORK`` (input elements x outputs per
step) on one thread, which covers these sizes, so with ``n_jobs=1`` the fits use one core at a
time and ``n_jobs=2`` is the way to use both. Every call is timed
after one untimed warm-up on tiny data with the same ``n_jobs`` (it pays the imports and starts
the workers); the median of the repeats is reported. The run checks that ``n_jobs=2`` gives
the same numbers as ``n_jobs=1``.

Peak RSS is the kernel's resident-set high-water mark (``VmHWM``), reset through
``/proc/<pid>/clear_refs`` before each timed call and read after it, for this process and,
summed, for its child processes (joblib's workers and its resource tracker; Linux, elsewhere
``-``). The largest value over the repeats is reported.
Not collected by pytest; see tests/guide/test_bench_compare.py.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

import losscraft
from losscraft.bench import set_threads
from losscraft.guide.comparing import Comparison


@dataclass(frozen=True)
class Case:
    name: str
    losses: tuple[str, ...]
    contaminate: str | None
    make: Callable[[np.random.Generator, int, int], tuple[np.ndarray, np.ndarray]]


def _regression(rng: np.random.Generator, n: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(size=(n, d))
    return x, x @ rng.normal(size=d) + rng.standard_t(3, size=n)


def _binary(rng: np.random.Generator, n: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(size=(n, d))
    return x, (x @ rng.normal(size=d) + rng.logistic(size=n) > 1.5).astype(np.int64)


CASES = (
    Case(
        "regression, outliers:0.1",
        ("mse", "huber", "mae", "log_cosh", "cauchy"),
        "outliers:0.1",
        _regression,
    ),
    Case(
        "binary",
        ("bce_with_logits", "binary_focal", "cross_entropy", "focal", "poly"),
        None,
        _binary,
    ),
)


# --------------------------------------------------------------------------- peak RSS (Linux)
def _status_kib(pid: int, key: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _children(pid: int) -> list[int]:
    """The direct child processes of ``pid`` (joblib's workers, its resource tracker)."""
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(p) for p in f.read().split()]
        except OSError:
            continue
    return out


def _reset_hwm(pids: Sequence[int]) -> bool:
    """Reset the resident-set high-water mark of ``pids`` to their current RSS; False if impossible."""
    ok = True
    for pid in pids:
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as f:
                f.write("5")  # why: "5" resets VmHWM to the current RSS (Linux >= 4.0)
        except OSError:
            ok = False
    return ok


def _hwm_bytes(pid: int) -> int | None:
    kib = _status_kib(pid, "VmHWM")
    return None if kib is None else kib * 1024


# --------------------------------------------------------------------------- the run
def _worker_threads(n_jobs: int) -> int:
    """Torch threads inside a joblib worker (joblib caps them at cores // n_jobs)."""
    from joblib import Parallel, delayed

    return int(max(Parallel(n_jobs=n_jobs)(delayed(torch.get_num_threads)() for _ in range(n_jobs))))


def _timed(call: Callable[[], Comparison], repeats: int) -> tuple[list[float], int | None, int | None, Any]:
    """Time ``call`` ``repeats`` times; (seconds, main peak, workers' peak summed, last result)."""
    me = os.getpid()
    samples: list[float] = []
    main_peak: int | None = None
    workers_peak: int | None = None
    result: Any = None
    for _ in range(max(repeats, 1)):
        kids = _children(me)
        measurable = _reset_hwm([me, *kids])
        t0 = time.perf_counter()
        result = call()
        samples.append(time.perf_counter() - t0)
        if not measurable:
            continue
        main = _hwm_bytes(me)
        if main is not None:
            main_peak = max(main_peak or 0, main)
        kid_peaks = [p for p in (_hwm_bytes(k) for k in _children(me)) if p is not None]
        if kid_peaks:
            workers_peak = max(workers_peak or 0, sum(kid_peaks))
    return samples, main_peak, workers_peak, result


def run(
    quick: bool = False, repeats: int = 3, epochs: int | None = None, threads: int = 2
) -> list[dict[str, Any]]:
    """Time ``compare`` on every case with ``n_jobs=1`` and ``n_jobs=2``; one row per (case, n_jobs)."""
    rows_n, features, folds = (400, 5, 5) if quick else (10_000, 20, 5)
    if quick and epochs is None:
        epochs = 20
    rows: list[dict[str, Any]] = []
    for case in CASES:
        x, y = case.make(np.random.default_rng(0), rows_n, features)
        xs, ys = case.make(np.random.default_rng(1), 100, features)
        by_jobs: dict[int, Any] = {}
        for n_jobs in (1, 2):

            def call(
                x: np.ndarray = x, y: np.ndarray = y, case: Case = case, n_jobs: int = n_jobs
            ) -> Comparison:
                return losscraft.compare(
                    x,
                    y,
                    list(case.losses),
                    folds=folds,
                    repeats=1,
                    epochs=epochs,
                    contaminate=case.contaminate,
                    n_jobs=n_jobs,
                    progress=False,
                )

            losscraft.compare(  # warm-up: imports, joblib workers
                xs, ys, list(case.losses), folds=2, repeats=1, epochs=2, n_jobs=n_jobs, progress=False
            )
            samples, main_peak, workers_peak, result = _timed(call, repeats)
            by_jobs[n_jobs] = result
            fits = len(case.losses) * folds
            median = statistics.median(samples)
            epochs_run = [e for r in result.results for e in r.epochs_run]
            rows.append(
                {
                    "case": case.name,
                    "rows": rows_n,
                    "features": features,
                    "losses": len(case.losses),
                    "folds": folds,
                    "fits": fits,
                    "n_jobs": n_jobs,
                    "threads": threads if n_jobs == 1 else _worker_threads(n_jobs),
                    "median_s": median,
                    "min_s": min(samples),
                    "repeats": len(samples),
                    "per_fit_s": median / fits,
                    "mean_epochs": float(np.mean(epochs_run)),
                    "peak_main_bytes": main_peak,
                    "peak_workers_bytes": workers_peak,
                    "best": result.best().name,
                    "metric": result.metric,
                    "same_as_n_jobs_1": None,
                }
            )
        same = by_jobs[1].to_dict()["results"] == by_jobs[2].to_dict()["results"]
        rows[-1]["same_as_n_jobs_1"] = same
        rows[-1]["speedup"] = rows[-2]["median_s"] / rows[-1]["median_s"]
        rows[-2]["speedup"] = 1.0
    return rows


def _mib(b: int | None) -> str:
    return "-" if b is None else f"{b / 2**20:,.0f}"


def render(rows: Sequence[dict[str, Any]]) -> str:
    """A markdown table of the timings."""
    out = [
        "| case | rows x features | losses x folds | n_jobs | torch threads set | median s | min s "
        "| s per (loss, fold) fit | speed-up | mean steps per fit | peak RSS MiB, main (+ workers) "
        "| best | same numbers as n_jobs=1 |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for r in rows:
        peak = _mib(r["peak_main_bytes"])
        if r["n_jobs"] > 1 and r["peak_workers_bytes"] is not None:
            peak += f" (+ {_mib(r['peak_workers_bytes'])})"
        same = "" if r["same_as_n_jobs_1"] is None else ("yes" if r["same_as_n_jobs_1"] else "**no**")
        out.append(
            f"| {r['case']} | {r['rows']:,} x {r['features']} | {r['losses']} x {r['folds']} | "
            f"{r['n_jobs']} | {r['threads']} | {r['median_s']:.2f} | {r['min_s']:.2f} | "
            f"{r['per_fit_s']:.3f} | {r['speedup']:.2f}x | {r['mean_epochs']:.0f} | {peak} | "
            f"{r['best']} ({r['metric']}) | {same} |"
        )
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="tiny sizes and 20 steps per fit: a smoke run")
    ap.add_argument("--repeats", type=int, default=3, help="timed calls per (case, n_jobs) after one warm-up")
    ap.add_argument("--epochs", type=int, default=None, help="steps per fit (default: compare's default)")
    ap.add_argument("--threads", type=int, default=2, help="torch / BLAS threads of this process (n_jobs=1)")
    args = ap.parse_args(argv)
    threads = torch.get_num_threads()
    set_threads(args.threads)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    try:
        rows = run(quick=args.quick, repeats=args.repeats, epochs=args.epochs, threads=args.threads)
    finally:
        torch.set_num_threads(threads)
    print(render(rows))
    if load is not None:
        end = os.getloadavg()
        print(f"\nload average (1 min) at start {load[0]:.2f}, at end {end[0]:.2f}; {os.cpu_count()} CPUs")
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
