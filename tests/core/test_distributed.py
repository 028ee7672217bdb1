"""The collectives of ``losscraft._core.distributed`` on 2 and 3 real gloo ranks, against one process.

Each job starts fresh processes (:func:`dist_helpers.run_ranks`); every rank writes what it computed
and the test compares it with the single-process autograd computation on the concatenated batch:

* forward: the all-reduced sum is the sum, the gather is the concatenation (unequal sizes, a rank
  with no rows, everyone empty, integer and bool tensors, a subgroup), and the rows are this rank's;
* backward, DDP's convention: with the same loss on every rank, the per-rank gradients divided by
  the world size (DDP's averaging) equal the single-process gradients, for the local inputs and for
  a shared parameter averaged over ranks;
* backward, the general rule: with a different loss ``L_k`` on each rank, rank r's input gradient
  is the single-process gradient of ``sum_k L_k``;
* without a process group (and with a group of one rank) every function returns its input object;
* a rank that raises, a rank that skips a collective, and a job that hangs fail within seconds.
"""

from __future__ import annotations

import datetime
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from torch import Tensor

from dist_helpers import RankFailed, load_results, run_ranks, save_result
from losscraft._core import distributed as lcd

pytestmark = pytest.mark.distributed

D = 4  # embedding width


def _close(actual: object, expected: object) -> None:
    """Equal within float64 round-off (the ranks may sum in another order than one process)."""
    torch.testing.assert_close(actual, expected, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- shared loss functions
def _stats(e: Tensor) -> Tensor:
    """Two per-column batch statistics packed in one tensor, as a Dice-family loss does."""
    return torch.stack([e.sum(0), (e * e).sum(0)])


def _f(s: Tensor) -> Tensor:
    """A non-linear function of the global statistics."""
    return torch.sin(s[0] / (s[1] + 1.0)).sum() + torch.logsumexp(s[0], 0)


def _f_rank(s: Tensor, coef: Tensor) -> Tensor:
    """A different function of the same statistics on each rank (``coef`` differs)."""
    return (coef * torch.tanh(s[0])).sum() * (s[1] * coef).sum()


def _g(e: Tensor) -> Tensor:
    """A contrastive-like function coupling every row with every other."""
    if e.shape[0] == 0:
        return e.sum()
    return torch.logsumexp(e @ e.T / 0.5, dim=1).mean() + 0.1 * e.pow(2).sum()


def _g_rank(e: Tensor, coef: Tensor) -> Tensor:
    return torch.tanh(e @ coef).pow(2).sum() + (e @ coef).sum() ** 2 / 7.0


def _offsets(sizes: list[int]) -> list[slice]:
    starts = [sum(sizes[:r]) for r in range(len(sizes))]
    return [slice(s, s + n) for s, n in zip(starts, sizes, strict=True)]


# --------------------------------------------------------------------------- the worker
def _collectives_worker(
    rank: int, world_size: int, out: Path, data: Tensor, theta0: Tensor, coefs: Tensor, sizes: list[int]
) -> None:
    torch.set_default_dtype(torch.float64)
    mine = _offsets(sizes)[rank]
    x = data[mine]
    res: dict[str, object] = {
        "active": lcd.is_active(),
        "world_size": lcd.world_size(),
        "rank": lcd.rank(),
    }

    # all_reduce_sum, the same loss on every rank (DDP's case)
    theta = theta0.clone().requires_grad_()
    s = _stats(x @ theta)
    s.retain_grad()
    total = lcd.all_reduce_sum(s)
    loss = _f(total)
    loss.backward()
    res |= {
        "sum": total.detach(),
        "sum_loss": loss.detach(),
        "sum_grad_s": s.grad,
        "sum_grad_theta": theta.grad,
    }

    # all_reduce_sum, a different loss on each rank
    s2 = _stats(x @ theta0).requires_grad_()
    _f_rank(lcd.all_reduce_sum(s2), coefs[rank]).backward()
    res["sum_rank_grad_s"] = s2.grad

    # all_gather_cat, the same loss on every rank
    theta = theta0.clone().requires_grad_()
    e = x @ theta
    e.retain_grad()
    gathered, rows = lcd.all_gather_cat(e)
    loss = _g(gathered)
    loss.backward()
    res |= {
        "cat": gathered.detach(),
        "rows": (rows.start, rows.stop, rows.step),
        "own_rows_equal": bool(torch.equal(gathered[rows].detach(), e.detach())),
        "cat_loss": loss.detach(),
        "cat_grad_e": e.grad,
        "cat_grad_theta": theta.grad,
    }

    # all_gather_cat, a different loss on each rank
    e2 = (x @ theta0).requires_grad_()
    _g_rank(lcd.all_gather_cat(e2).tensor, coefs[rank]).backward()
    res["cat_rank_grad_e"] = e2.grad

    # labels and masks travel too (no gradient)
    labels = torch.arange(mine.start, mine.stop, dtype=torch.int64) * 10
    res["cat_labels"] = lcd.all_gather_cat(labels).tensor
    res["cat_mask"] = lcd.all_gather_cat(labels % 20 == 0).tensor

    # every rank empty: no rows anywhere
    empty = torch.zeros(0, D, requires_grad=True)
    none_gathered = lcd.all_gather_cat(empty).tensor
    none_gathered.sum().backward()
    res |= {"empty_cat": none_gathered.detach(), "empty_grad": empty.grad}

    # counts: Python int, Python float, tensor (a gradient-carrying one comes back detached)
    weight = torch.tensor(float(rank) + 0.25, requires_grad=True)
    count_w = lcd.all_reduce_count(weight)
    res |= {
        "count_int": lcd.all_reduce_count(len(x)),
        "count_float": lcd.all_reduce_count(0.5 * (rank + 1)),
        "count_tensor": count_w,
        "count_requires_grad": count_w.requires_grad,
    }

    # a subgroup of ranks 0 and last (new_group is called by every rank)
    last = world_size - 1
    sub = dist.new_group([0, last])
    if rank in (0, last):
        ev = (x @ theta0).requires_grad_()
        sub_cat, sub_rows = lcd.all_gather_cat(ev, group=sub)
        sub_cat.pow(2).sum().backward()
        res |= {
            "sub_world_size": lcd.world_size(sub),
            "sub_rank": lcd.rank(sub),
            "sub_cat": sub_cat.detach(),
            "sub_rows": (sub_rows.start, sub_rows.stop),
            "sub_grad": ev.grad,
        }
    save_result(out, rank, res)


@pytest.mark.parametrize("sizes", [[4, 1], [3, 0, 5]], ids=["2ranks-4-1", "3ranks-3-0-5"])
def test_collectives_match_single_process(tmp_path: Path, sizes: list[int]) -> None:
    world = len(sizes)
    gen = torch.Generator().manual_seed(7)
    f64 = torch.float64
    data = torch.randn(sum(sizes), 3, generator=gen, dtype=f64)
    theta0 = torch.randn(3, D, generator=gen, dtype=f64)
    coefs = torch.randn(world, D, generator=gen, dtype=f64)
    slices = _offsets(sizes)
    run_ranks(_collectives_worker, world, tmp_path, data, theta0, coefs, sizes)
    res = load_results(tmp_path, world)

    # single-process references on the concatenated batch
    theta = theta0.clone().requires_grad_()
    stats = [_stats(data[sl] @ theta) for sl in slices]
    for s in stats:
        s.retain_grad()
    total_ref = torch.stack(stats).sum(0)
    sum_loss_ref = _f(total_ref)
    sum_loss_ref.backward()
    sum_theta_ref = theta.grad

    stats2 = [_stats(data[sl] @ theta0).requires_grad_() for sl in slices]
    total2 = torch.stack(stats2).sum(0)
    sum(_f_rank(total2, coefs[k]) for k in range(world)).backward()  # type: ignore[union-attr]

    theta = theta0.clone().requires_grad_()
    e_ref = data @ theta
    e_ref.retain_grad()
    cat_loss_ref = _g(e_ref)
    cat_loss_ref.backward()
    cat_theta_ref = theta.grad

    e2_ref = (data @ theta0).requires_grad_()
    sum(_g_rank(e2_ref, coefs[k]) for k in range(world)).backward()  # type: ignore[union-attr]

    assert e_ref.grad is not None and e2_ref.grad is not None
    labels = torch.arange(sum(sizes), dtype=torch.int64) * 10
    for r, got in enumerate(res):
        assert (got["active"], got["world_size"], got["rank"]) == (True, world, r)
        # all_reduce_sum
        _close(got["sum"], total_ref.detach())
        _close(got["sum_loss"], sum_loss_ref.detach())
        _close(got["sum_grad_s"] / world, stats[r].grad)
        _close(got["sum_rank_grad_s"], stats2[r].grad)
        # all_gather_cat: copies, so bitwise
        assert torch.equal(
            got["cat"], e_ref.detach()[torch.cat([torch.arange(sl.start, sl.stop) for sl in slices])]
        )
        assert got["rows"] == (slices[r].start, slices[r].stop, None)
        assert got["own_rows_equal"]
        _close(got["cat_loss"], cat_loss_ref.detach())
        assert got["cat_grad_e"].shape == (sizes[r], D)
        _close(got["cat_grad_e"] / world, e_ref.grad[slices[r]])
        _close(got["cat_rank_grad_e"], e2_ref.grad[slices[r]])
        assert torch.equal(got["cat_labels"], labels)
        assert got["cat_mask"].dtype == torch.bool
        assert torch.equal(got["cat_mask"], labels % 20 == 0)
        assert got["empty_cat"].shape == (0, D)
        assert got["empty_grad"].shape == (0, D)
        # counts
        assert got["count_int"].dtype == torch.int64 and int(got["count_int"]) == sum(sizes)
        torch.testing.assert_close(got["count_float"], torch.tensor(0.5 * world * (world + 1) / 2, dtype=f64))
        torch.testing.assert_close(
            got["count_tensor"], torch.tensor(world * (world - 1) / 2 + 0.25 * world, dtype=f64)
        )
        assert not got["count_requires_grad"]

    # DDP averages the parameter gradients over the ranks: that average is the full-batch gradient
    _close(sum(g["sum_grad_theta"] for g in res) / world, sum_theta_ref)
    _close(sum(g["cat_grad_theta"] for g in res) / world, cat_theta_ref)

    # the subgroup {0, last}: rows and ranks are the group's; L = sum(E^2) gives each member 2 * 2 e
    last = world - 1
    sub_data = torch.cat([data[slices[0]], data[slices[last]]]) @ theta0
    for member, got in ((0, res[0]), (1, res[last])):
        assert (got["sub_world_size"], got["sub_rank"]) == (2, member)
        assert torch.equal(got["sub_cat"], sub_data)
        start = 0 if member == 0 else sizes[0]
        own = sizes[0] if member == 0 else sizes[last]
        assert got["sub_rows"] == (start, start + own)
        _close(got["sub_grad"], 2 * 2 * sub_data[start : start + own])
    if world > 2:
        assert "sub_cat" not in res[1]


# --------------------------------------------------------------------------- no process group
def _check_identity() -> None:
    x = torch.randn(5, 3, requires_grad=True)
    assert lcd.all_reduce_sum(x) is x
    gathered, rows = lcd.all_gather_cat(x)
    assert gathered is x and rows == slice(0, 5)
    empty = torch.zeros(0, 2)
    assert lcd.all_gather_cat(empty) == (empty, slice(0, 0))
    w = torch.tensor([2.0, 3.0], requires_grad=True)
    count = lcd.all_reduce_count(w)
    assert not count.requires_grad and count.data_ptr() == w.data_ptr()
    n = lcd.all_reduce_count(7)
    assert n.dtype == torch.int64 and int(n) == 7
    assert lcd.all_reduce_count(2.5).item() == 2.5
    assert (lcd.world_size(), lcd.rank()) == (1, 0)


def test_no_process_group_is_identity() -> None:
    assert not dist.is_initialized()
    assert not lcd.is_active()
    _check_identity()


def test_world_of_one_is_identity(tmp_path: Path) -> None:
    assert not dist.is_initialized()
    dist.init_process_group(
        "gloo",
        init_method=f"file://{tmp_path / 'store'}",
        rank=0,
        world_size=1,
        timeout=datetime.timedelta(seconds=10),
    )
    try:
        assert dist.is_initialized() and not lcd.is_active()
        _check_identity()
    finally:
        dist.destroy_process_group()


# --------------------------------------------------------------------------- failures fail, never hang
def _raising_worker(rank: int, world_size: int, out: Path) -> None:
    if rank == 1:
        raise ValueError("rank 1 fails on purpose")
    lcd.all_reduce_sum(torch.ones(3))  # waits for rank 1, which never comes


def _diverging_worker(rank: int, world_size: int, out: Path) -> None:
    short = dist.new_group([0, 1], timeout=datetime.timedelta(seconds=2))
    if rank == 1:
        time.sleep(120)  # alive, but skips the collective
    lcd.all_gather_cat(torch.ones(2, 3), group=short)


def _sleeping_worker(rank: int, world_size: int, out: Path) -> None:
    time.sleep(600)


def test_raising_rank_fails_the_job(tmp_path: Path) -> None:
    start = time.monotonic()
    with pytest.raises(RankFailed, match="rank 1 fails on purpose"):
        run_ranks(_raising_worker, 2, tmp_path, timeout=110)
    assert time.monotonic() - start < 110  # rank 0 would otherwise wait forever


def test_collective_times_out_when_a_rank_skips_it(tmp_path: Path) -> None:
    start = time.monotonic()
    with pytest.raises(RankFailed, match=r"ranks \[0\] failed(?s:.*)all_gather"):
        run_ranks(_diverging_worker, 2, tmp_path, timeout=110)
    assert time.monotonic() - start < 110  # the sleeping rank would take 120 s


def test_launcher_kills_a_hanging_job(tmp_path: Path) -> None:
    start = time.monotonic()
    with pytest.raises(TimeoutError, match="still running"):
        run_ranks(_sleeping_worker, 2, tmp_path, timeout=4)
    assert time.monotonic() - start < 4 + 10


def _flaky_connect_worker(rank: int, world_size: int, out: Path) -> None:
    marker = out / "attempted"
    if rank == 0 and not marker.exists():
        marker.write_text("1")
        raise RuntimeError("[enforce fail at gloo/transport/tcp/pair.cc] connectFullMesh failed")
    save_result(out, rank, {"ok": torch.ones(1)})


def _bug_then_broken_peer_worker(rank: int, world_size: int, out: Path) -> None:
    if rank == 1:
        (out / f"calls-{time.monotonic_ns()}").write_text("")
        raise ValueError("a real bug")
    lcd.all_reduce_sum(torch.ones(3))  # rank 1's exit breaks this rank's connection


def test_a_gloo_connect_failure_is_retried_once(tmp_path: Path) -> None:
    run_ranks(_flaky_connect_worker, 2, tmp_path, timeout=60)
    assert [r["ok"].item() for r in load_results(tmp_path, 2)] == [1.0, 1.0]
    (tmp_path / "attempted").unlink()
    with pytest.raises(RankFailed, match="connectFullMesh"):  # with no retry left, it fails
        run_ranks(_flaky_connect_worker, 2, tmp_path, timeout=60, startup_retries=0)


def test_other_failures_are_not_retried(tmp_path: Path) -> None:
    with pytest.raises(RankFailed):
        run_ranks(_bug_then_broken_peer_worker, 2, tmp_path, timeout=60)
    # the job ran once: rank 1's own error is not a start-up failure, whatever rank 0 then saw
    assert len(list(tmp_path.glob("calls-*"))) == 1
