"""cox: a float64 loop reference written from Cox / Breslow / Efron, statsmodels' ``PHReg`` and scikit-survival.

statsmodels' ``PHReg`` and scikit-survival's ``CoxPHOptimizer`` (ties ``"breslow"`` and
``"efron"``) give the negative partial log-likelihood and its gradient on a one-feature design
whose linear predictor is the loss's input, ``eta = x * beta``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from sksurv.linear_model.coxph import CoxPHOptimizer
from statsmodels.duration.hazard_regression import PHReg

from dist_helpers import load_results, run_ranks, save_result
from losscraft import LosscraftError
from losscraft.distributed import global_batch
from losscraft.losses.survival import CoxLoss, cox_loss

f64 = torch.float64


def _data(seed: int, n: int = 12, levels: int = 5, censor: float = 0.3) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores, and rows (time, event) with integer times (ties) and about ``censor`` censored."""
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(n, generator=g, dtype=f64)
    times = torch.randint(0, levels, (n,), generator=g).to(f64)
    events = (torch.rand(n, generator=g, dtype=f64) > censor).to(f64)
    return scores, torch.stack([times, events], dim=-1)


def _reference(scores: list[float], times: list[float], events: list[float], ties: str) -> list[float]:
    """Per-sample terms from the definitions, with plain loops in float64 (0 if censored).

    Each event of a tie group of d events takes the mean of the group's d Efron terms
    ``log(sum_R e^eta - l/d sum_D e^eta)``, l = 0..d-1 (Breslow: d times ``log sum_R e^eta``).
    """
    n = len(scores)
    out = [0.0] * n
    for i in range(n):
        if events[i] != 1.0:
            continue
        at_risk = sum(math.exp(scores[j]) for j in range(n) if times[j] >= times[i])
        tied = [j for j in range(n) if times[j] == times[i] and events[j] == 1.0]
        d = len(tied)
        tied_sum = sum(math.exp(scores[j]) for j in tied)
        if ties == "breslow":
            log_den = math.log(at_risk)
        else:
            log_den = sum(math.log(at_risk - (k / d) * tied_sum) for k in range(d)) / d
        out[i] = log_den - scores[i]
    return out


