"""info_nce (NT-Xent): float64 loop reference and pytorch-metric-learning's formula.

References (none calls library code): an explicit float64 loop written from Chen et al. (2020)
and pytorch-metric-learning's ``NTXentLoss`` written out. PML computes NT-Xent in the input
dtype with ``log(ratio + tiny)``: in float16 at tau = 0.01 each term is capped at
-log(6.1e-5) = 9.7; losscraft computes in float32 and stays within 1% of float32.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import losscraft
from losscraft import LosscraftError
from losscraft.losses.embedding import InfoNCELoss, info_nce_loss, supcon_loss
from losses.embedding.helpers import D64, _assert_value_and_grad, _cos, _grads, _logsumexp, _randn


def _cos_or_zero(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Cosine, defined as 0 when either vector is zero (the documented convention)."""
    if not u.abs().sum() or not v.abs().sum():
        return u.new_zeros(())
    return _cos(u, v)


def ref_nt_xent(z1: torch.Tensor, z2: torch.Tensor, tau: float, cos=_cos) -> torch.Tensor:
    """Per-pair NT-Xent from SimCLR's definition, explicit loops (differentiable)."""
    n = z1.shape[0]
    z = [z1[i] for i in range(n)] + [z2[i] for i in range(n)]
    per_anchor = []
    for k in range(2 * n):
        kp = (k + n) % (2 * n)
        others = [cos(z[k], z[j]) / tau for j in range(2 * n) if j != k]
        per_anchor.append(_logsumexp(others) - cos(z[k], z[kp]) / tau)
    return torch.stack([0.5 * (per_anchor[i] + per_anchor[i + n]) for i in range(n)])


def pml_ntxent(z1: torch.Tensor, z2: torch.Tensor, tau: float) -> torch.Tensor:
    """pytorch-metric-learning's NTXentLoss (MeanReducer), its formula written out.

    Embeddings ``cat([z1, z2])`` with labels ``cat([arange N, arange N])``; every positive
    pair (a, p) gives ``-log(exp(s_ap/t - max) / (exp(s_ap/t - max) + sum_n exp(s_an/t - max))
    + tiny)``, computed in the input dtype (tiny = finfo(dtype).tiny).
    """
    n = z1.shape[0]
    emb = F.normalize(torch.cat([z1, z2]), dim=1)
    labels = torch.cat([torch.arange(n), torch.arange(n)])
    sim = emb @ emb.T
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(2 * n, dtype=torch.bool)
    a_idx, p_idx = torch.where(same & ~eye)
    pos = sim[a_idx, p_idx].unsqueeze(1) / tau
    neg_mask = (~same)[a_idx].to(sim.dtype)
    neg = sim[a_idx] / tau
    neg = neg.masked_fill(neg_mask == 0, torch.finfo(sim.dtype).min)
    max_val = torch.max(pos, neg.max(dim=1, keepdim=True)[0]).detach()
    num = torch.exp(pos - max_val).squeeze(1)
    den = (torch.exp(neg - max_val) * neg_mask).sum(dim=1) + num
    return -torch.log(num / den + torch.finfo(sim.dtype).tiny).mean()


@pytest.mark.parametrize(("n", "tau"), [(1, 0.1), (2, 0.5), (5, 0.1), (7, 0.07), (4, 2.0)])
def test_info_nce_matches_loop_reference(n: int, tau: float) -> None:
    z1, z2 = _randn(n, 6, seed=n), _randn(n, 6, seed=n + 100)
    _assert_value_and_grad(
        lambda a, b: info_nce_loss(a, b, temperature=tau, reduction="none").sum(),
        lambda a, b: ref_nt_xent(a, b, tau).sum(),
        (z1, z2),
    )
    ref = ref_nt_xent(z1, z2, tau)
    torch.testing.assert_close(info_nce_loss(z1, z2, temperature=tau, reduction="none"), ref)
    torch.testing.assert_close(info_nce_loss(z1, z2, temperature=tau), ref.mean())
    torch.testing.assert_close(info_nce_loss(z1, z2, temperature=tau, reduction="sum"), ref.sum())


