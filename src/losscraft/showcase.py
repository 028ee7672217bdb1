"""``python -m losscraft.showcase``: a tour of the catalog on bundled data (``make demo``).

1. the catalog, with each loss's measured properties;
2. robust regression: scikit-learn's bundled diabetes data with 15% of the training targets
   corrupted by gross outliers, fitted with each regression loss (Huber's ``delta`` set from
   the data: 1.345 x the MAD of a first L1 fit's residuals);
3. imbalanced classification: scikit-learn's breast-cancer data subsampled to ~6% positives,
   fitted with BCE, BCE with ``pos_weight`` and focal loss;
4. numerics: float16 logits of +-1e4 through losscraft and through the textbook formulas;
5. loss and gradient curves for every family, written to ``<out>/curves.png``.

Needs the ``[all]`` extra (rich, matplotlib, scikit-learn); the library core does not.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import torch

import losscraft
import losscraft.functional as LF
from losscraft import CHECKED_PROPERTIES

__all__ = ["main"]


def _console() -> Any:
    from rich.console import Console

    # at least 120 columns: the catalog table is unreadable at the 80 of a non-terminal (CI log)
    return Console(width=max(Console().width, 120))


def _table(title: str, columns: list[str], rows: list[list[str]]) -> Any:
    from rich.table import Table

    t = Table(title=title, title_justify="left", header_style="bold")
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*r)
    return t


def catalog_rows() -> list[list[str]]:
    """One row per registry entry: key, family, input -> target, defaults, measured properties."""
    rows = []
    for e in losscraft.catalog():
        s = e.spec
        hp = ", ".join(f"{p.name}={p.default!r}" for p in s.params) or "-"
        props = ", ".join(sorted(str(p) for p in s.properties if p in CHECKED_PROPERTIES))
        rows.append([s.name, str(s.family), f"{s.input_kind} -> {s.target_kind}", hp, props])
    return rows


def _fit_linear(
    x: torch.Tensor, y: torch.Tensor, loss: Any, steps: int, lr: float = 0.05
) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    w = torch.zeros(x.shape[1], dtype=x.dtype, requires_grad=True)
    b = torch.zeros((), dtype=x.dtype, requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss(x @ w + b, y).backward()
        opt.step()
    return w.detach(), b.detach()


def robust_regression(steps: int, progress: Any = None) -> list[dict[str, float | str]]:
    """Fit each regression loss on diabetes data with corrupted training targets."""
    from sklearn.datasets import load_diabetes
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    x_np, y_np = load_diabetes(return_X_y=True)
    xtr, xte, ytr, yte = train_test_split(x_np, y_np, test_size=0.3, random_state=0)
    sx = StandardScaler().fit(xtr)
    xtr_t = torch.tensor(sx.transform(xtr), dtype=torch.float32)
    xte_t = torch.tensor(sx.transform(xte), dtype=torch.float32)
    med = float(torch.tensor(ytr).median())
    mad = float((torch.tensor(ytr) - med).abs().median()) * 1.4826
    ytr_t = (torch.tensor(ytr, dtype=torch.float32) - med) / mad
    yte_t = torch.tensor(yte, dtype=torch.float32)
    g = torch.Generator().manual_seed(0)
    bad = torch.rand(len(ytr_t), generator=g) < 0.15
    ytr_t = torch.where(bad, ytr_t + 12.0 + 4.0 * torch.rand(len(ytr_t), generator=g), ytr_t)

    # Huber's delta from the data: 1.345 x the robust scale of a first L1 fit's residuals.
    w, b = _fit_linear(xtr_t, ytr_t, losscraft.MAELoss(), steps)
    res = ytr_t - (xtr_t @ w + b)
    delta = 1.345 * float((res - res.median()).abs().median()) * 1.4826
    candidates = {
        "mse": losscraft.MSELoss(),
        "mae": losscraft.MAELoss(),
        f"huber (delta={delta:.2f} from data)": losscraft.HuberLoss(delta=delta),
        "log_cosh": losscraft.LogCoshLoss(),
        "quantile (tau=0.5)": losscraft.QuantileLoss(quantiles=0.5),
    }
    out: list[dict[str, float | str]] = []
    task = progress.add_task("robust regression", total=len(candidates)) if progress else None
    for name, loss in candidates.items():
        w, b = _fit_linear(xtr_t, ytr_t, loss, steps)
        pred = (xte_t @ w + b) * mad + med
        out.append(
            {
                "loss": name,
                "test MAE": float((pred - yte_t).abs().mean()),
                "test RMSE": float(((pred - yte_t) ** 2).mean().sqrt()),
            }
        )
        if progress:
            progress.advance(task)
    return out


def imbalanced_classification(steps: int, progress: Any = None) -> list[dict[str, float | str]]:
    """BCE vs BCE+pos_weight vs focal on breast-cancer data with ~6% positives."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.metrics import average_precision_score, balanced_accuracy_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    x_np, y_np = load_breast_cancer(return_X_y=True)
    y_np = 1 - y_np  # malignant = positive
    g = torch.Generator().manual_seed(1)
    pos = torch.nonzero(torch.tensor(y_np) == 1).flatten()
    neg = torch.nonzero(torch.tensor(y_np) == 0).flatten()
    keep_pos = pos[torch.randperm(len(pos), generator=g)[:22]]
    idx = torch.cat([neg, keep_pos]).numpy()
    x_np, y_np = x_np[idx], y_np[idx]
    xtr, xte, ytr, yte = train_test_split(x_np, y_np, test_size=0.4, random_state=0, stratify=y_np)
    sx = StandardScaler().fit(xtr)
    xtr_t = torch.tensor(sx.transform(xtr), dtype=torch.float32)
    xte_t = torch.tensor(sx.transform(xte), dtype=torch.float32)
    ytr_t = torch.tensor(ytr, dtype=torch.float32)
    n_pos = float(ytr_t.sum())
    pw = torch.tensor([(len(ytr_t) - n_pos) / n_pos])
    candidates = {
        "bce_with_logits": losscraft.BCEWithLogitsLoss(),
        f"bce_with_logits (pos_weight={pw.item():.1f} from data)": losscraft.BCEWithLogitsLoss(pos_weight=pw),
        "binary_focal (gamma=2, alpha=0.25)": losscraft.BinaryFocalLoss(),
        "binary_focal (gamma=2, alpha=0.75)": losscraft.BinaryFocalLoss(alpha=0.75),
    }
    out: list[dict[str, float | str]] = []
    task = progress.add_task("imbalanced classification", total=len(candidates)) if progress else None
    for name, loss in candidates.items():
        w, b = _fit_linear(xtr_t, ytr_t, loss, steps, lr=0.02)
        score = torch.sigmoid(xte_t @ w + b).numpy()
        out.append(
            {
                "loss": name,
                "balanced accuracy": float(balanced_accuracy_score(yte, score > 0.5)),
                "average precision": float(average_precision_score(yte, score)),
            }
        )
        if progress:
            progress.advance(task)
    return out


