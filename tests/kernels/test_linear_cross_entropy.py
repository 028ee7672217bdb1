"""The chunked kernel of the linear cross-entropy.

How it computes: invariance to the chunk size, the default chunk-size rule, the masked path used
inside ``torch.compile``, gradcheck and the autograd details (retained graph, only the requested
gradients, accumulation, inputs not mutated), and memory: it never materialises the logits.
Values are compared with the composed float64 reference (``F.cross_entropy`` on the
materialised logits, plus the z-loss written out).
"""

from __future__ import annotations

import itertools
import os

import pytest
import torch

from losscraft.losses.classification import linear_cross_entropy_kernel as lce_kernel
from losscraft.losses.classification import linear_cross_entropy_loss
from losscraft.losses.classification.linear_cross_entropy import default_chunk_size
from losses.classification.helpers import TIGHT, D, _gen, _problem, _ref_fn, _value_and_grads


# ---------------------------------------------------------------------------------------- chunking
def test_chunk_size_invariance_float32() -> None:
    """Different chunk sizes give the same value and gradients up to float32 rounding."""
    hidden, weight, bias, target = _problem(6, n=64, h=16, v=300, ignored=(3, 17, 40), dtype=torch.float32)
    results = [
        _value_and_grads(
            linear_cross_entropy_loss,
            hidden,
            weight,
            bias,
            target,
            chunk_size=cs,
            label_smoothing=0.1,
            z_loss=1e-3,
        )
        for cs in (1, 5, 16, 63, 64, 1000, None)
    ]
    for other in results[1:]:
        torch.testing.assert_close(other[0], results[0][0], rtol=1e-5, atol=1e-6)
        for a, b in zip(other[1], results[0][1], strict=True):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


def test_default_chunk_size_rule() -> None:
    f32 = torch.float32
    # H = 1024: a quarter of the weight gradient is H / 4 = 256 tokens (V = 128256); at V = 32000
    # the 32 MiB floor gives slightly more.
    assert default_chunk_size(4096, 128256, 1024, f32) == 256
    assert default_chunk_size(4096, 32000, 1024, f32) == 32 * 2**20 // (32000 * 4) == 262
    # small models: the 32 MiB floor decides (and never more tokens than there are)
    assert default_chunk_size(100_000, 1000, 64, f32) == 32 * 2**20 // (1000 * 4)
    assert default_chunk_size(100, 10, 4, f32) == 100
    assert default_chunk_size(0, 10, 4, f32) == 1
    # float64 elements are twice as large
    assert default_chunk_size(10**6, 100_000, 64, torch.float64) == 32 * 2**20 // (100_000 * 8)


