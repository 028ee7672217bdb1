"""Module forms of every catalog loss (also exported from ``losscraft``)."""

from ._core.module import LossModule
from .losses.classification import BCELoss, BCEWithLogitsLoss, BinaryFocalLoss, CrossEntropyLoss, FocalLoss
from .losses.divergence import KLDivLoss
from .losses.embedding import ContrastiveLoss, CosineEmbeddingLoss, CosineSimilarityLoss, TripletLoss
from .losses.regression import HuberLoss, LogCoshLoss, MAELoss, MSELoss, QuantileLoss
from .losses.segmentation import DiceLoss, JaccardLoss

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "BinaryFocalLoss",
    "ContrastiveLoss",
    "CosineEmbeddingLoss",
    "CosineSimilarityLoss",
    "CrossEntropyLoss",
    "DiceLoss",
    "FocalLoss",
    "HuberLoss",
    "JaccardLoss",
    "KLDivLoss",
    "LogCoshLoss",
    "LossModule",
    "MAELoss",
    "MSELoss",
    "QuantileLoss",
    "TripletLoss",
]