def numerics() -> list[dict[str, str]]:
    """float16 logits of +-1e4: losscraft vs the textbook formulas."""
    x = torch.tensor([1e4, -1e4, 3.0], dtype=torch.float16)
    t = torch.tensor([0.0, 1.0, 1.0], dtype=torch.float16)
    p = torch.sigmoid(x)
    naive_bce = -(t * torch.log(p) + (1 - t) * torch.log(1 - p)).mean()
    pt = p * t + (1 - p) * (1 - t)
    naive_focal = (-((1 - pt) ** 2) * torch.log(pt)).mean()
    logits = torch.tensor([[1e4, -1e4, 0.0]], dtype=torch.float16)
    naive_ce = -torch.log(torch.softmax(logits, 1)[0, 1])
    r = torch.tensor([1e4], dtype=torch.float32)
    rows = [
        ("BCE, fp16 logits +-1e4", naive_bce, LF.bce_with_logits_loss(x, t)),
        ("focal, fp16 logits +-1e4", naive_focal, LF.binary_focal_loss(x, t, alpha=None)),
        (
            "cross-entropy, fp16 logit 1e4 wrong class",
            naive_ce,
            LF.cross_entropy_loss(logits, torch.tensor([1])),
        ),
        (
            "log-cosh, residual 1e4 (float32)",
            torch.log(torch.cosh(r)).mean(),
            LF.log_cosh_loss(r, torch.zeros(1)),
        ),
    ]
    return [
        {"case": c, "textbook formula": f"{float(a):.6g}", "losscraft": f"{float(b):.6g}"} for c, a, b in rows
    ]


