"""``Weighted`` without an extra weight is exactly the loss it wraps, for every entry.

The wrapper reads the loss's unreduced values and divides by what the loss itself divides by
(class weights, ``ignore_index``, per-loss masks such as SupCon anchors without a positive),
which every loss reports to the core reducer. Checked here over every registry entry, every
reduction and the cases where the denominator is not the count: class weights, whole ignored
samples, anchors without a positive; with all-ones weights; and, for losses that take an
element ``weight``, against the loss's own weighted mean.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from losscraft import LosscraftError, LossEntry, TargetKind
from losscraft._core.spec import Choice, TensorDomain
from losscraft.weighting import Weighted

from lc_helpers import ENTRIES, IDS, sample

Case = tuple[str, dict[str, Any], tuple[torch.Tensor, ...], dict[str, Any]]


def _ignore_value(entry: LossEntry) -> int:
    p = entry.spec.param("ignore_index")
    return -100 if p.default is None else int(p.default)


def _cases(entry: LossEntry) -> list[Case]:
    """The default sample (each mode), whole ignored samples, class weights, lone anchors."""
    spec = entry.spec
    names = [p.name for p in spec.params]
    modes: list[Any] = [None]
    if "mode" in names and isinstance(spec.param("mode").domain, Choice):
        modes = list(spec.param("mode").domain.values)
    g = torch.Generator().manual_seed(11)
    out: list[Case] = []
    for mode in modes:
        hp: dict[str, Any] = {} if mode is None else {"mode": mode}
        c = sample(entry, 5, seed=1, **hp)
        out.append((f"mode={mode}", hp, c.args, c.kwargs))
        ti = spec.inputs.index("target") if "target" in spec.inputs else None
        if spec.ignore_index and ti is not None:
            ig = _ignore_value(entry)
            args = list(c.args)
            t = args[ti].clone()
            t[0] = ig  # a whole sample ignored
            t.view(-1)[1::3] = ig  # and scattered positions
            args[ti] = t
            out.append((f"mode={mode}-ignore", {**hp, "ignore_index": ig}, tuple(args), c.kwargs))
        for p in spec.params:
            if isinstance(p.domain, TensorDomain) and c.args[0].dim() >= 2:
                n_classes = c.args[0].shape[1]
                cw = torch.rand(n_classes, generator=g, dtype=torch.float64) * 3.0 + 0.1
                out.append((f"mode={mode}-{p.name}", {**hp, p.name: cw / cw.sum()}, c.args, c.kwargs))
                if spec.ignore_index and ti is not None:
                    _, ihp, iargs, ikw = out[1] if mode is None else out[-2]
                    out.append((f"mode={mode}-{p.name}-ignore", {**ihp, p.name: cw / cw.sum()}, iargs, ikw))
        if spec.target_kind is TargetKind.IDENTITY and ti is not None:
            args = list(c.args)
            t = args[ti].clone()
            t[0] = int(t.max()) + 1  # a label of its own: anchor 0 has no positive
            args[ti] = t
            out.append((f"mode={mode}-lone-anchor", hp, tuple(args), c.kwargs))
    return out


def _call(
    entry: LossEntry, hp: dict[str, Any], args: tuple[torch.Tensor, ...], kw: dict[str, Any], **extra: Any
):
    try:
        return entry.function(*args, **kw, **hp, **extra)
    except LosscraftError:
        return None  # this combination is not defined for the entry (e.g. an unsupported mode)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_weighted_without_weight_is_the_wrapped_loss(entry: LossEntry) -> None:
    assert entry.module is not None
    checked = 0
    for label, hp, args, kw in _cases(entry):
        unreduced = _call(entry, hp, args, kw, reduction="none")
        if unreduced is None:
            continue
        for reduction in ("mean", "sum", "none"):
            ref = entry.function(*args, **kw, **hp, reduction=reduction)
            wrapped = Weighted(entry.module(**hp), reduction=reduction)
            torch.testing.assert_close(
                wrapped(*args, **kw), ref, msg=lambda m, r=reduction, lb=label: f"{lb} {r}: {m}"
            )
            ones = torch.ones(unreduced.shape, dtype=torch.float64)
            torch.testing.assert_close(
                wrapped(*args, weight=ones, **kw),
                ref,
                msg=lambda m, r=reduction, lb=label: f"{lb} {r} ones: {m}",
            )
            checked += 1
    assert checked >= 3


ELEMENT = [e for e in ENTRIES if e.spec.weight == "element"]


@pytest.mark.parametrize("entry", ELEMENT, ids=[e.name for e in ELEMENT])
def test_weighted_element_weight_is_the_losss_weighted_mean(entry: LossEntry) -> None:
    assert entry.module is not None
    g = torch.Generator().manual_seed(5)
    for label, hp, args, kw in _cases(entry):
        unreduced = _call(entry, hp, args, kw, reduction="none")
        if unreduced is None:
            continue
        w = torch.rand(unreduced.shape, generator=g, dtype=torch.float64) * 2.0
        w.view(-1)[::4] = 0.0
        for reduction in ("mean", "sum", "none"):
            ref = entry.function(*args, **kw, **hp, weight=w, reduction=reduction)
            got = Weighted(entry.module(**hp), reduction=reduction)(*args, weight=w, **kw)
            torch.testing.assert_close(got, ref, msg=lambda m, r=reduction, lb=label: f"{lb} {r}: {m}")


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")], ids=["negative", "nan", "inf"])
def test_weighted_rejects_bad_weights(entry: LossEntry, bad: float) -> None:
    assert entry.module is not None
    c = sample(entry, 4)
    unreduced = entry.function(*c.args, **c.kwargs, reduction="none")
    w = torch.ones(unreduced.shape, dtype=torch.float64)
    w.view(-1)[-1] = bad
    with pytest.raises(LosscraftError, match=r"Weighted: 'weight' must contain finite weights >= 0"):
        Weighted(entry.module())(*c.args, weight=w, **c.kwargs)
