"""compare(report=DIR): report.json, report.md and the PNG plots."""

from __future__ import annotations

import datetime
import json
import platform
import re
import struct
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sklearn
import torch
from sklearn.metrics import recall_score

import losscraft
from losscraft._core.errors import LosscraftError
from losscraft.guide.comparing import Comparison, compare
from losscraft.guide.metrics import Prediction
from losscraft.guide.reporting import (
    DPI,
    PLOTS,
    class_recall,
    empirical_coverage,
    write_report,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ADDED = {"report_schema", "rerun", "versions", "plots", "created"}
REG_LOSSES = ["mse", "huber", "quantile:quantiles=0.1,0.5,0.9"]
REG_KW: dict[str, Any] = {"folds": 2, "repeats": 1, "epochs": 30, "seed": 3, "progress": False}
BIN_KW: dict[str, Any] = {"folds": 3, "repeats": 1, "epochs": 15, "seed": 0, "progress": False}


def _regression() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    return X, X @ np.array([1.0, -2.0, 0.5, 0.0]) + rng.normal(size=200)


def _binary() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 4))
    return X, (X[:, 0] - X[:, 1] + 0.7 * rng.normal(size=200) > 0.6).astype(int)


@pytest.fixture(scope="module")
def reg(tmp_path_factory: pytest.TempPathFactory) -> tuple[Comparison, Path]:
    out = tmp_path_factory.mktemp("reg") / "nested" / "report"
    X, y = _regression()
    return compare(X, y, REG_LOSSES, report=out, **REG_KW), out


@pytest.fixture(scope="module")
def binary(tmp_path_factory: pytest.TempPathFactory) -> tuple[Comparison, Path]:
    out = tmp_path_factory.mktemp("bin")
    X, y = _binary()
    return compare(X, y, None, report=out, **BIN_KW), out


