"""Ranking, survival and label-sequence targets: profiled (detected or given), recommended, refused by compare.

A survival target is detected from its ``(time, event)`` rows; label sequences from a list of
integer sequences of different lengths; a ranking target is given by ``task="ranking"`` (a
``(queries, items)`` matrix, ``-1`` as padding) or by ``group=`` query ids. The guide then lists
the entries that declare the task, with reasons citing the statistics; ``compare`` says it does
not train these models.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import losscraft
from losscraft import LosscraftError, Task
from losscraft.guide import compare, profile, recommend


def _reasons(rec: object) -> str:
    return " ".join(rec.reasons)  # type: ignore[attr-defined]


def _survival(n: int = 400, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    event_time = rng.exponential(2.0, n)
    censor_time = rng.exponential(3.0, n)
    return np.c_[np.minimum(event_time, censor_time), (event_time <= censor_time).astype(np.int64)]


def _relevance(seed: int = 0) -> np.ndarray:
    y = np.random.default_rng(seed).integers(0, 4, (60, 10))
    y[:, 7:] = -1  # the last 3 items of every query are padding
    return y


# --------------------------------------------------------------------------- survival
def test_time_event_rows_are_detected_as_survival_with_their_statistics() -> None:
    y = _survival()
    prof = profile(y)
    assert prof.task == Task.SURVIVAL.value and "(time, event)" in prof.task_rule
    sv = prof.survival
    assert sv is not None
    assert sv.n_events == int(y[:, 1].sum()) and sv.censored_share == pytest.approx(1 - y[:, 1].mean())
    assert "events" in str(prof)


@pytest.mark.parametrize(
    ("y", "task"),
    [
        (np.random.default_rng(1).normal(size=(300, 2)), "regression"),  # two real outputs
        (
            np.c_[np.random.default_rng(2).normal(size=300), np.random.default_rng(3).integers(0, 2, 300)],
            "regression",
        ),
        (np.random.default_rng(4).integers(0, 2, (300, 2)), "multilabel_classification"),  # 0/1 pair
        # a small count with a flag: integer times with few distinct values are not read as times
        (
            np.c_[np.random.default_rng(5).integers(0, 6, 300), np.random.default_rng(6).integers(0, 2, 300)],
            None,
        ),
    ],
)
def test_other_two_column_targets_are_not_read_as_survival(y: np.ndarray, task: str | None) -> None:
    prof = profile(y)
    assert prof.task != Task.SURVIVAL.value
    if task is not None:
        assert prof.task == task


def test_survival_recommends_the_partial_likelihood_with_tied_times() -> None:
    y = _survival()
    y[:, 0] = np.round(y[:, 0], 1)  # recorded to 0.1: tied event times
    recs = recommend(y)
    assert recs.goal.kind == "rank"
    top = recs[0]
    assert Task.SURVIVAL in losscraft.get(top.name).spec.tasks
    assert "SURV-PARTIAL" in _reasons(top) and "SURV-TIES" in _reasons(top)
    assert top.params == {"ties": "efron"}
    value = top.loss(torch.zeros(len(y), requires_grad=True), torch.as_tensor(y, dtype=torch.float32))
    assert torch.isfinite(value)


def test_survival_task_checks_its_rows() -> None:
    with pytest.raises(LosscraftError, match=r"time >= 0, event in \{0, 1\}"):
        profile(np.c_[np.ones(10), np.full(10, 2)], task="survival")


# --------------------------------------------------------------------------- ranking
def test_explicit_ranking_lists_the_ranking_losses() -> None:
    y = _relevance()
    prof = profile(y, task="ranking")
    rk = prof.ranking
    assert rk is not None and rk.n_queries == 60 and rk.max_list_length == 7
    assert rk.grades == (0, 1, 2, 3) and rk.graded
    recs = recommend(y, task="ranking", top=10)
    names = {r.name for r in recs}
    assert {"listnet", "listmle", "approx_ndcg", "ranknet"} <= names
    assert all(Task.RANKING in losscraft.get(r.name).spec.tasks for r in recs)
    assert all("RANK-LISTS" in _reasons(r) for r in recs)
    scores = torch.randn(y.shape, requires_grad=True)
    for r in recs:
        value = r.loss(scores, torch.as_tensor(y))
        assert torch.isfinite(value), r.name


def test_group_ids_make_a_ranking_target() -> None:
    rng = np.random.default_rng(0)
    rel = rng.integers(0, 3, 300)
    group = np.repeat(np.arange(30), 10)
    prof = profile(rel, group=group)
    assert prof.task == Task.RANKING.value and prof.ranking is not None
    assert prof.ranking.n_queries == 30 and prof.ranking.mean_list_length == 10
    assert recommend(rel, group=group)[0].name in {"listnet", "listmle", "approx_ndcg", "ranknet"}
    with pytest.raises(LosscraftError, match="applies to task='ranking'"):
        profile(rel, group=group, task="regression")
    with pytest.raises(LosscraftError, match="one query id per sample"):
        profile(rel, group=group[:-1])


# --------------------------------------------------------------------------- sequences
def test_ragged_integer_sequences_are_label_sequences_for_ctc() -> None:
    seqs = [np.array([3, 3, 5]), np.array([1, 2]), np.array([4, 4, 4, 2])]
    prof = profile(seqs)
    sq = prof.sequence
    assert prof.task == Task.SEQUENCE.value and sq is not None
    assert (sq.n_sequences, sq.min_length, sq.max_length, sq.n_symbols) == (3, 2, 4, 5)
    # CTC needs a blank between repeated labels: [4, 4, 4, 2] takes 4 + 2 frames
    assert sq.min_frames == 6
    recs = recommend(seqs)
    assert (
        recs[0].name == "ctc" and "SEQ-ALIGN" in _reasons(recs[0]) and "6 output frames" in _reasons(recs[0])
    )


def test_equal_length_sequences_need_the_task_and_label_zero_is_flagged() -> None:
    seqs = [[0, 1, 2], [2, 1, 1]]
    assert profile(seqs).task != Task.SEQUENCE.value  # a rectangular matrix stays a matrix
    prof = profile(seqs, task="sequence_transcription")
    assert prof.task == Task.SEQUENCE.value
    assert any("blank" in w for w in prof.warnings)
    with pytest.raises(LosscraftError, match="list of 1-D integer label sequences"):
        profile(np.array([1.0, 2.0]), task="sequence_transcription")


# --------------------------------------------------------------------------- compare
@pytest.mark.parametrize(
    ("y", "task", "what"),
    [
        (_survival(200), None, "survival"),
        ([np.arange(1, 2 + i % 4) for i in range(200)], None, "sequence_transcription"),
        (np.random.default_rng(0).integers(0, 3, (200, 5)), "ranking", "ranking"),
    ],
)
def test_compare_refuses_these_tasks_clearly(y: object, task: str | None, what: str) -> None:
    X = np.random.default_rng(1).normal(size=(200, 3))
    with pytest.raises(LosscraftError, match=f"{what} data .*does not train these models; recommend"):
        compare(X, y, task=task, progress=False)
