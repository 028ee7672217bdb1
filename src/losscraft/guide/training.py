r"""Train one model with one loss on one training fold and predict its test fold.

:func:`fit_predict` is the unit of work of :func:`losscraft.compare`: every candidate loss gets
the same treatment, so differences in the test metrics come from the loss alone.

**Features** are standardised with the mean and standard deviation of the training fold (a
constant column is centred only); the test fold is transformed with the same numbers.

**Target units.** A regression head's outputs are read as ``loc + s * net(x)``, with ``loc``
the median and ``s`` the robust scale (1.4826 MAD) of the training fold's targets
(:func:`target_scale`): the network works in standardised units, so one learning rate suits
any target scale, while the loss still sees the target's own units (a Huber ``delta`` or a
recommended robust scale keeps its meaning). The median and MAD are used so that a
contaminated fold does not move the starting point towards its outliers (nor away from them:
each loss still moves the offset wherever its own optimum lies).

**Inner validation split.** A share ``val_fraction`` (default 20%) of the training fold, drawn
with ``seed``, is held out for early stopping. It is taken *after* any stress test, so it
carries the training fold's corruption, as a user's own validation data would; the test fold
is never seen during training.

**Optimiser.** Full-batch Adam (Kingma & Ba 2015) with learning rate :data:`LEARNING_RATE`
(``1e-2``) and torch's other defaults, for at most ``epochs`` steps (one step = one epoch, the
whole fit split), :data:`DEFAULT_EPOCHS` (300) when ``epochs`` is ``None``. Why these: the
features are standardised and every head starts from a standard initialisation, so a step of
``1e-2`` per coordinate moves a linear model's weights by up to 3 units over 300 steps,
enough to fit standardised problems, while staying small enough that the loss curves of smooth
and of non-smooth losses (MAE, quantile, whose gradients do not shrink near the optimum) settle
instead of oscillating. Full batches make each step deterministic and cheap (no Python loop
over mini-batches). Learnable loss parameters (e.g. adaptive Barron's ``alpha``) are
optimised with the model.

**Early stopping** monitors the candidate's *own* loss on the inner validation split after
each step and keeps the weights of the best step; training stops after ``patience`` steps
without improvement (default ``max(20, epochs // 10)``). Every loss gets the same budget and
the same rule.

**Determinism.** The split is drawn from ``numpy.random.default_rng(seed)``; the model is
initialised after ``torch.manual_seed(seed)`` inside :func:`torch.random.fork_rng`, so the
caller's global torch random state is left as it was. The same inputs and seed give the same
numbers.

**Threads.** A small fit (fewer than :data:`SMALL_WORK` input elements times outputs per step)
runs on one intra-op thread, restored afterwards: on such sizes torch's thread hand-offs cost
more than the arithmetic (measured on 2 cores: 2 folds of a 569 x 30 logistic model took
17.4 s with 2 threads on a busy machine, 4.3 s with 1). Larger fits keep the caller's setting;
``compare(n_jobs=...)`` parallelises over (loss, fold) fits instead.

References:
    D. P. Kingma, J. Ba (2015). Adam: A Method for Stochastic Optimization. ICLR.
    https://arxiv.org/abs/1412.6980

    L. Prechelt (1998). Early Stopping - But When? Neural Networks: Tricks of the Trade.
    https://doi.org/10.1007/3-540-49430-8_3
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn

from .._core.errors import LosscraftError
from .data import robust_location_scale
from .metrics import Prediction

__all__ = [
    "DEFAULT_EPOCHS",
    "LEARNING_RATE",
    "SMALL_WORK",
    "FitResult",
    "HeadLike",
    "fit_predict",
    "standardise",
    "target_scale",
]

DEFAULT_EPOCHS = 300
"""Optimisation steps (full-batch epochs) per fit when ``epochs=None``."""

LEARNING_RATE = 1e-2
"""Adam's step size (see the module docstring for the choice)."""


