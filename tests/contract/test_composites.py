"""The composites (combinations, wrappers, multi-task) over every entry, and their configs.

* Every entry gives the direct function call's value through ``MultiTaskLoss``,
  ``CombinedLoss`` and ``Weighted``: inputs are placed by the loss's declared signature
  (``spec.inputs``), so multi-input losses (``gaussian_nll`` is ``(input, target, var)``,
  ``triplet``, ``cosine_embedding``, ``info_nce``, ``linear_cross_entropy``) get their arguments
  right.
* Every composite registered with ``register_composite`` and every schedule kind rejects a
  misspelt, unknown or missing config key with a ``LosscraftError`` that names the key and
  lists the valid ones (never a bare ``KeyError`` / ``TypeError``, never silently ignored).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch

import losscraft
from losscraft import LosscraftError, LossEntry
from losscraft._core.combine import _SCHEDULES
from losscraft._core.registry import composites
from losscraft.compose import CombinedLoss, schedule_from_config
from losscraft.multitask import MultiTaskLoss
from losscraft.weighting import Weighted

from lc_helpers import ENTRIES, IDS, sample


def _split(entry: LossEntry, args: tuple[torch.Tensor, ...]) -> tuple[Any, dict[str, torch.Tensor]]:
    """MultiTaskLoss's convention: the prediction holds every input but the target."""
    names = entry.spec.inputs
    if "target" not in names:
        return args, {}
    ti = names.index("target")
    pred = tuple(a for i, a in enumerate(args) if i != ti)
    return (pred[0] if len(pred) == 1 else pred), {"t": args[ti]}


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_every_entry_through_the_composites_equals_the_direct_call(entry: LossEntry) -> None:
    assert entry.module is not None
    c = sample(entry, 5, seed=2)
    assert not c.kwargs
    direct = entry.function(*c.args)
    pred, target = _split(entry, c.args)
    for task in (entry.module(), entry.name):
        mtl = MultiTaskLoss({"t": task})
        torch.testing.assert_close(mtl({"t": pred}, target), direct, rtol=1e-12, atol=0)
    # by input name, the target included
    by_name = dict(zip(entry.spec.inputs, c.args, strict=True))
    torch.testing.assert_close(
        MultiTaskLoss({"t": entry.name})({"t": by_name}, {}), direct, rtol=1e-12, atol=0
    )
    torch.testing.assert_close(CombinedLoss({"a": entry.module()})(*c.args), direct, rtol=1e-12, atol=0)
    combo = 0.25 * entry.module() + 0.75 * entry.module()
    torch.testing.assert_close(combo(*c.args), direct, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(Weighted(entry.module())(*c.args), direct, rtol=1e-12, atol=0)
    for reduction in ("sum", "none"):
        ref = entry.function(*c.args, reduction=reduction)
        torch.testing.assert_close(
            MultiTaskLoss({"t": entry.module(reduction=reduction)})({"t": pred}, target),
            ref,
            rtol=1e-12,
            atol=0,
        )
        torch.testing.assert_close(CombinedLoss({"a": entry.module(reduction=reduction)})(*c.args), ref)
        torch.testing.assert_close(Weighted(entry.module(), reduction=reduction)(*c.args), ref)


MULTI = [e for e in ENTRIES if len(e.spec.inputs) > 2 or e.spec.inputs[-1] != "target"]


@pytest.mark.parametrize("entry", MULTI, ids=[e.name for e in MULTI])
def test_multitask_rejects_a_prediction_of_the_wrong_arity(entry: LossEntry) -> None:
    c = sample(entry, 4)
    pred, target = _split(entry, c.args)
    short = pred[:-1] if isinstance(pred, tuple) else ()
    with pytest.raises(LosscraftError, match=r"MultiTaskLoss: task 't': the loss takes \("):
        MultiTaskLoss({"t": entry.name})({"t": short}, target)


# ------------------------------------------------------------------ configs
MTL_TASKS = {"a": {"name": "mse"}, "b": {"name": "cross_entropy"}}
EXAMPLES: dict[str, list[dict[str, Any]]] = {
    "combined": [
        {"name": "combined", "terms": {"a": {"name": "mse"}, "b": {"name": "mae"}}, "weights": {"a": 0.5}},
    ],
    "weighted": [{"name": "weighted", "loss": {"name": "mse"}, "normalize": "count", "reduction": "sum"}],
    "global_batch": [{"name": "global_batch", "loss": {"name": "cross_entropy", "ignore_index": 3}}],
    "error_weighted": [
        {
            "name": "error_weighted",
            "loss": {"name": "mse"},
            "fn": "cauchy",
            "scale": 2.0,
            "on": "residual",
            "detach": True,
            "normalize": "weight",
            "reduction": "mean",
        },
        {"name": "error_weighted", "loss": {"name": "bce_with_logits"}, "fn": "focal", "gamma": 1.5},
    ],
    "adaptive_barron": [
        {
            "name": "adaptive_barron",
            "num_dims": 2,
            "alpha_lo": 0.5,
            "alpha_hi": 1.5,
            "alpha_init": 1.0,
            "scale_lo": 1e-05,
            "scale_init": 1.0,
            "reduction": "sum",
        },
    ],
    "learned_proxy_anchor": [
        {
            "name": "learned_proxy_anchor",
            "num_classes": 5,
            "embedding_dim": 3,
            "margin": 0.2,
            "alpha": 16.0,
            "reduction": "sum",
        },
    ],
    "multitask": [
        {"name": "multitask", "tasks": MTL_TASKS, "method": "fixed", "weights": {"a": 2.0}},
        {
            "name": "multitask",
            "tasks": MTL_TASKS,
            "method": "uncertainty",
            "task_types": {"b": "classification"},
            "init_log_var": 0.5,
            "log_var_bounds": [-3.0, 3.0],
        },
        {"name": "multitask", "tasks": MTL_TASKS, "method": "dwa", "temperature": 1.5},
    ],
}
CASES = [(name, cfg) for name, cfgs in EXAMPLES.items() for cfg in cfgs]
CASE_IDS = [f"{name}-{i}" for name, cfgs in EXAMPLES.items() for i in range(len(cfgs))]


def test_every_composite_has_config_examples() -> None:
    assert set(composites()) == set(EXAMPLES)


def _error_of(fn: Any, config: dict[str, Any]) -> str | None:
    """The LosscraftError message of ``fn(config)``, or None; any other exception propagates."""
    try:
        fn(config)
    except LosscraftError as exc:
        return str(exc)
    return None


def _misspell(key: str) -> str:
    swapped = key[:-2] + key[-1] + key[-2]  # "normalize" -> "normaliez"
    return swapped if swapped != key else key[:-1] + "z"  # "loss" -> "losz"


def _assert_names_key(exc: pytest.ExceptionInfo[LosscraftError], bad: str, valid: list[str]) -> None:
    msg = str(exc.value)
    assert repr(bad) in msg, msg
    for k in valid:
        assert repr(k) in msg, (k, msg)


@pytest.mark.parametrize(("name", "config"), CASES, ids=CASE_IDS)
def test_composite_config_round_trips(name: str, config: dict[str, Any]) -> None:
    m = losscraft.build(config)
    cfg = m.get_config()
    assert losscraft.build(cfg).get_config() == cfg


@pytest.mark.parametrize(("name", "config"), CASES, ids=CASE_IDS)
def test_composite_config_rejects_misspelt_and_unknown_keys(name: str, config: dict[str, Any]) -> None:
    keys = [k for k in config if k != "name"]
    for key in keys:
        bad = _misspell(key)
        cfg = {(bad if k == key else k): v for k, v in config.items()}
        with pytest.raises(LosscraftError) as exc:
            losscraft.build(cfg)
        _assert_names_key(exc, bad, keys)
    with pytest.raises(LosscraftError) as exc:
        losscraft.build({**config, "bogus": 1})
    _assert_names_key(exc, "bogus", keys)


@pytest.mark.parametrize(("name", "config"), CASES, ids=CASE_IDS)
def test_composite_config_missing_key_is_named(name: str, config: dict[str, Any]) -> None:
    for key in [k for k in config if k != "name"]:
        cfg = {k: v for k, v in config.items() if k != key}
        msg = _error_of(losscraft.build, cfg)  # None: an optional key, its default applies
        assert msg is None or repr(key) in msg, msg
        # anything else (KeyError, TypeError) fails the test


@pytest.mark.parametrize("method", ["fixed", "uncertainty", "dwa"])
def test_multitask_config_rejects_keys_of_another_method(method: str) -> None:
    other = {
        "fixed": ("weights", {"a": 1.0}),
        "uncertainty": ("init_log_var", 1.0),
        "dwa": ("temperature", 3.0),
    }
    for m, (key, value) in other.items():
        if m == method:
            continue
        with pytest.raises(LosscraftError, match=repr(key)):
            losscraft.build({"name": "multitask", "tasks": MTL_TASKS, "method": method, key: value})


SCHEDULES = {
    "constant": {"schedule": "constant", "value": 0.3},
    "linear_warmup": {"schedule": "linear_warmup", "start": 0.1, "end": 1.0, "steps": 10},
    "cosine": {"schedule": "cosine", "start": 1.0, "end": 0.2, "steps": 7},
}


def test_every_schedule_kind_has_a_config_example() -> None:
    assert set(_SCHEDULES) == set(SCHEDULES)


@pytest.mark.parametrize("kind", sorted(SCHEDULES))
def test_schedule_configs(kind: str) -> None:
    config = SCHEDULES[kind]
    assert schedule_from_config(config).get_config() == config
    keys = list(config)
    for key in [k for k in keys if k != "schedule"]:
        bad = _misspell(key)
        cfg = {(bad if k == key else k): v for k, v in config.items()}
        with pytest.raises(LosscraftError) as exc:
            schedule_from_config(cfg)
        _assert_names_key(exc, bad, keys)
        # through a combination's config too
        combo = {"name": "combined", "terms": {"a": {"name": "mse"}}, "weights": {"a": cfg}}
        with pytest.raises(LosscraftError) as exc:
            losscraft.build(combo)
        _assert_names_key(exc, bad, keys)
        without = {k: v for k, v in config.items() if k != key}
        msg = _error_of(schedule_from_config, without)
        assert msg is None or repr(key) in msg, msg
    with pytest.raises(LosscraftError) as exc:
        schedule_from_config({**config, "bogus": 1})
    _assert_names_key(exc, "bogus", keys)
    assert copy.deepcopy(config) == SCHEDULES[kind]  # not mutated
