"""Combination algebra, schedules and config round-trips."""

from __future__ import annotations

import json
import math

import pytest
import torch

import losscraft
import losscraft.functional as LF
from losscraft import LosscraftError
from losscraft.compose import CombinedLoss, Constant, CosineSchedule, LinearWarmup, schedule_from_config

from lc_helpers import ENTRIES, IDS


def _seg(seed: int = 0, dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 1, 5, 5, generator=g, dtype=dtype)
    t = (torch.rand(2, 1, 5, 5, generator=g) > 0.6).to(dtype)
    return x, t


def test_sugar_equals_hand_written_sum() -> None:
    x, t = _seg()
    loss = 0.7 * losscraft.BinaryFocalLoss() + 0.3 * losscraft.DiceLoss()
    assert isinstance(loss, CombinedLoss)
    assert list(loss.terms) == ["binary_focal", "dice"]
    expected = 0.7 * LF.binary_focal_loss(x, t) + 0.3 * LF.dice_loss(x, t)
    torch.testing.assert_close(loss(x, t), expected, rtol=1e-14, atol=0)
    torch.testing.assert_close(loss.last_terms["binary_focal"], LF.binary_focal_loss(x, t))
    torch.testing.assert_close(loss.last_terms["dice"], LF.dice_loss(x, t))
    assert loss.last_weights == {"binary_focal": 0.7, "dice": 0.3}
    assert not loss.last_terms["dice"].requires_grad


def test_algebra_forms() -> None:
    x, t = _seg(1)
    a, b = losscraft.BCEWithLogitsLoss(), losscraft.DiceLoss()
    torch.testing.assert_close((a + b)(x, t), LF.bce_with_logits_loss(x, t) + LF.dice_loss(x, t))
    torch.testing.assert_close((a * 2.0)(x, t), 2.0 * LF.bce_with_logits_loss(x, t))
    s = sum([a, b, 0.5 * a])
    assert isinstance(s, CombinedLoss)
    assert list(s.terms) == ["bce_with_logits", "dice", "bce_with_logits_2"]
    torch.testing.assert_close(s(x, t), 1.5 * LF.bce_with_logits_loss(x, t) + LF.dice_loss(x, t))
    # scaling a single-term combination multiplies its weight; several terms nest
    assert (3.0 * (0.5 * a)).weights == {"bce_with_logits": 1.5}
    nested = 2.0 * (a + b)
    assert list(nested.terms) == ["combined"]
    torch.testing.assert_close(nested(x, t), 2.0 * (a + b)(x, t))
    with pytest.raises(TypeError):
        _ = a + 1.0
    with pytest.raises(TypeError):
        _ = a * "2"


def test_nesting_logs_inner_terms_and_round_trips() -> None:
    x, t = _seg(2)
    inner = 0.5 * losscraft.DiceLoss() + losscraft.BCEWithLogitsLoss()
    outer = CombinedLoss({"seg": inner, "aux": losscraft.JaccardLoss()}, weights={"seg": 1.0, "aux": 0.25})
    value = outer(x, t)
    expected = 0.5 * LF.dice_loss(x, t) + LF.bce_with_logits_loss(x, t) + 0.25 * LF.jaccard_loss(x, t)
    torch.testing.assert_close(value, expected)
    assert set(outer.last_terms) == {"seg", "seg.dice", "seg.bce_with_logits", "aux"}
    cfg = outer.get_config()
    json.dumps(cfg)
    rebuilt = losscraft.build(cfg)
    assert rebuilt.get_config() == cfg
    torch.testing.assert_close(rebuilt(x, t), value)
    text = repr(outer)
    assert "seg: 1.0 * CombinedLoss(" in text and "aux: 0.25 * JaccardLoss(" in text


def test_gradcheck_combination() -> None:
    x, t = _seg(3)
    loss = (
        0.7 * losscraft.BinaryFocalLoss()
        + 0.3 * losscraft.DiceLoss()
        + LinearWarmup(0.0, 1.0, 10) * losscraft.BCEWithLogitsLoss()
    )
    xr = x.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda z: loss(z, t, step=4), (xr,))


def test_schedules_closed_form() -> None:
    lw = LinearWarmup(0.2, 1.0, 10)
    assert [lw(s) for s in (0, 5, 10, 50)] == pytest.approx([0.2, 0.6, 1.0, 1.0])
    cs = CosineSchedule(1.0, 0.0, 100)
    for s in (0, 25, 50, 100, 1000):
        t = min(s / 100, 1.0)
        assert cs(s) == pytest.approx(0.5 * (1 + math.cos(math.pi * t)))
    assert Constant(0.3)(7) == 0.3
    for sched in (lw, cs, Constant(0.3)):
        assert schedule_from_config(sched.get_config()) == sched
    with pytest.raises(LosscraftError, match=r"'step' must be an int >= 0, got -1"):
        lw(-1)
    with pytest.raises(LosscraftError, match=r"'steps' must be an int >= 1, got 0"):
        LinearWarmup(0.0, 1.0, 0)
    with pytest.raises(LosscraftError, match="expected a number or"):
        schedule_from_config({"schedule": "exponential"})


def test_scheduled_weight_follows_explicit_step() -> None:
    x, t = _seg(4)
    loss = LinearWarmup(0.0, 1.0, 100) * losscraft.DiceLoss() + losscraft.BCEWithLogitsLoss()
    bce, dice = LF.bce_with_logits_loss(x, t), LF.dice_loss(x, t)
    torch.testing.assert_close(loss(x, t, step=0), bce)
    torch.testing.assert_close(loss(x, t, step=50), bce + 0.5 * dice)
    torch.testing.assert_close(loss(x, t, step=500), bce + dice)
    assert loss.last_weights["dice"] == 1.0
    with pytest.raises(LosscraftError, match="scheduled weight; pass step=<int>"):
        loss(x, t)
    cfg = loss.get_config()
    assert cfg["weights"]["dice"] == {"schedule": "linear_warmup", "start": 0.0, "end": 1.0, "steps": 100}
    torch.testing.assert_close(losscraft.build(cfg)(x, t, step=50), bce + 0.5 * dice)


