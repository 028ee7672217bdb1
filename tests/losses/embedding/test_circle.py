"""circle: pytorch-metric-learning's CircleLoss and a float64 loop of the paper's pair-wise form.

References: pml 2.9 ``CircleLoss`` (imported directly; its per-anchor losses through
``DoNothingReducer``) and an explicit float64 loop over the positive and negative pairs of
Sun et al. (2020), eq. 4 with the self-paced weights of eq. 5-6 held constant.
"""

from __future__ import annotations

import math

import pytest
import pytorch_metric_learning.losses as pml_losses
import pytorch_metric_learning.reducers as pml_reducers
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from losscraft import LosscraftError
from losscraft.losses.embedding import CircleLoss, circle_loss
from losses.embedding.helpers import D64, _assert_value_and_grad, _cos, _grads, _logsumexp, _randn


def ref_circle(
    z: torch.Tensor, labels: torch.Tensor, m: float, gamma: float
) -> tuple[torch.Tensor, list[bool]]:
    """Per-anchor circle loss, loops; anchors without a positive or a negative -> 0."""
    n = z.shape[0]
    out, valid = [], []
    for i in range(n):
        ps = [p for p in range(n) if p != i and labels[p] == labels[i]]
        ns = [k for k in range(n) if labels[k] != labels[i]]
        if not ps or not ns:
            out.append(z.new_zeros(()))
            valid.append(False)
            continue
        pos_terms, neg_terms = [], []
        for p in ps:
            s = _cos(z[i], z[p])
            a = max(0.0, 1.0 + m - float(s.detach()))  # a constant: no gradient through the weight
            pos_terms.append(-gamma * a * (s - (1.0 - m)))
        for k in ns:
            s = _cos(z[i], z[k])
            a = max(0.0, float(s.detach()) + m)
            neg_terms.append(gamma * a * (s - m))
        t = _logsumexp(neg_terms) + _logsumexp(pos_terms)
        # log(1 + e^t), written for either sign of t
        out.append(torch.clamp(t, min=0) + torch.log1p(torch.exp(-torch.abs(t))))
        valid.append(True)
    return torch.stack(out), valid


def _pml(m: float, gamma: float, reducer: object | None = None) -> pml_losses.CircleLoss:
    kw = {} if reducer is None else {"reducer": reducer}
    return pml_losses.CircleLoss(m=m, gamma=gamma, **kw)


LABELS = [
    [0, 0, 1, 1, 2, 2],
    [0, 0, 0, 1, 1, 2],  # anchor 5 has no positive
    [3, -7, 3, 3, -7, 10, 11],  # arbitrary integer identities
    [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3],
]


@pytest.mark.parametrize("labels", LABELS)
@pytest.mark.parametrize(("m", "gamma"), [(0.4, 80.0), (0.25, 256.0), (0.25, 128.0), (0.1, 4.0)])
def test_circle_matches_pml_values_and_gradients(labels: list[int], m: float, gamma: float) -> None:
    y = torch.tensor(labels)
    z = _randn(len(labels), 5, seed=len(labels) + int(gamma))
    _assert_value_and_grad(
        lambda a: circle_loss(a, y, margin=m, scale=gamma),
        lambda a: _pml(m, gamma)(a, y),
        (z,),
        rtol=1e-9,
        atol=1e-12,
    )
    # per anchor: pml's losses before its reducer (0 for the anchors it excludes)
    theirs = _pml(m, gamma, pml_reducers.DoNothingReducer())(z, y)["loss"]["losses"].reshape(-1)
    torch.testing.assert_close(
        circle_loss(z, y, margin=m, scale=gamma, reduction="none"), theirs, rtol=1e-9, atol=0
    )


def test_circle_pml_defaults() -> None:
    assert (CircleLoss().margin, CircleLoss().scale) == (_pml(0.4, 80).m, _pml(0.4, 80).gamma)
    default = pml_losses.CircleLoss()
    assert (default.m, default.gamma) == (0.4, 80)
    z = _randn(8, 4, seed=3)
    y = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    torch.testing.assert_close(circle_loss(z, y), default(z, y), rtol=1e-9, atol=0)


