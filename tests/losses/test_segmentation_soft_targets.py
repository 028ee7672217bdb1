"""Overlap losses on soft targets: the semimetric forms of Wang & Blaschko (2023).

The references are written here in float64 from the papers' norm formulas, not from the
library's sums:

* Dice semimetric loss (Wang, Popordanoska, Bertels, Lemmens & Blaschko, MICCAI 2023), with
  our smoothing convention: ``1 - (|x| + |y| - |x - y| + s) / (|x| + |y| + s)``;
* Jaccard metric loss (Wang, Ning & Blaschko, NeurIPS 2023):
  ``1 - (|x| + |y| - |x - y| + 2s) / (|x| + |y| + |x - y| + 2s)`` (our ``(I + s)/(U + s)``);
* Tversky: ``TP = (|x| + |y| - |x - y|) / 2``, ``FP = |(x - y)_+|``, ``FN = |(y - x)_+|``
  (``|.|`` the L1 norm over an image's positions, ``x`` the probabilities, ``y`` the target).

On hard {0, 1} targets they equal the product-intersection soft losses; the old product form
is written here too, to show that it is not minimised at a soft target.
"""

from __future__ import annotations

import pytest
import torch

import losscraft.functional as LF
from losscraft._core.kernels import lean_kernels

D = torch.float64
KINDS = ("dice", "jaccard", "tversky", "focal_tversky", "generalized_dice")
FNS = {k: getattr(LF, f"{k}_loss") for k in KINDS}
# Non-default hyperparameters, so that alpha != beta and gamma != 1 are exercised.
KW = {
    "dice": {"smooth": 0.7},
    "jaccard": {"smooth": 0.7},
    "tversky": {"alpha": 0.2, "beta": 0.9, "smooth": 0.7},
    "focal_tversky": {"alpha": 0.6, "beta": 0.3, "gamma": 1.5, "smooth": 0.7},
    "generalized_dice": {"smooth": 1e-3},
}


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def soft_case(mode: str, seed: int = 0, n: int = 3, c: int = 3, spatial=(4, 5)):
    """Random logits and random soft targets in [0.02, 0.98] for ``mode``."""
    ch = 1 if mode == "binary" else c
    g = _gen(seed)
    x = torch.randn((n, ch, *spatial), generator=g, dtype=D) * 2
    y = torch.rand((n, ch, *spatial), generator=g, dtype=D) * 0.96 + 0.02
    return x, y


def norms(x: torch.Tensor, y: torch.Tensor, aggregate: str):
    """L1 norms per (sample, class) (or per class over the batch) of x, y, x - y, (x-y)_+, (y-x)_+."""
    dims = (0, *range(2, x.dim())) if aggregate == "batch" else tuple(range(2, x.dim()))
    return (
        x.abs().sum(dims),
        y.abs().sum(dims),
        (x - y).abs().sum(dims),
        (x - y).clamp_min(0).sum(dims),
        (y - x).clamp_min(0).sum(dims),
    )


def reference(
    kind: str, logits: torch.Tensor, y: torch.Tensor, aggregate: str = "sample", **kw
) -> torch.Tensor:
    """The papers' formulas in float64, unreduced; ``logits`` (N, C, *) go through a sigmoid."""
    x = torch.sigmoid(logits.double())
    y = y.double()
    nx, ny, nd, over, under = norms(x, y, aggregate)
    s = kw.get("smooth", 1.0)
    if kind == "dice":
        return 1 - (nx + ny - nd + s) / (nx + ny + s)
    if kind == "jaccard":
        return 1 - (nx + ny - nd + 2 * s) / (nx + ny + nd + 2 * s)
    if kind in ("tversky", "focal_tversky"):
        tp = (nx + ny - nd) / 2
        ti = (tp + s) / (tp + kw["alpha"] * over + kw["beta"] * under + s)
        return (1 - ti) ** (1 / kw.get("gamma", 1.0))
    # generalized Dice, 1/V^2 weights (every class is present in a random soft target)
    w = 1 / ny**2
    return 1 - ((w * (nx + ny - nd)).sum(-1) + s) / ((w * (nx + ny)).sum(-1) + s)


