"""Every registry entry runs under ``torch.compile(fullgraph=True)`` with the eager result.

Marked ``compile`` (deselected by default; run with ``pytest -m compile``): each case compiles
a graph with inductor, which takes seconds. Samples are tiny and float64, so the comparison
measures the compiler's reordering of float arithmetic only.

Value checks that read tensors back to the host (class-index range, probability range) are
skipped while dynamo traces (``_core.checks.values_are_concrete``); custom autograd Functions must be
traceable or fall back to their composed formula while compiling.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from losscraft import LossEntry
from losscraft._core.spec import TensorDomain

from lc_helpers import ENTRIES, IDS, diff_positions, sample

pytestmark = pytest.mark.compile


def _run(fn: Any, entry: LossEntry, args: tuple[torch.Tensor, ...], kwargs: dict[str, Any], reduction: str):
    pos = diff_positions(entry, args)
    leaves = [a.detach().clone().requires_grad_(i in pos) for i, a in enumerate(args)]
    out = fn(*leaves, reduction=reduction, **kwargs)
    # A fixed non-uniform upstream gradient exercises "none" beyond sum().
    up = torch.linspace(0.5, 1.5, out.numel(), dtype=out.dtype).reshape(out.shape)
    grads = torch.autograd.grad(out, [leaves[i] for i in pos], grad_outputs=up)
    return out.detach(), grads


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_fullgraph_matches_eager(entry: LossEntry, reduction: str) -> None:
    torch._dynamo.reset()
    c = sample(entry, 3, seed=7)
    compiled = torch.compile(entry.function, fullgraph=True)
    out_c, grads_c = _run(compiled, entry, c.args, c.kwargs, reduction)
    out_e, grads_e = _run(entry.function, entry, c.args, c.kwargs, reduction)
    assert out_c.dtype == out_e.dtype and out_c.shape == out_e.shape
    torch.testing.assert_close(out_c, out_e, rtol=1e-9, atol=1e-12)
    for gc, ge in zip(grads_c, grads_e, strict=True):
        torch.testing.assert_close(gc, ge, rtol=1e-9, atol=1e-12)


def _spatial_case(mode: str, ignore: bool, seed: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    c = 1 if mode == "binary" else 3
    x = torch.randn(2, c, 4, 5, generator=g, dtype=torch.float64)
    if mode == "multiclass":
        t = torch.randint(0, c, (2, 4, 5), generator=g)
    else:
        t = (torch.rand(2, c, 4, 5, generator=g, dtype=torch.float64) < 0.5).to(torch.float64)
    if ignore:  # one ignored position (ignore_index=255)
        t.view(-1)[0] = 255
    return x, t


# Non-default options on the paths that have a lean (blocked autograd.Function) kernel in eager
# mode and a composed formula under compile: both must agree.
OPTION_CASES = [
    ("focal", "2d", {"gamma": 0.5, "alpha": [0.5, 1.0, 2.0], "ignore_index": 1}),
    ("focal", "4d", {"gamma": 2.0, "ignore_index": 255}),
    ("focal", "4d", {"gamma": 0.0}),
    ("dice", "multiclass", {"mode": "multiclass", "ignore_index": 255}),
    ("jaccard", "multilabel", {"mode": "multilabel", "ignore_index": 255, "aggregate": "batch"}),
    ("tversky", "multiclass", {"mode": "multiclass", "aggregate": "batch", "ignore_index": 255}),
    ("generalized_dice", "multiclass", {"mode": "multiclass"}),
    ("focal_tversky", "binary", {"ignore_index": 255}),
]


@pytest.mark.parametrize(
    ("name", "layout", "hp"), OPTION_CASES, ids=[f"{n}-{lay}" for n, lay, _ in OPTION_CASES]
)
def test_fullgraph_options_match_eager(name: str, layout: str, hp: dict[str, Any]) -> None:
    import losscraft

    torch._dynamo.reset()
    entry = losscraft.get(name)
    if layout == "2d":
        g = torch.Generator().manual_seed(4)
        x = torch.randn(6, 3, generator=g, dtype=torch.float64)
        t = torch.tensor([0, 1, 2, 1, 0, 2])
    else:
        mode = "multiclass" if layout == "4d" else layout
        x, t = _spatial_case(mode, ignore=hp.get("ignore_index") == 255)
    kwargs = {k: torch.tensor(v, dtype=torch.float64) if isinstance(v, list) else v for k, v in hp.items()}
    compiled = torch.compile(entry.function, fullgraph=True)
    for reduction in ("mean", "none"):
        out_c, grads_c = _run(compiled, entry, (x, t), kwargs, reduction)
        out_e, grads_e = _run(entry.function, entry, (x, t), kwargs, reduction)
        torch.testing.assert_close(out_c, out_e, rtol=1e-9, atol=1e-12)
        for gc, ge in zip(grads_c, grads_e, strict=True):
            torch.testing.assert_close(gc, ge, rtol=1e-9, atol=1e-12)


# Tensor hyperparameters (class weights, priors, pos_weight) are validated by value in eager
# mode; while tracing, only their type and shape are checked (no host read-back).
TENSOR_PARAMS = [(e, p.name) for e in ENTRIES for p in e.spec.params if isinstance(p.domain, TensorDomain)]


@pytest.mark.parametrize(
    ("entry", "param"), TENSOR_PARAMS, ids=[f"{e.name}-{name}" for e, name in TENSOR_PARAMS]
)
def test_fullgraph_tensor_hyperparameters(entry: LossEntry, param: str) -> None:
    torch._dynamo.reset()
    c = sample(entry, 3, seed=7)
    size = c.args[0].shape[-1]  # classes of (N, C) logits; features for pos_weight
    value = torch.linspace(0.5, 2.0, size, dtype=torch.float64)
    kwargs = {**c.kwargs, param: value}
    compiled = torch.compile(entry.function, fullgraph=True)
    out_c, grads_c = _run(compiled, entry, c.args, kwargs, "mean")
    out_e, grads_e = _run(entry.function, entry, c.args, kwargs, "mean")
    torch.testing.assert_close(out_c, out_e, rtol=1e-9, atol=1e-12)
    for gc, ge in zip(grads_c, grads_e, strict=True):
        torch.testing.assert_close(gc, ge, rtol=1e-9, atol=1e-12)
