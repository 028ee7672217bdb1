"""custom_loss: a loss from a formula equals the same loss written by hand."""

from __future__ import annotations

import inspect

import pytest
import torch

import losscraft
import losscraft.functional as LF
from losscraft import LosscraftError
from losscraft._core.spec import Interval, Param
from losscraft.builder import custom_loss


def _huber_formula(input, target, *, delta):
    a = (input - target).abs()
    return torch.where(a <= delta, 0.5 * a**2, delta * (a - 0.5 * delta))


@pytest.fixture
def my_huber():
    loss = custom_loss(
        "test_my_huber",
        _huber_formula,
        params={"delta": Param("delta", 1.0, Interval(0.0, float("inf"), low_closed=False))},
        latex=r"\text{huber}",
        properties=["nonnegative", "robust_to_outliers"],
        register=True,
    )
    yield loss
    loss.unregister()


def _xy(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(7, 3, generator=g, dtype=torch.float64) * 2, torch.randn(
        7, 3, generator=g, dtype=torch.float64
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_custom_equals_hand_written(my_huber, reduction) -> None:
    x, y = _xy()
    w = torch.rand(7, 1, dtype=torch.float64)
    for delta in (0.5, 1.0, 3.0):
        torch.testing.assert_close(
            my_huber.function(x, y, delta=delta, reduction=reduction),
            LF.huber_loss(x, y, delta=delta, reduction=reduction),
        )
        torch.testing.assert_close(
            my_huber.function(x, y, delta=delta, weight=w, reduction=reduction),
            LF.huber_loss(x, y, delta=delta, weight=w, reduction=reduction),
        )
    xr = x.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda z: my_huber.function(z, y, delta=0.7, reduction=reduction), (xr,))


def test_module_registry_config_and_combination(my_huber) -> None:
    x, y = _xy(1)
    m = my_huber.module(delta=2.0, reduction="sum")
    assert repr(m) == "TestMyHuberLoss(delta=2.0, ignore_index=None, reduction='sum')"
    torch.testing.assert_close(m(x, y), LF.huber_loss(x, y, delta=2.0, reduction="sum"))
    assert losscraft.get("test_my_huber").module is my_huber.module
    assert losscraft.build(m.get_config()).get_config() == m.get_config()
    combo = 0.5 * m + losscraft.MSELoss()
    torch.testing.assert_close(
        combo(x, y), 0.5 * LF.huber_loss(x, y, delta=2.0, reduction="sum") + LF.mse_loss(x, y)
    )
    assert losscraft.build(combo.get_config()).get_config() == combo.get_config()
    sig = inspect.signature(my_huber.function)
    assert list(sig.parameters) == ["input", "target", "delta", "ignore_index", "weight", "reduction"]
    assert my_huber.spec.formula == r"\text{huber}"
    assert losscraft.Property.ROBUST_TO_OUTLIERS in my_huber.spec.properties


def test_validation_ignore_and_precision(my_huber) -> None:
    x, y = _xy(2)
    with pytest.raises(
        LosscraftError, match=r"test_my_huber_loss: 'delta' must be a float in \(0, inf\), got -1.0"
    ):
        my_huber.function(x, y, delta=-1.0)
    with pytest.raises(LosscraftError, match="must have the same shape"):
        my_huber.function(x, y[:, :2])
    with pytest.raises(LosscraftError, match="'reduction' must be one of"):
        my_huber.function(x, y, reduction="avg")
    with pytest.raises(LosscraftError, match="unexpected keyword argument"):
        my_huber.function(x, y, delt=1.0)
    y2 = y.clone()
    y2[0] = -999.0
    got = my_huber.function(x, y2, ignore_index=-999.0)
    ref = LF.huber_loss(x[1:], y[1:])
    torch.testing.assert_close(got, ref)
    out = my_huber.function(x.half(), y.half())
    assert out.dtype == torch.float32 and torch.isfinite(out)
    empty = my_huber.function(torch.zeros(0, 3, requires_grad=True), torch.zeros(0, 3))
    assert empty.item() == 0.0 and empty.requires_grad


def test_unregistered_custom_loss() -> None:
    sq = custom_loss("test_sq", lambda input, target: (input - target) ** 2)
    x, y = _xy(3)
    torch.testing.assert_close(sq.function(x, y), LF.mse_loss(x, y))
    torch.testing.assert_close(sq.module()(x, y), LF.mse_loss(x, y))
    with pytest.raises(LosscraftError, match="unknown loss 'test_sq'"):
        losscraft.get("test_sq")


def test_formula_mistakes_are_reported_at_build() -> None:
    with pytest.raises(
        LosscraftError, match=r"must be elementwise: for inputs of shape \(6, 3\) it returned shape \(\)"
    ):
        custom_loss("bad_mean", lambda input, target: ((input - target) ** 2).mean())
    with pytest.raises(
        LosscraftError, match=r"the formula returned nan at the probe point input=.*target=.*\(params \{\}\)"
    ):
        custom_loss("bad_nan", lambda input, target: torch.log(target))
    with pytest.raises(LosscraftError, match=r"the formula raised TypeError"):
        custom_loss("bad_kw", lambda input, target, *, k: input * k, params={})
    with pytest.raises(LosscraftError, match="gradient is"):
        custom_loss("bad_grad", lambda input, target: (input - target) ** 2 + torch.sqrt(input - input))
    with pytest.raises(LosscraftError, match="does not depend on 'input'"):
        custom_loss("bad_const", lambda input, target: target**2)
    with pytest.raises(LosscraftError, match="reserved"):
        custom_loss("bad_param", lambda input, target, *, weight: input, params={"weight": 1.0})
    with pytest.raises(LosscraftError, match="already registered"):
        custom_loss("huber", _huber_formula, params={"delta": 1.0}, register=True)
    with pytest.raises(LosscraftError, match="lowercase identifier"):
        custom_loss("Bad Name", _huber_formula)


def _abs_formula(input, target, *, k):
    return k * (input - target).abs()


@pytest.mark.parametrize("register", [False, True])
def test_custom_module_pickles_and_torch_saves(register: bool) -> None:
    import io
    import pickle

    name = "test_pickled_abs" + ("_reg" if register else "")
    loss = custom_loss(name, _abs_formula, params={"k": 1.0}, register=register)
    try:
        m = loss.module(k=2.5, reduction="sum")
        x, y = _xy(5)
        ref = 2.5 * (x - y).abs().sum()  # closed form
        back = pickle.loads(pickle.dumps(m))
        assert type(back) is type(m) and back.get_config() == m.get_config()
        torch.testing.assert_close(back(x, y), ref)
        buf = io.BytesIO()
        torch.save({"loss": m, "combo": 0.5 * m + losscraft.MSELoss()}, buf)
        buf.seek(0)
        saved = torch.load(buf, weights_only=False)
        torch.testing.assert_close(saved["loss"](x, y), ref)
        torch.testing.assert_close(saved["combo"](x, y), 0.5 * ref + LF.mse_loss(x, y))
    finally:
        loss.unregister()


def test_custom_module_with_a_lambda_formula_explains_why_it_cannot_pickle() -> None:
    import copy
    import pickle

    loss = custom_loss("test_lambda_abs", lambda input, target: (input - target).abs())
    m = loss.module()
    with pytest.raises(
        LosscraftError, match=r"'test_lambda_abs': the Module cannot be pickled .* formula '.*<lambda>'"
    ):
        pickle.dumps(m)
    x, y = _xy(6)
    torch.testing.assert_close(copy.deepcopy(m)(x, y), (x - y).abs().mean())  # deepcopy still works


def test_every_family_has_a_default_task() -> None:
    """custom_loss(family=...) reads the family's default task: a new Family needs one."""
    from losscraft import Family
    from losscraft.builder import _FAMILY_TASK

    assert set(_FAMILY_TASK) == set(Family)
