"""Every declared ``Relation`` between registry entries holds, for every reduction."""

from __future__ import annotations

import pytest
import torch

import losscraft
from losscraft import LossEntry
from losscraft._core.spec import Relation

from lc_helpers import ENTRIES, sample

CASES = [(e, r) for e in ENTRIES for r in e.spec.relations]


@pytest.mark.parametrize(("entry", "rel"), CASES, ids=[r.describe(e.name) for e, r in CASES])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_relation(entry: LossEntry, rel: Relation, reduction: str) -> None:
    other = losscraft.get(rel.other)
    for seed in range(3):
        c = sample(entry, 5, seed=seed, **rel.params)
        oc = rel.transform(c) if rel.transform is not None else c
        lhs = entry.function(*c.args, **{**c.kwargs, **rel.params}, reduction=reduction)
        rhs = other.function(*oc.args, **{**oc.kwargs, **rel.other_params}, reduction=reduction)
        torch.testing.assert_close(lhs, rel.factor * rhs, rtol=rel.rtol, atol=rel.atol)


def test_relations_refer_to_known_entries() -> None:
    for e, r in CASES:
        assert losscraft.get(r.other) is not None, (e.name, r.other)