def product_form_dice(logits: torch.Tensor, y: torch.Tensor, smooth: float) -> torch.Tensor:
    """The usual soft Dice with the product intersection, per (sample, class)."""
    p = torch.sigmoid(logits.double())
    dims = tuple(range(2, p.dim()))
    return 1 - (2 * (p * y).sum(dims) + smooth) / (p.sum(dims) + y.sum(dims) + smooth)


def _call(kind, x, y, mode, aggregate="sample", reduction="none", **extra):
    kw = {**KW[kind], **extra}
    return FNS[kind](x, y, mode=mode, aggregate=aggregate, reduction=reduction, **kw)


def _as_nc(x: torch.Tensor, mode: str) -> torch.Tensor:
    """(N, C, P): binary has one channel; multilabel's spatial dims flattened."""
    return x.reshape(x.shape[0], 1 if mode == "binary" else x.shape[1], -1)


# --------------------------------------------------------------------------- reference
@pytest.mark.parametrize("lean", [True, False])
@pytest.mark.parametrize("aggregate", ["sample", "batch"])
@pytest.mark.parametrize("mode", ["binary", "multilabel"])
@pytest.mark.parametrize("kind", KINDS)
def test_matches_semimetric_reference_on_soft_targets(kind, mode, aggregate, lean):
    x, y = soft_case(mode, seed=1)
    with lean_kernels(lean):
        got = _call(kind, x, y, mode, aggregate)
    exp = reference(kind, _as_nc(x, mode), _as_nc(y, mode), aggregate, **KW[kind])
    if kind == "generalized_dice" and aggregate == "batch":
        exp = exp.reshape(1)
    torch.testing.assert_close(got, exp, rtol=1e-10, atol=1e-13)


# --------------------------------------------------------------------------- minimum at the target
@pytest.mark.parametrize("lean", [True, False])
@pytest.mark.parametrize("smooth", [0.0, 1.0])
@pytest.mark.parametrize("mode", ["binary", "multilabel"])
@pytest.mark.parametrize("kind", KINDS)
def test_zero_exactly_at_the_soft_target(kind, mode, smooth, lean):
    _, y = soft_case(mode, seed=2)
    at = torch.logit(y)  # sigmoid(at) == y up to float64 rounding
    with lean_kernels(lean):
        loss = _call(kind, at, y, mode, smooth=smooth)
        # focal Tversky is the Tversky loss to the power 1/gamma: compare the Tversky part
        assert (loss.abs() ** KW[kind].get("gamma", 1.0)).max() < 1e-12
        # any other prediction costs more, on every entry
        x, _ = soft_case(mode, seed=3)
        other = _call(kind, x, y, mode, smooth=smooth)
        assert (other > 1e-3).all()
        # and a small move away from the target (here: every logit up by 0.3) too
        assert (_call(kind, at + 0.3, y, mode, smooth=smooth) > 1e-4).all()


def test_product_form_is_not_minimised_at_a_soft_target():
    # The failure that motivated the change: the product intersection gives ~0.35 at x == y.
    _, y = soft_case("multilabel", seed=2)
    at = torch.logit(y)
    old = product_form_dice(at, y, smooth=1.0)
    assert (old > 0.2).all()
    new = LF.dice_loss(at, y, mode="multilabel", reduction="none")
    assert new.abs().max() < 1e-12
    # the product form can even prefer a wrong, more confident prediction
    assert (product_form_dice(at + 2.0, y, smooth=1.0) < old).all()