class HeadLike(Protocol):
    """What :func:`fit_predict` needs of an output head (see :mod:`losscraft.guide.models`)."""

    @property
    def n_outputs(self) -> int:
        """Model outputs per sample."""
        ...

    def target(self, y: NDArray[Any]) -> Tensor:
        """The targets as the tensor the loss takes (dtype and shape)."""
        ...

    def train_args(self, outputs: Tensor, target: Tensor) -> tuple[Tensor, ...]:
        """The positional arguments of the loss for these model outputs and targets."""
        ...

    def predict(self, outputs: Tensor, y_true: NDArray[Any]) -> Prediction:
        """The model outputs on a test fold in the task's terms."""
        ...


@dataclass(frozen=True, eq=False)
class FitResult:
    """What one fit produced.

    Attributes:
        prediction: the test-fold prediction (its ``y_true`` is the test fold's targets as given).
        history: the training loss (on the fit split) at each step, before the step.
        val_history: the loss on the inner validation split after each step.
        epochs_run: steps taken (``<= epochs``; fewer when early stopping ended the fit).
        best_epoch: the step (0-based) whose weights were kept.
        n_fit: rows the optimiser saw.
        n_val: rows of the inner validation split.
        stopped: ``"budget"`` (all steps used), ``"early"`` (patience ran out) or ``"diverged"``
            (the training loss became NaN or infinite; the best weights before that are kept).
    """

    prediction: Prediction
    history: tuple[float, ...]
    val_history: tuple[float, ...]
    epochs_run: int
    best_epoch: int
    n_fit: int
    n_val: int
    stopped: str


def standardise(train: NDArray[Any], *others: NDArray[Any]) -> tuple[NDArray[np.float64], ...]:
    """``train`` and ``others`` centred and scaled by ``train``'s column means and standard deviations.

    A column whose standard deviation is 0 (or below ``1e-12`` of its scale) is only centred.
    """
    x = np.asarray(train, dtype=np.float64)
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    tiny = std <= 1e-12 * np.maximum(1.0, np.abs(mean))
    std = np.where(tiny, 1.0, std)
    return tuple(np.asarray((np.asarray(a, dtype=np.float64) - mean) / std) for a in (x, *others))


def _scalar(value: Tensor) -> Tensor:
    """The loss as one number (``reduction='none'`` losses are averaged)."""
    return value if value.dim() == 0 else value.mean()


def _call(loss: nn.Module, args: tuple[Tensor, ...], step: int) -> Tensor:
    if getattr(loss, "scheduled", False):  # a CombinedLoss with scheduled weights
        return _scalar(loss(*args, step=step))
    return _scalar(loss(*args))


