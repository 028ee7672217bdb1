r"""Full-batch losses under data parallelism (DDP, FSDP, and the trainers built on them).

Under ``torch.distributed`` data parallelism every rank computes the loss on its own shard of
the batch and DDP *averages* the gradients over the $R$ ranks. A loss whose ``"mean"`` divides
by a count (class weights, ``ignore_index``, padding tokens, masked anchors) then divides by the
*local* count: a rank with fewer valid items weighs more, and the result is not the loss of the
whole batch. The same bias appears across gradient-accumulation micro-batches.

:class:`GlobalBatch` (a wrapper) and :func:`global_batch` (a ``with`` block) switch every loss
inside them to the rule: **each rank returns** $R$ **times its contribution to the loss of the
global batch** (all ranks' batches concatenated). The mean of the returned values over the ranks
is then the global-batch loss, and DDP's gradient averaging gives the global-batch gradient:

* ``reduction="mean"``: the local weighted sum divided by $D / R$, where $D$ is the count (or
  total weight) summed over the ranks, all-reduced once per call;
* ``reduction="sum"``: $R$ times the local sum;
* ``reduction="none"``: this rank's rows, unchanged.

Which losses: every registry entry, driven by ``spec.coupling(hparams)``, the way the loss
couples the samples of a batch (one mechanism; the losses call three hooks in
``losscraft._core.distributed``):

* ``"samples"`` (every per-sample or per-element loss, and the Dice and Lovász families with a
  per-image ``aggregate``): only the mean's count couples the batch; the count (or total
  weight) is all-reduced once per call, as above;
* ``"overlap_sums"`` (Dice, Jaccard, Tversky, focal Tversky, generalized Dice with
  ``aggregate="batch"``): the per-class sums (intersection, predicted and target volume,
  kept-position count) are packed into one tensor and all-reduced once per call, with
  gradient; every rank then computes the same full-batch loss $L$ and returns it;
* ``"sort"`` (Lovász hinge and Lovász-softmax with ``aggregate="batch"``): the logits and
  targets of every rank are gathered (with gradient, unequal sizes allowed) and every rank
  sorts the whole batch's errors and returns the same full-batch $L$;
* ``"risk_sets"`` (Cox's partial likelihood): the scores and (time, event) rows of every rank
  are gathered (with gradient, unequal sizes allowed) and every rank computes the whole
  batch's risk sets and returns the same full-batch $L$ (``"none"``: this rank's rows);
* ``"proxy_sums"`` (Proxy Anchor): the per-proxy sums of exponentials (shifted by a maximum
  taken over the ranks) and the per-proxy positive counts are all-reduced once per call, with
  gradient; the proxies are the same on every rank, and every rank returns the full-batch $L$;
* ``"embeddings"`` (InfoNCE, SupCon, batch triplet): the embeddings (and labels) of every rank
  are gathered with gradient, and this rank's samples are the anchors compared with the whole
  gathered batch (every other rank's samples are negatives or positives, mined globally for
  the batch triplet loss); ``"none"`` gives this rank's anchors' rows and ``"mean"`` follows
  the count rule above. The cost per rank is $O(n_r N)$ similarities, not $O(N^2)$.

Why returning the same $L$ on every rank is right for the batch-wide ones: the collectives'
backward sums the gradient over the ranks (each rank's copy of $L$ contributes), which gives
$R \, \partial L / \partial x_r$ and DDP's averaging gives $\partial L / \partial x_r$, the
full-batch gradient. The remote slices of a gather keep their gradient (plain
``torch.distributed.all_gather`` would cut it: each rank would train only through its own
anchors' similarities).

:func:`check_global` (called by :class:`GlobalBatch`) refuses a loss whose coupling is not in
:data:`GLOBAL_COUPLINGS`, naming it, instead of letting it give a per-rank answer silently; every
current entry is covered.

Composites (``CombinedLoss``, ``Weighted``, ``MultiTaskLoss``) inside the switch apply it to
every term: each term follows the rule, and so does their weighted sum (the weights and any
additive terms, e.g. the uncertainty weighting's $\log\sigma$, are the same on every rank, so
averaging over the ranks leaves them unchanged). :class:`GlobalBatch` checks every loss inside
a composite.

Gradient accumulation: ``with global_batch(denominator=D):`` fixes the global count instead of
all-reducing it. Pass the number of valid items (or the total weight) of *all* micro-batches
of the optimiser step on *all* ranks; each micro-batch's ``"mean"`` then is its weighted sum
over $D / R$, and the accumulated gradients equal those of one big batch (with or without a
process group). A batch-wide ratio (``aggregate="batch"`` Dice family and Lovász) cannot be
split into micro-batches and raises under a ``denominator``; contrastive losses accept one
(the anchors' mean is normalised over the step) but compare each anchor with its own
micro-batch only.

No process group (or world size 1) and no ``denominator``: nothing changes, every loss is
bitwise the plain loss.

Every rank must call the same losses with the same reductions in the same order inside the
switch (each ``"mean"`` runs one all-reduce), as for any collective; a rank whose batch is
empty or entirely ignored still calls the loss (it returns 0 and still divides by the global
count). A diverging rank fails after the process group's ``timeout`` instead of hanging.

Examples:
    >>> import torch, losscraft
    >>> from losscraft.distributed import GlobalBatch, global_batch
    >>> ce = GlobalBatch(losscraft.CrossEntropyLoss(ignore_index=-100))
    >>> ce
    GlobalBatch(
      (loss): CrossEntropyLoss(weight=None, ignore_index=-100, label_smoothing=0.0, reduction='mean')
    )
    >>> x, y = torch.zeros(4, 3), torch.tensor([0, 1, -100, 2])
    >>> ce(x, y)  # no process group: the plain loss
    tensor(1.0986)
    >>> with global_batch(denominator=8):  # a micro-batch of 4 items, of 8 in the step
    ...     losscraft.CrossEntropyLoss()(x, y.clamp_min(0))  # its sum over 8
    tensor(0.5493)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from torch import Tensor, nn

from ._core.distributed import BatchContext, current_context, current_group
from ._core.distributed import global_batch as _global_batch
from ._core.errors import LosscraftError
from ._core.registry import build, check_config_keys, register_composite
from ._core.spec import LossSpec
from .compose import Combinable, input_names

if TYPE_CHECKING:
    from torch.distributed import ProcessGroup

__all__ = ["GLOBAL_COUPLINGS", "GlobalBatch", "check_global", "global_batch"]

GLOBAL_COUPLINGS: frozenset[str] = frozenset(
    {"samples", "overlap_sums", "sort", "embeddings", "risk_sets", "proxy_sums"}
)
"""The ``spec.batch_coupling`` values that :class:`GlobalBatch` makes global."""

_COUPLING_WORDS = {
    "overlap_sums": "its per-class overlap sums (aggregate='batch')",
    "sort": "a sort of the whole batch's errors (aggregate='batch')",
    "embeddings": "its embeddings (every sample is compared with the others)",
    "risk_sets": "its risk sets (every event is compared with everyone still at risk)",
    "proxy_sums": "its per-proxy sums (every proxy is compared with the whole batch)",
}


@contextmanager
def global_batch(
    group: ProcessGroup | None = None, *, denominator: float | int | None = None
) -> Iterator[BatchContext]:
    r"""Within the block, every loss returns $R$ times its contribution to the global-batch loss.

    ``group``: the process group whose ranks form the global batch (``None``: the world).
    ``denominator``: the global count or total weight of the ``"mean"`` (gradient accumulation:
    all micro-batches of the step on all ranks), instead of an all-reduce. See the module
    docstring for the rule; without a process group and without ``denominator`` nothing changes.

    Raises:
        ValueError: ``denominator`` is not a number ``>= 0``.
    """
    with _global_batch(group, denominator=denominator) as state:
        yield state


def _specs(loss: nn.Module) -> Iterator[tuple[nn.Module, LossSpec]]:
    for m in loss.modules():
        spec = getattr(type(m), "spec", None)
        if isinstance(spec, LossSpec):
            yield m, spec


def check_global(loss: nn.Module) -> None:
    """Raise if a loss inside ``loss`` couples the batch in a way :class:`GlobalBatch` does not make global.

    Every registered loss Module inside ``loss`` (composites included) is checked with its
    current hyperparameters (``spec.coupling``) against :data:`GLOBAL_COUPLINGS`. Every
    current registry entry passes; a new kind of coupling is refused until its hook exists.

    Raises:
        LosscraftError: naming the loss and how it couples the batch.
    """
    for m, spec in _specs(loss):
        hparams: Mapping[str, Any] = getattr(m, "hparams", {})
        coupling = spec.coupling(hparams)
        if coupling not in GLOBAL_COUPLINGS:
            how = _COUPLING_WORDS.get(coupling, coupling)
            raise LosscraftError(
                f"GlobalBatch: {spec.name} couples the batch through {how}; GlobalBatch does not "
                "make that global yet, so each rank would compute a different, per-rank loss"
            )


class GlobalBatch(Combinable, nn.Module):
    r"""Wrap a loss so that, under ``torch.distributed``, it gives the global-batch answer.

    ``forward(*inputs, **call_inputs)`` calls the wrapped loss inside :func:`global_batch` over
    ``group``: each rank returns $R$ times its contribution to the loss of the concatenated
    batch, so that DDP's gradient averaging gives the global-batch gradient (see the module
    docstring). An enclosing ``with global_batch(denominator=...)`` block's denominator is kept
    (gradient accumulation).

    Without a process group (or with world size 1) it returns the plain loss, bitwise.

    Args:
        loss: the loss (a Module, a registry name or a config dict).
        group: the process group (``None``: the world). Not part of :meth:`get_config`.

    Raises:
        LosscraftError: (at call time, with a process group of more than one rank) a loss
            inside couples the batch in a way not in :data:`GLOBAL_COUPLINGS` (see
            :func:`check_global`).
    """

    config_name = "global_batch"

    def __init__(self, loss: nn.Module | str | Mapping[str, Any], group: ProcessGroup | None = None) -> None:
        super().__init__()
        if isinstance(loss, (str, Mapping)):
            loss = build(loss)
        if not isinstance(loss, nn.Module):
            raise LosscraftError(
                f"GlobalBatch: 'loss' must be an nn.Module, a registry name or a config dict, "
                f"got {type(loss).__name__}"
            )
        self.loss = loss
        self.group = group

    def _input_names(self) -> tuple[str, ...] | None:
        return input_names(self.loss)

    def forward(self, *inputs: Any, **call_inputs: Any) -> Tensor:
        """The wrapped loss under the global-batch rule."""
        outer = current_context()
        denominator = outer.denominator if outer is not None else None
        with _global_batch(self.group, denominator=denominator):
            if current_group()[0]:
                check_global(self.loss)
            out: Tensor = self.loss(*inputs, **call_inputs)
        return out

    def get_config(self) -> dict[str, Any]:
        """Plain data; ``losscraft.build`` inverts it (the process group is not serialised)."""
        get_config = getattr(self.loss, "get_config", None)
        if get_config is None:
            raise LosscraftError(f"{type(self.loss).__name__} cannot be serialised (no get_config)")
        return {"name": self.config_name, "loss": get_config()}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> GlobalBatch:
        """Inverse of :meth:`get_config` (the world group).

        Raises:
            LosscraftError: a missing ``loss`` or an unknown key (named, with the valid ones).
        """
        cfg = check_config_keys("GlobalBatch.from_config", config, required=("loss",), optional=("name",))
        return cls(cfg["loss"])


register_composite("global_batch", GlobalBatch.from_config)
