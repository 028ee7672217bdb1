r"""Weighting: class weights, per-sample weights with either denominator, error-dependent weights.

* :func:`class_weights` turns labels or class counts into per-class weights (inverse frequency,
  inverse square root, or the effective number of samples of Cui et al. 2019).
* :class:`Weighted` wraps *any* loss with a per-sample / per-element weight and the
  denominator you need: ``normalize="weight"`` is the weighted mean
  $\sum_i w_i\ell_i / \sum_i w_i$ (losscraft's default everywhere), ``normalize="count"`` is
  the mean over the batch $\sum_i w_i\ell_i / N$ (Keras' ``sum_over_batch_size``; ``N``
  counts the positions that are not ignored).
* :class:`ErrorWeighted` multiplies the per-element loss by a function of the residual
  (regression) or of the predicted probability of the target (classification).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import torch
from torch import Tensor, nn

from ._core.checks import check_nonnegative, fmt_shape
from ._core.errors import LosscraftError
from ._core.module import LossModule
from ._core.reduction import check_weight, global_sum, mean_denominator, record_unreduced
from ._core.registry import build, check_config_keys, register_composite
from ._core.spec import InputKind, TargetKind
from .compose import Combinable, input_names

__all__ = ["ERROR_WEIGHTS", "ErrorWeighted", "Weighted", "class_weights"]

Method = Literal["inverse_frequency", "inverse_sqrt_frequency", "effective_number"]
_METHODS = ("inverse_frequency", "inverse_sqrt_frequency", "effective_number")
_REDUCTIONS = ("mean", "sum", "none")


def _as_labels(fn: str, labels: Any) -> Tensor:
    """Class indices as a flat int64 tensor (whole-valued floats and bools accepted)."""
    try:
        t = labels.detach() if isinstance(labels, Tensor) else torch.as_tensor(labels)
    except (TypeError, ValueError, RuntimeError):
        raise LosscraftError(
            f"{fn}: 'labels' must be a tensor or sequence of integer class indices, got {type(labels).__name__}"
        ) from None
    t = t.flatten()
    if t.dtype == torch.bool:
        return t.long()
    if t.is_floating_point():
        if t.numel() and not bool((torch.isfinite(t) & (t == t.round())).all()):
            first = t[~(torch.isfinite(t) & (t == t.round()))][0].item()
            raise LosscraftError(f"{fn}: 'labels' must hold integer class indices, got {first:g}")
        return t.long()
    if t.is_complex():
        raise LosscraftError(f"{fn}: 'labels' must hold integer class indices, got {t.dtype}")
    return t.long()


def _as_counts(fn: str, counts: Any) -> Tensor:
    """Per-class counts as a 1-D float64 tensor of finite values >= 0."""
    try:
        c = torch.as_tensor(counts.detach() if isinstance(counts, Tensor) else counts, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise LosscraftError(
            f"{fn}: 'counts' must be a 1-D tensor or sequence of per-class counts, got {type(counts).__name__}"
        ) from None
    if c.dim() != 1 or c.numel() == 0:
        raise LosscraftError(f"{fn}: 'counts' must be 1-D with one count per class, got shape {fmt_shape(c)}")
    check_nonnegative(fn, "counts", c, what="class counts")
    return c


def class_weights(
    targets_or_counts: Tensor | None = None,
    *,
    labels: Tensor | Sequence[int] | None = None,
    counts: Tensor | Sequence[float] | None = None,
    method: Method = "inverse_frequency",
    num_classes: int | None = None,
    beta: float = 0.999,
    normalize: bool = True,
) -> Tensor:
    r"""Per-class weights from labels or from class counts.

    $$w_c \propto \begin{cases} 1/n_c & \text{inverse\_frequency} \\
    1/\sqrt{n_c} & \text{inverse\_sqrt\_frequency} \\
    \dfrac{1-\beta}{1-\beta^{n_c}} & \text{effective\_number (Cui et al. 2019)} \end{cases}$$

    The effective number $E_n = (1-\beta^n)/(1-\beta)$ saturates at $1/(1-\beta)$: $\beta = 0$
    gives equal weights and $\beta \to 1$ inverse frequency. Choose $\beta$ so that
    $1/(1-\beta)$ lies between the smallest and largest class counts (the paper searched
    0.9 ... 0.9999).

    With ``normalize=True`` the weights of the classes present sum to the number of classes
    present (Cui et al.'s convention); classes with no samples get weight 0. The scale does
    not matter for losscraft's default ``reduction="mean"`` (a weighted mean); it does for
    ``"sum"`` and inside combinations. ``inverse_frequency`` with ``normalize=False`` times
    $N / C$ is scikit-learn's ``compute_class_weight("balanced")``.

    Say what you pass: ``labels=`` (class indices, one per sample) or ``counts=`` (one count
    per class). ``[0, 0, 0, 1]`` is three samples of class 0 and one of class 1 as labels, but
    classes 0-2 empty and one sample of class 3 as counts. The positional form is kept only
    for an **integer tensor of labels**; anything else given positionally is ambiguous and
    raises.

    Args:
        targets_or_counts: positional shorthand for ``labels=`` with an integer tensor.
        labels: class indices (an integer tensor of any shape or a sequence of ints; negative
            values such as ``ignore_index=-100`` are skipped).
        counts: per-class counts, a 1-D tensor or sequence of finite values >= 0.
        method: ``"inverse_frequency"`` (default), ``"inverse_sqrt_frequency"`` or
            ``"effective_number"``.
        num_classes: number of classes, an int >= 1. For labels it defaults to
            ``max label + 1`` (classes above the largest label get weight 0 when it is given);
            for counts it must equal ``len(counts)``.
        beta: $\beta \in [0, 1)$ for ``"effective_number"``. Default 0.999.
        normalize: rescale so the present classes' weights sum to their number.

    Returns:
        A float32 tensor of shape ``(C,)`` of finite weights >= 0.

    Raises:
        LosscraftError: not exactly one of labels / counts, a positional argument that is not
            an integer tensor, unknown method, ``beta`` outside [0, 1), negative or non-finite
            counts, labels outside ``[0, num_classes)``, ``num_classes`` not an int >= 1 or not
            matching the counts, no samples at all, weights that overflow.

    Examples:
        >>> import torch
        >>> from losscraft.weighting import class_weights
        >>> class_weights(labels=[0, 0, 0, 1])
        tensor([0.5000, 1.5000])
        >>> class_weights(torch.tensor([0, 0, 0, 1]))  # positional: an integer tensor of labels
        tensor([0.5000, 1.5000])
        >>> class_weights(counts=[900, 100], method="effective_number", beta=0.99)
        tensor([0.7760, 1.2240])

    References:
        Cui, Jia, Lin, Song & Belongie (2019), *Class-Balanced Loss Based on Effective Number
        of Samples*, CVPR.
    """
    fn = "class_weights"
    given = [
        n
        for n, v in (("targets_or_counts", targets_or_counts), ("labels", labels), ("counts", counts))
        if v is not None
    ]
    if len(given) != 1:
        raise LosscraftError(
            f"{fn}: pass exactly one of labels=... (class indices) or counts=... (per-class counts), "
            f"got {', '.join(given) if given else 'neither'}"
        )
    if targets_or_counts is not None:
        t = targets_or_counts
        if not isinstance(t, Tensor) or t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
            what = f"a {t.dtype} tensor" if isinstance(t, Tensor) else f"a {type(t).__name__}"
            raise LosscraftError(
                f"{fn}: a positional argument must be an integer tensor of labels, got {what}; "
                "say what it holds: labels=... (class indices) or counts=... (per-class counts)"
            )
        labels = t
    if method not in _METHODS:
        raise LosscraftError(
            f"{fn}: 'method' must be one of {', '.join(map(repr, _METHODS))}, got {method!r}"
        )
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not 0.0 <= beta < 1.0:
        raise LosscraftError(f"{fn}: 'beta' must be a float in [0, 1), got {beta!r}")
    if num_classes is not None and (
        isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1
    ):
        raise LosscraftError(f"{fn}: 'num_classes' must be an int >= 1 or None, got {num_classes!r}")
    if labels is not None:
        lab = _as_labels(fn, labels)
        lab = lab[lab >= 0]  # ignore_index and other negative markers are not samples
        if num_classes is None:
            if lab.numel() == 0:
                raise LosscraftError(f"{fn}: no labels to count (all negative/ignored or empty)")
            num_classes = int(lab.max().item()) + 1
        if lab.numel() and int(lab.max().item()) >= num_classes:
            raise LosscraftError(
                f"{fn}: label {int(lab.max().item())} is outside [0, {num_classes - 1}] (num_classes={num_classes})"
            )
        n = torch.bincount(lab, minlength=num_classes).to(torch.float64)
    else:
        n = _as_counts(fn, counts)
        if num_classes is not None and n.numel() != num_classes:
            raise LosscraftError(
                f"{fn}: 'counts' has {n.numel()} entries but num_classes={num_classes}; give one count per class"
            )
    present = n > 0
    if not bool(present.any()):
        raise LosscraftError(f"{fn}: every class count is 0")
    safe = torch.where(present, n, torch.ones_like(n))
    if method == "inverse_frequency":
        w = 1.0 / safe
    elif method == "inverse_sqrt_frequency":
        w = 1.0 / safe.sqrt()
    else:
        # (1 - beta) / (1 - beta^n) with expm1/log for accuracy when beta -> 1
        w = (1.0 - beta) / -torch.expm1(safe * math.log(beta)) if beta > 0 else torch.ones_like(safe)
    w = torch.where(present, w, torch.zeros_like(w))
    if normalize:
        w = w * present.sum() / w.sum()
    out = w.to(torch.float32)
    if not bool(torch.isfinite(out).all()):  # e.g. counts of 1e-320: 1/n overflows
        raise LosscraftError(
            f"{fn}: the weights overflow (got {out.tolist()} from counts {n.tolist()}); "
            "counts must not be vanishingly small"
        )
    return out


# --------------------------------------------------------------------------- wrappers
def _as_loss(owner: str, loss: nn.Module | str | Mapping[str, Any]) -> nn.Module:
    if isinstance(loss, (str, Mapping)):
        return build(loss)  # type: ignore[no-any-return]
    if not isinstance(loss, nn.Module):
        raise LosscraftError(
            f"{owner}: 'loss' must be a loss Module, a registry name or a config, got {type(loss).__name__}"
        )
    return loss


def _check_normalize(owner: str, normalize: str) -> str:
    if normalize not in ("weight", "count"):
        raise LosscraftError(f"{owner}: 'normalize' must be 'weight' or 'count', got {normalize!r}")
    return normalize


def _check_reduction(owner: str, reduction: str) -> str:
    if not isinstance(reduction, str) or reduction not in _REDUCTIONS:
        raise LosscraftError(f"{owner}: 'reduction' must be one of 'mean', 'sum', 'none', got {reduction!r}")
    return reduction


def _reduce_weighted(
    values: Tensor, w: Tensor | None, den: Tensor | None, kept: Tensor | None, reduction: str, normalize: str
) -> Tensor:
    r"""Reduce the inner loss's unreduced ``values`` with the extra weight ``w``.

    ``values`` already hold 0 at ignored positions and any weight of the loss's own (class
    weights); ``den`` are the per-position weights of the loss's own mean and ``kept`` its kept
    positions, as the loss reported them (:func:`~losscraft._core.reduction.record_unreduced`).
    ``normalize="weight"``: $\sum_i w_i v_i / \sum_i w_i d_i$, so without ``w`` this is
    exactly the loss's own ``"mean"``; ``"count"``: $\sum_i w_i v_i / \sum_i m_i$.
    """
    if w is not None:
        values = values * w
    if reduction == "none":
        return values
    total = values.sum()
    if reduction == "sum":
        return global_sum(total)
    if normalize == "count":
        n = kept.sum().to(values.dtype) if kept is not None else values.new_tensor(float(values.numel()))
    else:
        d = den if den is not None else (kept.to(values.dtype) if kept is not None else None)
        if d is None and w is None:
            n = values.new_tensor(float(values.numel()))
        else:
            dw = w if d is None else (d.to(values.dtype) if w is None else d.to(values.dtype) * w)
            assert dw is not None
            n = dw.expand_as(values).sum()
    # divide-no-nan, as the core reducer: nothing kept or all weights zero gives 0.0, not NaN
    return total / mean_denominator(n)


def _split_call_inputs(owner: str, loss: nn.Module, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword call inputs (e.g. ``bias``) the inner loss declares; anything else is an error."""
    spec = getattr(type(loss), "spec", None)
    allowed = tuple(spec.call_inputs) if spec is not None else ()
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        valid = ", ".join(map(repr, ("weight", *allowed)))
        raise LosscraftError(f"{owner}: unexpected keyword argument(s) {unknown}; valid: {valid}")
    return dict(kwargs)


