"""Segmentation losses: soft overlap scores (Dice, Jaccard/IoU) on logits."""

from .dice import DiceLoss, dice_loss
from .jaccard import JaccardLoss, jaccard_loss

__all__ = [
    "DiceLoss",
    "JaccardLoss",
    "dice_loss",
    "jaccard_loss",
]