def _json(directory: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((directory / "report.json").read_text(encoding="utf-8"))
    return data


def _links(directory: Path) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", (directory / "report.md").read_text(encoding="utf-8"))


def _png_info(path: Path) -> tuple[int, int, float]:
    """Width, height and dots per inch read from the PNG's IHDR and pHYs chunks."""
    raw = path.read_bytes()
    assert raw[:8] == PNG_SIGNATURE
    assert raw[12:16] == b"IHDR"
    width, height = struct.unpack(">II", raw[16:24])
    i = raw.index(b"pHYs")
    ppm_x, _ppm_y, unit = struct.unpack(">IIB", raw[i + 4 : i + 13])
    assert unit == 1  # metres
    return width, height, ppm_x * 0.0254


# --------------------------------------------------------------------------- report.json
def test_json_is_the_comparison_plus_rerun_versions(reg: tuple[Comparison, Path]) -> None:
    c, out = reg
    data = _json(out)
    assert set(data) == set(c.to_dict()) | ADDED
    assert {k: v for k, v in data.items() if k not in ADDED} == json.loads(json.dumps(c.to_dict()))
    assert data["results"] == json.loads(json.dumps(c.to_dict()["results"]))
    assert [r["name"] for r in data["results"]] == ["mse", "huber", "quantile"]
    assert data["report_schema"] == "losscraft.report/1"

    rerun = data["rerun"]
    assert rerun["seed"] == 3 and rerun["folds"] == 2 and rerun["repeats"] == 1 and rerun["epochs"] == 30
    assert rerun["task"] is None  # detected, so a rerun detects it again (same profile text)
    assert rerun["model"] == "linear" and rerun["metric"] == c.metric
    assert (
        rerun["goal"] is None and rerun["contaminate"] is None
    )  # the default goal, derived again and rerun["imbalance"] is None
    assert rerun["n_jobs"] == 1 and rerun["n_samples"] == 200 and rerun["n_features"] == 4
    assert rerun["losses_from"] == "given" and rerun["not_recordable"] == []
    assert [cfg["name"] for cfg in rerun["losses"]] == ["mse", "huber", "quantile"]
    assert rerun["losses"][2]["quantiles"] == [0.1, 0.5, 0.9]
    assert [losscraft.build(cfg).get_config() for cfg in rerun["losses"]] == rerun["losses"]

    assert data["versions"] == {
        "losscraft": losscraft.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "matplotlib": pytest.importorskip("matplotlib").__version__,
        "python": platform.python_version(),
    }
    created = datetime.datetime.fromisoformat(data["created"])
    now = datetime.datetime.now(datetime.timezone.utc)
    assert created.tzinfo is not None and abs((now - created).total_seconds()) < 3600
    assert data["profile"]["task"] == "regression" and data["profile"]["n"] == 200


def test_same_compare_gives_the_same_report_but_the_time(
    reg: tuple[Comparison, Path], tmp_path: Path
) -> None:
    _, out = reg
    X, y = _regression()
    again = compare(X, y, REG_LOSSES, **REG_KW)
    assert write_report(again, tmp_path / "again") == tmp_path / "again"
    first, second = _json(out), _json(tmp_path / "again")
    first.pop("created")
    second.pop("created")
    assert first == second
    assert first["results"][0]["metrics"]["rmse"]["per_fold"]  # not vacuously equal


@pytest.mark.parametrize("which", ["reg", "binary"])
def test_rerun_snippet_reproduces_the_comparison(
    which: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c, out = request.getfixturevalue(which)
    md = (out / "report.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", md, re.S)
    assert code is not None and "losscraft.compare(" in code.group(1)
    X, y = _regression() if which == "reg" else _binary()
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"X": X, "y": y, "print": lambda *a: None}
    exec(code.group(1), namespace)
    rerun: Comparison = namespace["comparison"]
    assert rerun.to_dict() == c.to_dict()
    assert (tmp_path / "report" / "report.json").is_file()


# --------------------------------------------------------------------------- report.md and plots
def test_markdown_states_table_verdicts_method_and_links_existing_plots(reg: tuple[Comparison, Path]) -> None:
    c, out = reg
    md = (out / "report.md").read_text(encoding="utf-8")
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert sorted(_links(out)) == pngs
    assert set(pngs) == {
        PLOTS[k] for k in ("metrics", "differences", "learning_curves", "residuals", "coverage")
    }
    assert _json(out)["plots"] == {k: v for k, v in PLOTS.items() if v in pngs}
    rows = [line for line in md.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + len(c.results)  # header + one row per loss
    for r in c.results:
        assert any(line.startswith(f"| {r.name}") for line in rows)
    for v in c.verdicts:
        assert f"- {v}" in md
    assert "Nadeau & Bengio" in md and "corrected resampled t-test" in md
    assert "= 2 test folds" in md and "no p-values are given" in md  # J = 2: no test can be significant
    assert str(c.profile) in md
    assert "seed 3" in md and "2 folds x 1 repeats" in md


def test_pngs_are_real_images_at_the_stated_dpi(reg: tuple[Comparison, Path]) -> None:
    _, out = reg
    for name in _links(out):
        path = out / name
        assert path.stat().st_size > 5000, name
        width, height, dpi = _png_info(path)
        assert width >= 250 and height >= 200, name
        assert dpi == pytest.approx(DPI, abs=0.5), name


def test_classification_report_with_recommendations(binary: tuple[Comparison, Path]) -> None:
    c, out = binary
    assert c.recommendations is not None
    data = _json(out)
    assert data["rerun"]["losses_from"] == "recommend"
    assert data["rerun"]["task"] is None
    assert data["rerun"]["goal"] == (c.goal if c.settings["goal_given"] else None)
    assert data["rerun"]["losses"] == [r.config for r in c.results if r.source != "baseline"]
    assert data["recommendations"] == json.loads(json.dumps(c.recommendations.to_dict()))
    assert sorted(_links(out)) == sorted(p.name for p in out.glob("*.png"))
    assert set(data["plots"]) == {"metrics", "differences", "learning_curves", "class_recall"}
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "losses=None" in md and "## Recommendations" in md and "= 3 test folds" in md


def test_class_recall_matches_sklearn_on_the_compared_folds(binary: tuple[Comparison, Path]) -> None:
    c, _ = binary
    for row in c.fits:
        preds = [fr.prediction for fr in row]
        labels, rec = class_recall(preds)
        y = np.concatenate([p.y_true for p in preds])
        hat = np.concatenate([(p.proba > 0.5).astype(int) for p in preds])
        assert labels == (0, 1)
        np.testing.assert_allclose(rec, recall_score(y, hat, labels=[0, 1], average=None))


# --------------------------------------------------------------------------- plot data
def test_empirical_coverage_exact_on_a_uniform_grid() -> None:
    # y_i = (i + 1/2) / 1000 and constant quantiles q_t = t: exactly a share t of y lies below q_t
    y = (np.arange(1000) + 0.5) / 1000
    levels = (0.1, 0.5, 0.9)
    preds = [
        Prediction("quantiles", y[part], quantiles=np.tile(levels, (len(part), 1)), levels=levels)
        for part in (np.arange(0, 1000, 2), np.arange(1, 1000, 2))
    ]
    got_levels, cov = empirical_coverage(preds)
    assert got_levels == levels
    np.testing.assert_allclose(cov, [0.1, 0.5, 0.9])
    with pytest.raises(LosscraftError, match="same levels"):
        empirical_coverage([preds[0], Prediction("regression", y, point=y)])


def test_class_recall_multiclass_and_multilabel_by_hand() -> None:
    # class "a": 2 samples, 1 predicted a; "b": 1 sample, predicted b; "c": 1 sample, predicted a
    proba = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.6, 0.2, 0.2]])
    p = Prediction("multiclass", np.array(["a", "a", "b", "c"]), proba=proba, classes=("a", "b", "c"))
    labels, rec = class_recall([p])
    assert labels == ("a", "b", "c")
    np.testing.assert_allclose(rec, [0.5, 1.0, 0.0])
    # label 0: positives rows 0, 1 -> one found; label 1: no positives -> NaN
    y = np.array([[1, 0], [1, 0], [0, 0]])
    ml = Prediction("multilabel", y, proba=np.array([[0.9, 0.2], [0.3, 0.1], [0.7, 0.6]]))
    labels, rec = class_recall([ml])
    assert labels == (0, 1)
    assert rec[0] == 0.5 and np.isnan(rec[1])


