"""Proxy Anchor loss (Kim et al. 2020): one learnable proxy per class, each the anchor of its batch."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from ..._core.checks import (
    check_floating,
    check_params,
    compute_dtype,
    fmt_shape,
    to_compute,
    values_are_concrete,
)
from ..._core.combine import Combinable
from ..._core.distributed import current_context, max_batch, sum_batch, value_is_global
from ..._core.errors import LosscraftError
from ..._core.module import LossModule
from ..._core.numerics import safe_normalize
from ..._core.reduction import Reduction, reduce
from ..._core.registry import check_config_keys, register, register_composite
from ..._core.sampling import randn
from ..._core.spec import (
    Call,
    Curve,
    Family,
    InputKind,
    Interval,
    LossSpec,
    Param,
    Property,
    Ref,
    TargetKind,
    Task,
)
from ._common import EMBED_DIM, check_labels, group_labels, unit_at_cosine

__all__ = ["LearnedProxyAnchorLoss", "ProxyAnchorLoss", "proxy_anchor_loss"]


def _sample(n: int, *, generator: torch.Generator, dtype: torch.dtype, **_: object) -> Call:
    """Embeddings ``(n, 5)``, labels ``(n,)`` and ``C = n + 1`` proxies ``(C, 5)`` (0 for ``n = 0``).

    The labels are :func:`group_labels` with the last group moved to label ``n``: the last
    proxy has positives (dropping a proxy leaves a label without one) and the proxies between
    the groups have none, as in a batch that holds a few of many classes. ``C`` never equals
    ``n``, so the proxies are never mistaken for one row per sample.
    """
    labels = group_labels(n)
    if n > 0:
        labels = torch.where(labels == labels.max(), torch.full_like(labels, n), labels)
    num_classes = n + 1 if n > 0 else 0
    z = randn((n, EMBED_DIM), generator, dtype)
    return Call((z, labels, randn((num_classes, EMBED_DIM), generator, dtype)))


def _probe(x: Tensor, **_: object) -> Call:
    """Proxies ``e1``, ``e3``; a sample of class 0 at cosine ``x`` with ``e1`` (0 with ``e3``), one of class 1 at ``e3``.

    Both proxies have a positive and the class-1 sample is orthogonal to ``e1``, so proxy 0's
    value is ``softplus(-alpha (x - margin)) + softplus(alpha margin)``.
    """
    e = torch.eye(4, dtype=x.dtype, device=x.device)
    input = torch.stack([unit_at_cosine(x), e[2]])
    return Call((input, torch.tensor([0, 1], device=x.device), torch.stack([e[0], e[2]])))


_POSITIVE = Interval(0.0, math.inf, low_closed=False, high_closed=False)

KIM_2020 = Ref(
    "S. Kim, D. Kim, M. Cho, S. Kwak",
    "Proxy Anchor Loss for Deep Metric Learning",
    "CVPR",
    2020,
    "https://arxiv.org/abs/2003.13911",
)

SPEC = LossSpec(
    name="proxy_anchor",
    # Per-proxy sums of exponentials over the whole batch: all-reduced (sum_batch), see below.
    batch_coupling="proxy_sums",
    family=Family.EMBEDDING,
    tasks=(Task.METRIC_LEARNING,),
    input_kind=InputKind.EMBEDDINGS,
    # Class indices into the proxies, never differentiated (an identity label that indexes).
    target_kind=TargetKind.IDENTITY,
    inputs=("input", "target", "proxies"),
    params=(
        Param(
            "margin",
            0.1,
            Interval(0.0, 1.0),
            "delta in [0, 1]: positives are pulled above cosine delta and negatives pushed below "
            "-delta (Kim et al. and pytorch-metric-learning: 0.1)",
        ),
        Param(
            "alpha",
            32.0,
            _POSITIVE,
            "alpha > 0: the scale of the cosines; larger weights the hardest samples more "
            "(Kim et al. and pytorch-metric-learning: 32)",
        ),
    ),
    # On the probe curve (x = cosine of a sample with its proxy): softplus(-alpha (x - delta)) plus
    # a constant: convex, smooth, slope in (-alpha, 0).
    properties=frozenset(
        {
            Property.NONNEGATIVE,
            Property.CONVEX,
            Property.SMOOTH,
            Property.BOUNDED_GRADIENT,
            Property.SCALE_INVARIANT,
        }
    ),
    formula=(
        r"\ell_p = \frac{|P|}{|P^+|}\,[p \in P^+]\log\Bigl(1 + \sum_{x\in X_p^+} e^{-\alpha(s(x, p) - "
        r"\delta)}\Bigr) + \log\Bigl(1 + \sum_{x\in X_p^-} e^{\alpha(s(x, p) + \delta)}\Bigr),\qquad "
        r"L = \frac{1}{|P|}\sum_{p\in P} \ell_p"
    ),
    summary=(
        "Proxy Anchor loss (Kim et al. 2020): each class proxy pulls its batch positives and pushes "
        "its negatives, with log-sum-exp weights."
    ),
    references=(KIM_2020,),
    sample=_sample,
    curve=Curve(
        "cosine",
        (-0.99, 0.99),
        _probe,
        zero=1.0,
        extent=(-1.0, 1.0),
        pointwise=True,
        label="a sample and its proxy; the other proxy orthogonal",
    ),
    none_shape="(C,): one value per proxy, whose mean is the loss",
    weight="none",
    when_to_use=(
        "Metric learning from class labels (image retrieval: CUB, Cars, SOP, In-Shop) when you want "
        "fast, stable convergence: one learnable proxy per training class is the anchor of every "
        "batch sample, so each step compares N samples with C proxies (no pairs or triplets, no "
        "miner, any batch composition). The proxies are trained with the model: use "
        "LearnedProxyAnchorLoss(num_classes, embedding_dim) and add its parameters to the "
        "optimiser (Kim et al. give them a 100x learning rate). Plot axis: cosine of a sample "
        "with its proxy."
    ),
    when_not_to_use=(
        "Not without class labels (info_nce on two augmented views), and not when the number of "
        "classes is huge or open-ended (one proxy each, all compared with every sample): then "
        "multi_similarity or supcon on P x K batches compare the samples themselves. For a plain "
        "classifier over a fixed set of identities whose logits you also want, arcface or cosface."
    ),
)


def _check_proxies(fn: str, x: Tensor, proxies: Tensor) -> int:
    """``proxies`` floating ``(C, D)`` with ``D`` the embeddings' dimension; returns ``C``."""
    check_floating(fn, "proxies", proxies)
    if proxies.dim() != 2 or proxies.shape[1] != x.shape[1]:
        raise LosscraftError(
            f"{fn}: 'proxies' must have shape (C, D) with D = {x.shape[1]} (the embeddings' "
            f"dimension, one proxy per class), got {fmt_shape(proxies)}"
        )
    return int(proxies.shape[0])


