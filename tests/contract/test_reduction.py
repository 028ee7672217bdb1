"""Registry-wide reduction, weight, empty-batch, all-ignored and validation semantics."""

from __future__ import annotations

import pytest
import torch

import losscraft
from losscraft import LosscraftError, LossEntry

from lc_helpers import ENTRIES, IDS, cast, sample, with_grad


def _none_numel(entry: LossEntry, out_none: torch.Tensor) -> int:
    return out_none.numel()


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_sum_and_mean_agree_with_none(entry: LossEntry) -> None:
    c = sample(entry, 5)
    none = entry.function(*c.args, reduction="none", **c.kwargs)
    assert none.numel() > 1
    torch.testing.assert_close(entry.function(*c.args, reduction="sum", **c.kwargs), none.sum())
    torch.testing.assert_close(entry.function(*c.args, reduction="mean", **c.kwargs), none.mean())
    assert entry.function(*c.args, **c.kwargs).dim() == 0


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_none_shape(entry: LossEntry) -> None:
    c = sample(entry, 5)
    none = entry.function(*c.args, reduction="none", **c.kwargs)
    if entry.spec.none_shape == "element":
        assert none.shape == c.args[0].shape
    elif entry.spec.none_shape == "sample":
        assert none.shape[0] == 5
        assert none.dim() < c.args[0].dim() or c.args[0].dim() == 1
    else:  # documented special case; must still be per sample along dim 0 or per class
        assert none.dim() >= 1


@pytest.mark.parametrize(
    "entry",
    [e for e in ENTRIES if e.spec.weight == "element"],
    ids=[e.name for e in ENTRIES if e.spec.weight == "element"],
)
def test_element_weight(entry: LossEntry) -> None:
    c = sample(entry, 5)
    none = entry.function(*c.args, reduction="none", **c.kwargs)
    g = torch.Generator().manual_seed(3)
    w = torch.rand(none.shape, generator=g, dtype=torch.float64) + 0.1
    wn = entry.function(*c.args, weight=w, reduction="none", **c.kwargs)
    torch.testing.assert_close(wn, w * none)
    torch.testing.assert_close(
        entry.function(*c.args, weight=w, reduction="sum", **c.kwargs), (w * none).sum()
    )
    torch.testing.assert_close(
        entry.function(*c.args, weight=w, reduction="mean", **c.kwargs), (w * none).sum() / w.sum()
    )
    # per-sample weight of shape (N, 1, ...) broadcasts over the rest
    if none.dim() >= 2:
        ws = torch.rand((none.shape[0],) + (1,) * (none.dim() - 1), generator=g, dtype=torch.float64)
        got = entry.function(*c.args, weight=ws, reduction="mean", **c.kwargs)
        torch.testing.assert_close(got, (ws * none).sum() / ws.expand_as(none).sum())
    # all-zero weights: mean is 0, not nan
    z = entry.function(*c.args, weight=torch.zeros_like(w), reduction="mean", **c.kwargs)
    assert z.item() == 0.0
    bad = torch.ones((none.shape[0] + 1, *none.shape[1:]), dtype=torch.float64)
    with pytest.raises(
        LosscraftError, match="'weight' of shape .* must broadcast to the unreduced loss shape"
    ):
        entry.function(*c.args, weight=bad, **c.kwargs)
    with pytest.raises(LosscraftError, match="'weight' must be a floating-point tensor"):
        entry.function(*c.args, weight=torch.ones(none.shape, dtype=torch.long), **c.kwargs)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_bad_reduction_and_params(entry: LossEntry) -> None:
    c = sample(entry, 3)
    fn = entry.function.__name__
    with pytest.raises(
        LosscraftError, match=f"{fn}: 'reduction' must be one of 'mean', 'sum', 'none', got 'avg'"
    ):
        entry.function(*c.args, reduction="avg", **c.kwargs)
    for p in entry.spec.params:
        for bad in p.domain.invalid_examples():
            with pytest.raises(LosscraftError, match=f"{fn}: '{p.name}' must be"):
                entry.function(*c.args, **{**c.kwargs, p.name: bad})


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_empty_batch(entry: LossEntry, reduction: str) -> None:
    c = sample(entry, 0)
    args = with_grad(entry, c.args)
    out = entry.function(*args, reduction=reduction, **c.kwargs)
    assert out.dim() == 0
    assert out.item() == 0.0
    assert out.requires_grad, "result must stay attached to the graph"
    out.backward()
    for a in args:
        if a.requires_grad:
            assert a.grad is not None
            assert torch.isfinite(a.grad).all()
    none = entry.function(*c.args, reduction="none", **c.kwargs)
    assert none.numel() == 0


def _all_ignored(entry: LossEntry):
    p = entry.spec.param("ignore_index")
    ig = -100 if p.default is None else p.default
    c = sample(entry, 4)
    ti = entry.spec.inputs.index("target")
    args = list(c.args)
    args[ti] = torch.full_like(args[ti], ig)
    return tuple(args), {**c.kwargs, "ignore_index": ig}


