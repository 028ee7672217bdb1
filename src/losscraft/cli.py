r"""The ``losscraft`` command line (``pip install 'losscraft[cli]'``; ``python -m losscraft``).

Commands::

    losscraft list [--family F] [--property P] [--json]
    losscraft show NAME [--json]
    losscraft analyze NAME [--param k=v ...] [--json]
    losscraft plot NAME... [--param k=v ...] [--sweep k=v1,v2,...] [--domain lo,hi] [--no-grad] -o FILE.png [--json]

``--param k=v`` values are parsed according to the hyperparameter's domain: numbers (``inf``
allowed), ``true``/``false``, ``none``, a choice such as ``mode=multiclass``, or a comma list
for sequences and per-class weights (``quantiles=0.1,0.5,0.9``, ``pos_weight=3``).

Exit codes: 0 success; 2 bad input (unknown loss, hyperparameter or option, a value that does
not parse or lies outside its domain, an output file that cannot be written), with the reason in
one line on stderr (and, with ``--json``, as ``{"schema": "losscraft.error/1", "error": ...}`` on
stdout); 1 the extras are missing, or the standard output cannot be written.

The ``--json`` output of every command is a single JSON object whose ``schema`` key names the
format and its version; :data:`JSON_SCHEMAS` documents the fields (``docs/understanding-losses.md``
renders it). Tensors are written as lists; non-finite floats as the strings ``"inf"``,
``"-inf"``, ``"nan"``, except inside ``analysis`` (``AnalysisReport.to_dict()``, which writes
``null``).
"""

import json
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ._core.checks import check_params
from ._core.errors import LosscraftError
from ._core.registry import aliases, catalog, get
from ._core.spec import CHECKED_PROPERTIES, Choice, FloatSeq, Interval, LossSpec, TensorDomain

if TYPE_CHECKING:
    import typer
    from rich.console import Console

__all__ = [
    "JSON_SCHEMAS",
    "describe_entry",
    "list_entries",
    "main",
    "make_app",
    "parse_params",
    "parse_sweep",
    "parse_value",
]

INSTALL_HINT = "pip install 'losscraft[cli]'"

#: The ``--json`` formats: schema id -> field -> meaning. Stable: fields are only ever added.
JSON_SCHEMAS: dict[str, dict[str, str]] = {
    "losscraft.list/1": {
        "schema": '"losscraft.list/1"',
        "filters": "the --family / --property filters applied (null when not given)",
        "losses": "one object per loss, sorted by name: name, family, summary, input_kind, target_kind, "
        "tasks (list), params ({name: default}), properties ({measured: [...], advisory: [...]}), aliases (list)",
    },
    "losscraft.show/1": {
        "schema": '"losscraft.show/1"',
        "name": "registry key",
        "family, summary, formula": "as in the spec (formula is LaTeX)",
        "function, module": 'dotted paths, e.g. "losscraft.functional.huber_loss", "losscraft.HuberLoss"',
        "inputs": "names of the positional tensor arguments",
        "input_kind, target_kind, tasks": "what the loss takes and is for",
        "none_shape, weight, ignore_index": 'reduction="none" shape, meaning of weight, ignore_index support',
        "params": "list of {name, default, domain (text), doc}",
        "properties": "{measured: [...] (verified by the contract tests), advisory: [...]}",
        "relations": "tested identities with other losses, as text",
        "references": "list of {authors, title, venue, year, url, text}",
        "when_to_use": "advice",
        "aliases": "other names accepted by losscraft.get",
        "curves": "list of {axis, domain, zero, label}: the 1-D slices used by analyze and plot",
    },
    "losscraft.analyze/1": {
        "schema": '"losscraft.analyze/1"',
        "name": "registry key (or custom loss name)",
        "params": "the hyperparameters analysed (defaults filled)",
        "analysis": "AnalysisReport.to_dict() (see losscraft.analysis; non-finite floats are null there)",
    },
    "losscraft.plot/1": {
        "schema": '"losscraft.plot/1"',
        "output": "path of the written image",
        "format": '"png", "svg" or "pdf"',
        "losses": "names of the plotted losses",
        "panels": '["loss", "gradient"] or ["loss"]',
        "lines": "one {loss, label, axis, params, points} per drawn line (the loss panel; the gradient "
        "panel has the same lines)",
    },
    "losscraft.error/1": {
        "schema": '"losscraft.error/1"',
        "error": "the message (also on stderr); the exit code is 2",
    },
}


# --------------------------------------------------------------------------- parsing (no typer)
_NONE = ("none", "null")
_TRUE = ("true", "yes", "on")
_FALSE = ("false", "no", "off")


