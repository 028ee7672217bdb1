"""Classification losses: parity with torch.nn.functional and independent float64 references.

Convention differences from torch, asserted below:

* ``"mean"`` with a per-element ``weight`` is the weighted mean sum(w l) / sum(w) (torch's
  ``binary_cross_entropy[_with_logits](weight=w)`` divides by the element count).
* ``cross_entropy`` with every target ignored (or an empty batch) gives 0 with zero gradients;
  torch gives NaN.
* ``bce`` at probabilities exactly 0 or 1: same values as torch (log clamped at -100), but the
  probability is clamped with a straight-through gradient (at e^-100 in float64, at the
  smallest probability with a finite reciprocal in lower precision); torch's kernel returns
  about (p - y) * 1e12 there.
* ``bce_with_logits`` label smoothing (torch has none) follows Keras: y' = y (1 - eps) + eps / 2.
* ``focal`` with ``gamma=0`` equals cross-entropy (``alpha`` acting as the class weight); MONAI
  and kornia average over classes as well, so their gamma=0 value is CE / C.

torchvision is not installed: the sigmoid focal reference below is its formula written out.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import losscraft
from losscraft import LosscraftError
from losscraft.losses.classification import (
    BCELoss,
    BCEWithLogitsLoss,
    BinaryFocalLoss,
    CrossEntropyLoss,
    FocalLoss,
    bce_loss,
    bce_with_logits_loss,
    binary_focal_loss,
    cross_entropy_loss,
    focal_loss,
)

D = torch.float64
HALF = [torch.float16, torch.bfloat16]
TIGHT = {"rtol": 1e-12, "atol": 1e-12}


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _run(fn, x, *rest, **kw):
    """Value and d(sum of value)/d input (and any floating second argument), in float64."""
    x = x.detach().clone().requires_grad_(True)
    others = [r.detach().clone().requires_grad_(r.is_floating_point()) for r in rest]
    out = fn(x, *others, **kw)
    out.backward(torch.ones_like(out))
    grads = [x.grad] + [o.grad for o in others if o.is_floating_point()]
    return [out.detach(), *grads]


def _close(a, b, **tol):
    tol = tol or TIGHT
    assert len(a) == len(b)
    for u, v in zip(a, b, strict=True):
        torch.testing.assert_close(u, v, **tol)


# =============================================================================== bce
def _probs(seed: int, shape=(6, 5)):
    g = _gen(seed)
    p = torch.rand(shape, generator=g, dtype=D) * 0.98 + 0.01
    t = torch.rand(shape, generator=g, dtype=D)
    t[0] = (t[0] > 0.5).to(D)  # some hard targets too
    return p, t


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_parity_with_torch(reduction: str) -> None:
    p, t = _probs(0)
    _close(_run(bce_loss, p, t, reduction=reduction), _run(F.binary_cross_entropy, p, t, reduction=reduction))


def test_bce_element_weight_vs_torch() -> None:
    p, t = _probs(1)
    w = torch.rand(p.shape, generator=_gen(2), dtype=D) + 0.1
    for red in ("none", "sum"):
        _close(
            _run(bce_loss, p, t, weight=w, reduction=red),
            _run(F.binary_cross_entropy, p, t, weight=w, reduction=red),
        )
    # DIFFERENCE: our mean is sum(w l) / sum(w); torch divides by the element count.
    ours = bce_loss(p, t, weight=w)
    torch.testing.assert_close(
        ours, F.binary_cross_entropy(p, t, weight=w, reduction="sum") / w.sum(), **TIGHT
    )


def test_bce_reference_formula() -> None:
    p, t = _probs(3, (40,))
    ref = torch.tensor(
        [
            -(ti * math.log(pi) + (1 - ti) * math.log(1 - pi))
            for pi, ti in zip(p.tolist(), t.tolist(), strict=True)
        ],
        dtype=D,
    )
    torch.testing.assert_close(bce_loss(p, t, reduction="none"), ref.to(D), **TIGHT)


def test_bce_at_exact_zero_and_one() -> None:
    p = torch.tensor([0.0, 0.0, 1.0, 1.0, 0.0, 1.0], dtype=D)
    t = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.3, 0.3], dtype=D)
    v, gp, _ = _run(bce_loss, p, t, reduction="none")
    # values: identical to torch (log clamped at -100)
    torch.testing.assert_close(v, F.binary_cross_entropy(p, t, reduction="none"), **TIGHT)
    torch.testing.assert_close(v, torch.tensor([100.0, 0.0, 100.0, 0.0, 30.0, 70.0], dtype=D), **TIGHT)
    # gradient: -y / max(p, e^-100) + (1 - y) / max(1 - p, e^-100), the derivative at the clamp:
    # a saturated log still pulls back (finite, non-zero, the right sign)
    big = math.exp(100.0)
    expected = torch.tensor([-big, 1.0, big, -1.0, -0.3 * big + 0.7, -0.3 + 0.7 * big], dtype=D)
    torch.testing.assert_close(gp, expected, rtol=1e-12, atol=0.0)
    # DIFFERENCE: torch's kernel gives ~ (p - y) * 1e12 at the boundary.
    x = p.clone().requires_grad_(True)
    F.binary_cross_entropy(x, t, reduction="sum").backward()
    assert x.grad.abs().max() > 1e11


@pytest.mark.parametrize("dtype", [torch.float32, *HALF])
def test_bce_boundary_finite_in_low_precision(dtype: torch.dtype) -> None:
    p = torch.tensor([0.0, 1.0, 0.0, 1.0], dtype=dtype, requires_grad=True)
    t = torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=dtype)
    out = bce_loss(p, t, reduction="sum")
    assert out.dtype == torch.float32 and out.item() == pytest.approx(200.0)
    out.backward()
    assert torch.isfinite(p.grad).all()


@pytest.mark.parametrize(
    ("dtype", "floor"),
    [
        (torch.float32, torch.finfo(torch.float32).tiny),
        (torch.bfloat16, torch.finfo(torch.float32).tiny),
        (torch.float16, 1.001 / 65504.0),
    ],
)
def test_bce_saturated_probability_still_pulls_back(dtype: torch.dtype, floor: float) -> None:
    """p = 0 with y = 1 (and p = 1 with y = 0): loss 100, gradient -1/floor (+1/floor), finite.

    1e-40 is subnormal in float32 and bfloat16 (0 in float16): its exact gradient -1e40 overflows.
    """
    p = torch.tensor([0.0, 1.0, 0.25, 1e-40], dtype=dtype, requires_grad=True)
    t = torch.tensor([1.0, 0.0, 1.0, 1.0], dtype=dtype)
    out = bce_loss(p, t, reduction="none")
    tiny = float(p[3].detach())
    assert out[:2].tolist() == [100.0, 100.0]
    assert out[3].item() == pytest.approx(-max(math.log(tiny), -100.0) if tiny > 0 else 100.0, rel=1e-6)
    out.sum().backward()
    expected = torch.tensor([-1.0 / floor, 1.0 / floor, -4.0, -1.0 / floor], dtype=torch.float64)
    assert torch.isfinite(p.grad).all() and p.grad.dtype == dtype
    torch.testing.assert_close(
        p.grad.double(), expected, rtol=1e-2 if dtype != torch.float32 else 1e-6, atol=0
    )
    # one gradient step moves the saturated probabilities back into (0, 1)
    assert p.grad[0] < 0 < p.grad[1]


def test_bce_gradient_exact_down_to_the_floor() -> None:
    """Between e^-100 and the dtype's floor the value is exact and so is the gradient (float64)."""
    p = torch.tensor([1e-40, 1e-20, 1.0 - 1e-15], dtype=D, requires_grad=True)
    t = torch.tensor([1.0, 0.5, 0.0], dtype=D)
    v = bce_loss(p, t, reduction="none")
    pv, tv = p.tolist(), t.tolist()
    ref = [-(ti * math.log(pi) + (1 - ti) * math.log1p(-pi)) for pi, ti in zip(pv, tv, strict=True)]
    torch.testing.assert_close(v.detach(), torch.tensor(ref, dtype=D), rtol=1e-12, atol=0.0)
    v.sum().backward()
    gref = [-ti / pi + (1 - ti) / (1 - pi) for pi, ti in zip(pv, tv, strict=True)]
    torch.testing.assert_close(p.grad, torch.tensor(gref, dtype=D), rtol=1e-12, atol=0.0)


