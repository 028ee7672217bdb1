"""The one exception type losscraft raises for bad input."""

from __future__ import annotations

__all__ = ["LosscraftError"]


class LosscraftError(ValueError):
    """Bad input to a losscraft loss: shape, dtype, domain, hyperparameter or option.

    A subclass of :class:`ValueError`, so ``except ValueError`` keeps working. Every message
    names the function, the offending argument, what was given and what was expected, e.g.
    ``huber_loss: 'delta' must be in (0, inf), got -1.0``. Messages are part of the API and
    are asserted by the test suite.
    """
