"""The measured members of :data:`~losscraft.CHECKED_PROPERTIES`, each holding on every curve.

``nonnegative`` (loss ``>= -NONNEGATIVE_ATOL`` on the grids and on random samples from
``spec.sample``), ``zero_at_match`` (minimum at zero with ``|loss(zero)| < ZERO_ATOL``),
``symmetric``, ``convex``, ``smooth`` (C1 or C2), ``bounded_gradient``, ``scale_invariant``
(``spec.sample`` inputs rescaled by each of :data:`SCALES` give the same unreduced loss, rtol
``SCALE_RTOL``) and ``needs_logits`` (the spec's input kind). The contract suite asserts that
these equal the declared properties of every built-in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from .._core.spec import InputKind, LossSpec, Property
from .curve import CurveAnalysis
from .thresholds import (
    F64,
    NONNEGATIVE_ATOL,
    NONNEGATIVE_SAMPLES,
    SCALE_ATOL,
    SCALE_RTOL,
    SCALE_SAMPLE,
    SCALES,
    ZERO_ATOL,
)


def measured_properties(
    spec: LossSpec, fn: Callable[..., Tensor], hp: dict[str, Any], per_curve: Sequence[CurveAnalysis]
) -> frozenset[Property]:
    """The checked properties ``fn`` has, from its curves' measurements and ``spec.sample`` batches."""
    scale_inv = _scale_invariant(spec, fn, hp)
    sample_nonneg = _nonnegative_on_samples(spec, fn, hp)
    props = set()
    if spec.input_kind is InputKind.LOGITS:
        props.add(Property.NEEDS_LOGITS)
    if scale_inv:
        props.add(Property.SCALE_INVARIANT)
    if sample_nonneg and all(c.nonnegative for c in per_curve):
        props.add(Property.NONNEGATIVE)
    if all(c.minimum_at_zero and abs(c.loss_at_zero) < ZERO_ATOL for c in per_curve):
        props.add(Property.ZERO_AT_MATCH)
    if all(c.symmetric for c in per_curve):
        props.add(Property.SYMMETRIC)
    if all(c.convex for c in per_curve):
        props.add(Property.CONVEX)
    if all(c.smoothness in ("C1", "C2") for c in per_curve):
        props.add(Property.SMOOTH)
    if all(c.bounded_gradient for c in per_curve):
        props.add(Property.BOUNDED_GRADIENT)
    return frozenset(props)


def _sample_call(spec: LossSpec, n: int, seed: int, hp: dict[str, Any]) -> Any:
    g = torch.Generator().manual_seed(seed)
    return spec.sample(n, generator=g, dtype=F64, **hp)


def _scale_invariant(spec: LossSpec, fn: Callable[..., Tensor], hp: dict[str, Any]) -> bool:
    n, seed = SCALE_SAMPLE
    c = _sample_call(spec, n, seed, hp)
    kw = {**hp, **c.kwargs}
    base = fn(*c.args, reduction="none", **kw)
    for s in SCALES:
        out = fn(c.args[0] * s, *c.args[1:], reduction="none", **kw)
        if not torch.allclose(out, base, rtol=SCALE_RTOL, atol=SCALE_ATOL):
            return False
    return True


def _nonnegative_on_samples(spec: LossSpec, fn: Callable[..., Tensor], hp: dict[str, Any]) -> bool:
    n, seeds = NONNEGATIVE_SAMPLES
    for seed in range(seeds):
        c = _sample_call(spec, n, seed, hp)
        if not bool((fn(*c.args, reduction="none", **{**hp, **c.kwargs}) >= -NONNEGATIVE_ATOL).all()):
            return False
    return True
