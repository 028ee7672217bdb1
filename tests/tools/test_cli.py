"""The `losscraft` command line: the installed entry point end to end, and in-process via CliRunner."""

from __future__ import annotations

import json
import math
import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

import losscraft
from losscraft import CHECKED_PROPERTIES, LosscraftError
from losscraft.cli import JSON_SCHEMAS, make_app, parse_params, parse_sweep, parse_value

typer_testing = pytest.importorskip("typer.testing")
pytest.importorskip("matplotlib")

PNG = b"\x89PNG\r\n\x1a\n"


def _script() -> str:
    exe = Path(sys.executable).with_name("losscraft")
    found = str(exe) if exe.exists() else shutil.which("losscraft")
    assert found, "the `losscraft` script is missing: run `pip install -e .` (make install does)"
    return found


# --------------------------------------------------------------------------- installed entry point
# Each run pays the interpreter + torch start-up (seconds): the other commands and options are
# covered in process below.
END_TO_END = {
    "analyze": ["analyze", "huber", "--param", "delta=2", "--json"],
    "plot": ["plot", "mse", "mae", "huber", "log_cosh", "-o", "{tmp}/curves.png", "--json"],
    "unknown": ["show", "hubr"],
    "bad_param": ["analyze", "huber", "--param", "delta=-1"],
    "missing_dir": ["plot", "mse", "-o", "{tmp}/missing/x.png"],
    "missing_dir_json": ["plot", "mse", "-o", "{tmp}/missing/x.png", "--json"],
}


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run every END_TO_END command through the installed script, concurrently (startup dominates)."""
    tmp = tmp_path_factory.mktemp("cli")
    env = {**os.environ, "COLUMNS": "120", "MPLBACKEND": "Agg"}
    procs = {
        key: subprocess.Popen(
            [_script(), *(a.format(tmp=tmp) for a in args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=tmp,
        )
        for key, args in END_TO_END.items()
    }
    # `import losscraft` must not import the optional dependencies (matplotlib, typer, rich)
    code = (
        "import sys, losscraft; bad = {'matplotlib', 'typer', 'rich'} & set(sys.modules); assert not bad, bad"
    )
    procs["core_import"] = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    out: dict[str, Any] = {"tmp": tmp}
    for key, p in procs.items():
        stdout, stderr = p.communicate(timeout=300)
        out[key] = (p.returncode, stdout, stderr)
    return out


def _ok(e2e: dict[str, Any], key: str) -> dict[str, Any]:
    code, stdout, stderr = e2e[key]
    assert code == 0, stderr
    return json.loads(stdout)


def test_import_losscraft_does_not_import_the_extras(e2e: dict[str, Any]) -> None:
    code, _, stderr = e2e["core_import"]
    assert code == 0, stderr


def test_e2e_analyze(e2e: dict[str, Any]) -> None:
    data = _ok(e2e, "analyze")
    a = data["analysis"]
    assert data["schema"] == "losscraft.analyze/1" and data["params"] == {"delta": 2.0}
    # Huber's gradient is clip(r, -delta, delta): bounded by delta; the loss grows linearly
    assert a["bounded_gradient"] is True and math.isclose(a["gradient_bound"], 2.0, rel_tol=1e-6)
    assert a["loss_growth"] == "linear" and a["gradient_growth"] == "bounded"
    assert a["curvature_kinks"] == pytest.approx([-2.0, 2.0], abs=1e-3)


def test_e2e_plot(e2e: dict[str, Any]) -> None:
    data = _ok(e2e, "plot")
    png = e2e["tmp"] / "curves.png"
    assert data["output"] == str(png) and data["format"] == "png"
    assert png.read_bytes()[:8] == PNG and png.stat().st_size > 20_000
    assert data["losses"] == ["mse", "mae", "huber", "log_cosh"]
    assert [ln["label"] for ln in data["lines"]] == data["losses"]
    assert data["panels"] == ["loss", "gradient"]


def test_e2e_unknown_name_exit_2(e2e: dict[str, Any]) -> None:
    code, stdout, stderr = e2e["unknown"]
    assert code == 2 and stdout == ""
    assert "unknown loss 'hubr'; did you mean 'huber'?" in stderr


def test_e2e_bad_param_exit_2(e2e: dict[str, Any]) -> None:
    code, _, stderr = e2e["bad_param"]
    assert code == 2
    assert "'delta' must be a float in (0, inf), got -1.0" in stderr


@pytest.mark.parametrize("key", ["missing_dir", "missing_dir_json"])
def test_e2e_unwritable_output_exit_2(e2e: dict[str, Any], key: str) -> None:
    code, stdout, stderr = e2e[key]
    path = e2e["tmp"] / "missing" / "x.png"
    assert code == 2 and "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    message = f"plot: cannot write 'save' '{path}': the directory '{path.parent}' does not exist"
    assert lines[0] == f"error: {message}"
    if key == "missing_dir_json":
        assert json.loads(stdout) == {"schema": "losscraft.error/1", "error": message}
    else:
        assert stdout == ""


def test_stdout_write_failure_is_one_line(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full")
    with open("/dev/full", "w") as full:
        p = subprocess.run(
            [_script(), "--version"], stdout=full, stderr=subprocess.PIPE, text=True, timeout=300
        )
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert p.stderr.strip() == "losscraft: cannot write the output: No space left on device"


# --------------------------------------------------------------------------- in process
@pytest.fixture(scope="module")
def app() -> Any:
    return make_app()


def run(app: Any, *args: str) -> Any:
    return typer_testing.CliRunner().invoke(app, list(args))


def run_json(app: Any, *args: str) -> dict[str, Any]:
    res = run(app, *args, "--json")
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_no_arguments_shows_overview(app: Any) -> None:
    res = run(app)
    assert res.exit_code == 0
    for cmd in ("losscraft list", "losscraft show", "losscraft analyze", "losscraft plot", "--json"):
        assert cmd in res.stdout
    assert run(app, "--version").stdout.strip() == losscraft.__version__
    assert run(app, "--help").exit_code == 0


def test_python_dash_m(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "argv", ["python -m losscraft"])
    main_py = Path(losscraft.__file__).with_name("__main__.py")
    with pytest.raises(SystemExit) as exc:  # what `python -m losscraft` executes
        runpy.run_path(str(main_py), run_name="__main__")
    assert exc.value.code == 0
    assert "losscraft list" in capsys.readouterr().out


def test_list_json_matches_registry(app: Any) -> None:
    data = run_json(app, "list")
    entries = losscraft.catalog()
    assert data["filters"] == {"family": None, "property": None}
    assert [row["name"] for row in data["losses"]] == [e.name for e in entries]
    for row, e in zip(data["losses"], entries, strict=True):
        s = e.spec
        assert row["family"] == str(s.family) and row["input_kind"] == str(s.input_kind)
        assert set(row["params"]) == {p.name for p in s.params}
        assert set(row["properties"]["measured"]) == {str(p) for p in s.properties & CHECKED_PROPERTIES}
        assert set(row["properties"]["advisory"]) == {str(p) for p in s.properties - CHECKED_PROPERTIES}


def test_list_filters(app: Any) -> None:
    data = run_json(app, "list", "--property", "robust_to_outliers", "--family", "regression")
    expected = {e.name for e in losscraft.catalog(property="robust_to_outliers", family="regression")}
    assert (
        {row["name"] for row in data["losses"]} == expected and "huber" in expected and "mse" not in expected
    )
    res = run(app, "list", "--family", "regression")
    assert res.exit_code == 0 and "huber" in res.stdout and "bce" not in res.stdout
    res = run(app, "list", "--family", "nope")
    assert res.exit_code == 2 and "list: 'family' must be one of 'regression'" in res.stderr


def test_show(app: Any) -> None:
    data = run_json(app, "show", "focal")
    s = losscraft.get("focal").spec
    assert data["schema"] == "losscraft.show/1"
    assert data["params"][0] == {
        "name": "gamma",
        "default": 2.0,
        "domain": "a float in [0, inf)",
        "doc": s.param("gamma").doc,
    }
    assert data["relations"] == [r.describe("focal") for r in s.relations]
    assert data["references"][0]["year"] == s.references[0].year
    assert "downweights_easy_examples" in data["properties"]["advisory"]
    assert data["curves"][0]["axis"] == "logit"
    alias = run_json(app, "show", "l1")
    assert alias["name"] == "mae" and "l1" in alias["aliases"]
    assert alias["function"] == "losscraft.functional.mae_loss" and alias["module"] == "losscraft.MAELoss"
    text = run(app, "show", "huber").stdout
    for needle in (
        "huber",
        r"\tfrac12 r_i^2",
        "delta",
        "a float in (0, inf)",
        "robust_to_outliers",
        "Huber",
        "1964",
    ):
        assert needle in text, needle


def test_analyze(app: Any) -> None:
    data = run_json(app, "analyze", "mse")
    a = data["analysis"]
    assert a["loss_growth"] == "quadratic" and a["gradient_growth"] == "linear"
    assert a["bounded_gradient"] is False and a["gradient_bound"] is None
    # focal's easy-example factor is (1 - p_t)^gamma = 0.1^gamma at p_t = 0.9
    data = run_json(app, "analyze", "binary_focal", "--param", "gamma=2", "-p", "alpha=none")
    assert data["params"] == {"gamma": 2.0, "alpha": None}
    assert math.isclose(data["analysis"]["easy_example_factor"], 0.1**2, rel_tol=1e-6)
    text = run(app, "analyze", "huber", "--param", "delta=2").stdout
    assert "analysis of huber(delta=2.0)" in text and "bounded gradient" in text and "<= 2" in text
    text = run(app, "analyze", "contrastive").stdout  # two branches: one column each
    assert "similar pair" in text and "dissimilar pair" in text


def test_analyze_json_is_the_report(app: Any) -> None:
    from losscraft.analysis import analyze

    data = run_json(app, "analyze", "log_cosh")
    assert data["analysis"] == json.loads(json.dumps(analyze("log_cosh").to_dict()))
    assert math.isclose(data["analysis"]["gradient_bound"], 1.0, rel_tol=1e-6)  # |tanh| < 1


def test_plot(app: Any, tmp_path: Path) -> None:
    out = tmp_path / "focal.png"
    data = run_json(app, "plot", "binary_focal", "--sweep", "gamma=0,1,2,3,4,5", "--no-grad", "-o", str(out))
    assert data["panels"] == ["loss"] and len(data["lines"]) == 6
    assert [ln["params"]["gamma"] for ln in data["lines"]] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert out.read_bytes()[:8] == PNG
    svg = tmp_path / "h.svg"
    res = run(app, "plot", "huber", "cauchy", "-p", "scale=2", "--domain", "-6,6", "-o", str(svg))
    assert res.exit_code == 0 and f"wrote {svg} (2 lines)" in res.stdout
    assert "<svg" in svg.read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "hubr"], "show: unknown loss 'hubr'; did you mean 'huber'? (see `losscraft list`)"),
        (["analyze", "focall"], "analyze: unknown loss 'focall'; did you mean"),
        (
            ["analyze", "huber", "--param", "k=1"],
            "analyze: 'huber' has no hyperparameter 'k' (hyperparameters: delta)",
        ),
        (
            ["analyze", "huber", "--param", "delta=abc"],
            "analyze: cannot parse --param delta='abc': 'delta' must be a float in (0, inf)",
        ),
        (["analyze", "huber", "--param", "delta=-1"], "'delta' must be a float in (0, inf), got -1.0"),
        (
            ["analyze", "cross_entropy", "--param", "ignore_index=99999999999999999999999"],
            "'ignore_index' must be an int in (-inf, inf), got 99999999999999999999999",
        ),
        (["analyze", "huber", "--param", "delta"], "--param must look like name=value, got 'delta'"),
        (
            ["plot", "huber", "--sweep", "delta=1,-1", "-o", "x.png"],
            "'delta' must be a float in (0, inf), got -1.0",
        ),
        (["plot", "huber", "--sweep", "delta=1,", "-o", "x.png"], "has an empty value"),
        (["plot", "huber", "-o", "x.jpg"], "'save' must end in .png, .svg or .pdf"),
        (["plot", "huber", "-o", "/nonexistent/x.png"], "the directory '/nonexistent' does not exist"),
        (["plot", "huber", "-o", "/nonexistent/x.png", "--json"], "the directory '/nonexistent' does not"),
        (["plot", "huber", "--domain", "1", "-o", "x.png"], "--domain must be two numbers lo,hi"),
        (
            ["plot", "mse", "huber", "-p", "gamma=1", "-o", "x.png"],
            "'mse', 'huber' have no hyperparameter 'gamma'",
        ),
    ],
)
def test_bad_input_exit_2(app: Any, args: list[str], message: str) -> None:
    res = run(app, *args)
    assert res.exit_code == 2, res.output
    assert message in res.stderr
    assert "Traceback" not in res.output


def test_unwritable_output_exit_2(app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "file.txt"
    file.write_text("")
    cases = {
        str(
            file / "x.png"
        ): f"plot: cannot write 'save' '{file / 'x.png'}': the directory '{file}' is not a directory",
        str(tmp_path / "d.png"): f"plot: cannot write 'save' '{tmp_path / 'd.png'}': it is a directory",
    }
    (tmp_path / "d.png").mkdir()
    for out, message in cases.items():
        res = run(app, "plot", "mse", "-o", out)
        assert res.exit_code == 2 and res.stderr.strip() == f"error: {message}", res.output
    # a failure while writing (permissions, a full disk): the same one line, not a traceback
    from matplotlib.figure import Figure

    def refuse(self: Any, *args: Any, **kwargs: Any) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Figure, "savefig", refuse)
    out = tmp_path / "x.png"
    res = run(app, "plot", "mse", "-o", str(out), "--json")
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert json.loads(res.stdout)["error"] == f"plot: cannot write 'save' '{out}': Permission denied"


def test_errors_as_json(app: Any) -> None:
    res = run(app, "analyze", "huber", "--param", "delta=-1", "--json")
    assert res.exit_code == 2
    data = json.loads(res.stdout)
    assert data["schema"] == "losscraft.error/1" and "'delta' must be" in data["error"]


def test_typer_usage_errors_exit_2(app: Any) -> None:
    assert run(app, "plot", "huber").exit_code == 2  # -o is required
    assert run(app, "frobnicate").exit_code == 2


def test_json_schemas_document_every_key(app: Any, tmp_path: Path) -> None:
    outputs = {
        "losscraft.list/1": run_json(app, "list"),
        "losscraft.show/1": run_json(app, "show", "huber"),
        "losscraft.analyze/1": run_json(app, "analyze", "mae"),
        "losscraft.plot/1": run_json(app, "plot", "mse", "-o", str(tmp_path / "m.png")),
        "losscraft.error/1": json.loads(run(app, "show", "nope", "--json").stdout),
    }
    for schema, obj in outputs.items():
        documented = {k.strip() for field in JSON_SCHEMAS[schema] for k in field.split(",")}
        assert obj["schema"] == schema
        assert set(obj) == documented, schema


# --------------------------------------------------------------------------- parsing
def test_parse_value_follows_the_domain() -> None:
    spec = losscraft.get
    assert parse_value("t", spec("huber").spec, "delta", "2") == 2.0
    assert parse_value("t", spec("huber").spec, "delta", "inf") == math.inf
    assert parse_value("t", spec("binary_focal").spec, "alpha", "None") is None
    assert parse_value("t", spec("cross_entropy").spec, "ignore_index", "-1") == -1
    assert isinstance(parse_value("t", spec("cross_entropy").spec, "ignore_index", "-1"), int)
    assert parse_value("t", spec("quantile").spec, "quantiles", "0.1,0.9") == [0.1, 0.9]
    assert parse_value("t", spec("batch_triplet").spec, "normalize", "false") is False
    assert parse_value("t", spec("batch_triplet").spec, "mining", "hard") == "hard"
    assert parse_value("t", spec("poisson_nll").spec, "log_input", "True") is True
    pw = parse_value("t", spec("bce_with_logits").spec, "pos_weight", "3,1")
    assert isinstance(pw, torch.Tensor) and pw.tolist() == [3.0, 1.0]
    with pytest.raises(LosscraftError, match=r"cannot parse --param ignore_index='1.5'.*an int"):
        parse_value("t", spec("cross_entropy").spec, "ignore_index", "1.5")
    with pytest.raises(LosscraftError, match=r"cannot parse --param mining='best'.*one of 'all'"):
        parse_value("t", spec("batch_triplet").spec, "mining", "best")


def test_parse_params_and_sweep() -> None:
    huber, cauchy = losscraft.get("huber").spec, losscraft.get("cauchy").spec
    assert parse_params("t", [huber, cauchy], ["delta=2", "scale=0.5"]) == {"delta": 2.0, "scale": 0.5}
    assert parse_sweep("t", huber, ["delta=0.5,1,2"]) == {"delta": [0.5, 1.0, 2.0]}
    with pytest.raises(LosscraftError, match=r"t: --sweep must look like name=value"):
        parse_sweep("t", huber, ["delta"])
    with pytest.raises(LosscraftError, match=r"cannot parse --sweep delta='x'"):
        parse_sweep("t", huber, ["delta=1,x"])
