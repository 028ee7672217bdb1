# ruff: noqa: RUF001
"""Regenerate docs/understanding-losses.md and its figures (run by `make docs`; checked by the tests).

Every number on the page is measured by `losscraft.analyze` and every figure is drawn by
`losscraft.plot`, from the same functions you train with, so the page cannot drift from the code.

    python docs/gen_understanding.py               # writes docs/understanding-losses.md + docs/images/*.png
    python docs/gen_understanding.py --out DIR     # writes DIR/understanding-losses.md + DIR/images/*.png
    python docs/gen_understanding.py --check       # exit 1 if the committed page differs (text only)
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

import losscraft
from losscraft._core.describe import JSON_SCHEMAS
from losscraft.analysis import AnalysisReport, thresholds
from losscraft.analysis import analyze as _analyze
from losscraft.plotting import evaluate_curve

PAGE = "understanding-losses.md"
DOCS = Path(__file__).resolve().parent

GROWTH_PHRASE = {
    "bounded": "stays bounded",
    "logarithmic": "grows logarithmically",
    "sublinear": "grows sublinearly",
    "linear": "grows linearly",
    "superlinear": "grows faster than linearly",
    "quadratic": "grows quadratically",
    "exponential": "grows exponentially",
}


_CACHE: dict[tuple[str, tuple[tuple[str, Any], ...]], AnalysisReport] = {}


def analyze(name: str, **params: Any) -> AnalysisReport:
    """`losscraft.analyze`, memoised: several sections discuss the same losses."""
    key = (name, tuple(sorted(params.items())))
    if key not in _CACHE:
        _CACHE[key] = _analyze(name, **params)
    return _CACHE[key]


# --------------------------------------------------------------------------- formatting
def g(x: float | None, digits: int = 3) -> str:
    """A number with `digits` significant digits (stable across machines), or a dash."""
    if x is None:
        return "—"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x == 0.0:
        return "0"
    if abs(x) < 1e-12:  # keep float noise out of the committed page
        return "< 1e-12" if x > 0 else "> -1e-12"
    return f"{x:.{digits}g}"


def gradient_text(r: AnalysisReport) -> str:
    if r.bounded_gradient:
        return f"bounded, \\|∂ℓ\\| ≤ {g(r.gradient_bound)}"
    return f"unbounded ({r.gradient_growth})"


def smooth_text(r: AnalysisReport) -> str:
    if r.smoothness == "C0":
        return "kink at " + ", ".join(g(k) for k in r.kinks) if r.kinks else "C0"
    if r.smoothness == "C1" and r.curvature_kinks:
        return "C1 (curvature jumps at " + ", ".join(g(k) for k in r.curvature_kinks) + ")"
    return r.smoothness


def yes(b: bool | None) -> str:
    return "—" if b is None else ("yes" if b else "no")


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return [*out, ""]


def behaviour_rows(reports: Sequence[tuple[str, AnalysisReport]]) -> list[list[str]]:
    return [
        [
            f"`{label}`",
            r.loss_growth,
            gradient_text(r),
            smooth_text(r),
            yes(r.convex),
        ]
        for label, r in reports
    ]


BEHAVIOUR_HEADER = ["loss", "loss growth (\\|x\\| → ∞)", "gradient", "smoothness", "convex"]


def sentence(name: str, r: AnalysisReport) -> str:
    """One generated sentence on how the loss and its gradient grow."""
    text = f"`{name}`'s loss {GROWTH_PHRASE[r.loss_growth]}"
    if r.bounded_gradient:
        text += f" and its gradient is bounded by {g(r.gradient_bound)}"
    else:
        text += f"; its gradient {GROWTH_PHRASE[r.gradient_growth]}, without bound"
    if r.smoothness == "C0" and r.kinks:
        text += f"; it has a kink at {', '.join(g(k) for k in r.kinks)}"
    return text + "."


def gradient_at(name: str, x: float, **params: Any) -> float:
    """d loss / d x at one point of the loss's primary curve (the same code path as the plots)."""
    entry = losscraft.get(name)
    curve = entry.spec.curve
    assert curve is not None
    hp = {**{p.name: p.default for p in entry.spec.params}, **params}
    _, _, grad = evaluate_curve(entry.function, curve, hp, n=2, domain=(x, x + 1.0))
    return float(grad[0])