def _check_label_range(fn: str, labels: Tensor, num_classes: int) -> None:
    """Every label indexes a proxy: in ``[0, C-1]`` (skipped while tracing, like every value check)."""
    if labels.numel() == 0 or not values_are_concrete(labels):
        return
    bad = (labels < 0) | (labels >= num_classes)
    if bool(bad.any()):
        raise LosscraftError(
            f"{fn}: 'target' must hold class indices in [0, C-1] = [0, {num_classes - 1}] (one proxy "
            f"per class, C = {num_classes} proxies), got {int(labels[bad][0])}"
        )


def _column_shift(logits: Tensor, keep: Tensor) -> Tensor:
    """Per-column max of the kept logits, detached; ``-inf`` for a column that keeps nothing.

    A row of ``-inf`` is appended so that an empty batch (no rows) still has a max.
    """
    masked = torch.where(keep, logits.detach(), torch.full_like(logits, -math.inf))
    pad = logits.new_full((1, logits.shape[1]), -math.inf)
    return torch.cat([masked, pad]).amax(dim=0)


def _log1p_sums(shift: Tensor, sums: Tensor) -> Tensor:
    r"""``log(1 + e^shift * sums)`` per proxy: ``softplus(shift + log sums)``, 0 for an empty sum.

    ``sums`` are $\sum e^{a - \text{shift}} \ge 1$ when non-empty (the max term is 1), so the
    log is exact and the softplus (a ``logaddexp`` with 0, no threshold) carries the 1. The guard
    is ``not sums <= 0`` so that a NaN sum stays NaN instead of becoming 0.
    """
    has = ~(sums <= 0)
    safe = torch.where(has, sums, torch.ones_like(sums))  # log(1) for empty sums: finite gradient
    value = torch.logaddexp(torch.zeros_like(safe), shift + torch.log(safe))
    return torch.where(has, value, torch.zeros_like(value))