def test_bce_gradcheck() -> None:
    p, t = _probs(4, (3, 4))
    t = t.clamp(0.05, 0.95)  # finite differences of the target stay inside [0, 1]
    w = torch.rand(3, 1, generator=_gen(5), dtype=D)
    assert torch.autograd.gradcheck(
        lambda a, b: bce_loss(a, b, weight=w), (p.requires_grad_(), t.requires_grad_()), eps=1e-7
    )


def test_bce_errors() -> None:
    p = torch.tensor([0.1, 1.5])
    t = torch.tensor([0.0, 1.0])
    msg = r"bce_loss: 'input' must contain probabilities in \[0, 1\], got 1.5 \(observed range \[0.1, 1.5\]\)"
    with pytest.raises(LosscraftError, match=msg):
        bce_loss(p, t)
    with pytest.raises(
        LosscraftError, match=r"bce_loss: 'input' must contain probabilities in \[0, 1\], got nan"
    ):
        bce_loss(torch.tensor([0.1, float("nan")]), t)
    with pytest.raises(LosscraftError, match=r"bce_loss: 'target' must contain targets in \[0, 1\], got -1"):
        bce_loss(torch.tensor([0.1, 0.2]), torch.tensor([-1.0, 1.0]))
    with pytest.raises(
        LosscraftError,
        match=r"bce_loss: 'input' and 'target' must have the same shape, got input \(2,\) and "
        r"target \(1, 2\)",
    ):
        bce_loss(torch.tensor([0.1, 0.2]), t[None])
    with pytest.raises(
        LosscraftError, match=r"bce_loss: 'target' must be a floating-point tensor .* got torch.int64"
    ):
        bce_loss(torch.tensor([0.1, 0.2]), torch.tensor([0, 1]))