def shrink(path: Path) -> None:
    """Re-save a PNG with a 64-colour palette: about 4x smaller, indistinguishable for line plots."""
    from PIL import Image  # a matplotlib dependency

    with Image.open(path) as im:
        small = im.convert("RGB").quantize(64, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


# --------------------------------------------------------------------------- the page
class Page:
    def __init__(self, out: Path, images: bool) -> None:
        self.out = out
        self.images = images
        self.lines: list[str] = []
        self.figures: list[str] = []

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)

    def figure(self, file: str, alt: str, call: str, make: Callable[[Path], Any]) -> None:
        """Draw a figure with `make(path)` and link it, with the call that reproduces it."""
        if self.images:
            (self.out / "images").mkdir(parents=True, exist_ok=True)
            path = self.out / "images" / file
            fig, _ = make(path)
            plt.close(fig)
            shrink(path)
        self.figures.append(file)
        self.add(f"![{alt}](images/{file})", "", f"<sub>`{call}`</sub>", "")

    def text(self) -> str:
        return "\n".join(self.lines).rstrip() + "\n"


def regression(page: Page) -> None:
    names = ["mse", "mae", "huber", "log_cosh"]
    reports = [(n, analyze(n)) for n in names]
    page.add(
        "## Regression: MSE, MAE, Huber and Log-Cosh",
        "",
        "On the residual `r = ŷ − y` the four classic regression losses differ in how hard a large "
        "error pulls on the model. The gradient is what the optimiser sees:",
        "",
    )
    page.figure(
        "regression.png",
        "loss and gradient of mse, mae, huber and log_cosh along the residual",
        'losscraft.plot(["mse", "mae", "huber", "log_cosh"])',
        lambda p: losscraft.plot(names, save=p),
    )
    page.add(*table(BEHAVIOUR_HEADER, behaviour_rows(reports)))
    page.add(*[f"- {sentence(n, r)}" for n, r in reports], "")
    pull = {n: gradient_at(n, 10.0) / gradient_at(n, 1.0) for n in names}
    page.add(
        "How much harder a point with residual 10 pulls than one with residual 1 (ratio of the "
        "gradients): " + ", ".join(f"`{n}` {g(v)}×" for n, v in pull.items()) + ". Under MSE a single "
        "gross outlier can outweigh many ordinary points; under the bounded-gradient losses it "
        "counts about as much as any other badly fitted point.",
        "",
    )
    deltas = [0.5, 1.0, 2.0]
    bounds = [(d, analyze("huber", delta=d)) for d in deltas]
    page.add(
        "Huber's `delta` sets where the quadratic bowl turns into straight lines, which is also the "
        "clip level of the gradient (measured: "
        + ", ".join(f"delta={g(d)} → \\|∂ℓ\\| ≤ {g(r.gradient_bound)}" for d, r in bounds)
        + "). Choose it in the units of the residual: about 1.345 × a robust estimate of the noise scale.",
        "",
    )
    page.figure(
        "huber_delta.png",
        "huber for delta 0.5, 1 and 2",
        'losscraft.plot("huber", sweep={"delta": [0.5, 1, 2]})',
        lambda p: losscraft.plot("huber", sweep={"delta": deltas}, save=p),
    )


def robust(page: Page) -> None:
    names = ["mse", "huber", "cauchy", "welsch"]
    reports = [(n, analyze(n)) for n in names]
    page.add(
        "## Robust or not: what an outlier does",
        "",
        "A loss is robust to outliers when a far-away point cannot dominate the gradient. Huber "
        "caps the pull; Cauchy and Welsch go further: their gradient *falls* back towards 0 for "
        "large residuals (redescending), so gross outliers are effectively ignored, at the price "
        "of a non-convex loss (several minima are possible).",
        "",
    )
    page.figure(
        "robust.png",
        "loss and gradient of mse, huber, cauchy and welsch",
        'losscraft.plot(["mse", "huber", "cauchy", "welsch"], domain=(-6, 6))',
        lambda p: losscraft.plot(names, domain=(-6.0, 6.0), save=p),
    )
    rows = behaviour_rows(reports)
    for row, n in zip(rows, names, strict=True):
        row.append(g(abs(gradient_at(n, 10.0))))
    page.add(*table([*BEHAVIOUR_HEADER, "\\|∂ℓ/∂r\\| at r = 10"], rows))
    page.add(*[f"- {sentence(n, r)}" for n, r in reports], "")
    alphas = [2.0, 1.0, 0.0, -2.0, -10.0]
    barron = [(f"alpha={g(a)}", analyze("barron", alpha=a)) for a in alphas]
    page.add(
        "Barron's general loss has one shape parameter `alpha` that walks through this whole "
        "family: `alpha = 2` is MSE (½r²), 1 pseudo-Huber / Charbonnier, 0 Cauchy, −2 "
        "Geman-McClure, and −∞ Welsch. Lower `alpha` means more robust:",
        "",
    )
    page.figure(
        "barron_alpha.png",
        "barron for alpha 2, 1, 0, -2 and -10",
        'losscraft.plot("barron", sweep={"alpha": [2, 1, 0, -2, -10]})',
        lambda p: losscraft.plot("barron", sweep={"alpha": alphas}, save=p),
    )
    page.add(*table(["barron", *BEHAVIOUR_HEADER[1:]], behaviour_rows(barron)))


