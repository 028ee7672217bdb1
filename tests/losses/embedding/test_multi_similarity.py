"""multi_similarity: pytorch-metric-learning's MultiSimilarityLoss and a float64 loop of eq. 7.

References: pml 2.9 ``MultiSimilarityLoss`` (imported directly, no miner; its per-anchor
losses through ``DoNothingReducer``) and an explicit float64 loop over the positive and negative
pairs of Wang et al. (2019), eq. 7, without the paper's pair mining.
"""

from __future__ import annotations

import math

import pytest
import pytorch_metric_learning.losses as pml_losses
import pytorch_metric_learning.miners as pml_miners
import pytorch_metric_learning.reducers as pml_reducers
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from losscraft import LosscraftError
from losscraft.losses.embedding import MultiSimilarityLoss, multi_similarity_loss
from losses.embedding.helpers import D64, _assert_value_and_grad, _cos, _grads, _randn


def ref_ms(z: torch.Tensor, labels: torch.Tensor, alpha: float, beta: float, lam: float) -> torch.Tensor:
    """Per-anchor loss of eq. 7 on every pair, loops (an empty sum gives log 1 = 0)."""
    n = z.shape[0]
    out = []
    for i in range(n):
        ps = [p for p in range(n) if p != i and labels[p] == labels[i]]
        ns = [k for k in range(n) if labels[k] != labels[i]]
        pos = sum((torch.exp(-alpha * (_cos(z[i], z[p]) - lam)) for p in ps), z.new_zeros(()))
        neg = sum((torch.exp(beta * (_cos(z[i], z[k]) - lam)) for k in ns), z.new_zeros(()))
        out.append(torch.log1p(pos) / alpha + torch.log1p(neg) / beta)
    return torch.stack(out)


LABELS = [
    [0, 0, 1, 1, 2, 2],
    [0, 0, 0, 1, 1, 2],  # anchor 5 has no positive
    [3, -7, 3, 3, -7, 10, 11],  # arbitrary integer identities
    [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3],
    [1, 1, 1],  # no negative at all
    [0, 1, 2],  # no positive at all
]


@pytest.mark.parametrize("labels", LABELS)
@pytest.mark.parametrize(("alpha", "beta", "base"), [(2.0, 50.0, 0.5), (2.0, 40.0, 0.5), (1.0, 10.0, 0.0)])
def test_ms_matches_pml_values_and_gradients(
    labels: list[int], alpha: float, beta: float, base: float
) -> None:
    y = torch.tensor(labels)
    z = _randn(len(labels), 5, seed=len(labels) + int(beta))
    pml = pml_losses.MultiSimilarityLoss(alpha=alpha, beta=beta, base=base)
    _assert_value_and_grad(
        lambda a: multi_similarity_loss(a, y, alpha=alpha, beta=beta, base=base),
        lambda a: pml(a, y),
        (z,),
        rtol=1e-10,
        atol=1e-12,
    )
    every = pml_losses.MultiSimilarityLoss(
        alpha=alpha, beta=beta, base=base, reducer=pml_reducers.DoNothingReducer()
    )
    theirs = every(z, y)["loss"]["losses"].reshape(-1)
    ours = multi_similarity_loss(z, y, alpha=alpha, beta=beta, base=base, reduction="none")
    torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=0)


def test_ms_pml_defaults() -> None:
    default = pml_losses.MultiSimilarityLoss()
    mod = MultiSimilarityLoss()
    assert (mod.alpha, mod.beta, mod.base) == (default.alpha, default.beta, default.base) == (2, 50, 0.5)
    z = _randn(8, 4, seed=3)
    y = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    torch.testing.assert_close(multi_similarity_loss(z, y), default(z, y), rtol=1e-10, atol=0)


