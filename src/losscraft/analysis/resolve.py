"""What :func:`~losscraft.analyze` and :func:`~losscraft.analysis.curve_data` accept as a loss.

A registry name or alias, a :class:`~losscraft.LossEntry`, a loss Module instance or class, a
custom loss or a registered functional form becomes ``(spec, function, hyperparameters)``.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from .._core.checks import check_params
from .._core.errors import LosscraftError
from .._core.module import LossModule
from .._core.registry import LossEntry, get
from .._core.spec import Curve, LossSpec, TensorDomain
from .thresholds import F64


def resolve(
    loss: Any, params: dict[str, Any], caller: str
) -> tuple[LossSpec, Callable[..., Tensor], dict[str, Any]]:
    """The spec, the function and every hyperparameter (defaults filled, float tensors in float64)."""
    base: dict[str, Any] = {}
    spec: LossSpec | None = None
    fn: Callable[..., Tensor] | None = None
    if isinstance(loss, str):
        try:
            entry = get(loss)
        except LosscraftError as exc:  # "get: unknown loss 'hubber'; did you mean 'huber'? ..."
            raise LosscraftError(str(exc).replace("get:", f"{caller}:", 1)) from None
        spec, fn = entry.spec, entry.function
    elif isinstance(loss, LossEntry):
        spec, fn = loss.spec, loss.function
    elif isinstance(loss, LossModule):
        spec, fn = type(loss).spec, type(loss)._fn
        base = {k: v for k, v in loss.hparams.items() if k != "reduction"}
    elif isinstance(loss, type) and issubclass(loss, LossModule) and hasattr(loss, "spec"):
        spec, fn = loss.spec, loss._fn
    elif isinstance(getattr(loss, "spec", None), LossSpec) and callable(getattr(loss, "function", None)):
        spec, fn = loss.spec, loss.function  # a builder.CustomLoss
    elif callable(loss) and isinstance(getattr(loss, "__name__", None), str):
        try:
            entry = get(loss.__name__)
        except LosscraftError:
            entry = None
        if entry is not None and entry.function is loss:
            spec, fn = entry.spec, entry.function
    if spec is None or fn is None:
        raise LosscraftError(
            f"{caller}: 'loss' must be a registry name, a LossEntry, a loss Module instance or a "
            f"custom loss from losscraft.builder.custom_loss, got {type(loss).__name__}"
        )
    known = [p.name for p in spec.params]
    unknown = sorted(set(params) - set(known))
    if unknown:
        bad = unknown[0]
        close = difflib.get_close_matches(bad, known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        allowed = ", ".join(repr(k) for k in known) or "none"
        raise LosscraftError(
            f"{caller}: unknown hyperparameter {bad!r} for {spec.name}{hint} (expected some of: {allowed})"
        )
    hp = {p.name: p.default for p in spec.params}
    hp.update(base)
    hp.update(params)
    for p in spec.params:
        v = hp[p.name]
        if isinstance(p.domain, TensorDomain) and isinstance(v, (list, tuple)):
            with contextlib.suppress(TypeError, ValueError):
                v = torch.as_tensor(v, dtype=F64)
        if isinstance(v, Tensor) and v.is_floating_point():
            v = v.detach().to(F64).clone()
        hp[p.name] = v
    check_params(spec, hp)
    return spec, fn, hp


def curves(spec: LossSpec, caller: str) -> tuple[Curve, ...]:
    """The spec's curves, primary first (an error when it has none)."""
    if not spec.curves:
        raise LosscraftError(
            f"{caller}: loss {spec.name!r} has no Curve in its spec; there is nothing to analyse"
        )
    return spec.curves


def params_for_report(spec: LossSpec, hp: dict[str, Any]) -> dict[str, Any]:
    """The hyperparameters as JSON-friendly config values."""
    return {p.name: p.domain.to_config(hp[p.name]) for p in spec.params}


def label(curve: Curve) -> str:
    """The curve's label, or its axis name when the spec gives none."""
    return curve.label or curve.axis