def classification(page: Page) -> None:
    gammas = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    bce = analyze("bce_with_logits")
    cw = bce.confident_wrong or {}
    measured = (
        f" (measured at z = {', '.join(g(x) for x in cw['x'])}: loss {', '.join(g(v) for v in cw['loss'])})"
        if cw.get("x")
        else ""
    )
    grad = (
        f"stays bounded by {g(bce.gradient_bound)}"
        if bce.bounded_gradient
        else GROWTH_PHRASE[bce.gradient_growth] + ", without bound"
    )
    page.add(
        "## Classification: cross-entropy and focal loss",
        "",
        "For a binary classifier the curve is the logit `z` of the true class (`p = σ(z)`). The loss "
        f"of binary cross-entropy (`bce_with_logits`) {GROWTH_PHRASE[bce.loss_growth]} as a "
        f"prediction becomes confidently wrong{measured}, while its gradient {grad}: on the logit "
        "scale a wrong example pulls with at most unit force, however wrong it is.",
        "",
        "Focal loss multiplies BCE by `(1 − p_t)^γ`, which leaves hard examples almost untouched "
        "and down-weights easy ones; `γ = 0` (with `alpha=None`) is BCE exactly, so the "
        "`bce_with_logits` line hides under `gamma=0`:",
        "",
    )
    page.figure(
        "bce_focal_gamma.png",
        "bce_with_logits and binary_focal for gamma 0 to 5",
        'losscraft.plot(["bce_with_logits", "binary_focal"], params={"alpha": None}, sweep={"gamma": [0, 1, 2, 3, 4, 5]})',
        lambda p: losscraft.plot(
            ["bce_with_logits", "binary_focal"], params={"alpha": None}, sweep={"gamma": gammas}, save=p
        ),
    )
    rows = []
    for gm in gammas:
        r = analyze("binary_focal", gamma=gm, alpha=None)
        rows.append(
            [
                g(gm),
                g(r.easy_example_factor),
                g(0.1**gm),
                g(r.easy_example_gradient_factor),
                r.loss_growth,
                gradient_text(r),
            ]
        )
    page.add(
        "The *easy-example factor* is the focal loss divided by BCE at an easy example with "
        "`p_t = 0.9`; it should be exactly `(1 − p_t)^γ = 0.1^γ`. The gradient is down-weighted "
        "a little less, because the factor itself depends on `p_t`:",
        "",
        *table(
            [
                "gamma",
                "loss ÷ BCE at p_t = 0.9",
                "0.1^γ",
                "gradient ÷ BCE gradient",
                "loss growth",
                "gradient",
            ],
            rows,
        ),
    )
    page.add(
        "Multiclass cross-entropy and focal loss behave the same way along the true class's logit "
        "(the other logits held at 0):",
        "",
    )
    page.figure(
        "ce_vs_focal.png",
        "cross_entropy and focal (gamma 2)",
        'losscraft.plot(["cross_entropy", "focal"])',
        lambda p: losscraft.plot(["cross_entropy", "focal"], save=p),
    )
    ce, fo = analyze("cross_entropy"), analyze("focal")
    page.add(
        *table(
            [*BEHAVIOUR_HEADER, "loss ÷ CE at p_t = 0.9"],
            [
                [*row, g(r.easy_example_factor)]
                for row, r in zip(
                    behaviour_rows([("cross_entropy", ce), ("focal", fo)]), (ce, fo), strict=True
                )
            ],
        )
    )


FACTOR_PATH = ".analysis.easy_example_factor"


