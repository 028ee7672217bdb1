"""Float64 references for the ranking losses, written out from their sources (not from losscraft).

rax 0.2 (``rax/_src/losses.py``, the ranking losses optax ported as ``optax.losses``; neither
installs here) is transcribed for ``softmax_loss`` (labels divided by their sum, ``log_softmax``
of the scores over the valid items) and ``pairwise_logistic_loss`` (a sum over the pairs with
``y_i > y_j`` of ``relu(-d) + log1p(exp(-|d|))``, ``d = s_i - s_j``). ListNet's softmax target
is Cao et al. (2007), eq. 1 with phi = exp; ListMLE is Xia et al. (2008), eq. 8, written as a
product of Plackett-Luce choice probabilities; ApproxNDCG is Qin, Liu & Li (2010), eq. 11
and 15 (sigmoid position function, gains 2^y - 1, discounts log2(1 + rank)).
Every reference works on one query at a time, with plain Python loops over its real items.
"""

from __future__ import annotations

import math

import torch

f64 = torch.float64


def real_items(s: torch.Tensor, y: torch.Tensor, pad: int = -1) -> tuple[torch.Tensor, list[float]]:
    """The scores and labels of one query's real items (``y != pad``)."""
    keep = [i for i, v in enumerate(y.tolist()) if v != pad]
    return s[keep], [float(y[i]) for i in keep]


def rax_softmax_loss(s: torch.Tensor, y: list[float]) -> torch.Tensor:
    """rax ``softmax_loss`` on one list: ``-sum_i y_i / sum(y) * log_softmax(s)_i``."""
    total = sum(y)
    logp = s - torch.logsumexp(s, dim=0)
    return -sum((yi / total) * logp[i] for i, yi in enumerate(y))


def listnet_softmax_ref(s: torch.Tensor, y: list[float]) -> torch.Tensor:
    """Cao et al. (2007): cross-entropy between exp(y)/sum exp(y) and exp(s)/sum exp(s)."""
    z = sum(math.exp(v) for v in y)
    logp = s - torch.log(torch.exp(s).sum())
    return -sum((math.exp(yi) / z) * logp[i] for i, yi in enumerate(y))


def rax_pairwise_logistic_sum(s: torch.Tensor, y: list[float]) -> tuple[torch.Tensor, int]:
    """rax ``pairwise_logistic_loss`` with ``reduce_fn=jnp.sum`` on one list, and the pair count."""
    total = s.new_zeros(())
    count = 0
    for i in range(len(y)):
        for j in range(len(y)):
            if y[i] > y[j]:
                d = s[i] - s[j]
                total = total + torch.relu(-d) + torch.log1p(torch.exp(-d.abs()))
                count += 1
    return total, count


def plackett_luce_nll(s: torch.Tensor, order: list[int]) -> torch.Tensor:
    """``-log prod_k exp(s_{o_k}) / sum_{m >= k} exp(s_{o_m})`` with plain exponentials."""
    e = torch.exp(s)
    out = s.new_zeros(())
    for k in range(len(order)):
        out = out - torch.log(e[order[k]] / sum(e[order[m]] for m in range(k, len(order))))
    return out


def listmle_ref(s: torch.Tensor, y: list[float]) -> torch.Tensor:
    """Xia et al. (2008): the permutation sorts labels down; ties keep list order (stable)."""
    order = sorted(range(len(y)), key=lambda i: (-y[i], i))
    return plackett_luce_nll(s, order)


def approx_ndcg_ref(s: torch.Tensor, y: list[float], temperature: float = 1.0) -> torch.Tensor:
    """Qin et al. (2010): ``1 - sum_i (2^y_i - 1) / log2(1 + rank_i) / IDCG`` with smooth ranks."""
    n = len(y)
    ideal = sorted(y, reverse=True)
    idcg = sum((2.0**g - 1.0) / math.log2(2.0 + k) for k, g in enumerate(ideal))
    dcg = s.new_zeros(())
    for i in range(n):
        rank = 1.0 + sum(1.0 / (1.0 + torch.exp((s[i] - s[j]) / temperature)) for j in range(n) if j != i)
        dcg = dcg + (2.0 ** y[i] - 1.0) / torch.log2(1.0 + rank)
    return 1.0 - dcg / idcg


def list_case(seed: int, q: int = 4, length: int = 6, pad: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores ``(q, length)`` (scale 2) and labels in 0..3; with ``pad`` the rows end in -1 padding."""
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(q, length, generator=g, dtype=f64) * 2
    y = torch.randint(0, 4, (q, length), generator=g)
    y[:, 0] = 3  # every row has a relevant item and a pair
    y[:, 1] = 0
    if pad:
        for r in range(q):
            y[r, length - r % 3 :] = -1  # 0, 1 or 2 padded items at the end
    return s, y
