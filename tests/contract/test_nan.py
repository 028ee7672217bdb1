"""Registry-wide NaN / inf rule: a bad input never turns into a finite, plausible loss.

* A NaN in an argument that is not range-checked (logits, predictions, embeddings) reaches
  the loss: the reduced value is NaN and, with ``reduction="none"``, so is (at least) the
  value of the affected sample; a NaN in a range-checked argument (targets, probabilities,
  variances, weights) raises a :class:`LosscraftError` naming the argument. A finite result
  is never the answer (as in torch: AMP's gradient scaler and users' NaN checks rely on it).
* An infinite input gives the mathematical limit where one exists, else NaN / inf or an
  error: a finite result must agree with the loss at a huge finite input (the limit).

Every floating positional argument of every entry's ``sample`` is probed (labels included:
a float target is range-checked or used as a value), at its first and at its last element;
the affected ``"none"`` value is then the first or the last one for every output layout
(elementwise, per sample, per (sample, class), per class).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from losscraft import LosscraftError, LossEntry

from lc_helpers import ENTRIES, sample

REDUCTIONS = ("mean", "sum", "none")


def _floating_arguments(entry: LossEntry) -> list[str]:
    """Names of the sample's floating positional arguments and floating tensor keywords."""
    c = sample(entry)
    names = [n for n, a in zip(entry.spec.inputs, c.args, strict=True) if a.is_floating_point()]
    names += [k for k, v in c.kwargs.items() if isinstance(v, torch.Tensor) and v.is_floating_point()]
    return names


CASES = [(e, name) for e in ENTRIES for name in _floating_arguments(e)]
CASE_IDS = [f"{e.name}-{name}" for e, name in CASES]


def _with_value(entry: LossEntry, name: str, value: float, at: int) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The sample (float64, batch 4) with ``value`` at flat index ``at`` of argument ``name``."""
    c = sample(entry, 4, seed=3)
    args, kwargs = list(c.args), dict(c.kwargs)
    if name in entry.spec.inputs:
        i = entry.spec.inputs.index(name)
        t = args[i] = args[i].clone()
    else:
        t = kwargs[name] = kwargs[name].clone()
    t.view(-1)[at] = value
    return tuple(args), kwargs


def _assert_raises_naming(err: LosscraftError, name: str) -> None:
    assert f"'{name}'" in str(err), f"the error does not name '{name}': {err}"


def _call(entry: LossEntry, args: tuple[Any, ...], kwargs: dict[str, Any], reduction: str) -> torch.Tensor:
    return entry.function(*args, reduction=reduction, **kwargs)


@pytest.mark.parametrize("at", [0, -1], ids=["first", "last"])
@pytest.mark.parametrize(("entry", "name"), CASES, ids=CASE_IDS)
def test_nan_input_reaches_the_loss_or_raises(entry: LossEntry, name: str, at: int) -> None:
    args, kwargs = _with_value(entry, name, math.nan, at)
    for reduction in REDUCTIONS:
        try:
            out = _call(entry, args, kwargs, reduction)
        except LosscraftError as err:
            _assert_raises_naming(err, name)
            continue
        assert not torch.isfinite(out).all(), f"{reduction}: a NaN in '{name}' gave a finite loss {out}"
        if reduction == "none":
            assert torch.isnan(out.reshape(-1)[at]), f"the affected sample is not NaN: {out}"
        else:
            assert torch.isnan(out), out


@pytest.mark.parametrize("at", [0, -1], ids=["first", "last"])
@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.spec.weight != "none"], ids=lambda e: e.name)
def test_nan_weight_reaches_the_loss_or_raises(entry: LossEntry, at: int) -> None:
    """``weight=`` is range-checked (finite, >= 0): a NaN raises, or at least never hides."""
    c = sample(entry, 4, seed=3)
    if entry.spec.weight == "class":
        w = torch.ones(c.args[0].shape[1], dtype=c.args[0].dtype)
    else:
        w = torch.ones_like(entry.function(*c.args, reduction="none", **c.kwargs))
    w.view(-1)[at] = math.nan
    for reduction in REDUCTIONS:
        try:
            out = entry.function(*c.args, weight=w, reduction=reduction, **c.kwargs)
        except LosscraftError as err:
            _assert_raises_naming(err, "weight")
            continue
        assert not torch.isfinite(out).all(), f"{reduction}: a NaN weight gave a finite loss {out}"


@pytest.mark.parametrize("sign", [1.0, -1.0], ids=["+inf", "-inf"])
@pytest.mark.parametrize(("entry", "name"), CASES, ids=CASE_IDS)
def test_infinite_input_gives_the_limit_or_not_a_number(entry: LossEntry, name: str, sign: float) -> None:
    """A finite result at an infinite input must be the limit: the loss at a huge finite input.

    ``1e30`` (float64) is far enough for every limit the catalog approaches polynomially or
    exponentially; an error naming the argument, inf or NaN is always acceptable.
    """
    args, kwargs = _with_value(entry, name, sign * math.inf, 0)
    big_args, big_kwargs = _with_value(entry, name, sign * 1e30, 0)
    for reduction in REDUCTIONS:
        try:
            out = _call(entry, args, kwargs, reduction)
        except LosscraftError as err:
            _assert_raises_naming(err, name)
            continue
        finite = torch.isfinite(out)
        if not finite.any():
            continue
        try:
            ref = _call(entry, big_args, big_kwargs, reduction)
        except LosscraftError:  # e.g. a range check: the huge value is out of the domain
            continue
        # Every finite value (the affected one, or in a batch loss any other) is the limit.
        detail = f"{reduction}: inf gave {out}, 1e30 gave {ref}"
        torch.testing.assert_close(out[finite], ref[finite], rtol=1e-6, atol=1e-9, msg=detail)
