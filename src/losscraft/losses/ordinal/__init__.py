"""Ordinal regression losses (ordered classes: ratings, grades, stages) and their predict helpers."""

from .coral import CoralLoss, coral_loss
from .corn import CornLoss, corn_loss
from .cumulative_link import CumulativeLinkLoss, cumulative_link_loss
from .cutpoints import OrderedCutpoints
from .predict import cumulative_link_probabilities, predict_coral, predict_corn, predict_cumulative_link

__all__ = [
    "CoralLoss",
    "CornLoss",
    "CumulativeLinkLoss",
    "OrderedCutpoints",
    "coral_loss",
    "corn_loss",
    "cumulative_link_loss",
    "cumulative_link_probabilities",
    "predict_coral",
    "predict_corn",
    "predict_cumulative_link",
]
