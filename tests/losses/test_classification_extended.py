"""Extended classification losses (issue 3): independent float64 references, torch parity, relations.

Every reference below is written from the paper's formula in plain float64 (Python ``math`` loops
or naive torch expressions: softmax then log, ``p ** q``, ...), never through losscraft's code path.

Convention differences, asserted below:

* ``logit_adjusted`` / ``balanced_softmax`` / ``ldam`` with every target ignored (or an empty batch)
  give 0 with zero gradients; ``F.cross_entropy`` on the adjusted logits gives NaN.
* ``logit_adjusted``'s ``priors`` and ``balanced_softmax``'s ``class_counts`` need not be
  normalised: the softmax cancels their scale (counts == priors).
* ``sce``: the paper's A = log 0 := -4 is the default; the official code clips the one-hot label
  at 1e-4, i.e. A = log(1e-4) (matched below with ``log_zero=log(1e-4)``).
* ``asl``: "mean" averages over elements (official code: sum); the official code detaches the
  focusing weights by default (``disable_torch_grad_focal_loss=True``), we differentiate them
  (its gradient with ``disable_torch_grad_focal_loss=False`` is ours, asserted below); soft targets
  enter linearly (official: one mixed focusing weight; identical for hard targets).
* ``ldam`` equals the official ``LDAMLoss`` (``F.cross_entropy(s * where(onehot, x - m_y, x),
  weight)``) and additionally supports ``ignore_index`` and ``(N, C, d1, ...)`` inputs.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import losscraft
from losscraft import LosscraftError
from losscraft.losses.classification import (
    ASLLoss,
    BalancedSoftmaxLoss,
    GCELoss,
    LDAMLoss,
    LogitAdjustedLoss,
    PolyLoss,
    SCELoss,
    asl_loss,
    balanced_softmax_loss,
    bce_with_logits_loss,
    binary_focal_loss,
    cross_entropy_loss,
    gce_loss,
    ldam_loss,
    logit_adjusted_loss,
    poly_loss,
    sce_loss,
)

D = torch.float64
HALF = [torch.float16, torch.bfloat16]
LOW = [torch.float32, *HALF]
TIGHT = {"rtol": 1e-10, "atol": 1e-12}
REDUCTIONS = ["mean", "sum", "none"]


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _case(seed: int, shape=(7, 4), ignore: int | None = None, n_ignore: int = 0, scale: float = 2.0):
    g = _gen(seed)
    x = torch.randn(shape, generator=g, dtype=D) * scale
    t = torch.randint(0, shape[1], (shape[0], *shape[2:]), generator=g)
    if ignore is not None and n_ignore:
        t.view(-1)[:n_ignore] = ignore
    return x, t


def _rows(x: torch.Tensor, t: torch.Tensor) -> list[tuple[list[float], int]]:
    """(N, C, *) logits and (N, *) targets as a flat list of (logit vector, class) positions."""
    c = x.shape[1]
    xs = x.detach().movedim(1, -1).reshape(-1, c).tolist()
    return list(zip(xs, t.reshape(-1).tolist(), strict=True))


def _softmax(z: list[float]) -> list[float]:
    m = max(z)
    e = [math.exp(v - m) for v in z]
    s = sum(e)
    return [v / s for v in e]


def _reduce_ref(values: list[float], keep: list[bool], reduction: str, shape, w: list[float] | None = None):
    """Plain reduction: 'none' = values (0 at ignored), 'mean' = sum(w l) / sum(w) over kept."""
    w = w or [1.0] * len(values)
    v = [vi * wi if k else 0.0 for vi, wi, k in zip(values, w, keep, strict=True)]
    if reduction == "none":
        return torch.tensor(v, dtype=D).reshape(shape)
    if reduction == "sum":
        return torch.tensor(sum(v), dtype=D)
    den = sum(wi for wi, k in zip(w, keep, strict=True) if k)
    return torch.tensor(sum(v) / den if den > 0 else 0.0, dtype=D)


def _run(fn, x, *rest, **kw):
    """Value and d(sum of value)/d input (and any floating second argument), float64."""
    x = x.detach().clone().requires_grad_(True)
    others = [r.detach().clone().requires_grad_(r.is_floating_point()) for r in rest]
    out = fn(x, *others, **kw)
    out.backward(torch.ones_like(out))
    return [out.detach(), x.grad] + [o.grad for o in others if o.is_floating_point()]


def _close(a, b, **tol):
    tol = tol or TIGHT
    assert len(a) == len(b)
    for u, v in zip(a, b, strict=True):
        torch.testing.assert_close(u, v, **tol)


def _naive_index(fn_row, x, t, ignore_index=-100, reduction="mean"):
    """Reference: fn_row(z, y) -> float for every kept position, reduced plainly."""
    rows = _rows(x, t)
    keep = [y != ignore_index for _, y in rows]
    vals = [fn_row(z, y) if k else 0.0 for (z, y), k in zip(rows, keep, strict=True)]
    return _reduce_ref(vals, keep, reduction, t.shape)


# =============================================================================== logit_adjusted
PRIORS = torch.tensor([0.6, 0.25, 0.1, 0.05], dtype=D)


def _la_row(priors: list[float], tau: float):
    def row(z: list[float], y: int) -> float:
        a = [zc + tau * math.log(pc) for zc, pc in zip(z, priors, strict=True)]
        return -math.log(math.exp(a[y]) / sum(math.exp(v) for v in a))

    return row


@pytest.mark.parametrize("shape", [(7, 4), (2, 4, 3, 2)])
@pytest.mark.parametrize("tau", [0.0, 0.5, 1.0, 2.0])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_logit_adjusted_reference(shape, tau: float, reduction: str) -> None:
    x, t = _case(1, shape, ignore=-100, n_ignore=2)
    got = logit_adjusted_loss(x, t, priors=PRIORS, tau=tau, reduction=reduction)
    ref = _naive_index(_la_row(PRIORS.tolist(), tau), x, t, reduction=reduction)
    torch.testing.assert_close(got, ref, **TIGHT)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_logit_adjusted_torch_parity_and_gradient(reduction: str) -> None:
    # Menon et al.'s definition: torch's CE on the adjusted logits, values and gradients.
    x, t = _case(2, (6, 4, 3), ignore=-100, n_ignore=3)
    shift = 0.7 * PRIORS.log().reshape(1, -1, 1)
    _close(
        _run(logit_adjusted_loss, x, t, priors=PRIORS, tau=0.7, reduction=reduction),
        _run(lambda a, b, **kw: F.cross_entropy(a + shift, b, **kw), x, t, reduction=reduction),
    )


def test_logit_adjusted_priors_scale_free_and_relations() -> None:
    x, t = _case(3, (9, 4))
    counts = PRIORS * 1234.0
    for tau in (0.3, 1.0):
        torch.testing.assert_close(
            logit_adjusted_loss(x, t, priors=counts, tau=tau, reduction="none"),
            logit_adjusted_loss(x, t, priors=PRIORS, tau=tau, reduction="none"),
            **TIGHT,
        )
    # tau = 0, uniform priors and priors=None are all cross-entropy
    ce = cross_entropy_loss(x, t, reduction="none")
    torch.testing.assert_close(logit_adjusted_loss(x, t, priors=PRIORS, tau=0.0, reduction="none"), ce)
    torch.testing.assert_close(logit_adjusted_loss(x, t, priors=torch.full((4,), 3.0, dtype=D)), ce.mean())
    torch.testing.assert_close(logit_adjusted_loss(x, t, reduction="none"), ce)
    # the adjustment hurts head classes and helps tail classes (target class 0 vs 3)
    x0 = torch.zeros(1, 4, dtype=D)
    head = logit_adjusted_loss(x0, torch.tensor([0]), priors=PRIORS).item()
    tail = logit_adjusted_loss(x0, torch.tensor([3]), priors=PRIORS).item()
    assert head < math.log(4) < tail


def test_logit_adjusted_element_weight_and_gradcheck() -> None:
    x, t = _case(4, (3, 4, 2), ignore=2, n_ignore=2)
    w = torch.rand(3, 2, generator=_gen(5), dtype=D) + 0.1
    got = logit_adjusted_loss(x, t, priors=PRIORS, ignore_index=2, weight=w)
    vals = _naive_index(_la_row(PRIORS.tolist(), 1.0), x, t, ignore_index=2, reduction="none")
    keep = t != 2
    torch.testing.assert_close(got, (vals * w).sum() / (w * keep).sum(), **TIGHT)
    assert torch.autograd.gradcheck(
        lambda a: logit_adjusted_loss(a, t, priors=PRIORS, tau=1.5, ignore_index=2, weight=w),
        (x.clone().requires_grad_(),),
    )


# =============================================================================== balanced_softmax
COUNTS = torch.tensor([800.0, 150.0, 40.0, 10.0], dtype=D)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_balanced_softmax_reference_and_logit_adjusted(reduction: str) -> None:
    x, t = _case(6, (8, 4, 2), ignore=-100, n_ignore=3)
    n = COUNTS.tolist()

    def row(z: list[float], y: int) -> float:  # n_y e^{z_y} / sum_c n_c e^{z_c}
        return -math.log(n[y] * math.exp(z[y]) / sum(nc * math.exp(zc) for nc, zc in zip(n, z, strict=True)))

    got = balanced_softmax_loss(x, t, class_counts=COUNTS, reduction=reduction)
    torch.testing.assert_close(got, _naive_index(row, x, t, reduction=reduction), **TIGHT)
    # == logit_adjusted(priors = n / sum n, tau = 1), values and gradients
    _close(
        _run(balanced_softmax_loss, x, t, class_counts=COUNTS, reduction=reduction),
        _run(logit_adjusted_loss, x, t, priors=COUNTS / COUNTS.sum(), tau=1.0, reduction=reduction),
    )
    # Ren et al.'s code: F.cross_entropy(logits + log(counts))
    _close(
        _run(balanced_softmax_loss, x, t, class_counts=COUNTS, reduction=reduction),
        _run(
            lambda a, b, **kw: F.cross_entropy(a + COUNTS.log().reshape(1, -1, 1), b, **kw),
            x,
            t,
            reduction=reduction,
        ),
    )


def test_balanced_softmax_gradcheck_and_equal_counts() -> None:
    x, t = _case(7, (4, 4), ignore=1, n_ignore=1)
    assert torch.autograd.gradcheck(
        lambda a: balanced_softmax_loss(a, t, class_counts=COUNTS, ignore_index=1),
        (x.clone().requires_grad_(),),
    )
    torch.testing.assert_close(
        balanced_softmax_loss(x, t, class_counts=torch.full((4,), 5.0, dtype=D), ignore_index=1),
        cross_entropy_loss(x, t, ignore_index=1),
    )


# =============================================================================== poly
def _poly_row(eps: float, ls: float = 0.0):
    def row(z: list[float], y: int) -> float:
        # the paper's code: pt = sum(labels * softmax), CE = softmax_cross_entropy(labels, logits)
        p = _softmax(z)
        c = len(z)
        q = [(1 - ls) * (k == y) + ls / c for k in range(c)]
        ce = -sum(qk * math.log(pk) for qk, pk in zip(q, p, strict=True))
        pt = sum(qk * pk for qk, pk in zip(q, p, strict=True))
        return ce + eps * (1 - pt)

    return row


@pytest.mark.parametrize("shape", [(7, 4), (2, 3, 2, 3)])
@pytest.mark.parametrize(("eps", "ls"), [(1.0, 0.0), (-1.0, 0.0), (2.5, 0.1), (0.5, 1.0)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_poly_reference(shape, eps: float, ls: float, reduction: str) -> None:
    x, t = _case(8, shape, ignore=-100, n_ignore=2)
    got = poly_loss(x, t, epsilon=eps, label_smoothing=ls, reduction=reduction)
    torch.testing.assert_close(got, _naive_index(_poly_row(eps, ls), x, t, reduction=reduction), **TIGHT)


@pytest.mark.parametrize("ls", [0.0, 0.2])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_poly_epsilon0_is_torch_cross_entropy(ls: float, reduction: str) -> None:
    x, t = _case(9, (5, 3, 4), ignore=-100, n_ignore=4)
    _close(
        _run(poly_loss, x, t, epsilon=0.0, label_smoothing=ls, reduction=reduction),
        _run(F.cross_entropy, x, t, label_smoothing=ls, reduction=reduction),
    )


def test_poly_gradient_closed_form_and_gradcheck() -> None:
    x, t = _case(10, (6, 5))
    eps = 1.7
    _, g = _run(poly_loss, x, t, epsilon=eps, reduction="sum")
    p = torch.softmax(x, 1)
    onehot = F.one_hot(t, 5).to(D)
    p_y = (p * onehot).sum(1, keepdim=True)
    torch.testing.assert_close(g, (1 + eps * p_y) * (p - onehot), **TIGHT)
    xs, ts = _case(11, (2, 3, 2, 2), ignore=0, n_ignore=2)
    w = torch.rand(2, 2, 2, generator=_gen(1), dtype=D)
    assert torch.autograd.gradcheck(
        lambda a: poly_loss(a, ts, epsilon=-0.5, label_smoothing=0.3, ignore_index=0, weight=w),
        (xs.clone().requires_grad_(),),
    )


@settings(max_examples=40)
@given(
    eps=st.floats(-1.0, 5.0),
    ls=st.floats(0.0, 1.0),
    scale=st.floats(0.0, 30.0),
    seed=st.integers(0, 10_000),
)
def test_poly_nonnegative_for_epsilon_at_least_minus_one(
    eps: float, ls: float, scale: float, seed: int
) -> None:
    x, t = _case(seed, (5, 3), scale=scale)
    v = poly_loss(x, t, epsilon=eps, label_smoothing=ls, reduction="none")
    assert torch.isfinite(v).all() and (v >= -1e-12).all()


# =============================================================================== gce
def _gce_row(q: float):
    def row(z: list[float], y: int) -> float:
        return (1 - _softmax(z)[y] ** q) / q

    return row


@pytest.mark.parametrize("shape", [(7, 4), (2, 3, 5)])
@pytest.mark.parametrize("q", [0.1, 0.7, 1.0])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gce_reference(shape, q: float, reduction: str) -> None:
    x, t = _case(12, shape, ignore=-100, n_ignore=2)
    got = gce_loss(x, t, q=q, reduction=reduction)
    torch.testing.assert_close(got, _naive_index(_gce_row(q), x, t, reduction=reduction), **TIGHT)


def test_gce_q1_is_mae_on_probabilities() -> None:
    # 1 - p_y = 1/2 sum_c |p_c - e_yc|: values and gradients against a naive float64 MAE.
    x, t = _case(13, (8, 5))
    for reduction in REDUCTIONS:

        def mae(a, b, reduction=reduction):
            v = 0.5 * (torch.softmax(a, 1) - F.one_hot(b, 5).to(D)).abs().sum(1)
            return {"none": v, "sum": v.sum(), "mean": v.mean()}[reduction]

        _close(_run(gce_loss, x, t, q=1.0, reduction=reduction), _run(mae, x, t))


def test_gce_q_to_zero_is_cross_entropy() -> None:
    x, t = _case(14, (9, 4), ignore=-100, n_ignore=2)
    ce = _run(F.cross_entropy, x, t, reduction="none")
    for q, tol in [(1e-4, 1e-2), (1e-6, 1e-4), (1e-9, 1e-7)]:
        _close(_run(gce_loss, x, t, q=q, reduction="none"), ce, rtol=0.0, atol=tol)


def test_gce_gradient_closed_form_accuracy_and_bound() -> None:
    x, t = _case(15, (6, 4), scale=4.0)
    q = 0.7
    _, g = _run(gce_loss, x, t, q=q, reduction="sum")
    p = torch.softmax(x, 1)
    onehot = F.one_hot(t, 4).to(D)
    p_y = (p * onehot).sum(1, keepdim=True)
    torch.testing.assert_close(g, p_y**q * (p - onehot), **TIGHT)
    # p_y -> 1: (1 - p^q)/q ~ (1 - p) = 2 e^{-40} / (1 + 2 e^{-40}); the naive form gives 0.
    x1 = torch.tensor([[40.0, 0.0, 0.0]], dtype=D)
    delta = 2 * math.exp(-40.0)
    got = gce_loss(x1, torch.tensor([0]), q=q).item()
    assert got == pytest.approx(delta * (1 - (1 + q) * delta / 2), rel=1e-12)
    # bounded by 1 / q whatever the logits
    xb = torch.tensor([[-1e4, 1e4, 0.0]], dtype=D)
    assert gce_loss(xb, torch.tensor([0]), q=q).item() == pytest.approx(1 / q)


def test_gce_gradcheck_options() -> None:
    x, t = _case(16, (3, 4, 2), ignore=3, n_ignore=2)
    w = torch.rand(3, 1, generator=_gen(2), dtype=D)
    for q in (0.05, 0.7, 1.0):
        assert torch.autograd.gradcheck(
            lambda a, q=q: gce_loss(a, t, q=q, ignore_index=3, weight=w), (x.clone().requires_grad_(),)
        )


# =============================================================================== sce
def _sce_row(alpha: float, beta: float, a: float):
    def row(z: list[float], y: int) -> float:
        p = _softmax(z)
        log_q = [0.0 if k == y else a for k in range(len(z))]  # log(one-hot), log 0 := A
        rce = -sum(pk * lq for pk, lq in zip(p, log_q, strict=True))
        return alpha * -math.log(p[y]) + beta * rce

    return row


@pytest.mark.parametrize("shape", [(7, 4), (2, 3, 5)])
@pytest.mark.parametrize(("alpha", "beta", "a"), [(0.1, 1.0, -4.0), (6.0, 0.1, -4.0), (1.0, 0.5, -9.0)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_sce_reference(shape, alpha: float, beta: float, a: float, reduction: str) -> None:
    x, t = _case(17, shape, ignore=-100, n_ignore=2)
    got = sce_loss(x, t, alpha=alpha, beta=beta, log_zero=a, reduction=reduction)
    torch.testing.assert_close(
        got, _naive_index(_sce_row(alpha, beta, a), x, t, reduction=reduction), **TIGHT
    )


def test_sce_matches_official_code_with_its_label_clip() -> None:
    # HanxunH/SCELoss-Reproduce: alpha * CE + beta * mean(-sum(clamp(p, 1e-7) * log(clamp(onehot, 1e-4))))
    x, t = _case(18, (10, 6))  # moderate logits: every p > 1e-7, so the pred clamp is inactive
    alpha, beta = 0.1, 1.0
    p = torch.softmax(x, 1).clamp(min=1e-7, max=1.0)
    oh = F.one_hot(t, 6).to(D).clamp(min=1e-4, max=1.0)
    official = alpha * F.cross_entropy(x, t) + beta * (-(p * oh.log()).sum(1)).mean()
    got = sce_loss(x, t, alpha=alpha, beta=beta, log_zero=math.log(1e-4))
    torch.testing.assert_close(got, official, **TIGHT)


def test_sce_gradient_relations_and_gradcheck() -> None:
    x, t = _case(19, (6, 4))
    alpha, beta, a = 0.3, 2.0, -4.0
    _, g = _run(sce_loss, x, t, alpha=alpha, beta=beta, log_zero=a, reduction="sum")
    p = torch.softmax(x, 1)
    onehot = F.one_hot(t, 4).to(D)
    p_y = (p * onehot).sum(1, keepdim=True)
    torch.testing.assert_close(g, (alpha - beta * a * p_y) * (p - onehot), **TIGHT)
    # the reverse term is -A * GCE(q=1) = -A (1 - p_y); with beta = 0 it is cross-entropy
    torch.testing.assert_close(
        sce_loss(x, t, alpha=0.0, beta=1.0, log_zero=-2.5), 2.5 * gce_loss(x, t, q=1.0), **TIGHT
    )
    torch.testing.assert_close(sce_loss(x, t, alpha=1.0, beta=0.0), F.cross_entropy(x, t), **TIGHT)
    xs, ts = _case(20, (2, 4, 3), ignore=-100, n_ignore=2)
    w = torch.rand(2, 3, generator=_gen(3), dtype=D)
    assert torch.autograd.gradcheck(
        lambda u: sce_loss(u, ts, alpha=0.5, beta=0.7, log_zero=-6.0, weight=w),
        (xs.clone().requires_grad_(),),
    )


# =============================================================================== asl
def _asl_ref(x, y, gamma_neg=4.0, gamma_pos=1.0, clip=0.05):
    """Naive float64 formula: p = sigmoid, p_m = max(p - m, 0)."""
    p = torch.sigmoid(x)
    pm = (p - (clip or 0.0)).clamp(min=0.0)
    pos = y * (1 - p) ** gamma_pos * torch.log(p)
    neg = (1 - y) * pm**gamma_neg * torch.log(1 - pm)
    return -(pos + neg)


def _ml_case(seed: int, shape=(6, 5), soft: bool = False, scale: float = 3.0):
    g = _gen(seed)
    x = torch.randn(shape, generator=g, dtype=D) * scale
    y = torch.rand(shape, generator=g, dtype=D)
    return x, (y if soft else (y > 0.7).to(D))


@pytest.mark.parametrize(
    ("gn", "gp", "clip"),
    [(4.0, 1.0, 0.05), (4.0, 0.0, 0.05), (2.0, 1.0, None), (0.5, 0.5, 0.2), (0.0, 2.0, 0.0)],
)
@pytest.mark.parametrize("soft", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_asl_reference(gn: float, gp: float, clip: float | None, soft: bool, reduction: str) -> None:
    x, y = _ml_case(21, soft=soft)
    ref = _asl_ref(x, y, gn, gp, clip)
    ref = {"none": ref, "sum": ref.sum(), "mean": ref.mean()}[reduction]
    _close(
        _run(asl_loss, x, y, gamma_neg=gn, gamma_pos=gp, clip=clip, reduction=reduction),
        _run(
            lambda a, b: {"none": lambda v: v, "sum": torch.sum, "mean": torch.mean}[reduction](
                _asl_ref(a, b, gn, gp, clip)
            ),
            x,
            y,
        ),
        rtol=1e-9,
        atol=1e-12,
    )
    torch.testing.assert_close(
        asl_loss(x, y, gamma_neg=gn, gamma_pos=gp, clip=clip, reduction=reduction), ref
    )


def _official_asl(x, y, gamma_neg=4.0, gamma_pos=1.0, clip=0.05, eps=1e-8, detach=True):
    """Ridnik et al.'s AsymmetricLoss.forward (official repository), written out."""
    xs_pos = torch.sigmoid(x)
    xs_neg = 1 - xs_pos
    if clip is not None and clip > 0:
        xs_neg = (xs_neg + clip).clamp(max=1)
    loss = y * torch.log(xs_pos.clamp(min=eps)) + (1 - y) * torch.log(xs_neg.clamp(min=eps))
    with torch.set_grad_enabled(not detach):
        pt = xs_pos * y + xs_neg * (1 - y)
        w = torch.pow(1 - pt, gamma_pos * y + gamma_neg * (1 - y))
    return -(loss * w).sum()


