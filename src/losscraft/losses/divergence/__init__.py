"""Divergence losses."""

from .kl_div import KLDivLoss, kl_div_loss

__all__ = [
    "KLDivLoss",
    "kl_div_loss",
]