# =============================================================================== bce_with_logits
def _logits(seed: int, shape=(6, 5), scale: float = 3.0):
    g = _gen(seed)
    x = torch.randn(shape, generator=g, dtype=D) * scale
    t = torch.rand(shape, generator=g, dtype=D)
    t.view(-1)[::2] = (t.view(-1)[::2] > 0.5).to(D)  # mix of hard and soft targets
    return x, t


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("pw", [None, "per_label", "scalar"])
@pytest.mark.parametrize("shape", [(6, 5), (3, 4, 5)])
def test_bce_with_logits_parity_with_torch(reduction: str, pw: str | None, shape) -> None:
    x, t = _logits(10, shape)
    pos_weight = {
        None: None,
        "per_label": torch.tensor([0.5, 1.0, 2.0, 3.0, 0.0], dtype=D),
        "scalar": torch.tensor([4.0], dtype=D),
    }[pw]
    _close(
        _run(bce_with_logits_loss, x, t, pos_weight=pos_weight, reduction=reduction),
        _run(F.binary_cross_entropy_with_logits, x, t, pos_weight=pos_weight, reduction=reduction),
    )


def test_bce_with_logits_element_weight_vs_torch() -> None:
    x, t = _logits(11)
    w = torch.rand(6, 1, generator=_gen(1), dtype=D)
    for red in ("none", "sum"):
        _close(
            _run(bce_with_logits_loss, x, t, weight=w, reduction=red),
            _run(F.binary_cross_entropy_with_logits, x, t, weight=w, reduction=red),
        )
    # DIFFERENCE: weighted mean (torch divides by the element count).
    s = F.binary_cross_entropy_with_logits(x, t, weight=w, reduction="sum")
    torch.testing.assert_close(bce_with_logits_loss(x, t, weight=w), s / w.expand_as(x).sum(), **TIGHT)


def _bce_logits_ref(x: float, y: float, rho: float = 1.0, eps: float = 0.0) -> float:
    # Written from the formula in float64: log sigmoid(x) = -log1p(exp(-x)) and
    # log(1 - sigmoid(x)) = -log1p(exp(x)) (|x| <= 30 here, so exp cannot overflow).
    ys = y * (1 - eps) + eps / 2
    return rho * ys * math.log1p(math.exp(-x)) + (1 - ys) * math.log1p(math.exp(x))


@given(
    st.lists(st.tuples(st.floats(-30, 30), st.floats(0, 1)), min_size=1, max_size=12),
    st.floats(0, 0.99),
    st.floats(0, 10),
)
def test_bce_with_logits_reference(pairs, eps: float, rho: float) -> None:
    x = torch.tensor([a for a, _ in pairs], dtype=D)
    t = torch.tensor([b for _, b in pairs], dtype=D)
    got = bce_with_logits_loss(
        x, t, pos_weight=torch.tensor([rho], dtype=D), label_smoothing=eps, reduction="none"
    )
    ref = torch.tensor([_bce_logits_ref(a, b, rho, eps) for a, b in pairs], dtype=D)
    torch.testing.assert_close(got, ref, rtol=1e-9, atol=1e-11)


def test_bce_with_logits_label_smoothing_keras_convention() -> None:
    x, t = _logits(12)
    eps = 0.2
    _close(
        _run(bce_with_logits_loss, x, t, label_smoothing=eps, reduction="none")[:2],
        _run(F.binary_cross_entropy_with_logits, x, t * (1 - eps) + eps / 2, reduction="none")[:2],
    )
    # a hard positive becomes 0.9: the loss is minimal at sigmoid(x) = 0.9
    xs = torch.linspace(0, 5, 5001, dtype=D)
    v = bce_with_logits_loss(xs, torch.ones_like(xs), label_smoothing=eps, reduction="none")
    assert torch.sigmoid(xs[v.argmin()]).item() == pytest.approx(0.9, abs=1e-3)


def test_bce_with_logits_gradcheck_options() -> None:
    x, t = _logits(13, (3, 4))
    pw = torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=D)
    w = torch.rand(3, 4, generator=_gen(3), dtype=D)
    t = t.clamp(0.05, 0.95)  # keep finite differences of the target inside [0, 1]

    def f(a, b):
        return bce_with_logits_loss(a, b, pos_weight=pw, label_smoothing=0.1, weight=w)

    assert torch.autograd.gradcheck(f, (x.requires_grad_(), t.requires_grad_()))