@pytest.mark.parametrize("tau", [0.05, 0.1, 0.5])
def test_info_nce_equals_pml_formula_in_float64(tau: float) -> None:
    z1, z2 = _randn(6, 8, seed=1), _randn(6, 8, seed=2)
    torch.testing.assert_close(info_nce_loss(z1, z2, temperature=tau), pml_ntxent(z1, z2, tau))


def test_info_nce_one_pair_is_zero_with_finite_gradient() -> None:
    z1, z2 = _randn(1, 4, seed=3), _randn(1, 4, seed=4)
    v, (g1, g2) = _grads(lambda a, b: info_nce_loss(a, b), z1, z2)
    assert v.item() == 0.0
    assert torch.isfinite(g1).all() and torch.isfinite(g2).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_info_nce_half_precision_within_1pct_of_fp32_at_tau_001(dtype: torch.dtype) -> None:
    """Within 1% of float32 at tau = 0.01 in half precision, and the peer bug it guards against."""
    z1 = _randn(64, 32, seed=5).float()
    z2 = (z1.double() + 10.0 * _randn(64, 32, seed=6)).float()  # near-unrelated views (early training)
    fp32 = info_nce_loss(z1, z2, temperature=0.01)
    f64 = info_nce_loss(z1.double(), z2.double(), temperature=0.01)
    torch.testing.assert_close(fp32.double(), f64, rtol=1e-5, atol=0)
    half = info_nce_loss(z1.to(dtype), z2.to(dtype), temperature=0.01)
    assert half.dtype == torch.float32
    assert abs(half.item() - fp32.item()) <= 0.01 * fp32.item()
    # gradients agree too (rounded to the half dtype)
    _, (g32, _) = _grads(lambda a, b: info_nce_loss(a, b, temperature=0.01), z1, z2)
    _, (gh, _) = _grads(lambda a, b: info_nce_loss(a, b, temperature=0.01), z1.to(dtype), z2.to(dtype))
    assert torch.isfinite(gh).all()
    rel = (gh.float() - g32).norm() / g32.norm()
    assert rel < 0.05
    if dtype is torch.float16:
        # PML's formula in float16 caps every term at -log(tiny) = 9.7: it loses ~70% here.
        peer = pml_ntxent(z1.half(), z2.half(), 0.01).float().item()
        assert fp32.item() > 30 and peer <= 9.71 and peer < 0.35 * fp32.item()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_info_nce_half_computation_error_is_float32_error_even_for_tiny_losses(dtype: torch.dtype) -> None:
    """Easy views (loss ~1e-3): rounding the *inputs* to bf16 moves the loss by a few %, but
    the computation on the rounded inputs is float32-accurate."""
    z1 = _randn(64, 32, seed=5)
    z2 = z1 + 0.8 * _randn(64, 32, seed=6)
    h1, h2 = z1.to(dtype), z2.to(dtype)
    out = info_nce_loss(h1, h2, temperature=0.01)
    ref = info_nce_loss(h1.double(), h2.double(), temperature=0.01)
    assert ref.item() < 1e-2
    torch.testing.assert_close(out.double(), ref, rtol=5e-4, atol=0)


def test_info_nce_zero_embedding_has_bounded_gradient() -> None:
    z1, z2 = _randn(4, 5, seed=7), _randn(4, 5, seed=8)
    z1[2] = 0.0
    v, (g1, g2) = _grads(lambda a, b: info_nce_loss(a, b), z1, z2)
    assert torch.isfinite(v)
    assert torch.isfinite(g1).all() and torch.isfinite(g2).all()
    assert (g1[2] == 0).all()
    assert g1.abs().max() < 1e2 and g2.abs().max() < 1e2
    # the zero view has cosine 0 with everything (its own anchor loss is log(2N - 1))
    torch.testing.assert_close(
        info_nce_loss(z1, z2, reduction="none"), ref_nt_xent(z1, z2, 0.1, cos=_cos_or_zero)
    )


