"""Higher-order gradients (``create_graph=True``) are exact for every entry, lean paths included.

The lean paths (the chunked elementwise kernels of binary focal / BCE-with-logits / log-cosh,
the softmax focal kernel, the Dice/Jaccard/Tversky sums and the chunked linear cross-entropy)
compute their first-order gradient as a constant buffer. A backward pass with
``create_graph=True`` must instead differentiate the exact formula, never hand back a
detached gradient: ``gradgradcheck`` (float64, at inputs away from kinks) over every entry, the
lean paths forced and checked to be the ones running, and a gradient penalty through the linear
cross-entropy compared with torch's ``cross_entropy`` on the materialised logits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F

import losscraft.functional as LF
from losscraft import LosscraftError, LossEntry
from losscraft._core.kernels import lean_kernels

from lc_helpers import ENTRIES, IDS, diff_positions, sample

D = torch.float64


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _graph_nodes(out: torch.Tensor) -> set[str]:
    """Names of every autograd node reachable from ``out``."""
    seen: set[int] = set()
    names: set[str] = set()
    stack = [out.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        names.add(node.name())
        stack.extend(nxt for nxt, _ in node.next_functions)
    return names


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_gradgradcheck(entry: LossEntry, reduction: str) -> None:
    """Second derivatives of every entry (default path: lean where it applies) are exact."""
    c = sample(entry, 3, seed=11)
    pos = diff_positions(entry, c.args)

    def f(*diff: torch.Tensor) -> torch.Tensor:
        args = list(c.args)
        for i, t in zip(pos, diff, strict=True):
            args[i] = t
        return entry.function(*args, reduction=reduction, **c.kwargs)

    inputs = tuple(c.args[i].detach().clone().requires_grad_(True) for i in pos)
    if entry.spec.double_backward:
        # no second derivative (declared, with the reason): a clear error, never a silent skip
        with pytest.raises(LosscraftError, match="no double backward"):
            torch.autograd.gradgradcheck(f, inputs, eps=1e-6, atol=1e-5, rtol=1e-4)
        return
    if entry.spec.surrogate_gradient:
        # constants of the backward (e.g. detached weights) move under finite differences of the
        # inputs: the double backward differs from the numerical one, as declared
        assert not torch.autograd.gradgradcheck(
            f, inputs, eps=1e-6, atol=1e-5, rtol=1e-4, raise_exception=False
        ), f"{entry.name} declares a surrogate gradient, but its double backward matches"
        return
    assert torch.autograd.gradgradcheck(f, inputs, eps=1e-6, atol=1e-5, rtol=1e-4)


# --------------------------------------------------------------------------- lean paths, forced
def _binary(seed: int, shape: tuple[int, ...] = (4, 5)) -> tuple[torch.Tensor, torch.Tensor]:
    g = _gen(seed)
    x = torch.randn(shape, generator=g, dtype=D) * 2
    t = (torch.rand(shape, generator=g, dtype=D) < 0.4).to(D)
    return x, t


def _weight(seed: int, shape: tuple[int, ...]) -> torch.Tensor:
    return torch.rand(shape, generator=_gen(seed), dtype=D) + 0.25


def _class_index(seed: int, n: int, c: int, *spatial: int, ignore: int | None = None):
    g = _gen(seed)
    x = torch.randn((n, c, *spatial), generator=g, dtype=D) * 2
    t = torch.randint(0, c, (n, *spatial), generator=g)
    if ignore is not None:
        t.view(-1)[::5] = ignore
    return x, t


def _multilabel(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = _gen(seed)
    x = torch.randn(2, 3, 2, 3, generator=g, dtype=D) * 2
    t = (torch.rand(2, 3, 2, 3, generator=g, dtype=D) < 0.5).to(D)
    return x, t


def _lean_cases() -> list[Any]:
    """``(id, function of the differentiable inputs, inputs, lean autograd node, reference)``.

    The reference is a composed formula of the same loss; ``None``: the same function under
    ``lean_kernels(False)``.
    """
    cases: list[Any] = []
    xb, tb = _binary(1)
    wb = _weight(2, (4, 1))
    pw = _weight(3, (5,)) * 2
    xl, yl = _binary(4)
    for red in ("mean", "sum", "none"):
        cases += [
            (
                f"binary_focal-weight-{red}",
                lambda x, r=red: LF.binary_focal_loss(x, tb, gamma=1.5, weight=wb, reduction=r),
                (xb,),
                "_LeanElementwiseBackward",
                None,
            ),
            (
                f"bce_with_logits-pos_weight-smoothing-{red}",
                lambda x, r=red: LF.bce_with_logits_loss(
                    x, tb, pos_weight=pw, label_smoothing=0.1, weight=wb, reduction=r
                ),
                (xb,),
                "_LeanElementwiseBackward",
                None,
            ),
            (
                f"log_cosh-weight-{red}",
                lambda x, r=red: LF.log_cosh_loss(x, yl, weight=wb, reduction=r),
                (xl,),
                "_LeanElementwiseBackward",
                None,
            ),
        ]
    xf, tf = _class_index(5, 3, 4, 5, ignore=-100)
    alpha = _weight(6, (4,))
    for red in ("mean", "none"):
        cases.append(
            (
                f"focal-spatial-alpha-ignore-{red}",
                lambda x, r=red: LF.focal_loss(x, tf, gamma=1.5, alpha=alpha, reduction=r),
                (xf,),
                "_SoftmaxFocalBackward",
                None,
            )
        )
    xm, tm = _class_index(7, 2, 3, 2, 3, ignore=255)
    xs, ts = _multilabel(8)
    overlap = {
        "dice": LF.dice_loss,
        "jaccard": LF.jaccard_loss,
        "tversky": LF.tversky_loss,
        "focal_tversky": LF.focal_tversky_loss,
        "generalized_dice": LF.generalized_dice_loss,
    }
    for name, fn in overlap.items():
        cases += [
            (
                f"{name}-multiclass-ignore",
                lambda x, f=fn: f(x, tm, mode="multiclass", ignore_index=255, reduction="none"),
                (xm,),
                "_SoftmaxSumsBackward",
                None,
            ),
            (
                f"{name}-multilabel",
                lambda x, f=fn: f(x, ts, mode="multilabel", reduction="none"),
                (xs,),
                "_SigmoidSumsBackward",
                None,
            ),
        ]
    g = _gen(9)
    h, w, b = (
        torch.randn(7, 3, generator=g, dtype=D),
        torch.randn(5, 3, generator=g, dtype=D),
        torch.randn(5, dtype=D),
    )
    t = torch.randint(0, 5, (7,), generator=g)
    t[3] = -100
    for red in ("mean", "sum", "none"):
        cases.append(
            (
                f"linear_cross_entropy-bias-smoothing-zloss-chunk2-{red}",
                lambda hh, ww, bb, r=red: LF.linear_cross_entropy_loss(
                    hh, ww, t, bias=bb, label_smoothing=0.1, z_loss=0.01, chunk_size=2, reduction=r
                ),
                (h, w, b),
                "_LinearCrossEntropyBackward",
                lambda hh, ww, bb, r=red: _linear_ce_reference(hh, ww, bb, t, 0.1, 0.01, r),
            )
        )
    return cases


def _linear_ce_reference(
    h: torch.Tensor, w: torch.Tensor, b: torch.Tensor, t: torch.Tensor, eps: float, lam: float, reduction: str
) -> torch.Tensor:
    """torch's label-smoothed cross-entropy on the materialised logits plus the z-loss."""
    z = h @ w.T + b
    keep = t != -100
    ce = F.cross_entropy(z, t, label_smoothing=eps, reduction="none")
    values = ce + lam * torch.where(keep, torch.logsumexp(z, 1), 0.0) ** 2
    if reduction == "none":
        return values
    return values.sum() if reduction == "sum" else values.sum() / keep.sum()


