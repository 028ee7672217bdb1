"""Regenerate docs/choosing-a-loss.md from the guide's rule table (run by `make docs`; checked by the tests).

The decision table is rendered from :mod:`losscraft.guide.rules` (every row with its condition,
effect, reason and source), and the worked examples run :func:`losscraft.recommend` on data
that ships inside the scikit-learn, statsmodels and scikit-image wheels (``sklearn.datasets.load_*``,
``statsmodels.datasets.*.load_pandas``, ``skimage.data``: no download), so the page cannot drift
from the code. ``--check`` compares instead of writing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

import losscraft
from losscraft.guide import rules

OUT = Path(__file__).with_name("choosing-a-loss.md")


@dataclass(frozen=True)
class Example:
    title: str
    blurb: str
    code: str  # runs in the page's shared namespace (docs code blocks are executed by the tests)
    load: Callable[[], tuple[Any, Any]]  # (target, features) the code computes
    goal: str | None = None
    task: str | None = None  # overrides the detected task, as the code does


def _diabetes() -> tuple[Any, Any]:
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True)
    return y, x


def _cancer() -> tuple[Any, Any]:
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    return y, x


def _wine() -> tuple[Any, Any]:
    from sklearn.datasets import load_wine

    x, y = load_wine(return_X_y=True)
    return y, x


def _digit_zero() -> tuple[Any, Any]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return (y == 0).astype(np.int64), x


def _digits() -> tuple[Any, Any]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return y, x


def _randhie() -> tuple[Any, Any]:
    from statsmodels.datasets import randhie

    data = randhie.load_pandas()
    return data.endog, data.exog


def _stackloss() -> tuple[Any, Any]:
    from statsmodels.datasets import stackloss

    data = stackloss.load_pandas()
    return data.endog, data.exog


def _engel() -> tuple[Any, Any]:
    from statsmodels.datasets import engel

    data = engel.load_pandas().data  # its endog is income: the target here is the food spending
    return data["foodexp"], data[["income"]]


def _fair() -> tuple[Any, Any]:
    from statsmodels.datasets import fair

    data = fair.load_pandas()
    return data.endog, data.exog


def _anes96() -> tuple[Any, Any]:
    from statsmodels.datasets import anes96

    data = anes96.load_pandas()
    return data.endog, data.exog


TILE = 64  # side of the segmentation tiles, in pixels


def _tiles(mask: Any) -> Any:
    """A 2-D boolean mask cropped to a multiple of TILE and cut into (N, TILE, TILE) uint8 masks."""
    rows, cols = mask.shape[0] // TILE, mask.shape[1] // TILE
    cropped = mask[: rows * TILE, : cols * TILE]
    tiles = cropped.reshape(rows, TILE, cols, TILE).swapaxes(1, 2).reshape(-1, TILE, TILE)
    return tiles.astype(np.uint8)


def _coins() -> tuple[Any, Any]:
    from skimage import data
    from skimage.filters import threshold_otsu

    image = data.coins()
    return _tiles(image > threshold_otsu(image)), None  # one threshold for the whole image


def _horse() -> tuple[Any, Any]:
    from skimage import data

    return _tiles(~data.horse()), None  # horse() is True on the background


EXAMPLES: tuple[Example, ...] = (
    Example(
        "Diabetes progression: the default goal",
        "442 patients, 10 standardised features, a disease-progression score one year later "
        "(`sklearn.datasets.load_diabetes`). No goal given, so the guide assumes the mean.",
        "from sklearn.datasets import load_diabetes\n\n"
        "X, y = load_diabetes(return_X_y=True)\n"
        "recs = losscraft.recommend(y, features=X)\n"
        "print(recs[0].name, recs[0].params)",
        _diabetes,
    ),
    Example(
        "Diabetes progression: an 80% prediction interval",
        "The same data, but the model must output an interval: the goal sets the quantile levels "
        "(0.1 and 0.9) and only losses with a quantile-level hyperparameter qualify.",
        'recs = losscraft.recommend(y, features=X, goal="interval:0.8")\nprint(recs[0].name, recs[0].params)',
        _diabetes,
        "interval:0.8",
    ),
    Example(
        "Breast cancer: binary classification, calibrated probabilities",
        "569 tumours, 30 features, malignant (0) or benign (1) (`load_breast_cancer`); mildly imbalanced.",
        "from sklearn.datasets import load_breast_cancer\n\n"
        "X, y = load_breast_cancer(return_X_y=True)\n"
        "recs = losscraft.recommend(y, features=X)\n"
        "print([r.name for r in recs])",
        _cancer,
    ),
    Example(
        "Breast cancer: when minority recall is what counts",
        "Same data, goal `recall-minority`: the guide now accepts re-weighting or prior correction, "
        "and says what it costs.",
        'recs = losscraft.recommend(y, features=X, goal="recall-minority")\nprint([r.name for r in recs])',
        _cancer,
        "recall-minority",
    ),
    Example(
        "Wine: three balanced classes",
        "178 wines, 13 chemical measurements, 3 cultivars (`load_wine`).",
        "from sklearn.datasets import load_wine\n\n"
        "X, y = load_wine(return_X_y=True)\n"
        "recs = losscraft.recommend(y, features=X)\n"
        "print([r.name for r in recs])",
        _wine,
    ),
    Example(
        "Digits: ten classes",
        "1,797 8x8 images of handwritten digits as 64 pixel features (`load_digits`).",
        "from sklearn.datasets import load_digits\n\n"
        "X, digit = load_digits(return_X_y=True)\n"
        "recs = losscraft.recommend(digit, features=X)\n"
        "print([r.name for r in recs])",
        _digits,
    ),
    Example(
        "Digits: spotting the zeros (1:9 imbalance), minority recall",
        "The digits again, as a binary task: is it a 0? About one sample in ten is positive.",
        "is_zero = (digit == 0).astype(int)\n"
        'recs = losscraft.recommend(is_zero, features=X, goal="recall-minority")\n'
        "print([r.name for r in recs])",
        _digit_zero,
        "recall-minority",
    ),
    Example(
        "Doctor visits: a count target",
        "The RAND Health Insurance Experiment (`statsmodels.datasets.randhie.load_pandas`): "
        "20,190 person-years, the number of outpatient doctor visits `mdvis` (0 to 77, half of them "
        "0 or 1) against 9 covariates (log coinsurance, deductibles, income, health status). pandas "
        "objects go in as they are.",
        "from statsmodels.datasets import randhie\n\n"
        "data = randhie.load_pandas()\n"
        "y, X = data.endog, data.exog\n"
        "recs = losscraft.recommend(y, features=X)\n"
        "print([r.name for r in recs])",
        _randhie,
    ),
    Example(
        "Stack loss: 21 rows with known outliers",
        "Brownlee's stack-loss plant data (`statsmodels.datasets.stackloss.load_pandas`): the "
        "percentage of ammonia lost (`STACKLOSS`) on 21 days against air flow, cooling-water "
        "temperature and acid concentration, the classic robust-regression data set; observations "
        "1, 3, 4 and 21 are the known outliers (Rousseeuw and Leroy 1987).",
        "from statsmodels.datasets import stackloss\n\n"
        "data = stackloss.load_pandas()\n"
        "y, X = data.endog, data.exog\n"
        "recs = losscraft.recommend(y, features=X)\n"
        "print([r.name for r in recs])",
        _stackloss,
    ),
    Example(
        "Engel's food expenditure: an 80% interval under heteroscedasticity",
        "Engel's 1857 data on 235 Belgian working-class households "
        "(`statsmodels.datasets.engel.load_pandas`), Koenker's quantile-regression example: food "
        "expenditure `foodexp` against household `income`, with a spread that grows with income. "
        "The data set's own `endog` is income, so the columns are picked by name.",
        "from statsmodels.datasets import engel\n\n"
        "households = engel.load_pandas().data\n"
        'y, X = households["foodexp"], households[["income"]]\n'
        'recs = losscraft.recommend(y, features=X, goal="interval:0.8")\n'
        "print(recs[0].name, recs[0].params)",
        _engel,
        "interval:0.8",
    ),
    Example(
        "Fair's affairs: mostly zeros, long upper tail",
        "Fair's 1978 survey of 6,366 married women (`statsmodels.datasets.fair.load_pandas`): time "
        "spent in extramarital affairs (`affairs`, a non-negative rate, about two-thirds zeros, up to "
        "57.6) against marriage rating, age, years married, children, religiousness, education and "
        "occupations. Default goal (the mean).",
        "from statsmodels.datasets import fair\n\n"
        "data = fair.load_pandas()\n"
        "y, X = data.endog, data.exog\n"
        "recs = losscraft.recommend(y, features=X)\n"
        "print([r.name for r in recs])",
        _fair,
    ),
    Example(
        "Party identification: overriding the task (ordinal)",
        "The 1996 American National Election Study (`statsmodels.datasets.anes96.load_pandas`): "
        "944 respondents' party identification `PID` on a 7-point scale, 0 (strong Democrat) to 6 "
        "(strong Republican), against population, left-right self-placement, age, education and "
        "income. The scale is ordered, so the task is given explicitly; the default goal for ordered "
        "levels is their distribution, so the threshold models (one score against ordered cutpoints, "
        "or one binary task per cutpoint) are ranked.",
        "from statsmodels.datasets import anes96\n\n"
        "data = anes96.load_pandas()\n"
        "y, X = data.endog, data.exog\n"
        'recs = losscraft.recommend(y, features=X, task="ordinal_regression")\n'
        "print([r.name for r in recs])",
        _anes96,
        task="ordinal_regression",
    ),
    Example(
        "Coins: binary segmentation masks",
        "scikit-image's `skimage.data.coins()` (303x384 greyscale, in the wheel), thresholded with "
        "Otsu's method over the whole image (`skimage.filters.threshold_otsu`) and cut into 64x64 "
        "tiles: 24 masks of shape (64, 64). No features; the default goal for segmentation is overlap.",
        "import numpy as np\n"
        "from skimage import data\n"
        "from skimage.filters import threshold_otsu\n\n"
        "image = data.coins()\n"
        "mask = image > threshold_otsu(image)\n"
        "rows, cols = mask.shape[0] // 64, mask.shape[1] // 64\n"
        "tiles = mask[: rows * 64, : cols * 64].reshape(rows, 64, cols, 64).swapaxes(1, 2)\n"
        "masks = tiles.reshape(-1, 64, 64).astype(np.uint8)\n"
        "recs = losscraft.recommend(masks)\n"
        "print([r.name for r in recs])",
        _coins,
    ),
    Example(
        "Horse silhouette: tiles with nothing in them",
        "The same tiling on `skimage.data.horse()` (328x400 binary silhouette, in the wheel; it is "
        "True on the background, so it is inverted): 30 masks, a similar foreground fraction, but "
        "about a quarter of the tiles hold no horse at all, and an overlap score (Dice, IoU) is "
        "undefined on an empty mask unless it is smoothed or pooled over the batch.",
        "horse = ~data.horse()\n"
        "rows, cols = horse.shape[0] // 64, horse.shape[1] // 64\n"
        "tiles = horse[: rows * 64, : cols * 64].reshape(rows, 64, cols, 64).swapaxes(1, 2)\n"
        "masks = tiles.reshape(-1, 64, 64).astype(np.uint8)\n"
        "recs = losscraft.recommend(masks)\n"
        "print([r.name for r in recs])",
        _horse,
    ),
)


# --------------------------------------------------------------------------- the decision table
def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _value(v: Any) -> str:
    if isinstance(v, (tuple, list, frozenset, set)):
        items = sorted(v, key=str) if isinstance(v, (frozenset, set)) else list(v)
        return "{" + ", ".join(_value(x) for x in items) + "}"
    if hasattr(v, "value") and isinstance(v.value, str):  # an enum
        return str(v.value)
    return str(v)


def _when(conditions: Sequence[tuple[str, str, Any]]) -> str:
    if not conditions:
        return "always"
    return " and ".join(f"`{fact} {op} {_value(value)}`" for fact, op, value in conditions)


def _select(select: Any) -> str:
    """The candidates a rule acts on, in words (only the fields that are set)."""
    words = {
        "properties": "has",
        "lacks": "lacks",
        "tasks": "serves",
        "roles": "data sets its",
        "input_kinds": "input",
        "target_kinds": "target",
    }
    parts = []
    for f in fields(select):
        v = getattr(select, f.name)
        if f.name in words and v:
            parts.append(f"{words[f.name]} {_value(v)}")
        elif f.name == "param" and v is not None:
            parts.append(f"{v[0]}={v[1]!r}")
        elif f.name == "baseline" and v is not None:
            parts.append("the plain baseline" if v else "not the baseline")
        elif f.name == "combination" and v is not None:
            parts.append("combinations" if v else "single losses")
    return "; ".join(parts) or "every candidate"


def _effect(rule: Any) -> str:
    if rule.action == "prefer":
        return f"prefer ({rule.weight:+g})"
    if rule.action == "set" and rule.value is not None:
        return f"set `{rule.value[0]}={rule.value[1]!r}`"
    return str(rule.action)


def decision_table() -> list[str]:
    lines = [
        "| rule | when | effect | on losses that | reason (filled in with the measured value) | source |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rules.RULES:
        lines.append(
            f"| `{r.id}` | {_when(r.when)} | {_effect(r)} | {_cell(_select(r.select))} | "
            f"{_cell(r.reason)} | {_cell(r.source)} |"
        )
    return lines


def task_tables() -> list[str]:
    lines = [
        "| task | plain baseline | default goal | why that goal | goals accepted |",
        "| --- | --- | --- | --- | --- |",
    ]
    for task, (goal, why) in rules.DEFAULT_GOALS.items():
        base = rules.BASELINES.get(task)
        accepted = ", ".join(f"`{g}`" for g in rules.TASK_GOALS.get(task, ()))
        lines.append(
            f"| {task.value} | {f'`{base}`' if base else '—'} | `{goal}` | {_cell(why)} | {accepted} |"
        )
    if rules.FALLBACKS:
        lines += ["", "When no registered loss serves a task, the guide falls back and says so:", ""]
        for fb in rules.FALLBACKS:
            lines.append(f"- **{fb.task.value}** → {', '.join(t.value for t in fb.others)}: {fb.reason}")
    if rules.COMBINATIONS:
        lines += ["", "Combinations built from the baseline plus a second loss:", ""]
        for c in rules.COMBINATIONS:
            tasks = ", ".join(sorted(t.value for t in c.tasks))
            lines.append(f"- `{c.id}` ({tasks}): baseline + each loss that {_select(c.second)} — {c.source}")
    return lines


# --------------------------------------------------------------------------- worked examples
def _short(value: Any) -> str:
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        shown = ", ".join(_short(v) for v in value[:6])
        return f"[{shown}{', ...' if len(value) > 6 else ''}]"
    return repr(value)


def example(ex: Example, previous: str | None = None) -> tuple[list[str], str]:
    """The example's section, and its profile's text (a repeated profile is not printed again)."""
    y, x = ex.load()
    recs = losscraft.recommend(y, features=x, goal=ex.goal, task=ex.task)
    how = "the default for this task" if recs.default_goal else "as asked"
    measured = str(recs.profile).rstrip()
    lines = [f"### {ex.title}", "", ex.blurb, "", "```python", ex.code, "```", ""]
    if measured == previous:
        lines += ["The profile is the one above.", ""]
    else:
        lines += ["What the guide measured:", "", "```text", measured, "```", ""]
    lines += [
        f"Recommendations for the goal `{recs.goal}` ({how}):",
        "",
        "| # | loss | settings from the data | why |",
        "| --- | --- | --- | --- |",
    ]
    for i, r in enumerate(recs, 1):
        params = ", ".join(f"`{k}={_short(v)}`" for k, v in r.params.items()) or "defaults"
        why = "<br>".join(_cell(reason) for reason in r.reasons)
        lines.append(f"| {i} | `{r.name}` | {params} | {why} |")
    if recs.notes:
        lines += ["", "Notes:", ""]
        lines += [f"- {_cell(n)}" for n in recs.notes]
    if recs.avoid:
        lines += ["", "Avoid:", ""]
        lines += [f"- `{a.name}`: {a.reason}" for a in recs.avoid]
    return [*lines, ""], measured


INTRO = """\
# Choosing a loss for your data