def _ref_tensor(scores: torch.Tensor, target: torch.Tensor, ties: str) -> torch.Tensor:
    return torch.tensor(
        _reference(scores.tolist(), target[:, 0].tolist(), target[:, 1].tolist(), ties), dtype=f64
    )


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_loop_reference(ties: str, seed: int) -> None:
    scores, target = _data(seed)
    ref = _ref_tensor(scores, target, ties)
    n_events = target[:, 1].sum()
    torch.testing.assert_close(
        cox_loss(scores, target, ties=ties, reduction="none"), ref, rtol=1e-12, atol=1e-12
    )
    torch.testing.assert_close(
        cox_loss(scores, target, ties=ties, reduction="sum"), ref.sum(), rtol=1e-12, atol=1e-12
    )
    torch.testing.assert_close(
        cox_loss(scores, target, ties=ties), ref.sum() / n_events, rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("beta", [0.5, 1.0, -2.0])
def test_statsmodels_phreg_loglike_and_score(ties: str, beta: float) -> None:
    """-PHReg.loglike(beta) is the "sum"; -PHReg.score(beta) is dL/deta . x (chain rule)."""
    g = torch.Generator().manual_seed(11)
    x = torch.randn(30, generator=g, dtype=f64)
    _, target = _data(12, n=30, levels=8)
    model = PHReg(target[:, 0].numpy(), x.numpy()[:, None], status=target[:, 1].numpy(), ties=ties)
    eta = (x * beta).requires_grad_()
    loss = cox_loss(eta, target, ties=ties, reduction="sum")
    loss.backward()
    assert eta.grad is not None
    np.testing.assert_allclose(loss.item(), -model.loglike(np.array([beta])), rtol=1e-10)
    np.testing.assert_allclose(
        float((eta.grad * x).sum()), -model.score(np.array([beta]))[0], rtol=1e-8, atol=1e-10
    )


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("beta", [0.5, 1.0, -2.0])
def test_scikit_survival_partial_likelihood_and_gradient(ties: str, beta: float) -> None:
    """scikit-survival averages the negative partial log-likelihood over all N rows (censored too)."""
    g = torch.Generator().manual_seed(21)
    x = torch.randn(40, generator=g, dtype=f64)
    _, target = _data(22, n=40, levels=9)
    opt = CoxPHOptimizer(
        x.numpy()[:, None], target[:, 1].numpy().astype(bool), target[:, 0].numpy(), np.zeros(1), ties
    )
    eta = (x * beta).requires_grad_()
    loss = cox_loss(eta, target, ties=ties, reduction="sum") / len(x)
    loss.backward()
    assert eta.grad is not None
    w = np.array([beta])
    np.testing.assert_allclose(loss.item(), opt.nlog_likelihood(w), rtol=1e-10)
    opt.update(w)
    np.testing.assert_allclose(float((eta.grad * x).sum()), opt.gradient[0], rtol=1e-8, atol=1e-10)


def test_efron_equals_breslow_without_ties() -> None:
    g = torch.Generator().manual_seed(3)
    scores = torch.randn(9, generator=g, dtype=f64)
    times = torch.randperm(9, generator=g).to(f64) * 0.7
    target = torch.stack([times, (torch.arange(9) % 3 != 0).to(f64)], dim=-1)
    for red in ("none", "mean"):
        torch.testing.assert_close(
            cox_loss(scores, target, reduction=red), cox_loss(scores, target, ties="breslow", reduction=red)
        )


def test_row_order_does_not_matter() -> None:
    scores, target = _data(4, n=15)
    perm = torch.randperm(15, generator=torch.Generator().manual_seed(0))
    for ties in ("efron", "breslow"):
        none = cox_loss(scores, target, ties=ties, reduction="none")
        torch.testing.assert_close(
            cox_loss(scores[perm], target[perm], ties=ties, reduction="none"), none[perm]
        )


def test_censored_rows_give_zero_and_only_sit_in_risk_sets() -> None:
    scores, target = _data(5)
    none = cox_loss(scores, target, reduction="none")
    assert (none[target[:, 1] == 0] == 0).all()
    # a censored sample after every time changes nothing but the risk sets
    later = torch.cat([target, torch.tensor([[100.0, 0.0]], dtype=f64)])
    grown = cox_loss(torch.cat([scores, scores.new_tensor([2.0])]), later, reduction="none")
    assert (grown[:-1][target[:, 1] == 1] > none[target[:, 1] == 1]).all()


def test_single_event_against_its_risk_set_is_a_softmax_cross_entropy() -> None:
    scores = torch.tensor([0.3, -1.0, 2.0, 0.5], dtype=f64)
    target = torch.tensor([[1.0, 1.0], [2.0, 0.0], [3.0, 0.0], [0.5, 0.0]], dtype=f64)
    expected = -torch.log_softmax(scores[:3], 0)[0]  # sample 3 left the risk set at 0.5
    torch.testing.assert_close(cox_loss(scores, target), expected)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_no_event_is_zero_with_a_finite_zero_gradient(ties: str) -> None:
    scores = torch.randn(5, dtype=f64, requires_grad=True)
    target = torch.stack([torch.arange(5, dtype=f64), torch.zeros(5, dtype=f64)], dim=-1)
    for red in ("mean", "sum"):
        out = cox_loss(scores, target, ties=ties, reduction=red)
        (grad,) = torch.autograd.grad(out, scores)
        assert out.item() == 0.0
        assert torch.equal(grad, torch.zeros_like(grad))
    empty = torch.zeros(0, dtype=f64, requires_grad=True)
    assert cox_loss(empty, torch.zeros(0, 2, dtype=f64), ties=ties).item() == 0.0


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_gradcheck_with_ties_and_censoring(ties: str) -> None:
    scores, target = _data(6, n=10, levels=3)
    x = scores.clone().requires_grad_()
    for red in ("mean", "none"):

        def fn(s: torch.Tensor, red: str = red) -> torch.Tensor:
            return cox_loss(s, target, ties=ties, reduction=red)

        assert torch.autograd.gradcheck(fn, (x,))
        assert torch.autograd.gradgradcheck(fn, (x,))


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_extreme_scores_are_finite_and_match_float64(ties: str, dtype: torch.dtype) -> None:
    scores = torch.tensor([1e4, -1e4, 0.0, 1e4, -1e4, 5.0], dtype=f64)
    target = torch.tensor([[1.0, 1.0], [1.0, 1.0], [2.0, 0.0], [3.0, 1.0], [0.0, 1.0], [3.0, 1.0]], dtype=f64)
    x = scores.to(dtype).requires_grad_()
    ref = cox_loss(x.detach().double(), target, ties=ties, reduction="none")  # the same rounded scores
    assert torch.isfinite(ref).all()
    got = cox_loss(x, target.to(dtype), ties=ties, reduction="none")
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.double(), ref, rtol=1e-5, atol=1e-3)
    got.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad.float()).all()


def test_module_and_aliases() -> None:
    scores, target = _data(7)
    assert torch.equal(CoxLoss(ties="breslow")(scores, target), cox_loss(scores, target, ties="breslow"))
    import losscraft

    assert losscraft.get("coxph").name == "cox"


