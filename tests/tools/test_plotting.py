"""losscraft.plot: headless figures with the expected lines, values from closed forms, errors."""

from __future__ import annotations

import io
import math
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

import losscraft
from losscraft import LosscraftError
from losscraft.builder import custom_loss
from losscraft.plotting import curve_lines, mathtext, title_for

from lc_helpers import ENTRIES, IDS

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def _xy(line: object) -> tuple[np.ndarray, np.ndarray]:
    x, y = line.get_data()  # type: ignore[attr-defined]
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def test_four_regression_losses_png(tmp_path: Path) -> None:
    out = tmp_path / "reg.png"
    fig, axes = losscraft.plot(["mse", "mae", "huber", "log_cosh"], save=out)
    assert len(axes) == 2
    loss_ax, grad_ax = axes
    assert [len(a.get_lines()) for a in axes] == [4, 4]
    data = out.read_bytes()
    assert data[:8] == PNG and len(data) > 20_000
    # 100 dpi: the size in pixels is the figure size in inches x 100
    w, h = (int.from_bytes(data[i : i + 4], "big") for i in (16, 20))
    assert (w, h) == (round(fig.get_figwidth() * 100), round(fig.get_figheight() * 100))
    # values and gradients against the closed forms, on the default residual domain [-4, 4]
    refs = {
        "mse": (lambda r: r**2, lambda r: 2 * r),
        "mae": (np.abs, np.sign),
        "huber": (
            lambda r: np.where(np.abs(r) <= 1, 0.5 * r**2, np.abs(r) - 0.5),
            lambda r: np.clip(r, -1, 1),
        ),
        "log_cosh": (lambda r: np.log(np.cosh(r)), np.tanh),
    }
    for lv, lg, (name, (f, df)) in zip(loss_ax.get_lines(), grad_ax.get_lines(), refs.items(), strict=True):
        assert lv.get_label() == name and lg.get_label() == name
        x, v = _xy(lv)
        _, g = _xy(lg)
        assert x[0] == -4.0 and x[-1] == 4.0 and len(x) == 401
        np.testing.assert_allclose(v, f(x), rtol=1e-12, atol=1e-12)
        keep = np.abs(x) > 1e-9  # MAE's subgradient at 0 is a convention
        np.testing.assert_allclose(g[keep], df(x)[keep], rtol=1e-12, atol=1e-12)
    assert "residual" in loss_ax.get_xlabel()
    assert loss_ax.get_legend() is not None
    assert fig.get_suptitle() == "mse, mae, huber, log_cosh"


def test_huber_delta_sweep(tmp_path: Path) -> None:
    out = tmp_path / "huber.svg"
    fig, (loss_ax, grad_ax) = losscraft.plot("huber", sweep={"delta": [0.5, 1, 2]}, save=out)
    assert out.read_text().lstrip().startswith("<?xml") and "<svg" in out.read_text()
    assert len(loss_ax.get_lines()) == 3 and len(grad_ax.get_lines()) == 3
    labels = [ln.get_label() for ln in loss_ax.get_lines()]
    assert labels == ["delta=0.5", "delta=1", "delta=2"]
    for ln, delta in zip(grad_ax.get_lines(), (0.5, 1.0, 2.0), strict=True):
        x, g = _xy(ln)
        np.testing.assert_allclose(g, np.clip(x, -delta, delta), rtol=1e-12, atol=1e-12)
    colours = {tuple(ln.get_color()) for ln in loss_ax.get_lines()}
    assert len(colours) == 3
    title = fig.get_suptitle()
    assert title.startswith("huber:  $") and "sweep: delta" in title


def test_focal_gamma_sweep_matches_closed_form() -> None:
    gammas = [0, 1, 2, 3, 4, 5]
    _, (loss_ax, grad_ax) = losscraft.plot("binary_focal", params={"alpha": None}, sweep={"gamma": gammas})
    assert len(loss_ax.get_lines()) == 6 and len(grad_ax.get_lines()) == 6
    for ln, gamma in zip(loss_ax.get_lines(), gammas, strict=True):
        z, v = _xy(ln)
        p = _sigmoid(z)  # target 1: p_t = p, BCE = -log p
        np.testing.assert_allclose(v, -((1 - p) ** gamma) * np.log(p), rtol=1e-9)


def test_alpha_default_of_binary_focal() -> None:
    _, (loss_ax, _) = losscraft.plot("binary_focal", sweep={"gamma": [0]})
    z, v = _xy(loss_ax.get_lines()[0])
    np.testing.assert_allclose(v, -0.25 * np.log(_sigmoid(z)), rtol=1e-12)


