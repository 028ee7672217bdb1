"""ArcFace: additive angular margin on cosine logits (Deng et al. 2019)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..._core.checks import check_params
from ..._core.module import LossModule
from ..._core.reduction import Reduction, check_weight, reduce
from ..._core.registry import register
from ..._core.sampling import uniform
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
    Relation,
    TargetKind,
    Task,
)
from ._common import margin_softmax_values, prepare_cosine_logits, safe_sqrt

NUM_SAMPLE_CLASSES = 4


def cosine_logits_sample(n: int, *, generator: torch.Generator, dtype: torch.dtype, **_: object) -> Call:
    """Cosines ``(n, 4)`` uniform in [-0.95, 0.95] and class indices ``(n,)`` in [0, 4)."""
    cos = uniform((n, NUM_SAMPLE_CLASSES), generator, dtype, -0.95, 0.95)
    target = torch.randint(0, NUM_SAMPLE_CLASSES, (n,), generator=generator, dtype=torch.long)
    return Call((cos, target))


def cosine_curve_call(x: Tensor, **_: object) -> Call:
    """Target-class cosine ``x`` against one other class at cosine 0 (target class 0)."""
    cos = torch.stack([x, torch.zeros_like(x)], dim=1)
    return Call((cos, torch.zeros(x.shape[0], dtype=torch.long, device=x.device)))


def scaled_logits(call: Call) -> Call:
    """``(s * cos, target)`` at the default scale 64: the margin-free head is cross-entropy."""
    return Call((call.args[0] * 64.0, call.args[1]), call.kwargs)


def arcface_target_logit(cos_y: Tensor, margin: float) -> Tensor:
    r"""$\cos(\theta + m)$ for $\theta + m \le \pi$, else insightface's $\cos\theta - m\sin m$.

    $\cos(\theta + m) = \cos\theta\cos m - \sin\theta\sin m$ with
    $\sin\theta = \sqrt{1 - \cos^2\theta}$ through :func:`safe_sqrt`: no ``acos`` (whose
    derivative is infinite at $\pm1$) and a finite gradient at $\cos\theta = \pm 1$.
    """
    sin_y = safe_sqrt(1.0 - cos_y * cos_y)
    rotated = cos_y * math.cos(margin) - sin_y * math.sin(margin)
    # theta + m > pi, i.e. cos(theta) <= cos(pi - m): cos(theta + m) would turn back up.
    fallback = cos_y - margin * math.sin(margin)
    return torch.where(cos_y > math.cos(math.pi - margin), rotated, fallback)


SPEC = LossSpec(
    name="arcface",
    family=Family.EMBEDDING,
    tasks=(Task.METRIC_LEARNING, Task.MULTICLASS),
    # Cosine similarities in [-1, 1] (validated), not logits.
    input_kind=InputKind.COSINES,
    target_kind=TargetKind.CLASS_INDEX,
    params=(
        Param(
            "scale",
            64.0,
            Interval(0.0, math.inf, low_closed=False, high_closed=False),
            "s > 0 multiplying the cosines (the feature norm); 64 in the paper",
        ),
        Param(
            "margin",
            0.5,
            Interval(0.0, math.pi / 2),
            "additive angular margin m in radians, in [0, pi/2]; 0.5 in the paper",
        ),
        Param(
            "ignore_index",
            -100,
            Interval(-math.inf, math.inf, integer=True),
            "target value whose rows are skipped",
        ),
    ),
    # On the curve (target cosine x vs one class at cosine 0, s = 64, m = 0.5): the loss is
    # about e^-56 at x = 1; insightface's fallback below cos(pi - m) makes the target logit
    # jump by 0.117 * s, so the curve is neither C1 nor convex; d loss / dx stays bounded.
    properties=frozenset(
        {
            Property.NONNEGATIVE,
            Property.ZERO_AT_MATCH,
            Property.BOUNDED_GRADIENT,
        }
    ),
    formula=(
        r"\ell_i = -\log\frac{e^{s\,\psi(\theta_{y_i})}}{e^{s\,\psi(\theta_{y_i})} "
        r"+ \sum_{j\ne y_i} e^{s\cos\theta_j}},\qquad "
        r"\psi(\theta) = \begin{cases}\cos(\theta + m) & \theta + m \le \pi\\ "
        r"\cos\theta - m\sin m & \text{otherwise}\end{cases}"
    ),
    summary="ArcFace: softmax cross-entropy on scaled cosines with an additive angular margin.",
    references=(
        Ref(
            "J. Deng, J. Guo, N. Xue, S. Zafeiriou",
            "ArcFace: Additive Angular Margin Loss for Deep Face Recognition",
            "CVPR",
            2019,
            "https://arxiv.org/abs/1801.07698",
        ),
    ),
    sample=cosine_logits_sample,
    curve=Curve(
        "cosine", (-1.0, 1.0), cosine_curve_call, zero=1.0, extent=(-1.0, 1.0), label="target cosine"
    ),
    relations=(
        Relation(
            "cross_entropy",
            params={"margin": 0.0},
            transform=scaled_logits,
            note="without a margin the head is cross-entropy on the logits 64 * cos",
        ),
        Relation("cosface", params={"margin": 0.0}, other_params={"margin": 0.0}, note="both are s * cos"),
    ),
    none_shape="sample",
    ignore_index=True,
    when_to_use=(
        "Face / person / speaker recognition and other open-set identification trained as "
        "classification over identities: the angular margin yields compact, well separated "
        "embeddings. Feed the cosines between normalised embeddings and normalised class "
        "weights. Plot axis: the target-class cosine."
    ),
    when_not_to_use=(
        "Not for ordinary closed-set classification on logits (cross_entropy). When a smooth, "
        "convex curve in the target cosine matters, use cosface: arcface's fallback branch "
        "jumps at theta = pi - m. It needs one class-weight row per identity: with very many "
        "or changing identities, batch_triplet or supcon learn from labelled batches without a "
        "class matrix."
    ),
)


@register(SPEC, aliases=("additive_angular_margin",))
def arcface_loss(
    input: Tensor,
    target: Tensor,
    *,
    scale: float = 64.0,
    margin: float = 0.5,
    ignore_index: int = -100,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""ArcFace: softmax cross-entropy on scaled cosines with an additive angular margin.

    Use it to train embeddings as a classifier over identities (face, speaker or person
    recognition): the target class must win by an *angle* $m$, which makes classes compact
    and separated on the hypersphere. The head takes **cosines**, not logits: with embeddings
    $x$ and a class-weight matrix $W$ (a ``Parameter`` of shape ``(C, D)`` that you own),
    ``input = F.normalize(x) @ F.normalize(W).T``. With $\theta_j$ the angle to class $j$:

    $$\ell_i = -\log\frac{e^{s\,\psi(\theta_{y_i})}}{e^{s\,\psi(\theta_{y_i})} + \sum_{j\ne y_i} e^{s\cos\theta_j}},\qquad \psi(\theta) = \begin{cases}\cos(\theta + m) & \theta + m \le \pi\\ \cos\theta - m\sin m & \text{otherwise}\end{cases}$$

    The second branch is insightface's fallback (``th = cos(pi - m)``, ``mm = sin(pi - m) m``)
    for targets more than $\pi - m$ away, where $\cos(\theta + m)$ would increase again; it
    keeps $\psi$ increasing in $\cos\theta$ but jumps down by $\cos m + m\sin m - 1$
    ($0.117$ at $m = 0.5$) at the threshold, exactly like insightface's ``ArcFace``
    (``easy_margin=False``). Reduced as described in *Reductions* (``docs/conventions.md``);
    rows whose target is ``ignore_index`` are excluded. With ``margin=0`` this is
    ``cross_entropy_loss(scale * input, target)``.

    Numerics: $\cos(\theta+m) = \cos\theta\cos m - \sin\theta\sin m$ with
    $\sin\theta = \sqrt{1-\cos^2\theta}$ (no ``acos``, whose derivative is infinite at
    $\pm1$); the square root has gradient 0 where $\cos^2\theta \ge 1$, so value and gradient
    are finite at exactly $\cos\theta = \pm 1$. Cosines up to 0.01 outside [-1, 1]
    (rounding) are accepted; float16/bfloat16 inputs are computed in float32.

    **Gradient:** $\partial\ell/\partial\cos\theta_j = s\,p_j$ for $j \ne y$ and
    $s\,(p_y - 1)\,\psi'(\cos\theta_y)$ for the target, with
    $\psi' = \sin(\theta + m)/\sin\theta$ on the first branch (1 on the fallback). $\psi'$
    grows like $1/\theta$ as $\theta \to 0$ but is multiplied by $1 - p_y$, which vanishes
    there; at exactly $\cos\theta_y = 1$ it is $\cos m$ (subgradient of $\sin\theta$ = 0).

    Args:
        input: cosine similarities of shape ``(N, C)`` (or ``(N, C, d1, ...)``), in [-1, 1].
        target: class indices, an integer tensor of shape ``(N,)`` (``(N, d1, ...)``) with
            values in ``[0, C)`` or ``ignore_index``.
        scale: $s > 0$, the radius of the hypersphere. Default 64.
        margin: additive angular margin $m \in [0, \pi/2]$ in radians. Default 0.5.
        ignore_index: target value whose rows are skipped (loss 0, excluded from the mean).
            Default -100.
        weight: optional non-negative per-sample weights broadcastable to ``(N, d1, ...)``.
        reduction: ``"mean"`` (over non-ignored rows), ``"sum"`` or ``"none"`` (shape
            ``(N, d1, ...)``).

    Returns:
        A scalar, or a tensor of shape ``(N, d1, ...)`` for ``reduction="none"``; float32 for
        float16/bfloat16 inputs.

    Raises:
        LosscraftError: ``input`` not floating ``(N, C, ...)``, or a value outside [-1, 1]
            (beyond rounding: raw logits were probably passed); a class index outside ``[0, C)``
            (named); a target of the wrong shape or dtype; ``scale``, ``margin``,
            ``ignore_index``, ``weight`` or ``reduction`` invalid.

    Examples:
        >>> import torch
        >>> from losscraft.functional import arcface_loss
        >>> cos = torch.tensor([[0.9, 0.1, -0.2], [0.3, 0.4, 0.0], [-1.0, 1.0, 0.0]])
        >>> arcface_loss(cos, torch.tensor([0, 1, 0]), reduction="none")
        tensor([  0.0000,  24.8555, 143.3416])
        >>> arcface_loss(cos, torch.tensor([0, 1, 0]), scale=16.0, margin=0.3)
        tensor(12.1645)

    References:
        J. Deng, J. Guo, N. Xue, S. Zafeiriou (2019). ArcFace: Additive Angular Margin Loss for Deep
            Face Recognition. CVPR. https://arxiv.org/abs/1801.07698
    """
    fn = "arcface_loss"
    check_params(
        SPEC,
        {"scale": scale, "margin": margin, "ignore_index": ignore_index, "reduction": reduction},
    )
    cos, t, mask = prepare_cosine_logits(fn, input, target, ignore_index)
    values = margin_softmax_values(cos, t, lambda c: arcface_target_logit(c, margin), scale)
    check_weight(fn, weight, values.shape)
    return reduce(values, reduction, weight, mask)


class ArcFaceLoss(LossModule, spec=SPEC, fn=arcface_loss):
    """Module form of :func:`losscraft.functional.arcface_loss` (the head on given cosines)."""

    def __init__(
        self,
        *,
        scale: float = 64.0,
        margin: float = 0.5,
        ignore_index: int = -100,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(scale=scale, margin=margin, ignore_index=ignore_index, reduction=reduction)
