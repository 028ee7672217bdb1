r"""Shared machinery of the overlap losses (Dice, Jaccard): validation, per-class sums, samples.

Both losses reduce to three per-(sample, class) sums over the spatial positions,

* ``inter`` $= \sum_i p_i g_i$ (soft true positives),
* ``psum``  $= \sum_i p_i$ (soft predicted volume),
* ``gsum``  $= \sum_i g_i$ (target volume),

so they share one function that validates the inputs for the three modes, applies the
activation (sigmoid or softmax) and computes the sums; ``aggregate="batch"`` sums them over the
batch as well. In multiclass mode the target is never expanded to a one-hot float tensor: the
intersection gathers the probability of each pixel's own class and scatters it into its class
bin, and the target volume is a per-class pixel count, so the extra memory is ``O(N·P)`` for
``P`` positions instead of ``O(N·C·P)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from ..._core.checks import (
    check_class_index,
    check_finite_range,
    check_floating,
    check_same_shape,
    compute_dtype,
    fmt_shape,
    is_compiling,
    to_compute,
)
from ..._core.errors import LosscraftError
from ..._core.sampling import randn, uniform
from ..._core.spec import Call, Choice, Interval, Param

__all__ = [
    "AGGREGATES",
    "MODES",
    "NONE_SHAPE",
    "OverlapSums",
    "make_curve",
    "overlap_params",
    "overlap_sample",
    "overlap_sums",
    "safe_ratio",
]

MODES = ("binary", "multiclass", "multilabel")
AGGREGATES = ("sample", "batch")
NONE_SHAPE = "(N, C) per sample and class; (C,) with aggregate='batch' (binary: C = 1)"

# Spatial size of the images produced by ``overlap_sample``.
_SPATIAL = (4, 5)
_CLASSES = 3


def overlap_params() -> tuple[Param, ...]:
    """The hyperparameters shared by Dice and Jaccard, in signature order."""
    return (
        Param(
            "mode",
            "binary",
            Choice(MODES),
            "'binary' (one foreground channel, sigmoid), 'multiclass' (class-index target, "
            "softmax over dim 1) or 'multilabel' (one sigmoid channel per class)",
        ),
        Param(
            "smooth",
            1.0,
            Interval(0.0, math.inf),
            "additive smoothing in numerator and denominator; > 0 makes empty masks a "
            "perfect score and keeps gradients alive on empty images",
        ),
        Param(
            "ignore_index",
            None,
            Interval(optional=True, integer=True),
            "target value whose positions are excluded from every sum (None: keep all)",
        ),
        Param(
            "aggregate",
            "sample",
            Choice(AGGREGATES),
            "'sample': one score per image and class; 'batch': sums over the whole batch first",
        ),
    )


@dataclass
class OverlapSums:
    """Per-(sample, class) sums ``(N, C)``, or per-class ``(C,)`` with ``aggregate="batch"``.

    ``mask`` is ``None`` without ``ignore_index``; otherwise it marks the entries that kept at
    least one position (entries whose positions are all ignored are excluded by ``reduce``).
    """

    inter: Tensor
    psum: Tensor
    gsum: Tensor
    mask: Tensor | None


def _shape_error(fn: str, expected: str, input: Tensor, target: Tensor, mode: str) -> LosscraftError:
    return LosscraftError(
        f"{fn}: 'target' must have shape {expected} for mode={mode!r}, got input "
        f"{fmt_shape(input)} and target {fmt_shape(target)}"
    )


def overlap_sums(
    fn: str,
    input: Tensor,
    target: Tensor,
    *,
    mode: str,
    ignore_index: int | None,
    aggregate: str,
) -> OverlapSums:
    """Validate ``input``/``target`` for ``mode`` and return the overlap sums.

    ``mode``, ``ignore_index`` and ``aggregate`` must already be validated (``check_params``).
    """
    check_floating(fn, "input", input)
    if mode == "multiclass":
        sums = _multiclass_sums(fn, input, target, ignore_index)
    else:
        sums = _sigmoid_sums(fn, input, target, mode, ignore_index)
    inter, psum, gsum, count = sums
    mask = None
    if aggregate == "batch":
        inter, psum, gsum = inter.sum(0), psum.sum(0), gsum.sum(0)
        if count is not None:
            count = count.sum(0)
    if count is not None:
        mask = (count > 0).expand_as(inter)
    return OverlapSums(inter, psum, gsum, mask)


def _sigmoid_sums(
    fn: str, input: Tensor, target: Tensor, mode: str, ignore_index: int | None
) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    """Binary / multilabel: one sigmoid per channel, target of the input's shape in [0, 1]."""
    check_floating(fn, "target", target)
    min_dim = 1 if mode == "binary" else 2
    if input.dim() < min_dim:
        layout = "(N, *) or (N, 1, *)" if mode == "binary" else "(N, C, *)"
        raise LosscraftError(
            f"{fn}: 'input' must have shape {layout} for mode={mode!r}, got {fmt_shape(input)}"
        )
    check_same_shape(fn, input, target)
    dt = compute_dtype(input, target)
    n = input.shape[0]
    # Binary: every non-batch dim is spatial (one channel); multilabel: dim 1 holds the classes.
    c = 1 if mode == "binary" else input.shape[1]
    npos = math.prod(input.shape[1:]) if mode == "binary" else math.prod(input.shape[2:])
    x = to_compute(input, dt).reshape(n, c, npos)
    g = to_compute(target, dt).reshape(n, c, npos)
    p = torch.sigmoid(x)
    count = None
    if ignore_index is not None:
        keep = g != ignore_index
        if not is_compiling():
            check_finite_range(fn, "target", target.detach()[keep.reshape(target.shape)], 0.0, 1.0)
        # where, not multiply: the ignored target value (e.g. 255) must not enter any sum.
        g = torch.where(keep, g, g.new_zeros(()))
        p = p * keep.to(dt)
        count = keep.sum(-1)
    else:
        check_finite_range(fn, "target", target, 0.0, 1.0)
    return (p * g).sum(-1), p.sum(-1), g.sum(-1), count


