"""Segmentation losses on logits: soft overlap scores and the Lovász surrogates of IoU.

Dice, Jaccard/IoU, Tversky, focal Tversky, Generalized Dice; Lovász hinge and Lovász-softmax.
"""

from .dice import DiceLoss, dice_loss
from .focal_tversky import FocalTverskyLoss, focal_tversky_loss
from .generalized_dice import GeneralizedDiceLoss, generalized_dice_loss
from .jaccard import JaccardLoss, jaccard_loss
from .lovasz_hinge import LovaszHingeLoss, lovasz_hinge_loss
from .lovasz_softmax import LovaszSoftmaxLoss, lovasz_softmax_loss
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
]