def test_asl_matches_official_code() -> None:
    x, y = _ml_case(22, (8, 6))  # |x| < ~12: the official eps clamp of log p is inactive
    ours = _run(asl_loss, x, y, reduction="sum")
    official_value = _official_asl(x, y).detach()
    torch.testing.assert_close(ours[0], official_value, **TIGHT)
    # the gradient through the focusing weights: the official code with the detach disabled
    # (the target gradient differs: the official code puts y into the focusing exponent)
    _close(ours[:2], _run(lambda a, b: _official_asl(a, b, detach=False), x, y)[:2])
    # mean over elements = official sum / number of elements
    torch.testing.assert_close(asl_loss(x, y), official_value / x.numel(), **TIGHT)


def test_asl_special_cases() -> None:
    x, y = _ml_case(23, soft=True)
    # no focusing, no margin: BCE with logits (torch), values and gradients incl. the soft target
    for clip in (None, 0.0):
        _close(
            _run(asl_loss, x, y, gamma_neg=0.0, gamma_pos=0.0, clip=clip, reduction="none"),
            _run(F.binary_cross_entropy_with_logits, x, y, reduction="none"),
            rtol=1e-9,
            atol=1e-12,
        )
    # symmetric focusing without margin on hard targets: the sigmoid focal loss without alpha
    xh, yh = _ml_case(24)
    for gamma in (0.5, 2.0):
        torch.testing.assert_close(
            asl_loss(xh, yh, gamma_neg=gamma, gamma_pos=gamma, clip=None, reduction="none"),
            binary_focal_loss(xh, yh, gamma=gamma, alpha=None, reduction="none"),
            **TIGHT,
        )
    torch.testing.assert_close(
        asl_loss(x, y, gamma_neg=0.0, gamma_pos=0.0, clip=None), bce_with_logits_loss(x, y), **TIGHT
    )