@pytest.mark.parametrize("dtype", [torch.float32, *HALF])
def test_bce_with_logits_extreme_logits(dtype: torch.dtype) -> None:
    x = torch.tensor([1e4, -1e4, 1e4, -1e4, 0.0], dtype=dtype, requires_grad=True)
    t = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.5], dtype=dtype)
    v = bce_with_logits_loss(x, t, pos_weight=torch.tensor([2.0]), label_smoothing=0.1, reduction="none")
    assert torch.isfinite(v).all()
    v.sum().backward()
    assert torch.isfinite(x.grad).all()
    # exact asymptotics: -log sigmoid(-1e4) = 1e4 (times the smoothed target weights)
    ref = bce_with_logits_loss(
        x.detach().double(),
        t.double(),
        pos_weight=torch.tensor([2.0], dtype=D),
        label_smoothing=0.1,
        reduction="none",
    )
    torch.testing.assert_close(v.double(), ref, rtol=1e-5, atol=1e-5)


def test_bce_with_logits_errors() -> None:
    x = torch.zeros(2, 3)
    t = torch.zeros(2, 3)
    with pytest.raises(
        LosscraftError,
        match=r"bce_with_logits_loss: 'pos_weight' must have shape \(3,\) .* or \(1,\), got \(2,\)",
    ):
        bce_with_logits_loss(x, t, pos_weight=torch.ones(2))
    with pytest.raises(
        LosscraftError,
        match=r"'pos_weight' must be a 1-D float tensor \(or list\) of finite values >= 0 or None",
    ):
        bce_with_logits_loss(x, t, pos_weight=torch.tensor([1.0, -1.0, 1.0]))
    with pytest.raises(
        LosscraftError, match=r"bce_with_logits_loss: 'label_smoothing' must be a float in \[0, 1\), got 1.0"
    ):
        bce_with_logits_loss(x, t, label_smoothing=1.0)
    with pytest.raises(
        LosscraftError, match=r"bce_with_logits_loss: 'target' must contain targets in \[0, 1\], got 2"
    ):
        bce_with_logits_loss(x, t + 2)
    with pytest.raises(
        LosscraftError,
        match=r"'input' and 'target' must have the same shape, got input \(2, 3\) and target \(3,\)",
    ):
        bce_with_logits_loss(x, t[0])
    with pytest.raises(
        LosscraftError, match=r"bce_with_logits_loss: 'target' must be a floating-point tensor"
    ):
        bce_with_logits_loss(x, t.long())


def test_bce_with_logits_module_buffer() -> None:
    m = BCEWithLogitsLoss(pos_weight=[1.0, 2.0, 3.0], label_smoothing=0.1)
    assert "_hp_pos_weight" in dict(m.named_buffers())
    x, t = _logits(14, (4, 3))
    torch.testing.assert_close(
        m.double()(x, t),
        bce_with_logits_loss(x, t, pos_weight=torch.tensor([1.0, 2.0, 3.0], dtype=D), label_smoothing=0.1),
    )
    assert m.get_config() == {
        "name": "bce_with_logits",
        "pos_weight": [1.0, 2.0, 3.0],
        "label_smoothing": 0.1,
        "reduction": "mean",
    }
    assert losscraft.get("bce_logits").name == "bce_with_logits"


# =============================================================================== cross_entropy
def _ce_case(seed: int, shape, ignore: int | None = None, n_ignore: int = 0):
    g = _gen(seed)
    c = shape[1]
    x = torch.randn(shape, generator=g, dtype=D) * 2
    t = torch.randint(0, c, (shape[0], *shape[2:]), generator=g)
    if ignore is not None and n_ignore:
        t.view(-1)[:n_ignore] = ignore
    return x, t


CE_OPTIONS = list(
    itertools.product(
        [(7, 4), (2, 3, 4, 5)],  # (N, C) and K-dim (N, C, H, W)
        [False, True],  # class weight
        [None, -100, 1],  # ignore_index (none present / -100 present / a real class)
        [0.0, 0.15],  # label smoothing
    )
)


