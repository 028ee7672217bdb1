"""Predictions from the outputs the ordinal losses train: ranks and class probabilities.

Each helper reads the same outputs as its loss (no gradient is needed: wrap in
``torch.no_grad()`` at inference) and returns integer ranks ``0 .. K-1`` as ``torch.long``.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from ..._core.checks import check_floating, compute_dtype, fmt_shape, to_compute
from ..._core.errors import LosscraftError
from ._common import all_log_probs, check_cutpoints

__all__ = [
    "cumulative_link_probabilities",
    "predict_coral",
    "predict_corn",
    "predict_cumulative_link",
]

_LOG_HALF = -math.log(2.0)


def _task_logits(fn: str, logits: Tensor) -> Tensor:
    check_floating(fn, "logits", logits)
    if logits.dim() != 2 or logits.shape[1] < 1:
        raise LosscraftError(
            f"{fn}: 'logits' must have shape (N, K-1): one logit per binary task for K >= 2 ordered "
            f"classes, got {fmt_shape(logits)}"
        )
    return to_compute(logits, compute_dtype(logits))


def predict_coral(logits: Tensor) -> Tensor:
    r"""The rank predicted by a CORAL model: the number of tasks with $P(y > k) > 0.5$.

    $\hat y_i = \sum_k \mathbb 1[\sigma(x_{ik}) > 0.5] = \sum_k \mathbb 1[x_{ik} > 0]$ (Cao et
    al. 2020, eq. 5; coral-pytorch's ``proba_to_label``), read on the logits, where the
    threshold is exact.

    Args:
        logits: task logits of shape ``(N, K-1)``, as given to :func:`~losscraft.functional.coral_loss`.

    Returns:
        Ranks of shape ``(N,)`` in ``[0, K-1]``, ``torch.long``.

    Raises:
        LosscraftError: ``logits`` not floating or not of shape ``(N, K-1)``.

    Examples:
        >>> import torch
        >>> from losscraft.ordinal import predict_coral
        >>> predict_coral(torch.tensor([[2.1, 1.8, -2.1, -1.8], [1.9, 1.8, 1.7, 1.6]]))
        tensor([2, 4])
    """
    x = _task_logits("predict_coral", logits)
    return (x > 0).sum(dim=1)


def predict_corn(logits: Tensor) -> Tensor:
    r"""The rank predicted by a CORN model: the number of $k$ with $P(y > k) = \prod_{j \le k} \sigma(x_{ij}) > 0.5$.

    The conditional probabilities chain into $P(y > k)$ (decreasing in $k$), and the rank
    counts those above 0.5 (Shi et al. 2023; coral-pytorch's ``corn_label_from_logits``).
    The product is accumulated as a sum of log-sigmoids, which cannot underflow.

    Args:
        logits: conditional task logits of shape ``(N, K-1)``, as given to
            :func:`~losscraft.functional.corn_loss`.

    Returns:
        Ranks of shape ``(N,)`` in ``[0, K-1]``, ``torch.long``.

    Raises:
        LosscraftError: ``logits`` not floating or not of shape ``(N, K-1)``.

    Examples:
        >>> import torch
        >>> from losscraft.ordinal import predict_corn
        >>> predict_corn(torch.tensor([[3.0, 3.0, 0.1, 5.0], [-1.0, 4.0, 4.0, 4.0]]))
        tensor([2, 0])
    """
    x = _task_logits("predict_corn", logits)
    log_above = torch.cumsum(F.logsigmoid(x), dim=1)  # log P(y > k)
    return (log_above > _LOG_HALF).sum(dim=1)


def cumulative_link_probabilities(input: Tensor, cutpoints: Tensor) -> Tensor:
    r"""Class probabilities $P(y = k) = \sigma(\theta_k - f) - \sigma(\theta_{k-1} - f)$ of the cumulative-link model.

    Computed in log space as in :func:`~losscraft.functional.cumulative_link_loss` (accurate
    in the tails, for any score) and exponentiated.

    Args:
        input: scores $f$, any shape, floating point.
        cutpoints: the $K-1$ ordered thresholds, shape ``(K-1,)``.

    Returns:
        Probabilities of shape ``(*input.shape, K)`` summing to 1 over the last dim, in the
        compute dtype (float32 for half inputs).

    Raises:
        LosscraftError: non-floating tensors, ``cutpoints`` not of shape ``(K-1,)``, not finite
            or decreasing.

    Examples:
        >>> import torch
        >>> from losscraft.ordinal import cumulative_link_probabilities
        >>> cumulative_link_probabilities(torch.tensor([0.0]), torch.tensor([-1.0, 1.0]))
        tensor([[0.2689, 0.4621, 0.2689]])
    """
    fn = "cumulative_link_probabilities"
    check_floating(fn, "input", input)
    check_cutpoints(fn, cutpoints)
    dt = compute_dtype(input, cutpoints)
    return all_log_probs(to_compute(input, dt), to_compute(cutpoints, dt)).exp()


def predict_cumulative_link(
    input: Tensor, cutpoints: Tensor, *, statistic: Literal["mode", "median", "mean"] = "mode"
) -> Tensor:
    r"""The class predicted by a cumulative-link model from its scores and cutpoints.

    ``statistic="mode"`` (default): the most probable class, $\arg\max_k P(y = k)$ (the
    accuracy-optimal choice; ties go to the lower class). ``"median"``: the number of
    cutpoints below the score, $\sum_k \mathbb 1[\theta_k < f]$ (the smallest $k$ with
    $P(y \le k) \ge 0.5$; optimal for the absolute error of the rank, and the same rule as
    CORAL's). ``"mean"``: the expected class $\sum_k k\,P(y = k)$ as a float (for a squared
    error on the levels).

    Args:
        input: scores $f$, any shape, floating point.
        cutpoints: the $K-1$ ordered thresholds, shape ``(K-1,)``.
        statistic: ``"mode"``, ``"median"`` or ``"mean"``.

    Returns:
        A tensor of ``input``'s shape: ``torch.long`` classes in ``[0, K-1]`` (``"mode"``,
        ``"median"``), or floats in ``[0, K-1]`` (``"mean"``).

    Raises:
        LosscraftError: non-floating tensors, bad ``cutpoints``, an unknown ``statistic``.

    Examples:
        >>> import torch
        >>> from losscraft.ordinal import predict_cumulative_link
        >>> f, cut = torch.tensor([-3.0, 0.2, 0.9]), torch.tensor([-1.0, 0.0, 1.0])
        >>> predict_cumulative_link(f, cut)
        tensor([0, 3, 3])
        >>> predict_cumulative_link(f, cut, statistic="median")
        tensor([0, 2, 2])
    """
    fn = "predict_cumulative_link"
    if statistic not in ("mode", "median", "mean"):
        raise LosscraftError(f"{fn}: 'statistic' must be one of 'mode', 'median', 'mean', got {statistic!r}")
    check_floating(fn, "input", input)
    check_cutpoints(fn, cutpoints)
    dt = compute_dtype(input, cutpoints)
    f, c = to_compute(input, dt), to_compute(cutpoints, dt)
    if statistic == "median":
        return (f.unsqueeze(-1) > c).sum(dim=-1)
    log_p = all_log_probs(f, c)
    if statistic == "mode":
        return log_p.argmax(dim=-1)
    classes = torch.arange(log_p.shape[-1], dtype=dt, device=f.device)
    return (log_p.exp() * classes).sum(dim=-1)
