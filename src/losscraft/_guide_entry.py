"""``losscraft.profile``, ``recommend`` and ``compare``: thin faces of :mod:`losscraft.guide`.

The guide's statistics use the ``[guide]`` extra (scikit-learn, scipy, pandas); ``import
losscraft`` stays torch + numpy only, so these import the guide on their first call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .guide.comparing import Comparison
    from .guide.profiling import Profile
    from .guide.recommending import Recommendations

__all__ = ["compare", "profile", "recommend"]


def profile(
    target: Any,
    *,
    task: Any = None,
    features: Any = None,
    group: Any = None,
    max_rows: int = 5000,
    seed: int = 0,
) -> Profile:
    """Profile a target (and optionally its features) for choosing a loss.

    The same as :func:`losscraft.guide.profile` (see its docstring; imported on the first call).

    >>> import losscraft
    >>> losscraft.profile([0, 1, 1, 0, 1, 1]).task
    'binary_classification'
    """
    from .guide import profile as _profile

    return _profile(target, task=task, features=features, group=group, max_rows=max_rows, seed=seed)


def recommend(
    target_or_profile: Any,
    *,
    goal: Any = None,
    features: Any = None,
    task: Any = None,
    group: Any = None,
    top: int = 3,
) -> Recommendations:
    """Recommend losses for a target (or a :class:`~losscraft.guide.Profile`), best first, with reasons.

    The same as :func:`losscraft.guide.recommend` (see its docstring; imported on the first call).
    """
    from .guide import recommend as _recommend

    return _recommend(target_or_profile, goal=goal, features=features, task=task, group=group, top=top)


def compare(
    X: Any,
    y: Any,
    losses: Sequence[Any] | None = None,
    *,
    task: Any = None,
    goal: Any = None,
    model: Any = "linear",
    metric: str | None = None,
    folds: int = 5,
    repeats: int = 2,
    epochs: int | None = None,
    seed: int = 0,
    contaminate: str | None = None,
    imbalance: str | None = None,
    report: Any = None,
    n_jobs: int = 1,
    progress: bool = True,
) -> Comparison:
    """Compare candidate losses on ``(X, y)`` by repeated cross-validation, with honest statistics.

    The same as :func:`losscraft.guide.compare` (see its docstring for every option; imported on
    the first call).
    """
    from .guide import compare as _compare

    return _compare(
        X,
        y,
        losses,
        task=task,
        goal=goal,
        model=model,
        metric=metric,
        folds=folds,
        repeats=repeats,
        epochs=epochs,
        seed=seed,
        contaminate=contaminate,
        imbalance=imbalance,
        report=report,
        n_jobs=n_jobs,
        progress=progress,
    )
