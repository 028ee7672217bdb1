"""`losscraft compare DATA`: --json matches the library, repeatable --loss (commas inside values), exit 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from losscraft.cli import make_app

typer_testing = pytest.importorskip("typer.testing")
pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")

FAST = ["--folds", "2", "--repeats", "1", "--epochs", "5", "--no-progress"]


@pytest.fixture(scope="module")
def app() -> Any:
    return make_app()


def run(app: Any, *args: str) -> Any:
    return typer_testing.CliRunner().invoke(app, list(args))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small regression table (with a text column left out of the features) and a binary one."""
    tmp = tmp_path_factory.mktemp("compare")
    rng = np.random.default_rng(0)
    n = 80
    x = rng.normal(size=(n, 2))
    y = x @ np.array([1.0, -2.0]) + rng.normal(scale=0.3, size=n)
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "city": ["x", "y"] * (n // 2), "price": y})
    frame.to_csv(tmp / "reg.csv", index=False)
    labels = (x[:, 0] + 0.3 * rng.normal(size=n) > 0).astype(np.int64)
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "label": labels}).to_csv(tmp / "cls.csv", index=False)
    return {"reg": tmp / "reg.csv", "cls": tmp / "cls.csv", "tmp": tmp}


def test_json_rows_as_asked_and_same_numbers_as_the_library(app: Any, files: dict[str, Path]) -> None:
    import losscraft

    res = run(
        app,
        "compare",
        str(files["reg"]),
        "-t",
        "price",
        "--loss",
        "huber:delta=0.5",
        "-l",
        "mae",
        *FAST,
        "--json",
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)  # nothing but the JSON object on stdout
    assert data["schema"] == "losscraft.compare/1" and data["task"] == "regression"
    # the two losses asked for, then the plain baseline the comparison adds
    assert [r["name"] for r in data["results"]] == ["huber", "mae", "mse"]
    assert data["results"][0]["params"] == {"delta": 0.5}
    assert data["settings"]["folds"] == 2 and data["settings"]["epochs"] == 5
    assert data["settings"]["n_features"] == 2  # the text column is not a feature
    frame = pd.read_csv(files["reg"])
    lib = losscraft.compare(
        frame[["a", "b"]].to_numpy(),
        frame["price"].to_numpy(),
        ["huber:delta=0.5", "mae"],
        folds=2,
        repeats=1,
        epochs=5,
        progress=False,
    )
    assert data["results"][1]["metrics"]["mae"]["per_fold"] == pytest.approx(
        list(lib["mae"].metrics["mae"].per_fold), rel=1e-9
    )


def test_loss_value_with_commas_is_one_quantile_candidate(app: Any, files: dict[str, Path]) -> None:
    res = run(
        app,
        "compare",
        str(files["reg"]),
        "-t",
        "price",
        "--features",
        "a,b",
        "--loss",
        "quantile:quantiles=0.05,0.95",
        "--goal",
        "interval:0.9",
        *FAST,
        "--json",
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    quant = data["results"][0]
    assert quant["name"] == "quantile" and quant["params"]["quantiles"] == [0.05, 0.95]
    assert quant["kind"] == "quantiles" and "coverage" in quant["metrics"]
    assert data["goal"] == "interval:0.9"


def test_table_output_names_losses_verdicts_and_report(app: Any, files: dict[str, Path]) -> None:
    report = files["tmp"] / "rep"
    args = ["compare", str(files["cls"]), "-t", "label", "-l", "focal", "--folds", "3", "--repeats", "1"]
    pytest.importorskip("matplotlib")
    try:
        import losscraft.guide.reporting  # noqa: F401
    except ImportError:
        res = run(app, *args, "--epochs", "5", "--no-progress")
    else:
        res = run(app, *args, "--epochs", "5", "--no-progress", "--report", str(report))
        assert (report / "report.md").is_file() and str(report / "report.md") in res.stdout
        json.loads((report / "report.json").read_text())
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert "cls.csv" in out and "target label, 80 rows, 2 feature columns" in out
    assert "focal" in out and "bce_with_logits [baseline]" in out
    assert "focal vs bce_with_logits" in out or "focal beats" in out or "focal loses" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{tmp}/nope.csv", "-t", "price"], "compare: no such file"),
        (["{reg}", "-t", "prize"], "compare: unknown column 'prize' in"),
        (["{reg}", "-t", "price", "--features", "a,zz"], "unknown column 'zz' in --features"),
        (["{reg}", "-t", "price", "-l", "hubber"], "compare: unknown loss 'hubber'"),
        (["{reg}", "-t", "price", "-l", "huber:delta=-1"], "delta"),
        (["{reg}", "-t", "price", "-l", "huber:delat=1"], "no hyperparameter 'delat'"),
        (["{reg}", "-t", "price", "--goal", "medain"], "medain"),
        (["{reg}", "-t", "price", "--contaminate", "outlier:2"], "outlier:2"),
        (["{reg}", "-t", "price", "--imbalance", "1/20"], "1/20"),
        (["{reg}", "-t", "price", "-l", "cross_entropy"], "does not fit a regression target"),
        (["{reg}", "-t", "price", "--folds", "1"], "'folds' must be an int >= 2"),
        (["{reg}", "-t", "price", "--model", "transformer"], "'model' must be 'linear', 'mlp'"),
    ],
)
def test_errors_exit_2_with_one_line(app: Any, files: dict[str, Path], args: list[str], message: str) -> None:
    argv = ["compare", *FAST, *(a.format(tmp=files["tmp"], reg=files["reg"]) for a in args)]
    res = run(app, *argv)
    assert res.exit_code == 2, res.output
    assert message in res.stderr and "Traceback" not in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert res.stdout == ""
    res = run(app, *argv, "--json")
    assert res.exit_code == 2
    err = json.loads(res.stdout)
    assert err["schema"] == "losscraft.error/1" and message in err["error"]


def test_bad_input_fails_before_the_file_is_read(app: Any, files: dict[str, Path]) -> None:
    """An unknown loss is reported even when the file is missing: options are checked first."""
    res = run(app, "compare", str(files["tmp"] / "nope.csv"), "-l", "hubber", *FAST)
    assert res.exit_code == 2 and "unknown loss 'hubber'" in res.stderr


def test_overview_lists_compare_and_demo(app: Any) -> None:
    out = run(app).stdout
    assert "losscraft compare" in out and "losscraft demo" in out
