"""Contrastive learning under DDP: local negatives against negatives gathered from every rank.

Run on CPU with two processes (gloo)::

    torchrun --standalone --nproc_per_node=2 examples/ddp_contrastive.py

(or ``python examples/ddp_contrastive.py`` for one process). Each rank holds ``--batch`` pairs of
two augmented views. With the plain ``InfoNCELoss`` every anchor sees only its own rank's
``2 * batch - 2`` negatives; wrapped in ``losscraft.distributed.GlobalBatch`` the views of every
rank are gathered with gradient, so each anchor sees ``2 * R * batch - 2`` negatives and the loss
and gradients are those of one process on the concatenated batch (checked on the first step).

A third run trains one process on the concatenated batch: the gathered run follows it (the same
gradients up to float32 rounding), the local run does not.

The data: 100 classes, 8 informative features around each class's centre, and 24 nuisance
features that the augmentation redraws for every view, so the encoder has to learn to ignore
them. Quality is the 1-nearest-neighbour accuracy of the embeddings of held-out points (the
labels are never used in training); speed is the median wall time of a training step.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

import losscraft
from losscraft.distributed import GlobalBatch

CLASSES, SIGNAL, NUISANCE = 100, 8, 24
CENTRES = 1.0 * torch.randn(CLASSES, SIGNAL, generator=torch.Generator().manual_seed(0))


def points(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points of the informative features and their class labels."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, CLASSES, (n,), generator=g)
    return CENTRES[y] + 0.5 * torch.randn(n, SIGNAL, generator=g), y


def view(signal: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """An augmented view: jitter the signal, redraw every nuisance feature."""
    jitter = signal + 0.5 * torch.randn(signal.shape, generator=g)
    return torch.cat([jitter, 3.0 * torch.randn(len(signal), NUISANCE, generator=g)], dim=1)


def pairs(step: int, rank: int, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """This rank's two views of ``batch`` points at ``step`` (the same on every run)."""
    signal, _ = points(batch, seed=10_000 * step + rank)
    g = torch.Generator().manual_seed(10_000 * step + rank + 5_000)
    return view(signal, g), view(signal, g)


def encoder() -> nn.Module:
    torch.manual_seed(0)  # the same initial weights for both runs
    return nn.Sequential(nn.Linear(SIGNAL + NUISANCE, 64), nn.ReLU(), nn.Linear(64, 16))


def knn_accuracy(model: nn.Module, n: int = 1000) -> float:
    """Leave-one-out 1-NN accuracy (cosine) of the embeddings of ``n`` held-out points."""
    signal, y = points(n, seed=-1 % 2**31)
    with torch.no_grad():
        z = nn.functional.normalize(model(view(signal, torch.Generator().manual_seed(1))), dim=1)
    sim = z @ z.T
    sim.fill_diagonal_(-2.0)
    return float((y[sim.argmax(1)] == y).float().mean())


def global_pairs(step: int, world: int, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every rank's views at ``step``, concatenated: the global batch."""
    views = [pairs(step, r, batch) for r in range(world)]
    return torch.cat([v[0] for v in views]), torch.cat([v[1] for v in views])


def train(
    loss_fn: nn.Module, rank: int, world: int, args: argparse.Namespace, *, single: bool = False
) -> tuple[float, float]:
    """Train from the same start; ``single``: one process on the global batch, no DDP."""
    model: nn.Module = encoder()
    if world > 1 and not single:
        model = DistributedDataParallel(model)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    times = []
    for step in range(args.steps):
        v1, v2 = global_pairs(step, world, args.batch) if single else pairs(step, rank, args.batch)
        start = time.perf_counter()
        loss = loss_fn(model(v1), model(v2))
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - start)
    net = model.module if isinstance(model, DistributedDataParallel) else model
    return knn_accuracy(net), statistics.median(times)


def check_first_step(rank: int, world: int, batch: int) -> float:
    """Max |difference| of the gathered loss's gradients (after DDP) from one process on the global batch."""
    model = DistributedDataParallel(encoder()) if world > 1 else encoder()
    v1, v2 = pairs(0, rank, batch)
    GlobalBatch(losscraft.InfoNCELoss(temperature=0.2))(model(v1), model(v2)).backward()
    single = encoder()
    big1, big2 = global_pairs(0, world, batch)
    losscraft.InfoNCELoss(temperature=0.2)(single(big1), single(big2)).backward()
    return max(
        float((a.grad - b.grad).abs().max())  # type: ignore[operator]
        for a, b in zip(model.parameters(), single.parameters(), strict=True)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=300, help="training steps per run")
    parser.add_argument("--batch", type=int, default=16, help="pairs per rank and step")
    args = parser.parse_args()
    torch.set_num_threads(1)
    launched = "RANK" in os.environ  # started by torchrun
    if launched:
        dist.init_process_group("gloo")
    rank = dist.get_rank() if launched else 0
    world = dist.get_world_size() if launched else 1
    diff = check_first_step(rank, world, args.batch)
    infonce = losscraft.InfoNCELoss(temperature=0.2)
    runs = {"local": infonce, "gathered": GlobalBatch(infonce)}
    results = {name: train(loss_fn, rank, world, args) for name, loss_fn in runs.items()}
    if rank == 0:
        global_batch = world * args.batch
        results[f"one process, {global_batch} pairs"] = train(infonce, 0, world, args, single=True)
        print(f"{world} rank(s) x {args.batch} pairs = {global_batch} pairs per step, {args.steps} steps")
        print(
            f"first step, gathered vs one process on the global batch: max |gradient difference| {diff:.1e}"
        )
        print(f"{'negatives':<24} {'per anchor':>10} {'ms/step':>8} {'1-NN acc':>9}")
        for name, (acc, sec) in results.items():
            n_neg = 2 * (args.batch if name == "local" else global_batch) - 2
            print(f"{name:<24} {n_neg:>10} {1000 * sec:>8.2f} {acc:>9.3f}")
    if launched:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
