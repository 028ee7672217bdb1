"""``losscraft.distributed``: every registry entry gives the global-batch answer across ranks.

The rule: inside ``global_batch`` over R ranks each rank returns R times its contribution to the
loss of the concatenated batch (for the batch-wide losses, Dice-family and Lovász with
``aggregate="batch"``, that is the full-batch loss itself on every rank). What is compared with
one process on the concatenated batch:

* value: the mean over the ranks of the returned values equals the full-batch loss;
* gradients, as DDP sees them. Rank r's input gradient must be R * dL/dx_r: either its value
  depends on its own rows only (a per-sample loss: the global count carries no gradient), or
  the collectives' backward (all-reduce of the overlap sums, all-gather of embeddings or
  logits) sums every rank's contribution to it. DDP's averaging of the encoder's parameter
  gradients divides by R, so ``grad_r / R`` must equal the full-batch gradient of rank r's
  rows. A tensor shared by every rank (the classifier matrix of ``linear_cross_entropy``, a
  model parameter) gets ``mean_r grad_r`` from DDP, which must equal the full-batch gradient;
* ``reduction="none"``: rank r's rows of the full-batch unreduced loss, or, for a per-class or
  per-batch output, the full-batch values on every rank.

Every registry entry runs in a spawned 2-rank job (unequal batches 3 and 5), in float64, for
``"mean"``, ``"sum"`` and ``"none"``: the per-sample ones as they are, the coupled ones with
their coupling on. 3-rank jobs cover class weights, ranks whose targets are all ignored, ranks
with no samples, element and pair weights, the lean elementwise kernels,
``linear_cross_entropy``, hard and semi-hard mining and composites. In-process: no process
group is bitwise the plain loss (every entry), and gradient accumulation over 4 micro-batches
with ``global_batch(denominator=...)`` equals one big batch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor

import losscraft
from dist_helpers import load_results, run_ranks, save_result
from losscraft import LosscraftError, LossEntry
from losscraft.distributed import GLOBAL_COUPLINGS, GlobalBatch, check_global, global_batch

from lc_helpers import ENTRIES, IDS, diff_positions, sample

SAMPLES = [e for e in ENTRIES if e.spec.coupling() == "samples"]
COUPLED = [e for e in ENTRIES if e.spec.coupling({"aggregate": "batch"}) != "samples"]
# Entries whose first input is time-major (T, N, C): the cases hold it batch-first, so that rows
# split over ranks as for every other entry, and _call transposes it back.
TIME_MAJOR = {"ctc"}


def _close(actual: Tensor, expected: Tensor) -> None:
    torch.testing.assert_close(actual, expected, rtol=1e-10, atol=1e-12)


def _row_inputs(entry: LossEntry, args: tuple[Tensor, ...], n: int) -> list[bool]:
    """Which positional inputs hold one row per sample (split over ranks); the rest are shared."""
    return [
        a.dim() > 0 and a.shape[0] == n and name != "weight"
        for name, a in zip(entry.spec.inputs, args, strict=True)
    ]


def _offsets(sizes: list[int]) -> list[slice]:
    starts = [sum(sizes[:r]) for r in range(len(sizes))]
    return [slice(s, s + k) for s, k in zip(starts, sizes, strict=True)]


# --------------------------------------------------------------------------- cases
def _case(
    entry: LossEntry,
    args: tuple[Tensor, ...],
    sizes: list[int],
    *,
    kwargs: dict[str, Any] | None = None,
    weight: Tensor | None = None,
    wrap: str = "",
) -> dict[str, Any]:
    n = sum(sizes)
    if entry.name in TIME_MAJOR:
        args = (args[0].transpose(0, 1).contiguous(), *args[1:])
    return {
        "name": entry.name,
        "args": [a.detach() for a in args],
        "rows": _row_inputs(entry, args, n),
        "grad": [i in set(diff_positions(entry, args)) for i in range(len(args))],
        "kwargs": kwargs or {},
        "weight": weight,
        "sizes": sizes,
        "wrap": wrap,
        "reductions": ("mean", "sum", "none"),
    }


def _call(case: dict[str, Any], args: list[Tensor], weight: Tensor | None, reduction: str) -> Tensor:
    entry = losscraft.get(case["name"])
    kw = dict(case["kwargs"])
    if weight is not None:
        kw["weight"] = weight
    if case["name"] in TIME_MAJOR:
        args = [args[0].transpose(0, 1), *args[1:]]
    if case["wrap"] == "combined":  # a composite: both terms follow the rule
        assert entry.module is not None
        combo = 0.3 * entry.module(reduction=reduction, **kw) + 0.7 * losscraft.CrossEntropyLoss(
            reduction=reduction
        )
        out: Tensor = combo(*args)
        return out
    out = entry.function(*args, reduction=reduction, **kw)
    return out


def _local(case: dict[str, Any], r: int) -> tuple[list[Tensor], Tensor | None]:
    mine = _offsets(case["sizes"])[r]
    args = [a[mine] if split else a for a, split in zip(case["args"], case["rows"], strict=True)]
    w = case["weight"]
    return args, (None if w is None else w[mine])


def _run(case: dict[str, Any], args: list[Tensor], weight: Tensor | None, reduction: str) -> dict[str, Any]:
    xs = [a.clone().requires_grad_(g) for a, g in zip(args, case["grad"], strict=True)]
    out = _call(case, xs, weight, reduction)
    res: dict[str, Any] = {"value": out.detach()}
    if reduction != "none":
        out.backward()
        res["grads"] = [x.grad if x.grad is not None else torch.zeros(0) for x in xs]
    return res


def _worker(rank: int, world_size: int, out: Path, cases: list[dict[str, Any]]) -> None:
    results = []
    for case in cases:
        args, weight = _local(case, rank)
        per: dict[str, Any] = {}
        with global_batch():
            for reduction in case["reductions"]:
                per[reduction] = _run(case, args, weight, reduction)
        results.append(per)
    save_result(out, rank, {"results": results})


def _check(cases: list[dict[str, Any]], world: int, tmp_path: Path) -> None:
    run_ranks(_worker, world, tmp_path, cases, timeout=600)
    ranks = [r["results"] for r in load_results(tmp_path, world)]
    for i, case in enumerate(cases):
        label = f"{case['name']} sizes={case['sizes']} wrap={case['wrap']!r}"
        for reduction in ("mean", "sum"):
            full = _run(case, case["args"], case["weight"], reduction)
            got = [ranks[r][i][reduction] for r in range(world)]
            try:
                _close(torch.stack([g["value"] for g in got]).mean(), full["value"])
                for j, split in enumerate(case["rows"]):
                    if not case["grad"][j]:
                        continue
                    if split:  # rank r's own rows: DDP divides by R
                        rows = [g["grads"][j] / world for g in got]
                        _close(torch.cat(rows), full["grads"][j])
                    else:  # shared (a parameter): DDP averages over the ranks
                        _close(torch.stack([g["grads"][j] for g in got]).mean(0), full["grads"][j])
            except AssertionError as exc:
                raise AssertionError(f"{label} reduction={reduction}: {exc}") from None
        if "none" not in case["reductions"]:
            continue
        full_none = _run(case, case["args"], case["weight"], "none")["value"]
        local_none = [ranks[r][i]["none"]["value"] for r in range(world)]
        if full_none.dim() > 0 and full_none.shape[0] == sum(case["sizes"]):
            _close(torch.cat(local_none), full_none)  # this rank's rows
        else:  # one value per class or per batch: the global value on every rank
            for got in local_none:
                _close(got, full_none)


# --------------------------------------------------------------------------- multi-rank jobs
@pytest.mark.distributed
def test_every_per_sample_entry_on_two_ranks(tmp_path: Path) -> None:
    cases = []
    for entry in SAMPLES:
        c = sample(entry, 8, seed=3)
        cases.append(_case(entry, c.args, [3, 5], kwargs=dict(c.kwargs)))
    _check(cases, 2, tmp_path)


def _class_weighted_ce(sizes: list[int], all_ignored_rank: int | None) -> dict[str, Any]:
    entry = losscraft.get("cross_entropy")
    n = sum(sizes)
    g = torch.Generator().manual_seed(5)
    x = torch.randn(n, 4, generator=g, dtype=torch.float64)
    y = torch.randint(0, 4, (n,), generator=g)
    y[1] = -100
    if all_ignored_rank is not None:
        y[_offsets(sizes)[all_ignored_rank]] = -100
    w = torch.tensor([0.5, 2.0, 1.0, 3.0], dtype=torch.float64)
    return _case(entry, (x, y), sizes, kwargs={"weight": w, "ignore_index": -100})


def _ignored(name: str, sizes: list[int], rank_all_ignored: int) -> dict[str, Any]:
    entry = losscraft.get(name)
    c = sample(entry, sum(sizes), seed=4)
    ti = entry.spec.inputs.index("target")
    args = list(c.args)
    t = args[ti].clone()
    t[_offsets(sizes)[rank_all_ignored]] = -100
    args[ti] = t
    return _case(entry, tuple(args), sizes, kwargs={**c.kwargs, "ignore_index": -100})


def _weighted(name: str, sizes: list[int]) -> dict[str, Any]:
    entry = losscraft.get(name)
    c = sample(entry, sum(sizes), seed=6)
    none = entry.function(*c.args, reduction="none", **c.kwargs)
    w = torch.rand(none.shape, generator=torch.Generator().manual_seed(7), dtype=torch.float64) + 0.1
    return _case(entry, c.args, sizes, kwargs=dict(c.kwargs), weight=w)


def _plain(name: str, sizes: list[int], wrap: str = "") -> dict[str, Any]:
    entry = losscraft.get(name)
    c = sample(entry, sum(sizes), seed=8)
    return _case(entry, c.args, sizes, kwargs=dict(c.kwargs), wrap=wrap)


@pytest.mark.distributed
def test_weights_ignored_and_empty_ranks_on_three_ranks(tmp_path: Path) -> None:
    sizes = [2, 0, 5]  # rank 1 holds no samples
    cases = [
        _class_weighted_ce([3, 2, 4], all_ignored_rank=1),  # class weights, rank 1 all ignored
        _class_weighted_ce(sizes, all_ignored_rank=None),
        _ignored("focal", [3, 4, 2], rank_all_ignored=0),
        _ignored("linear_cross_entropy", [3, 4, 2], rank_all_ignored=2),
        _ignored("dice", [2, 3, 2], rank_all_ignored=1),
        _weighted("mse", [3, 4, 2]),
        _weighted("binary_focal", sizes),  # lean elementwise kernel, element weights
        _weighted("kl_div", sizes),
        _plain("bce_with_logits", sizes),  # lean kernel
        _plain("log_cosh", sizes),
        _plain("linear_cross_entropy", sizes),
        _plain("cross_entropy", sizes, wrap="combined"),
        _plain("arcface", sizes),
        _plain("lovasz_softmax", sizes),
    ]
    _check(cases, 3, tmp_path)


def _coupled(name: str, sizes: list[int], seed: int = 3, wrap: str = "", **hp: Any) -> dict[str, Any]:
    """A case with the entry's batch coupling switched on (``aggregate="batch"`` where it has one)."""
    entry = losscraft.get(name)
    if any(p.name == "aggregate" for p in entry.spec.params):
        hp = {"aggregate": "batch", **hp}
    c = sample(entry, sum(sizes), seed=seed, **hp)
    return _case(entry, c.args, sizes, kwargs={**c.kwargs, **hp}, wrap=wrap)


