"""How long `losscraft.recommend` takes on large data: targets only, and with features.

    python benchmarks/bench_guide.py            # 1M targets; 100k rows x 20 features
    python benchmarks/bench_guide.py --quick    # tiny sizes (the smoke test runs this)

Targets only, the profile is a few passes over the target (counts, quantiles, moments):
recommend on 1M targets should take a few seconds at most. With features, the costly statistics
(the robust pilot fit for regression, the k-nearest-neighbour label-noise hint for
classification) run on a subsample that the profile reports (`profile.subsample`); the table
states it. Each case is timed in this process (median of a few calls after one warm-up that
pays the imports), with 2 threads by default. Not collected by pytest; see
tests/guide/test_bench_guide.py.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

import losscraft
from losscraft.bench import set_threads, time_call


@dataclass(frozen=True)
class Case:
    name: str
    rows: int
    features: int  # 0: targets only
    make: Callable[[np.random.Generator, int, int], tuple[np.ndarray, np.ndarray | None]]


def _regression(rng: np.random.Generator, n: int, d: int) -> tuple[np.ndarray, np.ndarray | None]:
    x = rng.normal(size=(n, d)) if d else None
    y = rng.standard_t(3, size=n) + (x @ rng.normal(size=d) if x is not None else 0.0)
    y[: n // 20] += 30.0  # 5% one-sided gross outliers
    return y, x


def _binary(rng: np.random.Generator, n: int, d: int) -> tuple[np.ndarray, np.ndarray | None]:
    x = rng.normal(size=(n, d)) if d else None
    y = (rng.random(n) < 0.02).astype(np.int64)  # about 1:50
    return y, x


def _multiclass(rng: np.random.Generator, n: int, d: int) -> tuple[np.ndarray, np.ndarray | None]:
    x = rng.normal(size=(n, d)) if d else None
    p = np.geomspace(1.0, 0.01, 10)
    y = rng.choice(10, size=n, p=p / p.sum())  # long tail, 100:1
    return y, x


def _counts(rng: np.random.Generator, n: int, d: int) -> tuple[np.ndarray, np.ndarray | None]:
    return rng.poisson(1.5, size=n), (rng.normal(size=(n, d)) if d else None)


def cases(quick: bool) -> list[Case]:
    big, feat, d = (2_000, 1_000, 5) if quick else (1_000_000, 100_000, 20)
    return [
        Case("regression, targets only", big, 0, _regression),
        Case("binary 1:50, targets only", big, 0, _binary),
        Case("multiclass 10, targets only", big, 0, _multiclass),
        Case("counts, targets only", big, 0, _counts),
        Case("regression + features", feat, d, _regression),
        Case("binary 1:50 + features", feat, d, _binary),
        Case("multiclass 10 + features", feat, d, _multiclass),
    ]


def run(quick: bool = False, repeats: int = 3) -> list[dict[str, Any]]:
    """Time ``recommend`` on every case; one row per case."""
    rows = []
    for case in cases(quick):
        rng = np.random.default_rng(0)
        y, x = case.make(rng, case.rows, case.features)
        result: list[Any] = []
        timing = time_call(
            lambda y=y, x=x, result=result: result.append(losscraft.recommend(y, features=x)),
            warmup=1,
            repeats=repeats,
            min_repeats=1,
            budget_s=30.0,
        )
        recs = result[-1]
        prof = recs.profile
        rows.append(
            {
                "case": case.name,
                "rows": case.rows,
                "features": case.features,
                "subsample": prof.subsample,
                "task": str(prof.task),
                "top": recs[0].name if len(recs) else None,
                "median_s": timing.median_s,
                "min_s": timing.min_s,
                "repeats": timing.repeats,
            }
        )
    return rows


def render(rows: Sequence[dict[str, Any]]) -> str:
    """A markdown table of the timings."""
    out = [
        "| case | rows | features | costly statistics on | task detected | top choice | median s | min s |",
        "| --- | ---: | ---: | --- | --- | --- | ---: | ---: |",
    ]
    for r in rows:
        sub = "-" if not r["features"] else (f"{r['subsample']:,} rows" if r["subsample"] else "all rows")
        out.append(
            f"| {r['case']} | {r['rows']:,} | {r['features']} | {sub} | {r['task']} | {r['top']} | "
            f"{r['median_s']:.3f} | {r['min_s']:.3f} |"
        )
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    ap.add_argument("--repeats", type=int, default=3, help="timed calls per case (after one warm-up)")
    ap.add_argument("--threads", type=int, default=2, help="torch / BLAS threads")
    args = ap.parse_args(argv)
    threads = torch.get_num_threads()
    set_threads(args.threads)
    try:
        rows = run(quick=args.quick, repeats=args.repeats)
    finally:
        torch.set_num_threads(threads)
    print(render(rows))
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
