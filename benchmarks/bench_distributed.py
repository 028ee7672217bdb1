"""What ``losscraft.distributed.GlobalBatch`` costs: without a process group, and on 2 gloo ranks.

    python benchmarks/bench_distributed.py            # realistic sizes, 2 threads
    python benchmarks/bench_distributed.py --quick    # tiny sizes (the smoke test runs this)

Three losses, one per kind of batch coupling (the count of a mean, per-class overlap sums,
gathered embeddings), each timed forward + backward (median of the repeats after a warm-up of every variant; the
variants alternate in three rounds, so drift of the machine hits them alike):

* **no process group**: the plain loss, the loss wrapped in ``GlobalBatch`` and the plain loss
  inside ``with global_batch():``. Without a group both are no-ops (bitwise the plain loss,
  tested in tests/core/test_global_batch.py); the ratio is their Python overhead.
* **2 ranks** (gloo on CPU, spawned here with a ``file://`` store, each rank holding half the
  batch and one thread): the per-rank loss (what plain DDP computes: local count, local sums,
  local negatives) against ``GlobalBatch`` (the full-batch answer). The ratio is the price of
  the collectives (one all-reduce of a scalar or of the packed sums; one size exchange and
  one all-gather per embedding tensor, and the anchors' similarities with every rank's rows).

Not collected by pytest; see tests/core/test_bench_distributed.py.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import Tensor, nn

import losscraft
from losscraft.bench import set_threads, time_call
from losscraft.distributed import GlobalBatch, global_batch


@dataclass(frozen=True)
class Case:
    name: str
    coupling: str
    loss: Callable[[], nn.Module]
    make: Callable[[torch.Generator, int], tuple[Tensor, ...]]  # (generator, batch) -> inputs


def _ce(g: torch.Generator, n: int) -> tuple[Tensor, ...]:
    y = torch.randint(0, 100, (n,), generator=g)
    y[::10] = -100  # ignored tokens: the count differs per rank
    return torch.randn(n, 100, generator=g), y


def _dice(g: torch.Generator, n: int) -> tuple[Tensor, ...]:
    return torch.randn(n, 4, 64, 64, generator=g), torch.randint(0, 4, (n, 64, 64), generator=g)


def _info_nce(g: torch.Generator, n: int) -> tuple[Tensor, ...]:
    z = torch.randn(n, 128, generator=g)
    return z, z + 0.5 * torch.randn(n, 128, generator=g)


def cases(quick: bool) -> list[tuple[Case, int]]:
    """Each case with its global batch size."""
    return [
        (Case("cross_entropy, ignore_index", "samples", lambda: losscraft.CrossEntropyLoss(), _ce),
         256 if quick else 8192),
        (Case("dice multiclass, aggregate='batch'", "overlap_sums",
              lambda: losscraft.DiceLoss(mode="multiclass", aggregate="batch"), _dice),
         2 if quick else 16),
        (Case("info_nce", "embeddings", lambda: losscraft.InfoNCELoss(), _info_nce),
         32 if quick else 1024),
    ]  # fmt: skip


def _step(loss: nn.Module, inputs: tuple[Tensor, ...]) -> Callable[[], object]:
    def run() -> None:
        xs = [a.detach().requires_grad_(a.is_floating_point()) for a in inputs]
        loss(*xs).backward()

    return run


def _interleaved(steps: dict[str, Callable[[], object]], repeats: int, rounds: int = 3) -> dict[str, float]:
    """Median seconds per step of each variant, timed in alternating rounds (drift hits all alike)."""
    for step in steps.values():  # warm every variant before timing any
        time_call(step, warmup=2, repeats=1)
    samples: dict[str, list[float]] = {label: [] for label in steps}
    per_round = max(1, repeats // rounds)
    for _ in range(rounds):
        for label, step in steps.items():
            samples[label] += time_call(step, warmup=0, repeats=per_round).times_s
    return {label: statistics.median(t) for label, t in samples.items()}


def _in_block(loss: nn.Module) -> nn.Module:
    class Block(nn.Module):
        def forward(self, *xs: Tensor) -> Tensor:
            with global_batch():
                out: Tensor = loss(*xs)
            return out

    return Block()


def run_single(quick: bool, repeats: int) -> list[dict[str, Any]]:
    """No process group: plain, wrapped, inside the block."""
    rows = []
    for case, n in cases(quick):
        inputs = case.make(torch.Generator().manual_seed(0), n)
        loss = case.loss()
        variants = {"plain": loss, "GlobalBatch": GlobalBatch(loss), "block": _in_block(loss)}
        times = _interleaved({label: _step(m, inputs) for label, m in variants.items()}, repeats)
        rows.append({"case": case.name, "batch": n, **times})
    return rows


def _rank(rank: int, world: int, store: str, quick: bool, repeats: int, out: str) -> None:
    set_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    try:
        rows = []
        for case, n in cases(quick):
            full = case.make(torch.Generator().manual_seed(0), n)
            share = n // world
            mine = tuple(a[rank * share : (rank + 1) * share] for a in full)
            loss = case.loss()
            dist.barrier()
            variants = {"per rank": loss, "GlobalBatch": GlobalBatch(loss)}
            times = _interleaved({label: _step(m, mine) for label, m in variants.items()}, repeats)
            rows.append({"case": case.name, "coupling": case.coupling, "batch": n, **times})
        torch.save(rows, Path(out) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def run_ranks(quick: bool, repeats: int, world: int = 2) -> list[dict[str, Any]]:
    """2 gloo ranks: per-rank loss against GlobalBatch; the slower rank's median per case."""
    with tempfile.TemporaryDirectory() as tmp:
        mp.spawn(_rank, args=(world, os.path.join(tmp, "store"), quick, repeats, tmp), nprocs=world)
        per_rank = [torch.load(Path(tmp) / f"rank{r}.pt") for r in range(world)]
    rows = []
    for parts in zip(*per_rank, strict=True):
        row = dict(parts[0])
        for key in ("per rank", "GlobalBatch"):
            row[key] = max(p[key] for p in parts)
        rows.append(row)
    return rows


