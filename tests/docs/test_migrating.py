"""The migration guide: every row of docs/equivalents.py is a parity test against the peer itself.

Each row's ``peer`` and ``ours`` run on the same float64 inputs (fresh ``requires_grad`` copies
for each call); the values and the gradients of every differentiable input must agree to
``rtol = 1e-6`` (``row.rtol``, 1e-5 only where the peer computes in float32), with an absolute
tolerance of ``rtol`` times the largest magnitude of the peer's tensor (so gradient entries that
are 0 in exact arithmetic compare on the gradient's scale).

The peers are imported directly: a missing peer fails here, it is never skipped. torchvision and
segmentation_models_pytorch do not install beside the pinned torch; their rows run against
replicas transcribed from their source (``tests/docs/peer_formulas.py``). Keras runs on its torch
backend with ``floatx`` float64.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import kornia
import monai
import pytest
import pytorch_metric_learning as pml
import pytorch_metric_learning.losses
import pytorch_metric_learning.miners
import pytorch_metric_learning.reducers
import torch
import torch.nn.functional as F

import losscraft
import losscraft.functional as LF

from lc_helpers import load_script

ROOT = Path(__file__).resolve().parents[2]
EQ: Any = load_script("docs/equivalents.py")
PEERS: Any = load_script("tests/docs/peer_formulas.py")
ROWS = list(EQ.EQUIVALENTS)


def _row_id(row: Any) -> str:
    index = [r for r in ROWS if r.library == row.library and r.entry == row.entry].index(row)
    return f"{row.library.replace(' ', '_')}-{row.entry}-{index}"


@pytest.fixture(scope="module")
def keras_float64() -> Iterator[None]:
    assert keras.config.backend() == "torch", "set KERAS_BACKEND=torch before keras is imported"
    before = keras.config.floatx()
    keras.config.set_floatx("float64")
    yield
    keras.config.set_floatx(before)


def _namespace(tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    modules: dict[str, ModuleType | Any] = {
        "torch": torch,
        "F": F,
        "losscraft": losscraft,
        "LF": LF,
        "monai": monai,
        "kornia": kornia,
        "keras": keras,
        "pml": pml,
        "torchvision": PEERS.torchvision,
        "smp": PEERS.smp,
    }
    return {**modules, **tensors}


def _run(expr: str, row: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Evaluate one call on fresh copies of the row's inputs; its value and the gradients."""
    tensors = EQ.INPUTS[row.inputs](torch.Generator().manual_seed(20240607))
    dtype = getattr(torch, row.dtype)
    tensors = {k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()}
    wrt = EQ.DIFFERENTIABLE[row.inputs]
    for name in wrt:
        tensors[name] = tensors[name].detach().clone().requires_grad_(True)
    value = eval(expr, _namespace(tensors))  # the table's own expressions
    assert isinstance(value, torch.Tensor) and value.dim() == 0, (expr, value)
    grads = torch.autograd.grad(value, [tensors[n] for n in wrt], allow_unused=True)
    return value.detach(), {
        n: (torch.zeros_like(tensors[n]) if g is None else g) for n, g in zip(wrt, grads, strict=True)
    }


def _close(got: torch.Tensor, want: torch.Tensor, rtol: float, what: str) -> None:
    want64, got64 = want.double(), got.double()
    assert torch.isfinite(want64).all() and torch.isfinite(got64).all(), (what, got, want)
    atol = rtol * float(want64.abs().max()) if want64.numel() else 0.0
    torch.testing.assert_close(got64, want64, rtol=rtol, atol=atol, msg=lambda m: f"{what}: {m}")


@pytest.mark.parametrize("row", ROWS, ids=[_row_id(r) for r in ROWS])
def test_row_matches_peer(row: Any, keras_float64: None) -> None:
    peer_value, peer_grads = _run(row.peer, row)
    our_value, our_grads = _run(row.ours, row)
    assert our_value.dtype == getattr(torch, row.dtype), our_value  # peers may round to float32: Keras, MONAI
    _close(our_value, peer_value, row.rtol, f"value of {row.ours} vs {row.peer}")
    for name, want in peer_grads.items():
        assert want.abs().max() > 0, f"{row.peer}: zero gradient for {name}, the row checks nothing"
        _close(our_grads[name], want, row.rtol, f"d/d{name} of {row.ours} vs {row.peer}")


# --------------------------------------------------------------------------- the table itself