def test_multi_branch_loss_draws_each_branch() -> None:
    _, (loss_ax, grad_ax) = losscraft.plot("contrastive")
    lines = loss_ax.get_lines()
    assert len(lines) == 2 and len(grad_ax.get_lines()) == 2
    by_label = {ln.get_label(): ln for ln in lines}
    assert set(by_label) == {"dissimilar pair", "similar pair"}
    assert by_label["dissimilar pair"].get_linestyle() != by_label["similar pair"].get_linestyle()
    d, v = _xy(by_label["similar pair"])
    np.testing.assert_allclose(v, 0.5 * d**2, atol=1e-12)
    d, v = _xy(by_label["dissimilar pair"])
    np.testing.assert_allclose(v, 0.5 * np.maximum(0.0, 1.0 - d) ** 2, atol=1e-12)
    assert "distance" in loss_ax.get_xlabel()


def test_pointwise_curve() -> None:
    _, (loss_ax, grad_ax) = losscraft.plot("info_nce", n=81)
    (ln,) = loss_ax.get_lines()
    x, v = _xy(ln)
    assert len(x) == 41  # pointwise curves use a coarser grid (n // 8, at least 41)
    assert np.isfinite(v).all() and np.isfinite(_xy(grad_ax.get_lines()[0])[1]).all()
    # one positive at cosine x, two orthogonal negatives, temperature 0.1 (the curve's definition)
    t = 0.1
    ref = -np.log(np.exp(x / t) / (np.exp(x / t) + 2 * np.exp(0.0)))
    np.testing.assert_allclose(v, ref, rtol=1e-9)


def test_different_axis_kinds_get_one_row_each() -> None:
    _fig, axes = losscraft.plot(["mse", "bce_with_logits", "huber"])
    assert axes.shape == (2, 2)
    assert [len(a.get_lines()) for a in axes[0]] == [2, 2]  # mse and huber on the residual axis
    assert [len(a.get_lines()) for a in axes[1]] == [1, 1]
    assert "residual" in axes[0, 0].get_xlabel() and "logit" in axes[1, 0].get_xlabel()


def test_no_gradient_panel_and_given_axes() -> None:
    fig, ax = losscraft.plot("mse", grad=False)
    assert len(fig.axes) == 1 and len(ax.get_lines()) == 1
    fig2, pair = plt.subplots(1, 2)
    out_fig, out_axes = losscraft.plot(["mse", "mae"], ax=pair)
    assert out_fig is fig2 and out_axes is pair
    assert [len(a.get_lines()) for a in pair] == [2, 2]
    with pytest.raises(LosscraftError, match=r"'ax' must be a pair of Axes"):
        losscraft.plot("mse", ax=pair[0])
    with pytest.raises(LosscraftError, match=r"different axes"):
        losscraft.plot(["mse", "bce_with_logits"], ax=pair)


def test_module_instance_and_custom_loss() -> None:
    _, (_, grad_ax) = losscraft.plot(losscraft.HuberLoss(delta=2.0))
    x, g = _xy(grad_ax.get_lines()[0])
    np.testing.assert_allclose(g, np.clip(x, -2.0, 2.0), atol=1e-12)

    ph = custom_loss(
        "plot_pseudo_huber",
        lambda input, target, *, k: k**2 * (torch.sqrt(1 + ((input - target) / k) ** 2) - 1),
        params={"k": 1.0},
        latex=r"k^2\left(\sqrt{1 + (r/k)^2} - 1\right)",
    )
    fig, (_loss_ax, grad_ax) = losscraft.plot(ph, sweep={"k": [0.5, 2.0]})
    for ln, k in zip(grad_ax.get_lines(), (0.5, 2.0), strict=True):
        r, g = _xy(ln)
        np.testing.assert_allclose(g, r / np.sqrt(1 + (r / k) ** 2), rtol=1e-12, atol=1e-12)
    assert fig.get_suptitle().startswith("plot_pseudo_huber:  $")
    fig.canvas.draw()  # the mathtext title renders


