"""Segmentation with boundaries and topology: the distance-map helpers and the losses that use them.

``import losscraft.segmentation as LS``: :func:`signed_distance_map` (the target of
:func:`boundary_loss` / :class:`BoundaryLoss`) and :func:`distance_map` (the maps of
:func:`hausdorff_dt_loss` / :class:`HausdorffDTLoss`), computed with scipy once per target in the
data pipeline (``pip install 'losscraft[seg]'``; scipy is imported on the first call, never by
``import losscraft``); :func:`soft_cldice_loss` / :class:`SoftClDiceLoss` with
:func:`soft_skeleton`. The losses are also in :mod:`losscraft.functional` and :mod:`losscraft.nn`
like every catalog entry.
"""

from .losses.segmentation import (
    BoundaryLoss,
    HausdorffDTLoss,
    SoftClDiceLoss,
    boundary_loss,
    distance_map,
    hausdorff_dt_loss,
    signed_distance_map,
    soft_cldice_loss,
    soft_skeleton,
)

__all__ = [
    "BoundaryLoss",
    "HausdorffDTLoss",
    "SoftClDiceLoss",
    "boundary_loss",
    "distance_map",
    "hausdorff_dt_loss",
    "signed_distance_map",
    "soft_cldice_loss",
    "soft_skeleton",
]