def plot_curves(path: Path) -> None:
    """Loss and gradient along each family's curve, from the specs' ``Curve`` definitions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = {
        "regression (x = residual)": ["mse", "mae", "huber", "log_cosh", "quantile"],
        "binary classification (x = logit, target 1)": ["bce_with_logits", "binary_focal"],
        "multiclass (x = true-class logit)": ["cross_entropy", "focal"],
    }
    fig, axes = plt.subplots(2, len(groups), figsize=(5 * len(groups), 7), squeeze=False)
    for col, (title, names) in enumerate(groups.items()):
        for name in names:
            e = losscraft.get(name)
            curve = e.spec.curve
            if curve is None:
                continue
            x = torch.linspace(*curve.domain, 401, dtype=torch.float64, requires_grad=True)
            v = curve.values(e.function, x)
            (g,) = torch.autograd.grad(v.sum(), x)
            axes[0, col].plot(x.detach(), v.detach(), label=name)
            axes[1, col].plot(x.detach(), g, label=name)
        axes[0, col].set_title(title)
        axes[0, col].set_ylabel("loss")
        axes[1, col].set_ylabel("d loss / d x")
        axes[1, col].set_xlabel("x")
        for r in range(2):
            axes[r, col].grid(alpha=0.3)
            axes[r, col].legend(fontsize=8)
    fig.suptitle("losscraft: loss and gradient along each loss's curve (default hyperparameters)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Run the showcase; returns the process exit code."""
    ap = argparse.ArgumentParser(prog="python -m losscraft.showcase", description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="demo-output", help="directory for curves.png and results.json")
    ap.add_argument("--steps", type=int, default=600, help="optimisation steps per fitted model")
    args = ap.parse_args(argv)
    try:
        from rich.progress import Progress
    except ImportError:  # pragma: no cover
        print("the showcase needs the extras: pip install 'losscraft[all]'")
        return 2

    t0 = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    con = _console()
    con.rule(f"losscraft {losscraft.__version__}: {len(losscraft.catalog())} losses")
    con.print(
        _table(
            "Catalog (properties measured by the contract tests)",
            ["key", "family", "input -> target", "defaults", "properties"],
            catalog_rows(),
        )
    )
    with Progress(console=con, transient=True) as progress:
        reg = robust_regression(args.steps, progress)
        clf = imbalanced_classification(args.steps, progress)
    con.print(
        _table(
            "Robust regression: diabetes, 15% of training targets corrupted (lower is better)",
            ["loss", "test MAE", "test RMSE"],
            [[str(r["loss"]), f"{r['test MAE']:.1f}", f"{r['test RMSE']:.1f}"] for r in reg],
        )
    )
    con.print(
        _table(
            "Imbalanced classification: breast cancer, ~6% positives (higher is better)",
            ["loss", "balanced accuracy", "average precision"],
            [[str(r["loss"]), f"{r['balanced accuracy']:.3f}", f"{r['average precision']:.3f}"] for r in clf],
        )
    )
    num = numerics()
    con.print(
        _table(
            "Numerics at extreme inputs",
            ["case", "textbook formula", "losscraft"],
            [[r["case"], r["textbook formula"], r["losscraft"]] for r in num],
        )
    )
    png = out / "curves.png"
    plot_curves(png)
    results = {
        "regression": reg,
        "classification": clf,
        "numerics": num,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    (out / "results.json").write_text(json.dumps(results, indent=2, default=_json_default))
    con.print(f"wrote [bold]{png}[/] and [bold]{out / 'results.json'}[/] in {results['seconds']} s")
    return 0


def _json_default(o: object) -> object:
    if isinstance(o, float) and not math.isfinite(o):
        return str(o)
    return str(o)


if __name__ == "__main__":
    raise SystemExit(main())