def command_line(page: Page) -> None:
    factor = analyze("binary_focal", gamma=3.0, alpha=None).easy_example_factor
    alpha_factor = analyze("binary_focal", gamma=3.0).easy_example_factor
    alpha = losscraft.get("binary_focal").spec.param("alpha").default
    page.add(
        "## From the command line",
        "",
        "The same measurements and figures, for any loss in the catalog (`pip install 'losscraft[cli]'`):",
        "",
        "```bash",
        "losscraft list --property robust_to_outliers      # the catalog, filtered",
        "losscraft show huber                              # formula, hyperparameters, properties, references",
        "losscraft analyze huber --param delta=2           # the measurements on this page, as a table",
        "losscraft plot huber --sweep delta=0.5,1,2 -o huber.png",
        f"losscraft analyze binary_focal --param gamma=3 --param alpha=none --json | jq {FACTOR_PATH}",
        "```",
        "",
        "```text",
        g(factor, 12),  # jq prints all 17 digits; the last ones vary across machines
        "```",
        "",
        f"The last command prints the easy-example factor of the table above at `gamma=3`, "
        f"`0.1^3` (to rounding); `alpha=none` as in the table, since the default "
        f"`alpha={g(alpha)}` scales the positive class's loss by {g(alpha)} "
        f"({g(alpha_factor)} instead).",
        "",
        "Unknown names, bad parameters and an output file that cannot be written exit with code 2 "
        "and a one-line message (`did you mean 'huber'?`). "
        "`--json` prints one object whose `schema` key names its format (fields are only ever "
        'added; tensors are written as lists, non-finite floats as `"inf"`, `"-inf"`, `"nan"`, '
        "except inside `analysis`, where they are `null`):",
        "",
    )
    for schema, fields in JSON_SCHEMAS.items():
        page.add(f"- **`{schema}`**: " + "; ".join(f"`{k}`: {v}" for k, v in fields.items() if k != "schema"))
    page.add("")


def how_measured(page: Page) -> None:
    """What each measurement means and where it stops, with the thresholds the code uses."""
    t = thresholds

    def n(x: float) -> str:
        """`x` as code: a power of ten from 1e3 (or 1e-3) on as `1eK`, anything else as `:g` writes it."""
        k = round(math.log10(abs(x))) if x else 0
        return f"`1e{k}`" if abs(k) >= 3 and abs(x) == 10.0**k else f"`{x:g}`"

    lo, hi = (p for p, _ in t.SLOPES[:2])
    slopes = {cls: p for p, cls in t.SLOPES}
    page.add(
        "## How the measurements are made",
        "",
        "Everything is measured numerically in float64 along the loss's curves (the 1-D slices of its "
        "spec that `losscraft show NAME` lists), from autograd gradients; the second derivative is a "
        "finite difference of the gradient. Nothing in the analysis knows a particular loss. Every "
        "threshold below, with its reason, is in "
        "[`analysis/thresholds.py`](../src/losscraft/analysis/thresholds.py).",
        "",
        f"- **Grids.** The curve's domain on {t.GRID} points, each interval split {t.SUB}×, continued by "
        f"geometric tails to `|x|` = {n(t.FAR)} (or {n(1 / t.FAR)} from a finite end of the curve's range).",
        f"- **Growth** towards an end comes from the changes of the loss (or of `|gradient|`) over the "
        f"decades `t` = {n(0.1)} … {n(t.FAR)} (at a finite end, `t` is 1 / distance): `p`, the log-log "
        f"slope of the last decade, gives *bounded* (`p` < {n(lo)}, or no change left), *logarithmic* "
        f"({n(lo)} ≤ `p` < {n(hi)}), *sublinear* (`p` < {n(slopes['linear'])}), *linear* "
        f"(`p` < {n(slopes['superlinear'])}), *quadratic* ({n(t.QUADRATIC[0])} ≤ `p` < {n(t.QUADRATIC[1])}), "
        f"*superlinear* (any other `p` ≥ {n(slopes['superlinear'])}) and *exponential* (an overflow, or "
        f"anywhere a slope above {n(t.EXPONENTIAL_SLOPE)} that exceeds the one before by more than "
        f"{n(t.EXPONENTIAL_ACCELERATION)}). BCE on probabilities, `−log p`, grows logarithmically as "
        "`p → 0` and its gradient `−1/p` linearly. A curve grows as fast as its faster end; a loss as "
        "its fastest curve.",
        "- **Bounded gradient**: the gradient's growth is bounded at both ends and it is finite "
        "everywhere; the bound is the largest `|gradient|` seen on the grids (a sampled supremum: "
        "exactly `delta` for Huber).",
        "- **Smoothness**: *discontinuous* when the loss jumps, *C0* when the gradient jumps (a kink), "
        "*C1* when only the curvature jumps (Huber at `±delta`), *C2* otherwise. Each candidate jump "
        f"on the grid is zoomed into {t.LEVELS} times: a jump keeps its size, a smooth change shrinks; "
        f"locations are accurate to about {n(1e-4)} of a grid step. *Smoothness at zero* counts only "
        f"jumps within {n(t.AT_ZERO_WIDTH)} × the domain width of zero.",
        f"- **Convex**: second differences ≥ −{n(t.CONVEX_RTOL)} · max(1, max loss) on the domain, and "
        "non-decreasing slopes on the tails towards infinite ends (near a finite end the curve's own "
        "construction dominates, e.g. the triplet curve's `eps`).",
        f"- **Minimum at zero** (where the prediction equals the target): `loss(zero)` ≤ `loss(x)` + "
        f"{n(t.MINIMUM_RTOL)} · max(1, `|loss(zero)|`) on the grids; **symmetric**: `loss(zero − t)` = "
        f"`loss(zero + t)` (relative tolerance {n(t.SYMMETRY_RTOL)}) across the domain, and far out when "
        "both ends are infinite.",
        "- **Confident wrong** (logit and probability curves): the loss and gradient at `zero` ∓ "
        + ", ".join(n(x) for x in t.WRONG_LOGITS)
        + " logits, or "
        + ", ".join(n(x) for x in t.WRONG_PROBABILITIES)
        + " from the wrong end of a probability, with that end's growth.",
        "- **Easy-example factor** (logit curves whose inputs also fit plain BCE-with-logits or "
        f"cross-entropy): `loss / CE` where CE says `p_t` = {n(t.EASY_PT)}, and the same for the gradient.",
        "- **Measured properties** hold on every curve: `nonnegative` (also on random samples from the "
        f"spec), `zero_at_match` (minimum at zero with `|loss(zero)|` < {n(t.ZERO_ATOL)}), `symmetric`, "
        "`convex`, `smooth` (C1 or C2), `bounded_gradient`, `scale_invariant` (random inputs rescaled by "
        + " and ".join(n(x) for x in t.SCALES)
        + " give the same loss) and `needs_logits` (the input kind). The contract tests check that they "
        "equal the declared properties of every built-in loss.",
        "",
        f"**Limits.** The measurements are on sampled points: a jump below {n(t.JUMP_RTOL)} · (1 + `|f|`), "
        f"or closer to another than a grid step, is not seen; growth is judged up to `|x|` = {n(t.FAR)} "
        f"(a loss whose tail starts beyond about {n(t.FAR / 10)}, e.g. Huber with `delta` = "
        f"{n(t.FAR / 10)}, is misclassified); symmetry and the easy-example factor use the domain and the "
        "primary point only. Losses that mix samples (batch statistics) are analysed along their "
        "spec's curve only, and a curve that cannot give one loss value per point for some "
        'hyperparameters (a segmentation curve with `aggregate="batch"`) is an error.',
        "",
    )


