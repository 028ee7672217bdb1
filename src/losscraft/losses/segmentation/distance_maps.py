r"""Distance maps of segmentation masks, for the boundary and Hausdorff losses (scipy, the ``seg`` extra).

The boundary loss (``boundary``) and the Hausdorff distance-transform loss (``hausdorff_dt``)
take distance maps as inputs: they stay torch-only and ``torch.compile``-clean, and the maps
are computed once per target in the data pipeline, as the papers do. Both helpers work on
``(N, C, *spatial)`` masks (one map per image and class, any number of spatial dims) with
``scipy.ndimage.distance_transform_edt``, imported on the first call
(``pip install 'losscraft[seg]'``); ``import losscraft`` never imports scipy.

* :func:`signed_distance_map`: Kervadec et al.'s ``one_hot2dist``,
  $\phi = d_{\bar G} [\bar G] - (d_G - 1) [G]$: the distance to the object outside it
  ($\ge 1$), minus (the distance to the background, less one) inside it ($\le 0$; 0 on the
  object's border pixels).
* :func:`distance_map`: the unsigned distance transform of Karimi & Salcudean (MONAI's
  ``HausdorffDTLoss.distance_field``), $d = d_G [G] + d_{\bar G} [\bar G]$: every pixel's
  distance to the nearest pixel on the other side of the boundary ($\ge 1$).

Here $d_G(i)$ is the Euclidean distance from a pixel $i$ of $G$ to the nearest pixel outside
$G$ (scipy's ``distance_transform_edt`` of $G$). An image and class whose mask is empty or
covers the whole image has no boundary: both maps are 0 there (the losses then get no
boundary term from it), as in ``one_hot2dist`` for an empty mask and in MONAI for both cases.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..._core.checks import check_class_index, check_tensor, fmt_shape
from ..._core.errors import LosscraftError

__all__ = ["distance_map", "signed_distance_map"]


def _edt() -> Callable[..., Any]:
    """``scipy.ndimage.distance_transform_edt``, imported on first use."""
    try:
        from scipy.ndimage import distance_transform_edt
    except ImportError as err:
        raise LosscraftError(
            "the distance-map helpers need scipy: pip install 'losscraft[seg]' (or pip install scipy)"
        ) from err
    return distance_transform_edt  # type: ignore[no-any-return]


def _foreground(fn: str, mask: Any, num_classes: int | None) -> Tensor:
    """The boolean ``(N, C, *spatial)`` foreground of ``mask`` (one-hot of class indices with ``num_classes``)."""
    m = check_tensor(fn, "mask", mask)
    if num_classes is not None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise LosscraftError(f"{fn}: 'num_classes' must be an int >= 2 or None, got {num_classes!r}")
        if m.dim() < 2:
            raise LosscraftError(
                f"{fn}: with num_classes, 'mask' must hold class indices of shape (N, *spatial), "
                f"got {fmt_shape(m)}"
            )
        check_class_index(fn, "mask", m, num_classes, None)
        # (N, *spatial) indices -> (N, C, *spatial) booleans
        return torch.nn.functional.one_hot(m.long(), num_classes).movedim(-1, 1).bool()
    if m.dim() < 3:
        raise LosscraftError(
            f"{fn}: 'mask' must have shape (N, C, *spatial) with at least one spatial dim "
            f"(binary masks: (N, 1, *spatial)), got {fmt_shape(m)}; pass num_classes for "
            "class indices of shape (N, *spatial)"
        )
    if m.dtype == torch.bool:
        return m
    if m.is_complex():
        raise LosscraftError(f"{fn}: 'mask' must be boolean, integer or floating, got {m.dtype}")
    # why > 0.5: {0, 1} masks and probabilities alike (a prediction's map thresholds it at 0.5)
    return m > 0.5


def _spacing(fn: str, spacing: float | Sequence[float] | None, ndim: int) -> tuple[float, ...] | None:
    if spacing is None:
        return None
    values: list[Any] = list(spacing) if isinstance(spacing, (list, tuple)) else [spacing] * ndim
    ok = len(values) == ndim and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0 for v in values
    )
    if not ok:
        raise LosscraftError(
            f"{fn}: 'spacing' must be a positive finite float or a sequence of {ndim} of them "
            f"(one per spatial dim), got {spacing!r}"
        )
    return tuple(float(v) for v in values)


def _maps(
    fn: str,
    mask: Any,
    num_classes: int | None,
    spacing: float | Sequence[float] | None,
    dtype: torch.dtype,
    signed: bool,
) -> Tensor:
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise LosscraftError(f"{fn}: 'dtype' must be a floating torch dtype, got {dtype!r}")
    fg = _foreground(fn, mask, num_classes)
    sampling = _spacing(fn, spacing, fg.dim() - 2)
    edt = _edt()
    arr = fg.detach().cpu().numpy()
    out = np.zeros(arr.shape, dtype=np.float64)
    for n in range(arr.shape[0]):
        for c in range(arr.shape[1]):
            pos = arr[n, c]
            if not pos.any() or pos.all():
                continue  # no boundary: the map stays 0 (see the module docstring)
            neg = ~pos
            d_out = edt(neg, sampling=sampling)  # outside G: distance to the nearest pixel of G
            d_in = edt(pos, sampling=sampling)  # inside G: distance to the nearest pixel outside G
            out[n, c] = d_out * neg - (d_in - 1.0) * pos if signed else d_out + d_in
    return torch.from_numpy(out).to(device=fg.device, dtype=dtype)


def signed_distance_map(
    mask: Tensor,
    *,
    num_classes: int | None = None,
    spacing: float | Sequence[float] | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    r"""Signed distance map of each image and class (Kervadec et al.'s ``one_hot2dist``).

    $\phi = d_{\bar G} [\bar G] - (d_G - 1) [G]$: positive outside the object (the distance
    to it, $\ge 1$), $\le 0$ inside (minus the distance to the background, less one; 0 on
    the object's border pixels). The target of ``losscraft.functional.boundary_loss``.
    Compute it once per target in the data pipeline (scipy, on the CPU).

    Args:
        mask: ``(N, C, *spatial)`` masks (bool, or numbers: foreground where ``> 0.5``;
            binary masks are ``(N, 1, *spatial)``), or with ``num_classes`` integer class
            indices ``(N, *spatial)``, one-hot encoded to ``(N, num_classes, *spatial)``.
        num_classes: number of classes of an index ``mask``; None: ``mask`` has a class dim.
        spacing: pixel size, one float or one per spatial dim (anisotropic voxels);
            default 1.
        dtype: floating dtype of the result (default float32).

    Returns:
        ``(N, C, *spatial)`` maps on ``mask``'s device. An image and class whose mask is
        empty or full has no boundary: its map is 0.

    Raises:
        LosscraftError: a mask without a spatial dim, class indices out of range, a bad
            ``num_classes``, ``spacing`` or ``dtype``, or scipy missing (install
            ``losscraft[seg]``).

    Examples:
        >>> import torch
        >>> from losscraft.segmentation import signed_distance_map
        >>> signed_distance_map(torch.tensor([[[0, 1, 1, 1, 0, 0]]]))
        tensor([[[ 1.,  0., -1.,  0.,  1.,  2.]]])
    """
    return _maps("signed_distance_map", mask, num_classes, spacing, dtype, signed=True)


def distance_map(
    mask: Tensor,
    *,
    num_classes: int | None = None,
    spacing: float | Sequence[float] | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    r"""Unsigned distance transform of each image and class (Karimi & Salcudean; MONAI).

    $d = d_G [G] + d_{\bar G} [\bar G]$: the distance of every pixel to the nearest pixel on
    the other side of the object's boundary ($\ge 1$), as MONAI's
    ``HausdorffDTLoss.distance_field``. The ``target_distance`` (and ``input_distance``) of
    ``losscraft.functional.hausdorff_dt_loss``; probabilities are thresholded at 0.5.

    Args:
        mask: ``(N, C, *spatial)`` masks or probabilities (foreground where ``> 0.5``; binary
            masks are ``(N, 1, *spatial)``), or with ``num_classes`` integer class indices
            ``(N, *spatial)``, one-hot encoded to ``(N, num_classes, *spatial)``.
        num_classes: number of classes of an index ``mask``; None: ``mask`` has a class dim.
        spacing: pixel size, one float or one per spatial dim; default 1.
        dtype: floating dtype of the result (default float32).

    Returns:
        ``(N, C, *spatial)`` maps on ``mask``'s device; 0 for an image and class whose mask is
        empty or full (no boundary).

    Raises:
        LosscraftError: as :func:`signed_distance_map`.

    Examples:
        >>> import torch
        >>> from losscraft.segmentation import distance_map
        >>> distance_map(torch.tensor([[[0, 1, 1, 1, 0, 0]]]))
        tensor([[[1., 1., 2., 1., 1., 2.]]])
    """
    return _maps("distance_map", mask, num_classes, spacing, dtype, signed=False)
