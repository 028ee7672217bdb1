"""Classification losses."""

from .asl import ASLLoss, asl_loss
from .balanced_softmax import BalancedSoftmaxLoss, balanced_softmax_loss
from .bce import BCELoss, bce_loss
from .bce_with_logits import BCEWithLogitsLoss, bce_with_logits_loss
from .binary_focal import BinaryFocalLoss, binary_focal_loss
from .crammer_singer import CrammerSingerLoss, crammer_singer_loss
from .cross_entropy import CrossEntropyLoss, cross_entropy_loss
from .entmax15 import Entmax15Loss, entmax15_loss
from .focal import FocalLoss, focal_loss
from .gce import GCELoss, gce_loss
from .hinge import HingeLoss, hinge_loss
from .ldam import LDAMLoss, ldam_loss
from .linear_cross_entropy import LinearCrossEntropyLoss, linear_cross_entropy_loss
from .logit_adjusted import LogitAdjustedLoss, logit_adjusted_loss
from .multi_margin import MultiMarginLoss, multi_margin_loss
from .poly import PolyLoss, poly_loss
from .sce import SCELoss, sce_loss
from .sparsemax import SparsemaxLoss, sparsemax_loss
from .squared_hinge import SquaredHingeLoss, squared_hinge_loss

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
    "ASLLoss",
    "BalancedSoftmaxLoss",
    "GCELoss",
    "LDAMLoss",
    "LogitAdjustedLoss",
    "PolyLoss",
    "SCELoss",
    "asl_loss",
    "balanced_softmax_loss",
    "gce_loss",
    "ldam_loss",
    "logit_adjusted_loss",
    "poly_loss",
    "sce_loss",
    # large-vocabulary linear cross-entropy
    "LinearCrossEntropyLoss",
    "linear_cross_entropy_loss",
    # margins and sparse outputs
    "CrammerSingerLoss",
    "Entmax15Loss",
    "HingeLoss",
    "MultiMarginLoss",
    "SparsemaxLoss",
    "SquaredHingeLoss",
    "crammer_singer_loss",
    "entmax15_loss",
    "hinge_loss",
    "multi_margin_loss",
    "sparsemax_loss",
    "squared_hinge_loss",
]
