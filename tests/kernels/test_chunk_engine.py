"""The chunk engine of the lean elementwise kernels (``losscraft._core.kernels``).

Run through the binary focal, BCE-with-logits and Log-Cosh kernels: gradcheck and higher order,
chunk boundaries and shapes, precision, the fall-backs to the composed formula (target requiring
grad, ``torch.func`` transforms, inference mode, the ``lean_kernels`` switch), threads and forked
workers. Most comparisons run with a tiny chunk size so that chunk boundaries, tiled per-label
operands and partial last chunks are all exercised on small tensors.
"""

from __future__ import annotations

import math
import threading

import pytest
import torch

import losscraft.functional as LF
from kernels.helpers import (
    HALF,
    LEAN,
    REDUCTIONS,
    D,
    _close,
    _data,
    _focal_ref,
    _gen,
    _reduce,
    _upstream,
    _value_grad_and_fn,
)
from losscraft import LosscraftError
from losscraft._core.kernels import DEFAULT_CHUNK, lean_kernels, use_lean


# ------------------------------------------------------------------------- gradcheck, higher order
def _gradcheck_inputs(seed: int, shape=(3, 5)):
    x, t = _data(seed, shape)
    return x.clone().requires_grad_(True), t.clamp(0.05, 0.95)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck_lean_paths(reduction: str) -> None:
    x, t = _gradcheck_inputs(10)
    w = torch.rand(3, 1, generator=_gen(11), dtype=D) + 0.5
    pw = torch.tensor([1.0, 2.0, 0.5, 3.0, 1.5], dtype=D)
    cases = [
        lambda a: LF.binary_focal_loss(a, t, gamma=2.0, alpha=0.3, weight=w, reduction=reduction),
        lambda a: LF.binary_focal_loss(a, t, gamma=0.4, alpha=None, reduction=reduction),
        lambda a: LF.bce_with_logits_loss(
            a, t, pos_weight=pw, label_smoothing=0.1, weight=w, reduction=reduction
        ),
        lambda a: LF.bce_with_logits_loss(a, t, reduction=reduction),
        lambda a: LF.log_cosh_loss(a, t * 3, weight=w, reduction=reduction),
    ]
    with lean_kernels(chunk=4):
        for f in cases:
            assert f(x).grad_fn.name() == LEAN
            assert torch.autograd.gradcheck(f, (x,), eps=1e-6, atol=1e-7, rtol=1e-6)


