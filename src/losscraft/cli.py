r"""The ``losscraft`` command line (``pip install 'losscraft[cli]'``; ``python -m losscraft``).

Commands::

    losscraft list [--family F] [--property P] [--json]
    losscraft show NAME [--json]
    losscraft analyze NAME [--param k=v ...] [--json]
    losscraft plot NAME... [--param k=v ...] [--sweep k=v1,v2,...] [--domain lo,hi] [--no-grad] -o FILE.png [--json]
    losscraft recommend DATA [--target COL] [--features COLS|all] [--task T] [--goal G] [--top K] [--json]
    losscraft compare DATA [--target COL] [--features COLS|all] [--loss NAME[:k=v,...]]... [--task T]
        [--goal G] [--model linear|mlp] [--metric M] [--folds K] [--repeats R] [--epochs E] [--seed S]
        [--contaminate outliers:F|label-noise:F] [--imbalance A:B] [--report DIR] [--n-jobs J] [--json]
    losscraft demo [--out DIR] [--quick] [--n-jobs J] [--showcase]

``--param k=v`` values are parsed according to the hyperparameter's domain: numbers (``inf``
allowed), ``true``/``false``, ``none``, a choice such as ``mode=multiclass``, or a comma list
for sequences and per-class weights (``quantiles=0.1,0.5,0.9``, ``pos_weight=3``).

Exit codes: 0 success; 2 bad input (unknown loss, hyperparameter or option, a value that does
not parse or lies outside its domain, an output file that cannot be written), with the reason in
one line on stderr (and, with ``--json``, as ``{"schema": "losscraft.error/1", "error": ...}`` on
stdout); 1 the extras are missing, or the standard output cannot be written.

The ``--json`` output of every command is a single JSON object whose ``schema`` key names the
format and its version; :data:`JSON_SCHEMAS` documents the fields (``docs/understanding-losses.md``
renders it). The JSON views of the catalog and of an entry, and the schemas, live next to the
registry (:mod:`losscraft._core.describe`); this module parses arguments, renders tables and
chooses exit codes. Tensors are written as lists; non-finite floats as the strings ``"inf"``,
``"-inf"``, ``"nan"``, except inside ``analysis`` (``AnalysisReport.to_dict()``, which writes
``null``).
"""

import json
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._core.describe import JSON_SCHEMAS, describe_entry, jsonable, list_entries
from ._core.errors import LosscraftError
from ._core.parsing import parse_params, parse_sweep, parse_value
from ._core.registry import get
from ._core.spec import parse_number

if TYPE_CHECKING:
    import typer
    from rich.console import Console

__all__ = [
    "JSON_SCHEMAS",
    "build_snippet",
    "describe_entry",
    "list_entries",
    "main",
    "make_app",
    "parse_params",
    "parse_sweep",
    "parse_value",
]

INSTALL_HINT = "pip install 'losscraft[cli]'"


# --------------------------------------------------------------------------- the app
def _console(stderr: bool = False) -> "Console":
    from rich.console import Console

    # at least 120 columns: tables are unreadable at the 80 of a pipe or a CI log
    return Console(stderr=stderr, highlight=False, width=max(Console(stderr=stderr).width, 120))


def _message(exc: LosscraftError, caller: str) -> str:
    """A library error as the CLI reports it: named after the command, pointing at ``losscraft list``."""
    text = str(exc)
    for prefix in ("get:", "catalog:"):
        if text.startswith(prefix):
            text = caller + ":" + text[len(prefix) :]
    return text.replace("(see losscraft.catalog())", "(see `losscraft list`)")


def _emit_json(obj: Mapping[str, Any]) -> None:
    sys.stdout.write(json.dumps(jsonable(obj), indent=2, allow_nan=False) + "\n")
    sys.stdout.flush()


def _fail(message: str, as_json: bool) -> "typer.Exit":
    import typer
    from rich.markup import escape

    if as_json:
        _emit_json({"schema": "losscraft.error/1", "error": message})
    _console(stderr=True).print(f"[bold red]error:[/] {escape(message)}", markup=True, soft_wrap=True)
    return typer.Exit(code=2)