@pytest.mark.parametrize(("shape", "use_w", "ignore", "eps"), CE_OPTIONS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_parity_index_targets(shape, use_w, ignore, eps, reduction) -> None:
    x, t = _ce_case(20, shape, ignore, n_ignore=3)
    w = torch.tensor([0.5, 2.0, 1.0, 3.0][: shape[1]], dtype=D) if use_w else None
    kw = {"weight": w, "label_smoothing": eps, "reduction": reduction}
    if ignore is not None:
        kw["ignore_index"] = ignore
    _close(_run(cross_entropy_loss, x, t, **kw), _run(F.cross_entropy, x, t, **kw))


@pytest.mark.parametrize("shape", [(7, 4), (2, 3, 4, 5)])
@pytest.mark.parametrize("use_w", [False, True])
@pytest.mark.parametrize("eps", [0.0, 0.3])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_parity_probability_targets(shape, use_w, eps, reduction) -> None:
    g = _gen(21)
    x = torch.randn(shape, generator=g, dtype=D) * 2
    q = torch.softmax(torch.randn(shape, generator=g, dtype=D), dim=1)
    w = torch.tensor([0.5, 2.0, 1.0, 3.0][: shape[1]], dtype=D) if use_w else None
    kw = {"weight": w, "label_smoothing": eps, "reduction": reduction}
    # gradient with respect to the soft target too
    _close(_run(cross_entropy_loss, x, q, **kw), _run(F.cross_entropy, x, q, **kw))


def test_cross_entropy_reference_weighted_smoothed_mean() -> None:
    # sum_i [(1-e) w_y (-log p_y) + e/C sum_c w_c (-log p_c)] / sum_i w_y, over kept rows.
    x, t = _ce_case(22, (6, 3))
    t[1] = -100
    w = [0.5, 2.0, 1.5]
    eps = 0.2
    num = den = 0.0
    for i in range(6):
        y = int(t[i])
        if y == -100:
            continue
        z = x[i].tolist()
        lse = math.log(sum(math.exp(v) for v in z))
        nll = [lse - v for v in z]
        num += (1 - eps) * w[y] * nll[y] + eps / 3 * sum(wc * n for wc, n in zip(w, nll, strict=True))
        den += w[y]
    got = cross_entropy_loss(x, t, weight=torch.tensor(w, dtype=D), label_smoothing=eps)
    assert got.item() == pytest.approx(num / den, rel=1e-12)


def test_cross_entropy_all_ignored_and_empty() -> None:
    x = torch.randn(4, 3, 2, dtype=D, requires_grad=True)
    t = torch.full((4, 2), -100)
    for red in ("mean", "sum"):
        for w in (None, torch.tensor([1.0, 2.0, 3.0], dtype=D)):
            for eps in (0.0, 0.1):
                x.grad = None
                out = cross_entropy_loss(x, t, weight=w, label_smoothing=eps, reduction=red)
                assert out.item() == 0.0 and out.requires_grad
                out.backward()
                assert torch.equal(x.grad, torch.zeros_like(x))
    # DIFFERENCE: torch returns nan for the mean over nothing.
    assert torch.isnan(F.cross_entropy(x, t))
    e = torch.zeros(0, 3, dtype=D, requires_grad=True)
    out = cross_entropy_loss(e, torch.zeros(0, dtype=torch.long))
    assert out.item() == 0.0 and out.requires_grad
    assert cross_entropy_loss(e, torch.zeros(0, dtype=torch.long), reduction="none").shape == (0,)


def test_cross_entropy_zero_class_weight_everywhere_is_zero_not_nan() -> None:
    x, t = _ce_case(23, (5, 3))
    out = cross_entropy_loss(x, t, weight=torch.zeros(3, dtype=D))
    assert out.item() == 0.0
    assert torch.isnan(F.cross_entropy(x, t, weight=torch.zeros(3, dtype=D)))


def test_cross_entropy_gradcheck_options() -> None:
    x, t = _ce_case(24, (2, 3, 2, 2), ignore=-1, n_ignore=2)
    w = torch.tensor([1.0, 0.5, 2.0], dtype=D)
    for eps in (0.0, 0.25):
        assert torch.autograd.gradcheck(
            lambda a, eps=eps: cross_entropy_loss(a, t, weight=w, ignore_index=-1, label_smoothing=eps),
            (x.clone().requires_grad_(),),
        )
    q = torch.softmax(torch.randn(3, 4, dtype=D), 1)
    xq = torch.randn(3, 4, dtype=D, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, b: cross_entropy_loss(a, b, label_smoothing=0.1), (xq, q.requires_grad_())
    )


@pytest.mark.parametrize("dtype", [torch.float32, *HALF])
def test_cross_entropy_extreme_logits(dtype: torch.dtype) -> None:
    x = torch.tensor(
        [[1e4, -1e4, 0.0], [1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], dtype=dtype, requires_grad=True
    )
    t = torch.tensor([0, 1, 2])
    v = cross_entropy_loss(x, t, label_smoothing=0.1, weight=torch.tensor([1.0, 2.0, 3.0]), reduction="none")
    assert v.dtype == torch.float32 and torch.isfinite(v).all()
    v.sum().backward()
    assert torch.isfinite(x.grad).all()
    big = x.detach()[0, 0].float().item()  # 1e4 as rounded to dtype
    # -log p = (0, 2 big, big) for row 1: (1 - e) w_1 (2 big) + e / C sum_c w_c (-log p_c)
    assert v[1].item() == pytest.approx(0.9 * 2.0 * 2 * big + 0.1 / 3 * (2.0 * 2 * big + 3.0 * big), rel=1e-6)


@pytest.mark.parametrize("dtype", HALF)
def test_cross_entropy_half_matches_float64(dtype: torch.dtype) -> None:
    x, t = _ce_case(25, (4, 3, 5), ignore=-100, n_ignore=2)
    xh = x.to(dtype)
    kw = {"weight": torch.tensor([1.0, 2.0, 0.5]), "label_smoothing": 0.1}
    got = cross_entropy_loss(xh, t, **kw)
    ref = cross_entropy_loss(xh.double(), t, **kw)
    torch.testing.assert_close(got.double(), ref, rtol=1e-5, atol=1e-6)


def test_cross_entropy_errors() -> None:
    x = torch.zeros(3, 4)
    with pytest.raises(
        LosscraftError,
        match=r"cross_entropy_loss: 'target' contains class index 7, expected values in \[0, 3\] "
        r"or ignore_index=-100",
    ):
        cross_entropy_loss(x, torch.tensor([0, 7, 1]))
    with pytest.raises(
        LosscraftError,
        match=r"'target' contains class index -1, expected values in \[0, 3\] or ignore_index=-100",
    ):
        cross_entropy_loss(x, torch.tensor([0, -1, 1]))
    with pytest.raises(
        LosscraftError,
        match=r"'target' contains class index -100, expected values in \[0, 3\] or ignore_index=-1",
    ):
        cross_entropy_loss(x, torch.tensor([0, -100, 1]), ignore_index=-1)
    with pytest.raises(
        LosscraftError,
        match=r"cross_entropy_loss: 'target' of class indices must have shape \(N, d1, ...\) = "
        r"\(3,\) .*got \(3, 1\)",
    ):
        cross_entropy_loss(x, torch.zeros(3, 1, dtype=torch.long))
    with pytest.raises(
        LosscraftError,
        match=r"a floating 'target' holds class probabilities and must have input's shape "
        r"\(3, 4\), got \(3,\)",
    ):
        cross_entropy_loss(x, torch.zeros(3))
    with pytest.raises(LosscraftError, match=r"'target' must contain probabilities in \[0, 1\], got 2"):
        cross_entropy_loss(x, torch.full((3, 4), 2.0))
    with pytest.raises(
        LosscraftError,
        match=r"'target' must be an integer tensor of class indices \(torch.long\), got torch.bool",
    ):
        cross_entropy_loss(x, torch.zeros(3, dtype=torch.bool))
    with pytest.raises(
        LosscraftError,
        match=r"cross_entropy_loss: 'weight' must have shape \(4,\) \(one value per class\), got \(3,\)",
    ):
        cross_entropy_loss(x, torch.zeros(3, dtype=torch.long), weight=torch.ones(3))
    with pytest.raises(
        LosscraftError,
        match=r"cross_entropy_loss: 'weight' must be a 1-D float tensor \(or list\) of finite values >= 0",
    ):
        cross_entropy_loss(x, torch.zeros(3, dtype=torch.long), weight=torch.tensor([1.0, -1.0, 1.0, 1.0]))
    with pytest.raises(
        LosscraftError, match=r"cross_entropy_loss: 'label_smoothing' must be a float in \[0, 1\], got 1.5"
    ):
        cross_entropy_loss(x, torch.zeros(3, dtype=torch.long), label_smoothing=1.5)
    with pytest.raises(
        LosscraftError, match=r"cross_entropy_loss: 'ignore_index' must be an int in \(-inf, inf\), got 1.5"
    ):
        cross_entropy_loss(x, torch.zeros(3, dtype=torch.long), ignore_index=1.5)
    with pytest.raises(
        LosscraftError,
        match=r"cross_entropy_loss: 'input' must have shape \(N, C\) or \(N, C, d1, ...\) .*got \(4,\)",
    ):
        cross_entropy_loss(torch.zeros(4), torch.tensor(1))
    with pytest.raises(LosscraftError, match=r"cross_entropy_loss: 'input' must be a floating-point tensor"):
        cross_entropy_loss(x.long(), torch.zeros(3, dtype=torch.long))


def test_cross_entropy_module() -> None:
    w = torch.tensor([1.0, 2.0, 0.5, 1.0])
    m = CrossEntropyLoss(weight=w, ignore_index=-1, label_smoothing=0.1)
    assert "_hp_weight" in dict(m.named_buffers())
    x, t = _ce_case(26, (5, 4), ignore=-1, n_ignore=1)
    torch.testing.assert_close(
        m.double()(x, t),
        F.cross_entropy(x, t, weight=w.double(), ignore_index=-1, label_smoothing=0.1),
        **TIGHT,
    )
    with pytest.raises(LosscraftError, match="per-element 'weight' is not accepted at call time"):
        m(x, t, weight=torch.ones(5, dtype=D))
    assert losscraft.get("ce").name == "cross_entropy"
    assert losscraft.build(m.get_config()).get_config() == m.get_config()


# =============================================================================== binary_focal
def _sigmoid_focal_ref(x: torch.Tensor, t: torch.Tensor, gamma: float, alpha: float | None) -> torch.Tensor:
    """torchvision.ops.sigmoid_focal_loss, written out in float64 (reduction='none')."""
    x, t = x.double(), t.double()
    p = torch.sigmoid(x)
    ce = -(t * torch.log(p) + (1 - t) * torch.log(1 - p))
    p_t = p * t + (1 - p) * (1 - t)
    loss = ce * (1 - p_t) ** gamma
    if alpha is not None:
        loss = (alpha * t + (1 - alpha) * (1 - t)) * loss
    return loss


@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 2.0, 5.0])
@pytest.mark.parametrize("alpha", [None, 0.25, 0.8])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_focal_reference(gamma: float, alpha: float | None, reduction: str) -> None:
    x, t = _logits(30, (5, 4), scale=3.0)  # |x| moderate: the naive reference is accurate
    ref = _sigmoid_focal_ref
    red = {"none": lambda v: v, "sum": torch.sum, "mean": torch.mean}[reduction]
    _close(
        _run(binary_focal_loss, x, t, gamma=gamma, alpha=alpha, reduction=reduction),
        _run(lambda a, b: red(ref(a, b, gamma, alpha)), x, t),
        rtol=1e-10,
        atol=1e-12,
    )