def test_double_backward_falls_back_to_composed_and_is_exact() -> None:
    x, t = _gradcheck_inputs(12)
    cases = [
        lambda a: LF.binary_focal_loss(a, t, gamma=2.0, alpha=0.25),
        lambda a: LF.bce_with_logits_loss(a, t, label_smoothing=0.1, pos_weight=torch.tensor([2.0], dtype=D)),
        lambda a: LF.log_cosh_loss(a, t),
    ]
    for f in cases:
        assert f(x).grad_fn.name() == LEAN
        assert torch.autograd.gradgradcheck(f, (x,), eps=1e-6, atol=1e-6, rtol=1e-5)
        # create_graph=True gives the composed path's gradient (up to rounding) and Hessian
        (g,) = torch.autograd.grad(f(x), x, create_graph=True)
        (h,) = torch.autograd.grad(g.sum(), x)
        with lean_kernels(False):
            (g2,) = torch.autograd.grad(f(x), x, create_graph=True)
            (h2,) = torch.autograd.grad(g2.sum(), x)
        torch.testing.assert_close(g, g2, rtol=1e-12, atol=1e-15)
        torch.testing.assert_close(h, h2, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_second_backward_with_retain_graph_is_bitwise_identical(reduction: str) -> None:
    x, t = _data(13, (40,))
    x.requires_grad_(True)
    up = _upstream(x.shape) if reduction == "none" else torch.tensor(3.0, dtype=D)
    with lean_kernels(chunk=9):
        out = LF.binary_focal_loss(x, t, gamma=1.5, reduction=reduction)
    (g1,) = torch.autograd.grad(out, x, up, retain_graph=True)
    (g2,) = torch.autograd.grad(out, x, up, retain_graph=True)
    (g3,) = torch.autograd.grad(out, x, up * 2)
    assert torch.equal(g1, g2)
    torch.testing.assert_close(g3, 2 * g1, rtol=1e-15, atol=0)


# ----------------------------------------------------------------------------- shapes and chunking
@pytest.mark.parametrize("chunk", [16, DEFAULT_CHUNK])
@pytest.mark.parametrize("delta", [-1, 0, 1])
def test_chunk_boundaries(chunk: int, delta: int) -> None:
    n = chunk + delta
    x = torch.randn(n, generator=_gen(14), dtype=D) * 3
    t = (torch.rand(n, generator=_gen(15), dtype=D) > 0.5).to(D)
    up = _upstream(x.shape)
    with lean_kernels(chunk=chunk):
        for red in REDUCTIONS:
            u = up if red == "none" else None
            got = _value_grad_and_fn(LF.binary_focal_loss, x, t, u, reduction=red)
            want = _value_grad_and_fn(lambda a, b, r=red: _reduce(_focal_ref(a, b, 2.0, 0.25), r), x, t, u)
            _close(got[:2], want[:2])


@pytest.mark.parametrize("n", [0, 1])
def test_tiny_and_empty_inputs(n: int) -> None:
    x = torch.full((n,), 0.7, dtype=D, requires_grad=True)
    t = torch.ones(n, dtype=D)
    for fn in (LF.binary_focal_loss, LF.bce_with_logits_loss, LF.log_cosh_loss):
        for red in ("mean", "sum"):
            x.grad = None
            out = fn(x, t, reduction=red)
            assert out.grad_fn.name() == LEAN and out.dim() == 0
            out.backward()
            assert x.grad is not None and x.grad.shape == (n,) and torch.isfinite(x.grad).all()
            if n == 0:
                assert out.item() == 0.0
        assert fn(x, t, reduction="none").shape == (n,)
    # all-zero weights: the weighted mean is 0, not NaN, with zero gradients
    x.grad = None
    out = LF.binary_focal_loss(x, t, weight=torch.zeros(n, dtype=D))
    out.backward()
    assert out.item() == 0.0 and (x.grad == 0).all()


def test_non_contiguous_inputs() -> None:
    x, t = _data(19, (7, 6))
    xt, tt = x.t(), t.t()  # (6, 7), non-contiguous
    w = torch.rand(7, 6, generator=_gen(20), dtype=D).t()
    assert not xt.is_contiguous() and not w.is_contiguous()
    up = _upstream(xt.shape)
    for fn, kw in [
        (LF.binary_focal_loss, {"gamma": 2.0}),
        (LF.bce_with_logits_loss, {"pos_weight": torch.rand(7, generator=_gen(21), dtype=D)}),
        (LF.log_cosh_loss, {}),
    ]:
        with lean_kernels(chunk=5):
            got = _value_grad_and_fn(fn, xt, tt, up, weight=w, reduction="none", **kw)
        with lean_kernels(False):
            want = _value_grad_and_fn(
                fn, xt.contiguous(), tt.contiguous(), up, weight=w.contiguous(), reduction="none", **kw
            )
        assert got[2].name() == LEAN
        _close(got[:2], want[:2], rtol=1e-12, atol=1e-15)
        assert got[1].shape == xt.shape


def test_mixed_dtypes_compute_in_the_wider_one() -> None:
    x, t = _data(22)
    x32 = x.float()
    out, g, fn = _value_grad_and_fn(LF.binary_focal_loss, x32, t)  # float32 input, float64 target
    assert fn.name() == LEAN and out.dtype == D and g.dtype == torch.float32
    ref, gref, _ = _value_grad_and_fn(LF.binary_focal_loss, x32.double(), t)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=0)
    torch.testing.assert_close(g, gref.float())


