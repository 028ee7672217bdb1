"""supcon: float64 loop reference of SupCon L_out and the official code written out.

References: an explicit float64 loop (Khosla et al. 2020) and the official code
(HobbitLong/SupContrast). The official code multiplies by ``temperature / base_temperature``
(0.07) and averages anchors without positives as 0; losscraft has no such factor and excludes
those anchors.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from losscraft import LosscraftError
from losscraft.losses.embedding import SupConLoss, supcon_loss
from losses.embedding.helpers import D64, _assert_value_and_grad, _cos, _grads, _logsumexp, _randn


def ref_supcon(z: torch.Tensor, labels: torch.Tensor, tau: float) -> tuple[torch.Tensor, list[bool]]:
    """Per-anchor L_out from Khosla et al. (2020), loops; anchors without positives -> 0."""
    n = z.shape[0]
    out, valid = [], []
    for i in range(n):
        positives = [p for p in range(n) if p != i and labels[p] == labels[i]]
        denom = _logsumexp([_cos(z[i], z[a]) / tau for a in range(n) if a != i]) if n > 1 else None
        if not positives:
            out.append(z.new_zeros(()))
            valid.append(False)
            continue
        terms = [_cos(z[i], z[p]) / tau - denom for p in positives]
        out.append(-sum(terms) / len(positives))
        valid.append(True)
    return torch.stack(out), valid


def official_supcon(
    z: torch.Tensor, labels: torch.Tensor, tau: float, base_tau: float = 0.07
) -> torch.Tensor:
    """HobbitLong/SupContrast ``SupConLoss`` (contrast_mode='all', one view), written out."""
    n = z.shape[0]
    f = F.normalize(z, dim=1)
    mask = (labels[:, None] == labels[None, :]).to(z.dtype)
    adc = f @ f.T / tau
    logits = adc - adc.max(dim=1, keepdim=True)[0].detach()
    logits_mask = 1 - torch.eye(n, dtype=z.dtype)
    mask = mask * logits_mask
    exp_logits = torch.exp(logits) * logits_mask
    log_prob = logits - torch.log(exp_logits.sum(1, keepdim=True))
    pos_pairs = mask.sum(1)
    pos_pairs = torch.where(pos_pairs < 1e-6, torch.ones_like(pos_pairs), pos_pairs)
    mean_log_prob_pos = (mask * log_prob).sum(1) / pos_pairs
    return (-(tau / base_tau) * mean_log_prob_pos).mean()


@pytest.mark.parametrize(
    ("labels", "tau"),
    [
        ([0, 0, 1, 1, 2, 2], 0.1),
        ([0, 0, 0, 1, 1, 2], 0.5),  # anchor 5 has no positive
        ([3, -7, 3, 3, -7, 10, 11], 0.07),  # arbitrary integer identities
        ([0, 1], 0.1),  # no positive pair at all
        ([4], 0.1),
    ],
)
def test_supcon_matches_loop_reference(labels: list[int], tau: float) -> None:
    y = torch.tensor(labels)
    z = _randn(len(labels), 5, seed=len(labels))
    ref, valid = ref_supcon(z, y, tau)
    keep = torch.tensor(valid)
    torch.testing.assert_close(supcon_loss(z, y, temperature=tau, reduction="none"), ref)
    expected_mean = ref[keep].mean() if keep.any() else z.new_zeros(())
    torch.testing.assert_close(supcon_loss(z, y, temperature=tau), expected_mean)
    torch.testing.assert_close(supcon_loss(z, y, temperature=tau, reduction="sum"), ref.sum())
    if keep.any():
        _assert_value_and_grad(
            lambda a: supcon_loss(a, y, temperature=tau),
            lambda a: ref_supcon(a, y, tau)[0][keep].mean(),
            (z,),
        )


def test_supcon_vs_official_code() -> None:
    z = _randn(6, 5, seed=13)
    y = torch.tensor([0, 0, 1, 1, 2, 2])
    # every anchor has a positive: the official code differs only by tau / base_tau
    torch.testing.assert_close(supcon_loss(z, y, temperature=0.1), official_supcon(z, y, 0.1) * 0.07 / 0.1)
    # an anchor without positives: official averages it in as 0, losscraft excludes it
    y2 = torch.tensor([0, 0, 1, 1, 2, 3])
    ours = supcon_loss(z, y2, temperature=0.1)
    theirs = official_supcon(z, y2, 0.1) * 0.07 / 0.1
    torch.testing.assert_close(ours, theirs * 6 / 4)


def test_supcon_anchors_without_positives_are_excluded() -> None:
    z = _randn(5, 4, seed=14)
    y = torch.tensor([0, 0, 1, 1, 9])
    none = supcon_loss(z, y, reduction="none")
    assert none[4].item() == 0.0
    torch.testing.assert_close(supcon_loss(z, y), none[:4].mean())
    # and contribute no gradient of their own: moving the lone sample only acts through
    # the other anchors' denominators
    w = torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0], dtype=D64)
    x = z.clone().requires_grad_(True)
    out = supcon_loss(x, y, weight=w)
    out.backward()
    assert out.item() == 0.0 and (x.grad == 0).all()


@pytest.mark.parametrize("labels", [[0, 1, 2, 3], [5], []])
def test_supcon_no_positive_pair_is_zero_attached(labels: list[int]) -> None:
    y = torch.tensor(labels, dtype=torch.long)
    x = _randn(len(labels), 4, seed=15).requires_grad_(True)
    for red in ("mean", "sum"):
        out = supcon_loss(x, y, reduction=red)
        assert out.item() == 0.0 and out.requires_grad
        (g,) = torch.autograd.grad(out, x)
        assert torch.isfinite(g).all() and (g == 0).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_supcon_half_precision_within_1pct_of_fp32_at_tau_001(dtype: torch.dtype) -> None:
    y = torch.arange(64) // 4
    centers = _randn(16, 32, seed=16)
    z = (centers[y] + 0.9 * _randn(64, 32, seed=17)).float()
    fp32 = supcon_loss(z, y, temperature=0.01)
    torch.testing.assert_close(fp32.double(), supcon_loss(z.double(), y, temperature=0.01), rtol=1e-5, atol=0)
    half = supcon_loss(z.to(dtype), y, temperature=0.01)
    assert half.dtype == torch.float32
    assert abs(half.item() - fp32.item()) <= 0.01 * fp32.item()
    x = z.to(dtype).requires_grad_(True)
    supcon_loss(x, y, temperature=0.01).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_supcon_zero_embedding_bounded_gradient() -> None:
    z = _randn(6, 4, seed=18)
    z[1] = 0.0
    y = torch.tensor([0, 0, 1, 1, 2, 2])
    v, (g,) = _grads(lambda a: supcon_loss(a, y), z)
    assert torch.isfinite(v) and torch.isfinite(g).all()
    assert (g[1] == 0).all() and g.abs().max() < 1e2


def test_supcon_multiview_flatten_recipe() -> None:
    """(N, V, D) views: flatten and repeat the labels; every other view of a sample is a positive."""
    views = _randn(3, 2, 4, seed=19)
    labels = torch.tensor([0, 1, 0])
    flat, rep = views.flatten(0, 1), labels.repeat_interleave(2)
    ref, _ = ref_supcon(flat, rep, 0.2)
    torch.testing.assert_close(supcon_loss(flat, rep, temperature=0.2, reduction="none"), ref)


def test_supcon_gradcheck() -> None:
    z = _randn(5, 3, seed=20).requires_grad_(True)
    y = torch.tensor([0, 1, 0, 1, 7])
    for red in ("mean", "none", "sum"):
        assert torch.autograd.gradcheck(
            lambda a, r=red: supcon_loss(a, y, temperature=0.3, reduction=r), (z,)
        )


@given(seed=st.integers(0, 10_000), c=st.floats(1e-2, 1e2))
def test_supcon_scale_and_permutation(seed: int, c: float) -> None:
    z = _randn(6, 3, seed=seed)
    y = torch.tensor([0, 0, 1, 1, 1, 2])
    base = supcon_loss(z, y, reduction="none")
    torch.testing.assert_close(supcon_loss(c * z, y, reduction="none"), base)
    perm = torch.randperm(6, generator=torch.Generator().manual_seed(seed))
    torch.testing.assert_close(supcon_loss(z[perm], y[perm], reduction="none"), base[perm])
    # relabelling the identities changes nothing
    torch.testing.assert_close(supcon_loss(z, 100 - 3 * y, reduction="none"), base)


def test_supcon_errors_and_module() -> None:
    z = _randn(4, 3)
    y = torch.tensor([0, 0, 1, 1])
    with pytest.raises(
        LosscraftError,
        match=r"supcon_loss: 'target' must have shape \(4,\) \(one label per embedding\), got \(3,\)",
    ):
        supcon_loss(z, y[:3])
    with pytest.raises(
        LosscraftError,
        match=r"supcon_loss: 'target' must be an integer tensor of labels \(torch.long\), got torch.float64",
    ):
        supcon_loss(z, y.double())
    with pytest.raises(
        LosscraftError,
        match=r"supcon_loss: 'target' must be an integer tensor of labels \(torch.long\), got torch.bool",
    ):
        supcon_loss(z, y.bool())
    with pytest.raises(
        LosscraftError,
        match=r"supcon_loss: 'input' must have shape \(N, D\) \(a batch of N embeddings\), got \(4,\)",
    ):
        supcon_loss(z[:, 0], y)
    with pytest.raises(LosscraftError, match="supcon_loss: 'target' must be a torch.Tensor, got list"):
        supcon_loss(z, [0, 0, 1, 1])
    with pytest.raises(
        LosscraftError, match=r"supcon_loss: 'temperature' must be a float in \(0, inf\), got nan"
    ):
        supcon_loss(z, y, temperature=math.nan)
    torch.testing.assert_close(SupConLoss(temperature=0.5)(z, y), supcon_loss(z, y, temperature=0.5))