@pytest.mark.distributed
def test_every_coupled_entry_on_two_ranks(tmp_path: Path) -> None:
    """Overlap sums, the Lovász sort and the embedding gather, each with unequal batches."""
    _check([_coupled(e.name, [3, 5]) for e in COUPLED], 2, tmp_path)


def _ignored_coupled(name: str, sizes: list[int], rank_all_ignored: int, **hp: Any) -> dict[str, Any]:
    case = _coupled(name, sizes, seed=4, ignore_index=-100, **hp)
    ti = losscraft.get(name).spec.inputs.index("target")
    t = case["args"][ti].clone()
    t[_offsets(sizes)[rank_all_ignored]] = -100
    t.view(-1)[0] = -100  # and one ignored position elsewhere
    case["args"][ti] = t
    return case


def _class_weighted_dice(sizes: list[int]) -> dict[str, Any]:
    case = _coupled("dice", sizes, seed=5, mode="multiclass")
    case["kwargs"]["weight"] = torch.tensor([0.5, 2.0, 1.0], dtype=torch.float64)  # shared, per class
    return case


def _pair_weighted(name: str, sizes: list[int]) -> dict[str, Any]:
    entry = losscraft.get(name)
    c = sample(entry, sum(sizes), seed=6)
    w = torch.rand(sum(sizes), generator=torch.Generator().manual_seed(7), dtype=torch.float64) + 0.1
    return _case(entry, c.args, sizes, kwargs=dict(c.kwargs), weight=w)  # per sample: split by rows


