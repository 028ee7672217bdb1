"""Sequence losses: label sequences without a frame alignment (speech, handwriting, text)."""

from .ctc import CTCLoss, ctc_loss

__all__ = ["CTCLoss", "ctc_loss"]