@pytest.mark.parametrize("labels", [*LABELS, [0, 1], [4], [2, 2, 2]])
def test_circle_matches_loop_reference(labels: list[int]) -> None:
    y = torch.tensor(labels)
    z = _randn(len(labels), 5, seed=7 + len(labels))
    ref, valid = ref_circle(z, y, 0.25, 32.0)
    keep = torch.tensor(valid)
    torch.testing.assert_close(circle_loss(z, y, margin=0.25, scale=32.0, reduction="none"), ref)
    expected = ref[keep].mean() if keep.any() else z.new_zeros(())
    torch.testing.assert_close(circle_loss(z, y, margin=0.25, scale=32.0), expected)
    torch.testing.assert_close(circle_loss(z, y, margin=0.25, scale=32.0, reduction="sum"), ref.sum())
    if keep.any():
        _assert_value_and_grad(
            lambda a: circle_loss(a, y, margin=0.25, scale=32.0),
            lambda a: ref_circle(a, y, 0.25, 32.0)[0][keep].mean(),
            (z,),
        )


def test_circle_gradient_formula_on_similarities() -> None:
    """d l / d s_ip = -sigma w_ip gamma a_ip and d l / d s_in = sigma w_in gamma a_in (weights constant)."""
    m, gamma = 0.25, 8.0
    # unit vectors: the input's Jacobian is the identity on the similarities' directions
    s_p = torch.tensor([0.3, 0.8], dtype=D64)
    s_n = torch.tensor([0.1, -0.5, 0.6], dtype=D64)
    a_p, a_n = (1 + m - s_p).clamp_min(0), (s_n + m).clamp_min(0)
    lp, ln = -gamma * a_p * (s_p - (1 - m)), gamma * a_n * (s_n - m)
    t = torch.logsumexp(lp, 0) + torch.logsumexp(ln, 0)
    sig = torch.sigmoid(t)
    expected_p = -sig * torch.softmax(lp, 0) * gamma * a_p
    expected_n = sig * torch.softmax(ln, 0) * gamma * a_n
    # anchor e0 and unit vectors c_k e0 + sqrt(1 - c_k^2) e_k: the anchor's cosines are exactly c_k
    sims = torch.cat([s_p, s_n]).requires_grad_(True)
    eye = torch.eye(sims.numel() + 1, dtype=D64)
    rows = [eye[0]] + [c * eye[0] + torch.sqrt(1 - c * c) * eye[k + 1] for k, c in enumerate(sims.unbind(0))]
    z = torch.stack(rows)
    y = torch.tensor([0, 0, 0, 1, 2, 3])
    out = circle_loss(z, y, margin=m, scale=gamma, reduction="none")[0]
    (g,) = torch.autograd.grad(out, sims)
    torch.testing.assert_close(g, torch.cat([expected_p, expected_n]))


def test_circle_excluded_anchors_and_empty_batches() -> None:
    z = _randn(5, 4, seed=14)
    y = torch.tensor([0, 0, 1, 1, 9])
    none = circle_loss(z, y, reduction="none")
    assert none[4].item() == 0.0
    torch.testing.assert_close(circle_loss(z, y), none[:4].mean())
    w = torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0], dtype=D64)
    x = z.clone().requires_grad_(True)
    out = circle_loss(x, y, weight=w)
    out.backward()
    assert out.item() == 0.0 and x.grad is not None and (x.grad == 0).all()
    for labels in ([0, 1, 2, 3], [5], [], [1, 1, 1]):
        t = torch.tensor(labels, dtype=torch.long)
        a = _randn(len(labels), 4, seed=15).requires_grad_(True)
        for red in ("mean", "sum"):
            v = circle_loss(a, t, reduction=red)
            assert v.item() == 0.0 and v.requires_grad
            (g,) = torch.autograd.grad(v, a)
            assert torch.isfinite(g).all() and (g == 0).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_circle_half_precision_at_scale_256(dtype: torch.dtype) -> None:
    y = torch.arange(64) // 4
    centers = _randn(16, 32, seed=16)
    z = (centers[y] + 0.9 * _randn(64, 32, seed=17)).float()
    fp32 = circle_loss(z, y, margin=0.25, scale=256.0)
    torch.testing.assert_close(
        fp32.double(), circle_loss(z.double(), y, margin=0.25, scale=256.0), rtol=1e-5, atol=0
    )
    half = circle_loss(z.to(dtype), y, margin=0.25, scale=256.0)
    assert half.dtype == torch.float32
    assert abs(half.item() - fp32.item()) <= 0.02 * fp32.item()
    x = z.to(dtype).requires_grad_(True)
    circle_loss(x, y, margin=0.25, scale=256.0).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("scale", [1e-4, 1e4])