@register(SPEC)
def proxy_anchor_loss(
    input: Tensor,
    target: Tensor,
    proxies: Tensor,
    *,
    margin: float = 0.1,
    alpha: float = 32.0,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Proxy Anchor loss (Kim et al. 2020): each class proxy pulls its batch positives and pushes its negatives, with log-sum-exp weights.

    Use it for metric learning from class labels: the model learns embeddings and, with them,
    one proxy per training class. With $s(x, p)$ the cosine similarity of an embedding and a
    proxy (both L2-normalised), $X_p^+$ the batch samples of class $p$, $X_p^-$ the others,
    $P$ all proxies and $P^+$ those with at least one positive in the batch:

    $$\ell_p = \frac{|P|}{|P^+|}\,[p \in P^+]\log\Bigl(1 + \sum_{x\in X_p^+} e^{-\alpha(s(x, p) - \delta)}\Bigr) + \log\Bigl(1 + \sum_{x\in X_p^-} e^{\alpha(s(x, p) + \delta)}\Bigr),\qquad L = \frac{1}{|P|}\sum_{p\in P} \ell_p$$

    $L$ is eq. 4 of the paper and pytorch-metric-learning's ``ProxyAnchorLoss`` (same values and
    gradients, the proxies' included): the positive term averaged over the proxies with a
    positive in the batch, the negative term over every proxy. Each proxy is an anchor
    compared with the whole batch, so every sample's gradient depends on the others (a soft
    weighting of the hard ones) while the cost is $O(NC)$. ``reduction="none"`` gives the
    per-proxy values $\ell_p$ (shape ``(C,)``; a proxy without positives keeps its negative
    term), whose ``"mean"`` is $L$ and ``"sum"`` is $|P| L$. An empty batch gives 0 (every
    sum is empty; zero, finite gradients), as pml.

    The proxies are an input, shared by every sample and learned with the model: keep them in
    :class:`LearnedProxyAnchorLoss` (``LearnedProxyAnchorLoss(num_classes, embedding_dim)``,
    initialised as pml's, called as ``loss(embeddings, labels)``), or in any
    ``nn.Parameter`` of shape ``(C, D)``.

    Under ``losscraft.distributed.global_batch`` the per-proxy sums and positive counts are
    all-reduced (the proxies are the same on every rank), so every rank returns the full-batch
    $L$; a ``denominator`` (gradient accumulation) is refused, as the sums span the batch.

    Numerics: computed in float32 for float16/bfloat16 inputs. Each sum is shifted by its
    per-proxy maximum exponent (a max over the ranks under ``global_batch``), so no
    exponential overflows or underflows to a wrong value for any $\alpha$, and
    $\log(1 + \cdot)$ is a ``logaddexp`` with 0.

    **Gradient:** $\partial L/\partial s(x, p) = -\frac{\alpha}{|P^+|}\, w^+_{xp}$ for a
    positive and $\frac{\alpha}{|P|}\, w^-_{xp}$ for a negative, where
    $w_{xp} = e^{a_{xp}} / (1 + \sum_{x'} e^{a_{x'p}})$ is the sample's softmax share in its
    proxy's sum ($a$ the exponent above): in (0, 1), largest for the hardest samples.
    Gradients reach the embeddings and the proxies; an exact zero embedding or proxy has
    cosine 0 with everything and receives gradient 0; a NaN makes the loss NaN.

    Args:
        input: embeddings of shape ``(N, D)``, floating point.
        target: integer class labels of shape ``(N,)``, in ``[0, C-1]`` (the row of each
            sample's proxy).
        proxies: the class proxies, shape ``(C, D)``, floating point (normalised inside);
            gradients flow to them.
        margin: $\delta$ in [0, 1]. Default 0.1.
        alpha: $\alpha > 0$, the scale. Default 32.
        reduction: ``"mean"`` ($L$), ``"sum"`` or ``"none"`` (one value per proxy, ``(C,)``).

    Returns:
        A scalar, or a tensor of shape ``(C,)`` for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: ``input`` not a floating ``(N, D)`` tensor; ``target`` not an integer
            tensor of shape ``(N,)`` or outside ``[0, C-1]``; ``proxies`` not a floating
            ``(C, D)`` tensor with the embeddings' ``D``; ``margin`` not in [0, 1]; ``alpha``
            not in (0, inf); a bad ``reduction``; a ``global_batch`` ``denominator``.

    Examples:
        >>> import torch
        >>> from losscraft.functional import proxy_anchor_loss
        >>> proxies = torch.eye(3, 2)  # proxy 2 is the zero vector: no positive, cosine 0
        >>> z = torch.tensor([[1.0, 0.1], [0.9, -0.2], [0.1, 1.0]])
        >>> labels = torch.tensor([0, 0, 1])
        >>> proxy_anchor_loss(z, labels, proxies, reduction="none")
        tensor([6.3858, 6.3858, 4.3121])
        >>> proxy_anchor_loss(z, labels, proxies)
        tensor(5.6946)

    References:
        S. Kim, D. Kim, M. Cho, S. Kwak (2020). Proxy Anchor Loss for Deep Metric Learning.
            CVPR. https://arxiv.org/abs/2003.13911
    """
    fn = "proxy_anchor_loss"
    check_floating(fn, "input", input)
    if input.dim() != 2:
        raise LosscraftError(
            f"{fn}: 'input' must have shape (N, D) (a batch of N embeddings), got {fmt_shape(input)}"
        )
    num_classes = _check_proxies(fn, input, proxies)
    check_params(SPEC, {"margin": margin, "alpha": alpha, "reduction": reduction})
    labels = check_labels(fn, target, input.shape[0]).to(input.device)
    _check_label_range(fn, labels, num_classes)
    state = current_context()
    if state is not None and state.denominator is not None:
        raise LosscraftError(
            f"{fn}: the loss cannot be split into micro-batches: its per-proxy sums span the whole "
            "batch, so global_batch(denominator=...) (gradient accumulation) cannot give the loss of "
            "one big batch; use a larger batch per step, or sum it across ranks with global_batch()"
        )
    dt = compute_dtype(input, proxies)
    x, p = to_compute(input, dt), to_compute(proxies, dt)
    sim = safe_normalize(x, dim=-1) @ safe_normalize(p, dim=-1).transpose(0, 1)  # (N, C) cosines
    pos = labels.unsqueeze(1) == torch.arange(num_classes, device=x.device)  # (N, C): x in X_p^+
    neg = ~pos
    logit_p = (-alpha) * (sim - margin)
    logit_n = alpha * (sim + margin)
    # One shift per proxy and term, the same on every rank (a max over the ranks): every
    # exponential is <= 1 and the largest is 1, whatever alpha.
    shift = torch.stack([_column_shift(logit_p, pos), _column_shift(logit_n, neg)])
    if state is not None:
        shift = max_batch(fn, shift)
    shift = torch.where(torch.isneginf(shift), torch.zeros_like(shift), shift)  # empty sums
    # -inf before exp, not a where after it: a masked exponential could overflow and 0 * inf is NaN.
    exp_p = torch.exp(torch.where(pos, logit_p - shift[0], torch.full_like(sim, -math.inf)))
    exp_n = torch.exp(torch.where(neg, logit_n - shift[1], torch.full_like(sim, -math.inf)))
    stats = torch.stack([exp_p.sum(0), exp_n.sum(0), pos.sum(0).to(dt)])  # (3, C)
    if state is not None:  # inside losscraft.distributed.global_batch: one all-reduce, with gradient
        stats = sum_batch(fn, stats)
    pos_term = _log1p_sums(shift[0], stats[0])
    neg_term = _log1p_sums(shift[1], stats[1])
    with_pos = (stats[2] > 0).sum().to(dt)
    # |P| / |P^+|: the per-proxy values' mean is the paper's two means (0 positives: 0 anyway)
    values = (num_classes / torch.clamp(with_pos, min=1.0)) * pos_term + neg_term
    if state is None:
        return reduce(values, reduction)
    with value_is_global():  # the same full-batch value on every rank
        return reduce(values, reduction)


class ProxyAnchorLoss(LossModule, spec=SPEC, fn=proxy_anchor_loss):
    """Module form of :func:`losscraft.functional.proxy_anchor_loss` (called as ``loss(input, target, proxies)``).

    The proxies are an input here, as in the function; :class:`LearnedProxyAnchorLoss` owns
    them as a parameter (pytorch-metric-learning's usage).
    """

    def __init__(self, *, margin: float = 0.1, alpha: float = 32.0, reduction: Reduction = "mean") -> None:
        super().__init__(margin=margin, alpha=alpha, reduction=reduction)


CONFIG_NAME = "learned_proxy_anchor"  # the name in its get_config(); not a registry entry


class LearnedProxyAnchorLoss(Combinable, nn.Module):
    r"""Proxy Anchor loss that owns its class proxies, a learnable ``(C, D)`` parameter.

    pytorch-metric-learning's ``ProxyAnchorLoss(num_classes, embedding_size)`` usage: the
    Module holds one proxy per class in ``proxies`` (an ``nn.Parameter``, initialised as pml:
    ``kaiming_normal_`` with ``mode="fan_out"``), is called as ``loss(embeddings, labels)``
    and computes :func:`~losscraft.functional.proxy_anchor_loss` with its proxies. Add its
    parameters to the optimiser, ``torch.optim.AdamW([*model.parameters(),
    *loss.parameters()])`` (Kim et al. train the proxies with a 100x learning rate: a second
    parameter group). The proxies are float32 by default; ``.to(torch.float64)`` converts
    them, and half-precision embeddings are computed in float32.

    The hyperparameters live in the inner :class:`ProxyAnchorLoss` (``loss.loss``, also read
    and written as ``loss.margin``, ``loss.alpha``, ``loss.reduction``).
    :meth:`get_config` gives the constructor arguments and ``losscraft.build(config)`` makes
    a fresh Module from them (the learned proxies are state: restore them with
    ``load_state_dict``). Under ``losscraft.distributed.GlobalBatch`` every rank must hold the
    same proxies (DDP keeps them equal when the loss is part of the wrapped model, or when its
    gradients are averaged like the model's).

    Args:
        num_classes: $C \ge 1$, the number of training classes (one proxy each).
        embedding_dim: $D \ge 1$, the embeddings' dimension.
        margin: $\delta$ in [0, 1]. Default 0.1.
        alpha: $\alpha > 0$. Default 32.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per proxy).

    Raises:
        LosscraftError: at construction, ``num_classes`` or ``embedding_dim`` not an int >= 1,
            a bad ``margin``, ``alpha`` or ``reduction``; when called, as
            :func:`~losscraft.functional.proxy_anchor_loss` (a label outside ``[0, C-1]``,
            embeddings of another dimension).

    Examples:
        >>> import torch
        >>> from losscraft.nn import LearnedProxyAnchorLoss
        >>> _ = torch.manual_seed(0)
        >>> loss = LearnedProxyAnchorLoss(num_classes=10, embedding_dim=4)
        >>> loss.proxies.shape
        torch.Size([10, 4])
        >>> value = loss(torch.randn(6, 4), torch.tensor([0, 0, 3, 3, 7, 7]))
        >>> value.backward()  # the proxies' gradient is in loss.proxies.grad
        >>> loss.proxies.grad.shape
        torch.Size([10, 4])
    """

    def __init__(
        self,
        num_classes: int,
        embedding_dim: int,
        *,
        margin: float = 0.1,
        alpha: float = 32.0,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__()
        name = type(self).__name__
        for arg, value in (("num_classes", num_classes), ("embedding_dim", embedding_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise LosscraftError(f"{name}: '{arg}' must be an int >= 1, got {value!r}")
        self.num_classes = num_classes
        self.embedding_dim = embedding_dim
        self.loss = ProxyAnchorLoss(margin=margin, alpha=alpha, reduction=reduction)
        self.proxies = nn.Parameter(torch.empty(num_classes, embedding_dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """pytorch-metric-learning's initialisation: ``kaiming_normal_(proxies, mode="fan_out")``."""
        nn.init.kaiming_normal_(self.proxies, mode="fan_out")

    @property
    def margin(self) -> float:
        r"""$\delta$ (the inner loss's ``margin``)."""
        return float(self.loss.margin)

    @margin.setter
    def margin(self, value: float) -> None:
        self.loss.margin = value

    @property
    def alpha(self) -> float:
        r"""$\alpha$ (the inner loss's ``alpha``)."""
        return float(self.loss.alpha)

    @alpha.setter
    def alpha(self, value: float) -> None:
        self.loss.alpha = value

    @property
    def reduction(self) -> str:
        """The configured reduction."""
        return self.loss.reduction

    @reduction.setter
    def reduction(self, value: str) -> None:
        # LossModule.__setattr__ validates and stores it (the read-only property is the getter)
        self.loss.reduction = value  # type: ignore[misc]

    def _input_names(self) -> tuple[str, ...]:
        return ("input", "target")

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """The loss of embeddings ``(N, D)`` with labels ``(N,)`` against the owned proxies."""
        out: Tensor = self.loss(input, target, self.proxies)
        return out

    def extra_repr(self) -> str:
        """``num_classes=10, embedding_dim=4``."""
        return f"num_classes={self.num_classes}, embedding_dim={self.embedding_dim}"

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments as plain data; ``losscraft.build(config)`` inverts it.

        The learned proxies are not configuration: they live in ``state_dict``.
        """
        return {
            "name": CONFIG_NAME,
            "num_classes": self.num_classes,
            "embedding_dim": self.embedding_dim,
            "margin": self.margin,
            "alpha": self.alpha,
            "reduction": self.reduction,
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> LearnedProxyAnchorLoss:
        """Inverse of :meth:`get_config` (the ``name`` key is optional and checked).

        Raises:
            LosscraftError: a missing size, an unknown key (named, with the valid ones) or
                another loss's name.
        """
        cfg = check_config_keys(
            "LearnedProxyAnchorLoss.from_config",
            config,
            required=("num_classes", "embedding_dim"),
            optional=("name", "margin", "alpha", "reduction"),
        )
        name = cfg.pop("name", CONFIG_NAME)
        if name != CONFIG_NAME:
            raise LosscraftError(
                f"LearnedProxyAnchorLoss.from_config: config is for {name!r}, not {CONFIG_NAME!r}"
            )
        return cls(**cfg)


register_composite(CONFIG_NAME, LearnedProxyAnchorLoss.from_config)