@given(
    st.lists(st.tuples(st.floats(-20, 20), st.sampled_from([0.0, 1.0, 0.3, 0.9])), min_size=1, max_size=10),
    st.floats(0, 4),
    st.one_of(st.none(), st.floats(0, 1)),
)
def test_binary_focal_reference_hypothesis(pairs, gamma: float, alpha: float | None) -> None:
    x = torch.tensor([a for a, _ in pairs], dtype=D)
    t = torch.tensor([b for _, b in pairs], dtype=D)
    got = binary_focal_loss(x, t, gamma=gamma, alpha=alpha, reduction="none")
    torch.testing.assert_close(got, _sigmoid_focal_ref(x, t, gamma, alpha), rtol=1e-8, atol=1e-12)


def test_binary_focal_paper_gradient() -> None:
    # Lin et al. (2017), appendix: with y in {+-1}, x_t = y x, p_t = sigmoid(x_t):
    # dFL/dx = y (1 - p_t)^gamma (gamma p_t log p_t + p_t - 1), times alpha_t.
    x = torch.linspace(-8, 8, 41, dtype=D)
    for hard in (0.0, 1.0):
        t = torch.full_like(x, hard)
        for gamma in (0.0, 0.5, 2.0):
            _, g, _ = _run(binary_focal_loss, x, t, gamma=gamma, alpha=0.25, reduction="sum")
            y = 2 * hard - 1
            pt = torch.sigmoid(y * x)
            at = 0.25 if hard else 0.75
            expected = at * y * (1 - pt) ** gamma * (gamma * pt * torch.log(pt) + pt - 1)
            torch.testing.assert_close(g, expected, rtol=1e-10, atol=1e-14)


