"""focal (softmax focal loss): an independent float64 reference and relations.

With ``gamma=0`` it equals cross-entropy (``alpha`` acting as the class weight); MONAI and
kornia average over classes as well, so their gamma=0 value is CE / C.

The blocked kernel: ``tests/kernels/test_focal.py``.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

import losscraft
import losscraft.functional as LF
from losscraft import LosscraftError
from losscraft.losses.classification import FocalLoss, cross_entropy_loss, focal_loss
from losses.classification.helpers import HALF, TIGHT12, D, _ce_case, _close12, _gen, _run
from losses.helpers import SINGLE


def _softmax_focal_ref(x, t, gamma, alpha, ignore_index, reduction):
    """-alpha_y (1 - p_y)^gamma log p_y with naive float64 loops over positions."""
    c = x.shape[1]
    xm = x.movedim(1, -1).reshape(-1, c)
    tm = t.reshape(-1)
    vals, dens = [], []
    for row, y in zip(xm, tm.tolist(), strict=True):
        if y == ignore_index:
            vals.append(row.sum() * 0)
            dens.append(0.0)
            continue
        p = torch.exp(row) / torch.exp(row).sum()
        a = 1.0 if alpha is None else float(alpha[y])
        vals.append(-a * (1 - p[y]) ** gamma * torch.log(p[y]))
        dens.append(a)
    v = torch.stack(vals)
    if reduction == "none":
        return v.reshape(t.shape)
    if reduction == "sum":
        return v.sum()
    return v.sum() / sum(dens)


FOCAL_OPTIONS = list(
    itertools.product(
        [(6, 4), (2, 4, 3, 2)],
        [0.0, 0.5, 2.0, 4.0],
        [None, [0.25, 1.0, 2.0, 0.5]],
        [None, -100],
    )
)


@pytest.mark.parametrize(("shape", "gamma", "alpha", "ignore"), FOCAL_OPTIONS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_focal_reference(shape, gamma, alpha, ignore, reduction) -> None:
    x, t = _ce_case(40, shape, ignore, n_ignore=2)
    a = None if alpha is None else torch.tensor(alpha, dtype=D)
    kw = {"gamma": gamma, "alpha": a, "reduction": reduction}
    if ignore is not None:
        kw["ignore_index"] = ignore
    _close12(
        _run(focal_loss, x, t, **kw),
        _run(
            lambda z, y: _softmax_focal_ref(
                z, y, gamma, alpha, -100 if ignore is None else ignore, reduction
            ),
            x,
            t,
        ),
        rtol=1e-10,
        atol=1e-12,
    )


@pytest.mark.parametrize("shape", [(7, 4), (2, 4, 3, 5)])
@pytest.mark.parametrize("use_alpha", [False, True])
@pytest.mark.parametrize("ignore", [-100, 2])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_focal_gamma0_equals_cross_entropy_exactly(shape, use_alpha, ignore, reduction) -> None:
    x, t = _ce_case(41, shape, ignore, n_ignore=3)
    a = torch.tensor([0.5, 2.0, 1.0, 3.0], dtype=D) if use_alpha else None
    f = _run(focal_loss, x, t, gamma=0.0, alpha=a, ignore_index=ignore, reduction=reduction)
    c = _run(cross_entropy_loss, x, t, weight=a, ignore_index=ignore, reduction=reduction)
    for u, v in zip(f, c, strict=True):
        assert torch.equal(u, v)
    # and therefore torch's cross_entropy (weight=alpha) up to rounding
    _close12(f, _run(F.cross_entropy, x, t, weight=a, ignore_index=ignore, reduction=reduction))


def test_focal_element_weight_with_alpha() -> None:
    x, t = _ce_case(42, (6, 3))
    a = torch.tensor([0.2, 1.0, 3.0], dtype=D)
    w = torch.rand(6, generator=_gen(5), dtype=D) + 0.1
    none = focal_loss(x, t, alpha=a, reduction="none")
    torch.testing.assert_close(focal_loss(x, t, alpha=a, weight=w, reduction="none"), w * none, **TIGHT12)
    torch.testing.assert_close(
        focal_loss(x, t, alpha=a, weight=w, reduction="sum"), (w * none).sum(), **TIGHT12
    )
    # mean: sum(w alpha_y l) / sum(w alpha_y)
    torch.testing.assert_close(
        focal_loss(x, t, alpha=a, weight=w), (w * none).sum() / (w * a[t]).sum(), **TIGHT12
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, *HALF])
@pytest.mark.parametrize("gamma", [0.0, 0.2, 0.5, 1.0, 2.0])
def test_focal_finite_at_p_equal_one(dtype: torch.dtype, gamma: float) -> None:
    # row 0: p_y == 1 exactly (log p_y == 0); row 1: p_y ~ 0; row 2: a tie.
    x = torch.tensor([[1e4, -1e4, 0.0], [1e4, -1e4, 0.0], [1e4, 1e4, -1e4]], dtype=dtype, requires_grad=True)
    t = torch.tensor([0, 1, 0])
    v = focal_loss(x, t, gamma=gamma, alpha=torch.tensor([1.0, 2.0, 1.0]), reduction="none")
    assert torch.isfinite(v).all()
    v.sum().backward()
    assert torch.isfinite(x.grad).all()
    assert v[0].item() == 0.0
    big = x.detach()[0, 0].float().item()  # 1e4 as rounded to dtype
    assert v[1].item() == pytest.approx(2 * 2 * big, rel=1e-6)
    assert v[2].item() == pytest.approx(0.5**gamma * math.log(2), rel=1e-4)


def test_focal_all_ignored_and_empty() -> None:
    x = torch.randn(3, 4, 2, dtype=D, requires_grad=True)
    t = torch.full((3, 2), -100)
    for a in (None, torch.ones(4, dtype=D)):
        for red in ("mean", "sum"):
            x.grad = None
            out = focal_loss(x, t, alpha=a, reduction=red)
            assert out.item() == 0.0 and out.requires_grad
            out.backward()
            assert torch.equal(x.grad, torch.zeros_like(x))
    e = torch.zeros(0, 4, dtype=D, requires_grad=True)
    out = focal_loss(e, torch.zeros(0, dtype=torch.long), alpha=torch.ones(4, dtype=D))
    assert out.item() == 0.0 and out.requires_grad


def test_focal_gradcheck_options() -> None:
    x, t = _ce_case(43, (2, 3, 2, 2), ignore=-1, n_ignore=2)
    a = torch.tensor([1.0, 0.5, 2.0], dtype=D)
    for gamma in (0.5, 2.0):
        assert torch.autograd.gradcheck(
            lambda z, g=gamma: focal_loss(z, t, gamma=g, alpha=a, ignore_index=-1),
            (x.clone().requires_grad_(),),
        )


@pytest.mark.parametrize("dtype", HALF)
def test_focal_half_matches_float64(dtype: torch.dtype) -> None:
    x, t = _ce_case(44, (4, 3, 5), ignore=-100, n_ignore=2)
    xh = x.to(dtype)
    kw = {"alpha": torch.tensor([1.0, 2.0, 0.5]), "gamma": 2.0}
    torch.testing.assert_close(
        focal_loss(xh, t, **kw).double(), focal_loss(xh.double(), t, **kw), rtol=1e-5, atol=1e-6
    )


def test_focal_errors_and_module() -> None:
    x = torch.zeros(3, 4)
    t = torch.tensor([0, 1, 2])
    with pytest.raises(
        LosscraftError,
        match=r"focal_loss: 'target' contains class index 4, expected values in \[0, 3\] "
        r"or ignore_index=-100",
    ):
        focal_loss(x, torch.tensor([0, 4, 1]))
    with pytest.raises(
        LosscraftError,
        match=r"focal_loss: 'alpha' must have shape \(4,\) \(one value per class\), got \(2,\)",
    ):
        focal_loss(x, t, alpha=torch.ones(2))
    with pytest.raises(
        LosscraftError,
        match=r"focal_loss: 'alpha' must be a 1-D float tensor \(or list\) of finite values >= 0 or None, "
        r"got a torch.float32 tensor of shape \(2, 2\)",
    ):
        focal_loss(x, t, alpha=torch.ones(2, 2))
    with pytest.raises(LosscraftError, match=r"focal_loss: 'gamma' must be a float in \[0, inf\), got -0.5"):
        focal_loss(x, t, gamma=-0.5)
    with pytest.raises(
        LosscraftError, match=r"focal_loss: 'target' must be an integer tensor of class indices"
    ):
        focal_loss(x, t.float())
    with pytest.raises(
        LosscraftError, match=r"focal_loss: 'target' of class indices must have shape \(N, d1, ...\) = \(3,\)"
    ):
        focal_loss(x, t[:2])
    m = FocalLoss(gamma=1.0, alpha=[1.0, 2.0, 1.0, 0.5], ignore_index=-1)
    xx, tt = _ce_case(45, (5, 4), ignore=-1, n_ignore=1)
    torch.testing.assert_close(
        m.double()(xx, tt),
        focal_loss(xx, tt, gamma=1.0, alpha=torch.tensor([1.0, 2.0, 1.0, 0.5], dtype=D), ignore_index=-1),
    )
    assert losscraft.get("softmax_focal").name == "focal"
    assert losscraft.build(m.get_config()).get_config() == m.get_config()


@pytest.mark.parametrize("shape", [(5, 1), (2, 1, 4, 4)])
def test_softmax_focal_rejects_a_single_class(shape):
    x = torch.randn(shape)
    t = torch.zeros((shape[0], *shape[2:]), dtype=torch.long)
    with pytest.raises(
        LosscraftError, match=rf"focal_loss: {SINGLE}.*binary_focal_loss or bce_with_logits_loss"
    ):
        LF.focal_loss(x, t)
    with pytest.raises(LosscraftError, match=SINGLE):
        losscraft.FocalLoss()(x, t)
