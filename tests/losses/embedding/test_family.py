"""Behaviour several embedding losses share.

* The margin heads arcface and cosface: cross-entropy without margin, finite at cosines of
  +-1, gradcheck, errors, Modules, and the usage recipe (normalised embeddings times weights).
  Margin heads take cosines (validated in [-1, 1] up to 0.01), not logits.
* The probe curves of info_nce, supcon, batch_triplet and arcface.
* The losses that normalise embeddings (cosine_embedding, triplet with cosine distance,
  info_nce, supcon, batch_triplet): ``1 - cos`` and every L2 normalisation are scale invariant,
  so a loss on ``s * x`` must equal the loss on ``x`` at any scale the dtype can hold, although
  the squared norms overflow (float32 beyond ~1e19) or underflow (below ~1e-19); an infinite
  entry gives the limit. Expected values are independent float64 computations at unit scale.

Tests of one loss are in ``test_<key>.py``; what every registry entry must do is in
``tests/contract/``.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import losscraft
import losscraft._core.numerics as numerics
from losscraft import LosscraftError
from losscraft.functional import cosine_embedding_loss, cosine_similarity_loss
from losscraft.losses.embedding import (
    ArcFaceLoss,
    CosFaceLoss,
    arcface_loss,
    batch_triplet_loss,
    cosface_loss,
    info_nce_loss,
    pairwise_distances,
    supcon_loss,
    triplet_loss,
)
from losses.embedding.helpers import (
    D64,
    INF,
    _assert_value_and_grad,
    _cos_batch,
    _randn,
    ref_arcface_psi,
    ref_margin_ce,
)


# --------------------------------------------------------------- margin heads: arcface and cosface
def test_margin_heads_without_margin_are_cross_entropy_on_scaled_cosines() -> None:
    cos, y = _cos_batch(seed=33)
    for fn in (arcface_loss, cosface_loss):
        _assert_value_and_grad(
            lambda c, f=fn: f(c, y, scale=20.0, margin=0.0), lambda c: F.cross_entropy(20.0 * c, y), (cos,)
        )


@pytest.mark.parametrize("fn", [arcface_loss, cosface_loss])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16])
def test_margin_heads_finite_at_cosine_plus_minus_one(fn, dtype: torch.dtype) -> None:
    cos = torch.tensor(
        [[1.0, -1.0, 0.0], [-1.0, 1.0, 1.0], [1.0, 1.0, -1.0], [-1.0, -1.0, -1.0]], dtype=dtype
    )
    y = torch.tensor([0, 0, 2, 1])
    x = cos.clone().requires_grad_(True)
    out = fn(x, y, reduction="none")
    assert torch.isfinite(out).all()
    out.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    ref = ref_margin_ce(
        cos.double(),
        y,
        64.0,
        (lambda c: ref_arcface_psi(c, 0.5)) if fn is arcface_loss else (lambda c: c - 0.35),
    )
    torch.testing.assert_close(out.double(), ref, rtol=1e-6, atol=1e-4)


@pytest.mark.parametrize("fn", [arcface_loss, cosface_loss])
def test_margin_heads_gradcheck_ignore_index_and_spatial(fn) -> None:
    cos, y = _cos_batch(n=5, c=4, seed=34)
    y[2] = -1
    x = cos.requires_grad_(True)
    w = torch.tensor([1.0, 2.0, 0.5, 1.0, 3.0], dtype=D64)
    for red in ("mean", "none"):
        assert torch.autograd.gradcheck(
            lambda a, r=red: fn(a, y, ignore_index=-1, weight=w, reduction=r), (x,)
        )
    none = fn(cos, y, ignore_index=-1, reduction="none")
    assert none[2].item() == 0.0
    keep = torch.tensor([True, True, False, True, True])
    torch.testing.assert_close(fn(cos, y, ignore_index=-1), none[keep].mean())
    # (N, C, d) layout: the class dim is dim 1
    spatial = cos.detach()[:4].reshape(2, 2, 4).transpose(1, 2)  # (2, 4, 2)
    ys = torch.tensor([[0, 3], [1, 2]])
    flat = fn(spatial.transpose(1, 2).reshape(4, 4), ys.reshape(4), reduction="none")
    torch.testing.assert_close(fn(spatial, ys, reduction="none"), flat.reshape(2, 2))


@pytest.mark.parametrize("fn", [arcface_loss, cosface_loss])
def test_margin_heads_errors(fn) -> None:
    name = fn.__name__
    cos, y = _cos_batch(n=3, c=4, seed=35)
    with pytest.raises(
        LosscraftError, match=rf"{name}: 'input' must contain cosine similarities in \[-1, 1\] .*got 3"
    ):
        fn(torch.where(torch.eye(3, 4, dtype=torch.bool), torch.full_like(cos, 3.0), cos), y)
    with pytest.raises(LosscraftError, match=rf"{name}: 'input' must contain cosine similarities"):
        fn(torch.full((2, 3), math.nan, dtype=D64), torch.tensor([0, 1]))
    assert torch.isfinite(fn(torch.full_like(cos, 1.005), y))  # rounding slack is accepted
    assert torch.isfinite(fn(torch.full_like(cos, -1.005), y))
    with pytest.raises(
        LosscraftError,
        match=rf"{name}: 'target' contains class index 4, expected values in \[0, 3\] or ignore_index=-100",
    ):
        fn(cos, torch.tensor([0, 4, 1]))
    with pytest.raises(LosscraftError, match=rf"{name}: 'target' must be an integer tensor of class indices"):
        fn(cos, y.double())
    with pytest.raises(LosscraftError, match=rf"{name}: 'target' of class indices must have shape"):
        fn(cos, y[:2])
    with pytest.raises(LosscraftError, match=rf"{name}: 'input' must have shape \(N, C\)"):
        fn(cos[0], y[0])
    with pytest.raises(LosscraftError, match=rf"{name}: 'scale' must be a float in \(0, inf\), got -1.0"):
        fn(cos, y, scale=-1.0)
    with pytest.raises(LosscraftError, match=rf"{name}: 'margin' must be a float in \[0, "):
        fn(cos, y, margin=-0.1)
    if fn is arcface_loss:
        with pytest.raises(
            LosscraftError, match=r"arcface_loss: 'margin' must be a float in \[0, 1.5708\], got 2.0"
        ):
            fn(cos, y, margin=2.0)


def test_margin_heads_modules_and_half_precision() -> None:
    cos, y = _cos_batch(seed=36)
    for module, fn in ((ArcFaceLoss, arcface_loss), (CosFaceLoss, cosface_loss)):
        torch.testing.assert_close(module(scale=30.0, margin=0.2)(cos, y), fn(cos, y, scale=30.0, margin=0.2))
        for dt in (torch.float16, torch.bfloat16):
            half = cos.to(dt)
            out = fn(half, y, reduction="none")
            assert out.dtype == torch.float32
            torch.testing.assert_close(
                out.double(), fn(half.double(), y, reduction="none"), rtol=1e-5, atol=1e-4
            )


def test_head_usage_recipe_normalised_embeddings_times_weights() -> None:
    """The documented way to get cosines: F.normalize(x) @ F.normalize(W).T, fp32 rounding ok."""
    g = torch.Generator().manual_seed(37)
    x = torch.randn(16, 8, generator=g)
    w = torch.cat([x[:3], torch.randn(5, 8, generator=g)])  # classes 0-2 align exactly with rows 0-2
    cos = F.normalize(x) @ F.normalize(w).T
    y = torch.randint(0, 8, (16,), generator=g)
    for fn in (arcface_loss, cosface_loss):
        out = fn(cos, y)
        assert torch.isfinite(out)


# ------------------------------------------------------------------------------------ probe curves
def test_probe_curves_have_their_analytic_shape() -> None:
    x = torch.linspace(-0.99, 0.99, 41, dtype=D64)
    for name in ("info_nce", "supcon"):
        e = losscraft.get(name)
        assert e.spec.curve is not None and e.spec.curve.pointwise
        v = e.spec.curve.values(e.function, x, temperature=0.1)
        torch.testing.assert_close(v, torch.log1p(2 * torch.exp(-x / 0.1)))
    e = losscraft.get("batch_triplet")
    assert e.spec.curve is not None
    t = torch.linspace(-1.0, 1.0, 41, dtype=D64)
    for distance in ("squared", "euclidean", "cosine"):
        for mining, expected in (
            ("all", (0.2 - t).clamp_min(0)),
            ("hard", (0.2 - t).clamp_min(0)),
            ("semihard", torch.where((t > 0) & (t < 0.2), 0.2 - t, torch.zeros_like(t))),
        ):
            v = e.spec.curve.values(e.function, t, mining=mining, distance=distance, margin=0.2)
            torch.testing.assert_close(v, expected, rtol=1e-9, atol=1e-9)


def test_probe_curve_is_pointwise_and_differentiable() -> None:
    e = losscraft.get("info_nce")
    assert e.spec.curve is not None and e.spec.curve.pointwise
    x = torch.tensor([0.3, -0.4], dtype=D64, requires_grad=True)
    (g,) = torch.autograd.grad(e.spec.curve.values(e.function, x).sum(), x)
    e10 = torch.exp(-10 * x.detach())
    torch.testing.assert_close(g, -20 * e10 / (1 + 2 * e10))
    # ordinary curves go through the same helper
    a = losscraft.get("arcface")
    assert a.spec.curve is not None
    v = a.spec.curve.values(a.function, torch.tensor([1.0, -1.0], dtype=D64))
    assert torch.isfinite(v).all() and v[0] < 1e-20


# -------------------------------------------------------- every normalising loss at extreme scales
def _info_nce_ref(z1: torch.Tensor, z2: torch.Tensor, tau: float) -> torch.Tensor:
    """SimCLR's NT-Xent written out: per pair, the mean of both anchors' terms."""
    z = F.normalize(torch.cat([z1, z2]), dim=-1)
    n = z1.shape[0]
    out = []
    for i in range(n):
        terms = []
        for k, pos in ((i, i + n), (i + n, i)):
            sims = [float(z[k] @ z[j]) / tau for j in range(2 * n) if j != k]
            terms.append(-(float(z[k] @ z[pos]) / tau - math.log(sum(math.exp(s) for s in sims))))
        out.append(0.5 * (terms[0] + terms[1]))
    return torch.tensor(out, dtype=D64)


def _supcon_ref(x: torch.Tensor, labels: torch.Tensor, tau: float) -> torch.Tensor:
    """Khosla et al.'s L_out written out."""
    z = F.normalize(x, dim=-1)
    n = x.shape[0]
    out = []
    for i in range(n):
        den = sum(math.exp(float(z[i] @ z[a]) / tau) for a in range(n) if a != i)
        pos = [p for p in range(n) if p != i and labels[p] == labels[i]]
        out.append(-sum(float(z[i] @ z[p]) / tau - math.log(den) for p in pos) / max(len(pos), 1))
    return torch.tensor(out, dtype=D64)