@pytest.mark.distributed
def test_coupled_losses_with_empty_ignored_and_weighted_ranks_on_three_ranks(tmp_path: Path) -> None:
    empty = [2, 0, 5]  # rank 1 holds no samples
    cases = [
        _coupled("dice", empty, mode="multiclass"),
        _coupled("jaccard", empty, mode="multilabel"),
        _coupled("generalized_dice", empty, mode="multiclass"),
        _coupled("tversky", empty),
        _coupled("lovasz_hinge", empty),
        _coupled("lovasz_softmax", empty),
        _coupled("info_nce", empty),
        _coupled("supcon", empty),
        _coupled("batch_triplet", empty, mining="hard"),
        _coupled("proxy_anchor", empty),
        _coupled("batch_triplet", [3, 2, 4], mining="semihard", margin=1.0),
        _ignored_coupled("dice", [3, 2, 4], rank_all_ignored=1, mode="multiclass"),
        _ignored_coupled("focal_tversky", [3, 2, 4], rank_all_ignored=0, mode="multiclass"),
        _ignored_coupled("lovasz_hinge", [3, 2, 4], rank_all_ignored=2),
        _ignored_coupled("lovasz_softmax", [3, 2, 4], rank_all_ignored=1),
        _class_weighted_dice([3, 2, 4]),
        _pair_weighted("info_nce", [3, 2, 4]),
        _pair_weighted("supcon", empty),
        # a composite: a global-value term (batch Dice) and a per-sample term (CE), term by term
        # (no "none": their unreduced shapes, (C,) and (N, H, W), do not add)
        {**_coupled("dice", [3, 2, 4], mode="multiclass", wrap="combined"), "reductions": ("mean", "sum")},
    ]
    _check(cases, 3, tmp_path)


