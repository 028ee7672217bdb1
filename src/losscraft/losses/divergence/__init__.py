"""Divergence losses."""

from .js_div import JSDivLoss, js_div_loss
from .kl_div import KLDivLoss, kl_div_loss

__all__ = [
    "KLDivLoss",
    "kl_div_loss",
    "JSDivLoss",
    "js_div_loss",
]