<!-- generated by docs/gen_choosing.py from losscraft.guide.rules and bundled data; do not edit by hand -->

`losscraft.profile(y, features=X)` measures what matters for the choice (the task, class
balance, outliers on the residuals of a robust pilot fit, tail weight, label noise...), and
`losscraft.recommend(y, features=X, goal=...)` ranks the catalog's losses for that data and
that goal, sets their hyperparameters from the data, and says why. The goal comes first: a
loss should be consistent with the metric you will be judged on (Gneiting 2011). The same from
the shell: `losscraft recommend data.csv --target price --features all [--goal G] [--json]`.

The guide needs the `[guide]` extra (scikit-learn, scipy, pandas, pyarrow; statsmodels and
scikit-image for the bundled data of the worked examples below):
`pip install 'losscraft[guide]'`. `import losscraft` does not import them.

```python
import losscraft
```
"""


def render() -> str:
    lines = [INTRO]
    lines += ["## Tasks, baselines and goals", ""]
    lines += task_tables()
    lines += [
        "",
        "## The decision table",
        "",
        "Every rule the guide applies, in order (`losscraft.guide.rules.RULES`). Candidates come "
        "from the registry's metadata (tasks, properties, input/target kinds, hyperparameter roles), "
        "not from loss names: a new loss with the right properties becomes recommendable without "
        "touching the guide. *prefer* adds its weight to a candidate's score; *avoid* removes it and "
        "lists it with the reason; *require* keeps only the selected candidates; *set* fixes a "
        "hyperparameter. Sources marked [measured], [lit] and [heur] refer to the design notes' "
        "measurements, the literature and heuristics.",
        "",
    ]
    lines += decision_table()
    lines += [
        "",
        "## Worked examples",
        "",
        "On data that ships with scikit-learn, statsmodels and scikit-image (no download).",
        "",
    ]
    previous = None
    for ex in EXAMPLES:
        section, previous = example(ex, previous)
        lines += section
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        current = OUT.read_text() if OUT.exists() else ""
        if current != text:
            print("docs/choosing-a-loss.md is out of date: run `make docs`", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT} ({len(rules.RULES)} rules, {len(EXAMPLES)} examples)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