def test_params_flat_and_per_loss() -> None:
    lines = curve_lines(["huber", "cauchy", "mse"], params={"scale": 2.0})
    assert [ln.params.get("scale") for ln in lines] == [None, 2.0, None]
    lines = curve_lines(["huber", "cauchy"], params={"huber": {"delta": 3.0}, "cauchy": {"scale": 0.5}})
    assert lines[0].params["delta"] == 3.0 and lines[1].params["scale"] == 0.5
    lines = curve_lines(["mse", "huber"], sweep={"delta": [0.5, 1.0]})
    assert [ln.label for ln in lines] == ["mse", "huber (delta=0.5)", "huber (delta=1)"]
    # the same loss twice: the labels name the settings that differ
    lines = curve_lines(["huber", losscraft.HuberLoss(delta=2.0)])
    assert [ln.label for ln in lines] == ["huber", "huber (delta=2)"]
    # tensor hyperparameters from lists: pos_weight 3 on target 1 triples BCE
    (ln,) = curve_lines("bce_with_logits", params={"pos_weight": [3.0]})
    np.testing.assert_allclose(ln.value.numpy(), -3 * np.log(_sigmoid(ln.x.numpy())), rtol=1e-12)


def test_domain_override() -> None:
    (ln,) = curve_lines("mse", domain=(-10.0, 10.0), n=5)
    assert ln.x.tolist() == [-10.0, -5.0, 0.0, 5.0, 10.0]
    assert ln.value.tolist() == [100.0, 25.0, 0.0, 25.0, 100.0]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: losscraft.plot("hubr"), r"unknown loss 'hubr'; did you mean 'huber'"),
        (
            lambda: losscraft.plot("huber", params={"k": 1}),
            r"'huber' has no hyperparameter 'k' given in 'params' \(hyperparameters: delta\)",
        ),
        (
            lambda: losscraft.plot("huber", params={"delta": -1.0}),
            r"'delta' must be a float in \(0, inf\), got -1.0",
        ),
        (lambda: losscraft.plot("huber", sweep={"delta": []}), r"non-empty list"),
        (
            lambda: losscraft.plot("huber", sweep={"gamma": [1]}),
            r"'huber' has no hyperparameter 'gamma' given in 'sweep' \(hyperparameters: delta\)",
        ),
        (lambda: losscraft.plot([]), r"at least one loss"),
        (lambda: losscraft.plot(42), r"'loss' must be a loss name.*got int"),
        (lambda: losscraft.plot("mse", save="x.jpg"), r"'save' must end in .png, .svg or .pdf"),
        (lambda: losscraft.plot("bce", domain=(-1.0, 0.5)), r"leaves the valid range \[0, 1\]"),
        (lambda: losscraft.plot("mse", domain=(1.0, -1.0)), r"lo < hi"),
        (
            lambda: losscraft.plot(["huber", "cauchy"], params={"huber": {"delta": 1.0}, "mse": {}}),
            r"keyed by loss name",
        ),
    ],
)
def test_errors(call: object, match: str) -> None:
    with pytest.raises(LosscraftError, match=match):
        call()  # type: ignore[operator]