def test_asl_margin_discards_easy_negatives() -> None:
    # negatives with p <= m: loss exactly 0 and gradient exactly 0; above the margin it is positive
    x = torch.tensor([-1e4, -8.0, math.log(0.04 / 0.96), 0.0, 5.0, 1e4], dtype=D, requires_grad=True)
    y = torch.zeros_like(x)
    v = asl_loss(x, y, clip=0.05, reduction="none")
    v.sum().backward()
    assert (v[:3] == 0).all() and (x.grad[:3] == 0).all()
    assert (v[3:] > 0).all()
    # at x = +1e4, p = 1: p_m = 1 - m, so the value is (1 - m)^4 * -log(m), finite, zero gradient
    assert v[-1].item() == pytest.approx(0.95**4 * -math.log(0.05), rel=1e-12)
    assert x.grad[-1].item() == 0.0


@pytest.mark.parametrize("dtype", LOW)
@pytest.mark.parametrize(("gn", "gp", "clip"), [(4.0, 1.0, 0.05), (0.3, 0.2, 0.05), (0.3, 0.2, None)])
def test_asl_extreme_logits(dtype: torch.dtype, gn: float, gp: float, clip: float | None) -> None:
    x = torch.tensor([[1e4, -1e4, 1e4, -1e4, 0.0, 3.0]], dtype=dtype, requires_grad=True)
    y = torch.tensor([[1.0, 1.0, 0.0, 0.0, 0.5, 0.3]], dtype=dtype)
    v = asl_loss(x, y, gamma_neg=gn, gamma_pos=gp, clip=clip, reduction="none")
    assert v.dtype == torch.float32 and torch.isfinite(v).all()
    v.sum().backward()
    assert torch.isfinite(x.grad).all()
    ref = asl_loss(x.detach().double(), y.double(), gamma_neg=gn, gamma_pos=gp, clip=clip, reduction="none")
    torch.testing.assert_close(v.double(), ref, rtol=1e-5, atol=1e-5)


