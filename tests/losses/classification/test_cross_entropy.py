"""cross_entropy: parity with ``torch.nn.functional.cross_entropy`` and a float64 reference.

Convention difference from torch, asserted below: with every target ignored (or an empty batch)
the loss is 0 with zero gradients; torch gives NaN.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

import losscraft
from losscraft import LosscraftError
from losscraft.losses.classification import CrossEntropyLoss, cross_entropy_loss
from losses.classification.helpers import HALF, TIGHT12, D, _ce_case, _close12, _gen, _run

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
    _close12(_run(cross_entropy_loss, x, t, **kw), _run(F.cross_entropy, x, t, **kw))


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
    _close12(_run(cross_entropy_loss, x, q, **kw), _run(F.cross_entropy, x, q, **kw))


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
        **TIGHT12,
    )
    with pytest.raises(LosscraftError, match="per-element 'weight' is not accepted at call time"):
        m(x, t, weight=torch.ones(5, dtype=D))
    assert losscraft.get("ce").name == "cross_entropy"
    assert losscraft.build(m.get_config()).get_config() == m.get_config()
