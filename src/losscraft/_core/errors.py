"""The one exception type losscraft raises for bad input."""

from __future__ import annotations

from typing import NoReturn

__all__ = ["LosscraftError", "refuse_torchscript"]


class LosscraftError(ValueError):
    """Bad input to a losscraft loss: shape, dtype, domain, hyperparameter or option.

    A subclass of :class:`ValueError`, so ``except ValueError`` keeps working. Every message
    names the function, the offending argument, what was given and what was expected, e.g.
    ``huber_loss: 'delta' must be in (0, inf), got -1.0``. Messages are part of the API and
    are asserted by the test suite.
    """


def refuse_torchscript(module: object) -> NoReturn:
    """What ``torch.jit.script`` meets in every losscraft Module (its ``__prepare_scriptable__``).

    TorchScript cannot compile the losses (keyword-only hyperparameters, a variadic
    ``forward``, validation in Python): say so, and name what works, instead of torch's
    ``NotSupportedError`` deep inside a source listing. Scripting a model that merely holds a
    loss as a submodule fails the same way (torch scripts every submodule).

    Raises:
        LosscraftError: always.
    """
    raise LosscraftError(
        f"torch.jit.script: {type(module).__name__} is a losscraft loss Module, which TorchScript "
        "cannot compile (keyword-only hyperparameters, a variadic forward, validation in Python); "
        "use torch.compile(loss) or torch.export.export(loss, example_inputs) instead, and keep "
        "the loss outside the modules you script"
    )