def _wrapper_worker(rank: int, world_size: int, out: Path) -> None:
    g = torch.Generator().manual_seed(rank)
    # GlobalBatch over a composite of two batch-wide losses: the full-batch value on every rank
    x = torch.randn(2, 1, 3, 3, generator=g, dtype=torch.float64)
    y = (torch.rand(2, 1, 3, 3, generator=g) > 0.5).double()
    both = losscraft.DiceLoss(aggregate="batch") + losscraft.LovaszHingeLoss(aggregate="batch")
    value = GlobalBatch(both)(x, y)
    # a given denominator (gradient accumulation) replaces the all-reduced count, also inside
    # GlobalBatch: 2 + 3 rows of 4 values; a denominator of 40 halves the all-reduced mean
    rows = 2 + rank
    p, t = torch.randn(rows, 4, generator=g), torch.randn(rows, 4, generator=g)
    mse = GlobalBatch(losscraft.MSELoss())
    reduced = mse(p, t)
    with global_batch(denominator=40):
        given = mse(p, t)
    local_sum = ((p - t) ** 2).sum()
    save_result(
        out,
        rank,
        {"value": value, "x": x, "y": y, "reduced": reduced, "given": given, "local_sum": local_sum},
    )


@pytest.mark.distributed
def test_global_batch_wrapper_and_a_given_denominator(tmp_path: Path) -> None:
    run_ranks(_wrapper_worker, 2, tmp_path, timeout=600)
    res = load_results(tmp_path, 2)
    x = torch.cat([r["x"] for r in res])
    y = torch.cat([r["y"] for r in res])
    full = losscraft.DiceLoss(aggregate="batch")(x, y) + losscraft.LovaszHingeLoss(aggregate="batch")(x, y)
    for r in res:
        _close(r["value"], full)  # the full-batch value itself, on every rank
        # R x local sum / global count, with the count all-reduced (20) or given (40)
        torch.testing.assert_close(r["reduced"], 2 * r["local_sum"] / 20)  # float32
        torch.testing.assert_close(r["given"], 2 * r["local_sum"] / 40)


