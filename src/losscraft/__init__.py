"""losscraft: choose, use, design and verify loss functions for PyTorch.

>>> import torch, losscraft
>>> loss = losscraft.HuberLoss(delta=2.0)
>>> loss
HuberLoss(delta=2.0, reduction='mean')
>>> losscraft.get("huber").function is losscraft.functional.huber_loss
True
"""

from . import functional, losses
from ._core.errors import LosscraftError
from ._core.reduction import reduce
from ._core.registry import LossEntry, build, catalog, get
from ._core.spec import CHECKED_PROPERTIES, Family, InputKind, LossSpec, Property, TargetKind, Task
from .nn import (
    BCELoss,
    BCEWithLogitsLoss,
    BinaryFocalLoss,
    ContrastiveLoss,
    CosineEmbeddingLoss,
    CosineSimilarityLoss,
    CrossEntropyLoss,
    DiceLoss,
    FocalLoss,
    HuberLoss,
    JaccardLoss,
    KLDivLoss,
    LogCoshLoss,
    LossModule,
    MAELoss,
    MSELoss,
    QuantileLoss,
    TripletLoss,
)

__version__ = "0.1.0"

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "BinaryFocalLoss",
    "CHECKED_PROPERTIES",
    "ContrastiveLoss",
    "CosineEmbeddingLoss",
    "CosineSimilarityLoss",
    "CrossEntropyLoss",
    "DiceLoss",
    "Family",
    "FocalLoss",
    "HuberLoss",
    "InputKind",
    "JaccardLoss",
    "KLDivLoss",
    "LogCoshLoss",
    "LossEntry",
    "LossModule",
    "LossSpec",
    "LosscraftError",
    "MAELoss",
    "MSELoss",
    "Property",
    "QuantileLoss",
    "TargetKind",
    "Task",
    "TripletLoss",
    "__version__",
    "build",
    "catalog",
    "functional",
    "get",
    "losses",
    "reduce",
]