def test_unwritable_save_fails_before_drawing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad ``save`` path is a LosscraftError naming 'save', raised before any curve is computed."""
    import losscraft.plotting as plotting

    def no_work(*args: object, **kwargs: object) -> None:
        raise AssertionError("curves computed for a figure that cannot be saved")

    monkeypatch.setattr(plotting, "curve_lines", no_work)
    file = tmp_path / "file.txt"
    file.write_text("")
    (tmp_path / "d.png").mkdir()
    missing = tmp_path / "missing" / "x.png"
    cases = [
        (missing, f"cannot write 'save' '{missing}': the directory '{missing.parent}' does not exist"),
        (str(file / "x.png"), f"the directory '{file}' is not a directory"),
        (tmp_path / "d.png", "it is a directory"),
        (io.BytesIO(), "'save' must be a file path (str or os.PathLike), got BytesIO"),
    ]
    for save, message in cases:
        with pytest.raises(
            LosscraftError, match=re.escape(f"plot: {message}" if save is missing else message)
        ):
            losscraft.plot("mse", save=save)  # type: ignore[arg-type]
    assert plt.get_fignums() == []


def test_save_write_failure_is_a_library_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from matplotlib.figure import Figure

    def refuse(self: object, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Figure, "savefig", refuse)
    out = tmp_path / "x.png"
    with pytest.raises(
        LosscraftError, match=re.escape(f"plot: cannot write 'save' '{out}': Permission denied")
    ):
        losscraft.plot("mse", save=out)
    assert plt.get_fignums() == []  # the figure the caller never received is closed


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_every_entry_has_finite_lines(entry: losscraft.LossEntry) -> None:
    lines = curve_lines(entry.name, n=21)
    assert len(lines) == len(entry.spec.curves)
    for ln in lines:
        assert ln.x.shape == ln.value.shape == ln.gradient.shape
        assert torch.isfinite(ln.value).all() and torch.isfinite(ln.gradient).all()


def test_every_entry_in_one_figure() -> None:
    """Every registry entry drawn in one figure (a row per axis kind); rendering is tested by the other tests."""
    fig, axes = losscraft.plot([e.name for e in ENTRIES], n=21)
    n_curves = sum(len(e.spec.curves) for e in ENTRIES)
    assert axes.shape[1] == 2
    assert sum(len(row[0].get_lines()) for row in axes) == n_curves
    assert all(len(row[0].get_lines()) == len(row[1].get_lines()) for row in axes)
    assert len(fig.axes) == axes.size


def test_every_title_renders() -> None:
    """Each registry formula renders in mathtext (after translation) and is drawn without error."""
    fig = plt.figure(figsize=(12, 40))
    for i, e in enumerate(ENTRIES):
        title = title_for(e.spec)
        assert title.startswith(f"{e.name}:  $"), f"{e.name}: formula fell back to the name"
        fig.text(0.01, 1 - (i + 1) / (len(ENTRIES) + 1), title, fontsize=12)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=30)
    assert buf.getvalue()[:8] == PNG


def test_title_fallbacks() -> None:
    bad = custom_loss("plot_bad_latex", lambda input, target: (input - target) ** 2, latex=r"\notacommand{x")
    assert title_for(bad.spec) == "plot_bad_latex"
    plain = custom_loss("plot_no_latex", lambda input, target: (input - target) ** 2)
    assert title_for(plain.spec) == "plot_no_latex"
    assert title_for(losscraft.get("huber").spec, max_width_pt=10) == "huber"
    fig, _ = losscraft.plot(bad)
    fig.canvas.draw()


def test_mathtext_translation() -> None:
    assert mathtext(r"\tfrac12 r^2") == r"\frac{1}{2} r^2"
    assert mathtext(r"\begin{cases} a & x \le 1 \\ b & x > 1 \end{cases}") == (
        r"\{a\quad \mathrm{if}\; x \leq 1;\ b\quad \mathrm{if}\; x > 1\}"
    )
    assert mathtext(r"\bigl(\lVert x \rVert\bigr) \text{ if y}") == r"(\| x \|) \mathrm{\ if\ y}"


def test_missing_matplotlib_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install 'losscraft\[plot\]'"):
        losscraft.plot("mse")


def test_gradient_is_autograd_of_the_plotted_loss() -> None:
    """Independent check on a loss without a simple closed form: finite differences of the line."""
    _, (loss_ax, grad_ax) = losscraft.plot("cauchy", n=2001)
    x, v = _xy(loss_ax.get_lines()[0])
    _, g = _xy(grad_ax.get_lines()[0])
    fd = np.gradient(v, x)
    np.testing.assert_allclose(g[1:-1], fd[1:-1], atol=1e-4)
    np.testing.assert_allclose(v, np.log1p(0.5 * x**2), rtol=1e-12)
    assert math.isclose(float(np.abs(g).max()), 1 / math.sqrt(2), rel_tol=1e-4)


# --------------------------------------------------------------------------- docs/understanding-losses.md
ROOT = Path(__file__).resolve().parents[2]


def _gen_understanding():  # type: ignore[no-untyped-def]
    from lc_helpers import load_script

    return load_script("docs/gen_understanding.py")


def test_understanding_page_generates_and_is_current(tmp_path: Path) -> None:
    """The generator runs (into a tmp dir) and the committed page is its output (text; images may differ)."""
    gen = _gen_understanding()
    assert gen.main(["--out", str(tmp_path)]) == 0
    text = (tmp_path / "understanding-losses.md").read_text()
    assert text == (ROOT / "docs" / "understanding-losses.md").read_text(), "run `make docs`"
    linked = re.findall(r"!\[[^\]]*\]\(images/([^)]+)\)", text)
    assert len(linked) == 6
    for name in linked:
        for folder in (tmp_path / "images", ROOT / "docs" / "images"):
            data = (folder / name).read_bytes()
            assert data[:8] == PNG and 10_000 < len(data) < 250_000, name
    # the prose is drawn from the analysis: Huber's measured gradient bounds equal delta
    assert "delta=0.5 → \\|∂ℓ\\| ≤ 0.5, delta=1 → \\|∂ℓ\\| ≤ 1, delta=2 → \\|∂ℓ\\| ≤ 2" in text  # noqa: RUF001