@pytest.mark.parametrize("labels", [*LABELS, [4], []])
def test_ms_matches_loop_reference(labels: list[int]) -> None:
    y = torch.tensor(labels, dtype=torch.long)
    z = _randn(len(labels), 5, seed=7 + len(labels))
    ref = ref_ms(z, y, 2.0, 50.0, 0.5) if labels else z.new_zeros((0,))
    torch.testing.assert_close(multi_similarity_loss(z, y, reduction="none"), ref)
    torch.testing.assert_close(multi_similarity_loss(z, y, reduction="sum"), ref.sum())
    # every anchor counts when N >= 2 (it has a positive or a negative); N <= 1: 0
    expected = ref.mean() if len(labels) >= 2 else z.new_zeros(())
    torch.testing.assert_close(multi_similarity_loss(z, y), expected)
    if len(labels) >= 2:
        _assert_value_and_grad(
            lambda a: multi_similarity_loss(a, y, alpha=3.0, beta=20.0, base=0.2),
            lambda a: ref_ms(a, y, 3.0, 20.0, 0.2).mean(),
            (z,),
        )


def test_ms_is_the_loss_on_every_pair_not_the_mined_one() -> None:
    """pml's loss with its MultiSimilarityMiner (the paper's mining) differs from the all-pairs loss."""
    z = _randn(12, 5, seed=31)
    y = torch.arange(4).repeat_interleave(3)
    pairs = pml_miners.MultiSimilarityMiner(epsilon=0.1)(z, y)
    mined = pml_losses.MultiSimilarityLoss()(z, y, pairs)
    assert not torch.isclose(multi_similarity_loss(z, y), mined)
    torch.testing.assert_close(multi_similarity_loss(z, y), pml_losses.MultiSimilarityLoss()(z, y))


def test_ms_single_sample_is_zero_attached() -> None:
    for labels in ([5], []):
        t = torch.tensor(labels, dtype=torch.long)
        a = _randn(len(labels), 4, seed=15).requires_grad_(True)
        for red in ("mean", "sum"):
            v = multi_similarity_loss(a, t, reduction=red)
            assert v.item() == 0.0 and v.requires_grad
            (g,) = torch.autograd.grad(v, a)
            assert torch.isfinite(g).all() and (g == 0).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_ms_half_precision(dtype: torch.dtype) -> None:
    y = torch.arange(64) // 4
    centers = _randn(16, 32, seed=16)
    z = (centers[y] + 0.9 * _randn(64, 32, seed=17)).float()
    fp32 = multi_similarity_loss(z, y, beta=100.0)
    torch.testing.assert_close(
        fp32.double(), multi_similarity_loss(z.double(), y, beta=100.0), rtol=1e-5, atol=0
    )
    half = multi_similarity_loss(z.to(dtype), y, beta=100.0)
    assert half.dtype == torch.float32
    assert abs(half.item() - fp32.item()) <= 0.02 * fp32.item()
    x = z.to(dtype).requires_grad_(True)
    multi_similarity_loss(x, y, beta=100.0).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("scale", [1e-4, 1e4])
def test_ms_extreme_inputs_are_finite(scale: float) -> None:
    z = _randn(6, 4, seed=21, scale=scale)
    y = torch.tensor([0, 0, 1, 1, 2, 2])
    v, (g,) = _grads(lambda a: multi_similarity_loss(a, y, beta=1000.0), z)
    assert torch.isfinite(v) and torch.isfinite(g).all()
    torch.testing.assert_close(v, multi_similarity_loss(z / scale, y, beta=1000.0))


def test_ms_gradient_on_similarities() -> None:
    """d l / d s_ip = -e^{-a(s_ip - l)} / (1 + sum_p ...), d l / d s_in = e^{b(s_in - l)} / (1 + sum_n ...)."""
    alpha, beta, lam = 2.0, 10.0, 0.5
    s_p = torch.tensor([0.3, 0.8], dtype=D64)
    s_n = torch.tensor([0.1, -0.5, 0.6], dtype=D64)
    e_p, e_n = torch.exp(-alpha * (s_p - lam)), torch.exp(beta * (s_n - lam))
    expected = torch.cat([-e_p / (1 + e_p.sum()), e_n / (1 + e_n.sum())])
    assert (expected.abs() < 1).all() and expected[:2].abs().sum() < 1 and expected[2:].sum() < 1
    # anchor e0 and unit vectors c_k e0 + sqrt(1 - c_k^2) e_k: the anchor's cosines are exactly c_k
    sims = torch.cat([s_p, s_n]).requires_grad_(True)
    eye = torch.eye(sims.numel() + 1, dtype=D64)
    rows = [eye[0]] + [c * eye[0] + torch.sqrt(1 - c * c) * eye[k + 1] for k, c in enumerate(sims.unbind(0))]
    y = torch.tensor([0, 0, 0, 1, 2, 3])
    out = multi_similarity_loss(torch.stack(rows), y, alpha=alpha, beta=beta, base=lam, reduction="none")[0]
    (g,) = torch.autograd.grad(out, sims)
    torch.testing.assert_close(g, expected)