class Weighted(Combinable, nn.Module):
    r"""Per-sample / per-element weights for any loss, with a choice of denominator.

    $$L = \frac{\sum_i w_i\,\ell_i}{\sum_i w_i d_i}\ \ (\texttt{normalize="weight"}, default)
    \qquad\text{or}\qquad L = \frac{\sum_i w_i\,\ell_i}{N}\ \ (\texttt{normalize="count"})$$

    $\ell_i$ is the inner loss's unreduced value (``reduction="none"``: per element, or per
    sample for losses that sum over a class/feature dimension; ignored positions are 0, class
    weights included), $d_i$ the weight of position $i$ in the inner loss's *own* mean (1, 0
    where ignored, the class weight $c_{y_i}$ for ``cross_entropy(weight=c)``, 0 for a SupCon
    anchor without a positive, ...; every loss reports it to the reducer) and $N$ the number of
    positions that are not ignored. ``weight`` is passed at call time, must hold finite values
    >= 0 and must broadcast to the unreduced shape. Without ``weight`` (or with all-ones
    weights), ``normalize="weight"`` gives exactly the wrapped loss, for every reduction and
    every catalog entry (a contract test); with an element ``weight`` it gives the loss's own
    weighted mean.

    Args:
        loss: the inner loss (a Module, a registry name or a config dict).
        normalize: ``"weight"`` or ``"count"``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    ``forward(*inputs, weight=None, **call_inputs)``: the inner loss's positional inputs, in its
    own order (``spec.inputs``), and its keyword call inputs (e.g. ``bias``).

    Examples:
        >>> import torch, losscraft
        >>> from losscraft.weighting import Weighted
        >>> x, y = torch.tensor([1.0, 2.0, 3.0]), torch.zeros(3)
        >>> w = torch.tensor([1.0, 0.0, 0.0])
        >>> Weighted(losscraft.MSELoss())(x, y, weight=w)
        tensor(1.)
        >>> Weighted(losscraft.MSELoss(), normalize="count")(x, y, weight=w)
        tensor(0.3333)

    Raises:
        LosscraftError: bad ``normalize`` / ``reduction``; a ``weight`` that is not a floating
            tensor of finite values >= 0 broadcasting to the unreduced shape.
    """

    config_name = "weighted"

    def __init__(
        self, loss: nn.Module | str | Mapping[str, Any], *, normalize: str = "weight", reduction: str = "mean"
    ) -> None:
        super().__init__()
        self.loss = _as_loss("Weighted", loss)
        self.normalize = _check_normalize("Weighted", normalize)
        self.reduction = _check_reduction("Weighted", reduction)

    def _input_names(self) -> tuple[str, ...] | None:
        return input_names(self.loss)

    def forward(self, *inputs: Tensor, weight: Tensor | None = None, **call_inputs: Tensor) -> Tensor:
        """The weighted loss."""
        kw = _split_call_inputs("Weighted", self.loss, call_inputs)
        values, den, kept = _unreduced(self.loss, inputs, kw)
        check_weight("Weighted", weight, values.shape)  # floating, broadcasts, finite and >= 0
        w = None if weight is None else weight.to(values.dtype)
        return _reduce_weighted(values, w, den, kept, self.reduction, self.normalize)

    def get_config(self) -> dict[str, Any]:
        """Plain data; ``losscraft.build`` inverts it."""
        return {
            "name": self.config_name,
            "loss": _inner_config(self.loss),
            "normalize": self.normalize,
            "reduction": self.reduction,
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Weighted:
        """Inverse of :meth:`get_config`.

        Raises:
            LosscraftError: a missing ``loss`` or an unknown key (named, with the valid ones).
        """
        cfg = check_config_keys(
            "Weighted.from_config", config, required=("loss",), optional=("name", "normalize", "reduction")
        )
        return cls(
            cfg["loss"],
            normalize=cfg.get("normalize", "weight"),
            reduction=cfg.get("reduction", "mean"),
        )

    def extra_repr(self) -> str:
        """``normalize='count', reduction='mean'``."""
        return f"normalize={self.normalize!r}, reduction={self.reduction!r}"


def _unreduced(
    loss: nn.Module, inputs: tuple[Tensor, ...], call_inputs: Mapping[str, Any] | None = None
) -> tuple[Tensor, Tensor | None, Tensor | None]:
    """The inner loss with ``reduction="none"`` and what its own mean divides by.

    Returns ``(values, den, kept)``: the unreduced values, the per-position weights of the
    loss's own ``"mean"`` (``None``: 1 each) and its kept positions (``None``: all), as the
    loss reported them to the core reducer.
    """
    if isinstance(loss, LossModule):
        hp = {**loss.hparams, "reduction": "none"}
        with record_unreduced() as records:
            out: Tensor = type(loss)._fn(*inputs, **dict(call_inputs or {}), **hp)
        for values, den, kept in reversed(records):
            if values is out:
                return out, den, kept
        # not reduced by the core reducer (a fused kernel): every position counts once
        return out, None, None
    fn = getattr(loss, "unreduced", None)
    if fn is None:
        raise LosscraftError(
            f"{type(loss).__name__}: this wrapper needs a catalog loss (or a custom loss) whose "
            "unreduced values it can read"
        )
    result: Tensor = fn(*inputs)
    return result, None, None


def _inner_config(loss: nn.Module) -> dict[str, Any]:
    get_config = getattr(loss, "get_config", None)
    if get_config is None:
        raise LosscraftError(f"{type(loss).__name__} cannot be serialised (no get_config)")
    cfg: dict[str, Any] = get_config()
    return cfg


# --------------------------------------------------------------------------- error weighting
def _cauchy(s: Tensor, scale: float = 1.0) -> Tensor:
    return 1.0 / (1.0 + (s / scale) ** 2)


def _gaussian(s: Tensor, scale: float = 1.0) -> Tensor:
    return torch.exp(-0.5 * (s / scale) ** 2)


def _small_errors(s: Tensor, scale: float = 1.0) -> Tensor:
    return 1.0 + scale / (1.0 + s.abs())


def _focal(s: Tensor, gamma: float = 2.0) -> Tensor:
    return (1.0 - s).clamp_min(0.0) ** gamma


ERROR_WEIGHTS: dict[str, tuple[str, Callable[..., Tensor]]] = {
    "cauchy": ("residual", _cauchy),  # 1 / (1 + (r/c)^2): down-weights outliers
    "gaussian": ("residual", _gaussian),  # exp(-(r/c)^2 / 2): hard down-weighting of outliers
    "small_errors": ("residual", _small_errors),  # 1 + c / (1 + |r|): emphasises small errors
    "focal": ("probability", _focal),  # (1 - p_t)^gamma: down-weights easy examples
}


def _fn_param_names(g: Callable[..., Tensor]) -> tuple[str, ...]:
    """The keyword parameters of a built-in weight function (all but the signal)."""
    return tuple(list(inspect.signature(g).parameters)[1:])


def _signal(loss: nn.Module, inputs: tuple[Tensor, ...], on: str) -> Tensor:
    spec = getattr(type(loss), "spec", None)
    if spec is None:
        raise LosscraftError("ErrorWeighted: the inner loss must be a catalog loss")
    if "target" not in spec.inputs or len(inputs) != len(spec.inputs):
        raise LosscraftError(
            f"ErrorWeighted: {spec.name!r} takes ({', '.join(spec.inputs)}); the error is defined "
            "for a loss with an 'input' and a 'target'"
        )
    # by name, not position: gaussian_nll is (input, target, var)
    x: Tensor = inputs[0]
    t: Tensor = inputs[spec.inputs.index("target")]
    if on == "residual":
        if spec.input_kind is not InputKind.REAL:
            raise LosscraftError(f"ErrorWeighted: on='residual' needs a regression loss, got {spec.name!r}")
        return x - t
    if spec.input_kind is InputKind.PROBABILITIES:
        return x * t + (1 - x) * (1 - t)
    if spec.input_kind is InputKind.LOGITS and spec.target_kind is TargetKind.BINARY:
        p = torch.sigmoid(x.float() if x.dtype in (torch.float16, torch.bfloat16) else x)
        return p * t + (1 - p) * (1 - t)
    if spec.input_kind is InputKind.LOGITS and not t.is_floating_point() and x.dim() >= 2:
        logp = torch.log_softmax(x.float() if x.dtype in (torch.float16, torch.bfloat16) else x, dim=1)
        safe = t.clamp_min(0).clamp_max(x.shape[1] - 1)
        return logp.gather(1, safe.unsqueeze(1)).squeeze(1).exp()
    raise LosscraftError(f"ErrorWeighted: on='probability' is not defined for {spec.name!r}")


class ErrorWeighted(Combinable, nn.Module):
    r"""Multiply a loss's per-element values by a function of the error.

    $$L = \operatorname{reduce}_i\big(g(s_i)\,\ell_i\big),\qquad s_i = \begin{cases}
    \hat y_i - y_i & \texttt{on="residual"} \\ p_{t,i} & \texttt{on="probability"}\end{cases}$$

    $p_t$ is the predicted probability of the target (sigmoid for binary logits, softmax of the
    target class for class-index targets). ``g`` is a callable or the name of a built-in in
    :data:`ERROR_WEIGHTS` (``"cauchy"``, ``"gaussian"``, ``"small_errors"`` with ``scale``;
    ``"focal"`` with ``gamma``). The weight is detached by default (``detach=True``): it
    rescales each element's gradient instead of adding a gradient of its own. The reduction is
    the weighted mean $\sum g\ell / \sum g d$ (``normalize="weight"``; $d$ the weights of the
    loss's own mean, as in :class:`Weighted`) or $\sum g\ell / N$ (``normalize="count"``,
    default, so that down-weighting lowers the loss). ``g`` must return finite values >= 0.

    Only built-in weight names serialise with :meth:`get_config`.

    Examples:
        >>> import torch, losscraft
        >>> from losscraft.weighting import ErrorWeighted
        >>> robust = ErrorWeighted(losscraft.MSELoss(), "cauchy", scale=1.0)
        >>> robust(torch.tensor([0.0, 1.0, 10.0]), torch.zeros(3))  # (0 + 1/2 + 100/101) / 3
        tensor(0.4967)
    """

    config_name = "error_weighted"

    def __init__(
        self,
        loss: nn.Module | str | Mapping[str, Any],
        fn: str | Callable[[Tensor], Tensor],
        *,
        on: str | None = None,
        detach: bool = True,
        normalize: str = "count",
        reduction: str = "mean",
        **fn_params: float,
    ) -> None:
        super().__init__()
        self.loss = _as_loss("ErrorWeighted", loss)
        if isinstance(fn, str):
            if fn not in ERROR_WEIGHTS:
                raise LosscraftError(
                    f"ErrorWeighted: unknown weight {fn!r}; built-ins: {', '.join(ERROR_WEIGHTS)}"
                )
            default_on, self._g = ERROR_WEIGHTS[fn]
            on = on or default_on
            valid = _fn_param_names(self._g)
            for k in fn_params:
                if k not in valid:
                    raise LosscraftError(
                        f"ErrorWeighted: unknown parameter {k!r} for weight {fn!r}; valid: {', '.join(map(repr, valid))}"
                    )
        elif callable(fn):
            if fn_params:
                raise LosscraftError(
                    f"ErrorWeighted: keyword parameters {sorted(fn_params)} are only for built-in weight names"
                )
            self._g = fn
            on = on or "residual"
        else:
            raise LosscraftError(f"ErrorWeighted: 'fn' must be a callable or a name, got {type(fn).__name__}")
        if on not in ("residual", "probability"):
            raise LosscraftError(f"ErrorWeighted: 'on' must be 'residual' or 'probability', got {on!r}")
        for k, v in fn_params.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise LosscraftError(f"ErrorWeighted: '{k}' must be a finite number > 0, got {v!r}")
        if not isinstance(detach, bool):
            raise LosscraftError(f"ErrorWeighted: 'detach' must be True or False, got {detach!r}")
        self.fn_name = fn if isinstance(fn, str) else None
        self.fn_params = dict(fn_params)
        self.on = on
        self.detach = detach
        self.normalize = _check_normalize("ErrorWeighted", normalize)
        self.reduction = _check_reduction("ErrorWeighted", reduction)

    def _input_names(self) -> tuple[str, ...] | None:
        return input_names(self.loss)

    def forward(self, *inputs: Tensor) -> Tensor:
        """The error-weighted loss."""
        values, den, kept = _unreduced(self.loss, inputs)
        s = _signal(self.loss, inputs, self.on)
        if self.detach:
            s = s.detach()
        g = self._g(s.to(values.dtype), **self.fn_params)
        if not isinstance(g, Tensor) or g.shape != values.shape:
            got = fmt_shape(g) if isinstance(g, Tensor) else type(g).__name__
            raise LosscraftError(
                f"ErrorWeighted: the weight has shape {got} but the loss's unreduced values "
                f"have shape {fmt_shape(values)}"
            )
        # a user's g may go negative or overflow: a negative weight is a silent wrong answer
        check_nonnegative("ErrorWeighted", "fn(error)", g)
        if self.detach:
            g = g.detach()
        return _reduce_weighted(values, g, den, kept, self.reduction, self.normalize)

    def get_config(self) -> dict[str, Any]:
        """Plain data (built-in weight names only)."""
        if self.fn_name is None:
            raise LosscraftError(
                "ErrorWeighted: a custom weight function cannot be serialised; use a built-in name"
            )
        return {
            "name": self.config_name,
            "loss": _inner_config(self.loss),
            "fn": self.fn_name,
            **self.fn_params,
            "on": self.on,
            "detach": self.detach,
            "normalize": self.normalize,
            "reduction": self.reduction,
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ErrorWeighted:
        """Inverse of :meth:`get_config`.

        Raises:
            LosscraftError: a missing ``loss`` / ``fn`` or an unknown key (named, with the valid
                ones; the weight's own parameters, e.g. ``scale``, depend on ``fn``).
        """
        base = ("name", "on", "detach", "normalize", "reduction")
        fn = config.get("fn") if isinstance(config, Mapping) else None
        if isinstance(fn, str) and fn in ERROR_WEIGHTS:
            extra = _fn_param_names(ERROR_WEIGHTS[fn][1])
        else:  # no (valid) weight name yet: any built-in's parameters may follow
            extra = tuple(dict.fromkeys(k for _, g in ERROR_WEIGHTS.values() for k in _fn_param_names(g)))
        cfg = check_config_keys(
            "ErrorWeighted.from_config", config, required=("loss", "fn"), optional=(*base, *extra)
        )
        cfg.pop("name", None)
        return cls(cfg.pop("loss"), cfg.pop("fn"), **cfg)

    def extra_repr(self) -> str:
        """The weight and its options."""
        name = self.fn_name or getattr(self._g, "__name__", "fn")
        params = "".join(f", {k}={v!r}" for k, v in self.fn_params.items())
        return (
            f"fn={name!r}{params}, on={self.on!r}, detach={self.detach}, normalize={self.normalize!r}, "
            f"reduction={self.reduction!r}"
        )


register_composite("weighted", Weighted.from_config)
register_composite("error_weighted", ErrorWeighted.from_config)
