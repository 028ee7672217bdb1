"""Functional forms of every catalog loss: ``import losscraft.functional as LF``."""

from .losses.regression import huber_loss, log_cosh_loss, mae_loss, mse_loss, quantile_loss

__all__ = [
    "huber_loss",
    "log_cosh_loss",
    "mae_loss",
    "mse_loss",
    "quantile_loss",
]
