"""MultiTaskLoss: fixed, uncertainty (Kendall et al. 2018) and DWA (Liu et al. 2019)."""

from __future__ import annotations

import math

import pytest
import torch

import losscraft
import losscraft.functional as LF
from losscraft import LosscraftError
from losscraft.multitask import MultiTaskLoss


def _data(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(16, generator=g, dtype=torch.float64) for _ in range(4)]


def test_fixed_weights() -> None:
    a, at, b, bt = _data()
    mtl = MultiTaskLoss({"a": losscraft.MSELoss(), "b": losscraft.MAELoss()}, weights={"a": 2.0, "b": 0.5})
    out = mtl({"a": a, "b": b}, {"a": at, "b": bt})
    torch.testing.assert_close(out, 2.0 * LF.mse_loss(a, at) + 0.5 * LF.mae_loss(b, bt))
    assert mtl.last_weights == {"a": 2.0, "b": 0.5}
    torch.testing.assert_close(mtl.last_terms["b"], LF.mae_loss(b, bt))


def test_uncertainty_formula() -> None:
    a, at, b, bt = _data(1)
    mtl = MultiTaskLoss(
        {"a": losscraft.MSELoss(), "b": losscraft.MSELoss()},
        method="uncertainty",
        task_types={"b": "classification"},
    )
    with torch.no_grad():
        mtl.log_vars["a"].fill_(0.3)
        mtl.log_vars["b"].fill_(-0.7)
    la, lb = LF.mse_loss(a, at), LF.mse_loss(b, bt)
    expected = 0.5 * math.exp(-0.3) * la + 0.15 + math.exp(0.7) * lb - 0.35
    torch.testing.assert_close(mtl({"a": a, "b": b}, {"a": at, "b": bt}), expected)
    assert {n for n, _ in mtl.named_parameters()} == {"log_vars.a", "log_vars.b"}


def test_uncertainty_learns_relative_weights_from_noise_levels() -> None:
    """Two regression tasks, noise sd 0.1 vs 3: the learned sigma_k^2 track each task's loss
    (the stationary point e^{s_k} = L_k) and the noisy task is down-weighted ~900x."""
    torch.manual_seed(0)
    n = 256
    x = torch.randn(n, 4)
    y1 = x @ torch.randn(4) + 0.1 * torch.randn(n)
    y2 = x @ torch.randn(4) + 3.0 * torch.randn(n)
    net = torch.nn.Linear(4, 2)
    mtl = MultiTaskLoss({"clean": losscraft.MSELoss(), "noisy": losscraft.MSELoss()}, method="uncertainty")
    opt = torch.optim.Adam([*net.parameters(), *mtl.parameters()], lr=0.1)
    for _ in range(600):
        opt.zero_grad()
        out = net(x)
        mtl({"clean": out[:, 0], "noisy": out[:, 1]}, {"clean": y1, "noisy": y2}).backward()
        opt.step()
    var = {k: math.exp(v.item()) for k, v in mtl.log_vars.items()}
    for k in var:
        assert var[k] == pytest.approx(float(mtl.last_terms[k]), rel=0.1)
    assert var["clean"] == pytest.approx(0.01, rel=0.3)
    assert var["noisy"] == pytest.approx(9.0, rel=0.3)
    w = mtl.task_weights()
    assert w["clean"] / w["noisy"] > 300


def test_dwa_weights_follow_descent_rates() -> None:
    mtl = MultiTaskLoss({"a": losscraft.MSELoss(), "b": losscraft.MSELoss()}, method="dwa", temperature=2.0)
    z = torch.zeros(1, dtype=torch.float64)

    def epoch(la: float, lb: float) -> None:
        # MSE of sqrt(L) against 0 is L
        mtl({"a": z + math.sqrt(la), "b": z + math.sqrt(lb)}, {"a": z, "b": z})
        mtl.end_epoch()

    assert mtl.dwa_weights() == {"a": 1.0, "b": 1.0}
    epoch(1.0, 1.0)
    assert mtl.dwa_weights() == {"a": 1.0, "b": 1.0}
    epoch(0.5, 0.9)  # a falls fast, b slowly
    w = mtl.dwa_weights()
    ea, eb = math.exp(0.5 / 2.0), math.exp(0.9 / 2.0)
    assert w["a"] == pytest.approx(2 * ea / (ea + eb))
    assert w["b"] == pytest.approx(2 * eb / (ea + eb))
    assert w["b"] > w["a"] and sum(w.values()) == pytest.approx(2.0)
    out = mtl({"a": z + 1.0, "b": z + 2.0}, {"a": z, "b": z})
    torch.testing.assert_close(out, torch.tensor(w["a"] * 1.0 + w["b"] * 4.0, dtype=torch.float64))


