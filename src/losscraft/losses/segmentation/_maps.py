"""What the boundary, Hausdorff-DT and clDice losses share: modes, input checks, exact maps, samples.

The three losses take ``(N, C, *spatial)`` logits: ``mode="binary"`` (``C = 1``, sigmoid),
``"multilabel"`` (one sigmoid per class) or ``"multiclass"`` (softmax over dim 1, ``C >= 2``),
and give one value per image and class, ``(N, C)``.

:func:`exact_maps` computes the same maps as :mod:`.distance_maps` by brute force in torch
(every pixel against every other): quadratic in the image size, so only for the registry's
small samples, which then need no scipy.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..._core.checks import (
    check_finite_range,
    check_floating,
    check_same_shape,
    check_softmax_classes,
    compute_dtype,
    fmt_got,
    fmt_shape,
    to_compute,
    values_are_concrete,
)
from ..._core.errors import LosscraftError
from ..._core.sampling import randn
from ..._core.spec import Choice, Param
from ._common import MODES, check_multiclass

__all__ = [
    "MODES",
    "NONE_SHAPE",
    "activate",
    "check_map",
    "exact_maps",
    "mask_target",
    "mode_param",
    "rect_labels",
    "rect_masks",
    "sample_logits",
]

NONE_SHAPE = "(N, C) per image and class (binary: C = 1)"


def mode_param() -> Param:
    """The ``mode`` hyperparameter the three losses share."""
    return Param(
        "mode",
        "binary",
        Choice(MODES),
        "'binary' (one channel, sigmoid), 'multiclass' (softmax over dim 1) or 'multilabel' "
        "(one sigmoid channel per class)",
    )


def activate(fn: str, input: Tensor, mode: str, spatial_dims: tuple[int, ...] | None = None) -> Tensor:
    """Check ``(N, C, *spatial)`` logits for ``mode`` and return the probabilities (compute dtype).

    ``input`` must already be checked floating point. ``spatial_dims`` restricts the number of
    spatial dims (clDice's pooling: 2 or 3).
    """
    layout = "(N, 1, *spatial)" if mode == "binary" else "(N, C, *spatial)"
    nsp = input.dim() - 2
    if nsp < 1 or (spatial_dims is not None and nsp not in spatial_dims):
        dims = "at least one" if spatial_dims is None else " or ".join(str(d) for d in spatial_dims)
        raise LosscraftError(
            f"{fn}: 'input' must have shape {layout} with {dims} spatial dims for mode={mode!r}, "
            f"got {fmt_shape(input)}"
        )
    if mode == "binary" and input.shape[1] != 1:
        raise LosscraftError(
            f"{fn}: 'input' must have one channel, (N, 1, *spatial), for mode='binary', got "
            f"{fmt_shape(input)}; use mode='multilabel' (sigmoids) or 'multiclass' (softmax)"
        )
    if mode == "multiclass":
        check_softmax_classes(fn, input, "for one foreground channel use mode='binary' (sigmoid)")
    x = to_compute(input, compute_dtype(input))
    # sigmoid/softmax of float32 logits saturate to exact 0/1 at +-1e4: finite, as the losses need
    return torch.softmax(x, dim=1) if mode == "multiclass" else torch.sigmoid(x)


def mask_target(fn: str, input: Tensor, target: Tensor, mode: str, dtype: torch.dtype) -> Tensor:
    """The ``(N, C, *spatial)`` target mask in ``dtype``: float in [0, 1], or one-hot class indices."""
    if mode == "multiclass":
        _, c, _ = check_multiclass(fn, input, target, None)  # the Dice family's class-index check
        # class indices -> one-hot (N, C, *spatial); the images are small next to the network
        return torch.nn.functional.one_hot(target, c).movedim(-1, 1).to(dtype)
    check_floating(fn, "target", target)
    check_same_shape(fn, input, target)
    check_finite_range(fn, "target", target, 0.0, 1.0)
    return to_compute(target, dtype)


def check_map(fn: str, name: str, m: Tensor, input: Tensor, *, signed: bool) -> None:
    """A distance map: floating, the input's shape, finite (and ``>= 0`` unless ``signed``)."""
    check_floating(fn, name, m)
    if m.shape != input.shape:
        raise LosscraftError(
            f"{fn}: '{name}' must have the input's shape {fmt_shape(input)} (one map per image and "
            f"class, e.g. from losscraft.segmentation), got {fmt_shape(m)}"
        )
    if not values_are_concrete(m) or m.numel() == 0:
        return
    md = m.detach()
    if not bool(torch.isfinite(md).all()):
        bad = md[~torch.isfinite(md)].flatten()[0].item()
        raise LosscraftError(f"{fn}: '{name}' must contain finite distances, {fmt_got(md, bad)}")
    if not signed:
        check_finite_range(fn, name, m, 0.0, math.inf, "distances >= 0")


# --------------------------------------------------------------------------- exact maps and samples
def exact_maps(fg: Tensor, *, signed: bool) -> Tensor:
    """Signed (``one_hot2dist``) or unsigned distance maps of boolean ``(N, C, *spatial)`` masks, float64.

    Brute force: the distance from every pixel to every other, so ``O(P^2)`` for ``P`` pixels.
    """
    n, c = fg.shape[0], fg.shape[1]
    spatial = tuple(fg.shape[2:])
    grids = torch.meshgrid(*[torch.arange(s, dtype=torch.float64) for s in spatial], indexing="ij")
    coords = torch.stack([g.reshape(-1) for g in grids], dim=1)  # (P, d)
    dist = torch.cdist(coords, coords)  # (P, P)
    npos = math.prod(spatial)
    pos = fg.reshape(n, c, 1, npos)  # the other pixel j on the last dim
    inf = torch.tensor(math.inf, dtype=torch.float64)
    to_fg = torch.where(pos, dist, inf).amin(-1)  # (n, c, P): distance to the nearest pixel of G
    to_bg = torch.where(~pos, dist, inf).amin(-1)  # distance to the nearest pixel outside G
    here = fg.reshape(n, c, npos)
    # signed: -(distance to the background - 1) inside G; unsigned: the distance across the boundary
    out = torch.where(here, -(to_bg - 1.0) if signed else to_bg, to_fg)
    has_boundary = here.any(-1, keepdim=True) & (~here).any(-1, keepdim=True)
    out = torch.where(has_boundary, out, torch.zeros_like(out))  # empty or full mask: 0
    return out.reshape(fg.shape)


def rect_masks(n: int, c: int, spatial: tuple[int, int], generator: torch.Generator) -> Tensor:
    """Boolean ``(n, c, H, W)`` masks, each a random axis-aligned rectangle (possibly empty or full)."""
    h, w = spatial
    out = torch.zeros((n, c, h, w), dtype=torch.bool)
    lims = torch.randint(0, 10_000, (n, c, 4), generator=generator).tolist()
    for i in range(n):
        for k in range(c):
            a, b, u, v = lims[i][k]
            r0 = a % h
            r1 = r0 + 1 + b % (h - r0)  # at least one row
            c0 = u % w
            c1 = c0 + 1 + v % (w - c0)
            out[i, k, r0:r1, c0:c1] = True
    return out


def rect_labels(n: int, classes: int, spatial: tuple[int, int], generator: torch.Generator) -> Tensor:
    """Class indices ``(n, H, W)``: background 0 with one rectangle per class painted in turn."""
    masks = rect_masks(n, classes - 1, spatial, generator)
    labels = torch.zeros((n, *spatial), dtype=torch.long)
    for k in range(classes - 1):
        labels[masks[:, k]] = k + 1
    return labels


def sample_logits(
    n: int, c: int, spatial: tuple[int, int], generator: torch.Generator, dtype: torch.dtype
) -> Tensor:
    """Standard normal logits ``(n, c, H, W)``."""
    return randn((n, c, *spatial), generator, dtype)