def _number(text: str, integer: bool) -> float | int:
    t = text.strip()
    if integer:
        return int(t)
    low = t.lower()
    if low in ("inf", "+inf", "infinity"):
        return math.inf
    if low in ("-inf", "-infinity"):
        return -math.inf
    return float(t)


def _literal(text: str) -> Any:
    t = text.strip()
    low = t.lower()
    if low in _NONE:
        return None
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    if "," in t:
        return [_literal(part) for part in t.split(",")]
    for conv in (int, float):
        try:
            return conv(t)
        except ValueError:
            pass
    return t


def parse_value(caller: str, spec: LossSpec, name: str, text: str, option: str = "--param") -> Any:
    """Parse the text of ``--param name=text`` according to the hyperparameter's domain.

    Interval: an int or float (``inf`` allowed; ``none`` when optional). FloatSeq: a float or a
    comma list of floats. Choice: one of the choices, compared as text (``true``/``false`` for
    booleans, ``none``). TensorDomain: a comma list of floats (a float64 tensor) or ``none``.
    The domain itself is checked afterwards (:func:`parse_params`).

    >>> import losscraft
    >>> spec = losscraft.get("quantile").spec
    >>> parse_value("analyze", spec, "quantiles", "0.1,0.5,0.9")
    [0.1, 0.5, 0.9]

    Raises:
        LosscraftError: the text cannot be parsed for this domain.
    """
    domain = spec.param(name).domain
    t = text.strip()
    low = t.lower()
    try:
        if low in _NONE:
            return None
        if isinstance(domain, Interval):
            return _number(t, domain.integer)
        if isinstance(domain, FloatSeq):
            if "," in t:
                return [_number(part, domain.element.integer) for part in t.split(",")]
            return _number(t, domain.element.integer)
        if isinstance(domain, Choice):
            for choice in domain.values:
                if isinstance(choice, bool):
                    if (choice and low in _TRUE) or (not choice and low in _FALSE):
                        return choice
                elif str(choice).lower() == low:
                    return choice
            raise ValueError(t)
        if isinstance(domain, TensorDomain):
            return torch.tensor([float(part) for part in t.split(",")], dtype=torch.float64)
    except ValueError:
        raise LosscraftError(
            f"{caller}: cannot parse {option} {name}={text!r}: {name!r} must be {domain.describe()}"
        ) from None
    return _literal(t)


