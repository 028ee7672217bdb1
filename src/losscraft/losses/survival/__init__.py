"""Survival losses: right-censored times to an event."""

from .cox import CoxLoss, cox_loss

__all__ = ["CoxLoss", "cox_loss"]