def render(out: Path, images: bool = True) -> str:
    """Build the page (and, with `images`, write its figures to `out/images`); return the markdown."""
    torch.manual_seed(0)
    page = Page(out, images)
    page.add(
        "# Understanding losses: the loss and its gradient",
        "",
        "<!-- generated by docs/gen_understanding.py (make docs); do not edit by hand -->",
        "",
        "People choose between MSE and Huber, or cross-entropy and focal loss, because of how the "
        "loss and, above all, its gradient behave as the error grows: the gradient is all the "
        "optimiser sees. Every number below is measured by "
        "[`losscraft.analyze`](../src/losscraft/analysis/report.py) and every figure is drawn by "
        "[`losscraft.plot`](../src/losscraft/plotting.py), from the same functions you train with "
        "(float64, autograd gradients); run them on any loss, including your own "
        "([design your own](design-your-own.md)). Growth classes describe `|x| → ∞` (or the end of "
        "a finite range); “kink” means the gradient jumps there. Formulas and references: "
        "[catalog](catalog.md).",
        "",
    )
    regression(page)
    robust(page)
    classification(page)
    command_line(page)
    how_measured(page)
    return page.text()


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--out", type=Path, default=DOCS, help="directory for the page and images/")
    ap.add_argument("--check", action="store_true", help="compare the page's text with the committed one")
    args = ap.parse_args(argv)
    if args.check:
        text = render(args.out, images=False)
        current = (DOCS / PAGE).read_text() if (DOCS / PAGE).exists() else ""
        if current != text:
            print(f"docs/{PAGE} is out of date: run `make docs`", file=sys.stderr)
            return 1
        return 0
    text = render(args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / PAGE).write_text(text)
    print(f"wrote {args.out / PAGE} and {len(list((args.out / 'images').glob('*.png')))} images")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