def test_binary_focal_accurate_in_the_tails() -> None:
    # Far in the easy tail (1 - p_t) underflows naively: sigmoid(40) == 1.0 in float64. The
    # log-space form keeps the value: alpha sigmoid(-x)^gamma softplus(-x).
    x = torch.tensor([40.0, 60.0, 700.0], dtype=D)
    got = binary_focal_loss(x, torch.ones_like(x), gamma=2.0, alpha=0.25, reduction="none")
    ref = 0.25 * torch.sigmoid(-x) ** 2 * F.softplus(-x)
    torch.testing.assert_close(got, ref, rtol=1e-12, atol=0)
    assert got[0] > 0


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_focal_gamma0_equals_bce_with_logits(reduction: str) -> None:
    x, t = _logits(31, (6, 3), scale=10.0)
    w = torch.rand(6, 1, generator=_gen(4), dtype=D)
    for kw in ({}, {"weight": w}):
        a = _run(binary_focal_loss, x, t, gamma=0.0, alpha=None, reduction=reduction, **kw)
        b = _run(bce_with_logits_loss, x, t, reduction=reduction, **kw)
        for u, v in zip(a, b, strict=True):
            assert torch.equal(u, v)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, *HALF])
@pytest.mark.parametrize("gamma", [0.0, 0.3, 0.5, 1.0, 2.0])
def test_binary_focal_extreme_logits_finite(dtype: torch.dtype, gamma: float) -> None:
    x = torch.tensor([1e4, -1e4, 1e4, -1e4, 1e4, -1e4], dtype=dtype, requires_grad=True)
    t = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.5, 0.2], dtype=dtype)
    v = binary_focal_loss(x, t, gamma=gamma, alpha=0.25, reduction="none")
    assert torch.isfinite(v).all()
    v.sum().backward()
    assert torch.isfinite(x.grad).all()
    # the confident correct ones are exactly 0 loss (for gamma > 0) and gradient
    if gamma > 0:
        assert v[0].item() == 0.0 and v[1].item() == 0.0
        assert x.grad[0].item() == 0.0 and x.grad[1].item() == 0.0
    # confidently wrong: loss alpha_t |x| (modulating factor 1); |x| as rounded to dtype
    big = x.detach()[0].float().item()
    assert v[2].item() == pytest.approx(0.75 * big, rel=1e-6)
    assert v[3].item() == pytest.approx(0.25 * big, rel=1e-6)


