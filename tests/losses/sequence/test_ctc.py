"""CTC: parity with torch's ``F.ctc_loss`` and an independent float64 reference, the policies, the errors."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

import losscraft
import losscraft.functional as LF
from losscraft import LosscraftError

D = torch.float64


def _problem(seed: int, T: int = 12, N: int = 6, C: int = 6, S: int = 5, blank: int = 0):
    """Random logits, padded labels (not blank) and lengths with every alignment feasible."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(T, N, C, generator=g, dtype=D) * 2
    tl = torch.randint(0, S + 1, (N,), generator=g)
    il = torch.randint(2 * S + 1, T + 1, (N,), generator=g)  # >= 2 S + 1: feasible even with repeats
    r = torch.randint(0, C - 1, (N, S), generator=g)
    y = r + (r >= blank).long()
    y[0, 1] = y[0, 0]  # a repeat
    return x, y, il, tl


def _torch(x, y, il, tl, **kw):
    return F.ctc_loss(x.log_softmax(-1), y, il, tl, **kw)


# --------------------------------------------------------------------------- independent references
def _collapse(path: tuple[int, ...], blank: int) -> list[int]:
    out: list[int] = []
    prev = None
    for k in path:
        if k != prev and k != blank:
            out.append(k)
        prev = k
    return out


def _brute_force(x: torch.Tensor, y: list[int], blank: int) -> float:
    """-log of the sum over every frame labelling that collapses to ``y`` (``x``: ``(T, C)`` logits)."""
    lp = x.log_softmax(-1)
    T, C = lp.shape
    terms = [
        sum(float(lp[t, k]) for t, k in enumerate(path))
        for path in itertools.product(range(C), repeat=T)
        if _collapse(path, blank) == y
    ]
    if not terms:
        return math.inf
    m = max(terms)
    return -(m + math.log(sum(math.exp(v - m) for v in terms)))


def _forward_algorithm(x: torch.Tensor, y: list[int], blank: int) -> float:
    """Graves et al. (2006), eqs. 5-8: the alpha recursion over the blank-extended label."""
    lp = x.log_softmax(-1).tolist()
    ext = [blank]
    for k in y:
        ext += [k, blank]
    T, L = len(lp), len(ext)
    ninf = -math.inf

    def lse(*v: float) -> float:
        m = max(v)
        return m if m == ninf else m + math.log(sum(math.exp(a - m) for a in v))

    alpha = [ninf] * L
    alpha[0] = lp[0][ext[0]]
    if L > 1:
        alpha[1] = lp[0][ext[1]]
    for t in range(1, T):
        new = [ninf] * L
        for s in range(L):
            cands = [alpha[s]]
            if s >= 1:
                cands.append(alpha[s - 1])
            if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
                cands.append(alpha[s - 2])
            new[s] = lse(*cands) + lp[t][ext[s]]
        alpha = new
    end = [alpha[L - 1]] + ([alpha[L - 2]] if L > 1 else [])
    return -lse(*end)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("blank", [0, 2])
def test_brute_force_and_forward_algorithm(seed: int, blank: int) -> None:
    """Tiny problems: the sum over every labelling, and the alpha recursion, give the same value."""
    g = torch.Generator().manual_seed(seed)
    T, C = 4, 3
    x = torch.randn(T, 3, C, generator=g, dtype=D) * 2
    labels = [k for k in range(C) if k != blank]
    a, b = labels
    ys = [[], [a], [b, a]] if seed % 2 == 0 else [[a, a], [b], [a, b]]  # a repeat needs a blank
    il = torch.tensor([4, 3, 4])
    tl = torch.tensor([len(y) for y in ys])
    padded = torch.full((3, 2), blank)
    for i, y in enumerate(ys):
        padded[i, : len(y)] = torch.tensor(y, dtype=torch.long)
    got = LF.ctc_loss(x, padded, il, tl, blank=blank, reduction="none")
    for i, y in enumerate(ys):
        xi = x[: int(il[i]), i]
        want = _brute_force(xi, y, blank)
        assert math.isclose(_forward_algorithm(xi, y, blank), want, rel_tol=1e-12)
        assert math.isclose(float(got[i]), want, rel_tol=1e-10), (i, y)


def test_forward_algorithm_on_longer_sequences() -> None:
    x, y, il, tl = _problem(3, T=15, N=4, C=5, S=6)
    got = LF.ctc_loss(x, y, il, tl, reduction="none")
    for i in range(4):
        want = _forward_algorithm(x[: int(il[i]), i], y[i, : int(tl[i])].tolist(), 0)
        assert math.isclose(float(got[i]), want, rel_tol=1e-10)


