"""The peers' loss calls and the losscraft call that gives the same value: one table, written once.

It feeds three things:

* the "Equivalent calls in other libraries" section of every per-entry page of the docs site
  (``docs/gen_site.py``);
* the migration guide ``docs/migrating.md`` (``docs/gen_migrating.py``);
* the parity tests (``tests/docs/test_migrating.py``). Every row runs both calls on the same inputs
  and compares the values and the gradients.

A row's ``peer`` and ``ours`` are single Python expressions, written as a user writes them. They
are evaluated in a namespace that holds ``torch``, ``F`` (``torch.nn.functional``), ``losscraft``,
``LF`` (``losscraft.functional``), the peer modules (``torchvision``, ``monai``, ``smp`` =
``segmentation_models_pytorch``, ``kornia``, ``keras``, ``pml`` = ``pytorch_metric_learning``),
and the tensors that ``INPUTS[row.inputs]`` builds (for example ``x`` for logits and ``y`` for
targets). The tensors are float64 (labels int64); :data:`DIFFERENTIABLE` names the ones whose
gradients the parity tests compare.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

LIBRARIES: tuple[str, ...] = (
    "torch.nn",
    "torchvision",
    "MONAI",
    "segmentation_models_pytorch",
    "kornia",
    "Keras 3",
    "pytorch-metric-learning",
)
"""The peers, in the order the pages list them."""

IMPORTS: dict[str, str] = {
    "torch.nn": "import torch; import torch.nn.functional as F",
    "torchvision": "import torchvision",
    "MONAI": "import monai",
    "segmentation_models_pytorch": "import segmentation_models_pytorch as smp",
    "kornia": "import kornia",
    "Keras 3": 'import os; os.environ["KERAS_BACKEND"] = "torch"; import keras',
    "pytorch-metric-learning": "import pytorch_metric_learning as pml  # and pml.losses, pml.miners, pml.reducers",
}
"""How each library's name in the ``peer`` calls is imported."""


@dataclass(frozen=True)
class Equivalent:
    """One peer call and the losscraft call that gives the same value (and the same gradients)."""

    entry: str
    """Registry key of the losscraft loss."""
    library: str
    """One of :data:`LIBRARIES`."""
    peer: str
    """The peer's call as a user writes it: one Python expression over the named inputs."""
    ours: str
    """The losscraft call that gives the same value: one Python expression over the same inputs."""
    inputs: str
    """Key of the input builder (the tensors both calls read)."""
    note: str = ""
    """Where the two differ on purpose, and why (argument conventions, extreme logits, alpha)."""
    on_purpose: bool = False
    """Whether ``note`` describes a behaviour that differs on purpose (listed again on the migration
    page's "Differences on purpose"), rather than a plain argument convention."""
    rtol: float = 1e-6
    """Relative tolerance of the parity test; larger only where the peer computes in float32."""
    dtype: str = "float64"
    """The dtype the parity test runs the row in: ``"float32"`` only where the peer rejects float64."""


def _gen_normal(g: torch.Generator, *shape: int, scale: float = 1.0) -> Tensor:
    return torch.randn(*shape, generator=g, dtype=torch.float64) * scale


def _uniform(g: torch.Generator, *shape: int, lo: float = 0.0, hi: float = 1.0) -> Tensor:
    return lo + (hi - lo) * torch.rand(*shape, generator=g, dtype=torch.float64)


def _hard(g: torch.Generator, *shape: int) -> Tensor:
    return (torch.rand(*shape, generator=g) < 0.5).to(torch.float64)


def _labels_all_present(g: torch.Generator, n: int, classes: int, *spatial: int) -> Tensor:
    """Class indices of shape ``(n, *spatial)`` in which every image holds every class."""
    y = torch.randint(classes, (n, *spatial), generator=g)
    flat = y.view(n, -1)
    for i in range(n):
        where = torch.randperm(flat.shape[1], generator=g)[:classes]
        flat[i, where] = torch.arange(classes)
    return y


def _binary_logits(g: torch.Generator) -> dict[str, Tensor]:
    return {"x": _gen_normal(g, 4, 3, scale=2.0), "y": _hard(g, 4, 3)}


def _binary_soft(g: torch.Generator) -> dict[str, Tensor]:
    return {"x": _gen_normal(g, 4, 3, scale=2.0), "y": _uniform(g, 4, 3)}


def _binary_pos_weight(g: torch.Generator) -> dict[str, Tensor]:
    return {**_binary_logits(g), "pw": _uniform(g, 3, lo=0.5, hi=3.0)}


def _probabilities(g: torch.Generator) -> dict[str, Tensor]:
    return {"p": _uniform(g, 4, 3, lo=0.02, hi=0.98), "y": _hard(g, 4, 3)}


def _class_logits(g: torch.Generator) -> dict[str, Tensor]:
    x = _gen_normal(g, 6, 4, scale=2.0)
    y = torch.randint(4, (6,), generator=g)
    return {"x": x, "y": y, "t": torch.nn.functional.one_hot(y, 4).to(torch.float64)}


def _class_logits_weighted(g: torch.Generator) -> dict[str, Tensor]:
    y = torch.randint(4, (6,), generator=g)
    y[2] = -100
    return {"x": _gen_normal(g, 6, 4, scale=2.0), "y": y, "w": _uniform(g, 4, lo=0.5, hi=2.0)}


def _class_probabilities(g: torch.Generator) -> dict[str, Tensor]:
    q = torch.softmax(_gen_normal(g, 6, 4), dim=1)
    return {"x": _gen_normal(g, 6, 4, scale=2.0), "q": q, "logq": q.log()}


def _distillation(g: torch.Generator) -> dict[str, Tensor]:
    return {"x": _gen_normal(g, 6, 4, scale=2.0), "t": _gen_normal(g, 6, 4, scale=2.0)}


def _long_tail(g: torch.Generator) -> dict[str, Tensor]:
    return {
        "x": _gen_normal(g, 6, 4, scale=2.0),
        "y": torch.randint(4, (6,), generator=g),
        "counts": torch.tensor([500.0, 120.0, 30.0, 8.0], dtype=torch.float64),
    }


def _cosines(g: torch.Generator) -> dict[str, Tensor]:
    return {"cos": _uniform(g, 6, 4, lo=-0.9, hi=0.9), "y": torch.randint(4, (6,), generator=g)}


def _lm_head(g: torch.Generator) -> dict[str, Tensor]:
    return {
        "h": _gen_normal(g, 8, 5),
        "w": _gen_normal(g, 7, 5),
        "y": torch.randint(7, (8,), generator=g),
    }


def _regression(g: torch.Generator) -> dict[str, Tensor]:
    return {"x": _gen_normal(g, 8, 3, scale=1.5), "y": _gen_normal(g, 8, 3, scale=1.5)}


