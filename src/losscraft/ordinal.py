"""Ordinal regression: the losses for ordered classes and what turns their outputs into ranks.

``import losscraft.ordinal as LO``: :func:`coral_loss` / :class:`CoralLoss` and
:func:`predict_coral`, :func:`corn_loss` / :class:`CornLoss` and :func:`predict_corn`,
:func:`cumulative_link_loss` / :class:`CumulativeLinkLoss` with :class:`OrderedCutpoints`,
:func:`cumulative_link_probabilities` and :func:`predict_cumulative_link`. The losses are also in
:mod:`losscraft.functional` and :mod:`losscraft.nn` like every catalog entry.
"""

from .losses.ordinal import (
    CoralLoss,
    CornLoss,
    CumulativeLinkLoss,
    OrderedCutpoints,
    coral_loss,
    corn_loss,
    cumulative_link_loss,
    cumulative_link_probabilities,
    predict_coral,
    predict_corn,
    predict_cumulative_link,
)

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
