"""The guide: profile a target (and its features) and recommend losses, with reasons.

``profile(y, task=None, features=None)`` measures what matters for choosing a loss (task,
imbalance, outliers, tails, label noise...); ``recommend(y_or_profile, goal=None, ...)`` ranks
the catalog's losses for that data and goal, sets their data-dependent hyperparameters and
says why; ``compare(X, y, losses=None, ...)`` trains the same model with each candidate under
identical cross-validation and reports, with a test valid for overlapping training sets, which
loss wins on the metric that matters. The rules are one table of data (:mod:`losscraft.guide.rules`); the candidates come
from the registry's metadata. ``losscraft.profile``/``recommend``/``compare`` are the same functions
(imported on first call, so ``import losscraft`` stays torch + numpy only).

The statistics use the ``[guide]`` extra (scikit-learn, scipy, pandas, pyarrow), imported
inside the functions that need it: importing this package does not import them.
"""

from .comparing import Comparison, compare
from .profiling import Profile, profile
from .recommending import Recommendation, Recommendations, parse_goal, recommend

__all__ = [
    "Comparison",
    "Profile",
    "Recommendation",
    "Recommendations",
    "compare",
    "parse_goal",
    "profile",
    "recommend",
]