def _multiclass_sums(
    fn: str, input: Tensor, target: Tensor, ignore_index: int | None
) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    """Multiclass: softmax over dim 1, integer class-index target of shape ``(N, *)``."""
    if input.dim() < 2:
        raise LosscraftError(
            f"{fn}: 'input' must have shape (N, C, *) for mode='multiclass', got {fmt_shape(input)}"
        )
    n, c = input.shape[0], input.shape[1]
    spatial = tuple(input.shape[2:])
    check_class_index(fn, "target", target, c, ignore_index)
    if tuple(target.shape) != (n, *spatial):
        raise _shape_error(
            fn, fmt_shape((n, *spatial)) + " (input's shape without dim 1)", input, target, "multiclass"
        )
    dt = compute_dtype(input)
    npos = math.prod(spatial)
    probs = torch.softmax(to_compute(input, dt).reshape(n, c, npos), dim=1)
    # int64 for gather/scatter (uint8/int32 targets are accepted) and for comparing with ignore_index.
    t = target.reshape(n, 1, npos).long()
    count = None
    if ignore_index is not None:
        keep = t != ignore_index
        keep_f = keep.to(dt)
        # Ignored pixels: a valid dummy class for the gather/scatter, and zero weight everywhere.
        t = torch.where(keep, t, t.new_zeros(()))
        probs = probs * keep_f
        count = keep.sum(-1)  # (N, 1): kept pixels of each image, shared by all classes
        ones = keep_f
    else:
        ones = probs.new_ones(n, 1, npos)
    # No one-hot: the intersection of class k is the sum of p_k over the pixels labelled k, so
    # gather each pixel's own-class probability and scatter-add it into its class bin.
    own = probs.gather(1, t)
    inter = probs.new_zeros(n, c).scatter_add(1, t.reshape(n, npos), own.reshape(n, npos))
    gsum = probs.new_zeros(n, c).scatter_add(1, t.reshape(n, npos), ones.reshape(n, npos))
    return inter, probs.sum(-1), gsum, count


def safe_ratio(num: Tensor, den: Tensor) -> Tensor:
    """``num / den`` with ``0 / 0 -> 0`` (finite, zero gradient), used where ``den`` can vanish.

    Why the double ``where``: the untaken branch is still differentiated, so it must be finite.
    """
    pos = den > 0
    return torch.where(pos, num / torch.where(pos, den, torch.ones_like(den)), torch.zeros_like(num))


# --------------------------------------------------------------------------- sample and curve
def overlap_sample(
    n: int, *, generator: torch.Generator, dtype: torch.dtype, mode: str = "binary", **_: object
) -> Call:
    """Valid random small images of batch size ``n`` for ``mode``.

    Binary ``(n, 1, 4, 5)`` logits with a {0, 1} mask, multiclass ``(n, 3, 4, 5)`` logits with a
    ``(n, 4, 5)`` class-index target, multilabel ``(n, 3, 4, 5)`` with {0, 1} masks. Logits are
    standard normal.
    """
    if mode == "multiclass":
        x = randn((n, _CLASSES, *_SPATIAL), generator, dtype)
        t = torch.randint(0, _CLASSES, (n, *_SPATIAL), generator=generator)
        return Call((x, t))
    c = 1 if mode == "binary" else _CLASSES
    x = randn((n, c, *_SPATIAL), generator, dtype)
    t = (uniform((n, c, *_SPATIAL), generator, torch.float64) < 0.5).to(dtype)
    return Call((x, t))


def make_curve(fn: str) -> Callable[..., Call]:
    """Curve factory: logit ``x`` of a one-pixel foreground image (target 1), per grid point.

    Binary with ``aggregate="sample"``: a batch of ``G`` one-pixel images ``(G, 1)``;
    multilabel: one image with ``G`` one-pixel classes ``(1, G)``, which keeps one value per
    point under both aggregations. Multiclass (softmax couples the classes) and binary with
    ``aggregate="batch"`` (one value per batch) have no such slice.
    """

    def curve(x: Tensor, mode: str = "binary", aggregate: str = "sample", **_: object) -> Call:
        x = x.reshape(-1)
        if mode == "multilabel":
            return Call((x.reshape(1, -1), torch.ones_like(x).reshape(1, -1)))
        if mode == "binary" and aggregate == "sample":
            return Call((x.reshape(-1, 1), torch.ones_like(x).reshape(-1, 1)))
        raise LosscraftError(
            f"{fn}: the logit curve is defined for mode='multilabel', or mode='binary' with "
            f"aggregate='sample', got mode={mode!r}, aggregate={aggregate!r}"
        )

    return curve