def _subgroup_worker(rank: int, world_size: int, out: Path) -> None:
    import torch.distributed as dist

    sub = dist.new_group([0, 2])  # every rank creates it; only ranks 0 and 2 use it
    g = torch.Generator().manual_seed(10 + rank)
    z1 = torch.randn(2 + rank, 4, generator=g, dtype=torch.float64, requires_grad=True)
    z2 = torch.randn(2 + rank, 4, generator=g, dtype=torch.float64)
    x = torch.randn(1 + rank, 3, 4, 4, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (1 + rank, 4, 4), generator=g)
    res: dict[str, Any] = {"z1": z1.detach(), "z2": z2, "x": x, "y": y}
    if rank != 1:
        info = GlobalBatch(losscraft.InfoNCELoss(), group=sub)(z1, z2)
        info.backward()
        res["info"], res["grad"] = info.detach(), z1.grad
        res["dice"] = GlobalBatch(losscraft.DiceLoss(mode="multiclass", aggregate="batch"), group=sub)(x, y)
    save_result(out, rank, res)


@pytest.mark.distributed
def test_global_batch_over_a_subgroup(tmp_path: Path) -> None:
    run_ranks(_subgroup_worker, 3, tmp_path, timeout=600)
    res = load_results(tmp_path, 3)
    a, b = res[0], res[2]
    z1 = torch.cat([a["z1"], b["z1"]]).requires_grad_()
    full = losscraft.InfoNCELoss()(z1, torch.cat([a["z2"], b["z2"]]))
    full.backward()
    assert z1.grad is not None
    _close((a["info"] + b["info"]) / 2, full.detach())
    _close(torch.cat([a["grad"], b["grad"]]) / 2, z1.grad)  # DDP over the subgroup divides by 2
    dice = losscraft.DiceLoss(mode="multiclass", aggregate="batch")(
        torch.cat([a["x"], b["x"]]), torch.cat([a["y"], b["y"]])
    )
    _close(a["dice"], dice)
    _close(b["dice"], dice)


# --------------------------------------------------------------------------- in-process
def test_couplings_declared() -> None:
    assert {e.name for e in COUPLED} == {
        "batch_triplet",
        "circle",
        "cox",
        "dice",
        "focal_tversky",
        "generalized_dice",
        "info_nce",
        "jaccard",
        "lovasz_hinge",
        "lovasz_softmax",
        "multi_similarity",
        "proxy_anchor",
        "supcon",
        "tversky",
    }
    dice = losscraft.get("dice").spec
    assert dice.coupling() == "samples"  # per image by default
    assert dice.coupling({"aggregate": "batch"}) == "overlap_sums"
    assert losscraft.get("info_nce").spec.coupling() == "embeddings"
    assert losscraft.get("lovasz_softmax").spec.coupling({"aggregate": "batch"}) == "sort"


