"""`losscraft recommend DATA`: profile + ranked table + snippet, --json, and the exit-2 error paths."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import losscraft
from losscraft.cli import JSON_SCHEMAS, build_snippet, make_app

typer_testing = pytest.importorskip("typer.testing")
pd = pytest.importorskip("pandas")


def _script() -> str:
    exe = Path(sys.executable).with_name("losscraft")
    found = str(exe) if exe.exists() else shutil.which("losscraft")
    assert found, "the `losscraft` script is missing: run `pip install -e .` (make install does)"
    return found


@pytest.fixture(scope="module")
def app() -> Any:
    return make_app()


def run(app: Any, *args: str) -> Any:
    return typer_testing.CliRunner().invoke(app, list(args))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A regression table with one-sided gross outliers, an imbalanced binary .npy, a .npz."""
    tmp = tmp_path_factory.mktemp("recommend")
    rng = np.random.default_rng(0)
    n = 600
    x = rng.normal(size=(n, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + rng.normal(scale=0.5, size=n)
    y[: n // 10] += 25.0  # 10% gross outliers, all on one side
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "price": y}).to_csv(tmp / "reg.csv", index=False)
    labels = (rng.random(1000) < 0.04).astype(np.int64)  # about 1:24
    np.save(tmp / "labels.npy", labels)
    np.savez(tmp / "d.npz", X=x, y=y)
    (tmp / "text.csv").write_text("city,x\na,1\nb,2\na,3\n")
    (tmp / "one.csv").write_text("y\n1.5\n")
    (tmp / "empty.csv").write_text("")
    return {"csv": tmp / "reg.csv", "npy": tmp / "labels.npy", "npz": tmp / "d.npz", "tmp": tmp}


# --------------------------------------------------------------------------- installed entry point
def test_import_losscraft_stays_light_and_e2e(files: dict[str, Path]) -> None:
    """`import losscraft` pulls in neither the guide's extras; the script runs `recommend` end to end."""
    env = {**os.environ, "COLUMNS": "120"}
    code = (
        "import losscraft, sys; "
        "assert 'sklearn' not in sys.modules and 'pandas' not in sys.modules and 'scipy' not in sys.modules; "
        "assert callable(losscraft.profile) and callable(losscraft.recommend)"
    )
    light = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True, env=env)
    e2e = subprocess.Popen(
        [_script(), "recommend", str(files["csv"]), "--target", "price", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    missing = subprocess.Popen(
        [_script(), "recommend", str(files["tmp"] / "nope.csv")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    _, err = light.communicate(timeout=300)
    assert light.returncode == 0, err
    out, err = e2e.communicate(timeout=300)
    assert e2e.returncode == 0, err
    data = json.loads(out)
    assert data["schema"] == "losscraft.recommend/1" and data["profile"]["task"] == "regression"
    _, err = missing.communicate(timeout=300)
    assert missing.returncode == 2 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and "no such file" in err


# --------------------------------------------------------------------------- in process
def test_lazy_faces_match_the_guide() -> None:
    """`losscraft.profile` / `losscraft.recommend` take exactly the guide's arguments."""
    import inspect

    import losscraft.guide

    def params(fn: Any) -> list[tuple[str, Any, Any]]:
        return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]

    assert params(losscraft.profile) == params(losscraft.guide.profile)
    assert params(losscraft.recommend) == params(losscraft.guide.recommend)
    assert "losscraft.guide" in (losscraft.profile.__doc__ or "")


def test_overview_lists_recommend(app: Any) -> None:
    assert "losscraft recommend" in run(app).stdout


def test_table_output_has_profile_ranking_and_snippet(app: Any, files: dict[str, Path]) -> None:
    res = run(app, "recommend", str(files["csv"]), "--target", "price", "--features", "all")
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert "target price, 600 rows, 3 feature columns" in out
    assert "regression" in out and "recommended losses, goal" in out
    assert "losscraft.build(" in out and "import losscraft" in out


def test_json_matches_the_library_and_its_schema(app: Any, files: dict[str, Path]) -> None:
    res = run(app, "recommend", str(files["npy"]), "--top", "2", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    documented = {k.strip() for field in JSON_SCHEMAS["losscraft.recommend/1"] for k in field.split(",")}
    assert set(data) == documented
    assert data["data"]["rows"] == 1000 and data["data"]["target"] == "<array>"
    assert data["profile"]["task"] == "binary_classification"
    recs = losscraft.recommend(np.load(files["npy"]), top=2)
    assert [r["name"] for r in data["recommendations"]] == [r.name for r in recs]
    assert data["default_goal"] is True and data["goal"] == str(recs.goal)
    assert data["snippet"] == build_snippet(recs[0].config)


def test_snippet_builds_the_top_choice(app: Any, files: dict[str, Path]) -> None:
    res = run(app, "recommend", str(files["npz"]), "--target", "y", "--features", "X", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    ns: dict[str, Any] = {}
    exec(data["snippet"], ns)
    assert ns["loss"].get_config() == losscraft.build(data["recommendations"][0]["config"]).get_config()
    assert data["data"]["features"] == ["X"]


def test_goal_task_and_top_options(app: Any, files: dict[str, Path]) -> None:
    res = run(
        app, "recommend", str(files["csv"]), "-t", "price", "--goal", "interval:0.8", "--top", "1", "--json"
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["goal"] == "interval:0.8" and data["default_goal"] is False
    assert len(data["recommendations"]) == 1
    res = run(app, "recommend", str(files["npy"]), "--task", "regression", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["profile"]["task"] == "regression"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{tmp}/nope.csv"], "recommend: no such file"),
        (["{csv}", "--target", "prize"], "recommend: unknown column 'prize' in"),
        (
            ["{csv}", "--target", "price", "--features", "a,zz"],
            "unknown column 'zz' in --features (columns: a, b",
        ),
        (["{csv}"], "has 4 columns: name the target with --target (columns: a, b, c, price)"),
        (["{csv}", "--target", "price", "--goal", "medain"], "medain"),
        (["{tmp}/x.xlsx"], "unsupported file type '.xlsx'"),
        (["{csv}", "--target", "price", "--task", "nonsense"], "nonsense"),
        (["{tmp}/text.csv", "--target", "city"], "encode class labels as integers"),
        (["{tmp}/one.csv"], "1 sample"),
        (["{tmp}/empty.csv"], "is empty"),
    ],
)
def test_errors_exit_2_with_one_line(app: Any, files: dict[str, Path], args: list[str], message: str) -> None:
    argv = ["recommend", *(a.format(tmp=files["tmp"], csv=files["csv"]) for a in args)]
    res = run(app, *argv)
    assert res.exit_code == 2, res.output
    assert message in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    res = run(app, *argv, "--json")
    assert res.exit_code == 2
    err = json.loads(res.stdout)
    assert err["schema"] == "losscraft.error/1" and message in err["error"]


def test_build_snippet_is_valid_python() -> None:
    config = {
        "name": "combined",
        "terms": {
            "bce_with_logits": {"name": "bce_with_logits", "pos_weight": [3.0], "label_smoothing": 0.0},
            "dice": {"name": "dice", "mode": "binary", "smooth": 1.0, "ignore_index": None},
        },
        "weights": {"bce_with_logits": 1.0, "dice": 1.0},
    }
    text = build_snippet(config)
    assert text.startswith("import losscraft\n") and "losscraft.build(" in text
    ns: dict[str, Any] = {}
    exec(text, ns)
    assert ns["loss"].get_config()["weights"] == config["weights"]
    huber = build_snippet({"name": "huber", "delta": math.inf, "reduction": "mean"})
    assert 'float("inf")' in huber
    compile(huber, "<snippet>", "exec")  # valid Python even where the value is not finite