# --------------------------------------------------------------------------- files and errors
def test_stale_plots_of_an_earlier_report_are_removed(
    binary: tuple[Comparison, Path], tmp_path: Path
) -> None:
    c, _ = binary
    for key in ("residuals", "coverage"):
        (tmp_path / PLOTS[key]).write_bytes(PNG_SIGNATURE)
    (tmp_path / "mine.png").write_bytes(PNG_SIGNATURE)  # not a report name: left alone
    write_report(c, tmp_path)
    assert not (tmp_path / PLOTS["residuals"]).exists() and not (tmp_path / PLOTS["coverage"]).exists()
    assert (tmp_path / "mine.png").exists()
    assert sorted(_links(tmp_path)) == sorted(p.name for p in tmp_path.glob("*.png") if p.name != "mine.png")


def test_a_file_in_the_way_is_a_clear_error(binary: tuple[Comparison, Path], tmp_path: Path) -> None:
    c, _ = binary
    blocker = tmp_path / "taken"
    blocker.write_text("x")
    with pytest.raises(LosscraftError, match="is a file"):
        write_report(c, blocker)
    with pytest.raises(LosscraftError, match="is a file"):
        write_report(c, blocker / "below")
    with pytest.raises(LosscraftError, match="directory path"):
        write_report(c, 3)  # type: ignore[arg-type]


def test_without_matplotlib_nothing_is_written(
    binary: tuple[Comparison, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c, _ = binary
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"losscraft\[plot\]"):
        write_report(c, tmp_path / "out")
    assert not (tmp_path / "out").exists()