def test_asl_gradcheck() -> None:
    x, y = _ml_case(25, (3, 4), soft=True, scale=2.0)
    w = torch.rand(3, 1, generator=_gen(4), dtype=D)
    for gn, gp, clip in [(4.0, 1.0, 0.05), (0.5, 0.7, 0.1), (2.0, 0.0, None)]:
        assert torch.autograd.gradcheck(
            lambda a, b, gn=gn, gp=gp, clip=clip: asl_loss(
                a, b, gamma_neg=gn, gamma_pos=gp, clip=clip, weight=w
            ),
            (x.clone().requires_grad_(), y.clone().requires_grad_()),
        )


@settings(max_examples=40)
@given(
    gn=st.floats(0.0, 6.0),
    gp=st.floats(0.0, 3.0),
    clip=st.one_of(st.none(), st.floats(0.0, 0.5)),
    seed=st.integers(0, 10_000),
)
def test_asl_reference_hypothesis(gn: float, gp: float, clip: float | None, seed: int) -> None:
    x, y = _ml_case(seed, (4, 3), soft=True)
    got = asl_loss(x, y, gamma_neg=gn, gamma_pos=gp, clip=clip, reduction="none")
    torch.testing.assert_close(got, _asl_ref(x, y, gn, gp, clip), rtol=1e-9, atol=1e-12)


