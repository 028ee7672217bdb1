"""Every exported Module class (catalog losses, composites, AdaptiveBarronLoss, custom losses).

Each has a plain-data ``get_config()`` that ``losscraft.build`` turns back into an equal Module,
and ``torch.jit.script`` fails with one clear ``LosscraftError`` naming the alternatives instead
of torch's ``NotSupportedError`` inside a source listing.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable

import pytest
import torch
from torch import nn

import losscraft
import losscraft.nn as lnn
from losscraft import LosscraftError

EXPORTED: dict[str, type[nn.Module]] = {
    name: obj
    for module in (losscraft, lnn)
    for name in module.__all__
    if inspect.isclass(obj := getattr(module, name)) and issubclass(obj, nn.Module)
}

# One configured instance per exported class; catalog losses are built by the loop below.
EXAMPLES: dict[str, Callable[[], nn.Module]] = {
    "AdaptiveBarronLoss": lambda: losscraft.AdaptiveBarronLoss(
        3, alpha_init=0.5, scale_init=2.0, reduction="sum"
    ),
    "CombinedLoss": lambda: 0.3 * losscraft.HuberLoss(delta=2.0) + losscraft.MAELoss(),
    "Weighted": lambda: losscraft.Weighted(losscraft.MSELoss(), normalize="count"),
    "ErrorWeighted": lambda: losscraft.ErrorWeighted(losscraft.MSELoss(), "gaussian", scale=2.0),
    "MultiTaskLoss": lambda: losscraft.MultiTaskLoss({"a": "mse", "b": "mae"}, method="uncertainty"),
    "LearnedProxyAnchorLoss": lambda: losscraft.LearnedProxyAnchorLoss(10, 4, margin=0.2, reduction="sum"),
}
ABSTRACT = {"LossModule"}  # the base class: every concrete subclass is covered
for _name, _cls in EXPORTED.items():
    if _name not in EXAMPLES and _name not in ABSTRACT and issubclass(_cls, losscraft.LossModule):
        EXAMPLES[_name] = lambda cls=_cls: cls(reduction="sum")


def test_every_exported_module_class_has_an_example() -> None:
    assert "AdaptiveBarronLoss" in EXPORTED and "HuberLoss" in EXPORTED
    assert sorted(EXPORTED) == sorted([*EXAMPLES, *ABSTRACT])


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_config_round_trips_through_build(name: str) -> None:
    m = EXAMPLES[name]()
    cfg = m.get_config()
    assert json.loads(json.dumps(cfg)) == cfg  # plain data
    m2 = losscraft.build(cfg)
    assert type(m2) is type(m)
    assert m2.get_config() == cfg
    assert repr(m2) == repr(m)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_torchscript_is_refused_clearly(name: str) -> None:
    m = EXAMPLES[name]()
    msg = (
        rf"^torch\.jit\.script: {type(m).__name__} is a losscraft loss Module, which TorchScript "
        r"cannot compile .*; use torch\.compile\(loss\) or torch\.export\.export\(loss, example_inputs\)"
    )
    with pytest.raises(LosscraftError, match=msg):
        torch.jit.script(m)


def test_torchscript_is_refused_for_custom_losses() -> None:
    m = losscraft.custom_loss("sq_err", lambda x, y: (x - y) ** 2).module()
    with pytest.raises(LosscraftError, match=r"SqErrLoss is a losscraft loss Module"):
        torch.jit.script(m)


def test_scripting_a_model_that_holds_a_loss_names_the_loss() -> None:
    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(2, 2)
            self.criterion = losscraft.HuberLoss()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.lin(x)

    with pytest.raises(
        LosscraftError, match=r"HuberLoss is a losscraft loss Module.*outside the modules you script"
    ):
        torch.jit.script(Model())


def test_adaptive_barron_config_errors() -> None:
    with pytest.raises(LosscraftError, match=r"unknown config key 'alpha_low' \(did you mean 'alpha_lo'\?\)"):
        losscraft.build({"name": "adaptive_barron", "alpha_low": 0.5})
    with pytest.raises(LosscraftError, match=r"config is for 'huber', not 'adaptive_barron'"):
        losscraft.AdaptiveBarronLoss.from_config({"name": "huber"})
    with pytest.raises(LosscraftError, match=r"'alpha_hi' must be a float in \[alpha_lo, 2\]"):
        losscraft.build({"name": "adaptive_barron", "alpha_hi": 3.0})
    # the learned state is not configuration: build gives the initial values, state_dict the rest
    m = losscraft.AdaptiveBarronLoss()
    with torch.no_grad():
        m.latent_alpha.add_(1.0)  # type: ignore[union-attr]
    fresh = losscraft.build(m.get_config())
    assert fresh.alpha.item() == pytest.approx(1.0)
    fresh.load_state_dict(m.state_dict())
    assert fresh.alpha.item() == pytest.approx(m.alpha.item())
