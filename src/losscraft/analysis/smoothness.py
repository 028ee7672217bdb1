"""Convexity and smoothness of one curve: where the loss, its gradient or its curvature jump.

*Smoothness* classifies jumps of the loss (*discontinuous*), of the gradient (*C0*: a kink)
and of the second derivative (*C1*: continuous gradient, jumping curvature; else *C2*). On the
refined grids, a window of two steps whose change is at least :data:`JUMP_RATIO` of the total
variation of the ``2 * SUB`` steps around it (a smooth function changes by about a tenth of it)
and above the noise floor ``JUMP_RTOL (1 + |f|)`` is a candidate (two steps: a jump on a grid
node, or a curvature step seen through the central difference, is shared by two steps). Each
candidate is zoomed into :data:`LEVELS` times, each time keeping the two-step window with the
largest change, 5x narrower: a jump keeps its size, a smooth change shrinks 5x per level; it is
a jump if the last level kept at least :data:`JUMP_RATIO` of it. Jumps closer than two grid
steps are merged; locations are accurate to about ``1e-4`` of a grid step and rounded
accordingly. Huber is C1 with curvature jumps at ``+-delta``, MAE is C0 at 0, MSE and
Log-Cosh are C2. A jump at the very end of a finite extent counts (e.g. the distance curve of the
contrastive loss at distance 0, where the norm is not differentiable).

*Convex*: second differences ``>= -CONVEX_RTOL max(1, max |loss|)`` on every
:data:`CONVEX_STRIDE`-th refined point of the domain, and non-decreasing slopes on the tails
towards infinite ends. Tails towards a finite end are not used: there the curve's own
construction dominates (e.g. the triplet curve's distance ``eps`` as the positive reaches the
anchor).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from .grids import Evaluator, derivative
from .thresholds import (
    AT_ZERO_WIDTH,
    CONVEX_RTOL,
    CONVEX_STRIDE,
    F64,
    JUMP_RATIO,
    JUMP_RTOL,
    KINK_SHADOW,
    LEVELS,
    MAX_CANDIDATES,
    MERGE_STEPS,
    SUB,
)

Smoothness = Literal["discontinuous", "C0", "C1", "C2"]
SMOOTH_ORDER = ("discontinuous", "C0", "C1", "C2")  # least smooth first

Signals = tuple[Tensor, Tensor, Tensor]  # loss, gradient, second derivative on one grid


def convex(grids: list[Tensor], signals: list[Signals], infinite: list[bool]) -> bool:
    """Convex on the domain grid (the first) and on the tails that reach an infinite end."""
    v801 = signals[0][0][::CONVEX_STRIDE]
    d2 = v801[2:] - 2 * v801[1:-1] + v801[:-2]
    is_convex = bool((d2 >= -CONVEX_RTOL * max(1.0, float(v801.abs().max()))).all())
    for xs, (vs_, _, _), inf_end in zip(grids[1:], signals[1:], infinite[1:], strict=True):
        if not inf_end:  # near a finite end the curve's own geometry (eps, clamps) dominates
            continue
        fin = torch.isfinite(vs_)
        xs, vs_ = xs[fin], vs_[fin]
        if xs.numel() < 3:
            continue
        s = (vs_[1:] - vs_[:-1]) / (xs[1:] - xs[:-1])
        tol = CONVEX_RTOL * torch.clamp(torch.maximum(s[1:].abs(), s[:-1].abs()), min=1.0)
        is_convex &= bool((s[1:] - s[:-1] >= -tol).all())
    return is_convex


def smoothness(
    grids: list[Tensor], signals: list[Signals], evaluate: Evaluator, zero: float, width: float
) -> tuple[str, str, tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
    """Smoothness, smoothness at ``zero``, and the kinks, curvature jumps and loss jumps.

    ``width`` is the domain's: smoothness at zero counts jumps within ``AT_ZERO_WIDTH * width``.
    """
    cands = [
        c
        for xs, sig in zip(grids, signals, strict=True)
        for w in range(3)
        for c in _candidates(xs, sig[w], w)
    ]
    jumps = _refine(cands, evaluate)
    near = AT_ZERO_WIDTH * width

    def locs(items: list[tuple[float, float]]) -> tuple[float, ...]:
        return tuple(sorted({_round(loc, w) for loc, w in items}))

    disc, kinks = jumps[0], jumps[1]
    kink_locs = [loc for loc, _ in disc + kinks]
    curv = [
        (loc, w) for loc, w in jumps[2] if all(abs(loc - k) > KINK_SHADOW * max(w, near) for k in kink_locs)
    ]
    overall = "discontinuous" if disc else "C0" if kinks else "C1" if curv else "C2"
    at_zero = (
        "discontinuous"
        if any(abs(loc - zero) <= near for loc, _ in disc)
        else "C0"
        if any(abs(loc - zero) <= near for loc, _ in kinks)
        else "C1"
        if any(abs(loc - zero) <= near for loc, _ in curv)
        else "C2"
    )
    return overall, at_zero, locs(kinks), locs(curv), locs(disc)


@dataclass
class _Candidate:
    which: int  # 0 loss, 1 gradient, 2 second derivative
    a: float
    b: float
    jump: float
    grid: Tensor  # the grid it came from (for merging)


def _candidates(x: Tensor, f: Tensor, which: int) -> list[_Candidate]:
    """Two-step windows of the grid ``x`` where ``f`` changes by a jump rather than a slope.

    The change over a window of two steps, ``|f[j+2] - f[j]|``, is compared with the total
    variation over the ``2 * SUB`` steps around it: a smooth ``f`` changes by about
    ``2 / (2 * SUB)`` of it, a jump by nearly all of it. Two steps, because a jump that falls
    on a grid node, or a second-derivative step seen through a central difference, is shared
    by two neighbouring steps. Local maxima only; at most ``MAX_CANDIDATES``.
    """
    n = x.numel()
    if n < 3:
        return []
    steps = (f[1:] - f[:-1]).abs()
    steps = torch.where(torch.isfinite(steps), steps, torch.full_like(steps, math.inf))
    j2 = (f[2:] - f[:-2]).abs()
    csum = torch.cat([torch.zeros(1, dtype=F64), torch.cumsum(torch.nan_to_num(steps, posinf=0.0), 0)])
    j = torch.arange(n - 2)
    lo = (j - SUB + 1).clamp(min=0)
    hi = (j + SUB + 1).clamp(max=n - 1)
    tv = csum[hi] - csum[lo]
    fabs = f.abs()
    local = torch.maximum(torch.maximum(fabs[:-2], fabs[1:-1]), fabs[2:])
    ok = (
        torch.isfinite(j2)
        & torch.isfinite(local)
        & (j2 > JUMP_RTOL * (1.0 + local))
        & (j2 >= JUMP_RATIO * tv)
    )
    left = torch.cat([torch.zeros(1, dtype=F64), j2[:-1]])
    right = torch.cat([j2[1:], torch.zeros(1, dtype=F64)])
    ok &= (j2 >= left) & (j2 > right)  # one window per jump
    idx = torch.nonzero(ok).flatten()
    if idx.numel() > MAX_CANDIDATES:
        idx = idx[j2[idx].argsort(descending=True)[:MAX_CANDIDATES]]
    return [_Candidate(which, float(x[i]), float(x[i + 2]), float(j2[i]), x) for i in idx.tolist()]


def _refine(cands: list[_Candidate], evaluate: Evaluator) -> list[list[tuple[float, float]]]:
    """Zoom into every candidate ``LEVELS`` times (one evaluation per level for all of them).

    Each level splits the window into ``SUB`` steps and keeps the two-step window with the
    largest change (5x narrower). A jump keeps its size, a smooth change shrinks 5x per
    level: a candidate is a jump when the last level kept at least ``JUMP_RATIO`` of the
    change and it stayed above the noise floor. Returns, per signal, merged
    ``(location, width)`` pairs.
    """
    found: list[list[tuple[float, float, Tensor]]] = [[], [], []]
    if not cands:
        return [[], [], []]
    a = torch.tensor([c.a for c in cands], dtype=F64)
    b = torch.tensor([c.b for c in cands], dtype=F64)
    jump = torch.tensor([c.jump for c in cands], dtype=F64)
    which = torch.tensor([c.which for c in cands])
    alive = torch.ones(len(cands), dtype=torch.bool)
    ratio = torch.ones(len(cands), dtype=F64)
    w = torch.linspace(0.0, 1.0, SUB + 1, dtype=F64)
    rows = torch.arange(len(cands))
    for _ in range(LEVELS):
        pts = a[:, None] + (b - a)[:, None] * w[None, :]
        v, g = (sig.reshape(pts.shape) for sig in evaluate(pts.reshape(-1)))
        vals = torch.stack([v, g, derivative(pts, g)])[which, rows]
        js = (vals[:, 2:] - vals[:, :-2]).abs()
        js = torch.where(torch.isfinite(js), js, torch.zeros_like(js))
        new, k = js.max(dim=1)
        scale = torch.maximum(vals[:, :-2].abs(), vals[:, 2:].abs()).gather(1, k[:, None]).squeeze(1)
        alive &= new > JUMP_RTOL * (1.0 + torch.nan_to_num(scale, nan=0.0, posinf=0.0))
        ratio = new / torch.clamp(jump, min=1e-300)
        a, b, jump = pts[rows, k], pts[rows, k + 2], new
    keep = alive & (ratio >= JUMP_RATIO)
    for i, c in enumerate(cands):
        if bool(keep[i]):
            found[c.which].append((float((a[i] + b[i]) / 2), float(b[i] - a[i]), c.grid))
    return [_merge(f) for f in found]


def _merge(found: list[tuple[float, float, Tensor]]) -> list[tuple[float, float]]:
    """Merge jumps closer than two local steps of their grid (a jump on a grid node)."""
    found.sort(key=lambda t: t[0])
    out: list[list[float]] = []
    for loc, w, x in found:
        i = int(torch.searchsorted(x, torch.tensor([loc], dtype=F64)).clamp(1, x.numel() - 1))
        step = float(x[i] - x[i - 1])
        if out and loc - out[-1][0] <= MERGE_STEPS * step:
            n = out[-1][2]
            out[-1] = [(out[-1][0] * n + loc) / (n + 1), max(out[-1][1], w), n + 1]
        else:
            out.append([loc, w, 1.0])
    return [(v[0], v[1]) for v in out]


def _round(loc: float, width: float) -> float:
    """``loc`` rounded to the digits its zoom ``width`` resolves (``-0.0`` becomes ``0.0``)."""
    digits = max(0, -math.floor(math.log10(max(width, 1e-15))) - 1)
    r = round(loc, digits)
    return 0.0 if r == 0 else r