IGNORE = [e for e in ENTRIES if e.spec.ignore_index]


@pytest.mark.parametrize("entry", IGNORE, ids=[e.name for e in IGNORE])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_all_ignored(entry: LossEntry, reduction: str) -> None:
    args, kwargs = _all_ignored(entry)
    args = with_grad(entry, args)
    out = entry.function(*args, reduction=reduction, **kwargs)
    assert out.item() == 0.0
    assert out.requires_grad
    out.backward()
    for a in args:
        if a.requires_grad:
            assert a.grad is not None
            assert torch.isfinite(a.grad).all()
            assert (a.grad == 0).all()


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_no_input_mutation(entry: LossEntry) -> None:
    c = sample(entry, 4)
    args = with_grad(entry, c.args)
    before = [a.detach().clone() for a in args]
    assert entry.module is not None
    m = entry.module()
    cfg = m.get_config()
    state = {k: v.clone() for k, v in m.state_dict().items()}
    for reduction in ("none", "mean"):
        out = entry.function(*args, reduction=reduction, **c.kwargs)
        out.sum().backward()
    m(*args).backward()
    for a, b in zip(args, before, strict=True):
        assert torch.equal(a.detach(), b)
    assert m.get_config() == cfg
    for k, v in m.state_dict().items():
        assert torch.equal(v, state[k])


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_output_dtype(entry: LossEntry) -> None:
    c = sample(entry, 3)
    for dt, expected in [
        (torch.float64, torch.float64),
        (torch.float32, torch.float32),
        (torch.float16, torch.float32),
        (torch.bfloat16, torch.float32),
    ]:
        out = entry.function(*cast(c.args, dt), **c.kwargs)
        assert out.dtype == expected, dt


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_wrong_dtype_and_type(entry: LossEntry) -> None:
    c = sample(entry, 3)
    fn = entry.function.__name__
    first = entry.spec.inputs[0]
    args = list(c.args)
    args[0] = args[0].round().long()
    with pytest.raises(LosscraftError, match=f"{fn}: '{first}' must be a floating-point tensor"):
        entry.function(*args, **c.kwargs)
    args[0] = c.args[0].tolist()
    with pytest.raises(LosscraftError, match=f"{fn}: '{first}' must be a torch.Tensor"):
        entry.function(*args, **c.kwargs)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_mismatched_batch_raises(entry: LossEntry) -> None:
    """Dropping one sample from any one positional argument is an error, never a broadcast."""
    c = sample(entry, 4)
    for i in range(1, len(c.args)):
        args = list(c.args)
        args[i] = args[i][:3]
        with pytest.raises(LosscraftError, match=entry.function.__name__):
            entry.function(*args, **c.kwargs)
    # a broadcastable but different shape must not broadcast either
    args = list(c.args)
    args[1] = args[1][:1]
    with pytest.raises(LosscraftError):
        entry.function(*args, **c.kwargs)


def test_reduce_public() -> None:
    v = torch.tensor([1.0, 2.0, 3.0])
    assert losscraft.reduce(v, "mean").item() == pytest.approx(2.0)
    assert losscraft.reduce(v, "mean", weight=torch.tensor([1.0, 0.0, 1.0])).item() == pytest.approx(2.0)
    mask = torch.tensor([False, False, False])
    assert losscraft.reduce(v, "mean", mask=mask).item() == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"weight": torch.tensor([1.0, -1.0, 1.0])},
            r"reduce: 'weight' must contain finite weights >= 0, got -1",
        ),
        ({"weight": torch.tensor([1.0, float("nan"), 1.0])}, r"reduce: 'weight' must contain finite weights"),
        ({"weight": torch.tensor([1.0, float("inf"), 1.0])}, r"reduce: 'weight' must contain finite weights"),
        ({"weight": torch.ones(2)}, r"reduce: 'weight' of shape \(2,\) must broadcast"),
        ({"mask": torch.ones(3)}, r"reduce: 'mask' must be a torch.bool tensor"),
        ({"mask": torch.ones(2, dtype=torch.bool)}, r"reduce: 'mask' must be a torch.bool tensor"),
        ({"normalize": "counts"}, r"reduce: 'normalize' must be 'weight' or 'count'"),
        (
            {"denominator": torch.tensor([1.0, -2.0, 1.0])},
            r"reduce: 'denominator' must contain finite weights >= 0",
        ),
        ({"denominator": torch.ones(2)}, r"reduce: 'denominator' of shape \(2,\) must broadcast"),
    ],
)
def test_reduce_public_rejects_bad_arguments(kwargs: dict, message: str) -> None:
    """The public reducer validates like a loss: a negative weight gave a negative 'mean'."""
    with pytest.raises(LosscraftError, match=message):
        losscraft.reduce(torch.tensor([1.0, 2.0, 3.0]), "mean", **kwargs)
    with pytest.raises(LosscraftError, match=r"reduce: 'reduction' must be one of"):
        losscraft.reduce(torch.tensor([1.0]), "avg")
