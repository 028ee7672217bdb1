"""Float64 references for the ordinal losses, written out from their sources (not from losscraft).

coral-pytorch (1.4.0, ``coral_pytorch/losses.py`` and ``dataset.py``) does not install with the
pinned torch, so its formulas are transcribed here: ``coral_loss`` (per-sample sum over the
tasks of the log-sigmoid BCE on the extended binary labels, then the mean over samples),
``corn_loss`` (per task, the samples with ``y > k - 1``; the sum of all terms divided by the
number of those conditional examples), ``proba_to_label`` and ``corn_label_from_logits``.
The cumulative-link model is McCullagh (1980), eq. 2.1, evaluated with plain sigmoids.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

f64 = torch.float64


def levels_from_labelbatch(y: torch.Tensor, num_classes: int) -> torch.Tensor:
    """coral-pytorch's extended binary labels: row ``[1] * y + [0] * (K - 1 - y)``."""
    rows = [[1.0] * int(v) + [0.0] * (num_classes - 1 - int(v)) for v in y]
    return torch.tensor(rows, dtype=f64).reshape(len(rows), num_classes - 1)


def ref_coral(
    logits: torch.Tensor, y: torch.Tensor, importance=None, reduction: str = "mean"
) -> torch.Tensor:
    """coral-pytorch ``coral_loss`` on ``levels_from_labelbatch(y)``."""
    levels = levels_from_labelbatch(y, logits.shape[1] + 1)
    term1 = F.logsigmoid(logits) * levels + (F.logsigmoid(logits) - logits) * (1 - levels)
    if importance is not None:
        term1 = term1 * importance
    val = -torch.sum(term1, dim=1)
    return {"mean": val.mean, "sum": val.sum, "none": lambda: val}[reduction]()


def ref_corn_pairs(logits: torch.Tensor, y_train: torch.Tensor, num_classes: int) -> torch.Tensor:
    """coral-pytorch 1.4.0 ``corn_loss``, line for line."""
    sets = []
    for i in range(num_classes - 1):
        label_mask = y_train > i - 1
        label_tensor = (y_train[label_mask] > i).to(torch.int64)
        sets.append((label_mask, label_tensor))
    num_examples = 0
    losses = torch.zeros((), dtype=logits.dtype)
    for task_index, (train_examples, train_labels) in enumerate(sets):
        if len(train_labels) < 1:
            continue
        num_examples += len(train_labels)
        pred = logits[train_examples, task_index]
        loss = -torch.sum(
            F.logsigmoid(pred) * train_labels + (F.logsigmoid(pred) - pred) * (1 - train_labels)
        )
        losses = losses + loss
    return losses / num_examples


def ref_corn_nll(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-sample ``-log P(y)`` of the chained model: P(y = r) = prod_{k<r} p_k * (1 - p_r)."""
    p = torch.sigmoid(logits)
    out = []
    for i, r in enumerate(y.tolist()):
        prob = torch.prod(p[i, :r]) * (1 - p[i, r] if r < logits.shape[1] else 1.0)
        out.append(-torch.log(prob))
    return torch.stack(out)


def ref_cumulative_link(f: torch.Tensor, y: torch.Tensor, cut: torch.Tensor) -> torch.Tensor:
    """``-log(sigmoid(theta_y - f) - sigmoid(theta_{y-1} - f))`` with theta_{-1} = -inf, theta_{K-1} = +inf."""
    full = torch.cat([cut.new_tensor([-math.inf]), cut, cut.new_tensor([math.inf])])
    upper = full[y + 1]
    lower = full[y]
    return -torch.log(torch.sigmoid(upper - f) - torch.sigmoid(lower - f))


def proba_to_label(probas: torch.Tensor) -> torch.Tensor:
    """coral-pytorch ``proba_to_label``."""
    return torch.sum(probas > 0.5, dim=1)


def corn_label_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """coral-pytorch ``corn_label_from_logits``."""
    probas = torch.cumprod(torch.sigmoid(logits), dim=1)
    return torch.sum(probas > 0.5, dim=1)


def task_case(seed: int, n: int = 9, tasks: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """Random task logits ``(n, tasks)`` (scale 3) and classes ``(n,)`` covering every class when n allows."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, tasks, generator=g, dtype=f64) * 3
    y = torch.randint(0, tasks + 1, (n,), generator=g)
    y[: min(n, tasks + 1)] = torch.arange(min(n, tasks + 1))
    return x, y