_OVERVIEW = """\
[bold]losscraft {version}[/] - choose, use, design and verify loss functions for PyTorch.

  [cyan]losscraft list[/] [--family F] [--property P]      the catalog
  [cyan]losscraft show[/] NAME                             formula, hyperparameters, properties, references
  [cyan]losscraft analyze[/] NAME [--param k=v]            measured behaviour of the loss and its gradient
  [cyan]losscraft plot[/] NAME... [--sweep k=a,b] -o F.png  loss and gradient curves
  [cyan]losscraft recommend[/] DATA [--target COL]         which loss for this data, with reasons (CSV, Parquet, .npy)
  [cyan]losscraft compare[/] DATA [--loss NAME]...         cross-validate candidate losses on this data
  [cyan]losscraft demo[/] [--quick]                        the whole guide on bundled data (make demo)

Add [bold]--json[/] to any command for machine-readable output, [bold]--help[/] for details.
The catalog tour: [cyan]losscraft demo --showcase[/] (python -m losscraft.showcase). Guide: docs/understanding-losses.md"""


def make_app() -> "typer.Typer":
    """Build the Typer application (imports typer and rich).

    Raises:
        ImportError: the ``[cli]`` extra is missing.
    """
    try:
        import typer
        from rich.table import Table
    except ImportError as exc:  # pragma: no cover - typer/rich are dev dependencies
        raise ImportError(f"the losscraft command line needs typer and rich: {INSTALL_HINT}") from exc
    from typing import Annotated

    from . import __version__

    app = typer.Typer(
        name="losscraft",
        help="Choose, use, design and verify loss functions for PyTorch.",
        add_completion=False,
        invoke_without_command=True,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object (see JSON_SCHEMAS).")]
    DataArg = Annotated[
        Path, typer.Argument(help="CSV, TSV, Parquet, .npy or .npz file.", show_default=False)
    ]
    TargetOpt = Annotated[
        str | None,
        typer.Option("--target", "-t", help="Target column (needed when the table has several)."),
    ]
    ParamOpt = Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="Hyperparameter name=value (repeatable).", show_default=False),
    ]

    @app.callback()
    def root(
        ctx: typer.Context,
        version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
    ) -> None:
        """Choose, use, design and verify loss functions for PyTorch."""
        if version:
            typer.echo(__version__)
            raise typer.Exit(0)
        if ctx.invoked_subcommand is None:
            _console().print(_OVERVIEW.format(version=__version__), markup=True, soft_wrap=True)
            raise typer.Exit(0)

    @app.command("list")
    def list_cmd(
        family: Annotated[str | None, typer.Option("--family", "-f", help="e.g. regression.")] = None,
        property: Annotated[
            str | None, typer.Option("--property", help="e.g. robust_to_outliers, bounded_gradient.")
        ] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """The catalog as a table (filters combine with AND)."""
        try:
            data = list_entries(family, property)
        except LosscraftError as exc:
            raise _fail(_message(exc, "list"), as_json) from None
        if as_json:
            _emit_json(data)
            return
        title = "losscraft catalog" + "".join(f" {k}={v}" for k, v in data["filters"].items() if v)
        t = Table(title=f"{title} ({len(data['losses'])} losses)", title_justify="left", header_style="bold")
        for col in ("name", "family", "input -> target", "hyperparameters (defaults)", "measured properties"):
            t.add_column(col, overflow="fold")
        for row in data["losses"]:
            t.add_row(
                row["name"],
                row["family"],
                f"{row['input_kind']} -> {row['target_kind']}",
                ", ".join(f"{k}={v!r}" for k, v in row["params"].items()) or "-",
                ", ".join(row["properties"]["measured"]) or "-",
            )
        _console().print(t)

    @app.command("show")
    def show_cmd(
        name: Annotated[str, typer.Argument(help="Loss name or alias.")],
        as_json: JsonOpt = False,
    ) -> None:
        """Formula, hyperparameters, properties, relations, references and advice for one loss."""
        try:
            data = describe_entry(name)
        except LosscraftError as exc:
            raise _fail(_message(exc, "show"), as_json) from None
        if as_json:
            _emit_json(data)
            return
        from rich.markup import escape

        con = _console()
        con.print(f"[bold]{data['name']}[/]  ({data['family']})  {escape(data['summary'])}", soft_wrap=True)
        con.print(f"  formula (LaTeX): {data['formula']}", markup=False, soft_wrap=True)
        con.print(
            f"  function: {data['function']}({', '.join(data['inputs'])}, *, ...)",
            markup=False,
            soft_wrap=True,
        )
        con.print(f"  Module:   {data['module']}", markup=False, soft_wrap=True)
        if data["aliases"]:
            con.print(f"  aliases:  {', '.join(data['aliases'])}", markup=False, soft_wrap=True)
        con.print(
            f"  input / target: {data['input_kind']} / {data['target_kind']};  tasks: {', '.join(data['tasks'])}",
            markup=False,
        )
        if data["params"]:
            t = Table(title="hyperparameters", title_justify="left", header_style="bold")
            for col in ("name", "default", "domain", "meaning"):
                t.add_column(col, overflow="fold")
            for p in data["params"]:
                t.add_row(p["name"], repr(p["default"]), p["domain"], p["doc"])
            con.print(t)
        else:
            con.print("  hyperparameters: none", markup=False, soft_wrap=True)
        props = data["properties"]
        con.print(
            f"  measured properties (contract-tested): {', '.join(props['measured']) or '-'}", markup=False
        )
        con.print(
            f"  advisory properties: {', '.join(props['advisory']) or '-'}", markup=False, soft_wrap=True
        )
        for r in data["relations"]:
            con.print(f"  relation: {r}", markup=False, soft_wrap=True)
        con.print(f"  when to use: {data['when_to_use']}", markup=False, soft_wrap=True)
        if data["when_not_to_use"]:
            con.print(f"  when not to use: {data['when_not_to_use']}", markup=False, soft_wrap=True)
        for r in data["references"]:
            con.print(f"  reference: {r['text']}", markup=False, soft_wrap=True)

    @app.command("analyze")
    def analyze_cmd(
        name: Annotated[str, typer.Argument(help="Loss name or alias.")],
        param: ParamOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Measure the loss and its gradient along its curve(s): growth, bounds, smoothness, convexity."""
        from .analysis import analyze

        try:
            spec = get(name).spec
            params = parse_params("analyze", spec, param or [])
            report = analyze(spec.name, **params)
        except LosscraftError as exc:
            raise _fail(_message(exc, "analyze"), as_json) from None
        if as_json:
            data = report.to_dict()
            _emit_json(
                {
                    "schema": "losscraft.analyze/1",
                    "name": report.name,
                    "params": report.params,
                    "analysis": data,
                }
            )
            return
        _console().print(_analysis_table(Table, report))

    @app.command("plot")
    def plot_cmd(
        names: Annotated[list[str], typer.Argument(help="One or more loss names.", show_default=False)],
        output: Annotated[
            Path, typer.Option("--output", "-o", help="Image file: .png, .svg or .pdf.", show_default=False)
        ],
        param: ParamOpt = None,
        sweep: Annotated[
            list[str] | None,
            typer.Option(
                "--sweep", "-s", help="name=v1,v2,...: one line per value (repeatable).", show_default=False
            ),
        ] = None,
        domain: Annotated[str | None, typer.Option("--domain", help="x range lo,hi.")] = None,
        grad: Annotated[bool, typer.Option("--grad/--no-grad", help="Draw the gradient panel.")] = True,
        as_json: JsonOpt = False,
    ) -> None:
        """Draw loss and gradient curves to an image file."""
        try:
            from .plotting import check_save, curve_lines, draw

            specs = [get(n).spec for n in names]
            params = parse_params("plot", specs, param or [])
            sweeps = parse_sweep("plot", specs, sweep or [])
            dom = _parse_domain(domain)
            check_save(output, "plot")  # an unwritable -o fails before any work is done
            lines = curve_lines([s.name for s in specs], params, sweeps, dom, caller="plot")
            fig, _ = draw(lines, grad=grad, save=output, sweep_keys=tuple(sweeps))
        except LosscraftError as exc:
            raise _fail(_message(exc, "plot"), as_json) from None
        import matplotlib.pyplot as plt

        plt.close(fig)
        if as_json:
            _emit_json(
                {
                    "schema": "losscraft.plot/1",
                    "output": str(output),
                    "format": output.suffix.lower().lstrip("."),
                    "losses": list(dict.fromkeys(ln.loss for ln in lines)),
                    "panels": ["loss", "gradient"] if grad else ["loss"],
                    "lines": [
                        {
                            "loss": ln.loss,
                            "label": ln.label,
                            "axis": ln.curve.axis,
                            "params": ln.params,
                            "points": int(ln.x.numel()),
                        }
                        for ln in lines
                    ],
                }
            )
            return
        _console().print(f"wrote {output} ({len(lines)} lines)", markup=False, soft_wrap=True)

    @app.command("recommend")
    def recommend_cmd(
        data: DataArg,
        target: TargetOpt = None,
        features: Annotated[
            str | None,
            typer.Option("--features", help="Feature columns: a comma list, or 'all' (every other column)."),
        ] = None,
        task: Annotated[str | None, typer.Option("--task", help="Override the detected task.")] = None,
        goal: Annotated[
            str | None,
            typer.Option(
                "--goal",
                "-g",
                help="mean, median, interval:P, quantile:Q, calibrated-probabilities, "
                "rank, recall-minority, overlap (default: the task's).",
            ),
        ] = None,
        top: Annotated[int, typer.Option("--top", "-k", help="How many recommendations.", min=1)] = 3,
        as_json: JsonOpt = False,
    ) -> None:
        """Profile the data and recommend losses for it, best first, with the reasons and settings."""
        try:
            from .guide import parse_goal, recommend
            from .guide.io import read_data

            if goal is not None:
                parse_goal(goal)  # an unparsable goal fails before the file is read
            loaded = read_data(data, target=target, features=features, caller="recommend")
            recs = recommend(loaded.target, goal=goal, features=loaded.features, task=task, top=top)
        except LosscraftError as exc:
            raise _fail(_message(exc, "recommend"), as_json) from None
        snippet = build_snippet(recs[0].config) if len(recs) else None
        if as_json:
            _emit_json(
                {
                    "schema": "losscraft.recommend/1",
                    "data": loaded.to_dict(),
                    "profile": recs.profile.to_dict(),
                    "goal": str(recs.goal),
                    "default_goal": bool(recs.default_goal),
                    "recommendations": [r.to_dict() for r in recs],
                    "avoid": [{"name": a.name, "reason": a.reason} for a in recs.avoid],
                    "snippet": snippet,
                }
            )
            return
        _print_recommendations(Table, loaded, recs, snippet)

    @app.command("compare")
    def compare_cmd(
        data: DataArg,
        target: TargetOpt = None,
        features: Annotated[
            str,
            typer.Option("--features", help="Feature columns: a comma list, or 'all' (every other column)."),
        ] = "all",
        loss: Annotated[
            list[str] | None,
            typer.Option(
                "--loss",
                "-l",
                help="Candidate NAME or NAME:param=value,... (repeatable; a value may hold commas: "
                "quantile:quantiles=0.05,0.95). Default: the top recommendations.",
                show_default=False,
            ),
        ] = None,
        task: Annotated[str | None, typer.Option("--task", help="Override the detected task.")] = None,
        goal: Annotated[
            str | None,
            typer.Option(
                "--goal",
                "-g",
                help="mean, median, interval:P, quantile:Q, calibrated-probabilities, "
                "rank, recall-minority (default: the task's).",
            ),
        ] = None,
        model: Annotated[
            str, typer.Option("--model", help="linear or mlp (one hidden layer of 64).")
        ] = "linear",
        metric: Annotated[
            str | None, typer.Option("--metric", help="Primary metric (default: the goal's).")
        ] = None,
        folds: Annotated[int, typer.Option("--folds", help="Cross-validation folds.")] = 5,
        repeats: Annotated[int, typer.Option("--repeats", help="Re-shuffled repetitions of the folds.")] = 2,
        epochs: Annotated[
            int | None, typer.Option("--epochs", help="Optimisation steps per fit (default: the guide's).")
        ] = None,
        seed: Annotated[
            int, typer.Option("--seed", help="Seed of folds, stress tests and initialisation.")
        ] = 0,
        contaminate: Annotated[
            str | None,
            typer.Option("--contaminate", help="Stress the training folds: outliers:F or label-noise:F."),
        ] = None,
        imbalance: Annotated[
            str | None,
            typer.Option("--imbalance", help="Subsample the training folds' classes to A:B, e.g. 1:20."),
        ] = None,
        report: Annotated[
            Path | None,
            typer.Option("--report", help="Write report.md, report.json and plots to this directory."),
        ] = None,
        n_jobs: Annotated[
            int, typer.Option("--n-jobs", "-j", help="Parallel fits (joblib; -1: all cores).")
        ] = 1,
        no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar.")] = False,
        as_json: JsonOpt = False,
    ) -> None:
        """Cross-validate candidate losses on this data: the same model, folds and budget for each."""
        try:
            comparison, loaded = _run_compare(
                data,
                target=target,
                features=features,
                losses=loss,
                task=task,
                goal=goal,
                model=model,
                metric=metric,
                folds=folds,
                repeats=repeats,
                epochs=epochs,
                seed=seed,
                contaminate=contaminate,
                imbalance=imbalance,
                report=report,
                n_jobs=n_jobs,
                progress=not (no_progress or as_json),
            )
        except LosscraftError as exc:
            raise _fail(_message(exc, "compare"), as_json) from None
        if as_json:
            _emit_json(comparison.to_dict())
            return
        from rich.markup import escape

        con = _console()
        feats = f", {len(loaded.feature_names)} feature columns" if loaded.feature_names else ""
        con.print(
            f"[bold]{escape(loaded.path)}[/]: target {escape(loaded.target_name)}, {loaded.n} rows{feats}",
            soft_wrap=True,
        )
        if loaded.skipped:
            con.print(f"  not numeric, left out of the features: {', '.join(loaded.skipped)}", markup=False)
        from .guide.demo import print_comparison

        print_comparison(con, comparison)
        if report is not None:
            con.print(
                f"report: {report / 'report.md'} (and report.json, plots)", markup=False, soft_wrap=True
            )

    @app.command("demo")
    def demo_cmd(
        out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the reports.")] = Path(
            "demo-output"
        ),
        quick: Annotated[
            bool, typer.Option("--quick", help="Tiny folds and epochs (seconds; for tests, not for reading).")
        ] = False,
        n_jobs: Annotated[
            int, typer.Option("--n-jobs", "-j", help="Parallel fits (joblib; -1: all cores).")
        ] = 2,
        showcase: Annotated[
            bool,
            typer.Option("--showcase", help="Run the catalog tour instead (python -m losscraft.showcase)."),
        ] = False,
        no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar.")] = False,
    ) -> None:
        """The whole guide on data shipped with scikit-learn: profile, recommend, compare, report."""
        if showcase:
            from .showcase import main as showcase_main

            raise typer.Exit(showcase_main(["--out", str(out)]))
        try:
            from .guide.demo import run_demo

            run_demo(out, quick=quick, n_jobs=n_jobs, progress=not no_progress, console=_console())
        except LosscraftError as exc:
            raise _fail(_message(exc, "demo"), False) from None

    return app


def _run_compare(
    data: Path,
    *,
    target: str | None,
    features: str,
    losses: Sequence[str] | None,
    report: Path | None,
    goal: str | None,
    contaminate: str | None,
    imbalance: str | None,
    **kwargs: Any,
) -> tuple[Any, Any]:
    """``losscraft compare``: check the options, read the file, run :func:`losscraft.guide.compare`.

    Everything that can be checked without the data (goal, stress tests, candidate losses, the
    report directory) is checked before the file is read; the rest before any training.

    Raises:
        LosscraftError: bad input (one line).
    """
    from .guide import compare, parse_goal
    from .guide.comparing import parse_candidate
    from .guide.io import read_data
    from .guide.stress import parse_contaminate, parse_imbalance

    if goal is not None:
        parse_goal(goal)
    parse_contaminate(contaminate)
    parse_imbalance(imbalance)
    for item in losses or ():
        parse_candidate(item)  # the text is passed on unchanged: compare splits "k=a,b" itself
    loaded = read_data(data, target=target, features=features, caller="compare")
    if loaded.features is None:
        raise LosscraftError(
            f"compare: {loaded.path!r} gives no features: pass --features (columns or arrays) and --target"
        )
    if report is not None:
        try:
            report.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LosscraftError(
                f"compare: cannot create the report directory {str(report)!r}: {exc.strerror or exc}"
            ) from None
    comparison = compare(
        loaded.features,
        loaded.target,
        list(losses) if losses else None,
        goal=goal,
        contaminate=contaminate,
        imbalance=imbalance,
        report=report,
        **kwargs,
    )
    return comparison, loaded


def _parse_domain(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    parts = text.split(",")
    try:
        if len(parts) != 2:
            raise ValueError(text)
        lo, hi = (parse_number(p) for p in parts)
    except ValueError:
        raise LosscraftError(f"plot: --domain must be two numbers lo,hi, got {text!r}") from None
    return (float(lo), float(hi))


def build_snippet(config: Mapping[str, Any]) -> str:
    """Python that rebuilds a recommended loss: ``losscraft.build({...})`` with its configuration.

    >>> print(build_snippet({"name": "huber", "delta": 1.5}))
    import losscraft
    <BLANKLINE>
    loss = losscraft.build({"name": "huber", "delta": 1.5})
    """
    body = _literal(config, 0)
    return f"import losscraft\n\nloss = losscraft.build({body})"


def _literal(value: Any, depth: int) -> str:
    """``value`` as Python source (non-finite floats as ``float("inf")``); nested dicts one key a line."""
    import torch

    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().tolist()
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # a NumPy scalar
        value = value.item()
    if isinstance(value, Mapping):
        items = [f"{json.dumps(str(k))}: {_literal(v, depth + 1)}" for k, v in value.items()]
        flat = "{" + ", ".join(items) + "}"
        if len(flat) + 4 * depth <= 88 or not items:
            return flat
        pad = "    " * (depth + 1)
        return "{\n" + "".join(f"{pad}{it},\n" for it in items) + "    " * depth + "}"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_literal(v, depth + 1) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, float) and not math.isfinite(value):
        return f'float("{value}")'
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return repr(value)
    return repr(str(value))


def _print_recommendations(table_cls: Any, loaded: Any, recs: Any, snippet: str | None) -> None:
    """The profile, the ranked table, the losses to avoid and the snippet for the top choice."""
    from rich.markup import escape
    from rich.syntax import Syntax

    con = _console()
    feats = f", {len(loaded.feature_names)} feature columns" if loaded.feature_names else ""
    con.print(
        f"[bold]{escape(loaded.path)}[/]: target {escape(loaded.target_name)}, {loaded.n} rows{feats}",
        soft_wrap=True,
    )
    if loaded.skipped:
        con.print(f"  not numeric, left out of the features: {', '.join(loaded.skipped)}", markup=False)
    con.print(recs.profile)
    how = "the default goal for this task" if recs.default_goal else "as asked"
    t = table_cls(
        title=f"recommended losses, goal {recs.goal} ({how})", title_justify="left", header_style="bold"
    )
    for col in ("#", "loss", "score", "settings from the data", "why"):
        t.add_column(col, overflow="fold")
    for i, r in enumerate(recs, 1):
        params = ", ".join(f"{k}={_short(v)}" for k, v in r.params.items()) or "defaults"
        t.add_row(str(i), r.name, f"{r.score:.2f}", params, "\n".join(f"- {x}" for x in r.reasons))
    con.print(t)
    for a in recs.avoid:
        con.print(f"  avoid {a.name}: {a.reason}", markup=False, soft_wrap=True)
    if snippet is not None:
        con.print("[bold]build the top choice:[/]")
        con.print(Syntax(snippet, "python", theme="ansi_dark", background_color="default"))


def _short(value: Any) -> str:
    """A hyperparameter value for the table: floats to 4 significant digits, long lists cut."""
    import torch

    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().tolist()
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        shown = ", ".join(_short(v) for v in value[:6])
        return f"[{shown}{', ...' if len(value) > 6 else ''}]"
    return repr(value)


def _analysis_table(table_cls: Any, report: Any) -> Any:
    """A rich Table of an :class:`~losscraft.analysis.AnalysisReport`: a row per measure, a column per curve."""
    hp = ", ".join(f"{k}={v!r}" for k, v in report.params.items())
    lo, hi = report.domain
    t = table_cls(
        title=f"analysis of {report.name}({hp}): {report.family}, {report.axis} axis, domain [{lo:g}, {hi:g}]",
        title_justify="left",
        header_style="bold",
    )
    curves = list(report.curves)
    t.add_column("measure", style="bold")
    for label in curves if len(curves) > 1 else ["value"]:
        t.add_column(str(label), overflow="fold")
    for row in report.rows():
        t.add_row(*row)
    return t


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    try:
        app = make_app()
    except ImportError as exc:
        print(f"losscraft: {exc}", file=sys.stderr)
        return 1
    try:
        app(args=list(argv) if argv is not None else None, prog_name="losscraft", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except OSError as exc:  # stdout itself failed (a full disk, a closed pipe): one line, not a traceback
        print(f"losscraft: cannot write the output: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0  # pragma: no cover - standalone mode always raises SystemExit
