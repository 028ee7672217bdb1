"""Inputs and float64 references shared by the segmentation test files."""

from __future__ import annotations

import torch
import torch.nn.functional as F

MODES = ("binary", "multiclass", "multilabel")


def ref_unreduced(kind, input, target, *, mode, smooth, ignore_index=None, aggregate="sample"):
    """Textbook soft Dice / Jaccard per (sample, class) with a one-hot target, float64.

    Returns (loss, keep): keep marks entries with at least one non-ignored position.
    """
    x = input.double()
    n = x.shape[0]
    if mode == "multiclass":
        c = x.shape[1]
        p = torch.softmax(x, dim=1).reshape(n, c, -1)
        t = target.reshape(n, -1).long()
        valid = torch.ones_like(t, dtype=torch.bool) if ignore_index is None else t != ignore_index
        g = F.one_hot(torch.where(valid, t, 0), c).permute(0, 2, 1).double()  # (N, C, P)
        v = valid.unsqueeze(1).double().expand_as(p)
    else:
        c = 1 if mode == "binary" else x.shape[1]
        p = torch.sigmoid(x).reshape(n, c, -1)
        g = target.double().reshape(n, c, -1)
        valid = torch.ones_like(g, dtype=torch.bool) if ignore_index is None else g != ignore_index
        g = torch.where(valid, g, 0.0)
        v = valid.double()
    dims = (0, 2) if aggregate == "batch" else (2,)
    # min(p, g): the soft-target intersection (Wang & Blaschko 2023); p * g on {0, 1} targets
    inter = (torch.minimum(p, g) * v).sum(dims)
    psum = (p * v).sum(dims)
    gsum = (g * v).sum(dims)
    count = v.sum(dims)
    if kind == "dice":
        num, den = 2 * inter + smooth, psum + gsum + smooth
    else:
        num, den = inter + smooth, psum + gsum - inter + smooth
    score = torch.where(den > 0, num / torch.where(den > 0, den, 1.0), 1.0)
    keep = count > 0 if ignore_index is not None else torch.ones_like(score, dtype=torch.bool)
    return 1 - score, keep


def make_inputs(mode, n=3, c=3, spatial=(4, 5), seed=0, dtype=torch.float64, ignore_index=None, frac=0.2):
    g = torch.Generator().manual_seed(seed)
    if mode == "multiclass":
        x = torch.randn((n, c, *spatial), generator=g, dtype=torch.float64).to(dtype)
        t = torch.randint(0, c, (n, *spatial), generator=g)
    else:
        ch = 1 if mode == "binary" else c
        x = torch.randn((n, ch, *spatial), generator=g, dtype=torch.float64).to(dtype)
        t = (torch.rand((n, ch, *spatial), generator=g) < 0.4).to(dtype)
    if ignore_index is not None:
        drop = torch.rand(t.shape, generator=g) < frac
        t = torch.where(drop, torch.full_like(t, ignore_index), t)
    return x, t


AGGS = ("sample", "batch")


def ref_counts(x, t, *, mode, ignore_index=None, aggregate="sample"):
    """TP, FP, FN, P, G and kept-position counts per (sample, class), one-hot, float64."""
    x = x.double()
    n = x.shape[0]
    if mode == "multiclass":
        c = x.shape[1]
        p = torch.softmax(x, dim=1).reshape(n, c, -1)
        tt = t.reshape(n, -1).long()
        valid = torch.ones_like(tt, dtype=torch.bool) if ignore_index is None else tt != ignore_index
        g = F.one_hot(torch.where(valid, tt, 0), c).permute(0, 2, 1).double()
        v = valid.unsqueeze(1).double().expand_as(p)
    else:
        c = 1 if mode == "binary" else x.shape[1]
        p = torch.sigmoid(x).reshape(n, c, -1)
        g = t.double().reshape(n, c, -1)
        valid = torch.ones_like(g, dtype=torch.bool) if ignore_index is None else g != ignore_index
        g = torch.where(valid, g, 0.0)
        v = valid.double()
    dims = (0, 2) if aggregate == "batch" else (2,)
    # Soft-target counts (Wang & Blaschko 2023): min(p, g), (p - g)_+, (g - p)_+; on {0, 1}
    # targets these are Salehi et al.'s p g, p (1 - g), (1 - p) g.
    tp = (torch.minimum(p, g) * v).sum(dims)
    fp = ((p - g).clamp_min(0) * v).sum(dims)
    fn = ((g - p).clamp_min(0) * v).sum(dims)
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "p": (p * v).sum(dims),
        "g": (g * v).sum(dims),
        "count": v.sum(dims),
    }


