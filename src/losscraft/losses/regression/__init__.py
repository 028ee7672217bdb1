"""Regression losses."""

from .huber import HuberLoss, huber_loss
from .log_cosh import LogCoshLoss, log_cosh_loss
from .mae import MAELoss, mae_loss
from .mse import MSELoss, mse_loss
from .quantile import QuantileLoss, quantile_loss

__all__ = [
    "HuberLoss",
    "LogCoshLoss",
    "MAELoss",
    "MSELoss",
    "QuantileLoss",
    "huber_loss",
    "log_cosh_loss",
    "mae_loss",
    "mse_loss",
    "quantile_loss",
]