# --------------------------------------------------------------------------------------- precision
@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("name", ["focal", "bce", "bce_pw", "log_cosh"])
def test_half_precision_is_float32_compute_and_input_dtype_gradient(dtype: torch.dtype, name: str) -> None:
    fn, kw = {
        "focal": (LF.binary_focal_loss, {"gamma": 2.0, "alpha": 0.25}),
        "bce": (LF.bce_with_logits_loss, {"label_smoothing": 0.05}),
        "bce_pw": (LF.bce_with_logits_loss, {"pos_weight": torch.tensor([4.0, 1.0, 0.5, 2.0, 9.0])}),
        "log_cosh": (LF.log_cosh_loss, {}),
    }[name]
    x, t = _data(23, (300, 5), dtype=dtype)
    w = torch.rand(300, 1, generator=_gen(24)) * 10
    xd, td = x.double(), t.double()  # the same (rounded) values in float64
    for red in REDUCTIONS:
        with lean_kernels(chunk=64):
            out = fn(x, t, weight=w, reduction=red, **kw)
        assert out.dtype == torch.float32
        ref = fn(xd, td, weight=w.double(), reduction=red, **kw)
        torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-6)
    for scale in (1.0, 65536.0):  # 65536: a GradScaler-like upstream gradient
        with lean_kernels(chunk=64):
            got = _value_grad_and_fn(fn, x, t, torch.tensor(scale), weight=w, **kw)
        want = _value_grad_and_fn(fn, xd, td, torch.tensor(scale, dtype=D), weight=w.double(), **kw)
        assert got[2].name() == LEAN and got[1].dtype == dtype
        tol = 1e-2 if dtype is torch.bfloat16 else 2e-3
        torch.testing.assert_close(got[1].double(), want[1], rtol=tol, atol=tol * want[1].abs().max().item())