def _split(n: int, val_fraction: float, seed: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Fit and validation row indices (sorted) of a training fold of ``n`` rows."""
    if not 0.0 <= val_fraction < 1.0:
        raise LosscraftError(f"fit_predict: 'val_fraction' must lie in [0, 1), got {val_fraction!r}")
    n_val = round(val_fraction * n) if val_fraction > 0 else 0
    if val_fraction > 0:
        n_val = min(max(n_val, 1), n - 1)
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


class _TargetScale(nn.Module):
    """``loc + scale * net(x)`` per output column (buffers: saved and restored with the weights)."""

    loc: Tensor
    scale: Tensor

    def __init__(self, net: nn.Module, loc: Tensor, scale: Tensor) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("loc", loc)
        self.register_buffer("scale", scale)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.net(x)
        if out.dim() == 1:
            return out * self.scale[0] + self.loc[0]
        return out * self.scale + self.loc


def _robust_loc_scale(y: NDArray[Any]) -> tuple[float, float]:
    """Median and robust scale of all of ``y`` (:func:`~losscraft.guide.data.robust_location_scale`)."""
    med, scale = robust_location_scale(y)
    return float(med), float(scale)


def target_scale(head: HeadLike, y: NDArray[Any]) -> tuple[list[float], list[float]] | None:
    """Per-output offsets and scales that put a regression head's outputs in the target's units.

    Point and quantile outputs read ``loc + s * out`` with ``loc`` the median and ``s`` the
    robust scale of ``y`` (the training fold's targets); a Gaussian head's log-variance output
    is shifted by ``2 log s``; a log-rate output (Poisson) starts at ``log mean(y)``, a
    shifted-exponential one (MSLE) at ``log(mean(y) - a)``. ``None`` for classification heads.
    """
    kind = getattr(head, "kind", None)
    n = head.n_outputs
    if kind not in ("regression", "quantiles", "gaussian"):
        return None
    loc, scale = _robust_loc_scale(y)
    if kind == "gaussian":
        return [loc, 2.0 * math.log(scale)] + [0.0] * (n - 2), [scale, 1.0] + [1.0] * (n - 2)
    link = getattr(head, "input_link", "identity")
    predict = getattr(head, "predict_link", "identity")
    if link == "identity" and predict == "identity":
        return [loc] * n, [scale] * n
    shift = float(getattr(head, "shift", 0.0)) if predict == "exp_shift" else 0.0
    mean = float(np.mean(np.asarray(y, dtype=np.float64))) - shift
    if predict == "zero_inflated" and mean > 0 and n == 2:
        # [log-rate, zero logit]: the zeros beyond Poisson(mean) as the structural share
        zeros = float(np.mean(np.asarray(y) == 0))
        pi = min(max(zeros - math.exp(-mean), 0.05), 0.95)
        return [math.log(mean / (1.0 - pi)), math.log(pi / (1.0 - pi))], [1.0, 1.0]
    if predict in ("exp", "exp_shift") and mean > 0:
        return [math.log(mean)] * n, [1.0] * n
    return None


def _state(model: nn.Module, loss: nn.Module) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    return (
        {k: v.detach().clone() for k, v in model.state_dict().items()},
        {k: v.detach().clone() for k, v in loss.state_dict().items()},
    )


SMALL_WORK = 1 << 20
"""Input elements times outputs per step below which a fit runs on one thread."""


@contextlib.contextmanager
def _threads_for(work: int) -> Iterator[None]:
    """One intra-op thread while a small fit runs (see the module docstring), then the caller's."""
    before = torch.get_num_threads()
    if work >= SMALL_WORK or before == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def fit_predict(
    loss: nn.Module,
    head: HeadLike,
    model_factory: Callable[[int, int], nn.Module],
    X_train: NDArray[Any],
    y_train: NDArray[Any],
    X_test: NDArray[Any],
    y_test: NDArray[Any],
    *,
    epochs: int | None = None,
    seed: int = 0,
    val_fraction: float = 0.2,
    patience: int | None = None,
    lr: float = LEARNING_RATE,
) -> FitResult:
    """Train ``model_factory(n_features, head.n_outputs)`` with ``loss`` and predict ``X_test``.

    See the module docstring for the standardisation, the inner validation split, the
    optimiser, early stopping and determinism.

    Args:
        loss: the loss Module (deep-copied: the caller's Module is not trained).
        head: maps model outputs to the loss's arguments and to a :class:`Prediction`.
        model_factory: ``(n_features, n_outputs) -> nn.Module``; called after
            ``torch.manual_seed(seed)``.
        X_train: ``(N, p)`` training features (after any stress test).
        y_train: the training targets (corrupted ones included).
        X_test: ``(M, p)`` test features.
        y_test: the test targets (recorded in the prediction, never used for training).
        epochs: the step budget (``None``: :data:`DEFAULT_EPOCHS`).
        seed: seed of the validation split and of the initialisation.
        val_fraction: share of the training fold held out for early stopping (0: none; the
            training loss is monitored instead).
        patience: steps without improvement before stopping (``None``: ``max(20, epochs // 10)``).
        lr: Adam's step size.

    Raises:
        LosscraftError: mismatched shapes, a bad budget, or a training fold too small to split.
    """
    budget = DEFAULT_EPOCHS if epochs is None else epochs
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise LosscraftError(f"fit_predict: 'epochs' must be an int >= 1 or None, got {epochs!r}")
    wait_max = max(20, budget // 10) if patience is None else patience
    if isinstance(wait_max, bool) or not isinstance(wait_max, int) or wait_max < 1:
        raise LosscraftError(f"fit_predict: 'patience' must be an int >= 1 or None, got {patience!r}")
    xtr = np.asarray(X_train, dtype=np.float64)
    xte = np.asarray(X_test, dtype=np.float64)
    if xtr.ndim != 2 or xte.ndim != 2 or xtr.shape[1] != xte.shape[1]:
        raise LosscraftError(
            f"fit_predict: X_train {xtr.shape} and X_test {xte.shape} must be 2-D with the same columns"
        )
    if len(y_train) != len(xtr) or len(y_test) != len(xte):
        raise LosscraftError(
            f"fit_predict: {len(xtr)} training rows for {len(y_train)} targets, "
            f"{len(xte)} test rows for {len(y_test)} targets"
        )
    if len(xtr) < (3 if val_fraction > 0 else 1) or len(xte) < 1:
        raise LosscraftError(
            f"fit_predict: {len(xtr)} training and {len(xte)} test rows are too few to fit and score"
        )
    fit_idx, val_idx = _split(len(xtr), val_fraction, seed)
    xtr_s, xte_s = standardise(xtr, xte)
    ytr = np.asarray(y_train)
    x_fit = torch.as_tensor(xtr_s[fit_idx], dtype=torch.float32)
    x_val = torch.as_tensor(xtr_s[val_idx], dtype=torch.float32)
    x_test = torch.as_tensor(xte_s, dtype=torch.float32)
    y_fit = head.target(ytr[fit_idx])
    y_val = head.target(ytr[val_idx]) if len(val_idx) else y_fit
    if not len(val_idx):
        x_val = x_fit

    history: list[float] = []
    val_history: list[float] = []
    stopped = "budget"
    with torch.random.fork_rng(devices=[]), _threads_for(x_fit.numel() * head.n_outputs):
        torch.manual_seed(seed)
        model = model_factory(xtr.shape[1], head.n_outputs)
        affine = target_scale(head, ytr)
        if affine is not None:
            model = _TargetScale(
                model,
                torch.tensor(affine[0], dtype=torch.float32),
                torch.tensor(affine[1], dtype=torch.float32),
            )
        fitted = copy.deepcopy(loss)
        params = [p for p in (*model.parameters(), *fitted.parameters()) if p.requires_grad]
        if not params:
            raise LosscraftError("fit_predict: the model has no trainable parameters")
        opt = torch.optim.Adam(params, lr=lr)
        best = math.inf
        best_epoch = -1
        best_state = _state(model, fitted)
        wait = 0
        for epoch in range(budget):
            model.train()
            opt.zero_grad(set_to_none=True)
            value = _call(fitted, head.train_args(model(x_fit), y_fit), epoch)
            train_value = float(value.detach())
            if not math.isfinite(train_value):
                stopped = "diverged"
                break
            value.backward()  # type: ignore[no-untyped-call]
            opt.step()
            history.append(train_value)
            model.eval()
            with torch.no_grad():
                v = float(_call(fitted, head.train_args(model(x_val), y_val), epoch))
            val_history.append(v)
            if math.isfinite(v) and v < best:
                best, best_epoch, wait = v, epoch, 0
                best_state = _state(model, fitted)
            else:
                wait += 1
                if wait >= wait_max:
                    stopped = "early"
                    break
        model.load_state_dict(best_state[0])
        fitted.load_state_dict(best_state[1])
        model.eval()
        with torch.no_grad():
            prediction = head.predict(model(x_test), np.asarray(y_test))
    return FitResult(
        prediction=prediction,
        history=tuple(history),
        val_history=tuple(val_history),
        epochs_run=len(history),
        best_epoch=best_epoch,
        n_fit=len(fit_idx),
        n_val=len(val_idx),
        stopped=stopped,
    )