def test_info_nce_equals_supcon_with_view_labels() -> None:
    """NT-Xent is SupCon whose only positive is the other view (per anchor)."""
    z1, z2 = _randn(5, 4, seed=9), _randn(5, 4, seed=10)
    labels = torch.cat([torch.arange(5), torch.arange(5)])
    per_anchor = supcon_loss(torch.cat([z1, z2]), labels, temperature=0.3, reduction="none")
    per_pair = info_nce_loss(z1, z2, temperature=0.3, reduction="none")
    torch.testing.assert_close(per_pair, 0.5 * (per_anchor[:5] + per_anchor[5:]))
    torch.testing.assert_close(
        info_nce_loss(z1, z2, temperature=0.3), supcon_loss(torch.cat([z1, z2]), labels, temperature=0.3)
    )


@pytest.mark.parametrize("tau", [0.07, 1.0])
def test_info_nce_gradcheck_and_weight(tau: float) -> None:
    z1, z2 = _randn(3, 4, seed=11), _randn(3, 4, seed=12)
    w = torch.tensor([0.5, 2.0, 1.0], dtype=D64)
    for red in ("mean", "none"):
        assert torch.autograd.gradcheck(
            lambda a, b, r=red: info_nce_loss(a, b, temperature=tau, weight=w, reduction=r),
            (z1.requires_grad_(), z2.requires_grad_()),
        )
    none = info_nce_loss(z1, z2, temperature=tau, reduction="none")
    torch.testing.assert_close(info_nce_loss(z1, z2, temperature=tau, weight=w), (w * none).sum() / w.sum())


@given(seed=st.integers(0, 10_000), c1=st.floats(1e-2, 1e2), c2=st.floats(1e-2, 1e2))
def test_info_nce_scale_and_permutation_invariant(seed: int, c1: float, c2: float) -> None:
    z1, z2 = _randn(5, 3, seed=seed), _randn(5, 3, seed=seed + 1)
    base = info_nce_loss(z1, z2, reduction="none")
    torch.testing.assert_close(info_nce_loss(c1 * z1, c2 * z2, reduction="none"), base)
    perm = torch.randperm(5, generator=torch.Generator().manual_seed(seed))
    torch.testing.assert_close(info_nce_loss(z1[perm], z2[perm], reduction="none"), base[perm])
    # swapping the roles of the views changes nothing
    torch.testing.assert_close(info_nce_loss(z2, z1, reduction="none"), base)


def test_info_nce_errors_and_module() -> None:
    z = _randn(4, 3)
    with pytest.raises(
        LosscraftError,
        match=r"info_nce_loss: 'input1' and 'input2' must have the same shape, got input1 \(4, 3\) and input2 \(3, 3\)",
    ):
        info_nce_loss(z, z[:3])
    with pytest.raises(
        LosscraftError,
        match=r"info_nce_loss: 'input1' must have shape \(N, D\) \(a batch of N embeddings\), got \(2, 4, 3\)",
    ):
        info_nce_loss(torch.zeros(2, 4, 3), torch.zeros(2, 4, 3))
    with pytest.raises(LosscraftError, match="info_nce_loss: 'input2' must be a floating-point tensor"):
        info_nce_loss(z, z.long())
    with pytest.raises(
        LosscraftError, match=r"info_nce_loss: 'temperature' must be a float in \(0, inf\), got 0.0"
    ):
        info_nce_loss(z, z, temperature=0.0)
    with pytest.raises(
        LosscraftError, match=r"InfoNCELoss|'temperature' must be a float in \(0, inf\), got -1"
    ):
        InfoNCELoss(temperature=-1)
    m = InfoNCELoss(temperature=0.2, reduction="sum")
    torch.testing.assert_close(m(z, z.flip(0)), info_nce_loss(z, z.flip(0), temperature=0.2, reduction="sum"))
    assert losscraft.get("nt_xent").name == "info_nce"