def test_rows_name_registry_entries_and_libraries() -> None:
    names = {e.name for e in losscraft.catalog()}
    for row in ROWS:
        assert row.entry in names, row
        assert row.library in EQ.LIBRARIES, row
        assert row.inputs in EQ.INPUTS and row.inputs in EQ.DIFFERENTIABLE, row
        assert "LF." in row.ours and "LF." not in row.peer, row
    assert set(EQ.INPUTS) == set(EQ.DIFFERENTIABLE)


def test_every_library_has_rows() -> None:
    for library in EQ.LIBRARIES:
        assert [r for r in ROWS if r.library == library], library
    assert set(EQ.IMPORTS) == set(EQ.LIBRARIES)


def test_rows_are_unique() -> None:
    keys = [(r.library, r.peer, r.inputs) for r in ROWS]
    assert len(keys) == len(set(keys))


def test_for_entry_orders_by_library() -> None:
    rows = EQ.for_entry("binary_focal")
    assert {r.library for r in rows} >= {"torchvision", "MONAI", "kornia", "Keras 3"}
    order = [EQ.LIBRARIES.index(r.library) for r in rows]
    assert order == sorted(order)
    assert EQ.for_entry("no such entry") == []


def test_migrating_page_is_up_to_date() -> None:
    text = load_script("docs/gen_migrating.py").render()
    assert (ROOT / "docs" / "migrating.md").read_text() == text, "run `make docs`"


def test_page_shows_every_row() -> None:
    text = (ROOT / "docs" / "migrating.md").read_text()
    gen = load_script("docs/gen_migrating.py")
    for row in ROWS:
        assert gen.code(row.peer) in text and gen.code(row.ours) in text, row


# --------------------------------------------------------------------------- differences on purpose


def test_torchvision_focal_gradient_is_nan_at_extreme_logits_where_ours_is_exact() -> None:
    """The documented difference: torchvision's ``(1 - p_t) ** gamma`` for gamma < 1 at logits of +-100."""
    x0 = torch.tensor([100.0, -100.0, 100.0, -100.0], dtype=torch.float64)
    y = torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=torch.float64)
    gamma, alpha = 0.5, 0.25

    x = x0.clone().requires_grad_(True)
    PEERS.sigmoid_focal_loss(x, y, alpha=alpha, gamma=gamma, reduction="sum").backward()
    assert x.grad is not None and torch.isnan(x.grad[:2]).all()  # the confidently right logits

    x = x0.clone().requires_grad_(True)
    ours = LF.binary_focal_loss(x, y, alpha=alpha, gamma=gamma, reduction="none")
    ours.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    # float64 closed form at |x| = 100: with u = sigmoid(-100) = e^-100 (to 1e-44) and a right
    # logit, loss = a_t u^gamma log(1 + u) ~ a_t u^(1 + gamma); a wrong one costs a_t * 100.
    u = math.exp(-100.0)
    right = [alpha * u ** (1 + gamma), (1 - alpha) * u ** (1 + gamma)]
    wrong = [(1 - alpha) * (100.0 + math.log1p(u)), alpha * (100.0 + math.log1p(u))]
    torch.testing.assert_close(ours, torch.tensor(right + wrong, dtype=torch.float64), rtol=1e-12, atol=0.0)
    # the gradient of the right ones is ~ -(1 + gamma) a_t u^(1 + gamma) in the direction of the label
    want_right = torch.tensor([-(1 + gamma) * right[0], (1 + gamma) * right[1]], dtype=torch.float64)
    torch.testing.assert_close(x.grad[:2], want_right, rtol=1e-12, atol=0.0)


def test_keras_bce_clips_probabilities_where_ours_is_exact(keras_float64: None) -> None:
    """The documented difference: Keras clips probabilities at 1e-7, so a p of 1e-10 costs -log(1e-7)."""
    p = torch.tensor([1e-10, 0.5], dtype=torch.float64)
    y = torch.tensor([1.0, 1.0], dtype=torch.float64)
    theirs = keras.losses.BinaryCrossentropy(reduction="none")(y[:, None], p[:, None])
    ours = LF.bce_loss(p, y, reduction="none")
    torch.testing.assert_close(ours, -torch.log(p), rtol=1e-12, atol=0.0)
    assert math.isclose(float(theirs[0]), -math.log(1e-7), rel_tol=1e-5)
    assert math.isclose(float(theirs[1]), math.log(2.0), rel_tol=1e-6)  # inside the clip: the same
