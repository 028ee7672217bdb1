"""Helpers shared by the ordinal losses: input checks, the task labels, samples and curves.

An ordinal target with ``K`` ordered classes ``0 < 1 < ... < K-1`` is decomposed into the
``K - 1`` binary questions "is ``y > k``?" (``k = 0 .. K-2``); CORAL and CORN take one logit per
question, ``input`` of shape ``(N, K-1)``, and class indices ``(N,)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..._core.checks import (
    check_class_index,
    check_floating,
    compute_dtype,
    fmt_got,
    fmt_shape,
    to_compute,
    values_are_concrete,
)
from ..._core.errors import LosscraftError
from ..._core.numerics import log1mexp
from ..._core.sampling import randn
from ..._core.spec import Call

__all__ = [
    "NUM_SAMPLE_TASKS",
    "all_log_probs",
    "check_cutpoints",
    "interval_nll",
    "prepare_task_logits",
    "task_curve_call",
    "task_labels",
    "task_logits_sample",
    "task_vector",
]

NUM_SAMPLE_TASKS = 3  # 4 ordered classes in the samples


def prepare_task_logits(
    fn: str, input: Tensor, target: Tensor, ignore_index: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Validate ``(N, K-1)`` task logits and ``(N,)`` class indices in ``[0, K-1]``.

    Returns ``(x, t_safe, mask)``: the logits in the compute dtype, the targets as ``long``
    with ignored samples replaced by class 0 (finite values everywhere) and the keep-mask.
    """
    check_floating(fn, "input", input)
    if input.dim() != 2 or input.shape[1] < 1:
        raise LosscraftError(
            f"{fn}: 'input' must have shape (N, K-1): one logit per binary task 'y > k' for K >= 2 "
            f"ordered classes, got {fmt_shape(input)}"
        )
    # K - 1 tasks describe K classes: valid targets are 0 .. K-1.
    check_class_index(fn, "target", target, int(input.shape[1]) + 1, ignore_index)
    if tuple(target.shape) != (input.shape[0],):
        raise LosscraftError(
            f"{fn}: 'target' of class indices must have shape (N,) = ({input.shape[0]},) (one class "
            f"per row of input {fmt_shape(input)}), got {fmt_shape(target)}"
        )
    x = to_compute(input, compute_dtype(input))
    t = target.long()
    mask = t != ignore_index
    return x, torch.where(mask, t, torch.zeros_like(t)), mask


def task_labels(t: Tensor, num_tasks: int) -> tuple[Tensor, Tensor]:
    """``(above, k)``: ``above[n, k] = t[n] > k`` (the cumulative labels) and the task indices ``(1, K-1)``."""
    k = torch.arange(num_tasks, device=t.device).unsqueeze(0)
    return t.unsqueeze(1) > k, k


def task_vector(fn: str, name: str, value: Tensor | None, like: Tensor) -> Tensor | None:
    """A per-task ``(K-1,)`` hyperparameter checked against ``like``'s dim 1, as a ``(1, K-1)`` row."""
    if value is None:
        return None
    tasks = int(like.shape[1])
    if value.dim() != 1 or value.shape[0] != tasks:
        raise LosscraftError(
            f"{fn}: '{name}' must have shape ({tasks},) (one value per task, input's dim 1), got "
            f"{fmt_shape(value)}"
        )
    return value.to(device=like.device, dtype=like.dtype).unsqueeze(0)


def _num_tasks(hparams: dict[str, object], key: str) -> int:
    value = hparams.get(key)
    if isinstance(value, Tensor) and value.dim() == 1:
        return int(value.numel())
    if isinstance(value, (list, tuple)):
        return len(value)
    return NUM_SAMPLE_TASKS


def task_logits_sample(
    n: int,
    *,
    generator: torch.Generator,
    dtype: torch.dtype,
    task_param: str = "importance",
    **hparams: object,
) -> Call:
    """Logits ``(n, K-1)`` of a rank-consistent model plus noise, and classes ``(n,)`` in ``[0, K-1]``.

    ``K - 1`` follows a per-task hyperparameter when one is given (else 3). No sample equals
    ``ignore_index``.
    """
    tasks = _num_tasks(hparams, task_param)
    score = randn((n, 1), generator, torch.float64) * 2.0
    bias = torch.linspace(1.0, -1.0, tasks, dtype=torch.float64) if tasks > 1 else torch.zeros(1)
    x = score + bias + 0.5 * randn((n, tasks), generator, torch.float64)
    t = torch.randint(0, tasks + 1, (n,), generator=generator, dtype=torch.long)
    return Call((x.to(dtype), t))


