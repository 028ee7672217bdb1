"""Registry-wide numerical stability: extreme inputs, float16/bfloat16 against float64."""

from __future__ import annotations

import pytest
import torch

from losscraft import InputKind, LossEntry

from lc_helpers import ENTRIES, IDS, cast, sample, with_grad


def _extreme(entry: LossEntry, scale: float, seed: int = 5):
    """Inputs pushed to magnitude ``scale``: logits of +-scale, residuals of ~scale.

    ``scale`` is capped at the spec's ``extreme`` (e.g. Poisson log-rates, whose loss is
    ``exp(input)`` and overflows float32 beyond ~88 whatever the implementation).
    """
    scale = min(scale, entry.spec.extreme)
    c = sample(entry, 4, seed=seed)
    args = list(c.args)
    kind = entry.spec.input_kind
    if kind is InputKind.LOGITS:
        args[0] = torch.sign(args[0]) * scale
    elif kind is InputKind.REAL:
        args[0] = args[0] * scale
    elif kind is InputKind.EMBEDDINGS:
        args = [
            a * scale if a.is_floating_point() and n != "target" else a
            for a, n in zip(args, entry.spec.inputs, strict=True)
        ]
    elif kind is InputKind.COSINES:  # cosines of exactly +-1 (e.g. ArcFace's acos edge)
        args[0] = torch.where(args[0] >= 0, 1.0, -1.0).to(args[0].dtype)
    else:  # probabilities: exactly 0 and 1
        args[0] = (args[0] > 0.5).to(args[0].dtype)
    return tuple(args), c.kwargs


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_finite_at_extremes(entry: LossEntry, dtype: torch.dtype, reduction: str) -> None:
    """Value and gradient finite at logits/residuals of +-1e4.

    The value is float32 and must be finite. A half-precision gradient must be finite wherever
    the true gradient fits the dtype (fp16 max 65504): where the float64 gradient on the same
    inputs is larger, overflow is the dtype's limit, not the loss's (GradScaler skips the step).
    """
    args, kwargs = _extreme(entry, 1e4)
    args = with_grad(entry, cast(args, dtype))
    out = entry.function(*args, reduction=reduction, **kwargs)
    assert torch.isfinite(out).all(), out
    out.sum().backward()
    ref_args = with_grad(entry, cast(tuple(a.detach() for a in args), torch.float64))
    entry.function(*ref_args, reduction=reduction, **kwargs).sum().backward()
    for a, r in zip(args, ref_args, strict=True):
        if a.requires_grad:
            assert a.grad is not None and r.grad is not None
            representable = r.grad.abs() <= torch.finfo(dtype).max
            assert torch.isfinite(a.grad[representable]).all()


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("scale", [1.0, 1e4])
def test_half_precision_matches_float64(entry: LossEntry, dtype: torch.dtype, scale: float) -> None:
    """Half inputs are computed in float32: the only error left is float32 arithmetic.

    The float64 reference is evaluated on the *same* (half-rounded) input values, so the
    tolerance measures the computation, not the rounding of the inputs: rtol 1e-5.
    """
    args, kwargs = (
        _extreme(entry, scale)
        if scale != 1.0
        else (sample(entry, 6, seed=9).args, sample(entry, 6, seed=9).kwargs)
    )
    half = cast(args, dtype)
    ref_args = cast(half, torch.float64)
    for reduction in ("none", "mean"):
        out = entry.function(*half, reduction=reduction, **kwargs)
        ref = entry.function(*ref_args, reduction=reduction, **kwargs)
        assert out.dtype == torch.float32
        torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-5)
    hx = with_grad(entry, half)
    rx = with_grad(entry, ref_args)
    entry.function(*hx, **kwargs).backward()
    entry.function(*rx, **kwargs).backward()
    for a, b in zip(hx, rx, strict=True):
        if a.requires_grad:
            assert a.grad is not None and b.grad is not None
            assert a.grad.dtype == dtype
            # the gradient is rounded back to the input's half dtype
            tol = 1e-2 if dtype is torch.bfloat16 else 2e-3
            fits = b.grad.abs() <= torch.finfo(dtype).max  # see test_finite_at_extremes
            got, want = a.grad.double()[fits], b.grad[fits]
            if want.numel() == 0:
                continue
            torch.testing.assert_close(got, want, rtol=tol, atol=tol * want.abs().max().item() + 1e-6)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_float32_matches_float64(entry: LossEntry) -> None:
    c = sample(entry, 6, seed=21)
    out32 = entry.function(*cast(c.args, torch.float32), reduction="none", **c.kwargs)
    ref = entry.function(*cast(cast(c.args, torch.float32), torch.float64), reduction="none", **c.kwargs)
    torch.testing.assert_close(out32.double(), ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_non_contiguous_and_batch_one(entry: LossEntry) -> None:
    c = sample(entry, 1)
    out = entry.function(*c.args, reduction="none", **c.kwargs)
    assert torch.isfinite(out).all()
    c = sample(entry, 4)
    nc = tuple(a.transpose(0, -1).contiguous().transpose(0, -1) if a.dim() >= 2 else a for a in c.args)
    assert any(not a.is_contiguous() for a in nc if a.dim() >= 2) or all(a.dim() < 2 for a in c.args)
    torch.testing.assert_close(
        entry.function(*nc, reduction="none", **c.kwargs),
        entry.function(*c.args, reduction="none", **c.kwargs),
    )