# =============================================================================== ldam
def _official_ldam(x, target, cls_num_list, max_m=0.5, weight=None, s=30.0):
    """Cao et al.'s LDAMLoss.forward (official repository), written out on CPU/float64."""
    m_list = 1.0 / torch.sqrt(torch.sqrt(torch.as_tensor(cls_num_list, dtype=D)))
    m_list = m_list * (max_m / m_list.max())
    index = F.one_hot(target, x.shape[1]).bool()
    batch_m = (m_list[None, :] @ index.to(D).t()).view(-1, 1)
    output = torch.where(index, x - batch_m, x)
    return F.cross_entropy(s * output, target, weight=weight)


def _cos_case(seed: int, shape=(9, 4)):
    g = _gen(seed)
    x = torch.rand(shape, generator=g, dtype=D) * 2 - 1
    t = torch.randint(0, shape[1], (shape[0], *shape[2:]), generator=g)
    return x, t


LDAM_COUNTS = torch.tensor([5000.0, 500.0, 50.0, 5.0], dtype=D)
LDAM_W = torch.tensor([0.2, 0.7, 1.5, 3.0], dtype=D)


@pytest.mark.parametrize("use_w", [False, True])
@pytest.mark.parametrize(("max_m", "s"), [(0.5, 30.0), (0.3, 10.0)])
def test_ldam_matches_official_code(use_w: bool, max_m: float, s: float) -> None:
    x, t = _cos_case(26)
    w = LDAM_W if use_w else None
    _close(
        _run(ldam_loss, x, t, class_counts=LDAM_COUNTS, max_margin=max_m, scale=s, weight=w),
        _run(lambda a, b: _official_ldam(a, b, LDAM_COUNTS, max_m, w, s), x, t),
    )