def test_docs_name_every_coupled_entry() -> None:
    """docs/distributed.md's table of couplings lists every entry that couples the batch."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "distributed.md").read_text()
    table = text[text.index("## What each loss does across ranks") : text.index("## Gradient accumulation")]
    for e in COUPLED:
        assert f"`{e.name}`" in table, e.name
        assert f"`{e.spec.coupling({'aggregate': 'batch'})}`" in table


def test_every_declared_coupling_is_made_global() -> None:
    assert {e.spec.coupling({"aggregate": "batch"}) for e in ENTRIES} <= GLOBAL_COUPLINGS


def test_check_global_refuses_a_coupling_it_does_not_know(monkeypatch: pytest.MonkeyPatch) -> None:
    import losscraft.distributed as ld

    check_global(losscraft.InfoNCELoss() + losscraft.MSELoss())  # every coupling is known
    monkeypatch.setattr(ld, "GLOBAL_COUPLINGS", frozenset({"samples"}))
    with pytest.raises(LosscraftError, match="info_nce couples the batch through its embeddings"):
        check_global(losscraft.MSELoss() + losscraft.InfoNCELoss())
    with pytest.raises(LosscraftError, match="dice couples the batch through its per-class overlap sums"):
        check_global(losscraft.DiceLoss(aggregate="batch"))
    check_global(losscraft.DiceLoss())  # per image: samples only


@pytest.mark.parametrize("name", ["dice", "generalized_dice", "lovasz_hinge", "lovasz_softmax"])
def test_batch_ratio_losses_refuse_gradient_accumulation(name: str) -> None:
    """A ratio of batch-wide sums (or one batch-wide sort) cannot be split into micro-batches."""
    entry = losscraft.get(name)
    c = sample(entry, 4, seed=2)
    with (
        global_batch(denominator=16),
        pytest.raises(LosscraftError, match="cannot be split into micro-batches"),
    ):
        entry.function(*c.args, aggregate="batch", **c.kwargs)
    with global_batch(denominator=16):  # per image, the denominator applies as for any mean
        entry.function(*c.args, aggregate="sample", **c.kwargs)


def _values_and_grads(entry: LossEntry, reduction: str, ctx: str) -> list[Tensor]:
    c = sample(entry, 5, seed=1)
    pos = set(diff_positions(entry, c.args))
    xs = [a.clone().requires_grad_(i in pos) for i, a in enumerate(c.args)]
    if ctx == "wrapper":
        assert entry.module is not None
        out = GlobalBatch(entry.module(reduction=reduction, **c.kwargs))(*xs)
    elif ctx == "block":
        with global_batch():
            out = entry.function(*xs, reduction=reduction, **c.kwargs)
    else:
        out = entry.function(*xs, reduction=reduction, **c.kwargs)
    out.sum().backward()
    return [out.detach()] + [x.grad for x in xs if x.grad is not None]


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_no_process_group_is_bitwise_the_plain_loss(entry: LossEntry) -> None:
    for reduction in ("mean", "sum", "none"):
        plain = _values_and_grads(entry, reduction, "")
        for ctx in ("block", "wrapper"):
            got = _values_and_grads(entry, reduction, ctx)
            assert len(got) == len(plain)
            for a, b in zip(got, plain, strict=True):
                assert torch.equal(a, b), (entry.name, reduction, ctx)


def _micro_batches(entry: LossEntry, n: int, k: int) -> tuple[dict[str, Any], list[slice]]:
    c = sample(entry, n, seed=9)
    case = _case(entry, c.args, [n], kwargs=dict(c.kwargs))
    step = n // k
    return case, [slice(i * step, (i + 1) * step) for i in range(k)]


@pytest.mark.parametrize("entry", SAMPLES, ids=[e.name for e in SAMPLES])
def test_gradient_accumulation_with_a_global_denominator(entry: LossEntry) -> None:
    """4 micro-batches, each ``"mean"`` over the step's count, accumulate to one big batch.

    The step's count is the number of unreduced values of the big batch (the samples hold no
    ignored positions and no weights, so the plain mean divides by exactly that many).
    """
    case, parts = _micro_batches(entry, 8, 4)
    full = _run(case, case["args"], None, "mean")
    count = _run(case, case["args"], None, "none")["value"].numel()
    xs = [a.clone().requires_grad_(g) for a, g in zip(case["args"], case["grad"], strict=True)]
    total = torch.zeros((), dtype=torch.float64)
    for part in parts:
        local = [x[part] if split else x for x, split in zip(xs, case["rows"], strict=True)]
        with global_batch(denominator=count):
            loss = _call(case, local, None, "mean")
        loss.backward()  # gradients accumulate in the leaves, as in a training loop
        total = total + loss.detach()
    _close(total, full["value"])
    for x, g in zip(xs, full["grads"], strict=True):
        if x.grad is not None:
            _close(x.grad, g)


def test_gradient_accumulation_with_class_weights_and_ignored_tokens() -> None:
    """The denominator is the step's total class weight of the kept tokens (torch's weighted mean)."""
    g = torch.Generator().manual_seed(11)
    x = torch.randn(12, 5, generator=g, dtype=torch.float64)
    y = torch.randint(0, 5, (12,), generator=g)
    y[4:7] = -100  # the second micro-batch is all ignored
    y[0] = -100
    w = torch.tensor([1.0, 0.5, 2.0, 3.0, 0.25], dtype=torch.float64)
    loss = losscraft.CrossEntropyLoss(weight=w, ignore_index=-100)
    xf = x.clone().requires_grad_()
    full = torch.nn.functional.cross_entropy(xf, y, weight=w, ignore_index=-100)  # torch's own
    full.backward()
    kept = y != -100
    den = float(w[y[kept]].sum())
    xa = x.clone().requires_grad_()
    total = torch.zeros((), dtype=torch.float64)
    for i in range(4):
        with global_batch(denominator=den):
            part = loss(xa[3 * i : 3 * i + 3], y[3 * i : 3 * i + 3])
        part.backward()
        total = total + part.detach()
    _close(total, full.detach())
    assert xf.grad is not None and xa.grad is not None
    _close(xa.grad, xf.grad)


def test_denominator_validation_and_config() -> None:
    with pytest.raises(ValueError, match="'denominator' must be a number >= 0"), global_batch(denominator=-1):
        pass
    wrapped = GlobalBatch("huber")
    cfg = wrapped.get_config()
    assert cfg == {"name": "global_batch", "loss": losscraft.HuberLoss().get_config()}
    rebuilt = losscraft.build(cfg)
    assert isinstance(rebuilt, GlobalBatch) and isinstance(rebuilt.loss, losscraft.HuberLoss)
    with pytest.raises(LosscraftError, match="must be an nn.Module"):
        GlobalBatch(3)  # type: ignore[arg-type]


def test_open_blocks_are_counted_so_compiled_code_skips_the_context_var() -> None:
    # torch.compile cannot trace ContextVar.get: the hot path reads a counter of open blocks
    # first (tests/contract/test_compile.py compiles every loss with fullgraph=True outside them)
    from losscraft._core import distributed as d

    assert d._OPEN == 0 and d.current_context() is None
    seen: list[int] = []

    def fail_inside() -> None:
        with global_batch(denominator=8):
            seen.append(d._OPEN)
            assert d.current_context() is not None
            raise RuntimeError("inside")

    with pytest.raises(RuntimeError, match="inside"):
        fail_inside()
    assert seen == [1]
    assert d._OPEN == 0 and d.current_context() is None
