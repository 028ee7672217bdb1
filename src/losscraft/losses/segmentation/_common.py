r"""What every overlap loss shares: hyperparameters, input checks, the overlap sums, samples.

The Dice, Jaccard, Tversky, focal Tversky and generalized Dice losses reduce to three
per-(sample, class) sums over the spatial positions,

* ``inter`` $= \sum_i \min(p_i, g_i)$ (soft true positives),
* ``psum``  $= \sum_i p_i$ (soft predicted volume),
* ``gsum``  $= \sum_i g_i$ (target volume).

The intersection is the fuzzy-set one, $\min(p, g)$, not the product $p g$: the two are
equal, bit for bit, on hard targets $g \in \{0, 1\}$ (and multiclass targets are always hard),
and with it ``psum + gsum - 2 inter`` $= \sum_i |p_i - g_i|$, so every overlap loss built on
these sums is the semimetric loss of Wang & Blaschko (2023) on soft targets: zero exactly
when the prediction equals the (soft) target (the product gives $\sum_i p_i (1 - p_i) > 0$
there: a Dice loss of about 0.35 at a uniform soft target).

They share :func:`overlap_sums`, which validates the target for the three modes and
computes the sums; ``aggregate="batch"`` sums them over the batch as well, and inside
``losscraft.distributed.global_batch`` over every rank's batch (one all-reduce of the packed
sums, ``_core.distributed.sum_batch``; the loss is then reduced by :meth:`OverlapSums.reduce`
as the global value). The sums come from
the kernels next to this file: ``softmax_sums_kernel`` (multiclass; the target is never
expanded to a one-hot float tensor) and ``sigmoid_sums_kernel`` (binary, multilabel), each a
blocked custom autograd Function that saves no full-size tensor, with its composed reference
used where ``_core.kernels.use_lean`` says so (``torch.compile`` tracing, vmap/functorch,
non-CPU devices, ``lean_kernels(False)``).

Each input is checked once on a loss's path: the loss checks that ``input`` is floating point
first (before its hyperparameters, so that error comes first); :func:`overlap_sums`,
:func:`check_multiclass` and the sigmoid modes' checks take that as given and check the
shapes and the target.
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
    check_softmax_classes,
    compute_dtype,
    fmt_shape,
    values_are_concrete,
)
from ..._core.distributed import current_context, sum_batch, value_is_global
from ..._core.errors import LosscraftError
from ..._core.kernels import use_lean
from ..._core.reduction import reduce
from ..._core.sampling import randn, uniform
from ..._core.spec import Call, Choice, Interval, Param, Ref, Role
from .sigmoid_sums_kernel import sigmoid_sums
from .softmax_sums_kernel import softmax_sums

__all__ = [
    "AGGREGATES",
    "DML_REF",
    "JML_REF",
    "MODES",
    "NONE_SHAPE",
    "OverlapSums",
    "check_multiclass",
    "make_curve",
    "overlap_params",
    "overlap_sample",
    "overlap_sums",
    "safe_pow",
    "safe_ratio",
]

MODES = ("binary", "multiclass", "multilabel")
AGGREGATES = ("sample", "batch")
NONE_SHAPE = "(N, C) per sample and class; (C,) with aggregate='batch' (binary: C = 1)"

DML_REF = Ref(
    "Z. Wang, T. Popordanoska, J. Bertels, R. Lemmens, M. B. Blaschko",
    "Dice Semimetric Losses: Optimizing the Dice Score with Soft Labels",
    "MICCAI 2023",
    2023,
    "https://arxiv.org/abs/2303.16296",
)
JML_REF = Ref(
    "Z. Wang, X. Ning, M. B. Blaschko",
    "Jaccard Metric Losses: Optimizing the Jaccard Index with Soft Labels",
    "NeurIPS 2023",
    2023,
    "https://arxiv.org/abs/2302.05666",
)

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
            role=Role.SMOOTHING,
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
    r"""Per-(sample, class) sums ``(N, C)``, or per-class ``(C,)`` with ``aggregate="batch"``.

    ``mask`` is ``None`` without ``ignore_index``; otherwise it marks the entries that kept at
    least one position (entries whose positions are all ignored are excluded by ``reduce``).
    ``inter`` is $\sum_i \min(p_i, g_i)$ (equal to $\sum_i p_i g_i$ on hard targets), so
    ``psum + gsum - 2 inter`` is $\sum_i |p_i - g_i|$ and ``psum - inter``, ``gsum - inter``
    are $\sum_i (p_i - g_i)_+$ and $\sum_i (g_i - p_i)_+$.
    """

    inter: Tensor
    psum: Tensor
    gsum: Tensor
    mask: Tensor | None
    is_global: bool = False
    """The sums are over every rank's batch (``aggregate="batch"`` inside ``global_batch``)."""

    def reduce(self, loss: Tensor, reduction: str, weight: Tensor | None, mask: Tensor | None) -> Tensor:
        """Reduce a loss computed from these sums (``_core.reduction.reduce``).

        Sums made global by ``sum_batch`` give every rank the same full-batch loss, which is
        reduced as the global value (``value_is_global``: no count all-reduce, no factor $R$).
        """
        if self.is_global:
            with value_is_global():
                return reduce(loss, reduction, weight, mask)
        return reduce(loss, reduction, weight, mask)


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
    lean: bool | None = None,
) -> OverlapSums:
    """Validate ``target`` (and ``input``'s shape) for ``mode`` and return the overlap sums.

    ``input`` must already be checked floating point and ``mode``, ``ignore_index`` and
    ``aggregate`` validated (``check_params``): the loss does both first. ``lean`` selects the
    blocked custom-autograd kernels (``softmax_sums_kernel``, ``sigmoid_sums_kernel``);
    ``None`` (the default) follows ``_core.kernels.use_lean``: the composed formula while
    ``torch.compile`` traces (inductor fuses it; the blocked loop would unroll into a huge
    graph), under vmap/functorch, off the CPU and inside ``lean_kernels(False)``. Both give
    the same values and gradients.
    """
    if lean is None:
        lean = use_lean(input)
    if mode == "multiclass":
        n, c, npos = check_multiclass(fn, input, target, ignore_index)
        dt = compute_dtype(input)
        x3 = input.reshape(n, c, npos)
        sums = softmax_sums(x3, target.reshape(n, npos), ignore_index, dt, lean=lean)
    else:
        n, c, npos = _check_sigmoid(fn, input, target, mode, ignore_index)
        dt = compute_dtype(input, target)
        x3 = input.reshape(n, c, npos)
        sums = sigmoid_sums(x3, target.reshape(n, c, npos), ignore_index, dt, lean=lean)
    inter, psum, gsum, count = sums
    mask = None
    is_global = False
    if aggregate == "batch":
        inter, psum, gsum = inter.sum(0), psum.sum(0), gsum.sum(0)
        if count is not None:
            count = count.sum(0)
        if current_context() is not None:  # inside losscraft.distributed.global_batch
            # One all-reduce of the packed statistics per call (not one per statistic or class).
            parts = [inter, psum, gsum] + ([] if count is None else [count.to(inter.dtype).expand_as(inter)])
            summed = sum_batch(fn, torch.stack(parts)).unbind(0)
            inter, psum, gsum = summed[:3]
            if count is not None:
                count = summed[3]
            is_global = True
    if count is not None:
        mask = (count > 0).expand_as(inter)
    return OverlapSums(inter, psum, gsum, mask, is_global)


