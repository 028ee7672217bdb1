r"""Measure how a loss and its gradient behave: :func:`analyze`.

People choose between MSE, MAE, Huber and Log-Cosh, or between cross-entropy and focal loss,
because of how the loss and its gradient behave as the error grows. :func:`analyze` measures
this for any registry entry or custom loss instead of asking you to trust a blog post::

    >>> import losscraft
    >>> r = losscraft.analyze("huber", delta=2.0)
    >>> r.loss_growth, r.gradient_growth, r.gradient_bound, r.smoothness, r.curvature_kinks
    ('linear', 'bounded', 2.0, 'C1', (-2.0, 2.0))
    >>> print(r.table())  # doctest: +ELLIPSIS
    huber(delta=2.0) -- regression, residual axis, domain [-4, 4]
    ...

Everything is measured numerically, in float64, on the loss's :class:`~losscraft.LossSpec`
curves; nothing here knows a particular loss. What each measurement means, and its limits:
docs/understanding-losses.md ("How the measurements are made"). The modules, top to bottom
(each imports only those below it):

* :mod:`~losscraft.analysis.report`: :func:`analyze` and the :class:`AnalysisReport` (table, JSON);
* :mod:`~losscraft.analysis.properties`: the measured :data:`~losscraft.CHECKED_PROPERTIES`;
* :mod:`~losscraft.analysis.curve`: every measurement on one curve (:class:`CurveAnalysis`);
* :mod:`~losscraft.analysis.classification`: confident-wrong and easy-example factors;
* :mod:`~losscraft.analysis.smoothness`: convexity, kinks and jumps;
* :mod:`~losscraft.analysis.growth`: growth towards each end, the gradient bound;
* :mod:`~losscraft.analysis.grids`: the grids, the loss and gradient on them, :func:`curve_data`;
* :mod:`~losscraft.analysis.resolve`: what counts as a loss to analyse;
* :mod:`~losscraft.analysis.text` and :mod:`~losscraft.analysis.thresholds`: number formatting,
  and every threshold with its reason.
"""

from __future__ import annotations

from .curve import CurveAnalysis
from .grids import CurveData, curve_data
from .growth import GROWTH_CLASSES, Growth
from .report import AnalysisReport, analyze
from .smoothness import Smoothness
from .thresholds import (  # the thresholds were importable from here before the split: they still are
    BOUNDED_ATOL,
    CONVEX_RTOL,
    EASY_PT,
    FAR,
    GRID,
    GRID_POINTWISE,
    JUMP_RATIO,
    JUMP_RTOL,
    LEVELS,
    MAX_CANDIDATES,
    SLOPES,
    SUB,
    SYMMETRY_ATOL,
    SYMMETRY_RTOL,
    TAIL_PER_DECADE,
    TAIL_PER_DECADE_POINTWISE,
    WRONG_LOGITS,
    WRONG_PROBABILITIES,
    ZERO_ATOL,
)

__all__ = ["GROWTH_CLASSES", "AnalysisReport", "CurveAnalysis", "CurveData", "analyze", "curve_data"]