# --------------------------------------------------------------------------- hard targets
@pytest.mark.parametrize("lean", [True, False])
@pytest.mark.parametrize("mode", ["binary", "multilabel"])
@pytest.mark.parametrize("kind", ["dice", "jaccard", "tversky"])
def test_hard_targets_equal_the_product_form(kind, mode, lean):
    x, y = soft_case(mode, seed=4)
    y = (y > 0.5).to(D)
    p = torch.sigmoid(_as_nc(x, mode))
    g = _as_nc(y, mode)
    dims = (2,)
    i, ps, gs = (p * g).sum(dims), p.sum(dims), g.sum(dims)
    s = KW[kind]["smooth"]
    if kind == "dice":
        exp = 1 - (2 * i + s) / (ps + gs + s)
    elif kind == "jaccard":
        exp = 1 - (i + s) / (ps + gs - i + s)
    else:
        fp, fn = (p * (1 - g)).sum(dims), ((1 - p) * g).sum(dims)
        exp = 1 - (i + s) / (i + KW[kind]["alpha"] * fp + KW[kind]["beta"] * fn + s)
    xa = x.clone().requires_grad_(True)
    xb = _as_nc(x, mode).clone().requires_grad_(True)
    with lean_kernels(lean):
        got = _call(kind, xa, y, mode)
    torch.testing.assert_close(got, exp, rtol=1e-12, atol=1e-14)
    # the same gradient with respect to the logits as the product form
    p = torch.sigmoid(xb)
    i, ps = (p * g).sum(dims), p.sum(dims)
    if kind == "dice":
        ref = 1 - (2 * i + s) / (ps + gs + s)
    elif kind == "jaccard":
        ref = 1 - (i + s) / (ps + gs - i + s)
    else:
        fp, fn = (p * (1 - g)).sum(dims), ((1 - p) * g).sum(dims)
        ref = 1 - (i + s) / (i + KW[kind]["alpha"] * fp + KW[kind]["beta"] * fn + s)
    (ga,) = torch.autograd.grad(got.sum(), xa)
    (gb,) = torch.autograd.grad(ref.sum(), xb)
    torch.testing.assert_close(ga.reshape(gb.shape), gb, rtol=1e-10, atol=1e-14)


# --------------------------------------------------------------------------- relations on soft targets
@pytest.mark.parametrize("mode", ["binary", "multilabel"])
def test_tversky_relations_hold_on_soft_targets(mode):
    x, y = soft_case(mode, seed=5)
    tv = LF.tversky_loss(x, y, mode=mode, alpha=0.5, beta=0.5, smooth=0.4, reduction="none")
    torch.testing.assert_close(tv, LF.dice_loss(x, y, mode=mode, smooth=0.8, reduction="none"))
    tv = LF.tversky_loss(x, y, mode=mode, alpha=1.0, beta=1.0, smooth=0.4, reduction="none")
    torch.testing.assert_close(tv, LF.jaccard_loss(x, y, mode=mode, smooth=0.4, reduction="none"))


# --------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("lean", [True, False])
@pytest.mark.parametrize("kind", KINDS)
def test_gradcheck_soft_targets_away_from_kinks(kind, lean):
    # |p - y| >= ~0.05 everywhere: the finite differences never cross the kink of |p - y|.
    _, y = soft_case("multilabel", seed=6, n=2, c=2, spatial=(3,))
    sign = torch.where(torch.rand(y.shape, generator=_gen(7), dtype=D) < 0.5, -1.0, 1.0)
    x = torch.logit(y) + sign * (0.5 + torch.rand(y.shape, generator=_gen(8), dtype=D))
    assert ((torch.sigmoid(x) - y).abs() > 1e-3).all()

    def f(a, b):
        return _call(kind, a, b, "multilabel")

    # generalized Dice treats its class weights (from the target volumes) as constants, so its
    # target gradient is not the full derivative: check it with respect to the logits only.
    target_grad = kind != "generalized_dice"
    with lean_kernels(lean):
        assert torch.autograd.gradcheck(
            f, (x.clone().requires_grad_(True), y.clone().requires_grad_(target_grad))
        )
