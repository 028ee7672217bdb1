"""Ordinal targets get an ordinal loss from the guide, through registry metadata alone.

The guide's rule table names no ordinal loss: the ordinal entries declare ``Task.ORDINAL`` and
class-index targets, which is what ``recommend`` selects candidates by. Without them (hidden
below) the same data falls back to treating the levels as classes.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch

import losscraft
from losscraft import Family, Task
from losscraft.guide.profiling import profile

rec = importlib.import_module("losscraft.guide.recommending")

CLASSIFICATION_GOALS = ("calibrated-probabilities", "rank", "recall-minority")


def _ratings(n: int = 1500, seed: int = 0) -> np.ndarray:
    """Ratings 1..5: a latent normal score cut at ordered thresholds (an ordinal-probit draw)."""
    z = np.random.default_rng(seed).normal(size=n)
    return 1 + np.searchsorted([-1.2, -0.3, 0.5, 1.3], z)


def _inputs(spec: losscraft.LossSpec, n: int, k: int) -> tuple[torch.Tensor, ...]:
    """Untrained outputs of the shape the entry takes: K-1 task logits, or a score and cutpoints."""
    if "cutpoints" in spec.inputs:
        return (torch.zeros(n, requires_grad=True), losscraft.ordinal.OrderedCutpoints(k)())
    return (torch.zeros(n, k - 1, requires_grad=True),)


def test_ratings_are_profiled_as_ordinal() -> None:
    prof = profile(_ratings())
    assert prof.task == Task.ORDINAL.value
    assert prof.classes is not None and prof.classes.labels == (1, 2, 3, 4, 5)


@pytest.mark.parametrize("goal", CLASSIFICATION_GOALS)
def test_ordinal_target_gets_an_ordinal_loss(goal: str) -> None:
    y = _ratings()
    recs = rec.recommend(y, goal=goal)
    assert not any("no registered loss serves" in note for note in recs.notes)
    top = recs[0]
    entry = losscraft.get(top.name)
    assert entry.spec.family is Family.ORDINAL and Task.ORDINAL in entry.spec.tasks
    # the recommended Module trains on the ratings as class indices 0..K-1
    labels = recs.profile.classes.labels
    target = torch.as_tensor(np.searchsorted(labels, y))
    args = _inputs(entry.spec, len(y), len(labels))
    value = top.loss(args[0], target, *args[1:])
    assert value.dim() == 0 and torch.isfinite(value)
    value.backward()
    assert args[0].grad is not None and torch.isfinite(args[0].grad).all() and args[0].grad.abs().sum() > 0


def test_explicit_task_on_zero_based_levels() -> None:
    y = _ratings() - 1  # levels 0..4 look like classes: the task says they are ordered
    recs = rec.recommend(y, task="ordinal_regression", goal="calibrated-probabilities")
    assert losscraft.get(recs[0].name).spec.family is Family.ORDINAL


def test_it_is_the_metadata_without_ordinal_entries_the_guide_falls_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = rec.catalog

    def without_ordinal(**kw: object) -> list[losscraft.LossEntry]:
        return [e for e in real(**kw) if e.spec.family is not Family.ORDINAL]

    monkeypatch.setattr(rec, "catalog", without_ordinal)
    recs = rec.recommend(_ratings(), goal="calibrated-probabilities")
    assert any("no registered loss serves ordinal_regression" in note for note in recs.notes)
    assert recs[0].name == "cross_entropy"