LEAN_CASES = _lean_cases()


@pytest.mark.parametrize(
    ("fn", "inputs", "node", "reference"), [c[1:] for c in LEAN_CASES], ids=[c[0] for c in LEAN_CASES]
)
def test_lean_paths_have_exact_second_derivatives(
    fn: Callable[..., torch.Tensor],
    inputs: tuple[torch.Tensor, ...],
    node: str,
    reference: Callable[..., torch.Tensor] | None,
) -> None:
    leaves = tuple(t.detach().clone().requires_grad_(True) for t in inputs)
    with lean_kernels(True):
        assert node in _graph_nodes(fn(*leaves)), "the lean path must be the one under test"
        assert torch.autograd.gradgradcheck(fn, leaves, eps=1e-6, atol=1e-5, rtol=1e-4)
        # A Hessian-vector product through the lean path equals the composed formula's.
        lean = _hvp(fn, leaves)
    if reference is None:
        with lean_kernels(False):
            assert node not in _graph_nodes(fn(*leaves))
            composed = _hvp(fn, leaves)
    else:
        composed = _hvp(reference, leaves)
    for a, b in zip(lean, composed, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def _hvp(fn: Callable[..., torch.Tensor], leaves: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    out = fn(*leaves)
    up = torch.linspace(0.5, 1.5, out.numel(), dtype=out.dtype).reshape(out.shape)
    grads = torch.autograd.grad(out, leaves, up, create_graph=True)
    penalty = sum((gr * gr).sum() for gr in grads)
    return torch.autograd.grad(penalty, leaves)


# --------------------------------------------------------------------------- gradient penalty
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
@pytest.mark.parametrize("chunk_size", [None, 2])
def test_linear_cross_entropy_gradient_penalty_matches_torch(
    reduction: str, label_smoothing: float, chunk_size: int | None
) -> None:
    """A gradient penalty ``sum ||d loss / d theta||^2`` and its gradient equal torch's."""
    g = _gen(12)
    hidden = torch.randn(6, 4, generator=g, dtype=D)
    weight = torch.randn(7, 4, generator=g, dtype=D)
    bias = torch.randn(7, generator=g, dtype=D)
    target = torch.randint(0, 7, (6,), generator=g)
    target[1] = -100  # an ignored token

    def ours(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return LF.linear_cross_entropy_loss(
            h, w, target, bias=b, label_smoothing=label_smoothing, chunk_size=chunk_size, reduction=reduction
        )

    def torchs(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(h @ w.T + b, target, label_smoothing=label_smoothing, reduction=reduction)

    def penalty(fn: Callable[..., torch.Tensor]) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        leaves = tuple(t.clone().requires_grad_(True) for t in (hidden, weight, bias))
        out = fn(*leaves)
        up = torch.linspace(0.5, 1.5, out.numel(), dtype=D).reshape(out.shape)  # "none": non-uniform
        grads = torch.autograd.grad(out, leaves, up, create_graph=True)
        pen = sum((gr * gr).sum() for gr in grads)
        return pen.detach(), torch.autograd.grad(pen, leaves)

    pen, grads = penalty(ours)
    pen_t, grads_t = penalty(torchs)
    torch.testing.assert_close(pen, pen_t, rtol=1e-10, atol=1e-12)
    for name, a, b in zip(("hidden", "weight", "bias"), grads, grads_t, strict=True):
        torch.testing.assert_close(
            a, b, rtol=1e-10, atol=1e-12, msg=lambda m, n=name: f"d penalty / d {n}: {m}"
        )