@pytest.mark.parametrize(
    ("scores", "target", "match"),
    [
        (
            torch.zeros(3, 1),
            torch.zeros(3, 2),
            r"'input' must hold one log-risk score per sample, shape \(N,\)",
        ),
        (
            torch.zeros(3),
            torch.zeros(3),
            r"'target' must hold one row \(time, event\) per sample, shape \(3, 2\)",
        ),
        (torch.zeros(3), torch.zeros(4, 2), r".*shape \(3, 2\), got \(4, 2\)"),
        (
            torch.zeros(2),
            torch.tensor([[1.0, 1.0], [-1.0, 0.0]]),
            r"'target' must contain times >= 0 \(column 0\) and events \(column 1\) in \[0, inf\], got -1",
        ),
        (
            torch.zeros(2),
            torch.tensor([[1.0, 1.0], [math.nan, 0.0]]),
            r"'target' must contain times >= 0 .*got nan",
        ),
        (
            torch.zeros(2),
            torch.tensor([[1.0, 1.0], [math.inf, 0.0]]),
            r"'target' must contain finite times in column 0, got inf",
        ),
        (
            torch.zeros(2),
            torch.tensor([[1.0, 1.0], [2.0, 2.0]]),
            r"'target' must contain only event indicators 0 \(censored\) or 1 \(event\) in column 1, got 2",
        ),
        (
            torch.zeros(2),
            torch.tensor([[1.0, 1.0], [2.0, 0.5]]),
            r"'target' must contain only event .*got 0.5",
        ),
        (torch.zeros(2, dtype=torch.long), torch.zeros(2, 2), r"'input' must be a floating-point tensor"),
        (torch.zeros(2), torch.zeros(2, 2, dtype=torch.long), r"'target' must be a floating-point tensor"),
    ],
)
def test_bad_inputs(scores: torch.Tensor, target: torch.Tensor, match: str) -> None:
    with pytest.raises(LosscraftError, match="cox_loss: " + match):
        cox_loss(scores, target)


def test_bad_ties() -> None:
    with pytest.raises(LosscraftError, match="ties"):
        cox_loss(torch.zeros(2), torch.ones(2, 2), ties="exact")


def test_global_batch_without_a_group_is_the_plain_loss_and_refuses_a_denominator() -> None:
    scores, target = _data(8)
    plain = {red: cox_loss(scores, target, reduction=red) for red in ("mean", "sum", "none")}
    with global_batch():
        for red, value in plain.items():
            assert torch.equal(cox_loss(scores, target, reduction=red), value)
    with (
        global_batch(denominator=12),
        pytest.raises(LosscraftError, match="cannot be split into micro-batches"),
    ):
        cox_loss(scores, target)


# --------------------------------------------------------------------------- across ranks
def _worker(
    rank: int, world_size: int, out: Path, scores: torch.Tensor, target: torch.Tensor, sizes: list[int]
) -> None:
    start = sum(sizes[:rank])
    mine = slice(start, start + sizes[rank])
    res: dict[str, Any] = {}
    with global_batch():
        for ties in ("efron", "breslow"):
            for red in ("mean", "sum"):
                x = scores[mine].clone().requires_grad_()
                value = cox_loss(x, target[mine], ties=ties, reduction=red)
                value.backward()
                res[f"{ties}-{red}"] = value.detach()
                res[f"{ties}-{red}-grad"] = x.grad
            res[f"{ties}-none"] = cox_loss(scores[mine], target[mine], ties=ties, reduction="none")
    save_result(out, rank, res)


@pytest.mark.distributed
def test_censored_ties_across_three_ranks_with_an_empty_one(tmp_path: Path) -> None:
    """Ties and censored rows split over the ranks (one holds nothing): the full-batch loss and gradient."""
    sizes = [4, 0, 7]
    scores, target = _data(9, n=11, levels=4)
    run_ranks(_worker, 3, tmp_path, scores, target, sizes, timeout=600)
    ranks = load_results(tmp_path, 3)
    for ties in ("efron", "breslow"):
        for red in ("mean", "sum"):
            x = scores.clone().requires_grad_()
            full = cox_loss(x, target, ties=ties, reduction=red)
            full.backward()
            assert x.grad is not None
            for r in ranks:  # the full-batch value on every rank
                torch.testing.assert_close(r[f"{ties}-{red}"], full.detach(), rtol=1e-12, atol=1e-12)
            grads = torch.cat([r[f"{ties}-{red}-grad"] for r in ranks]) / 3  # DDP averages
            torch.testing.assert_close(grads, x.grad, rtol=1e-10, atol=1e-12)
        none = torch.cat([r[f"{ties}-none"] for r in ranks])
        torch.testing.assert_close(none, cox_loss(scores, target, ties=ties, reduction="none"))