# --------------------------------------------------------------------------- torch parity
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("blank", [0, 3])
@pytest.mark.parametrize("concatenated", [False, True])
def test_matches_torch_values_and_gradients(
    seed: int, reduction: str, blank: int, concatenated: bool
) -> None:
    x, y, il, tl = _problem(seed, blank=blank)
    if concatenated:
        y = torch.cat([y[i, : int(tl[i])] for i in range(len(tl))])
    a = x.clone().requires_grad_(True)
    b = x.clone().requires_grad_(True)
    # losscraft's mean is the mean of "none"; torch's mean is divide_by_length=True
    ours = LF.ctc_loss(a, y, il, tl, blank=blank, reduction=reduction, divide_by_length=reduction == "mean")
    ref = _torch(b, y, il, tl, blank=blank, reduction=reduction)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
    up = torch.linspace(0.5, 1.5, ours.numel(), dtype=D).reshape(ours.shape)
    (ga,) = torch.autograd.grad(ours, a, up)
    (gb,) = torch.autograd.grad(ref, b, up)
    torch.testing.assert_close(ga, gb, rtol=1e-10, atol=1e-12)


def test_mean_is_the_mean_over_sequences_and_weights() -> None:
    x, y, il, tl = _problem(7)
    per = _torch(x, y, il, tl, reduction="none")
    torch.testing.assert_close(LF.ctc_loss(x, y, il, tl), per.mean())
    w = torch.linspace(0.2, 2.0, len(tl), dtype=D)
    torch.testing.assert_close(LF.ctc_loss(x, y, il, tl, weight=w), (w * per).sum() / w.sum())
    per_label = per / tl.clamp(min=1)
    torch.testing.assert_close(LF.ctc_loss(x, y, il, tl, divide_by_length=True, reduction="none"), per_label)


def test_lengths_as_lists_and_module() -> None:
    x, y, il, tl = _problem(8)
    want = LF.ctc_loss(x, y, il, tl, blank=0, reduction="sum")
    torch.testing.assert_close(LF.ctc_loss(x, y, il.tolist(), tl.tolist(), reduction="sum"), want)
    torch.testing.assert_close(losscraft.CTCLoss(reduction="sum")(x, y, il, tl), want)
    assert losscraft.get("ctc").module is losscraft.CTCLoss


# --------------------------------------------------------------------------- policies
def test_empty_target_costs_only_blanks() -> None:
    x, y, il, _ = _problem(9)
    tl = torch.zeros_like(il)
    got = LF.ctc_loss(x, y, il, tl, reduction="none")
    lp = x.log_softmax(-1)[..., 0]
    want = torch.stack([-lp[: int(il[i]), i].sum() for i in range(len(il))])
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_infeasible_alignment_raises_unless_zero_infinity() -> None:
    x, y, il, tl = _problem(10, N=3)
    y[1, :3] = torch.tensor([2, 2, 2])
    tl[1], il[1] = 3, 4  # 3 labels with 2 repeats need 5 frames
    with pytest.raises(
        LosscraftError, match=r"sequence 1 has no alignment.*needs at least 5 frames.*got input_lengths 4"
    ):
        LF.ctc_loss(x, y, il, tl)
    a = x.clone().requires_grad_(True)
    got = LF.ctc_loss(a, y, il, tl, zero_infinity=True, reduction="none")
    ref = _torch(x, y, il, tl, zero_infinity=False, reduction="none")
    assert math.isinf(float(ref[1])), "torch's kernel gives inf here"
    assert float(got[1].detach()) == 0.0
    torch.testing.assert_close(got[[0, 2]], ref[[0, 2]])
    got.sum().backward()
    assert a.grad is not None and torch.isfinite(a.grad).all()
    assert a.grad[:, 1].abs().sum() == 0


def test_exactly_feasible_alignment_is_finite() -> None:
    x = torch.randn(5, 1, 3, dtype=D)
    got = LF.ctc_loss(x, torch.tensor([[1, 1, 1]]), torch.tensor([5]), torch.tensor([3]), reduction="none")
    want = _forward_algorithm(x[:, 0], [1, 1, 1], 0)
    assert math.isclose(float(got[0]), want, rel_tol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_is_computed_in_float32(dtype: torch.dtype) -> None:
    x, y, il, tl = _problem(11)
    xh = (x * 2000).to(dtype)  # logits up to ~1e4
    got = LF.ctc_loss(xh, y, il, tl, reduction="none")
    assert got.dtype == torch.float32
    want = LF.ctc_loss(xh.to(D), y, il, tl, reduction="none")
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got.to(D), want, rtol=1e-5, atol=1e-2)


def test_double_backward_raises_a_clear_error() -> None:
    x, y, il, tl = _problem(12)
    a = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(LF.ctc_loss(a, y, il, tl), a, create_graph=True)  # first order works
    (want,) = torch.autograd.grad(_torch(a, y, il, tl, reduction="none").mean(), a)
    torch.testing.assert_close(g, want)
    with pytest.raises(LosscraftError, match="ctc_loss: no double backward"):
        g.pow(2).sum().backward()
    assert losscraft.get("ctc").spec.double_backward


