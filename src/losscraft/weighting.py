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

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import torch
from torch import Tensor, nn

from ._core.checks import fmt_shape
from ._core.errors import LosscraftError
from ._core.module import LossModule
from ._core.reduction import check_weight, reduce
from ._core.registry import build, register_composite
from ._core.spec import InputKind, TargetKind
from .compose import Combinable

__all__ = ["ERROR_WEIGHTS", "ErrorWeighted", "Weighted", "class_weights"]

Method = Literal["inverse_frequency", "inverse_sqrt_frequency", "effective_number"]
_METHODS = ("inverse_frequency", "inverse_sqrt_frequency", "effective_number")


def class_weights(
    targets_or_counts: Tensor | Sequence[float],
    *,
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
    ``"sum"`` and inside combinations. ``inverse_frequency`` is proportional to
    scikit-learn's ``compute_class_weight("balanced")``.

    Args:
        targets_or_counts: an **integer** tensor of class labels (any shape; negative values
            such as ``ignore_index=-100`` are skipped), or a **floating** tensor / sequence
            of per-class counts.
        method: ``"inverse_frequency"`` (default), ``"inverse_sqrt_frequency"`` or
            ``"effective_number"``.
        num_classes: number of classes for labels (default: ``max label + 1``).
        beta: $\beta \in [0, 1)$ for ``"effective_number"``. Default 0.999.
        normalize: rescale so the present classes' weights sum to their number.

    Returns:
        A float32 tensor of shape ``(C,)``.

    Raises:
        LosscraftError: unknown method, ``beta`` outside [0, 1), negative or non-finite
        counts, labels outside ``[0, num_classes)``, no samples at all.

    Examples:
        >>> import torch
        >>> from losscraft.weighting import class_weights
        >>> class_weights(torch.tensor([0, 0, 0, 1]))
        tensor([0.5000, 1.5000])
        >>> class_weights([900.0, 100.0], method="effective_number", beta=0.99)
        tensor([0.7760, 1.2240])

    References:
        Cui, Jia, Lin, Song & Belongie (2019), *Class-Balanced Loss Based on Effective Number
        of Samples*, CVPR.
    """
    fn = "class_weights"
    if method not in _METHODS:
        raise LosscraftError(
            f"{fn}: 'method' must be one of {', '.join(map(repr, _METHODS))}, got {method!r}"
        )
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not 0.0 <= beta < 1.0:
        raise LosscraftError(f"{fn}: 'beta' must be a float in [0, 1), got {beta!r}")
    if isinstance(targets_or_counts, Tensor) and not targets_or_counts.is_floating_point():
        labels = targets_or_counts.detach().flatten().long()
        labels = labels[labels >= 0]
        if num_classes is None:
            if labels.numel() == 0:
                raise LosscraftError(f"{fn}: no labels to count (all negative/ignored or empty)")
            num_classes = int(labels.max().item()) + 1
        if labels.numel() and int(labels.max().item()) >= num_classes:
            raise LosscraftError(
                f"{fn}: label {int(labels.max().item())} is outside [0, {num_classes - 1}] (num_classes={num_classes})"
            )
        counts = torch.bincount(labels, minlength=num_classes).to(torch.float64)
    else:
        try:
            counts = torch.as_tensor(targets_or_counts, dtype=torch.float64).detach().flatten()
        except (TypeError, ValueError):
            raise LosscraftError(
                f"{fn}: 'targets_or_counts' must be an integer label tensor or per-class counts, "
                f"got {type(targets_or_counts).__name__}"
            ) from None
        if counts.numel() == 0 or not bool(torch.isfinite(counts).all()) or bool((counts < 0).any()):
            raise LosscraftError(f"{fn}: class counts must be finite and >= 0, got {counts.tolist()}")
    present = counts > 0
    if not bool(present.any()):
        raise LosscraftError(f"{fn}: every class count is 0")
    safe = torch.where(present, counts, torch.ones_like(counts))
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
    return w.to(torch.float32)


# --------------------------------------------------------------------------- wrappers
def _as_loss(loss: nn.Module | str | Mapping[str, Any]) -> nn.Module:
    if isinstance(loss, (str, Mapping)):
        return build(loss)  # type: ignore[no-any-return]
    if not isinstance(loss, nn.Module):
        raise LosscraftError(
            f"'loss' must be a loss Module, a registry name or a config, got {type(loss).__name__}"
        )
    return loss


def _kept_mask(loss: nn.Module, inputs: tuple[Tensor, ...], values: Tensor) -> Tensor | None:
    """Positions of ``values`` that are not ignored (``ignore_index``), when knowable."""
    spec = getattr(type(loss), "spec", None)
    if spec is None or not spec.ignore_index or not isinstance(loss, LossModule):
        return None
    ig = loss.hparams.get("ignore_index")
    if ig is None or "target" not in spec.inputs:
        return None
    target = inputs[spec.inputs.index("target")]
    if target.shape != values.shape:
        return None
    kept: Tensor = target != ig
    return kept


def _check_normalize(owner: str, normalize: str) -> str:
    if normalize not in ("weight", "count"):
        raise LosscraftError(f"{owner}: 'normalize' must be 'weight' or 'count', got {normalize!r}")
    return normalize


def _reduce_weighted(
    values: Tensor, w: Tensor | None, kept: Tensor | None, reduction: str, normalize: str
) -> Tensor:
    """The core reducer with the chosen denominator (``values`` already hold 0 where ignored)."""
    return reduce(values, reduction, w, kept, normalize=normalize)


class Weighted(Combinable, nn.Module):
    r"""Per-sample / per-element weights for any loss, with a choice of denominator.

    $$L = \frac{\sum_i w_i\,\ell_i}{\sum_i w_i}\ \ (\texttt{normalize="weight"}, default)
    \qquad\text{or}\qquad L = \frac{\sum_i w_i\,\ell_i}{N}\ \ (\texttt{normalize="count"})$$

    $\ell_i$ is the inner loss's unreduced value (``reduction="none"``: per element, or per
    sample for losses that sum over a class/feature dimension) and $N$ the number of those
    values that are not ignored. ``weight`` is passed at call time and must broadcast to
    that unreduced shape. For the inner loss's own ``reduction="mean"`` and an element
    ``weight``, ``normalize="weight"`` gives exactly the same value.

    Args:
        loss: the inner loss (a Module, a registry name or a config dict).
        normalize: ``"weight"`` or ``"count"``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Examples:
        >>> import torch, losscraft
        >>> from losscraft.weighting import Weighted
        >>> x, y = torch.tensor([1.0, 2.0, 3.0]), torch.zeros(3)
        >>> w = torch.tensor([1.0, 0.0, 0.0])
        >>> Weighted(losscraft.MSELoss())(x, y, weight=w)
        tensor(1.)
        >>> Weighted(losscraft.MSELoss(), normalize="count")(x, y, weight=w)
        tensor(0.3333)
    """

    config_name = "weighted"

    def __init__(
        self, loss: nn.Module | str | Mapping[str, Any], *, normalize: str = "weight", reduction: str = "mean"
    ) -> None:
        super().__init__()
        self.loss = _as_loss(loss)
        self.normalize = _check_normalize("Weighted", normalize)
        if reduction not in ("mean", "sum", "none"):
            raise LosscraftError(
                f"Weighted: 'reduction' must be one of 'mean', 'sum', 'none', got {reduction!r}"
            )
        self.reduction = reduction

    def forward(self, *inputs: Tensor, weight: Tensor | None = None) -> Tensor:
        """The weighted loss."""
        values = _unreduced(self.loss, inputs)
        check_weight("Weighted", weight, values.shape)
        kept = _kept_mask(self.loss, inputs, values)
        w = None if weight is None else weight.to(values.dtype)
        return _reduce_weighted(values, w, kept, self.reduction, self.normalize)

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
        """Inverse of :meth:`get_config`."""
        return cls(
            config["loss"],
            normalize=config.get("normalize", "weight"),
            reduction=config.get("reduction", "mean"),
        )

    def extra_repr(self) -> str:
        """``normalize='count', reduction='mean'``."""
        return f"normalize={self.normalize!r}, reduction={self.reduction!r}"


def _unreduced(loss: nn.Module, inputs: tuple[Tensor, ...]) -> Tensor:
    """The inner loss with ``reduction="none"`` (built-ins: through their function)."""
    if isinstance(loss, LossModule):
        hp = {**loss.hparams, "reduction": "none"}
        out: Tensor = type(loss)._fn(*inputs, **hp)
        return out
    fn = getattr(loss, "unreduced", None)
    if fn is None:
        raise LosscraftError(
            f"{type(loss).__name__}: this wrapper needs a catalog loss (or a custom loss) whose "
            "unreduced values it can read"
        )
    result: Tensor = fn(*inputs)
    return result


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


def _signal(loss: nn.Module, inputs: tuple[Tensor, ...], on: str) -> Tensor:
    spec = getattr(type(loss), "spec", None)
    if spec is None:
        raise LosscraftError("ErrorWeighted: the inner loss must be a catalog loss")
    x = inputs[0]
    if on == "residual":
        if spec.input_kind is not InputKind.REAL:
            raise LosscraftError(f"ErrorWeighted: on='residual' needs a regression loss, got {spec.name!r}")
        return x - inputs[1]
    t = inputs[1]
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
    the weighted mean $\sum g\ell / \sum g$ (``normalize="weight"``) or $\sum g\ell / N$
    (``normalize="count"``, default, so that down-weighting lowers the loss).

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
        self.loss = _as_loss(loss)
        if isinstance(fn, str):
            if fn not in ERROR_WEIGHTS:
                raise LosscraftError(
                    f"ErrorWeighted: unknown weight {fn!r}; built-ins: {', '.join(ERROR_WEIGHTS)}"
                )
            default_on, self._g = ERROR_WEIGHTS[fn]
            on = on or default_on
        elif callable(fn):
            if fn_params:
                raise LosscraftError("ErrorWeighted: keyword parameters are only for built-in weight names")
            self._g = fn
            on = on or "residual"
        else:
            raise LosscraftError(f"ErrorWeighted: 'fn' must be a callable or a name, got {type(fn).__name__}")
        if on not in ("residual", "probability"):
            raise LosscraftError(f"ErrorWeighted: 'on' must be 'residual' or 'probability', got {on!r}")
        for k, v in fn_params.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise LosscraftError(f"ErrorWeighted: '{k}' must be a finite number > 0, got {v!r}")
        self.fn_name = fn if isinstance(fn, str) else None
        self.fn_params = dict(fn_params)
        self.on = on
        self.detach = bool(detach)
        self.normalize = _check_normalize("ErrorWeighted", normalize)
        if reduction not in ("mean", "sum", "none"):
            raise LosscraftError(
                f"ErrorWeighted: 'reduction' must be one of 'mean', 'sum', 'none', got {reduction!r}"
            )
        self.reduction = reduction

    def forward(self, *inputs: Tensor) -> Tensor:
        """The error-weighted loss."""
        values = _unreduced(self.loss, inputs)
        s = _signal(self.loss, inputs, self.on)
        if self.detach:
            s = s.detach()
        g = self._g(s.to(values.dtype), **self.fn_params)
        if g.shape != values.shape:
            raise LosscraftError(
                f"ErrorWeighted: the weight has shape {fmt_shape(g)} but the loss's unreduced values "
                f"have shape {fmt_shape(values)}"
            )
        if self.detach:
            g = g.detach()
        return _reduce_weighted(
            values, g, _kept_mask(self.loss, inputs, values), self.reduction, self.normalize
        )

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
        """Inverse of :meth:`get_config`."""
        cfg = {k: v for k, v in config.items() if k != "name"}
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