def _check_sigmoid(
    fn: str, input: Tensor, target: Tensor, mode: str, ignore_index: int | None
) -> tuple[int, int, int]:
    """Binary / multilabel: float target of the input's shape in [0, 1] (or ``ignore_index``).

    ``input`` must already be checked floating point (the loss does it first). Returns
    ``(N, C, P)``: binary has one channel and every non-batch dim is spatial; multilabel has
    its classes on dim 1.
    """
    check_floating(fn, "target", target)
    min_dim = 1 if mode == "binary" else 2
    if input.dim() < min_dim:
        layout = "(N, *) or (N, 1, *)" if mode == "binary" else "(N, C, *)"
        raise LosscraftError(
            f"{fn}: 'input' must have shape {layout} for mode={mode!r}, got {fmt_shape(input)}"
        )
    check_same_shape(fn, input, target)
    if ignore_index is None:
        check_finite_range(fn, "target", target, 0.0, 1.0)
    elif values_are_concrete(target):
        td = target.detach()
        check_finite_range(fn, "target", td[td != ignore_index], 0.0, 1.0)
    n = input.shape[0]
    c = 1 if mode == "binary" else input.shape[1]
    npos = math.prod(input.shape[1:]) if mode == "binary" else math.prod(input.shape[2:])
    return n, c, npos