def ref_reduce(loss, keep, reduction, weight=None):
    w = keep.double() if weight is None else weight.double() * keep.double()
    vals = torch.where(keep, loss, 0.0) * w
    if reduction == "none":
        return vals
    if reduction == "sum":
        return vals.sum()
    den = w.expand_as(loss).sum()
    return vals.sum() / den if den > 0 else vals.sum() * 0


def berman_lovasz_grad(gt_sorted):
    """lovasz_losses.py: lovasz_grad, verbatim apart from .double()."""
    p = len(gt_sorted)
    gts = gt_sorted.sum()
    intersection = gts - gt_sorted.double().cumsum(0)
    union = gts + (1 - gt_sorted).double().cumsum(0)
    jaccard = 1.0 - intersection / union
    if p > 1:  # cover 1-pixel case
        jaccard[1:p] = jaccard[1:p] - jaccard[0:-1]
    return jaccard


def berman_mean(values, empty=0):
    values = list(values)
    if not values:
        return empty
    acc = values[0]
    for v in values[1:]:
        acc = acc + v
    return acc / len(values)


def berman_flatten_binary_scores(scores, labels, ignore=None):
    scores = scores.reshape(-1)
    labels = labels.reshape(-1)
    if ignore is None:
        return scores, labels
    valid = labels != ignore
    return scores[valid], labels[valid]


def berman_lovasz_hinge_flat(logits, labels):
    if len(labels) == 0:
        return logits.sum() * 0.0
    signs = 2.0 * labels.double() - 1.0
    errors = 1.0 - logits * signs
    errors_sorted, perm = torch.sort(errors, dim=0, descending=True)
    gt_sorted = labels[perm]
    grad = berman_lovasz_grad(gt_sorted)
    return torch.dot(F.relu(errors_sorted), grad)


def berman_lovasz_hinge(logits, labels, per_image=True, ignore=None):
    if per_image:
        return berman_mean(
            berman_lovasz_hinge_flat(*berman_flatten_binary_scores(lg[None], lb[None], ignore))
            for lg, lb in zip(logits, labels, strict=True)
        )
    return berman_lovasz_hinge_flat(*berman_flatten_binary_scores(logits, labels, ignore))


def naive_lovasz(m, fg):
    """Lovász extension of Delta_J(M) = |M| / |G u M| by its definition (Choquet integral).

    f(m) = sum_k (m_(k) - m_(k+1)) F({(1), ..., (k)}) over the decreasing order, m_(P+1) = 0,
    with F evaluated on explicit Python sets. Ties contribute (v - v) F = 0, so the value does
    not depend on how they are ordered. Differentiable in m through indexing.
    """
    vals = m.tolist()
    order = sorted(range(len(vals)), key=lambda i: -vals[i])
    g_set = {i for i, f in enumerate(fg.tolist()) if f}
    total = m.sum() * 0.0
    chosen: set[int] = set()
    for k, i in enumerate(order):
        chosen.add(i)
        f_val = len(chosen) / len(g_set | chosen)
        nxt = m[order[k + 1]] if k + 1 < len(order) else 0.0
        total = total + (m[i] - nxt) * f_val
    return total


D = torch.float64


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def soft_case(mode: str, seed: int = 0, n: int = 3, c: int = 3, spatial=(4, 5)):
    """Random logits and random soft targets in [0.02, 0.98] for ``mode``."""
    ch = 1 if mode == "binary" else c
    g = _gen(seed)
    x = torch.randn((n, ch, *spatial), generator=g, dtype=D) * 2
    y = torch.rand((n, ch, *spatial), generator=g, dtype=D) * 0.96 + 0.02
    return x, y
