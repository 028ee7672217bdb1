"""Segmentation losses on logits: soft overlap scores and the Lovász surrogates of IoU.

Dice, Jaccard/IoU, Tversky, focal Tversky, Generalized Dice; Lovász hinge and Lovász-softmax;
the boundary and Hausdorff distance-transform losses on distance maps (``distance_maps``: the
scipy helpers that compute them) and soft clDice on soft skeletons.
"""

from .boundary import BoundaryLoss, boundary_loss
from .dice import DiceLoss, dice_loss
from .distance_maps import distance_map, signed_distance_map
from .focal_tversky import FocalTverskyLoss, focal_tversky_loss
from .generalized_dice import GeneralizedDiceLoss, generalized_dice_loss
from .hausdorff_dt import HausdorffDTLoss, hausdorff_dt_loss
from .jaccard import JaccardLoss, jaccard_loss
from .lovasz_hinge import LovaszHingeLoss, lovasz_hinge_loss
from .lovasz_softmax import LovaszSoftmaxLoss, lovasz_softmax_loss
from .soft_cldice import SoftClDiceLoss, soft_cldice_loss, soft_skeleton
from .tversky import TverskyLoss, tversky_loss

__all__ = [
    "DiceLoss",
    "JaccardLoss",
    "dice_loss",
    "jaccard_loss",
    "TverskyLoss",
    "tversky_loss",
    "FocalTverskyLoss",
    "focal_tversky_loss",
    "GeneralizedDiceLoss",
    "generalized_dice_loss",
    "LovaszHingeLoss",
    "lovasz_hinge_loss",
    "LovaszSoftmaxLoss",
    "lovasz_softmax_loss",
    "BoundaryLoss",
    "boundary_loss",
    "HausdorffDTLoss",
    "hausdorff_dt_loss",
    "SoftClDiceLoss",
    "soft_cldice_loss",
    "soft_skeleton",
    "distance_map",
    "signed_distance_map",
]