def check_multiclass(
    fn: str,
    input: Tensor,
    target: Tensor,
    ignore_index: int | None,
    suggestion: str = "for one foreground channel use mode='binary' (sigmoid)",
    what: str = "mode='multiclass' (a softmax over the classes)",
) -> tuple[int, int, int]:
    """Validate ``(N, C, *)`` logits, ``C >= 2``, against an ``(N, *)`` class-index target.

    ``input`` must already be checked floating point (the loss does it first, before its
    hyperparameters). ``C = 1`` raises (``what`` names the softmax, ``suggestion`` the
    one-channel form): a softmax over one class is 1 everywhere, so the loss would be exactly
    0 with zero gradient. Returns ``(N, C, P)`` with ``P`` the number of spatial positions.
    """
    if input.dim() < 2:
        raise LosscraftError(
            f"{fn}: 'input' must have shape (N, C, *) for mode='multiclass', got {fmt_shape(input)}"
        )
    check_softmax_classes(fn, input, suggestion, what)
    n, c = input.shape[0], input.shape[1]
    spatial = tuple(input.shape[2:])
    check_class_index(fn, "target", target, c, ignore_index)
    if tuple(target.shape) != (n, *spatial):
        raise _shape_error(
            fn, fmt_shape((n, *spatial)) + " (input's shape without dim 1)", input, target, "multiclass"
        )
    return n, c, math.prod(spatial)


def safe_ratio(num: Tensor, den: Tensor) -> Tensor:
    """``num / den`` with ``0 / 0 -> 0`` (finite, zero gradient), used where ``den`` can vanish.

    Why the double ``where``: the untaken branch is still differentiated, so it must be finite.
    Why ``den == 0`` and not ``den > 0``: only an exactly empty denominator takes the 0 branch;
    a NaN (from a NaN logit) must reach the loss, and ``NaN > 0`` is False.
    """
    empty = den == 0
    return torch.where(empty, torch.zeros_like(num), num / torch.where(empty, torch.ones_like(den), den))


def safe_pow(u: Tensor, exponent: float) -> Tensor:
    """``u ** exponent`` for ``u >= 0`` with finite gradients, also for ``exponent < 1`` at 0.

    Why: the derivative ``e u^(e-1)`` is infinite at ``u = 0`` for ``e < 1`` (a perfect
    prediction), and autograd turns ``inf * 0`` into NaN. Below the smallest normal number
    of the dtype the base is clamped (its gradient is then 0), so ``u^(e-1) <= tiny^(e-1)``
    stays finite for every ``e > 0``; exactly 0 maps to 0 with gradient 0 (the limit of the
    true gradient along a sigmoid/softmax, whose derivative vanishes faster).
    """
    if exponent == 1.0:
        return u
    tiny = torch.finfo(u.dtype).tiny
    # == 0, not > 0: a NaN base (from a NaN logit) must stay NaN (clamp_min propagates it).
    return torch.where(u == 0, torch.zeros_like(u), u.clamp_min(tiny).pow(exponent))


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


def make_curve(fn: str, target: float = 1.0, *, per_class: bool = True) -> Callable[..., Call]:
    """Curve factory: logit ``x`` of a one-pixel image (target 1: foreground), per grid point.

    ``target=0.0`` gives the false-positive slice: one background pixel predicted with logit
    ``x``.

    Binary with ``aggregate="sample"``: a batch of ``G`` one-pixel images ``(G, 1)``;
    multilabel: one image with ``G`` one-pixel classes ``(1, G)``, which keeps one value per
    point under both aggregations, for losses with one value per class (``per_class``; not
    generalized Dice, which combines the classes). Multiclass (softmax couples the classes)
    and binary with ``aggregate="batch"`` (one value per batch) have no such slice.
    """

    def curve(x: Tensor, mode: str = "binary", aggregate: str = "sample", **_: object) -> Call:
        x = x.reshape(-1)
        t = torch.full_like(x, target)
        if mode == "multilabel" and per_class:
            return Call((x.reshape(1, -1), t.reshape(1, -1)))
        if mode == "binary" and aggregate == "sample":
            return Call((x.reshape(-1, 1), t.reshape(-1, 1)))
        allowed = "mode='multilabel', or mode='binary' with " if per_class else "mode='binary' with "
        raise LosscraftError(
            f"{fn}: the logit curve is defined for {allowed}aggregate='sample', "
            f"got mode={mode!r}, aggregate={aggregate!r}"
        )

    return curve