def _batch_triplet_ref(x: torch.Tensor, labels: torch.Tensor, margin: float) -> torch.Tensor:
    """Batch-all triplet loss on squared distances of L2-normalised embeddings (FaceNet)."""
    z = F.normalize(x, dim=-1)
    n = x.shape[0]
    out = []
    for a in range(n):
        hinges = [
            max(0.0, float(((z[a] - z[p]) ** 2).sum() - ((z[a] - z[q]) ** 2).sum()) + margin)
            for p in range(n)
            for q in range(n)
            if p != a and labels[p] == labels[a] and labels[q] != labels[a]
        ]
        out.append(sum(hinges) / max(len(hinges), 1))
    return torch.tensor(out, dtype=D64)


def _cos_dist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return 1 - F.cosine_similarity(a, b, dim=-1)


LABELS = torch.tensor([0, 0, 1, 1, 2, 2])
PAIR_Y = torch.tensor([1.0, -1.0, 1.0, -1.0, -1.0, 1.0])

# (name, loss on float tensors, independent float64 reference at unit scale, number of inputs)
NORMALISERS = [
    (
        "cosine_embedding",
        lambda a, b: cosine_embedding_loss(a, b, PAIR_Y, margin=0.1, reduction="none"),
        lambda a, b: F.cosine_embedding_loss(a, b, PAIR_Y, margin=0.1, reduction="none"),
        2,
    ),
    (
        "triplet_cosine",
        lambda a, p, n: triplet_loss(a, p, n, distance="cosine", margin=0.5, reduction="none"),
        lambda a, p, n: F.triplet_margin_with_distance_loss(
            a, p, n, distance_function=_cos_dist, margin=0.5, reduction="none"
        ),
        3,
    ),
    (
        "info_nce",
        lambda a, b: info_nce_loss(a, b, temperature=0.5, reduction="none"),
        lambda a, b: _info_nce_ref(a, b, 0.5),
        2,
    ),
    (
        "supcon",
        lambda x: supcon_loss(x, LABELS, temperature=0.5, reduction="none"),
        lambda x: _supcon_ref(x, LABELS, 0.5),
        1,
    ),
    (
        "batch_triplet",
        lambda x: batch_triplet_loss(x, LABELS, margin=0.2, reduction="none"),
        lambda x: _batch_triplet_ref(x, LABELS, 0.2),
        1,
    ),
]
NORMALISER_IDS = [n[0] for n in NORMALISERS]


