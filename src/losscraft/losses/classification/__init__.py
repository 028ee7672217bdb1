"""Classification losses."""

from .bce import BCELoss, bce_loss
from .bce_with_logits import BCEWithLogitsLoss, bce_with_logits_loss
from .binary_focal import BinaryFocalLoss, binary_focal_loss
from .cross_entropy import CrossEntropyLoss, cross_entropy_loss
from .focal import FocalLoss, focal_loss

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "BinaryFocalLoss",
    "CrossEntropyLoss",
    "FocalLoss",
    "bce_loss",
    "bce_with_logits_loss",
    "binary_focal_loss",
    "cross_entropy_loss",
    "focal_loss",
]