def task_curve_call(x: Tensor, *, task_param: str = "importance", **hparams: object) -> Call:
    """Score ``x`` shared by the tasks: logits ``x - b_k`` with ``b = (-1, 0, 1)``, against class 1 of 4.

    With a per-task hyperparameter of length ``K - 1`` the offsets are ``K - 1`` evenly spaced
    values in ``[-1, 1]`` and the class is ``floor((K-1) / 2)``.
    """
    tasks = _num_tasks(hparams, task_param) if hparams.get(task_param) is not None else NUM_SAMPLE_TASKS
    b = torch.linspace(-1.0, 1.0, tasks, dtype=x.dtype, device=x.device)
    logits = x.unsqueeze(1) - b
    return Call((logits, torch.full((x.shape[0],), tasks // 2, dtype=torch.long, device=x.device)))


def check_cutpoints(fn: str, cutpoints: Tensor) -> int:
    """``cutpoints`` is a floating ``(K-1,)`` tensor, ``K-1 >= 1``, finite and non-decreasing; returns ``K-1``.

    The values are checked only where they are concrete (not under ``torch.compile`` / ``vmap``).
    """
    check_floating(fn, "cutpoints", cutpoints)
    if cutpoints.dim() != 1 or cutpoints.numel() < 1:
        raise LosscraftError(
            f"{fn}: 'cutpoints' must have shape (K-1,): the K-1 >= 1 ordered thresholds between K "
            f"classes, got {fmt_shape(cutpoints)}"
        )
    if values_are_concrete(cutpoints):
        c = cutpoints.detach()
        finite = torch.isfinite(c)
        if not bool(finite.all()):
            raise LosscraftError(
                f"{fn}: 'cutpoints' must contain finite values, {fmt_got(c, c[~finite][0].item())}"
            )
        down = c[1:] < c[:-1]
        if bool(down.any()):
            i = int(torch.nonzero(down)[0].item())
            raise LosscraftError(
                f"{fn}: 'cutpoints' must be non-decreasing (theta_0 <= theta_1 <= ...), got "
                f"theta_{i} = {c[i].item():g} > theta_{i + 1} = {c[i + 1].item():g}; learn them as a "
                "first cutpoint plus softplus increments (losscraft.ordinal.OrderedCutpoints)"
            )
    return int(cutpoints.numel())


def interval_nll(f: Tensor, t: Tensor, cutpoints: Tensor) -> Tensor:
    r"""``-log P(y = t | f)`` of the cumulative-logit model, stable for any score ``f``.

    $P = \sigma(a) - \sigma(b)$ with $a = \theta_t - f > b = \theta_{t-1} - f$ factors exactly
    as $\sigma(a)\,\sigma(-b)\,(1 - e^{-(a - b)})$, so
    $-\log P = \operatorname{softplus}(-a) + \operatorname{softplus}(b) - \log(1 - e^{-(\theta_t - \theta_{t-1})})$:
    two softplus terms and a term of the cutpoint gap alone, none of which cancels when both
    sigmoids saturate (the difference of sigmoids is 0 in float32 from ``|f| ~ 17`` on). The
    first class has no lower cutpoint ($\theta_{-1} = -\infty$: only the first term), the
    last no upper one ($\theta_{K-1} = +\infty$: only the second).
    """
    last = int(cutpoints.numel())
    has_upper = t < last
    has_lower = t > 0
    inner = has_upper & has_lower
    # indices clamped into range: the edge classes' missing term is replaced by 0 below
    upper = cutpoints[t.clamp(max=last - 1)]
    lower = cutpoints[(t - 1).clamp(min=0)]
    zero = f.new_zeros(())
    # softplus as logaddexp(z, 0): exact everywhere (F.softplus turns into the identity above
    # 20, a 2e-9 jump), with the gradient sigmoid(z), also at z = 0
    above = torch.where(has_upper, torch.logaddexp(f - upper, zero), zero)  # -log sigma(theta_t - f)
    below = torch.where(has_lower, torch.logaddexp(lower - f, zero), zero)  # -log sigma(f - theta_{t-1})
    # a safe gap of 1 where there is no inner interval keeps log1mexp and its gradient finite
    gap = torch.where(inner, upper - lower, torch.ones_like(f))
    return above + below - torch.where(inner, log1mexp(-gap), zero)


def all_log_probs(f: Tensor, cutpoints: Tensor) -> Tensor:
    """``log P(y = k | f)`` for every class ``k``: shape ``(*f.shape, K)`` (see :func:`interval_nll`)."""
    classes = torch.arange(int(cutpoints.numel()) + 1, device=f.device)
    fk = f.unsqueeze(-1).expand(*f.shape, classes.numel())
    return -interval_nll(fk, classes.expand_as(fk), cutpoints)