def test_ms_zero_embedding_and_nan() -> None:
    z = _randn(6, 4, seed=18)
    z[1] = 0.0
    y = torch.tensor([0, 0, 1, 1, 2, 2])
    v, (g,) = _grads(lambda a: multi_similarity_loss(a, y), z)
    assert torch.isfinite(v) and torch.isfinite(g).all()
    assert (g[1] == 0).all()
    z[2, 0] = math.nan
    assert math.isnan(multi_similarity_loss(z, y).item())


def test_ms_gradcheck() -> None:
    z = _randn(5, 3, seed=20).requires_grad_(True)
    y = torch.tensor([0, 1, 0, 1, 7])
    for red in ("mean", "none", "sum"):
        assert torch.autograd.gradcheck(
            lambda a, r=red: multi_similarity_loss(a, y, beta=10.0, reduction=r), (z,)
        )


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), c=st.floats(1e-2, 1e2))
def test_ms_scale_and_permutation(seed: int, c: float) -> None:
    z = _randn(6, 3, seed=seed)
    y = torch.tensor([0, 0, 1, 1, 1, 2])
    base = multi_similarity_loss(z, y, reduction="none")
    torch.testing.assert_close(multi_similarity_loss(c * z, y, reduction="none"), base)
    perm = torch.randperm(6, generator=torch.Generator().manual_seed(seed))
    torch.testing.assert_close(multi_similarity_loss(z[perm], y[perm], reduction="none"), base[perm])
    torch.testing.assert_close(multi_similarity_loss(z, 100 - 3 * y, reduction="none"), base)


def test_ms_weighted_mean() -> None:
    z = _randn(6, 3, seed=23)
    y = torch.tensor([0, 0, 1, 1, 1, 2])
    w = torch.tensor([1.0, 2.0, 0.0, 1.0, 3.0, 1.0], dtype=D64)
    ref = ref_ms(z, y, 2.0, 50.0, 0.5)
    torch.testing.assert_close(multi_similarity_loss(z, y, weight=w), (w * ref).sum() / w.sum())


def test_ms_errors_and_module() -> None:
    z = _randn(4, 3)
    y = torch.tensor([0, 0, 1, 1])
    with pytest.raises(
        LosscraftError,
        match=r"multi_similarity_loss: 'target' must have shape \(4,\) \(one label per embedding\), got \(3,\)",
    ):
        multi_similarity_loss(z, y[:3])
    with pytest.raises(
        LosscraftError,
        match=r"multi_similarity_loss: 'target' must be an integer tensor of labels \(torch.long\), got torch.bool",
    ):
        multi_similarity_loss(z, y.bool())
    with pytest.raises(
        LosscraftError,
        match=r"multi_similarity_loss: 'input' must have shape \(N, D\) \(a batch of N embeddings\), got \(1, 4, 3\)",
    ):
        multi_similarity_loss(z[None], y)
    with pytest.raises(LosscraftError, match=r"multi_similarity_loss: 'alpha' must be .*\(0, inf\), got -1"):
        multi_similarity_loss(z, y, alpha=-1.0)
    with pytest.raises(LosscraftError, match=r"multi_similarity_loss: 'beta' must be .*\(0, inf\), got 0"):
        multi_similarity_loss(z, y, beta=0.0)
    with pytest.raises(LosscraftError, match=r"multi_similarity_loss: 'base' must be .*\[-1, 1\], got 2"):
        multi_similarity_loss(z, y, base=2.0)
    torch.testing.assert_close(
        MultiSimilarityLoss(alpha=1.0, beta=10.0, base=0.3)(z, y),
        multi_similarity_loss(z, y, alpha=1.0, beta=10.0, base=0.3),
    )
