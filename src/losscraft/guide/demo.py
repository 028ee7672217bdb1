"""``losscraft demo`` / ``make demo``: the whole guide on real data shipped with scikit-learn.

Two cases, each run as a user would run the guide — profile -> recommend -> compare -> report —
with a stress test that makes the choice of loss matter (applied to the training folds only;
the test folds keep the real targets):

1. **diabetes** (:func:`sklearn.datasets.load_diabetes`, 442 patients, 10 features, disease
   progression after one year) with ``contaminate="outliers:0.1"``: 10% of each training
   fold's targets get a gross one-sided error;
2. **breast cancer** (:func:`sklearn.datasets.load_breast_cancer`, 569 tumours, 30 features,
   malignant vs benign) with ``imbalance="1:20"`` and ``goal="recall-minority"``: each
   training fold keeps one malignant tumour per 20 benign ones.

``losses=None`` everywhere: the candidates are the top recommendations for the training data
as the stress test makes it, plus the plain baseline. For each case the demo prints a short
profile, the recommendations with their reasons, the comparison table with its verdicts and
where the report is (``<out>/<case>/report.md``). The full run (:data:`FULL`) took 19-26 s
on 2 CPU cores (``n_jobs=2``); :data:`QUICK` is a seconds-long smoke run for the test suite.

No network: the data ship inside scikit-learn (the ``[guide]`` extra).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .comparing import Comparison, compare
from .profiling import Profile

__all__ = [
    "CASES",
    "FULL",
    "QUICK",
    "DemoCase",
    "DemoResult",
    "DemoSettings",
    "print_comparison",
    "profile_lines",
    "results_table",
    "results_table_metrics",
    "run_demo",
]


@dataclass(frozen=True)
class DemoSettings:
    """Cross-validation budget of a demo run (the same for every case and candidate)."""

    folds: int
    repeats: int
    epochs: int
    model: str = "linear"
    seed: int = 0

    def __str__(self) -> str:
        return (
            f"{self.folds} folds x {self.repeats} repeats, {self.epochs} epochs per fit, "
            f"{self.model} model, seed {self.seed}"
        )


FULL = DemoSettings(folds=5, repeats=2, epochs=300)
"""``losscraft demo``: 10 test folds per loss (enough for the corrected t-test to reach p < 0.01)."""

QUICK = DemoSettings(folds=2, repeats=1, epochs=10)
"""``losscraft demo --quick``: a smoke run (too few folds for a p-value; the verdicts say so)."""


def _diabetes() -> tuple[NDArray[np.float64], NDArray[Any]]:
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    return np.asarray(X, dtype=np.float64), np.asarray(y)


def _breast_cancer() -> tuple[NDArray[np.float64], NDArray[Any]]:
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    return np.asarray(X, dtype=np.float64), np.asarray(y)


@dataclass(frozen=True)
class DemoCase:
    """One data set of the demo and the stress test and goal it is compared under."""

    key: str
    title: str
    load: Callable[[], tuple[NDArray[np.float64], NDArray[Any]]]
    contaminate: str | None = None
    imbalance: str | None = None
    goal: str | None = None
    story: str = ""
    shown: tuple[str, ...] = ()
    """Metrics in the printed table after the primary one (the report has them all)."""


CASES: tuple[DemoCase, ...] = (
    DemoCase(
        "diabetes",
        "diabetes (scikit-learn): 442 patients, 10 features, disease progression after one year",
        _diabetes,
        contaminate="outliers:0.1",
        story="10% of each training fold's targets get a gross one-sided error; test folds untouched",
        shown=("mae", "median_ae"),
    ),
    DemoCase(
        "breast_cancer",
        "breast cancer (scikit-learn): 569 tumours, 30 features, malignant (0) vs benign (1)",
        _breast_cancer,
        imbalance="1:20",
        goal="recall-minority",
        story="each training fold keeps 1 malignant tumour per 20 benign ones; test folds untouched",
        shown=("minority_recall", "macro_f1", "log_loss"),
    ),
)


@dataclass(frozen=True)
class DemoResult:
    """What one case of the demo produced."""

    case: DemoCase
    comparison: Comparison
    report_dir: Path | None
    seconds: float


def profile_lines(prof: Profile) -> list[str]:
    """A few lines on what the profile found (task, size, balance or outliers, warnings)."""
    lines = [f"task {prof.task}, {prof.n} samples"]
    c = prof.classes
    if c is not None:
        counts = ", ".join(f"{lab}: {cnt}" for lab, cnt in zip(c.labels, c.counts, strict=True))
        lines.append(
            f"classes {counts}; imbalance {c.imbalance_ratio:.3g}:1, minority {c.minority_fraction:.1%}"
        )
    r = prof.regression
    if r is not None:
        side = f", mostly {r.outlier_side}" if r.one_sided else ""
        tails = "heavy" if r.heavy_tails else "not heavy"
        lines.append(
            f"outliers {r.outlier_fraction:.1%} beyond |modified z| > 3.5{side}; residual tails {tails} "
            f"(excess kurtosis {r.excess_kurtosis:.3g}); residual robust scale {r.robust_scale:.4g}"
        )
    if prof.label_noise is not None:
        lines.append(f"label noise (kNN disagreement) {prof.label_noise:.1%}")
    lines += [f"! {w}" for w in prof.warnings]
    return lines


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_short(x) for x in list(v)[:4]) + (", ...]" if len(v) > 4 else "]")
    if hasattr(v, "tolist"):
        return _short(v.tolist())
    return repr(v)


def _fmt(x: float, digits: int = 4) -> str:
    return "nan" if not math.isfinite(x) else f"{x:.{digits}g}"


def results_table(cmp: Comparison, shown: Sequence[str] | None = None, limit: int = 4) -> Any:
    """A compact rich Table: each loss's primary metric and a few others, folds won and p against the baseline.

    ``shown``: the metrics after the primary one (default: the comparison's next ones), at most
    ``limit`` metrics in all; ``to_dict()`` and the report have every metric.
    """
    from rich.markup import escape
    from rich.table import Table

    from .metrics import METRICS

    metrics = results_table_metrics(cmp, shown, limit)
    t = Table(title_justify="left", header_style="bold")
    t.add_column("loss", no_wrap=True)
    for m in metrics:
        better = "higher" if METRICS[m].higher_is_better else "lower"
        t.add_column(f"{m} ({better} better)" if m == cmp.metric else m, justify="right")
    t.add_column("won", justify="right")
    t.add_column("p", justify="right")
    for r in cmp.results:
        cells = [escape(r.name) + (" \\[baseline]" if r.name == cmp.baseline else "")]
        for m in metrics:
            mr = r.metrics.get(m)
            cells.append("-" if mr is None else f"{_fmt(mr.mean)} ± {_fmt(mr.stderr, 2)}")
        pm = r.metrics.get(cmp.metric)
        cells.append("" if pm is None or pm.folds_won is None else f"{pm.folds_won}/{len(pm.per_fold)}")
        cells.append("" if pm is None or pm.p_value is None else f"{pm.p_value:.2g}")
        t.add_row(*cells)
    return t


def print_comparison(con: Any, cmp: Comparison, shown: Sequence[str] | None = None, limit: int = 4) -> None:
    """The settings line, :func:`results_table`, how to read it, the best loss and the verdicts."""
    s = cmp.settings
    stress = ", ".join(f"{k}={s[k]}" for k in ("contaminate", "imbalance") if s.get(k) is not None)
    con.print(
        f"{cmp.task}, goal {cmp.goal}, metric {cmp.metric}; {s['folds']} folds x {s['repeats']} repeats, "
        f"{s['epochs']} epochs, model {s['model']}, seed {s['seed']}"
        + (f"; stress on training folds: {stress}" if stress else ""),
        markup=False,
        soft_wrap=True,
    )
    con.print(results_table(cmp, shown, limit))
    hidden = [m for m in cmp.metrics if m not in results_table_metrics(cmp, shown, limit)]
    con.print(
        f"mean ± standard error over {len(cmp.folds)} test folds (corrected for overlapping training "
        f"sets); won, p: on {cmp.metric} against {cmp.baseline}, corrected resampled t-test "
        "(Nadeau & Bengio 2003)" + (f"; also measured: {', '.join(hidden)}" if hidden else ""),
        markup=False,
        soft_wrap=True,
    )
    con.print(f"best on {cmp.metric}: {cmp.best().name}", markup=False, soft_wrap=True)
    for v in cmp.verdicts:
        con.print(f"- {v}", markup=False, soft_wrap=True)


def results_table_metrics(cmp: Comparison, shown: Sequence[str] | None = None, limit: int = 4) -> list[str]:
    """The metrics :func:`results_table` shows, in order."""
    rest = cmp.metrics[1:] if shown is None else [m for m in shown if m in cmp.metrics and m != cmp.metric]
    return [cmp.metric, *rest][: max(1, limit)]


def _print_case(con: Any, n: int, total: int, res: DemoResult, settings: DemoSettings) -> None:
    c, cmp = res.case, res.comparison
    recs = cmp.recommendations
    con.rule(f"[bold]{n}/{total}  {c.key}[/]")
    stress = ", ".join(
        f'{k}="{v}"' for k, v in (("contaminate", c.contaminate), ("imbalance", c.imbalance)) if v
    )
    con.print(c.title, markup=False, soft_wrap=True)
    con.print(f"stress test: {stress} ({c.story})", markup=False, soft_wrap=True)
    con.print(f"settings: {settings}", markup=False, soft_wrap=True)
    con.print("[bold]1. profile[/] (the data as given)")
    for line in profile_lines(cmp.profile):
        con.print(f"   {line}", markup=False, soft_wrap=True)
    if recs is not None:
        con.print(
            "   the data as the stress test makes it (what the recommendations are made for):", markup=False
        )
        for line in profile_lines(recs.profile):
            con.print(f"   {line}", markup=False, soft_wrap=True)
        con.print(f"[bold]2. recommend[/] (goal {recs.goal.text})")
        for i, r in enumerate(recs, 1):
            params = ", ".join(f"{k}={_short(v)}" for k, v in r.params.items())
            label = f"{r.name}({params})" if params else r.name
            con.print(f"   {i}. {label}  score {r.score:g}", markup=False, soft_wrap=True)
            for reason in r.reasons:
                con.print(f"      - {reason}", markup=False, soft_wrap=True)
    con.print(f"[bold]3. compare[/] (the recommendations + the plain baseline, {res.seconds:.0f} s)")
    print_comparison(con, cmp, c.shown, limit=1 + len(c.shown))
    where = f"{res.report_dir / 'report.md'} (+ report.json, plots)" if res.report_dir else "not written"
    con.print(f"[bold]4. report:[/] {where}", soft_wrap=True)


def run_demo(
    out: str | Path = "demo-output",
    *,
    quick: bool = False,
    n_jobs: int = 2,
    progress: bool = True,
    report: bool = True,
    cases: Sequence[DemoCase] = CASES,
    console: Any = None,
) -> list[DemoResult]:
    """Run every case (see the module docstring), print it and return the results.

    Args:
        out: the directory the reports go under (``<out>/<case key>/``).
        quick: :data:`QUICK` settings instead of :data:`FULL`.
        n_jobs: parallel fits (joblib); the numbers do not depend on it.
        progress: show compare's progress bar.
        report: write each case's report (``report=`` of :func:`~losscraft.guide.compare`).
        cases: the cases to run.
        console: a :class:`rich.console.Console` to print to (default: a new one on stdout).

    Returns:
        One :class:`DemoResult` per case.
    """
    if console is None:
        from rich.console import Console

        console = Console(highlight=False, width=max(Console().width, 120))
    settings = QUICK if quick else FULL
    root = Path(out)
    console.print(
        f"[bold]losscraft demo[/]: the guide (profile -> recommend -> compare -> report) on data shipped "
        f"with scikit-learn; {settings}; n_jobs={n_jobs}" + (" (--quick)" if quick else ""),
        soft_wrap=True,
    )
    start = time.perf_counter()
    results: list[DemoResult] = []
    for i, case in enumerate(cases, 1):
        X, y = case.load()
        report_dir = root / case.key if report else None
        t0 = time.perf_counter()
        cmp = compare(
            X,
            y,
            goal=case.goal,
            model=settings.model,
            folds=settings.folds,
            repeats=settings.repeats,
            epochs=settings.epochs,
            seed=settings.seed,
            contaminate=case.contaminate,
            imbalance=case.imbalance,
            report=report_dir,
            n_jobs=n_jobs,
            progress=progress,
        )
        res = DemoResult(case, cmp, report_dir, time.perf_counter() - t0)
        results.append(res)
        _print_case(console, i, len(cases), res, settings)
    console.print("")
    where = f"; reports under {root}/" if report else ""
    console.print(f"done in {time.perf_counter() - start:.0f} s{where}", markup=False, soft_wrap=True)
    return results
