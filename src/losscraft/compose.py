"""Combine losses: weighted sums with per-term logging, weight schedules and config round-trip.

>>> import losscraft
>>> loss = 0.7 * losscraft.BinaryFocalLoss() + 0.3 * losscraft.DiceLoss()
>>> loss
CombinedLoss(
  binary_focal: 0.7 * BinaryFocalLoss(gamma=2.0, alpha=0.25, reduction='mean')
  dice: 0.3 * DiceLoss(mode='binary', smooth=1.0, ignore_index=None, aggregate='sample', reduction='mean')
)
>>> cfg = loss.get_config()
>>> losscraft.build(cfg).get_config() == cfg
True

Every term receives the same positional inputs. After a call, :attr:`CombinedLoss.last_terms`
holds each term's (unweighted, detached) value for logging, so no second forward pass is
needed. Weights are numbers or :class:`Schedule` objects evaluated at the ``step`` the caller
passes explicitly (there is no hidden global step).
"""

from __future__ import annotations

# The algebra lives in the core (the Module base derives from Combinable); this module is its
# public face. input_names and call_input_names are re-exported for the composites built on it.
from ._core.combine import (
    Combinable,
    CombinedLoss,
    Constant,
    CosineSchedule,
    LinearWarmup,
    Schedule,
    schedule_from_config,
)
from ._core.combine import call_input_names as call_input_names
from ._core.combine import input_names as input_names

__all__ = [
    "Combinable",
    "CombinedLoss",
    "Constant",
    "CosineSchedule",
    "LinearWarmup",
    "Schedule",
    "schedule_from_config",
]
