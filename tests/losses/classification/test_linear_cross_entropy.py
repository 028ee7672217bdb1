"""linear_cross_entropy: equal to ``F.cross_entropy(hidden @ weight.T + bias)``.

Every test compares values *and* the gradients of hidden, weight and bias with the composed
float64 reference (``F.cross_entropy`` on the materialised logits, plus the z-loss written out),
over reductions, ``ignore_index``, label smoothing, z-loss and bias. How the chunked kernel
computes (chunk sizes, the compiled path, autograd, memory): ``tests/kernels/test_linear_cross_entropy.py``.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import losscraft
from losscraft import LosscraftError
from losscraft.losses.classification import LinearCrossEntropyLoss, linear_cross_entropy_loss
from losses.classification.helpers import IGN, TIGHT, D, _gen, _problem, _ref_fn, _value_and_grads


# ---------------------------------------------------------------- parity with the composed formula
def _explicit(hidden, weight, bias, target, *, label_smoothing, z_loss):
    """Per-token float64 formula written out: lse - (1-eps) z_y - eps/V sum z + lambda lse^2."""
    z = hidden @ weight.T + (0 if bias is None else bias)
    v = z.shape[1]
    out = []
    for i in range(z.shape[0]):
        if int(target[i]) == IGN:
            out.append(torch.zeros((), dtype=z.dtype))
            continue
        lse = torch.log(torch.exp(z[i] - z[i].max()).sum()) + z[i].max()
        zy = z[i, int(target[i])]
        out.append(lse - (1 - label_smoothing) * zy - label_smoothing / v * z[i].sum() + z_loss * lse**2)
    return torch.stack(out)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize("chunk_size", [1, 7, 13, 100, None])
def test_matches_cross_entropy_of_logits(reduction: str, with_bias: bool, chunk_size: int | None) -> None:
    hidden, weight, bias, target = _problem(0)
    bias = bias if with_bias else None
    up = torch.rand(target.shape, generator=_gen(9), dtype=D) + 0.25 if reduction == "none" else None
    kw = {"reduction": reduction}
    got = _value_and_grads(
        linear_cross_entropy_loss, hidden, weight, bias, target, up, chunk_size=chunk_size, **kw
    )
    ref = _value_and_grads(_ref_fn, hidden, weight, bias, target, up, **kw)
    torch.testing.assert_close(got[0], ref[0], **TIGHT)
    assert len(got[1]) == len(ref[1]) == (3 if with_bias else 2)
    for a, b in zip(got[1], ref[1], strict=True):
        torch.testing.assert_close(a, b, **TIGHT)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(("label_smoothing", "z_loss"), [(0.1, 0.0), (0.0, 1e-2), (0.25, 0.3), (1.0, 0.0)])
@pytest.mark.parametrize("chunk_size", [1, 4, None])
def test_label_smoothing_and_z_loss(
    reduction: str, label_smoothing: float, z_loss: float, chunk_size: int | None
) -> None:
    hidden, weight, bias, target = _problem(1)
    up = torch.rand(target.shape, generator=_gen(3), dtype=D) - 0.3 if reduction == "none" else None
    kw = {"reduction": reduction, "label_smoothing": label_smoothing, "z_loss": z_loss}
    got = _value_and_grads(
        linear_cross_entropy_loss, hidden, weight, bias, target, up, chunk_size=chunk_size, **kw
    )
    ref = _value_and_grads(_ref_fn, hidden, weight, bias, target, up, **kw)
    torch.testing.assert_close(got[0], ref[0], **TIGHT)
    for a, b in zip(got[1], ref[1], strict=True):
        torch.testing.assert_close(a, b, **TIGHT)


def test_explicit_float64_formula() -> None:
    """Label smoothing and z-loss against the formula written out token by token (not torch's CE)."""
    hidden, weight, bias, target = _problem(2)
    for eps, lam in [(0.0, 0.0), (0.2, 0.0), (0.0, 0.05), (0.3, 0.1)]:
        per = linear_cross_entropy_loss(
            hidden, weight, target, bias=bias, label_smoothing=eps, z_loss=lam, reduction="none"
        )
        ref = _explicit(hidden, weight, bias, target, label_smoothing=eps, z_loss=lam)
        torch.testing.assert_close(per, ref, **TIGHT)
        mean = linear_cross_entropy_loss(hidden, weight, target, bias=bias, label_smoothing=eps, z_loss=lam)
        torch.testing.assert_close(mean, ref.sum() / (target != IGN).sum(), **TIGHT)


def test_mean_uses_global_count_of_non_ignored_tokens() -> None:
    """Chunks with very different numbers of ignored tokens: still sum / (global count)."""
    hidden, weight, _, target = _problem(3, n=12, ignored=(0, 1, 2, 3, 4, 5, 6))
    per = linear_cross_entropy_loss(hidden, weight, target, reduction="none")
    for cs in (1, 3, 4, 12):
        mean = linear_cross_entropy_loss(hidden, weight, target, chunk_size=cs)
        torch.testing.assert_close(mean, per.sum() / 5, **TIGHT)
    assert (per[:7] == 0).all()


def test_custom_ignore_index() -> None:
    hidden, weight, bias, target = _problem(4, ignored=())
    target[[1, 4]] = 3  # a real class used as the ignore value
    got = _value_and_grads(linear_cross_entropy_loss, hidden, weight, bias, target, ignore_index=3)
    ref = _value_and_grads(_ref_fn, hidden, weight, bias, target, ignore_index=3)
    torch.testing.assert_close(got[0], ref[0], **TIGHT)
    for a, b in zip(got[1], ref[1], strict=True):
        torch.testing.assert_close(a, b, **TIGHT)


def test_batched_hidden_shape() -> None:
    """(B, T, H) hidden states with (B, T) targets; "none" returns (B, T)."""
    g = _gen(5)
    hidden = torch.randn(2, 5, 4, generator=g, dtype=D)
    weight = torch.randn(9, 4, generator=g, dtype=D)
    target = torch.randint(0, 9, (2, 5), generator=g)
    target[1, 3] = IGN
    for reduction in ("none", "mean", "sum"):
        up = torch.rand(2, 5, generator=g, dtype=D) if reduction == "none" else None
        got = _value_and_grads(
            linear_cross_entropy_loss, hidden, weight, None, target, up, chunk_size=3, reduction=reduction
        )
        ref = _value_and_grads(_ref_fn, hidden, weight, None, target, up, reduction=reduction)
        assert got[0].shape == ref[0].shape
        torch.testing.assert_close(got[0], ref[0], **TIGHT)
        for a, b in zip(got[1], ref[1], strict=True):
            torch.testing.assert_close(a, b, **TIGHT)


# --------------------------------------------------------------------------------------- precision
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_half_inputs_computed_in_float32(dtype: torch.dtype, reduction: str) -> None:
    """Half inputs: float32 accumulation, float32 result; float64 on the same rounded values agrees."""
    hidden, weight, bias, target = _problem(8, n=40, h=32, v=500, dtype=dtype)
    up = torch.rand(target.shape, generator=_gen(1)) if reduction == "none" else None
    got = _value_and_grads(
        linear_cross_entropy_loss,
        hidden,
        weight,
        bias,
        target,
        up,
        chunk_size=7,
        reduction=reduction,
        label_smoothing=0.1,
    )
    assert got[0].dtype == torch.float32
    assert [g.dtype for g in got[1]] == [dtype, dtype, dtype]
    ref = _value_and_grads(
        _ref_fn,
        hidden.double(),
        weight.double(),
        bias.double(),
        target,
        None if up is None else up.double(),
        reduction=reduction,
        label_smoothing=0.1,
    )
    # the value is float32 arithmetic on exact (half) inputs: float32 tolerance
    torch.testing.assert_close(got[0].double(), ref[0], rtol=1e-5, atol=1e-5)
    tol = 1e-2 if dtype is torch.bfloat16 else 2e-3  # the gradient is rounded back to the half dtype
    for a, b in zip(got[1], ref[1], strict=True):
        torch.testing.assert_close(a.double(), b, rtol=tol, atol=tol * b.abs().max().item())


def test_mixed_dtypes() -> None:
    """bfloat16 hidden states with a float32 classifier: computed in float32, grads in each dtype."""
    hidden, weight, _, target = _problem(9)
    h16 = hidden.to(torch.bfloat16)
    got = _value_and_grads(linear_cross_entropy_loss, h16, weight.float(), None, target)
    assert got[0].dtype == torch.float32
    assert got[1][0].dtype == torch.bfloat16 and got[1][1].dtype == torch.float32
    ref = _value_and_grads(_ref_fn, h16.double(), weight.float().double(), None, target)
    torch.testing.assert_close(got[0].double(), ref[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(got[1][1].double(), ref[1][1], rtol=1e-5, atol=1e-6)


def test_large_logits_finite() -> None:
    hidden, weight, bias, target = _problem(10, dtype=torch.float32)
    for scale in (1e2, 1e3):
        got = _value_and_grads(
            linear_cross_entropy_loss,
            hidden * scale,
            weight * scale,
            bias,
            target,
            z_loss=1e-4,
            label_smoothing=0.1,
        )
        assert torch.isfinite(got[0]).all()
        assert all(torch.isfinite(g).all() for g in got[1])


# --------------------------------------------------------------------------- empty and all-ignored
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_all_ignored_is_zero_with_zero_grads(reduction: str) -> None:
    hidden, weight, bias, target = _problem(11, n=6, ignored=tuple(range(6)))
    out, grads = _value_and_grads(
        linear_cross_entropy_loss,
        hidden,
        weight,
        bias,
        target,
        reduction=reduction,
        z_loss=0.1,
        label_smoothing=0.2,
    )
    assert out.item() == 0.0
    for g in grads:
        assert torch.isfinite(g).all() and (g == 0).all()
    h = hidden.clone().requires_grad_(True)
    attached = linear_cross_entropy_loss(h, weight, target, reduction=reduction)
    assert attached.requires_grad
    none = linear_cross_entropy_loss(hidden, weight, target, reduction="none")
    assert none.shape == (6,) and (none == 0).all()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_empty_batch(reduction: str) -> None:
    hidden = torch.zeros(0, 4, dtype=D, requires_grad=True)
    weight = torch.randn(7, 4, dtype=D, requires_grad=True)
    bias = torch.randn(7, dtype=D, requires_grad=True)
    out = linear_cross_entropy_loss(
        hidden, weight, torch.zeros(0, dtype=torch.long), bias=bias, reduction=reduction
    )
    if reduction == "none":
        assert out.shape == (0,)
        out.sum().backward()
    else:
        assert out.dim() == 0 and out.item() == 0.0 and out.requires_grad
        out.backward()
    assert weight.grad is not None and (weight.grad == 0).all()
    assert bias.grad is not None and (bias.grad == 0).all()
    assert hidden.grad is not None and hidden.grad.shape == (0, 4)


# ------------------------------------------------------------------------------------------ Module
def test_module_holds_hyperparameters_and_takes_bias_at_call() -> None:
    hidden, weight, bias, target = _problem(17)
    m = LinearCrossEntropyLoss(label_smoothing=0.1, z_loss=1e-3, chunk_size=4, reduction="sum")
    torch.testing.assert_close(
        m(hidden, weight, target, bias=bias),
        linear_cross_entropy_loss(
            hidden, weight, target, bias=bias, label_smoothing=0.1, z_loss=1e-3, reduction="sum"
        ),
        **TIGHT,
    )
    cfg = m.get_config()
    assert cfg == {
        "name": "linear_cross_entropy",
        "ignore_index": -100,
        "label_smoothing": 0.1,
        "z_loss": 1e-3,
        "chunk_size": 4,
        "reduction": "sum",
    }
    assert losscraft.build(cfg).get_config() == cfg
    assert losscraft.get("linear_ce").module is LinearCrossEntropyLoss
    assert losscraft.LinearCrossEntropyLoss is LinearCrossEntropyLoss
    assert losscraft.functional.linear_cross_entropy_loss is linear_cross_entropy_loss


def test_module_with_lm_head() -> None:
    """Typical use: an nn.Linear head's parameters, gradients reach them."""
    torch.manual_seed(0)
    head = torch.nn.Linear(8, 20, dtype=D)
    hidden = torch.randn(3, 7, 8, dtype=D, requires_grad=True)
    target = torch.randint(0, 20, (3, 7))
    loss = LinearCrossEntropyLoss(chunk_size=5)(hidden, head.weight, target, bias=head.bias)
    loss.backward()
    ref_head = torch.nn.Linear(8, 20, dtype=D)
    ref_head.load_state_dict(head.state_dict())
    h2 = hidden.detach().clone().requires_grad_(True)
    F.cross_entropy(ref_head(h2).reshape(-1, 20), target.reshape(-1)).backward()
    torch.testing.assert_close(head.weight.grad, ref_head.weight.grad, **TIGHT)
    torch.testing.assert_close(head.bias.grad, ref_head.bias.grad, **TIGHT)
    torch.testing.assert_close(hidden.grad, h2.grad, **TIGHT)


# ------------------------------------------------------------------------------------------ errors
def test_errors() -> None:
    hidden, weight, bias, target = _problem(18)
    fn = "linear_cross_entropy_loss"
    with pytest.raises(
        LosscraftError,
        match=rf"{fn}: 'hidden' and 'weight' must have the same last dimension \(the hidden size H\), got "
        r"hidden \(13, 6\) and weight \(11, 5\)",
    ):
        linear_cross_entropy_loss(hidden, weight[:, :5], target)
    bad = target.clone()
    bad[3] = 11
    with pytest.raises(
        LosscraftError,
        match=rf"{fn}: 'target' contains class index 11, expected values in \[0, 10\] or ignore_index=-100",
    ):
        linear_cross_entropy_loss(hidden, weight, bad)
    bad[3] = -7
    with pytest.raises(LosscraftError, match="contains class index -7"):
        linear_cross_entropy_loss(hidden, weight, bad)
    for cs in (0, -3, 2.5, "8"):
        with pytest.raises(
            LosscraftError, match=rf"{fn}: 'chunk_size' must be an int in \[1, inf\) or None, got"
        ):
            linear_cross_entropy_loss(hidden, weight, target, chunk_size=cs)
    with pytest.raises(LosscraftError, match=r"'chunk_size' must be an int in \[1, inf\) or None, got 0"):
        LinearCrossEntropyLoss(chunk_size=0)
    with pytest.raises(LosscraftError, match=r"'z_loss' must be a float in \[0, inf\), got -1.0"):
        linear_cross_entropy_loss(hidden, weight, target, z_loss=-1.0)
    with pytest.raises(
        LosscraftError, match=r"'target' must have shape hidden.shape\[:-1\] = \(13,\), got \(12,\)"
    ):
        linear_cross_entropy_loss(hidden, weight, target[:12])
    with pytest.raises(
        LosscraftError, match=r"'weight' must have shape \(V, H\) with V >= 2 classes, got \(6,\)"
    ):
        linear_cross_entropy_loss(hidden, weight[0], target)
    with pytest.raises(
        LosscraftError, match=r"'bias' must have shape \(11,\) \(one value per class\), got \(10,\)"
    ):
        linear_cross_entropy_loss(hidden, weight, target, bias=bias[:10])
    with pytest.raises(LosscraftError, match="'target' must be an integer tensor of class indices"):
        linear_cross_entropy_loss(hidden, weight, target.double())
    with pytest.raises(LosscraftError, match="'weight' must be a floating-point tensor"):
        linear_cross_entropy_loss(hidden, weight.long(), target)
    with pytest.raises(LosscraftError, match="'bias' must be a floating-point tensor"):
        linear_cross_entropy_loss(hidden, weight, target, bias=bias.long())