@pytest.mark.parametrize("shape", [(7, 4), (2, 4, 3)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_ldam_reference(shape, reduction: str) -> None:
    x, t = _cos_case(27, shape)
    t.view(-1)[:2] = -100
    n = LDAM_COUNTS.tolist()
    raw = [c**-0.25 for c in n]
    delta = [0.5 * r / max(raw) for r in raw]
    w = LDAM_W.tolist()

    def row(z: list[float], y: int) -> float:
        a = [30.0 * (zc - (delta[y] if c == y else 0.0)) for c, zc in enumerate(z)]
        m = max(a)
        return w[y] * (m + math.log(sum(math.exp(v - m) for v in a)) - a[y])

    rows = _rows(x, t)
    keep = [y != -100 for _, y in rows]
    vals = [row(z, y) if k else 0.0 for (z, y), k in zip(rows, keep, strict=True)]
    if reduction == "mean":  # torch's class-weighted mean: sum w_y l / sum w_y
        ref = torch.tensor(sum(vals) / sum(w[y] for (_, y), k in zip(rows, keep, strict=True) if k), dtype=D)
    else:
        ref = _reduce_ref(vals, keep, reduction, t.shape)
    got = ldam_loss(x, t, class_counts=LDAM_COUNTS, weight=LDAM_W, reduction=reduction)
    torch.testing.assert_close(got, ref, **TIGHT)


def test_ldam_margins_and_relations() -> None:
    x, t = _cos_case(28, (12, 4))
    # the rarest class gets max_margin; equal counts == class_counts=None == max_margin everywhere
    onehot = F.one_hot(t, 4).to(D)
    no_counts = ldam_loss(x, t, reduction="none")
    torch.testing.assert_close(no_counts, F.cross_entropy(30.0 * (x - 0.5 * onehot), t, reduction="none"))
    torch.testing.assert_close(
        ldam_loss(x, t, class_counts=torch.full((4,), 7.0, dtype=D), reduction="none"), no_counts, **TIGHT
    )
    rare = torch.full((12,), 3)
    delta = 0.5 * (5.0 / LDAM_COUNTS) ** 0.25
    assert delta[3].item() == 0.5
    got = ldam_loss(x, rare, class_counts=LDAM_COUNTS, reduction="none")
    torch.testing.assert_close(
        got, F.cross_entropy(30.0 * (x - 0.5 * F.one_hot(rare, 4)), rare, reduction="none")
    )
    # max_margin = 0, scale = 1: cross-entropy with the same class weight
    for w in (None, LDAM_W):
        torch.testing.assert_close(
            ldam_loss(x, t, class_counts=LDAM_COUNTS, max_margin=0.0, scale=1.0, weight=w),
            cross_entropy_loss(x, t, weight=w),
            **TIGHT,
        )


def test_ldam_gradcheck_ignore_and_module() -> None:
    x, t = _cos_case(29, (2, 4, 3))
    t[0, 0] = 1
    assert torch.autograd.gradcheck(
        lambda a: ldam_loss(a, t, class_counts=LDAM_COUNTS, scale=5.0, weight=LDAM_W, ignore_index=1),
        (x.clone().requires_grad_(),),
    )
    m = LDAMLoss(class_counts=[5000.0, 500.0, 50.0, 5.0], weight=[0.2, 0.7, 1.5, 3.0])
    assert {k for k, _ in m.named_buffers()} == {"_hp_class_counts", "_hp_weight"}
    x32, t32 = x.float(), t
    torch.testing.assert_close(
        m(x32, t32), ldam_loss(x32, t32, class_counts=LDAM_COUNTS.float(), weight=LDAM_W.float())
    )
    with pytest.raises(LosscraftError, match="per-element 'weight' is not accepted"):
        m(x32, t32, weight=torch.ones(2, 3))
    cfg = m.get_config()
    assert cfg["class_counts"] == [5000.0, 500.0, 50.0, 5.0]
    assert losscraft.build(cfg).get_config() == cfg


# =============================================================================== shared: edge cases
CASES = [
    ("logit_adjusted", logit_adjusted_loss, {"priors": PRIORS, "tau": 1.0}),
    ("balanced_softmax", balanced_softmax_loss, {"class_counts": COUNTS}),
    ("poly", poly_loss, {"epsilon": 2.0, "label_smoothing": 0.1}),
    ("gce", gce_loss, {"q": 0.3}),
    ("sce", sce_loss, {"alpha": 0.5, "beta": 1.0}),
    ("ldam", ldam_loss, {"class_counts": LDAM_COUNTS, "weight": LDAM_W}),
]
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize(("name", "fn", "kw"), CASES, ids=IDS)
@pytest.mark.parametrize("dtype", LOW)
def test_extreme_logits_finite(name: str, fn, kw, dtype: torch.dtype) -> None:
    x = torch.tensor(
        [[1e4, -1e4, 0.0, -1e4], [1e4, -1e4, 0.0, 1e4], [-1e4, -1e4, -1e4, -1e4], [-1e4, 1e4, 1e4, 1e4]],
        dtype=dtype,
        requires_grad=True,
    )
    t = torch.tensor([0, 1, 2, 0])
    for reduction in REDUCTIONS:
        x.grad = None
        v = fn(x, t, **kw, reduction=reduction)
        assert v.dtype == torch.float32 and torch.isfinite(v).all(), (name, reduction)
        v.sum().backward()
        assert torch.isfinite(x.grad).all(), (name, reduction)
    ref = fn(x.detach().double(), t, **kw, reduction="none")
    torch.testing.assert_close(fn(x, t, **kw, reduction="none").double(), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("name", "fn", "kw"), CASES, ids=IDS)
@pytest.mark.parametrize("dtype", HALF)
def test_half_matches_float64(name: str, fn, kw, dtype: torch.dtype) -> None:
    x, t = _case(30, (5, 4, 3), ignore=-100, n_ignore=3)
    xh = x.to(dtype)
    for reduction in ("none", "mean"):
        got = fn(xh, t, **kw, reduction=reduction)
        assert got.dtype == torch.float32
        torch.testing.assert_close(
            got.double(), fn(xh.double(), t, **kw, reduction=reduction), rtol=1e-5, atol=1e-5
        )


@pytest.mark.parametrize(("name", "fn", "kw"), CASES, ids=IDS)
def test_all_ignored_and_empty(name: str, fn, kw) -> None:
    x = torch.randn(3, 4, 2, dtype=D, requires_grad=True)
    t = torch.full((3, 2), -100)
    for reduction in ("mean", "sum"):
        x.grad = None
        out = fn(x, t, **kw, reduction=reduction)
        assert out.item() == 0.0 and out.requires_grad, name
        out.backward()
        assert torch.equal(x.grad, torch.zeros_like(x))
    assert (fn(x, t, **kw, reduction="none") == 0).all()
    e = torch.zeros(0, 4, dtype=D, requires_grad=True)
    out = fn(e, torch.zeros(0, dtype=torch.long), **kw)
    assert out.item() == 0.0 and out.requires_grad
    # DIFFERENCE: torch's cross-entropy (what these losses reduce to) gives nan here
    assert torch.isnan(F.cross_entropy(x, t))


@pytest.mark.parametrize(("name", "fn", "kw"), CASES, ids=IDS)
def test_common_input_errors(name: str, fn, kw) -> None:
    fname = f"{name}_loss"
    x, t = _case(31, (3, 4))
    with pytest.raises(
        LosscraftError, match=rf"{fname}: 'target' contains class index 4, expected values in \[0, 3\]"
    ):
        fn(x, torch.tensor([0, 4, 1]), **kw)
    with pytest.raises(
        LosscraftError, match=rf"{fname}: 'target' must be an integer tensor of class indices"
    ):
        fn(x, t.double(), **kw)
    with pytest.raises(LosscraftError, match=rf"{fname}: 'target' of class indices must have shape"):
        fn(x, t[:2], **kw)
    with pytest.raises(LosscraftError, match=rf"{fname}: 'input' must be a floating-point tensor"):
        fn(x.long(), t, **kw)
    with pytest.raises(LosscraftError, match=rf"{fname}: 'input' must have shape \(N, C\)"):
        fn(x[0], t, **kw)
    with pytest.raises(LosscraftError, match=rf"{fname}: 'reduction' must be one of"):
        fn(x, t, **kw, reduction="avg")


def test_hyperparameter_errors() -> None:
    x, t = _case(32, (3, 4))
    cases = [
        (
            logit_adjusted_loss,
            {"priors": torch.ones(3, dtype=D)},
            r"'priors' must have shape \(4,\) \(one value per class\), got \(3,\)",
        ),
        (
            logit_adjusted_loss,
            {"priors": torch.tensor([0.5, 0.5, 0.0, 0.0])},
            r"'priors' must be a 1-D float tensor \(or list\) of finite values > 0 or None",
        ),
        (logit_adjusted_loss, {"tau": -0.5}, r"'tau' must be a float in \[0, inf\), got -0.5"),
        (
            balanced_softmax_loss,
            {"class_counts": torch.tensor([3.0, -1.0, 2.0, 1.0])},
            r"'class_counts' must be a 1-D float tensor \(or list\) of finite values > 0",
        ),
        (
            balanced_softmax_loss,
            {"class_counts": torch.tensor([3, 1, 2, 1])},
            r"'class_counts' must be a 1-D float tensor",
        ),
        (balanced_softmax_loss, {"class_counts": torch.ones(5)}, r"'class_counts' must have shape \(4,\)"),
        (poly_loss, {"epsilon": -1.5}, r"'epsilon' must be a float in \[-1, inf\), got -1.5"),
        (poly_loss, {"label_smoothing": 1.2}, r"'label_smoothing' must be a float in \[0, 1\], got 1.2"),
        (gce_loss, {"q": 0.0}, r"'q' must be a float in \(0, 1\], got 0.0"),
        (gce_loss, {"q": 1.5}, r"'q' must be a float in \(0, 1\], got 1.5"),
        (sce_loss, {"log_zero": 0.0}, r"'log_zero' must be a float in \(-inf, 0\), got 0.0"),
        (sce_loss, {"alpha": -0.1}, r"'alpha' must be a float in \[0, inf\), got -0.1"),
        (
            ldam_loss,
            {"class_counts": torch.tensor([10.0, 0.0, 3.0, 1.0])},
            r"'class_counts' must be a 1-D float tensor \(or list\) of finite values > 0",
        ),
        (ldam_loss, {"class_counts": torch.ones(2)}, r"'class_counts' must have shape \(4,\)"),
        (ldam_loss, {"weight": torch.ones(5)}, r"'weight' must have shape \(4,\)"),
        (ldam_loss, {"scale": 0.0}, r"'scale' must be a float in \(0, inf\), got 0.0"),
        (ldam_loss, {"max_margin": -0.1}, r"'max_margin' must be a float in \[0, inf\), got -0.1"),
    ]
    for fn, kw, msg in cases:
        with pytest.raises(LosscraftError, match=f"{fn.__name__}: {msg}"):
            fn(x, t, **kw)


def test_asl_errors() -> None:
    x, y = _ml_case(33, (3, 4))
    with pytest.raises(
        LosscraftError,
        match=r"asl_loss: 'input' and 'target' must have the same shape, got input \(3, 4\) and target \(3, 1\)",
    ):
        asl_loss(x, y[:, :1])
    with pytest.raises(LosscraftError, match=r"asl_loss: 'target' must contain targets in \[0, 1\], got 2"):
        asl_loss(x, torch.full_like(y, 2.0))
    with pytest.raises(LosscraftError, match="asl_loss: 'target' must be a floating-point tensor"):
        asl_loss(x, y.long())
    with pytest.raises(
        LosscraftError, match=r"asl_loss: 'clip' must be a float in \[0, 1\) or None, got 1.0"
    ):
        asl_loss(x, y, clip=1.0)
    with pytest.raises(
        LosscraftError, match=r"asl_loss: 'gamma_neg' must be a float in \[0, inf\), got -1.0"
    ):
        asl_loss(x, y, gamma_neg=-1.0)


def test_modules_store_class_vectors_and_round_trip() -> None:
    x, t = _case(34, (5, 4))
    for mod, key, fn in [
        (LogitAdjustedLoss(priors=[0.6, 0.25, 0.1, 0.05], tau=0.5), "priors", logit_adjusted_loss),
        (BalancedSoftmaxLoss(class_counts=[800.0, 150.0, 40.0, 10.0]), "class_counts", balanced_softmax_loss),
    ]:
        assert isinstance(getattr(mod, f"_hp_{key}"), torch.Tensor)
        cfg = mod.get_config()
        assert losscraft.build(cfg).get_config() == cfg
        torch.testing.assert_close(mod(x.float(), t), fn(x.float(), t, **mod.hparams))
    for mod in (PolyLoss(epsilon=-0.5), GCELoss(q=0.4), SCELoss(alpha=6.0, beta=0.1), ASLLoss(clip=None)):
        cfg = mod.get_config()
        assert losscraft.build(cfg).get_config() == cfg
    torch.testing.assert_close(
        LogitAdjustedLoss(priors=[0.6, 0.25, 0.1, 0.05])(x, t), logit_adjusted_loss(x, t, priors=PRIORS)
    )
    torch.testing.assert_close(
        BalancedSoftmaxLoss(class_counts=[800.0, 150.0, 40.0, 10.0])(x, t),
        balanced_softmax_loss(x, t, class_counts=COUNTS),
    )


def test_registry_aliases() -> None:
    assert losscraft.get("logit_adjustment").name == "logit_adjusted"
    assert losscraft.get("poly1").name == "poly"
    assert losscraft.get("generalized_cross_entropy").name == "gce"
    assert losscraft.get("symmetric_cross_entropy").name == "sce"
    assert losscraft.get("asymmetric_loss").name == "asl"
    assert losscraft.get("ldam_drw").name == "ldam"
    assert losscraft.get("balanced_softmax_loss").name == "balanced_softmax"