def _positive_regression(g: torch.Generator) -> dict[str, Tensor]:
    return {"x": _uniform(g, 8, 3, lo=0.1, hi=20.0), "y": _uniform(g, 8, 3, lo=0.1, hi=20.0)}


def _log_rates(g: torch.Generator) -> dict[str, Tensor]:
    return {"x": _gen_normal(g, 8, 3), "n": torch.randint(0, 9, (8, 3), generator=g).to(torch.float64)}


def _rates(g: torch.Generator) -> dict[str, Tensor]:
    return {
        "r": _uniform(g, 8, 3, lo=0.2, hi=6.0),
        "n": torch.randint(0, 9, (8, 3), generator=g).to(torch.float64),
    }


def _gaussian(g: torch.Generator) -> dict[str, Tensor]:
    return {"mu": _gen_normal(g, 8, 3), "y": _gen_normal(g, 8, 3), "var": _uniform(g, 8, 3, lo=0.1, hi=3.0)}


def _distributions(g: torch.Generator) -> dict[str, Tensor]:
    q = torch.softmax(_gen_normal(g, 6, 4), dim=1)
    return {"x": _gen_normal(g, 6, 4, scale=2.0), "q": q, "logq": q.log()}


def _vectors(g: torch.Generator) -> dict[str, Tensor]:
    return {"x": _gen_normal(g, 6, 5), "y": _gen_normal(g, 6, 5)}


def _pairs(g: torch.Generator) -> dict[str, Tensor]:
    s = torch.tensor([1, -1, 1, -1, -1, 1])
    return {"a": _gen_normal(g, 6, 5), "b": _gen_normal(g, 6, 5), "s": s, "same": (s > 0).long()}


def _triplets(g: torch.Generator) -> dict[str, Tensor]:
    a = _gen_normal(g, 6, 5)
    return {"a": a, "p": a + _gen_normal(g, 6, 5, scale=0.7), "n": _gen_normal(g, 6, 5)}


def _two_views(g: torch.Generator) -> dict[str, Tensor]:
    z1 = _gen_normal(g, 6, 5)
    return {"z1": z1, "z2": z1 + _gen_normal(g, 6, 5, scale=0.8)}


def _labelled_embeddings(g: torch.Generator) -> dict[str, Tensor]:
    labels = torch.arange(4).repeat_interleave(3)  # P x K = 4 identities x 3 samples
    z = _gen_normal(g, 12, 5) + 0.8 * _gen_normal(g, 4, 5).repeat_interleave(3, dim=0)
    return {"z": z, "labels": labels}


def _segmentation(g: torch.Generator) -> dict[str, Tensor]:
    """Multiclass logits ``(2, 3, 4, 4)`` and class indices in which every image holds every class."""
    return {"x": _gen_normal(g, 2, 3, 4, 4, scale=2.0), "y": _labels_all_present(g, 2, 3, 4, 4)}


def _binary_segmentation(g: torch.Generator) -> dict[str, Tensor]:
    """One-channel logits ``(2, 1, 4, 4)``, the float mask ``m`` of that shape and its labels ``yb`` ``(2, 4, 4)``."""
    yb = _labels_all_present(g, 2, 2, 4, 4)
    return {"xb": _gen_normal(g, 2, 1, 4, 4, scale=2.0), "m": yb[:, None].to(torch.float64), "yb": yb}


def _ctc(g: torch.Generator) -> dict[str, Tensor]:
    """Logits ``(T=6, N=3, C=4)`` (blank 0), padded labels ``(3, 3)`` and the lengths ``il``, ``tl``."""
    y = torch.tensor([[1, 1, 2], [3, 2, 0], [0, 0, 0]])  # a repeat, a shorter one, an empty one
    return {
        "x": _gen_normal(g, 6, 3, 4, scale=2.0),
        "y": y,
        "il": torch.tensor([6, 5, 4]),
        "tl": torch.tensor([3, 2, 0]),
    }


INPUTS: dict[str, Callable[[torch.Generator], dict[str, Tensor]]] = {
    "binary_logits": _binary_logits,
    "binary_soft": _binary_soft,
    "binary_pos_weight": _binary_pos_weight,
    "probabilities": _probabilities,
    "class_logits": _class_logits,
    "class_logits_weighted": _class_logits_weighted,
    "class_probabilities": _class_probabilities,
    "distillation": _distillation,
    "long_tail": _long_tail,
    "cosines": _cosines,
    "lm_head": _lm_head,
    "regression": _regression,
    "positive_regression": _positive_regression,
    "log_rates": _log_rates,
    "rates": _rates,
    "gaussian": _gaussian,
    "distributions": _distributions,
    "vectors": _vectors,
    "pairs": _pairs,
    "triplets": _triplets,
    "two_views": _two_views,
    "labelled_embeddings": _labelled_embeddings,
    "segmentation": _segmentation,
    "binary_segmentation": _binary_segmentation,
    "ctc": _ctc,
}
"""Input builders: a seeded generator in, the named float64 (and int64 label) tensors out."""

DIFFERENTIABLE: dict[str, tuple[str, ...]] = {
    "binary_logits": ("x",),
    "binary_soft": ("x", "y"),
    "binary_pos_weight": ("x",),
    "probabilities": ("p",),
    "class_logits": ("x",),
    "class_logits_weighted": ("x",),
    "class_probabilities": ("x", "q"),
    "distillation": ("x", "t"),
    "long_tail": ("x",),
    "cosines": ("cos",),
    "lm_head": ("h", "w"),
    "regression": ("x", "y"),
    "positive_regression": ("x", "y"),
    "log_rates": ("x",),
    "rates": ("r",),
    "gaussian": ("mu", "y", "var"),
    "distributions": ("x",),
    "vectors": ("x", "y"),
    "pairs": ("a", "b"),
    "triplets": ("a", "p", "n"),
    "two_views": ("z1", "z2"),
    "labelled_embeddings": ("z",),
    "segmentation": ("x",),
    "binary_segmentation": ("xb",),
    "ctc": ("x",),
}
"""The inputs of each builder whose gradients the parity tests compare (model outputs and
regression targets; hard labels and masks are data, not differentiated)."""

E = Equivalent
_SMP_LOVASZ_F32 = (
    "smp's Lovász code casts the sorted labels to float32 (`gt_sorted.float()`), which makes its Jaccard "
    "increments float32 and `torch.dot` reject float64 logits; this row is checked in float32 (rtol 1e-5)."
)
_MONAI_F32 = (
    "MONAI's `FocalLoss` casts its inputs to float32 (`input.float()`), so it computes in float32 whatever "
    "the input dtype; losscraft keeps float64 (compared at rtol 1e-5)."
)