def _split(caller: str, item: str, option: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    key = key.strip()
    if not sep or not key or not value.strip():
        raise LosscraftError(f"{caller}: {option} must look like name=value, got {item!r}")
    return key, value


def _unknown(caller: str, specs: Sequence[LossSpec], key: str) -> LosscraftError:
    have = sorted({p.name for s in specs for p in s.params})
    names = ", ".join(repr(s.name) for s in specs)
    return LosscraftError(
        f"{caller}: {names} {'has' if len(specs) == 1 else 'have'} no hyperparameter {key!r} "
        f"(hyperparameters: {', '.join(have) if have else 'none'})"
    )


def _owner(specs: Sequence[LossSpec], key: str) -> LossSpec | None:
    return next((s for s in specs if any(p.name == key for p in s.params)), None)


def parse_params(caller: str, specs: LossSpec | Sequence[LossSpec], items: Sequence[str]) -> dict[str, Any]:
    """Parse repeated ``--param k=v`` options and check each value against its domain.

    With several losses a key must belong to at least one of them (it is then applied to
    every loss that has it).

    Raises:
        LosscraftError: malformed item, unknown hyperparameter, unparsable or out-of-domain value.
    """
    spec_list = [specs] if isinstance(specs, LossSpec) else list(specs)
    out: dict[str, Any] = {}
    for item in items:
        key, text = _split(caller, item, "--param")
        owner = _owner(spec_list, key)
        if owner is None:
            raise _unknown(caller, spec_list, key)
        value = parse_value(caller, owner, key, text)
        for s in spec_list:
            if any(p.name == key for p in s.params):
                _check(caller, s, key, value)
        out[key] = value
    return out


def parse_sweep(
    caller: str, specs: LossSpec | Sequence[LossSpec], items: Sequence[str]
) -> dict[str, list[Any]]:
    """Parse repeated ``--sweep k=v1,v2,...`` options: one value per comma-separated item.

    Raises:
        LosscraftError: malformed item, unknown hyperparameter, unparsable or out-of-domain value.
    """
    spec_list = [specs] if isinstance(specs, LossSpec) else list(specs)
    out: dict[str, list[Any]] = {}
    for item in items:
        key, text = _split(caller, item, "--sweep")
        owner = _owner(spec_list, key)
        if owner is None:
            raise _unknown(caller, spec_list, key)
        values = []
        for part in text.split(","):
            if not part.strip():
                raise LosscraftError(f"{caller}: --sweep {item!r} has an empty value")
            value = parse_value(caller, owner, key, part, "--sweep")
            for s in spec_list:
                if any(p.name == key for p in s.params):
                    _check(caller, s, key, value)
            values.append(value)
        out[key] = values
    return out


def _check(caller: str, spec: LossSpec, key: str, value: Any) -> None:
    try:
        check_params(spec, {key: value})
    except LosscraftError as exc:
        raise LosscraftError(f"{caller}: {exc}") from None


# --------------------------------------------------------------------------- data (no typer)
def _jsonable(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return _jsonable(value.detach().cpu().tolist())
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [_jsonable(v) for v in items]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


def _aliases_of(name: str) -> list[str]:
    return sorted(a for a, k in aliases().items() if k == name)


def _props(spec: LossSpec) -> dict[str, list[str]]:
    props = sorted(spec.properties, key=str)
    return {
        "measured": [str(p) for p in props if p in CHECKED_PROPERTIES],
        "advisory": [str(p) for p in props if p not in CHECKED_PROPERTIES],
    }


def _defaults(spec: LossSpec) -> dict[str, Any]:
    return {p.name: _jsonable(p.domain.to_config(p.default)) for p in spec.params}


def list_entries(family: str | None = None, property: str | None = None) -> dict[str, Any]:
    """The ``losscraft list --json`` object (schema ``losscraft.list/1``)."""
    rows = []
    for e in catalog(family=family, property=property):
        s = e.spec
        rows.append(
            {
                "name": s.name,
                "family": str(s.family),
                "summary": s.summary,
                "input_kind": str(s.input_kind),
                "target_kind": str(s.target_kind),
                "tasks": [str(t) for t in s.tasks],
                "params": _defaults(s),
                "properties": _props(s),
                "aliases": _aliases_of(s.name),
            }
        )
    return {
        "schema": "losscraft.list/1",
        "filters": {"family": family, "property": property},
        "losses": rows,
    }


def describe_entry(name: str) -> dict[str, Any]:
    """The ``losscraft show NAME --json`` object (schema ``losscraft.show/1``).

    Raises:
        LosscraftError: unknown name (the message suggests the closest names).
    """
    e = get(name)
    s = e.spec
    return {
        "schema": "losscraft.show/1",
        "name": s.name,
        "family": str(s.family),
        "summary": s.summary,
        "formula": s.formula,
        "function": f"losscraft.functional.{e.function.__name__}",
        "module": f"losscraft.{e.module.__name__}" if e.module is not None else None,
        "inputs": list(s.inputs),
        "input_kind": str(s.input_kind),
        "target_kind": str(s.target_kind),
        "tasks": [str(t) for t in s.tasks],
        "none_shape": s.none_shape,
        "weight": s.weight,
        "ignore_index": s.ignore_index,
        "params": [
            {
                "name": p.name,
                "default": _jsonable(p.domain.to_config(p.default)),
                "domain": p.domain.describe(),
                "doc": p.doc,
            }
            for p in s.params
        ],
        "properties": _props(s),
        "relations": [r.describe(s.name) for r in s.relations],
        "references": [
            {
                "authors": r.authors,
                "title": r.title,
                "venue": r.venue,
                "year": r.year,
                "url": r.url,
                "text": str(r),
            }
            for r in s.references
        ],
        "when_to_use": s.when_to_use,
        "aliases": _aliases_of(s.name),
        "curves": [
            {"axis": c.axis, "domain": _jsonable(list(c.domain)), "zero": _jsonable(c.zero), "label": c.label}
            for c in s.curves
        ],
    }


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in value.items()) or "-"
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value) or "-"
    return str(value)


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
    sys.stdout.write(json.dumps(_jsonable(obj), indent=2, allow_nan=False) + "\n")
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

Add [bold]--json[/] to any command for machine-readable output, [bold]--help[/] for details.
A tour on bundled data: [cyan]python -m losscraft.showcase[/] (make demo). Guide: docs/understanding-losses.md"""


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
            from .plotting import _check_save, curve_lines, draw

            specs = [get(n).spec for n in names]
            params = parse_params("plot", specs, param or [])
            sweeps = parse_sweep("plot", specs, sweep or [])
            dom = _parse_domain(domain)
            _check_save(output, "plot")  # an unwritable -o fails before any work is done
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

    return app


def _parse_domain(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    parts = text.split(",")
    try:
        if len(parts) != 2:
            raise ValueError(text)
        lo, hi = (_number(p, False) for p in parts)
    except ValueError:
        raise LosscraftError(f"plot: --domain must be two numbers lo,hi, got {text!r}") from None
    return (float(lo), float(hi))


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