@pytest.mark.parametrize("scale", [2.0**-100, 1e-30, 1e-10, 1e20, 2.0**100], ids=lambda s: f"{s:.0e}")
@pytest.mark.parametrize(("name", "loss", "ref", "k"), NORMALISERS, ids=NORMALISER_IDS)
def test_normalising_losses_are_scale_invariant_in_float32(name, loss, ref, k, scale: float) -> None:
    xs = [_randn(6, 8, seed=20 + i) for i in range(k)]
    # the float32 inputs at the extreme scale; the reference sees the same values at unit scale
    big = [(scale * x).float() for x in xs]
    unit = [b.double() / scale for b in big]
    torch.testing.assert_close(loss(*big).double(), ref(*unit), rtol=1e-5, atol=1e-5)
    # one input at an extreme scale, the others ordinary
    mixed = [big[0], *[x.float() for x in xs[1:]]]
    torch.testing.assert_close(
        loss(*mixed).double(), ref(unit[0], *[x.float().double() for x in xs[1:]]), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize(("name", "loss", "ref", "k"), NORMALISERS, ids=NORMALISER_IDS)
def test_normalising_losses_take_the_limit_of_an_infinite_entry(name, loss, ref, k) -> None:
    xs = [_randn(6, 8, seed=30 + i) for i in range(k)]
    inf_in = [x.clone() for x in xs]
    inf_in[0][1, 3] = -INF
    axis = [x.clone() for x in xs]
    axis[0][1] = 0.0
    axis[0][1, 3] = -1.0  # the limit of the row's direction
    torch.testing.assert_close(loss(*inf_in), ref(*axis))
    inf_in[0][1, 5] = INF  # two infinite entries: no limit
    assert torch.isnan(loss(*inf_in)).any()


@pytest.mark.parametrize("scale", [1.0, 2.0**-600, 2.0**600], ids=lambda s: f"{s:.0e}")
@pytest.mark.parametrize(("name", "loss", "ref", "k"), NORMALISERS, ids=NORMALISER_IDS)
def test_normalising_losses_gradcheck_at_every_scale(name, loss, ref, k, scale: float) -> None:
    xs = [_randn(6, 4, seed=40 + i).requires_grad_(True) for i in range(k)]
    # d/du loss(scale * u): O(1) at every scale, through the scaled path away from scale 1
    assert torch.autograd.gradcheck(lambda *us: loss(*[scale * u for u in us]), xs)


def test_scaled_path_matches_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under torch.compile / vmap (no data-dependent branch) the scaled path always runs."""
    x, y = _randn(6, 5, seed=60), _randn(6, 5, seed=61)
    x[2] = 0.0
    fast = [
        cosine_similarity_loss(x, y, reduction="none"),
        info_nce_loss(x, y, reduction="none"),
        pairwise_distances(x, "euclidean"),
    ]
    monkeypatch.setattr(numerics, "_can_branch", lambda *xs: False)
    scaled = [
        cosine_similarity_loss(x, y, reduction="none"),
        info_nce_loss(x, y, reduction="none"),
        pairwise_distances(x, "euclidean"),
    ]
    for a, b in zip(fast, scaled, strict=True):
        torch.testing.assert_close(a, b)
