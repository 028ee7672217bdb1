"""`losscraft demo --quick`: the whole guide end to end on bundled data; its reports exist and parse."""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("sklearn")
pytest.importorskip("rich")

from losscraft.guide.demo import CASES, FULL, QUICK, run_demo

HAS_REPORTING = importlib.util.find_spec("losscraft.guide.reporting") is not None


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Any], str, Path]:
    from rich.console import Console

    out = tmp_path_factory.mktemp("demo")
    buf = io.StringIO()
    con = Console(file=buf, width=160, highlight=False)
    results = run_demo(out, quick=True, n_jobs=1, progress=False, report=HAS_REPORTING, console=con)
    return results, buf.getvalue(), out


def test_quick_demo_runs_every_case_with_its_stress_test(demo: tuple[list[Any], str, Path]) -> None:
    results, _text, _ = demo
    assert [r.case.key for r in results] == ["diabetes", "breast_cancer"]
    diabetes, cancer = (r.comparison for r in results)
    assert diabetes.task == "regression" and diabetes.settings["contaminate"] == "outliers:0.1"
    assert cancer.task == "binary_classification" and cancer.settings["imbalance"] == "1:20"
    assert cancer.goal == "recall-minority" and cancer.metric == "balanced_accuracy"
    for r in results:
        cmp = r.comparison
        assert cmp.settings["folds"] == QUICK.folds and cmp.settings["epochs"] == QUICK.epochs
        assert cmp.recommendations is not None and len(cmp.recommendations) >= 1
        # the recommendations plus the plain baseline were compared
        names = [x.name for x in cmp.results]
        assert cmp.baseline in names and set(names) >= {x.name for x in cmp.recommendations}
    # the stress tests touched the training folds only: the test folds keep the real targets,
    # the training folds of the diabetes case hold corrupted ones, the cancer case's are subsampled
    _, y = CASES[0].load()
    fold = diabetes.folds[0]
    assert (fold.y_train != y[fold.train_idx]).any()
    _, yc = CASES[1].load()
    cfold = cancer.folds[0]
    counts = {c: int((cfold.y_train == c).sum()) for c in (0, 1)}
    assert counts[0] * 15 < counts[1]  # about 1:20 left of the 212:357 malignant:benign split
    assert (cancer.fits[0][0].prediction.y_true == yc[cfold.test_idx]).all()


def test_quick_demo_prints_each_step(demo: tuple[list[Any], str, Path]) -> None:
    results, text, _ = demo
    for step in ("1. profile", "2. recommend", "3. compare", "4. report"):
        assert text.count(step) == len(results)
    assert 'contaminate="outliers:0.1"' in text and 'imbalance="1:20"' in text
    assert f"{QUICK.folds} folds x {QUICK.repeats} repeats" in text
    for r in results:
        assert r.comparison.recommendations is not None
        top = r.comparison.recommendations[0]
        assert top.reasons[0] in text  # the reasons are printed
        assert all(v in text for v in r.comparison.verdicts)


@pytest.mark.skipif(not HAS_REPORTING, reason="losscraft.guide.reporting is not there yet")
def test_quick_demo_reports_exist_and_parse(demo: tuple[list[Any], str, Path]) -> None:
    results, text, out = demo
    for r in results:
        assert r.report_dir == out / r.case.key
        md = (r.report_dir / "report.md").read_text()
        data = json.loads((r.report_dir / "report.json").read_text())
        assert r.comparison.baseline in md and isinstance(data, dict)
        assert str(r.report_dir / "report.md") in text


def test_full_settings_give_a_usable_test() -> None:
    """The full demo has enough test folds for the corrected t-test to be meaningful (>= 10)."""
    assert FULL.folds * FULL.repeats >= 10 and QUICK.folds * QUICK.repeats < FULL.folds * FULL.repeats


def test_cli_demo_showcase_flag_runs_the_catalog_tour(monkeypatch: pytest.MonkeyPatch) -> None:
    """`losscraft demo --showcase` hands over to `python -m losscraft.showcase --out DIR`."""
    typer_testing = pytest.importorskip("typer.testing")
    import losscraft.showcase
    from losscraft.cli import make_app

    seen: list[list[str] | None] = []

    def fake_main(argv: list[str] | None = None) -> int:
        seen.append(argv)
        return 0

    monkeypatch.setattr(losscraft.showcase, "main", fake_main)
    res = typer_testing.CliRunner().invoke(make_app(), ["demo", "--showcase", "--out", "somewhere"])
    assert res.exit_code == 0, res.output
    assert seen == [["--out", "somewhere"]]