def test_float16_gradient_of_a_large_mean_does_not_underflow_before_scaling() -> None:
    # 1/N = 2e-6 is below float16's normal range: the buffer keeps the O(1) gradient and the
    # 1/N is applied together with grad_output, so a scaled backward is as accurate as float32.
    n = 500_000
    x = torch.randn(n, generator=_gen(25)).half()
    t = (torch.rand(n, generator=_gen(26)) > 0.5).half()
    got = _value_grad_and_fn(LF.binary_focal_loss, x, t, torch.tensor(2.0**16))
    want = _value_grad_and_fn(LF.binary_focal_loss, x.float(), t.float(), torch.tensor(2.0**16))
    torch.testing.assert_close(got[1].float(), want[1], rtol=2e-3, atol=1e-3 * want[1].abs().max().item())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, *HALF])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_extreme_logits_are_finite_and_exact(dtype: torch.dtype, reduction: str) -> None:
    x = torch.tensor([1e4, -1e4, 1e4, -1e4, 1e4, -1e4, 0.0], dtype=dtype)
    t = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.5, 0.2, 1.0], dtype=dtype)
    up = torch.ones(7, dtype=torch.float32) if reduction == "none" else None
    for fn, kw in [
        (LF.binary_focal_loss, {"gamma": 2.0}),
        (LF.binary_focal_loss, {"gamma": 0.3, "alpha": None}),
        (LF.bce_with_logits_loss, {"label_smoothing": 0.1, "pos_weight": torch.tensor([2.0])}),
        (LF.log_cosh_loss, {}),
    ]:
        v, g, gfn = _value_grad_and_fn(fn, x, t, up, reduction=reduction, **kw)
        assert gfn.name() == LEAN
        assert torch.isfinite(v).all() and torch.isfinite(g).all()
        with lean_kernels(False):
            v2, g2, _ = _value_grad_and_fn(fn, x, t, up, reduction=reduction, **kw)
        torch.testing.assert_close(v, v2, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(g, g2, rtol=1e-3, atol=1e-6)
    v, g, _ = _value_grad_and_fn(LF.binary_focal_loss, x, t, torch.ones(7), reduction="none")
    assert v[0].item() == 0.0 and v[1].item() == 0.0 and g[0].item() == 0.0 and g[1].item() == 0.0


# -------------------------------------------------------------------------------------- fall-backs
def test_target_requiring_grad_uses_the_composed_path() -> None:
    x, t = _data(27)
    t = t.clamp(0.05, 0.95)
    for fn in (LF.binary_focal_loss, LF.bce_with_logits_loss, LF.log_cosh_loss):
        a = x.clone().requires_grad_(True)
        b = t.clone().requires_grad_(True)
        out = fn(a, b)
        assert out.grad_fn.name() != LEAN
        out.backward()
        assert b.grad is not None and b.grad.abs().sum() > 0
        # the input gradient agrees with the lean path's
        _, g, gfn = _value_grad_and_fn(fn, x, t)
        assert gfn.name() == LEAN
        torch.testing.assert_close(a.grad, g, rtol=1e-12, atol=1e-15)
    # learned weights: composed as well, and the weight gets its gradient
    w = torch.ones(6, 7, dtype=D, requires_grad=True)
    out = LF.binary_focal_loss(x.requires_grad_(), t, weight=w)
    assert out.grad_fn.name() != LEAN
    out.backward()
    assert w.grad is not None and w.grad.abs().sum() > 0


def test_functorch_transforms_use_the_composed_path() -> None:
    x, t = _data(28, (5,))
    g = torch.func.grad(lambda a: LF.binary_focal_loss(a, t))(x)
    _, want, _ = _value_grad_and_fn(LF.binary_focal_loss, x, t)
    torch.testing.assert_close(g, want, rtol=1e-12, atol=1e-15)
    batched = torch.func.vmap(lambda a: LF.bce_with_logits_loss(a, t))(x.expand(3, 5))
    torch.testing.assert_close(batched, LF.bce_with_logits_loss(x, t).expand(3))


def test_inference_path_and_switch() -> None:
    x, t = _data(29)
    with torch.no_grad():
        out = LF.binary_focal_loss(x.requires_grad_(), t)
    assert out.grad_fn is None
    with lean_kernels(False):
        assert not use_lean(x)
        ref = LF.binary_focal_loss(x, t)
    torch.testing.assert_close(out, ref.detach(), rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match="'chunk' must be >= 1"), lean_kernels(chunk=0):
        pass


def test_results_do_not_depend_on_the_thread_count() -> None:
    x, t = _data(30, (4000,))
    outs = []
    before = torch.get_num_threads()
    try:
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            with lean_kernels(chunk=100):
                outs.append(_value_grad_and_fn(LF.binary_focal_loss, x, t))
    finally:
        torch.set_num_threads(before)
    for o in outs[1:]:
        assert torch.equal(o[0], outs[0][0]) and torch.equal(o[1], outs[0][1])


def test_concurrent_calls_from_several_threads() -> None:
    x, t = _data(31, (3000,))
    with lean_kernels(chunk=64):
        want = _value_grad_and_fn(LF.bce_with_logits_loss, x, t)
        results: list[tuple[torch.Tensor, ...]] = []

        def call() -> None:
            results.append(_value_grad_and_fn(LF.bce_with_logits_loss, x, t))

        threads = [threading.Thread(target=call) for _ in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    assert len(results) == 4
    for r in results:
        assert torch.equal(r[0], want[0]) and torch.equal(r[1], want[1])


# ---------------------------------------------------------------------------- relations and checks
def test_fast_target_check_keeps_the_messages() -> None:
    x = torch.zeros(4)
    for bad, shown in [
        (torch.tensor([0.0, 1.5, 0.2, 0.1]), "1.5"),
        (torch.tensor([0.0, math.nan, 0.2, 0.1]), "nan"),
    ]:
        for fn in (LF.binary_focal_loss, LF.bce_with_logits_loss):
            with pytest.raises(
                LosscraftError,
                match=rf"{fn.__name__}: 'target' must contain targets in \[0, 1\], got {shown}",
            ):
                fn(x, bad)


def test_worker_pool_leaves_thread_settings_alone() -> None:
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(3)
        x, t = _data(35, (20000,))
        with lean_kernels(chunk=1000):
            LF.binary_focal_loss(x.requires_grad_(), t).backward()
        assert torch.get_num_threads() == 3
        seen: list[int] = []
        th = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
        th.start()
        th.join()
        assert seen == [3]  # the default for threads created later is intact
    finally:
        torch.set_num_threads(before)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_forked_child_gets_a_fresh_pool() -> None:
    import multiprocessing as mp

    x, t = _data(36, (5000,))
    with lean_kernels(chunk=500):
        want = LF.bce_with_logits_loss(x, t)  # the parent's pool exists now
    ctx = mp.get_context("fork")
    with ctx.Pool(1) as pool:
        got = pool.apply_async(_child_loss, (x, t)).get(timeout=120)
    assert torch.equal(got, want)


def _child_loss(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    torch.set_num_threads(2)
    with lean_kernels(chunk=500):
        return LF.bce_with_logits_loss(x, t)
