"""Helpers shared by the registry-driven contract tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

import losscraft
from losscraft import LossEntry, TargetKind

ROOT = Path(__file__).resolve().parents[1]

ENTRIES: list[LossEntry] = losscraft.catalog()
IDS = [e.name for e in ENTRIES]

# Targets that are labels / distributions: never differentiated in the contract suite.
LABEL_TARGETS = {
    TargetKind.BINARY,
    TargetKind.CLASS_INDEX,
    TargetKind.CLASS_INDEX_OR_PROBABILITIES,
    TargetKind.PROBABILITIES,
    TargetKind.SIGN,
    TargetKind.PAIR_LABEL,
    TargetKind.IDENTITY,
    TargetKind.COUNT,
    TargetKind.SURVIVAL,
}


def sample(entry: LossEntry, n: int = 4, dtype: torch.dtype = torch.float64, seed: int = 0, **hp: Any):
    g = torch.Generator().manual_seed(seed)
    return entry.spec.sample(n, generator=g, dtype=dtype, **hp)


def diff_positions(entry: LossEntry, args: tuple[torch.Tensor, ...]) -> list[int]:
    """Positional arguments the contract suite differentiates."""
    out = []
    for i, (name, a) in enumerate(zip(entry.spec.inputs, args, strict=True)):
        if not a.is_floating_point():
            continue
        if name == "target" and entry.spec.target_kind in LABEL_TARGETS:
            continue
        out.append(i)
    return out


def with_grad(entry: LossEntry, args: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    pos = set(diff_positions(entry, args))
    return tuple(a.detach().clone().requires_grad_(i in pos) for i, a in enumerate(args))


def cast(args: tuple[torch.Tensor, ...], dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
    return tuple(a.to(dtype) if a.is_floating_point() else a for a in args)


def defaults_kwargs(entry: LossEntry) -> dict[str, Any]:
    return {p.name: p.default for p in entry.spec.params}


def load_script(relpath: str | Path) -> ModuleType:
    """Import a repository script (docs generator, benchmark, example) by its path from the root.

    Executed afresh on every call, as a module named after its file; registered in
    ``sys.modules`` while it runs and afterwards (its dataclasses look their module up there).
    """
    path = ROOT / relpath
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod
