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
from .nn import *  # noqa: F403
from .nn import __all__ as _nn_all

__version__ = "0.1.0"

__all__ = sorted(
    [
        *_nn_all,
        "CHECKED_PROPERTIES",
        "Family",
        "InputKind",
        "LossEntry",
        "LossSpec",
        "LosscraftError",
        "Property",
        "TargetKind",
        "Task",
        "__version__",
        "build",
        "catalog",
        "functional",
        "get",
        "reduce",
    ]
)
