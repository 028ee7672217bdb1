"""A softmax over one class is an error for every class-index entry, never a silent 0.

With ``C = 1`` the softmax is 1 everywhere, so a softmax loss is exactly 0 with zero gradient
whatever the logits (torch's ``cross_entropy`` returns that 0). Every entry whose target is a
class index raises instead, naming the class count it needs (the segmentation overlap losses'
``mode="multiclass"`` is covered in tests/losses/segmentation/test_family.py).
"""

from __future__ import annotations

import pytest
import torch

from losscraft import Family, LosscraftError, LossEntry, TargetKind

from lc_helpers import ENTRIES, sample

# Ordinal entries have no class dim (K-1 task logits, or a score and K-1 cutpoints): their
# K = 1 / K = 2 checks are in tests/losses/ordinal/test_family.py. CTC's classes are dim 2 of
# (T, N, C): its C = 1 / C = 2 checks are in tests/losses/sequence/test_ctc.py.
CLASS_INDEX = [
    e
    for e in ENTRIES
    if e.spec.target_kind in (TargetKind.CLASS_INDEX, TargetKind.CLASS_INDEX_OR_PROBABILITIES)
    and e.spec.family not in (Family.ORDINAL, Family.SEQUENCE)
]


def _one_class(entry: LossEntry) -> tuple[torch.Tensor, ...]:
    args = list(sample(entry, 3).args)
    names = entry.spec.inputs
    classes = names.index("weight") if "weight" in names else 0  # linear CE: (V, H) rows
    dim = 0 if "weight" in names else 1
    args[classes] = args[classes].narrow(dim, 0, 1).contiguous()
    t = names.index("target")
    args[t] = torch.zeros_like(args[t])
    return tuple(args)


def test_every_class_index_entry_is_listed() -> None:
    assert len(CLASS_INDEX) >= 12


@pytest.mark.parametrize("entry", CLASS_INDEX, ids=[e.name for e in CLASS_INDEX])
@pytest.mark.parametrize("form", ["function", "module"])
def test_one_class_raises(entry: LossEntry, form: str) -> None:
    args = _one_class(entry)
    assert entry.module is not None
    call = entry.function if form == "function" else entry.module()
    with pytest.raises(LosscraftError, match=r"[CV] >= 2"):
        call(*args)


@pytest.mark.parametrize("entry", CLASS_INDEX, ids=[e.name for e in CLASS_INDEX])
def test_two_classes_still_learn(entry: LossEntry) -> None:
    """The smallest valid class count gives a loss with a non-zero gradient."""
    args = list(sample(entry, 3).args)
    names = entry.spec.inputs
    i = names.index("weight") if "weight" in names else 0
    args[i] = args[i].narrow(0 if "weight" in names else 1, 0, 2).contiguous().requires_grad_(True)
    t = names.index("target")
    args[t] = torch.arange(3) % 2 if args[t].dim() == 1 else torch.zeros_like(args[t])
    entry.function(*args).backward()
    assert args[i].grad is not None and args[i].grad.abs().sum() > 0
