"""ldam: equal to the official ``LDAMLoss``, a float64 reference, margins and relations.

The official loss is ``F.cross_entropy(s * where(onehot, x - m_y, x), weight)``; ours
additionally supports ``ignore_index`` and ``(N, C, d1, ...)`` inputs. With every target
ignored (or an empty batch) the loss is 0 with zero gradients (torch's cross-entropy: NaN).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import losscraft
from losscraft import LosscraftError
from losscraft.losses.classification import LDAMLoss, cross_entropy_loss, ldam_loss
from losses.classification.helpers import (
    LDAM_COUNTS,
    LDAM_W,
    REDUCTIONS,
    TIGHT,
    D,
    _close,
    _gen,
    _reduce_ref,
    _rows,
    _run,
)


def _official_ldam(x, target, cls_num_list, max_m=0.5, weight=None, s=30.0):
    """Cao et al.'s LDAMLoss.forward (official repository), written out on CPU/float64."""
    m_list = 1.0 / torch.sqrt(torch.sqrt(torch.as_tensor(cls_num_list, dtype=D)))
    m_list = m_list * (max_m / m_list.max())
    index = F.one_hot(target, x.shape[1]).bool()
    batch_m = (m_list[None, :] @ index.to(D).t()).view(-1, 1)
    output = torch.where(index, x - batch_m, x)
    return F.cross_entropy(s * output, target, weight=weight)


def _cos_case(seed: int, shape=(9, 4)):
    g = _gen(seed)
    x = torch.rand(shape, generator=g, dtype=D) * 2 - 1
    t = torch.randint(0, shape[1], (shape[0], *shape[2:]), generator=g)
    return x, t


@pytest.mark.parametrize("use_w", [False, True])
@pytest.mark.parametrize(("max_m", "s"), [(0.5, 30.0), (0.3, 10.0)])
def test_ldam_matches_official_code(use_w: bool, max_m: float, s: float) -> None:
    x, t = _cos_case(26)
    w = LDAM_W if use_w else None
    _close(
        _run(ldam_loss, x, t, class_counts=LDAM_COUNTS, max_margin=max_m, scale=s, weight=w),
        _run(lambda a, b: _official_ldam(a, b, LDAM_COUNTS, max_m, w, s), x, t),
    )


@pytest.mark.parametrize("shape", [(7, 4), (2, 4, 3)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_ldam_reference(shape, reduction: str) -> None:
    x, t = _cos_case(27, shape)
    t.view(-1)[:2] = -100
    n = LDAM_COUNTS.tolist()
    raw = [c**-0.25 for c in n]
    delta = [0.5 * r / max(raw) for r in raw]
    w = LDAM_W.tolist()

    def row(z: list[float], y: int) -> float:
        a = [30.0 * (zc - (delta[y] if c == y else 0.0)) for c, zc in enumerate(z)]
        m = max(a)
        return w[y] * (m + math.log(sum(math.exp(v - m) for v in a)) - a[y])

    rows = _rows(x, t)
    keep = [y != -100 for _, y in rows]
    vals = [row(z, y) if k else 0.0 for (z, y), k in zip(rows, keep, strict=True)]
    if reduction == "mean":  # torch's class-weighted mean: sum w_y l / sum w_y
        ref = torch.tensor(sum(vals) / sum(w[y] for (_, y), k in zip(rows, keep, strict=True) if k), dtype=D)
    else:
        ref = _reduce_ref(vals, keep, reduction, t.shape)
    got = ldam_loss(x, t, class_counts=LDAM_COUNTS, weight=LDAM_W, reduction=reduction)
    torch.testing.assert_close(got, ref, **TIGHT)


def test_ldam_margins_and_relations() -> None:
    x, t = _cos_case(28, (12, 4))
    # the rarest class gets max_margin; equal counts == class_counts=None == max_margin everywhere
    onehot = F.one_hot(t, 4).to(D)
    no_counts = ldam_loss(x, t, reduction="none")
    torch.testing.assert_close(no_counts, F.cross_entropy(30.0 * (x - 0.5 * onehot), t, reduction="none"))
    torch.testing.assert_close(
        ldam_loss(x, t, class_counts=torch.full((4,), 7.0, dtype=D), reduction="none"), no_counts, **TIGHT
    )
    rare = torch.full((12,), 3)
    delta = 0.5 * (5.0 / LDAM_COUNTS) ** 0.25
    assert delta[3].item() == 0.5
    got = ldam_loss(x, rare, class_counts=LDAM_COUNTS, reduction="none")
    torch.testing.assert_close(
        got, F.cross_entropy(30.0 * (x - 0.5 * F.one_hot(rare, 4)), rare, reduction="none")
    )
    # max_margin = 0, scale = 1: cross-entropy with the same class weight
    for w in (None, LDAM_W):
        torch.testing.assert_close(
            ldam_loss(x, t, class_counts=LDAM_COUNTS, max_margin=0.0, scale=1.0, weight=w),
            cross_entropy_loss(x, t, weight=w),
            **TIGHT,
        )


def test_ldam_gradcheck_ignore_and_module() -> None:
    x, t = _cos_case(29, (2, 4, 3))
    t[0, 0] = 1
    assert torch.autograd.gradcheck(
        lambda a: ldam_loss(a, t, class_counts=LDAM_COUNTS, scale=5.0, weight=LDAM_W, ignore_index=1),
        (x.clone().requires_grad_(),),
    )
    m = LDAMLoss(class_counts=[5000.0, 500.0, 50.0, 5.0], weight=[0.2, 0.7, 1.5, 3.0])
    assert {k for k, _ in m.named_buffers()} == {"_hp_class_counts", "_hp_weight"}
    x32, t32 = x.float(), t
    torch.testing.assert_close(
        m(x32, t32), ldam_loss(x32, t32, class_counts=LDAM_COUNTS.float(), weight=LDAM_W.float())
    )
    with pytest.raises(LosscraftError, match="per-element 'weight' is not accepted"):
        m(x32, t32, weight=torch.ones(2, 3))
    cfg = m.get_config()
    assert cfg["class_counts"] == [5000.0, 500.0, 50.0, 5.0]
    assert losscraft.build(cfg).get_config() == cfg