def test_config_round_trip_and_errors() -> None:
    for kw in (
        {"method": "fixed", "weights": {"a": 2.0}},
        {"method": "dwa", "temperature": 1.5},
        {"method": "uncertainty", "task_types": {"b": "classification"}},
    ):
        mtl = MultiTaskLoss({"a": "mse", "b": {"name": "cross_entropy", "label_smoothing": 0.1}}, **kw)
        cfg = mtl.get_config()
        assert losscraft.build(cfg).get_config() == cfg
    with pytest.raises(LosscraftError, match="'method' must be one of"):
        MultiTaskLoss({"a": "mse"}, method="gradnorm")
    with pytest.raises(LosscraftError, match="only used with method='fixed'"):
        MultiTaskLoss({"a": "mse"}, method="dwa", weights={"a": 1.0})
    z = torch.zeros(2)
    with pytest.raises(LosscraftError, match=r"missing prediction or target for task\(s\) \['b'\]"):
        MultiTaskLoss({"a": "mse", "b": "mse"})({"a": z}, {"a": z, "b": z})


def test_gradcheck_uncertainty_and_fixed() -> None:
    a, at, b, bt = _data(7)
    mtl = MultiTaskLoss({"a": "mse", "b": "huber"}, method="uncertainty", task_types={"b": "classification"})
    s = torch.tensor([0.2, -0.3], dtype=torch.float64, requires_grad=True)

    def f(pa: torch.Tensor, pb: torch.Tensor, sv: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            mtl.log_vars["a"].copy_(sv[0])
            mtl.log_vars["b"].copy_(sv[1])
        out = mtl({"a": pa, "b": pb}, {"a": at, "b": bt})
        # the log-variance path: d/ds of 0.5 e^-s L + 0.5 s, checked through the closed form
        la, lb = LF.mse_loss(pa, at), LF.huber_loss(pb, bt)
        ref = 0.5 * torch.exp(-sv[0]) * la + 0.5 * sv[0] + torch.exp(-sv[1]) * lb + 0.5 * sv[1]
        torch.testing.assert_close(out.detach(), ref.detach())
        return ref

    inputs = (a.clone().requires_grad_(True), b.clone().requires_grad_(True), s)
    assert torch.autograd.gradcheck(f, inputs)
    mtl.log_vars["a"].data.fill_(0.2)
    mtl.log_vars["b"].data.fill_(-0.3)
    pa = a.clone().requires_grad_(True)
    out = mtl({"a": pa, "b": b}, {"a": at, "b": bt})
    (ga,) = torch.autograd.grad(out, pa)
    (gr,) = torch.autograd.grad(0.5 * math.exp(-0.2) * LF.mse_loss(pa, at), pa)
    torch.testing.assert_close(ga, gr)
    ls = mtl({"a": a, "b": b}, {"a": at, "b": bt})
    (gs,) = torch.autograd.grad(ls, mtl.log_vars["a"])
    assert gs.item() == pytest.approx(-0.5 * math.exp(-0.2) * float(LF.mse_loss(a, at)) + 0.5)


def test_multi_input_task_gets_its_arguments_by_signature() -> None:
    """gaussian_nll is (input, target, var): the prediction (mu, var) and the target y must give
    gaussian_nll(mu, y, var), never gaussian_nll(mu, var, y)."""
    g = torch.Generator().manual_seed(3)
    mu = torch.randn(8, 2, generator=g, dtype=torch.float64)
    y = torch.randn(8, 2, generator=g, dtype=torch.float64).abs() + 0.5  # valid as a variance too
    var = torch.rand(8, 2, generator=g, dtype=torch.float64) + 0.1
    ref = (0.5 * (torch.log(var) + (mu - y) ** 2 / var)).mean()  # Gaussian NLL, float64 closed form
    torch.testing.assert_close(torch.nn.functional.gaussian_nll_loss(mu, y, var), ref)
    mtl = MultiTaskLoss({"g": "gaussian_nll"})
    torch.testing.assert_close(mtl({"g": (mu, var)}, {"g": y}), ref)
    torch.testing.assert_close(mtl({"g": {"input": mu, "var": var}}, {"g": y}), ref)
    # triplet (anchor, positive, negative) has no target: the prediction holds every input
    a, p, n = (torch.randn(5, 4, generator=g, dtype=torch.float64) for _ in range(3))
    trip = MultiTaskLoss({"t": losscraft.TripletLoss(margin=0.5)})
    expected = ((a - p).norm(dim=1) - (a - n).norm(dim=1) + 0.5).clamp_min(0).mean()  # Schroff et al.
    torch.testing.assert_close(trip({"t": (a, p, n)}, {}), expected)
    with pytest.raises(LosscraftError, match=r"takes \(input, target, var\), so the prediction must hold 2"):
        mtl({"g": mu}, {"g": y})


def test_tasks_of_different_shapes_raise() -> None:
    a, at = torch.randn(4, 4, dtype=torch.float64), torch.randn(4, 4, dtype=torch.float64)
    b, bt = torch.randn(4, dtype=torch.float64), torch.randn(4, dtype=torch.float64)
    mtl = MultiTaskLoss({"a": losscraft.MSELoss(reduction="none"), "b": losscraft.MSELoss(reduction="none")})
    with pytest.raises(
        LosscraftError, match=r"tasks 'a' and 'b' return different shapes, \(4, 4\) and \(4,\)"
    ):
        mtl({"a": a, "b": b}, {"a": at, "b": bt})


def _dwa_epoch(mtl: MultiTaskLoss, la: float, lb: float) -> None:
    z = torch.zeros(1, dtype=torch.float64)
    mtl({"a": z + math.sqrt(la), "b": z + math.sqrt(lb)}, {"a": z, "b": z})
    mtl.end_epoch()


def test_dwa_history_counts_only_training_calls() -> None:
    mtl = MultiTaskLoss({"a": losscraft.MSELoss(), "b": losscraft.MSELoss()}, method="dwa")
    z = torch.zeros(1, dtype=torch.float64)
    big = {"a": z + 30.0, "b": z + 1.0}
    for la, lb in ((1.0, 1.0), (0.5, 0.9)):
        with torch.no_grad():  # a validation pass under no_grad
            mtl(big, {"a": z, "b": z})
        mtl.eval()  # and one in eval mode
        mtl(big, {"a": z, "b": z})
        mtl.train()
        _dwa_epoch(mtl, la, lb)
    ea, eb = math.exp(0.5 / 2.0), math.exp(0.9 / 2.0)  # r_k = L_k(t-1) / L_k(t-2), T = 2
    w = mtl.dwa_weights()
    assert w["a"] == pytest.approx(2 * ea / (ea + eb))
    assert w["b"] == pytest.approx(2 * eb / (ea + eb))


def test_dwa_history_is_in_the_state_dict() -> None:
    tasks = {"a": losscraft.MSELoss(), "b": losscraft.MSELoss()}
    mtl = MultiTaskLoss(tasks, method="dwa")
    _dwa_epoch(mtl, 1.0, 1.0)
    _dwa_epoch(mtl, 0.5, 0.9)
    z = torch.zeros(1, dtype=torch.float64)
    mtl({"a": z + 0.5, "b": z + 0.5}, {"a": z, "b": z})  # mid-epoch sums survive too
    state = mtl.state_dict()
    restored = MultiTaskLoss(tasks, method="dwa")
    restored.load_state_dict(state)
    assert restored.dwa_weights() == mtl.dwa_weights() != {"a": 1.0, "b": 1.0}
    assert restored.end_epoch() == mtl.end_epoch() == {"a": 0.25, "b": 0.25}
    other = MultiTaskLoss({"x": losscraft.MSELoss()}, method="dwa")
    with pytest.raises(LosscraftError, match="saved DWA state does not match"):
        other.load_state_dict(state, strict=False)


def test_multitask_option_validation() -> None:
    with pytest.raises(LosscraftError, match=r"'init_log_var' must be a finite float, got nan"):
        MultiTaskLoss({"a": "mse"}, method="uncertainty", init_log_var=float("nan"))
    for bad in ((0.0, 1.0, 2.0), (1.0, 0.0), ("a", 1.0), (float("nan"), 1.0), 3.0):
        with pytest.raises(LosscraftError, match=r"'log_var_bounds' must be \(low, high\), two numbers"):
            MultiTaskLoss({"a": "mse"}, method="uncertainty", log_var_bounds=bad)  # type: ignore[arg-type]
    with pytest.raises(LosscraftError, match=r"'temperature' is only used with method='dwa'"):
        MultiTaskLoss({"a": "mse"}, method="uncertainty", temperature=5.0)
    with pytest.raises(LosscraftError, match=r"'task_types' is only used with method='uncertainty'"):
        MultiTaskLoss({"a": "mse"}, task_types={"a": "regression"})
    with pytest.raises(
        LosscraftError, match=r"unknown config key 'temprature' \(did you mean 'temperature'\?\)"
    ):
        losscraft.build({"name": "multitask", "tasks": {"a": "mse"}, "method": "dwa", "temprature": 1.0})
    with pytest.raises(LosscraftError, match=r"missing the required key 'tasks'"):
        losscraft.build({"name": "multitask", "method": "dwa"})