EQUIVALENTS: tuple[Equivalent, ...] = (
    # ------------------------------------------------------------------------------------ torch.nn
    E("mse", "torch.nn", "F.mse_loss(x, y)", "LF.mse_loss(x, y)", "regression"),
    E("mae", "torch.nn", "F.l1_loss(x, y)", "LF.mae_loss(x, y)", "regression"),
    E("huber", "torch.nn", "F.huber_loss(x, y, delta=0.5)", "LF.huber_loss(x, y, delta=0.5)", "regression"),
    E(
        "huber",
        "torch.nn",
        "F.smooth_l1_loss(x, y, beta=0.5)",
        "LF.huber_loss(x, y, delta=0.5) / 0.5",
        "regression",
        "SmoothL1 with `beta` is Huber with `delta=beta` divided by `beta` (its quadratic part is "
        "$r^2/(2\\beta)$): losscraft has one entry, Huber.",
    ),
    E(
        "msle",
        "torch.nn",
        "F.mse_loss(torch.log1p(x), torch.log1p(y))",
        "LF.msle_loss(x, y)",
        "positive_regression",
        "torch has no MSLE; losscraft validates that both tensors are $> -1$ instead of returning NaN.",
        on_purpose=True,
    ),
    E("bce", "torch.nn", "F.binary_cross_entropy(p, y)", "LF.bce_loss(p, y)", "probabilities"),
    E(
        "bce_with_logits",
        "torch.nn",
        "F.binary_cross_entropy_with_logits(x, y)",
        "LF.bce_with_logits_loss(x, y)",
        "binary_logits",
    ),
    E(
        "bce_with_logits",
        "torch.nn",
        "F.binary_cross_entropy_with_logits(x, y, pos_weight=pw)",
        "LF.bce_with_logits_loss(x, y, pos_weight=pw)",
        "binary_pos_weight",
    ),
    E(
        "bce_with_logits",
        "torch.nn",
        "F.binary_cross_entropy_with_logits(x, y * 0.9 + 0.05)",
        "LF.bce_with_logits_loss(x, y, label_smoothing=0.1)",
        "binary_logits",
        "torch has no label smoothing for BCE; losscraft's `label_smoothing` moves the targets towards "
        "1/2 (Keras' convention): $y(1 - \\varepsilon) + \\varepsilon/2$.",
    ),
    E("cross_entropy", "torch.nn", "F.cross_entropy(x, y)", "LF.cross_entropy_loss(x, y)", "class_logits"),
    E(
        "cross_entropy",
        "torch.nn",
        "F.cross_entropy(x, y, weight=w, ignore_index=-100)",
        "LF.cross_entropy_loss(x, y, weight=w, ignore_index=-100)",
        "class_logits_weighted",
        "Same weighted mean $\\sum_i \\ell_i / \\sum_i w_{y_i}$ over the non-ignored rows. A batch whose "
        "targets are all `ignore_index` gives 0 in losscraft and NaN in torch.",
        on_purpose=True,
    ),
    E(
        "cross_entropy",
        "torch.nn",
        "F.cross_entropy(x, y, label_smoothing=0.1)",
        "LF.cross_entropy_loss(x, y, label_smoothing=0.1)",
        "class_logits",
    ),
    E(
        "cross_entropy",
        "torch.nn",
        "F.cross_entropy(x, q)",
        "LF.cross_entropy_loss(x, q)",
        "class_probabilities",
    ),
    E(
        "cross_entropy",
        "torch.nn",
        "F.nll_loss(F.log_softmax(x, dim=1), y)",
        "LF.cross_entropy_loss(x, y)",
        "class_logits",
    ),
    E("multi_margin", "torch.nn", "F.multi_margin_loss(x, y)", "LF.multi_margin_loss(x, y)", "class_logits"),
    E(
        "multi_margin",
        "torch.nn",
        "F.multi_margin_loss(x, y, p=2, margin=0.5)",
        "LF.multi_margin_loss(x, y, p=2, margin=0.5)",
        "class_logits",
        "Both divide the summed hinges by the class count $C$ (Weston-Watkins as torch normalises it); "
        "losscraft also takes `(N, C, d1, ...)` logits and `ignore_index`.",
    ),
    E(
        "linear_cross_entropy",
        "torch.nn",
        "F.cross_entropy(h @ w.T, y, label_smoothing=0.1)",
        "LF.linear_cross_entropy_loss(h, w, y, label_smoothing=0.1, chunk_size=3)",
        "lm_head",
        "losscraft never materialises the `(tokens, V)` logits: it works `chunk_size` tokens at a time.",
    ),
    E(
        "balanced_softmax",
        "torch.nn",
        "F.cross_entropy(x + counts.log(), y)",
        "LF.balanced_softmax_loss(x, y, class_counts=counts)",
        "long_tail",
    ),
    E(
        "logit_adjusted",
        "torch.nn",
        "F.cross_entropy(x + 1.5 * (counts / counts.sum()).log(), y)",
        "LF.logit_adjusted_loss(x, y, priors=counts / counts.sum(), tau=1.5)",
        "long_tail",
    ),
    E(
        "cosface",
        "torch.nn",
        "F.cross_entropy(64.0 * (cos - 0.35 * F.one_hot(y, 4)), y)",
        "LF.cosface_loss(cos, y, scale=64.0, margin=0.35)",
        "cosines",
    ),
    E(
        "kl_div",
        "torch.nn",
        'F.kl_div(F.log_softmax(x, dim=1), q, reduction="batchmean")',
        "LF.kl_div_loss(x, q)",
        "distributions",
        'losscraft takes logits (it applies `log_softmax`) and its `"mean"` is torch\'s `"batchmean"`; '
        'torch\'s `"mean"` divides by $N \\cdot C$, which is not the divergence.',
        on_purpose=True,
    ),
    E(
        "kl_div",
        "torch.nn",
        'F.kl_div(F.log_softmax(x, dim=1), logq, reduction="batchmean", log_target=True)',
        "LF.kl_div_loss(x, logq, log_target=True)",
        "distributions",
    ),
    E(
        "kl_div",
        "torch.nn",
        'F.kl_div(F.log_softmax(x / 2, dim=1), F.softmax(t / 2, dim=1), reduction="batchmean") * 4',
        "LF.kl_div_loss(x, F.log_softmax(t, dim=1), log_target=True, temperature=2.0)",
        "distillation",
        "Distillation (Hinton et al.): losscraft's `temperature` softens both sides and multiplies by $T^2$.",
    ),
    E("poisson_nll", "torch.nn", "F.poisson_nll_loss(x, n)", "LF.poisson_nll_loss(x, n)", "log_rates"),
    E(
        "ctc",
        "torch.nn",
        "F.ctc_loss(x.log_softmax(-1), y, il, tl, reduction='sum')",
        "LF.ctc_loss(x, y, il, tl, reduction='sum')",
        "ctc",
        "torch takes log-probabilities; losscraft takes the logits and applies `log_softmax` itself "
        "(in float32 for half precision), so an unnormalised input cannot give a wrong gradient.",
    ),
    E(
        "ctc",
        "torch.nn",
        "F.ctc_loss(x.log_softmax(-1), y, il, tl)",
        "LF.ctc_loss(x, y, il, tl, divide_by_length=True)",
        "ctc",
        "torch's `reduction='mean'` divides each sequence's loss by its target length before averaging; "
        "losscraft's mean is the mean of the `reduction='none'` values, and `divide_by_length=True` "
        "gives torch's. A sequence without an alignment raises unless `zero_infinity=True` (torch returns inf).",
        on_purpose=True,
    ),
    E(
        "poisson_nll",
        "torch.nn",
        "F.poisson_nll_loss(r, n, log_input=False, full=True)",
        "LF.poisson_nll_loss(r, n, log_input=False, full=True)",
        "rates",
        "With `full=True` the gradient with respect to a target of 0 is 0 in losscraft and NaN in torch "
        "($0 \\log 0$ inside its masked Stirling term).",
        on_purpose=True,
    ),
    E(
        "gaussian_nll",
        "torch.nn",
        "F.gaussian_nll_loss(mu, y, var)",
        "LF.gaussian_nll_loss(mu, y, var)",
        "gaussian",
    ),
    E(
        "gaussian_nll",
        "torch.nn",
        "F.gaussian_nll_loss(mu, y, var, full=True, eps=1e-4)",
        "LF.gaussian_nll_loss(mu, y, var, full=True, eps=1e-4)",
        "gaussian",
    ),
    E(
        "cosine_embedding",
        "torch.nn",
        "F.cosine_embedding_loss(a, b, s, margin=0.2)",
        "LF.cosine_embedding_loss(a, b, s, margin=0.2)",
        "pairs",
        "torch adds `1e-12` to the squared norms; losscraft computes the cosine exactly (a zero vector has "
        "cosine 0 and zero gradient) and accepts only targets $\\pm 1$.",
        on_purpose=True,
    ),
    E(
        "margin_ranking",
        "torch.nn",
        "F.margin_ranking_loss(a[:, 0], b[:, 0], s.to(a.dtype), margin=0.2)",
        "LF.margin_ranking_loss(a[:, 0], b[:, 0], s.to(a.dtype), margin=0.2)",
        "pairs",
        "losscraft accepts only targets $\\pm 1$ (torch takes any value and scales the hinge by it).",
    ),
    E(
        "cosine_similarity",
        "torch.nn",
        "(1 - F.cosine_similarity(x, y, dim=-1)).mean()",
        "LF.cosine_similarity_loss(x, y)",
        "vectors",
        "torch clamps the norms' product at `eps=1e-8` and its squared norms underflow below ~1e-19 in "
        "float32; losscraft compares directions exactly at every scale.",
        on_purpose=True,
    ),
    E(
        "triplet",
        "torch.nn",
        "F.triplet_margin_loss(a, p, n, margin=1.0, eps=0.0)",
        "LF.triplet_loss(a, p, n, margin=1.0)",
        "triplets",
        "torch's default `eps=1e-6` is added to every coordinate difference, which biases each distance "
        "by about $10^{-6}$; losscraft's distance is exact, so the torch call sets `eps=0.0`.",
        on_purpose=True,
    ),
    E(
        "triplet",
        "torch.nn",
        "F.triplet_margin_loss(a, p, n, margin=0.5, swap=True, eps=0.0)",
        "LF.triplet_loss(a, p, n, margin=0.5, swap=True)",
        "triplets",
    ),
    E(
        "triplet",
        "torch.nn",
        "F.triplet_margin_with_distance_loss(a, p, n, distance_function=lambda u, v: 1 - F.cosine_similarity(u, v),"
        " margin=0.5)",
        'LF.triplet_loss(a, p, n, margin=0.5, distance="cosine")',
        "triplets",
    ),
    # ------------------------------------------------------------------------------------ torchvision
    E(
        "binary_focal",
        "torchvision",
        'torchvision.ops.sigmoid_focal_loss(x, y, alpha=0.25, gamma=2.0, reduction="mean")',
        "LF.binary_focal_loss(x, y, alpha=0.25, gamma=2.0)",
        "binary_logits",
        'torchvision\'s default `reduction` is `"none"`, losscraft\'s `"mean"`.',
    ),
    E(
        "binary_focal",
        "torchvision",
        'torchvision.ops.sigmoid_focal_loss(x, y, alpha=0.25, gamma=2.0, reduction="mean")',
        "LF.binary_focal_loss(x, y, alpha=0.25, gamma=2.0)",
        "binary_soft",
        "Soft targets enter $p_t$ and $\\alpha_t$ linearly in both.",
    ),
    E(
        "binary_focal",
        "torchvision",
        'torchvision.ops.sigmoid_focal_loss(x, y, alpha=-1, gamma=2.0, reduction="sum")',
        'LF.binary_focal_loss(x, y, alpha=None, gamma=2.0, reduction="sum")',
        "binary_logits",
        "torchvision switches the class weighting off with a negative `alpha`; losscraft with `alpha=None`.",
    ),
    E(
        "binary_focal",
        "torchvision",
        'torchvision.ops.sigmoid_focal_loss(x, y, alpha=0.25, gamma=0.5, reduction="mean")',
        "LF.binary_focal_loss(x, y, alpha=0.25, gamma=0.5)",
        "binary_logits",
        "Extreme logits: for $\\gamma < 1$ torchvision's gradient is NaN wherever a logit is confidently "
        "right (e.g. $\\pm 100$: $(1 - p_t)^\\gamma$ has an infinite slope at 0, times a sigmoid derivative "
        "that rounded to 0); losscraft computes $(1 - p_t)^\\gamma$ in log space and stays finite.",
        on_purpose=True,
    ),
    # ------------------------------------------------------------------------------------ MONAI
    E(
        "dice",
        "MONAI",
        "monai.losses.DiceLoss(to_onehot_y=True, softmax=True)(x, y[:, None])",
        'LF.dice_loss(x, y, mode="multiclass", smooth=1e-5)',
        "segmentation",
        "MONAI takes the class indices with a channel dimension, `(N, 1, H, W)`, and one-hot encodes them "
        "(`to_onehot_y`); losscraft takes `(N, H, W)` and never builds the one-hot tensor. MONAI's "
        "smoothing default is `smooth_nr = smooth_dr = 1e-5`, losscraft's `smooth` is 1.0 (one pixel's "
        "worth), so the losscraft call sets it.",
        on_purpose=True,
    ),
    E(
        "dice",
        "MONAI",
        "monai.losses.DiceLoss(to_onehot_y=True, softmax=True, include_background=False)(x, y[:, None])",
        'LF.dice_loss(x, y, mode="multiclass", smooth=1e-5, reduction="none")[:, 1:].mean()',
        "segmentation",
        '`include_background=False` drops channel 0 from the mean: take the `"none"` result\'s columns '
        "`1:` (or pass a class `weight` with 0 for the background).",
    ),
    E(
        "dice",
        "MONAI",
        "monai.losses.DiceLoss(sigmoid=True, smooth_nr=1.0, smooth_dr=1.0)(xb, m)",
        "LF.dice_loss(xb, m)",
        "binary_segmentation",
        "`sigmoid=True` is losscraft's binary/multilabel mode. losscraft has one `smooth` for the numerator "
        "and the denominator; MONAI's `smooth_nr` and `smooth_dr` can differ.",
    ),
    E(
        "dice",
        "MONAI",
        "monai.losses.DiceLoss(to_onehot_y=True, softmax=True, batch=True, smooth_nr=1.0, smooth_dr=1.0)(x, y[:, None])",
        'LF.dice_loss(x, y, mode="multiclass", aggregate="batch")',
        "segmentation",
        "MONAI's `batch=True` is losscraft's `aggregate=\"batch\"`: sums over the whole batch, one Dice per class.",
    ),
    E(
        "dice",
        "MONAI",
        "monai.losses.DiceCELoss(to_onehot_y=True, softmax=True)(x, y[:, None])",
        'LF.dice_loss(x, y, mode="multiclass", smooth=1e-5) + LF.cross_entropy_loss(x, y)',
        "segmentation",
    ),
    E(
        "jaccard",
        "MONAI",
        "monai.losses.DiceLoss(to_onehot_y=True, softmax=True, jaccard=True)(x, y[:, None])",
        'LF.jaccard_loss(x, y, mode="multiclass", smooth=0.5e-5)',
        "segmentation",
        "MONAI's `jaccard=True` computes $(2I + s)/(2U + s)$, i.e. losscraft's $(I + s')/(U + s')$ with "
        "$s' = s/2$.",
    ),
    E(
        "generalized_dice",
        "MONAI",
        "monai.losses.GeneralizedDiceLoss(to_onehot_y=True, softmax=True)(x, y[:, None])",
        'LF.generalized_dice_loss(x, y, mode="multiclass")',
        "segmentation",
    ),
    E(
        "generalized_dice",
        "MONAI",
        'monai.losses.GeneralizedDiceLoss(to_onehot_y=True, softmax=True, w_type="simple")(x, y[:, None])',
        'LF.generalized_dice_loss(x, y, mode="multiclass", weight_type="simple")',
        "segmentation",
    ),
    E(
        "tversky",
        "MONAI",
        "monai.losses.TverskyLoss(to_onehot_y=True, softmax=True, alpha=0.3, beta=0.7)(x, y[:, None])",
        'LF.tversky_loss(x, y, mode="multiclass", alpha=0.3, beta=0.7, smooth=1e-5)',
        "segmentation",
        "Same orientation ($\\alpha$ weights false positives); MONAI's defaults are $\\alpha = \\beta = 0.5$ "
        "(Dice) and `smooth_nr = smooth_dr = 1e-5`.",
    ),
    E(
        "binary_focal",
        "MONAI",
        "monai.losses.FocalLoss(gamma=2.0, alpha=0.25)(x, y)",
        "LF.binary_focal_loss(x, y, alpha=0.25, gamma=2.0)",
        "binary_logits",
        _MONAI_F32,
        rtol=1e-5,
        on_purpose=True,
    ),
    E(
        "focal",
        "MONAI",
        "monai.losses.FocalLoss(to_onehot_y=True, use_softmax=True, gamma=2.0)(x, y[:, None])",
        "LF.focal_loss(x, y, gamma=2.0) / x.shape[1]",
        "class_logits",
        'MONAI\'s softmax focal `"mean"` averages over the classes too (the one-hot zeros included), so it '
        "is losscraft's per-sample mean divided by $C$; a scalar `alpha` weights class 0 by $1 - \\alpha$ "
        "and the others by $\\alpha$ (losscraft's `alpha` is a per-class vector). " + _MONAI_F32,
        rtol=1e-5,
        on_purpose=True,
    ),
    E(
        "info_nce",
        "MONAI",
        "monai.losses.ContrastiveLoss(temperature=0.5)(z1, z2)",
        "LF.info_nce_loss(z1, z2, temperature=0.5)",
        "two_views",
        "MONAI's default temperature is 0.5, losscraft's 0.1 (SimCLR's ImageNet setting).",
    ),
    E(
        "hausdorff_dt",
        "MONAI",
        "monai.losses.HausdorffDTLoss(sigmoid=True, include_background=True)(xb, m)",
        "LF.hausdorff_dt_loss(xb, m, losscraft.segmentation.distance_map(m, dtype=torch.float64))",
        "binary_segmentation",
        "losscraft takes the target's distance map as an input, computed once per target in the data "
        "pipeline (`losscraft.segmentation.distance_map`, scipy); the prediction's map is computed from "
        "`p > 0.5` as in MONAI when `input_distance` is not given. MONAI's maps are float32.",
    ),
    E(
        "hausdorff_dt",
        "MONAI",
        "monai.losses.HausdorffDTLoss(to_onehot_y=True, softmax=True)(x, y[:, None])",
        "LF.hausdorff_dt_loss(x, y, losscraft.segmentation.distance_map(y, num_classes=3, dtype=torch.float64), "
        'mode="multiclass", weight=torch.tensor([0.0, 1.0, 1.0], dtype=torch.float64))',
        "segmentation",
        "MONAI's default `include_background=False` drops channel 0: a class `weight` with 0 for the "
        "background (losscraft keeps every class by default). The class indices' maps come from "
        "`distance_map(y, num_classes=3)`.",
    ),
    E(
        "soft_cldice",
        "MONAI",
        "monai.losses.SoftclDiceLoss(sigmoid=True, smooth=1e-30)(xb, m)",
        "LF.soft_cldice_loss(xb, m)",
        "binary_segmentation",
        "MONAI adds `smooth` (default 1e-4, must be > 0) to the harmonic mean's denominator, so its loss of "
        "a perfect prediction is about 5e-5; losscraft follows the paper (0 there). MONAI pools the channels "
        "of an image into one value, losscraft gives one per class (the same with one channel); "
        "losscraft's `smooth` is MONAI's `smooth_nr = smooth_dr`.",
        on_purpose=True,
    ),
    # ------------------------------------------------------------------------------------ smp
    E(
        "dice",
        "segmentation_models_pytorch",
        'smp.losses.DiceLoss(mode="multiclass")(x, y)',
        'LF.dice_loss(x, y, mode="multiclass", smooth=0.0, aggregate="batch")',
        "segmentation",
        "smp sums over the batch and the pixels (`dims=(0, 2)`): one Dice per class for the whole batch, "
        "losscraft's `aggregate=\"batch\"` (losscraft's default is one per image). smp's `smooth` "
        "default is 0 and a class absent from the batch's target is given loss 0 but still counted in the "
        "mean; losscraft scores it (a false positive on an empty class costs).",
        on_purpose=True,
    ),
    E(
        "dice",
        "segmentation_models_pytorch",
        'smp.losses.DiceLoss(mode="binary", smooth=1.0)(xb, m)',
        'LF.dice_loss(xb, m, smooth=1.0, aggregate="batch")',
        "binary_segmentation",
    ),
    E(
        "jaccard",
        "segmentation_models_pytorch",
        'smp.losses.JaccardLoss(mode="multiclass")(x, y)',
        'LF.jaccard_loss(x, y, mode="multiclass", smooth=0.0, aggregate="batch")',
        "segmentation",
    ),
    E(
        "tversky",
        "segmentation_models_pytorch",
        'smp.losses.TverskyLoss(mode="multiclass", alpha=0.3, beta=0.7)(x, y)',
        'LF.tversky_loss(x, y, mode="multiclass", alpha=0.3, beta=0.7, smooth=0.0, aggregate="batch")',
        "segmentation",
    ),
    E(
        "focal_tversky",
        "segmentation_models_pytorch",
        'smp.losses.TverskyLoss(mode="binary", alpha=0.3, beta=0.7, gamma=0.75)(xb, m)',
        'LF.focal_tversky_loss(xb, m, alpha=0.3, beta=0.7, gamma=4 / 3, smooth=0.0, aggregate="batch")',
        "binary_segmentation",
        "smp raises the *mean over classes* to the power `gamma`; losscraft raises each class's "
        "(and image's) Tversky loss to $1/\\gamma$ before the mean, as Abraham & Khan. The two agree for "
        "one class with `aggregate=\"batch\"`; smp's `gamma=0.75` is losscraft's `gamma=4/3`.",
        on_purpose=True,
    ),
    E(
        "binary_focal",
        "segmentation_models_pytorch",
        'smp.losses.FocalLoss(mode="binary", alpha=0.25, gamma=2.0)(xb, m)',
        "LF.binary_focal_loss(xb, m, alpha=0.25, gamma=2.0)",
        "binary_segmentation",
        "smp's `alpha` defaults to `None` (no class weighting), losscraft's to 0.25 (the paper's).",
        on_purpose=True,
    ),
    E(
        "binary_focal",
        "segmentation_models_pytorch",
        'smp.losses.FocalLoss(mode="multiclass")(x, y)',
        "LF.binary_focal_loss(x, F.one_hot(y, 3).movedim(-1, 1).double(), alpha=None) * 3",
        "segmentation",
        "smp's multiclass focal loss is a *sigmoid* focal loss per class (one-vs-rest on the raw logits), "
        "summed over the classes: not a softmax focal loss (`focal`).",
        on_purpose=True,
    ),
    E(
        "lovasz_hinge",
        "segmentation_models_pytorch",
        'smp.losses.LovaszLoss(mode="binary")(xb, m)',
        'LF.lovasz_hinge_loss(xb, m, aggregate="batch")',
        "binary_segmentation",
        "smp's `per_image=False` default pools the batch (`aggregate=\"batch\"`); losscraft's default is "
        "per image (`per_image=True`, the reference code's default). " + _SMP_LOVASZ_F32,
        on_purpose=True,
        dtype="float32",
        rtol=1e-5,
    ),
    E(
        "lovasz_hinge",
        "segmentation_models_pytorch",
        'smp.losses.LovaszLoss(mode="binary", per_image=True)(xb, m)',
        "LF.lovasz_hinge_loss(xb, m)",
        "binary_segmentation",
        _SMP_LOVASZ_F32,
        dtype="float32",
        rtol=1e-5,
    ),
    E(
        "lovasz_softmax",
        "segmentation_models_pytorch",
        'smp.losses.LovaszLoss(mode="multiclass")(x, y)',
        'LF.lovasz_softmax_loss(x, y, aggregate="batch")',
        "segmentation",
        _SMP_LOVASZ_F32,
        dtype="float32",
        rtol=1e-5,
    ),
    E(
        "bce_with_logits",
        "segmentation_models_pytorch",
        "smp.losses.SoftBCEWithLogitsLoss(smooth_factor=0.05)(x, y)",
        "LF.bce_with_logits_loss(x, y, label_smoothing=0.1)",
        "binary_logits",
        "smp's `smooth_factor` $s$ maps the targets 1, 0 to $1 - s$, $s$; losscraft's `label_smoothing` "
        "$\\varepsilon$ maps them to $1 - \\varepsilon/2$, $\\varepsilon/2$: $\\varepsilon = 2s$.",
    ),
    E(
        "cross_entropy",
        "segmentation_models_pytorch",
        "smp.losses.SoftCrossEntropyLoss(smooth_factor=0.1)(x, y)",
        "LF.cross_entropy_loss(x, y, label_smoothing=0.1)",
        "class_logits",
        "smp's `ignore_index` rows count in its mean (as zeros); losscraft's and torch's mean skips them.",
        on_purpose=True,
    ),
    # ------------------------------------------------------------------------------------ kornia
    E(
        "binary_focal",
        "kornia",
        'kornia.losses.binary_focal_loss_with_logits(x, y, alpha=0.25, gamma=2.0, reduction="mean")',
        "LF.binary_focal_loss(x, y, alpha=0.25, gamma=2.0)",
        "binary_logits",
        'kornia\'s default `reduction` is `"none"`. On soft targets kornia mixes two focal terms, '
        "$t\\,\\alpha (1 - p)^\\gamma(-\\log p) + (1 - t)(1 - \\alpha) p^\\gamma (-\\log(1 - p))$, where losscraft "
        "(and torchvision) put $t$ inside $p_t$ and $\\alpha_t$: the same on hard targets only.",
        on_purpose=True,
    ),
    E(
        "focal",
        "kornia",
        'kornia.losses.focal_loss(x, y, alpha=None, gamma=2.0, reduction="mean")',
        "LF.focal_loss(x, y, gamma=2.0) / x.shape[1]",
        "class_logits",
        "kornia's `\"mean\"` divides by every element of its `(N, C)` map, so it is losscraft's mean over "
        "samples divided by $C$.",
        on_purpose=True,
    ),
    E(
        "focal",
        "kornia",
        'kornia.losses.focal_loss(x, y, alpha=0.25, gamma=2.0, reduction="sum")',
        'LF.focal_loss(x, y, alpha=[0.75, 0.25, 0.25, 0.25], gamma=2.0, reduction="sum")',
        "class_logits",
        "kornia's scalar `alpha` weights class 0 (the background) by $1 - \\alpha$ and every other class by "
        '$\\alpha$; losscraft\'s `alpha` is the per-class vector. Their `"mean"` differ as well (kornia: '
        'by $N C$; losscraft: by $\\sum_i \\alpha_{y_i}$, like torch\'s class weights), so the row uses `"sum"`.',
        on_purpose=True,
    ),
    E(
        "dice",
        "kornia",
        'kornia.losses.dice_loss(x, y, average="macro", eps=0.0)',
        'LF.dice_loss(x, y, mode="multiclass", smooth=0.0)',
        "segmentation",
        "kornia adds `eps` to the denominator only, losscraft's `smooth` to both sides; kornia's `\"macro\"` "
        "averages each image's *present* classes, losscraft all classes (the same when every class is "
        'present). kornia\'s default `average="micro"` pools the classes into one Dice per image.',
        on_purpose=True,
    ),
    E(
        "tversky",
        "kornia",
        "kornia.losses.tversky_loss(x, y, alpha=0.3, beta=0.7, eps=0.0)",
        'LF.tversky_loss(x, y, mode="multiclass", alpha=0.3, beta=0.7, smooth=0.0)',
        "segmentation",
        "As for kornia's Dice: `eps` in the denominator only, and the mean over the classes present in "
        "each image.",
    ),
    E(
        "lovasz_hinge",
        "kornia",
        "kornia.losses.lovasz_hinge_loss(xb, yb)",
        "LF.lovasz_hinge_loss(xb[:, 0], yb)",
        "binary_segmentation",
        "kornia takes one logit channel `(N, 1, H, W)` and labels `(N, H, W)`; losscraft takes the same "
        "shape for both.",
    ),
    E(
        "lovasz_softmax",
        "kornia",
        "kornia.losses.lovasz_softmax_loss(x, y)",
        'LF.lovasz_softmax_loss(x, y, classes="all")',
        "segmentation",
        'kornia averages over all $C$ classes; losscraft\'s default `classes="present"` (the reference '
        "code's) averages over the classes present in each image.",
        on_purpose=True,
    ),
    E(
        "charbonnier",
        "kornia",
        'kornia.losses.charbonnier_loss(x, y, reduction="mean")',
        "LF.charbonnier_loss(x, y)",
        "regression",
        "kornia's robust losses default to `reduction=\"none\"` and have no scale (losscraft's `scale=1`).",
    ),
    E(
        "cauchy",
        "kornia",
        'kornia.losses.cauchy_loss(x, y, reduction="mean")',
        "LF.cauchy_loss(x, y)",
        "regression",
    ),
    E(
        "geman_mcclure",
        "kornia",
        'kornia.losses.geman_mcclure_loss(x, y, reduction="mean")',
        "LF.geman_mcclure_loss(x, y)",
        "regression",
    ),
    E(
        "welsch",
        "kornia",
        'kornia.losses.welsch_loss(x, y, reduction="mean")',
        "LF.welsch_loss(x, y)",
        "regression",
    ),
    # ------------------------------------------------------------------------------------ Keras 3
    E(
        "bce_with_logits",
        "Keras 3",
        "keras.losses.BinaryCrossentropy(from_logits=True)(y, x)",
        "LF.bce_with_logits_loss(x, y)",
        "binary_logits",
        "Keras takes `(y_true, y_pred)`, losscraft (like torch) `(input, target)`. Keras' default "
        "`from_logits=False` expects probabilities (losscraft's `bce`).",
    ),
    E(
        "bce_with_logits",
        "Keras 3",
        "keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1)(y, x)",
        "LF.bce_with_logits_loss(x, y, label_smoothing=0.1)",
        "binary_logits",
    ),
    E(
        "bce",
        "Keras 3",
        "keras.losses.BinaryCrossentropy()(y, p)",
        "LF.bce_loss(p, y)",
        "probabilities",
        "Keras clips probabilities to $[10^{-7}, 1 - 10^{-7}]$, so its loss never exceeds 16.1 and a "
        "prediction of $10^{-10}$ for a positive costs $-\\log 10^{-7}$ instead of $-\\log 10^{-10} = 23.0$; "
        "losscraft follows torch (each log clamped at $-100$) and is exact in between.",
        on_purpose=True,
    ),
    E(
        "binary_focal",
        "Keras 3",
        "keras.losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.25, gamma=2.0, from_logits=True)(y, x)",
        "LF.binary_focal_loss(x, y, alpha=0.25, gamma=2.0)",
        "binary_logits",
        "Keras applies `alpha` only with `apply_class_balancing=True`; its default is no class weighting "
        "(losscraft's `alpha=None`).",
    ),
    E(
        "binary_focal",
        "Keras 3",
        "keras.losses.BinaryFocalCrossentropy(gamma=2.0, from_logits=True)(y, x)",
        "LF.binary_focal_loss(x, y, alpha=None, gamma=2.0)",
        "binary_logits",
    ),
    E(
        "cross_entropy",
        "Keras 3",
        "keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, x)",
        "LF.cross_entropy_loss(x, y)",
        "class_logits",
        "Keras puts the classes on the last axis, losscraft (like torch) on dim 1: the same for `(N, C)`; "
        "move the axis for images.",
    ),
    E(
        "cross_entropy",
        "Keras 3",
        "keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)(t, x)",
        "LF.cross_entropy_loss(x, y, label_smoothing=0.1)",
        "class_logits",
        "Keras' categorical form takes one-hot targets `t`; losscraft takes the class indices (or "
        "probabilities).",
    ),
    E(
        "focal",
        "Keras 3",
        "keras.losses.CategoricalFocalCrossentropy(alpha=0.25, gamma=2.0, from_logits=True)(t, x)",
        "0.25 * LF.focal_loss(x, y, gamma=2.0)",
        "class_logits",
        "Keras' scalar `alpha` (default 0.25) scales every class; losscraft's `alpha` is a per-class "
        "vector (default none), so multiply by the scalar.",
        on_purpose=True,
    ),
    E("mse", "Keras 3", "keras.losses.MeanSquaredError()(y, x)", "LF.mse_loss(x, y)", "regression"),
    E("mae", "Keras 3", "keras.losses.MeanAbsoluteError()(y, x)", "LF.mae_loss(x, y)", "regression"),
    E(
        "huber",
        "Keras 3",
        "keras.losses.Huber(delta=0.5)(y, x)",
        "LF.huber_loss(x, y, delta=0.5)",
        "regression",
    ),
    E("log_cosh", "Keras 3", "keras.losses.LogCosh()(y, x)", "LF.log_cosh_loss(x, y)", "regression"),
    E(
        "msle",
        "Keras 3",
        "keras.losses.MeanSquaredLogarithmicError()(y, x)",
        "LF.msle_loss(x, y)",
        "positive_regression",
        "Keras silently raises both tensors to at least `1e-7` first; losscraft computes the formula for every "
        "value above $-1$ and raises below (the same on non-negative data).",
        on_purpose=True,
    ),
    E(
        "kl_div",
        "Keras 3",
        "keras.losses.KLDivergence()(q, F.softmax(x, dim=1))",
        "LF.kl_div_loss(x, q)",
        "distributions",
        "Keras takes probabilities and clips both sides to $[10^{-7}, 1]$ (a zero in the target is "
        "counted as $10^{-7}$); losscraft takes logits and uses $0 \\log 0 = 0$.",
        on_purpose=True,
    ),
    E(
        "poisson_nll",
        "Keras 3",
        "keras.losses.Poisson()(n, r)",
        "LF.poisson_nll_loss(r, n, log_input=False, eps=1e-7)",
        "rates",
        "Keras takes the rate (not the log-rate, losscraft's and torch's default) and adds `1e-7` inside "
        "the log.",
    ),
    E(
        "cosine_similarity",
        "Keras 3",
        "keras.losses.CosineSimilarity()(y, x)",
        "LF.cosine_similarity_loss(x, y) - 1",
        "vectors",
        "Keras returns $-\\cos$, in $[-1, 1]$; losscraft returns $1 - \\cos$, in $[0, 2]$ (0 at a match).",
    ),
    E(
        "dice",
        "Keras 3",
        "keras.losses.Dice()(m, torch.sigmoid(xb))",
        'LF.dice_loss(xb, m, smooth=0.0, aggregate="batch")',
        "binary_segmentation",
        "Keras' Dice takes probabilities, pools the whole batch (`axis=None`) and adds `1e-7` to the "
        "denominator only.",
    ),
    E(
        "tversky",
        "Keras 3",
        "keras.losses.Tversky(alpha=0.7, beta=0.3)(m, torch.sigmoid(xb))",
        'LF.tversky_loss(xb, m, alpha=0.3, beta=0.7, smooth=0.0, aggregate="batch")',
        "binary_segmentation",
        "Keras' `alpha` multiplies $\\sum (1 - p) g$, the false *negatives*, although its docstring says false "
        "positives: Keras `alpha=0.7, beta=0.3` is losscraft's (and Salehi et al.'s) `alpha=0.3, beta=0.7`.",
        on_purpose=True,
    ),
    # ------------------------------------------------------------------------------------ pml
    E(
        "info_nce",
        "pytorch-metric-learning",
        "pml.losses.NTXentLoss(temperature=0.1)(torch.cat([z1, z2]), torch.arange(len(z1)).repeat(2))",
        "LF.info_nce_loss(z1, z2, temperature=0.1)",
        "two_views",
        "pml takes one batch with labels (the two views of sample $i$ share label $i$); losscraft takes "
        "the two views.",
    ),
    E(
        "supcon",
        "pytorch-metric-learning",
        "pml.losses.SupConLoss(temperature=0.1)(z, labels)",
        "LF.supcon_loss(z, labels, temperature=0.1)",
        "labelled_embeddings",
    ),
    E(
        "batch_triplet",
        "pytorch-metric-learning",
        "pml.losses.TripletMarginLoss(margin=0.2, reducer=pml.reducers.MeanReducer())(z, labels)",
        'LF.batch_triplet_loss(z, labels, margin=0.2, distance="euclidean")',
        "labelled_embeddings",
        "pml's default reducer (`AvgNonZeroReducer`) averages only the triplets with a positive loss, which "
        "jumps as triplets become inactive; losscraft averages all mined triplets (per anchor, then over "
        "anchors: the same on P x K batches). pml's distance is Euclidean on normalised embeddings, "
        "losscraft's default the squared one.",
        on_purpose=True,
    ),
    E(
        "batch_triplet",
        "pytorch-metric-learning",
        "pml.losses.TripletMarginLoss(margin=0.2, reducer=pml.reducers.MeanReducer())"
        "(z, labels, pml.miners.BatchHardMiner()(z, labels))",
        'LF.batch_triplet_loss(z, labels, margin=0.2, mining="hard", distance="euclidean")',
        "labelled_embeddings",
        "Batch-hard mining (Hermans et al.): the hardest positive and negative of every anchor.",
    ),
    E(
        "circle",
        "pytorch-metric-learning",
        "pml.losses.CircleLoss(m=0.25, gamma=256)(z, labels)",
        "LF.circle_loss(z, labels, margin=0.25, scale=256.0)",
        "labelled_embeddings",
        "pml's `m` and `gamma` are losscraft's `margin` and `scale` (defaults 0.4 and 80 in both). pml's "
        "`AvgNonZeroReducer` averages the anchors with a positive loss, losscraft the anchors with a "
        "positive and a negative: the same anchors unless a loss underflows to 0.",
    ),
    E(
        "multi_similarity",
        "pytorch-metric-learning",
        "pml.losses.MultiSimilarityLoss(alpha=2, beta=50, base=0.5)(z, labels)",
        "LF.multi_similarity_loss(z, labels, alpha=2.0, beta=50.0, base=0.5)",
        "labelled_embeddings",
        "Every pair, as pml's loss without a miner; the paper mines the pairs first (pml's "
        "`MultiSimilarityMiner`, passed as the loss's third argument).",
    ),
    E(
        "proxy_anchor",
        "pytorch-metric-learning",
        "pml.losses.ProxyAnchorLoss(5, 5, margin=0.1, alpha=32, "
        "weight_init_func=lambda w: w.data.copy_(torch.eye(5)))(z, labels)",
        "LF.proxy_anchor_loss(z, labels, torch.eye(5, dtype=torch.float64), margin=0.1, alpha=32.0)",
        "labelled_embeddings",
        "pml's Module owns the proxies (here set to the identity through `weight_init_func`); "
        "losscraft's function takes them as its third input, and `losscraft.LearnedProxyAnchorLoss("
        "num_classes, embedding_dim)` owns them as pml does (same initialisation). Proxy 4 has no "
        "positive in the batch: both average the positive terms over the proxies with one.",
    ),
)
"""Every row; the parity tests run each one."""


def for_entry(name: str) -> list[Equivalent]:
    """The rows of one registry entry, in :data:`LIBRARIES` order."""
    rows = [e for e in EQUIVALENTS if e.entry == name]
    return sorted(rows, key=lambda e: LIBRARIES.index(e.library))
