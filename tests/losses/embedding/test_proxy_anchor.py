"""proxy_anchor: pytorch-metric-learning's ProxyAnchorLoss and a float64 loop of Kim et al.'s eq. 4.

References: pml 2.9 ``ProxyAnchorLoss`` (imported directly; its proxies set to the same values,
its per-proxy terms through ``DoNothingReducer``) and an explicit float64 loop over the proxies
and the samples of Kim et al. (2020), eq. 4. ``LearnedProxyAnchorLoss`` (the Module that owns
the proxies) against pml's Module: the same initialisation, value and proxy gradients.
"""

from __future__ import annotations

import json
import math

import pytest
import pytorch_metric_learning.losses as pml_losses
import pytorch_metric_learning.reducers as pml_reducers
import torch

import losscraft
from losscraft import LosscraftError
from losscraft._core.distributed import max_batch
from losscraft.distributed import global_batch
from losscraft.losses.embedding import LearnedProxyAnchorLoss, ProxyAnchorLoss, proxy_anchor_loss
from losses.embedding.helpers import D64, _assert_value_and_grad, _randn


def _unit(v: torch.Tensor) -> torch.Tensor:
    norm = torch.sqrt((v * v).sum())
    return v / norm if float(norm.detach()) > 0 else v


def ref_terms(
    z: torch.Tensor, labels: torch.Tensor, proxies: torch.Tensor, margin: float, alpha: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-proxy positive and negative terms of eq. 4, loops (an empty sum gives log 1 = 0)."""
    pos, neg = [], []
    for c in range(proxies.shape[0]):
        p = _unit(proxies[c])
        sp, sn = z.new_zeros(()), z.new_zeros(())
        for i in range(z.shape[0]):
            s = (_unit(z[i]) * p).sum()
            if int(labels[i]) == c:
                sp = sp + torch.exp(-alpha * (s - margin))
            else:
                sn = sn + torch.exp(alpha * (s + margin))
        pos.append(torch.log1p(sp))
        neg.append(torch.log1p(sn))
    return torch.stack(pos), torch.stack(neg)


def ref_loss(
    z: torch.Tensor, labels: torch.Tensor, proxies: torch.Tensor, margin: float, alpha: float
) -> torch.Tensor:
    """Eq. 4: the positive terms averaged over the proxies with a positive, the negative ones over all."""
    pos, neg = ref_terms(z, labels, proxies, margin, alpha)
    n_with_pos = len(set(labels.tolist()))
    pos_mean = pos.sum() / n_with_pos if n_with_pos else pos.sum() * 0
    return pos_mean + neg.mean()


def _pml(num_classes: int, dim: int, proxies: torch.Tensor, **kw: float) -> pml_losses.ProxyAnchorLoss:
    loss = pml_losses.ProxyAnchorLoss(num_classes, dim, **kw)
    loss.proxies.data = proxies.detach().clone()
    return loss


LABELS = [
    [0, 0, 1, 1, 2, 2],
    [0, 0, 0, 1, 1, 2],
    [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3],
    [1, 1, 1],  # one class: every other proxy has no positive
    [0, 1, 2, 3, 4],  # one positive per proxy
    [4, 4, 0, 0, 0],  # proxies 1, 2, 3 without positives
]


@pytest.mark.parametrize("labels", LABELS)
@pytest.mark.parametrize(("margin", "alpha"), [(0.1, 32.0), (0.0, 8.0), (0.5, 64.0)])
def test_matches_pml_values_and_gradients_including_the_proxies(
    labels: list[int], margin: float, alpha: float
) -> None:
    y = torch.tensor(labels)
    z = _randn(len(labels), 6, seed=len(labels) + int(alpha))
    proxies = _randn(5, 6, seed=100 + int(alpha))

    def pml_value(a: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        # pml owns its proxies: its Parameter is the (differentiable) tensor p itself
        loss = pml_losses.ProxyAnchorLoss(5, 6, margin=margin, alpha=alpha)
        del loss.proxies
        loss.proxies = p  # type: ignore[assignment]
        out: torch.Tensor = loss(a, y)
        return out

    _assert_value_and_grad(
        lambda a, p: proxy_anchor_loss(a, y, p, margin=margin, alpha=alpha),
        pml_value,
        (z, proxies),
        rtol=1e-10,
        atol=1e-12,
    )
    terms = _pml(5, 6, proxies, margin=margin, alpha=alpha, reducer=pml_reducers.DoNothingReducer())(z, y)
    pos, neg = terms["pos_loss"]["losses"], terms["neg_loss"]["losses"]
    n_with_pos = len(set(labels))
    ours = proxy_anchor_loss(z, y, proxies, margin=margin, alpha=alpha, reduction="none")
    torch.testing.assert_close(ours, 5 / n_with_pos * pos + neg, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("labels", LABELS)
def test_matches_the_loop_reference(labels: list[int]) -> None:
    y = torch.tensor(labels)
    z = _randn(len(labels), 4, seed=7 + len(labels))
    proxies = _randn(5, 4, seed=8)
    want = ref_loss(z, y, proxies, 0.1, 32.0)
    torch.testing.assert_close(proxy_anchor_loss(z, y, proxies), want, rtol=1e-10, atol=1e-12)
    pos, neg = ref_terms(z, y, proxies, 0.1, 32.0)
    none = proxy_anchor_loss(z, y, proxies, reduction="none")
    torch.testing.assert_close(none, 5 / len(set(labels)) * pos + neg, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(none.mean(), want, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(proxy_anchor_loss(z, y, proxies, reduction="sum"), 5 * want)
    _assert_value_and_grad(
        lambda a, p: proxy_anchor_loss(a, y, p, margin=0.3, alpha=5.0),
        lambda a, p: ref_loss(a, y, p, 0.3, 5.0),
        (z, proxies),
    )


def test_pml_defaults_and_module_parity() -> None:
    default = pml_losses.ProxyAnchorLoss(4, 3)
    mod = ProxyAnchorLoss()
    assert (mod.margin, mod.alpha) == (default.margin, default.alpha) == (0.1, 32)
    z = _randn(8, 3, seed=3)
    y = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    proxies = default.proxies.detach().double()
    torch.testing.assert_close(proxy_anchor_loss(z, y, proxies), default(z, y), rtol=1e-10, atol=0)
    for red in ("mean", "sum", "none"):
        got = ProxyAnchorLoss(margin=0.2, alpha=16.0, reduction=red)(z, y, proxies)
        torch.testing.assert_close(
            got, proxy_anchor_loss(z, y, proxies, margin=0.2, alpha=16.0, reduction=red)
        )


def test_empty_batch_is_zero_with_finite_gradients_as_pml() -> None:
    z = torch.zeros(0, 4, dtype=D64, requires_grad=True)
    y = torch.zeros(0, dtype=torch.long)
    proxies = _randn(3, 4, seed=1).requires_grad_(True)
    pml = _pml(3, 4, proxies.detach())
    assert pml(z.detach(), y).item() == 0.0
    for red in ("mean", "sum"):
        v = proxy_anchor_loss(z, y, proxies, reduction=red)
        assert v.item() == 0.0 and v.requires_grad
        gz, gp = torch.autograd.grad(v, (z, proxies))
        assert gz.shape == (0, 4) and torch.isfinite(gp).all() and (gp == 0).all()
    torch.testing.assert_close(proxy_anchor_loss(z, y, proxies, reduction="none"), torch.zeros(3, dtype=D64))


def test_proxies_without_positives_keep_only_their_negative_term() -> None:
    z = _randn(4, 3, seed=2)
    y = torch.tensor([2, 2, 2, 2])  # only proxy 2 has positives
    proxies = _randn(4, 3, seed=5)
    none = proxy_anchor_loss(z, y, proxies, reduction="none")
    pos, neg = ref_terms(z, y, proxies, 0.1, 32.0)
    assert (pos[[0, 1, 3]] == 0).all()
    torch.testing.assert_close(none[[0, 1, 3]], neg[[0, 1, 3]])
    torch.testing.assert_close(none[2], 4 * pos[2] + neg[2])  # |P| / |P+| = 4


@pytest.mark.parametrize("alpha", [32.0, 200.0, 1000.0])
def test_float32_is_exact_for_large_alpha(alpha: float) -> None:
    """The per-proxy max shift: no exponential overflows or underflows to a wrong value."""
    y = torch.arange(6) // 2
    z = _randn(6, 8, seed=11)
    proxies = _randn(4, 8, seed=12)
    ref = ref_loss(z, y, proxies, 0.1, alpha) if alpha <= 200 else None
    x64 = proxy_anchor_loss(z, y, proxies, alpha=alpha)
    if ref is not None:  # the naive float64 loop still fits (e^{2 alpha} < 1e308)
        torch.testing.assert_close(x64, ref, rtol=1e-10, atol=0)
    zf, pf = z.float().requires_grad_(True), proxies.float().requires_grad_(True)
    x32 = proxy_anchor_loss(zf, y, pf, alpha=alpha)
    x32.backward()
    assert torch.isfinite(x32) and x32.dtype == torch.float32
    assert zf.grad is not None and pf.grad is not None
    assert torch.isfinite(zf.grad).all() and torch.isfinite(pf.grad).all()
    # the float64 value on the float32-rounded inputs: only float32 arithmetic differs
    want = proxy_anchor_loss(zf.detach().double(), y, pf.detach().double(), alpha=alpha)
    torch.testing.assert_close(x32.double(), want, rtol=2e-6, atol=0)


def test_easy_batch_keeps_relative_precision() -> None:
    """log(1 + tiny) stays relatively exact (no cancellation against a constant shift)."""
    proxies = torch.eye(2, 3, dtype=torch.float32)
    z = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    y = torch.tensor([0, 1])
    got = proxy_anchor_loss(z, y, proxies, margin=0.1, alpha=32.0, reduction="none")
    # positives at cosine 1: log(1 + e^{-28.8}); negatives at cosine 0: log(1 + e^{3.2})
    want = torch.tensor([math.log1p(math.exp(-28.8)) + math.log1p(math.exp(3.2))] * 2, dtype=D64)
    torch.testing.assert_close(got.double(), want, rtol=1e-6, atol=0)
    # one proxy, two positives at cosine 1, no negative: log(1 + 2 e^{-60}) ~ 1.75e-26 in float32
    one = proxy_anchor_loss(z[:1].repeat(2, 1), torch.tensor([0, 0]), proxies[:1], margin=0.0, alpha=60.0)
    torch.testing.assert_close(one.double(), torch.tensor(2 * math.exp(-60.0), dtype=D64), rtol=1e-5, atol=0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision(dtype: torch.dtype) -> None:
    y = torch.arange(64) // 4
    proxies = _randn(16, 32, seed=16)
    z = (proxies[y] + 0.9 * _randn(64, 32, seed=17)).float()
    fp32 = proxy_anchor_loss(z, y, proxies.float())
    half = proxy_anchor_loss(z.to(dtype), y, proxies.to(dtype))
    assert half.dtype == torch.float32
    assert abs(half.item() - fp32.item()) <= 0.02 * fp32.item()
    x = z.to(dtype).requires_grad_(True)
    p = proxies.to(dtype).requires_grad_(True)
    proxy_anchor_loss(x, y, p).backward()
    assert x.grad is not None and p.grad is not None
    assert torch.isfinite(x.grad).all() and torch.isfinite(p.grad).all()


def test_scale_invariance_and_zero_vectors() -> None:
    y = torch.tensor([0, 0, 1, 2])
    z, proxies = _randn(4, 5, seed=21), _randn(3, 5, seed=22)
    base = proxy_anchor_loss(z, y, proxies)
    torch.testing.assert_close(proxy_anchor_loss(1e4 * z, y, 1e-4 * proxies), base)
    z0 = z.clone()
    z0[1] = 0.0  # an exact zero embedding: cosine 0 with every proxy, gradient 0
    zz = z0.clone().requires_grad_(True)
    proxy_anchor_loss(zz, y, proxies).backward()
    assert zz.grad is not None and torch.isfinite(zz.grad).all() and (zz.grad[1] == 0).all()


def test_nan_reaches_the_loss() -> None:
    y = torch.tensor([0, 0, 1])
    z, proxies = _randn(3, 4, seed=3), _randn(2, 4, seed=4)
    z[2, 1] = math.nan
    assert torch.isnan(proxy_anchor_loss(z, y, proxies))
    assert torch.isnan(proxy_anchor_loss(z, y, proxies, reduction="none")).all()


def test_errors() -> None:
    z, y, p = _randn(4, 3, seed=1), torch.tensor([0, 0, 1, 1]), _randn(2, 3, seed=2)
    with pytest.raises(LosscraftError, match=r"'proxies' must have shape \(C, D\) with D = 3 .*got \(2, 4\)"):
        proxy_anchor_loss(z, y, _randn(2, 4, seed=2))
    with pytest.raises(LosscraftError, match=r"'proxies' must have shape \(C, D\)"):
        proxy_anchor_loss(z, y, _randn(3, seed=2))
    with pytest.raises(LosscraftError, match="'proxies' must be a floating-point tensor"):
        proxy_anchor_loss(z, y, p.long())
    with pytest.raises(
        LosscraftError, match=r"'target' must hold class indices in \[0, C-1\] = \[0, 1\].*got 2"
    ):
        proxy_anchor_loss(z, torch.tensor([0, 0, 1, 2]), p)
    with pytest.raises(LosscraftError, match=r"'target' must hold class indices .*got -1"):
        proxy_anchor_loss(z, torch.tensor([0, -1, 1, 1]), p)
    with pytest.raises(LosscraftError, match="'target' must be an integer tensor"):
        proxy_anchor_loss(z, y.double(), p)
    with pytest.raises(LosscraftError, match=r"'input' must have shape \(N, D\)"):
        proxy_anchor_loss(z[0], y[:1], p)
    with pytest.raises(LosscraftError, match="'alpha' must be"):
        proxy_anchor_loss(z, y, p, alpha=0.0)
    with pytest.raises(LosscraftError, match="'alpha' must be"):
        ProxyAnchorLoss(alpha=-1.0)
    with pytest.raises(LosscraftError, match="'margin' must be"):
        proxy_anchor_loss(z, y, p, margin=-0.1)
    with (
        pytest.raises(LosscraftError, match="cannot be split into micro-batches"),
        global_batch(denominator=8),
    ):
        proxy_anchor_loss(z, y, p)


def test_global_batch_without_a_group_and_the_max_hook() -> None:
    z, y, p = _randn(5, 3, seed=1), torch.tensor([0, 0, 1, 1, 3]), _randn(4, 3, seed=2)
    plain = proxy_anchor_loss(z, y, p, reduction="none")
    with global_batch():
        assert torch.equal(proxy_anchor_loss(z, y, p, reduction="none"), plain)
    x = torch.tensor([1.0, -math.inf], requires_grad=True)
    out = max_batch("f", x)
    assert torch.equal(out, x.detach()) and not out.requires_grad


# --------------------------------------------------------------------------- the owning Module
def test_learned_module_initialises_and_computes_as_pml() -> None:
    torch.manual_seed(3)
    theirs = pml_losses.ProxyAnchorLoss(7, 5)
    torch.manual_seed(3)
    ours = LearnedProxyAnchorLoss(7, 5)
    assert isinstance(ours.proxies, torch.nn.Parameter) and ours.proxies.dtype == torch.float32
    torch.testing.assert_close(ours.proxies.detach(), theirs.proxies.detach(), rtol=0, atol=0)
    assert [n for n, _ in ours.named_parameters()] == ["proxies"]
    z = _randn(9, 5, seed=4).float()
    y = torch.tensor([0, 0, 0, 2, 2, 5, 5, 6, 6])
    v_ours, v_theirs = ours(z, y), theirs(z, y)
    v_ours.backward()
    v_theirs.backward()
    torch.testing.assert_close(v_ours, v_theirs, rtol=1e-5, atol=1e-6)
    assert ours.proxies.grad is not None and theirs.proxies.grad is not None
    torch.testing.assert_close(ours.proxies.grad, theirs.proxies.grad, rtol=1e-4, atol=1e-6)


def test_learned_module_trains_its_proxies() -> None:
    torch.manual_seed(0)
    model = torch.nn.Linear(6, 4)
    loss = LearnedProxyAnchorLoss(num_classes=3, embedding_dim=4, alpha=8.0)
    opt = torch.optim.SGD([*model.parameters(), *loss.parameters()], lr=0.5)
    x, y = torch.randn(12, 6), torch.arange(12) % 3
    before = loss.proxies.detach().clone()
    first = loss(model(x), y).item()
    for _ in range(20):
        opt.zero_grad()
        loss(model(x), y).backward()
        opt.step()
    assert not torch.equal(loss.proxies.detach(), before)
    assert loss(model(x), y).item() < first


def test_learned_module_config_state_and_attributes() -> None:
    loss = LearnedProxyAnchorLoss(10, 4, margin=0.2, alpha=16.0, reduction="sum")
    cfg = loss.get_config()
    assert cfg == {
        "name": "learned_proxy_anchor",
        "num_classes": 10,
        "embedding_dim": 4,
        "margin": 0.2,
        "alpha": 16.0,
        "reduction": "sum",
    }
    rebuilt = losscraft.build(json.loads(json.dumps(cfg)))
    assert isinstance(rebuilt, LearnedProxyAnchorLoss) and rebuilt.get_config() == cfg
    assert repr(rebuilt) == repr(loss)
    rebuilt.load_state_dict(loss.state_dict())
    z, y = _randn(4, 4, seed=1).float(), torch.tensor([1, 1, 9, 9])
    torch.testing.assert_close(rebuilt(z, y), loss(z, y))
    torch.testing.assert_close(
        loss(z, y), proxy_anchor_loss(z, y, loss.proxies, margin=0.2, alpha=16.0, reduction="sum")
    )
    loss.alpha, loss.reduction = 4.0, "none"
    assert loss.loss.alpha == 4.0 and loss(z, y).shape == (10,)
    with pytest.raises(LosscraftError, match="'alpha' must be"):
        loss.alpha = 0.0
    double = LearnedProxyAnchorLoss(3, 4).to(torch.float64)
    assert double(_randn(2, 4, seed=2), torch.tensor([0, 2])).dtype == torch.float64
    combined = loss + losscraft.MSELoss()
    assert isinstance(combined, losscraft.CombinedLoss)


def test_learned_module_errors() -> None:
    for args in ((0, 4), (3, 0), (2.5, 4), (True, 4)):
        with pytest.raises(
            LosscraftError, match="LearnedProxyAnchorLoss: '(num_classes|embedding_dim)' must be an int >= 1"
        ):
            LearnedProxyAnchorLoss(*args)  # type: ignore[arg-type]
    with pytest.raises(LosscraftError, match="'margin' must be"):
        LearnedProxyAnchorLoss(3, 4, margin=2.0)
    with pytest.raises(LosscraftError, match="config is for 'mse'"):
        LearnedProxyAnchorLoss.from_config({"name": "mse", "num_classes": 3, "embedding_dim": 4})
    with pytest.raises(LosscraftError, match="num_classes"):
        LearnedProxyAnchorLoss.from_config({"embedding_dim": 4})
    loss = LearnedProxyAnchorLoss(3, 4)
    with pytest.raises(LosscraftError, match=r"'target' must hold class indices in \[0, C-1\] = \[0, 2\]"):
        loss(torch.randn(2, 4), torch.tensor([0, 3]))
    with pytest.raises(LosscraftError, match="D = 5"):
        loss(torch.randn(2, 5), torch.tensor([0, 1]))