def test_binary_focal_gradcheck() -> None:
    x, t = _logits(32, (3, 4))
    t = t.clamp(0.05, 0.95)
    for gamma in (0.5, 2.0):
        assert torch.autograd.gradcheck(
            lambda a, b, g=gamma: binary_focal_loss(a, b, gamma=g, alpha=0.3),
            (x.clone().requires_grad_(), t.clone().requires_grad_()),
        )


def test_binary_focal_errors_and_module() -> None:
    x = torch.zeros(4)
    t = torch.zeros(4)
    with pytest.raises(
        LosscraftError, match=r"binary_focal_loss: 'gamma' must be a float in \[0, inf\), got -1.0"
    ):
        binary_focal_loss(x, t, gamma=-1.0)
    with pytest.raises(
        LosscraftError, match=r"binary_focal_loss: 'alpha' must be a float in \[0, 1\] or None, got 1.5"
    ):
        binary_focal_loss(x, t, alpha=1.5)
    with pytest.raises(
        LosscraftError, match=r"binary_focal_loss: 'target' must contain targets in \[0, 1\], got 3"
    ):
        binary_focal_loss(x, t + 3)
    with pytest.raises(
        LosscraftError, match=r"binary_focal_loss: 'input' and 'target' must have the same shape"
    ):
        binary_focal_loss(x, t[:3])
    with pytest.raises(LosscraftError, match=r"'alpha' must be a float in \[0, 1\] or None"):
        BinaryFocalLoss(alpha=-0.1)
    m = BinaryFocalLoss(gamma=1.0, alpha=None, reduction="sum")
    xx, tt = _logits(33)
    torch.testing.assert_close(m(xx, tt), binary_focal_loss(xx, tt, gamma=1.0, alpha=None, reduction="sum"))
    assert losscraft.get("sigmoid_focal").name == "binary_focal"


# =============================================================================== focal (softmax)
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
    _close(
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
    _close(f, _run(F.cross_entropy, x, t, weight=a, ignore_index=ignore, reduction=reduction))


def test_focal_element_weight_with_alpha() -> None:
    x, t = _ce_case(42, (6, 3))
    a = torch.tensor([0.2, 1.0, 3.0], dtype=D)
    w = torch.rand(6, generator=_gen(5), dtype=D) + 0.1
    none = focal_loss(x, t, alpha=a, reduction="none")
    torch.testing.assert_close(focal_loss(x, t, alpha=a, weight=w, reduction="none"), w * none, **TIGHT)
    torch.testing.assert_close(
        focal_loss(x, t, alpha=a, weight=w, reduction="sum"), (w * none).sum(), **TIGHT
    )
    # mean: sum(w alpha_y l) / sum(w alpha_y)
    torch.testing.assert_close(
        focal_loss(x, t, alpha=a, weight=w), (w * none).sum() / (w * a[t]).sum(), **TIGHT
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


def test_bce_module_and_alias() -> None:
    p, t = _probs(50)
    torch.testing.assert_close(BCELoss(reduction="sum")(p, t), bce_loss(p, t, reduction="sum"))
    assert losscraft.get("binary_cross_entropy").name == "bce"


def test_binary_focal_gradients_at_zero_logit_and_hard_targets() -> None:
    # Both branches of the log-space form meet at x = 0: the slopes (input and target) must
    # match the naive reference there and at hard targets.
    x = torch.tensor([0.0, 0.0, 0.0, -0.0, 1e-300, -1e-300, 1.5, -1.5, 4.0, -4.0], dtype=D)
    t = torch.tensor([0.0, 0.3, 1.0, 0.7, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0], dtype=D)
    for gamma in (0.5, 2.0):
        _close(
            _run(binary_focal_loss, x, t, gamma=gamma, alpha=0.25, reduction="none"),
            _run(lambda a, b, g=gamma: _sigmoid_focal_ref(a, b, g, 0.25), x, t),
            rtol=1e-12,
            atol=1e-14,
        )