def test_circle_extreme_inputs_are_finite(scale: float) -> None:
    z = _randn(6, 4, seed=21, scale=scale)
    y = torch.tensor([0, 0, 1, 1, 2, 2])
    v, (g,) = _grads(lambda a: circle_loss(a, y, margin=0.25, scale=256.0), z)
    assert torch.isfinite(v) and torch.isfinite(g).all()
    torch.testing.assert_close(v, circle_loss(z / scale, y, margin=0.25, scale=256.0))
    # well separated classes: a tiny loss, not an underflow to NaN
    sep = torch.tensor([[1.0, 0.0], [1.0, 1e-3], [-1.0, 0.0], [-1.0, 1e-3]], dtype=D64) * 1e4
    out = circle_loss(sep, torch.tensor([0, 0, 1, 1]), margin=0.25, scale=256.0, reduction="none")
    assert torch.isfinite(out).all() and (out >= 0).all() and (out < 1e-6).all()


def test_circle_zero_embedding_bounded_gradient() -> None:
    z = _randn(6, 4, seed=18)
    z[1] = 0.0
    y = torch.tensor([0, 0, 1, 1, 2, 2])
    v, (g,) = _grads(lambda a: circle_loss(a, y), z)
    assert torch.isfinite(v) and torch.isfinite(g).all()
    assert (g[1] == 0).all()


def test_circle_nan_propagates() -> None:
    z = _randn(4, 3, seed=19)
    z[2, 1] = math.nan
    assert math.isnan(circle_loss(z, torch.tensor([0, 0, 1, 1])).item())


def test_circle_gradient_is_the_papers_not_the_values_derivative() -> None:
    """The weights a_p, a_n are constants in the backward (the paper, pml): a surrogate gradient.

    It equals the derivative of the value with the weights frozen at their current values
    (the loop reference, above), not the derivative of the value itself, so finite
    differences of the value disagree with it.
    """
    z = _randn(5, 3, seed=20).requires_grad_(True)
    y = torch.tensor([0, 1, 0, 1, 7])
    ok = torch.autograd.gradcheck(
        lambda a: circle_loss(a, y, margin=0.3, scale=5.0), (z,), raise_exception=False
    )
    assert not ok


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), c=st.floats(1e-2, 1e2))
def test_circle_scale_and_permutation(seed: int, c: float) -> None:
    z = _randn(6, 3, seed=seed)
    y = torch.tensor([0, 0, 1, 1, 1, 2])
    base = circle_loss(z, y, reduction="none")
    torch.testing.assert_close(circle_loss(c * z, y, reduction="none"), base)
    perm = torch.randperm(6, generator=torch.Generator().manual_seed(seed))
    torch.testing.assert_close(circle_loss(z[perm], y[perm], reduction="none"), base[perm])
    torch.testing.assert_close(circle_loss(z, 100 - 3 * y, reduction="none"), base)


def test_circle_errors_and_module() -> None:
    z = _randn(4, 3)
    y = torch.tensor([0, 0, 1, 1])
    with pytest.raises(
        LosscraftError,
        match=r"circle_loss: 'target' must have shape \(4,\) \(one label per embedding\), got \(3,\)",
    ):
        circle_loss(z, y[:3])
    with pytest.raises(
        LosscraftError,
        match=r"circle_loss: 'target' must be an integer tensor of labels \(torch.long\), got torch.float64",
    ):
        circle_loss(z, y.double())
    with pytest.raises(
        LosscraftError,
        match=r"circle_loss: 'input' must have shape \(N, D\) \(a batch of N embeddings\), got \(4,\)",
    ):
        circle_loss(z[:, 0], y)
    with pytest.raises(LosscraftError, match=r"circle_loss: 'margin' must be .*\[0, 1\], got 1.5"):
        circle_loss(z, y, margin=1.5)
    with pytest.raises(LosscraftError, match=r"circle_loss: 'scale' must be .*\(0, inf\), got 0"):
        circle_loss(z, y, scale=0.0)
    torch.testing.assert_close(
        CircleLoss(margin=0.25, scale=256.0)(z, y), circle_loss(z, y, margin=0.25, scale=256.0)
    )