def test_two_classes_learn_and_one_class_raises() -> None:
    x = torch.randn(4, 2, 2, dtype=D, requires_grad=True)
    LF.ctc_loss(x, torch.tensor([[1], [1]]), torch.tensor([4, 3]), torch.tensor([1, 1])).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    with pytest.raises(LosscraftError, match=r"C >= 2"):
        LF.ctc_loss(x[..., :1], torch.tensor([[0], [0]]), torch.tensor([4, 3]), torch.tensor([0, 0]))


def test_empty_batch() -> None:
    x = torch.randn(5, 0, 3, dtype=D, requires_grad=True)
    out = LF.ctc_loss(
        x,
        torch.zeros(0, 2, dtype=torch.long),
        torch.zeros(0, dtype=torch.long),
        torch.zeros(0, dtype=torch.long),
    )
    assert out.item() == 0.0
    out.backward()


def test_curve_is_softplus_of_minus_the_logit() -> None:
    spec = losscraft.get("ctc").spec
    assert spec.curve is not None
    x = torch.linspace(-6, 6, 13, dtype=D)
    torch.testing.assert_close(spec.curve.values(LF.ctc_loss, x), F.softplus(-x))


# --------------------------------------------------------------------------- errors
def _valid():
    return _problem(13, N=3)


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda x, y, il, tl: (x[:, :, :].long(), y, il, tl), r"'input' must be a floating-point tensor"),
        (lambda x, y, il, tl: (x[0], y, il, tl), r"'input' must have shape \(T, N, C\)"),
        (lambda x, y, il, tl: (x, y.double(), il, tl), r"'target' must be an integer tensor"),
        (lambda x, y, il, tl: (x, y[:2], il, tl), r"'target' must be padded \(3, S\) or 1-D"),
        (lambda x, y, il, tl: (x, y, il[:2], tl), r"'input_lengths' must have shape \(3,\)"),
        (lambda x, y, il, tl: (x, y, il.double(), tl), r"'input_lengths' must be an integer tensor"),
        (
            lambda x, y, il, tl: (x, y, [12, 12, 1.5], tl),
            r"'input_lengths' must be an integer tensor or a sequence",
        ),
        (
            lambda x, y, il, tl: (x, y, il + 100, tl),
            r"'input_lengths' must lie in \[0, 12\].*got 1\d\d for sequence 0",
        ),
        (lambda x, y, il, tl: (x, y, il, tl - 10), r"'target_lengths' must be >= 0, got -\d+ for sequence 0"),
        (lambda x, y, il, tl: (x, y, il, tl + 6), r"'target_lengths' must be <= 5 \(the padded target's S\)"),
        (
            lambda x, y, il, tl: (x, torch.zeros(3, 5, dtype=torch.long), il, torch.tensor([1, 0, 0])),
            r"label 0 \(the blank index\)",
        ),
        (
            lambda x, y, il, tl: (x, torch.full((3, 5), 6), il, torch.tensor([1, 0, 0])),
            r"label 6 \(outside the classes\).*\[0, 5\]",
        ),
        (
            lambda x, y, il, tl: (x, torch.tensor([1, 2]), il, torch.tensor([1, 0, 0])),
            r"sum\(target_lengths\) = 1 labels, got 2",
        ),
    ],
)
def test_errors(mutate, match: str) -> None:
    with pytest.raises(LosscraftError, match=match):
        LF.ctc_loss(*mutate(*_valid()))


def test_bad_hyperparameters() -> None:
    x, y, il, tl = _valid()
    with pytest.raises(LosscraftError, match=r"'blank' must be a class index in \[0, 5\], got 6"):
        LF.ctc_loss(x, y, il, tl, blank=6)
    with pytest.raises(LosscraftError, match="blank"):
        LF.ctc_loss(x, y, il, tl, blank=-1)
    with pytest.raises(LosscraftError, match="zero_infinity"):
        LF.ctc_loss(x, y, il, tl, zero_infinity=1)  # type: ignore[arg-type]


def test_padding_is_not_read() -> None:
    x, y, il, tl = _valid()
    y2 = y.clone()
    for i in range(3):
        y2[i, int(tl[i]) :] = -7  # any padding value
    torch.testing.assert_close(
        LF.ctc_loss(x, y2, il, tl, reduction="none"), LF.ctc_loss(x, y, il, tl, reduction="none")
    )


@pytest.mark.parametrize("zero_infinity", [False, True])
def test_compile_path_ops_match_the_eager_function(zero_infinity: bool) -> None:
    """The opaque ops ``torch.compile`` traces give the eager values and gradients (no compile here)."""
    from losscraft.losses.sequence.ctc import _ctc_nll_op

    x, y, il, tl = _problem(14)
    a = x.clone().requires_grad_(True)
    b = x.clone().requires_grad_(True)
    got = _ctc_nll_op(a.log_softmax(-1), y, il, tl, 0, zero_infinity)
    want = LF.ctc_loss(b, y, il, tl, zero_infinity=zero_infinity, reduction="none")
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    up = torch.linspace(0.5, 1.5, len(tl), dtype=D)
    torch.testing.assert_close(torch.autograd.grad(got, a, up)[0], torch.autograd.grad(want, b, up)[0])