def test_masked_path_matches_compacted_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside torch.compile ignored tokens are computed and zeroed instead of skipped: same result."""
    hidden, weight, bias, target = _problem(7, ignored=(0, 4, 9))
    eager = {
        r: _value_and_grads(
            linear_cross_entropy_loss, hidden, weight, bias, target, chunk_size=4, reduction=r, upstream=None
        )
        for r in ("mean", "sum")
    }
    monkeypatch.setattr(lce_kernel, "is_compiling", lambda: True)
    for r in ("mean", "sum", "none"):
        up = torch.linspace(0.5, 1.5, 13, dtype=D) if r == "none" else None
        got = _value_and_grads(
            linear_cross_entropy_loss, hidden, weight, bias, target, up, chunk_size=4, reduction=r
        )
        ref = _value_and_grads(_ref_fn, hidden, weight, bias, target, up, reduction=r)
        torch.testing.assert_close(got[0], ref[0], **TIGHT)
        for a, b in zip(got[1], ref[1], strict=True):
            torch.testing.assert_close(a, b, **TIGHT)
        if r in eager:
            torch.testing.assert_close(got[0], eager[r][0], **TIGHT)


# -------------------------------------------------------------------------------- autograd details
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gradcheck(reduction: str) -> None:
    hidden, weight, bias, target = _problem(12, n=5, h=3, v=4, ignored=(2,))

    def f(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return linear_cross_entropy_loss(
            h, w, target, bias=b, chunk_size=2, label_smoothing=0.1, z_loss=0.05, reduction=reduction
        )

    inputs = tuple(t.detach().clone().requires_grad_(True) for t in (hidden, weight, bias))
    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_retained_graph_and_upstream_scale(reduction: str) -> None:
    """A second backward through a retained graph gives the same gradients (bit for bit)."""
    hidden, weight, bias, target = _problem(13)
    h, w, b = (t.clone().requires_grad_(True) for t in (hidden, weight, bias))
    out = linear_cross_entropy_loss(
        h, w, target, bias=b, chunk_size=3, reduction=reduction, label_smoothing=0.1
    )
    first = torch.autograd.grad(out, (h, w, b), retain_graph=True)
    second = torch.autograd.grad(out, (h, w, b), retain_graph=True)
    for a, c in zip(first, second, strict=True):
        assert torch.equal(a, c)
    scaled = torch.autograd.grad(out * 2.5, (h, w, b))
    for a, c in zip(first, scaled, strict=True):
        torch.testing.assert_close(c, 2.5 * a, **TIGHT)


def test_only_requested_gradients() -> None:
    """A frozen classifier (weight without grad) or no grad mode at all: same values."""
    hidden, weight, bias, target = _problem(14)
    h = hidden.clone().requires_grad_(True)
    out = linear_cross_entropy_loss(h, weight, target, bias=bias)
    out.backward()
    ref = _value_and_grads(_ref_fn, hidden, weight, bias, target)
    torch.testing.assert_close(out.detach(), ref[0], **TIGHT)
    assert h.grad is not None
    torch.testing.assert_close(h.grad, ref[1][0], **TIGHT)
    with torch.no_grad():
        v = linear_cross_entropy_loss(hidden.requires_grad_(True), weight, target, bias=bias)
    assert not v.requires_grad
    torch.testing.assert_close(v, ref[0], **TIGHT)


def test_gradients_accumulate_into_existing_grad() -> None:
    hidden, weight, _, target = _problem(15)
    w = weight.clone().requires_grad_(True)
    linear_cross_entropy_loss(hidden, w, target).backward()
    g1 = w.grad.clone()
    linear_cross_entropy_loss(hidden, w, target).backward()
    torch.testing.assert_close(w.grad, 2 * g1, **TIGHT)


def test_inputs_not_mutated() -> None:
    hidden, weight, bias, target = _problem(16)
    copies = [t.clone() for t in (hidden, weight, bias, target)]
    for r in ("mean", "none"):
        _value_and_grads(
            linear_cross_entropy_loss, hidden, weight, bias, target, reduction=r, label_smoothing=0.1
        )
    for a, c in zip((hidden, weight, bias, target), copies, strict=True):
        assert torch.equal(a, c)


# ------------------------------------------------------------------------------------------ memory
def _vmhwm_kib() -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_hwm() -> int | None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc high-water mark")
def test_never_materialises_the_logits() -> None:
    """fwd+bwd peak far below one float32 logits tensor (naive: about three of them)."""
    n, h, v = 4096, 64, 16384
    g = _gen(19)
    hidden = torch.empty(n, h).normal_(generator=g).requires_grad_(True)
    weight = torch.empty(v, h).normal_(0, 0.1, generator=g).requires_grad_(True)
    target = torch.randint(0, v, (n,), generator=g)
    small = (
        hidden[:8].detach().clone().requires_grad_(True),
        weight[:32].detach().clone().requires_grad_(True),
    )
    linear_cross_entropy_loss(small[0], small[1], target[:8] % 32, chunk_size=4).backward()  # warm up
    logits_kib = n * v * 4 // 1024
    base = _reset_hwm()
    if base is None:
        pytest.skip("cannot reset the high-water mark")
    linear_cross_entropy_loss(hidden, weight, target, chunk_size=128).backward()
    peak = _vmhwm_kib()
    assert peak is not None
    # weight grad 4 MiB + hidden grad 1 MiB + one 8 MiB chunk (+ allocator slack) vs 256 MiB logits
    assert peak - base < logits_kib // 4, (peak - base, logits_kib)


# ---------------------------------------------------------------- every combination of the options
def test_grid_of_options_small() -> None:
    """Every combination of the options on one tiny problem (float64, sum with random bias)."""
    hidden, weight, bias, target = _problem(20, n=6, h=3, v=5, ignored=(1,))
    for reduction, eps, lam, cs, with_bias in itertools.product(
        ("mean", "sum", "none"), (0.0, 0.3), (0.0, 0.2), (1, 2, 6, 50), (False, True)
    ):
        b = bias if with_bias else None
        kw = {"reduction": reduction, "label_smoothing": eps, "z_loss": lam}
        up = torch.linspace(-1.0, 2.0, 6, dtype=D) if reduction == "none" else None
        got = _value_and_grads(linear_cross_entropy_loss, hidden, weight, b, target, up, chunk_size=cs, **kw)
        ref = _value_and_grads(_ref_fn, hidden, weight, b, target, up, **kw)
        torch.testing.assert_close(got[0], ref[0], **TIGHT)
        for a, c in zip(got[1], ref[1], strict=True):
            torch.testing.assert_close(a, c, **TIGHT)