def render(single: Sequence[dict[str, Any]], ranks: Sequence[dict[str, Any]]) -> str:
    """Two markdown tables: milliseconds per forward + backward, and the ratios."""
    out = [
        "No process group (1 process):",
        "",
        "| loss | batch | plain ms | GlobalBatch ms | ratio | `with global_batch()` ms | ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in single:
        p, w, b = r["plain"], r["GlobalBatch"], r["block"]
        out.append(
            f"| {r['case']} | {r['batch']} | {1e3 * p:.2f} | {1e3 * w:.2f} | {w / p:.2f} | "
            f"{1e3 * b:.2f} | {b / p:.2f} |"
        )
    out += [
        "",
        "2 gloo ranks on CPU, each with half the batch and one thread (the slower rank's median):",
        "",
        "| loss | coupling | global batch | per-rank loss ms | GlobalBatch ms | ratio |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in ranks:
        p, w = r["per rank"], r["GlobalBatch"]
        out.append(
            f"| {r['case']} | {r['coupling']} | {r['batch']} | {1e3 * p:.2f} | {1e3 * w:.2f} | {w / p:.2f} |"
        )
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> dict[str, list[dict[str, Any]]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    ap.add_argument("--repeats", type=int, default=21, help="timed calls per measurement (after warm-up)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads of the single-process part")
    args = ap.parse_args(argv)
    threads = torch.get_num_threads()
    set_threads(args.threads)
    try:
        single = run_single(args.quick, args.repeats)
    finally:
        torch.set_num_threads(threads)
    ranks = run_ranks(args.quick, args.repeats)
    print(render(single, ranks))
    return {"single": single, "ranks": ranks}


if __name__ == "__main__":
    main(sys.argv[1:])