def test_weight_passthrough() -> None:
    g = torch.Generator().manual_seed(5)
    x, y = (
        torch.randn(6, 2, generator=g, dtype=torch.float64),
        torch.randn(6, 2, generator=g, dtype=torch.float64),
    )
    w = torch.rand(6, 1, generator=g, dtype=torch.float64)
    loss = losscraft.MSELoss() + 2.0 * losscraft.MAELoss()
    torch.testing.assert_close(
        loss(x, y, weight=w), LF.mse_loss(x, y, weight=w) + 2.0 * LF.mae_loss(x, y, weight=w)
    )


def test_combined_errors() -> None:
    with pytest.raises(LosscraftError, match="non-empty mapping"):
        CombinedLoss({})
    with pytest.raises(LosscraftError, match="names that are not terms"):
        CombinedLoss({"a": losscraft.MSELoss()}, {"b": 1.0})
    with pytest.raises(LosscraftError, match=r"'weights\['a'\]' must be a finite number, got nan"):
        CombinedLoss({"a": losscraft.MSELoss()}, {"a": float("nan")})
    with pytest.raises(LosscraftError, match="term names must be identifiers"):
        CombinedLoss({"a b": losscraft.MSELoss()})


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_every_entry_round_trips_inside_a_combination(entry) -> None:
    assert entry.module is not None
    single = entry.module(reduction="sum")
    # the other term takes the same inputs (terms of different arity are rejected)
    combo = CombinedLoss({"main": single, "other": entry.module()}, weights={"main": 0.25})
    cfg = combo.get_config()
    json.dumps(cfg)
    rebuilt = losscraft.build(cfg)
    assert rebuilt.get_config() == cfg
    assert losscraft.build(single.get_config()).get_config() == single.get_config()
    assert repr(rebuilt) == repr(combo)


def test_terms_of_different_shapes_raise() -> None:
    g = torch.Generator().manual_seed(8)
    x, y = (
        torch.randn(4, 4, generator=g, dtype=torch.float64),
        torch.randn(4, 4, generator=g, dtype=torch.float64),
    )
    # mse per element (4, 4), cosine per row (4,): adding them would broadcast to (4, 4)
    loss = losscraft.MSELoss(reduction="none") + losscraft.CosineSimilarityLoss(reduction="none")
    with pytest.raises(
        LosscraftError,
        match=r"terms 'mse' and 'cosine_similarity' return different shapes, \(4, 4\) and \(4,\)",
    ):
        loss(x, y)
    mixed = losscraft.MSELoss() + losscraft.MAELoss(reduction="none")  # a scalar and (4, 4)
    with pytest.raises(LosscraftError, match=r"return different shapes, \(\) and \(4, 4\)"):
        mixed(x, y)
    same = losscraft.MSELoss(reduction="none") + 2.0 * losscraft.MAELoss(reduction="none")
    torch.testing.assert_close(same(x, y), (x - y) ** 2 + 2.0 * (x - y).abs())


def test_terms_of_different_arity_raise() -> None:
    with pytest.raises(
        LosscraftError,
        match=r"term 'mse' takes \(input, target\) and term 'gaussian_nll' takes \(input, target, var\)",
    ):
        _ = losscraft.MSELoss() + losscraft.GaussianNLLLoss()
    with pytest.raises(
        LosscraftError, match=r"term 'mse' takes 2 positional inputs \(input, target\), got 3"
    ):
        CombinedLoss({"mse": losscraft.MSELoss()})(*(torch.zeros(2),) * 3)


def test_call_inputs_reach_the_terms_that_declare_them() -> None:
    g = torch.Generator().manual_seed(9)
    h = torch.randn(6, 4, generator=g, dtype=torch.float64)
    w = torch.randn(5, 4, generator=g, dtype=torch.float64)
    b = torch.randn(5, generator=g, dtype=torch.float64)
    t = torch.tensor([0, 4, 2, -100, 1, 3])
    ref = torch.nn.functional.cross_entropy(h @ w.T + b, t)  # torch parity
    loss = 0.5 * losscraft.LinearCrossEntropyLoss() + 0.5 * losscraft.LinearCrossEntropyLoss()
    torch.testing.assert_close(loss(h, w, t, bias=b), ref)
    from losscraft.weighting import Weighted

    torch.testing.assert_close(Weighted(losscraft.LinearCrossEntropyLoss())(h, w, t, bias=b), ref)
    with pytest.raises(LosscraftError, match=r"no term takes the keyword argument\(s\) \['bais'\]"):
        loss(h, w, t, bais=b)


def test_schedule_config_errors_name_the_key() -> None:
    with pytest.raises(
        LosscraftError,
        match=r"LinearWarmup config: unknown config key 'setps' \(did you mean 'steps'\?\); valid keys: "
        r"'schedule', 'start', 'end', 'steps'",
    ):
        schedule_from_config({"schedule": "linear_warmup", "setps": 10})
    with pytest.raises(LosscraftError, match=r"Constant config: config is missing the required key 'value'"):
        schedule_from_config({"schedule": "constant"})
    with pytest.raises(
        LosscraftError, match=r"CombinedLoss.from_config: unknown config key 'weight' \(did you mean"
    ):
        losscraft.build({"name": "combined", "terms": {"a": "mse"}, "weight": {"a": 2.0}})
