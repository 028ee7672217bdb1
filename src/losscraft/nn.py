"""Module forms of every catalog loss (also exported from ``losscraft``)."""

from ._core.module import LossModule
from .losses.regression import HuberLoss, LogCoshLoss, MAELoss, MSELoss, QuantileLoss

__all__ = [
    "HuberLoss",
    "LogCoshLoss",
    "LossModule",
    "MAELoss",
    "MSELoss",
    "QuantileLoss",
]
