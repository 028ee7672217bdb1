"""Regenerate docs/migrating.md from the peer-equivalents table (run by `make docs`; checked by the tests).

Every row of :data:`equivalents.EQUIVALENTS` becomes a line of its library's table; the rows whose
note describes a difference on purpose are gathered again at the end. Each row is also a parity
test (``tests/docs/test_migrating.py``), so the page cannot promise a value the code does not give.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

OUT = Path(__file__).with_name("migrating.md")


def _equivalents() -> ModuleType:
    """``docs/equivalents.py``, imported by path (this script runs from anywhere)."""
    path = OUT.with_name("equivalents.py")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclass looks the module up
    spec.loader.exec_module(mod)
    return mod


def code(expr: str) -> str:
    """An expression as inline code inside a Markdown table cell."""
    return "`" + expr.replace("|", "\\|") + "`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _anchor(heading: str) -> str:
    """The id Python-Markdown's ``toc`` extension gives a heading (its default ``slugify``)."""
    slug = re.sub(r"[^\w\s-]", "", heading).strip().lower()
    return re.sub(r"[-\s]+", "-", slug)


INTRO = """\
# Migrating from other libraries

Coming from torch.nn, torchvision, MONAI, segmentation_models_pytorch, kornia, Keras 3 or
pytorch-metric-learning? Find your current loss call below: the losscraft call next to it gives
**the same value and the same gradients**. Each row is a test: `tests/docs/test_migrating.py`
runs both calls on the same float64 inputs and compares the loss and the gradient of every
differentiable input (logits, predictions, embeddings, regression targets) to a relative
tolerance of $10^{-6}$. The few rows where the peer computes in float32 (MONAI's focal loss) or
accepts only float32 (segmentation_models_pytorch's Lovász loss) are compared at $10^{-5}$ and
say so. The rows are generated from one table, `docs/equivalents.py`, which also feeds the
"Equivalent calls" section of every loss's page.

How to read a row:

* The calls are single expressions over named tensors: `x` logits (or predictions), `y` targets
  (class indices for multi-class losses, as in torch), `t` the one-hot form of `y`, `q`
  target probabilities, `p` predicted probabilities, `m` a binary mask with its channel
  dimension and `yb` the same labels without it; `z`, `z1`, `z2` embeddings and `a`, `p`, `n`
  anchors, positives and negatives. `INPUTS` in `docs/equivalents.py` builds every one of them.
* losscraft's calls use `import losscraft.functional as LF`; each function also has a Module
  form in `losscraft.nn` (`LF.dice_loss` is `losscraft.nn.DiceLoss`).
* Arguments are written out where the defaults differ (smoothing, `alpha`, temperature,
  reductions). losscraft's `"mean"` is the (weighted) mean over samples; see
  [Conventions](conventions.md).
* torchvision and segmentation_models_pytorch do not install beside the CPU torch this project
  pins; their rows are checked against their functions transcribed from their source
  (`tests/docs/peer_formulas.py`, versions cited there).
* Keras runs on its torch backend. Its loss classes compute in `keras.config.floatx()` (float32
  unless you change it; the tests set float64) and return a float32 scalar on the torch backend.
* A note says where the libraries differ: argument conventions, and the differences on purpose,
  gathered again [at the end](#differences-on-purpose).
"""


def render() -> str:
    eq = _equivalents()
    out = [INTRO]
    out.append("Libraries: " + ", ".join(f"[{lib}](#{_anchor(lib)})" for lib in eq.LIBRARIES) + ".\n")
    for library in eq.LIBRARIES:
        rows = [r for r in eq.EQUIVALENTS if r.library == library]
        out.append(f"## {library}\n")
        out.append(f"Imports: {code(eq.IMPORTS[library])}.\n")
        out.append(f"| {library} call | losscraft call | Notes |")
        out.append("|---|---|---|")
        for r in rows:
            out.append(f"| {code(r.peer)} | {code(r.ours)} | {_cell(r.note)} |")
        out.append("")
    out.append("## Differences on purpose\n")
    out.append(
        "Where a peer's loss differs from losscraft's on purpose (another convention, another default, "
        "or a value that breaks down at extreme inputs), the rows above give the call that matches; "
        "here are the differences and their reasons. Two of them are also shown failing in the peer "
        "by the tests: torchvision's NaN gradient at logits of $\\pm 100$ and Keras' clipped binary "
        "cross-entropy.\n"
    )
    for library in eq.LIBRARIES:
        rows = [r for r in eq.EQUIVALENTS if r.library == library and r.on_purpose]
        if not rows:
            continue
        out.append(f"**{library}**\n")
        for r in rows:
            out.append(f"* `{r.entry}`, {code(r.peer)}: {r.note}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if OUT.read_text() != text:
            print(f"{OUT} is stale: run `make docs`", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
