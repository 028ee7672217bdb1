"""Every number the measurements of :func:`~losscraft.analyze` depend on, each with its reason.

The bottom of the package: nothing here imports another analysis module. What the measurements
mean for a user (growth classes, smoothness, the checked properties, the limits) is on
docs/understanding-losses.md ("How the measurements are made"), generated from these values.
"""

from __future__ import annotations

import torch

F64 = torch.float64  # everything is measured in float64: thresholds near 1e-12 need its precision

# --------------------------------------------------------------------------- grids
GRID = 401  # coarse domain grid, refined SUB x to 4001 points (also the CurveData a report plots)
GRID_POINTWISE = 41  # pointwise curves cost one loss call per point: 41 coarse, 401 refined
SUB = 10  # refinement factor per level, for the grids and for each zoom level into a jump
TAIL_PER_DECADE = 20  # the tails continue the domain geometrically, 20 points per decade
TAIL_PER_DECADE_POINTWISE = 10  # pointwise curves: fewer loss calls on the tails
TAIL_START_MIN = 1e-3  # a tail starts at least this far from zero (log spacing needs a start > 0)
FAR = 1e6  # tails and the approach reach zero +- FAR at an infinite end, 1 / FAR from a finite one
# The approach to an end, as decade exponents k: the points zero +- 10^k (t = 10^-1 .. 10^6 = FAR)
# at an infinite end, end -+ 10^-k (t = 10^1 .. 10^6 = 1 / distance) at a finite end.
APPROACH_INFINITE = range(-1, 7)
APPROACH_FINITE = range(1, 7)

# --------------------------------------------------------------------------- zero, sign, symmetry
MINIMUM_RTOL = 1e-12  # minimum at zero: loss(zero) <= loss(x) + MINIMUM_RTOL max(1, |loss(zero)|)
NONNEGATIVE_ATOL = 1e-12  # non-negative: loss >= -NONNEGATIVE_ATOL (rounding of a loss that is 0)
ZERO_ATOL = 1e-10  # zero_at_match: |loss(zero)| below this (cos(pi / 2) is 6e-17, not 0)
SYMMETRY_POINTS = 200  # symmetric: loss(zero - t) == loss(zero + t) for this many t in [0, half domain]
SYMMETRY_POINTS_POINTWISE = 50  # pointwise curves: one loss call per point
SYMMETRY_RTOL, SYMMETRY_ATOL = 1e-9, 1e-12  # float64 rounding of equal values computed two ways

# --------------------------------------------------------------------------- convexity
CONVEX_STRIDE = 5  # second differences on every 5th refined point (801 points): they shrink with
# the step squared and rounding does not, so a coarser step keeps curvature above the rounding
CONVEX_RTOL = 1e-9  # second differences >= -CONVEX_RTOL max(1, max |loss|); tail slopes likewise

# --------------------------------------------------------------------------- jumps (smoothness)
# A window of two steps whose change is at least JUMP_RATIO of the total variation of the 2 * SUB
# steps around it is a candidate jump: a smooth function changes by about a tenth of it there.
JUMP_RATIO = 0.5  # ... and a candidate whose last zoom level kept >= this fraction is a jump
JUMP_RTOL = 1e-7  # jumps below JUMP_RTOL * (1 + |f|) are noise (rounding, finite differences)
MAX_CANDIDATES = 32  # candidates per grid and signal, largest first: a bound on the zoom's work
LEVELS = 6  # zoom levels per candidate (each 5x narrower): a smooth change shrinks 5^6 = 15625x
AT_ZERO_WIDTH = 1e-4  # smoothness at zero counts jumps within 1e-4 x the domain width of zero
MERGE_STEPS = 2.0  # jumps closer than two grid steps are one (a jump on a grid node shows twice)
KINK_SHADOW = 2.0  # a curvature jump within two zoom widths of a kink or a loss jump is that one

# --------------------------------------------------------------------------- growth
BOUNDED_ATOL = 1e-9  # a decade increment counts above BOUNDED_ATOL * max(1, |f|) at its two points
# Classes from the last log-log slope p, each from its threshold up: p ~ 0 is log t (or log^2 t),
# p ~ 1/2 sqrt t, p ~ 1 linear; anything >= 1.25 is superlinear unless QUADRATIC holds.
SLOPES = ((-0.25, "logarithmic"), (0.25, "sublinear"), (0.75, "linear"), (1.25, "superlinear"))
QUADRATIC = (1.75, 2.25)  # p in [1.75, 2.25) is quadratic (MSE's tail), apart from superlinear
EXPONENTIAL_SLOPE = 2.25  # a slope above this (faster than quadratic) that also accelerates ...
EXPONENTIAL_ACCELERATION = 0.5  # ... by more than this over the previous decade is faster than any power

# --------------------------------------------------------------------------- classification curves
EASY_PT = 0.9  # the easy example: the true class has probability p_t = 0.9 under the reference
EASY_BRACKET = (-50.0, 50.0, 1001)  # logits (around zero) searched for p_t = EASY_PT, then bisected
BISECTION_STEPS = 200  # at most; the bisection stops at machine precision long before
BISECTION_RTOL = 1e-15  # bracket width at which the bisection stops (relative to max(1, |x|))
WRONG_LOGITS = (10.0, 100.0, 1e4)  # confident-wrong points on a logit curve: zero -+ these
WRONG_PROBABILITIES = (1e-2, 1e-4, 1e-6)  # confident-wrong points on a probability curve: from the end

# --------------------------------------------------------------------------- sample-based checks
SCALES = (0.37, 5.3)  # scale_invariant: inputs rescaled by these (one shrink, one stretch)
SCALE_RTOL, SCALE_ATOL = 1e-9, 1e-12  # ... give the same unreduced loss up to float64 rounding
SCALE_SAMPLE = (6, 3)  # (n, seed) of the spec.sample batch rescaled
NONNEGATIVE_SAMPLES = (8, 3)  # (n, seeds): loss >= -NONNEGATIVE_ATOL on spec.sample batches too
