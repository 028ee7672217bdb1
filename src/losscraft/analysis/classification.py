"""What a classification curve does deep in the wrong direction, and to an easy example.

*Confident-wrong* (curves with a ``logit`` or ``probability`` axis): the wrong end is the one
with the larger loss at ``zero -+ 10`` (logits) or ``1e-2`` from the ends (probabilities); the
report gives the loss and gradient at :data:`WRONG_LOGITS` from ``zero`` (logits) or at
:data:`WRONG_PROBABILITIES` from the wrong end (probabilities) and that end's growth classes:
BCE-with-logits grows *linearly* with gradient bound 1, BCE on probabilities is unbounded.

*Easy-example factor* (``logit`` curves of classification, focal-type and custom logit losses
whose curve inputs also fit plain BCE-with-logits, same shapes, or cross-entropy, class-index
target): at the point ``x_e`` of the curve where that reference says the true class has
probability ``p_t = exp(-CE(x_e)) = EASY_PT`` (found by bisection), ``loss(x_e) / CE(x_e)``.
For focal loss without ``alpha`` this is exactly the modulating factor ``(1 - p_t)^gamma =
0.1^gamma`` (times ``alpha_t`` with ``alpha``); for CE it is 1. The *gradient factor* is
``loss'(x_e) / CE'(x_e)``; for focal loss it is ``(1-p)^gamma (1 + gamma p (-log p) / (1 - p))``
at ``p = 0.9`` (the derivative of the modulating factor adds the log term).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from .._core.errors import LosscraftError
from .._core.spec import Curve, Family, LossSpec, Property
from .grids import evaluate
from .thresholds import (
    BISECTION_RTOL,
    BISECTION_STEPS,
    EASY_BRACKET,
    EASY_PT,
    F64,
    WRONG_LOGITS,
    WRONG_PROBABILITIES,
)


def confident_wrong(
    fn: Callable[..., Tensor], curve: Curve, hp: dict[str, Any], ends: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Loss and gradient deep in the wrong direction, with that end's growth classes from ``ends``."""
    z = float(curve.zero)
    if curve.axis == "logit":
        probe = torch.tensor([z - WRONG_LOGITS[0], z + WRONG_LOGITS[0]], dtype=F64)
    else:
        lo, hi = (float(v) for v in curve.extent)
        probe = torch.tensor([lo + WRONG_PROBABILITIES[0], hi - WRONG_PROBABILITIES[0]], dtype=F64)
    pv = evaluate(fn, curve, probe, hp)[0]
    end = "upper" if float(pv[1]) > float(pv[0]) else "lower"
    sign = 1.0 if end == "upper" else -1.0
    if curve.axis == "logit":
        xs = [z + sign * d for d in WRONG_LOGITS]
    else:
        bound = float(curve.extent[1] if end == "upper" else curve.extent[0])
        xs = [bound - sign * d for d in WRONG_PROBABILITIES]
    v, g = evaluate(fn, curve, torch.tensor(xs, dtype=F64), hp)
    e = ends[end]
    return {
        "direction": e["limit"],
        "x": xs,
        "loss": v.tolist(),
        "gradient": g.tolist(),
        "loss_growth": e["loss_growth"],
        "gradient_growth": e["gradient_growth"],
        "loss_bounded": e["loss_growth"] == "bounded",
        "gradient_bounded": e["gradient_growth"] == "bounded" and bool(torch.isfinite(g).all()),
    }


def classification_like(spec: LossSpec, curve: Curve) -> bool:
    """Logit curves of classification losses (and of focal-type or custom logit losses)."""
    if curve.axis != "logit":
        return False
    if Property.DOWNWEIGHTS_EASY in spec.properties:
        return True
    return spec.family in (Family.CLASSIFICATION, Family.REGRESSION)  # regression: custom logit losses


def _reference(curve: Curve, hp: dict[str, Any]) -> Callable[[Tensor], Tensor] | None:
    """Plain BCE-with-logits / cross-entropy along ``curve`` (``None`` when neither fits)."""
    from ..functional import bce_with_logits_loss, cross_entropy_loss

    probe = torch.zeros(1, dtype=F64)
    try:
        call = curve.make(probe, **hp) if not curve.pointwise else curve.make(probe[0], **hp)
    except Exception:  # a curve that needs its own loss's hyperparameters: no reference
        return None
    if len(call.args) != 2:
        return None
    inp, tgt = call.args
    if tgt.is_floating_point() and tgt.shape == inp.shape:
        ref: Callable[..., Tensor] = bce_with_logits_loss
    elif not tgt.is_floating_point() and inp.dim() >= 2 and tgt.shape == (inp.shape[0], *inp.shape[2:]):
        ref = cross_entropy_loss
    else:
        return None

    def along(x: Tensor) -> Tensor:
        out = []
        for xi in x.reshape(-1).unbind(0) if curve.pointwise else [x]:
            c = curve.make(xi, **hp)
            out.append(ref(*c.args, reduction="none").reshape(-1)[: 1 if curve.pointwise else None])
        return torch.cat(out)

    try:
        v = along(torch.tensor([-1.0, 0.0, 1.0], dtype=F64))
    except (LosscraftError, RuntimeError):
        return None
    return along if v.numel() == 3 else None


def easy_example(
    fn: Callable[..., Tensor], curve: Curve, hp: dict[str, Any]
) -> tuple[float | None, float | None]:
    """``loss / CE`` and ``loss' / CE'`` where the reference gives ``p_t = EASY_PT`` (or ``None``)."""
    ref = _reference(curve, hp)
    if ref is None:
        return None, None
    target = -math.log(EASY_PT)  # CE at p_t = 0.9
    xs = torch.linspace(*EASY_BRACKET, dtype=F64) + float(curve.zero)
    with torch.no_grad():
        ce = ref(xs)
    diff = ce - target
    sign_change = torch.nonzero((diff[:-1] * diff[1:] <= 0) & torch.isfinite(diff[:-1] * diff[1:])).flatten()
    if sign_change.numel() == 0:
        return None, None
    i = int(sign_change[0])
    a, b = float(xs[i]), float(xs[i + 1])
    fa = float(diff[i])
    for _ in range(BISECTION_STEPS):  # bisection to machine precision
        m = 0.5 * (a + b)
        with torch.no_grad():
            fm = float(ref(torch.tensor([m], dtype=F64))[0]) - target
        if (fm <= 0) == (fa <= 0):
            a, fa = m, fm
        else:
            b = m
        if b - a <= BISECTION_RTOL * max(1.0, abs(m)):
            break
    x_e = torch.tensor([0.5 * (a + b)], dtype=F64)
    v, g = evaluate(fn, curve, x_e, hp)
    xr = x_e.clone().requires_grad_(True)
    r = ref(xr)
    (gr,) = torch.autograd.grad(r.sum(), xr)
    loss_ratio = float(v[0] / r.detach()[0]) + 0.0  # + 0.0: no "-0.0"
    grad_ratio = float(g[0] / gr[0]) + 0.0 if float(gr[0]) != 0 else None
    return loss_ratio, grad_ratio
