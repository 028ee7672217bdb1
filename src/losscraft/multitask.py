r"""Multi-task losses: fixed weights, homoscedastic uncertainty weighting and Dynamic Weight Averaging.

>>> import torch, losscraft
>>> from losscraft.multitask import MultiTaskLoss
>>> mtl = MultiTaskLoss({"depth": losscraft.MSELoss(), "seg": losscraft.CrossEntropyLoss()},
...                     method="uncertainty", task_types={"depth": "regression", "seg": "classification"})
>>> sorted(name for name, _ in mtl.named_parameters())
['log_vars.depth', 'log_vars.seg']

Pass every task's prediction and target by name: ``mtl({"depth": d, "seg": s}, {"depth": dt,
"seg": st})``. A prediction may be a tuple of tensors for losses with several inputs: every
input but the target, in the loss's declared order (``spec.inputs``); the target goes where the
loss declares it (``gaussian_nll`` takes ``(input, target, var)``: pass ``(mu, var)`` and ``y``).
A prediction may also be a mapping input name -> tensor.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NoReturn

import torch
from torch import Tensor, nn

from ._core.combine import call_input_names, check_same_shapes, fmt_signature, input_names
from ._core.errors import LosscraftError, refuse_torchscript
from ._core.registry import build, check_config_keys, register_composite

__all__ = ["MultiTaskLoss"]

_METHODS = ("fixed", "uncertainty", "dwa")
_TYPES = ("regression", "classification")
# the options each method uses (config keys beyond "name", "tasks" and "method")
_METHOD_KEYS = {
    "fixed": ("weights",),
    "uncertainty": ("task_types", "init_log_var", "log_var_bounds"),
    "dwa": ("temperature",),
}
_DEFAULTS: dict[str, Any] = {"temperature": 2.0, "init_log_var": 0.0, "log_var_bounds": (-10.0, 10.0)}


def _real(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and not math.isnan(x)


def _task_args(
    name: str, loss: nn.Module, pred: Any, target: Any
) -> tuple[tuple[Tensor, ...], dict[str, Tensor]]:
    """The positional (and keyword) inputs of task ``name``'s loss, in its declared order.

    The prediction is a tensor, a tuple of tensors (every input but the target, in the loss's
    order) or a mapping input name -> tensor; the target goes where the loss declares
    ``"target"``: ``gaussian_nll`` is ``(input, target, var)``, so the prediction
    ``(mu, var)`` and the target ``y`` give ``(mu, y, var)``. A loss without a ``"target"``
    input (``triplet``, ``info_nce``) takes the target, if given, as its last input.
    """
    names = input_names(loss)
    if isinstance(pred, Mapping):
        if names is None:
            raise LosscraftError(
                f"MultiTaskLoss: task {name!r}: a prediction given by input name needs a catalog or "
                "custom loss (which declares its inputs)"
            )
        keyword = call_input_names(loss)
        unknown = sorted(set(pred) - set(names) - set(keyword))
        if unknown:
            raise LosscraftError(
                f"MultiTaskLoss: task {name!r}: unknown input name(s) {unknown}; the loss takes "
                f"{fmt_signature(names)}" + (f" and keyword(s) {list(keyword)}" if keyword else "")
            )
        given = dict(pred)
        if target is not None:
            if "target" in given:
                raise LosscraftError(f"MultiTaskLoss: task {name!r}: 'target' given twice")
            given["target"] = target
        missing = [n for n in names if n not in given]
        if missing:
            raise LosscraftError(
                f"MultiTaskLoss: task {name!r}: missing input(s) {missing}; the loss takes {fmt_signature(names)}"
            )
        return tuple(given[n] for n in names), {k: given[k] for k in keyword if k in given}
    preds = tuple(pred) if isinstance(pred, (tuple, list)) else (pred,)
    if names is None:
        return ((*preds, target) if target is not None else preds), {}
    if "target" in names:
        if target is None:
            raise LosscraftError(f"MultiTaskLoss: missing target for task {name!r}")
        others = [n for n in names if n != "target"]
        if len(preds) != len(others):
            raise LosscraftError(
                f"MultiTaskLoss: task {name!r}: the loss takes {fmt_signature(names)}, so the prediction "
                f"must hold {len(others)} tensor(s) {fmt_signature(tuple(others))} and the target is "
                f"given separately; got a prediction of {len(preds)} tensor(s)"
            )
        it = iter(preds)
        return tuple(target if n == "target" else next(it) for n in names), {}
    args = preds if target is None else (*preds, target)
    if len(args) != len(names):
        raise LosscraftError(
            f"MultiTaskLoss: task {name!r}: the loss takes {fmt_signature(names)}; got {len(args)} tensor(s) "
            "(prediction, then the target if given)"
        )
    return args, {}


class MultiTaskLoss(nn.Module):
    r"""Weighted sum of per-task losses, with fixed or adaptive task weights.

    * ``method="fixed"``: $L = \sum_k w_k L_k$ (``weights``, default 1 each). Only sensible
      when the task losses are on comparable scales (standardise regression targets).
    * ``method="uncertainty"`` (Kendall, Gal & Cipolla 2018): learnable log-variances
      $s_k = \log\sigma_k^2$ (``nn.Parameter``s, so the optimizer updates them):
      $$L = \sum_k c_k\, e^{-s_k} L_k + \tfrac12 s_k,\qquad c_k = \tfrac12 \text{ (regression)},
      \ 1 \text{ (classification)}.$$
      At the optimum $e^{s_k} = 2c_k L_k$: each task is divided by its own loss size, so a
      noisy task is down-weighted. ``log_var_bounds`` clamps $s_k$ (the weight explodes as
      $L_k \to 0$ otherwise).
    * ``method="dwa"`` (Liu, Johns & Davison 2019): weights from the rate of descent of each
      task's epoch-average loss,
      $$\lambda_k(t) = \frac{K \exp(r_k(t-1)/T)}{\sum_i \exp(r_i(t-1)/T)},\quad
      r_k(t-1) = \frac{\bar L_k(t-1)}{\bar L_k(t-2)},$$
      with $\lambda_k = 1$ for the first two epochs and ``temperature`` $T = 2$. The module
      averages the task losses seen in ``forward``; call :meth:`end_epoch` at the end of
      every epoch to roll the averages (explicit, no hidden global state).

    After each call :attr:`last_terms` holds every task's (detached) loss and
    :attr:`last_weights` the weights applied.

    Args:
        tasks: task name -> loss Module (or registry name / config).
        method: ``"fixed"``, ``"uncertainty"`` or ``"dwa"``.
        weights: fixed weights per task (``"fixed"`` only).
        task_types: ``"regression"`` or ``"classification"`` per task (``"uncertainty"``;
            default regression).
        temperature: DWA temperature $T > 0$. Default 2.0 (paper).
        init_log_var: initial $s_k$. Default 0.0 (weight $c_k$).
        log_var_bounds: clamp range for $s_k$. Default (-10, 10).

    References:
        Kendall, Gal & Cipolla (2018), *Multi-Task Learning Using Uncertainty to Weigh Losses
        for Scene Geometry and Semantics*, CVPR. Liu, Johns & Davison (2019), *End-to-End
        Multi-Task Learning with Attention*, CVPR.
    """

    config_name = "multitask"

    def __init__(
        self,
        tasks: Mapping[str, nn.Module | str | Mapping[str, Any]],
        *,
        method: str = "fixed",
        weights: Mapping[str, float] | None = None,
        task_types: Mapping[str, str] | None = None,
        temperature: float = 2.0,
        init_log_var: float = 0.0,
        log_var_bounds: tuple[float, float] = (-10.0, 10.0),
    ) -> None:
        super().__init__()
        if not isinstance(tasks, Mapping) or not tasks:
            raise LosscraftError("MultiTaskLoss: 'tasks' must be a non-empty mapping of name -> loss")
        if method not in _METHODS:
            raise LosscraftError(
                f"MultiTaskLoss: 'method' must be one of {', '.join(map(repr, _METHODS))}, got {method!r}"
            )
        modules = {k: build(v) if isinstance(v, (str, Mapping)) else v for k, v in tasks.items()}
        for k, v in modules.items():
            if not isinstance(k, str) or not k.isidentifier():
                raise LosscraftError(f"MultiTaskLoss: task names must be identifiers, got {k!r}")
            if not isinstance(v, nn.Module):
                raise LosscraftError(
                    f"MultiTaskLoss: task {k!r} must be a loss Module, got {type(v).__name__}"
                )
        self.tasks = nn.ModuleDict(modules)
        self.method = method
        names = list(modules)
        if weights is not None and not isinstance(weights, Mapping):
            raise LosscraftError(
                f"MultiTaskLoss: 'weights' must be a mapping of task name -> weight, got {weights!r}"
            )
        weights = dict(weights or {})
        if weights and method != "fixed":
            raise LosscraftError("MultiTaskLoss: 'weights' are only used with method='fixed'")
        unknown = sorted(set(weights) - set(names))
        if unknown:
            raise LosscraftError(f"MultiTaskLoss: 'weights' names {unknown} are not tasks")
        for k, w in weights.items():
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
                raise LosscraftError(f"MultiTaskLoss: weights[{k!r}] must be a finite number >= 0, got {w!r}")
        self.fixed_weights = {k: float(weights.get(k, 1.0)) for k in names}
        given = {
            "task_types": task_types is not None,
            "temperature": temperature != _DEFAULTS["temperature"],
            "init_log_var": init_log_var != _DEFAULTS["init_log_var"],
            "log_var_bounds": tuple(log_var_bounds) != _DEFAULTS["log_var_bounds"]
            if isinstance(log_var_bounds, (tuple, list))
            else True,
        }
        for key, is_given in given.items():
            if is_given and key not in _METHOD_KEYS[method]:
                owner = next(m for m, keys in _METHOD_KEYS.items() if key in keys)
                raise LosscraftError(
                    f"MultiTaskLoss: '{key}' is only used with method={owner!r}, got method={method!r}"
                )
        if task_types is not None and not isinstance(task_types, Mapping):
            raise LosscraftError(f"MultiTaskLoss: 'task_types' must be a mapping, got {task_types!r}")
        task_types = dict(task_types or {})
        for k, t in task_types.items():
            if k not in names:
                raise LosscraftError(f"MultiTaskLoss: 'task_types' name {k!r} is not a task")
            if t not in _TYPES:
                raise LosscraftError(
                    f"MultiTaskLoss: task_types[{k!r}] must be 'regression' or 'classification', got {t!r}"
                )
        self.task_types = {k: task_types.get(k, "regression") for k in names}
        if not _real(temperature) or not 0 < temperature < math.inf:
            raise LosscraftError(
                f"MultiTaskLoss: 'temperature' must be a float in (0, inf), got {temperature!r}"
            )
        self.temperature = float(temperature)
        if (
            not isinstance(log_var_bounds, (tuple, list))
            or len(log_var_bounds) != 2
            or not all(_real(b) for b in log_var_bounds)
            or not log_var_bounds[0] < log_var_bounds[1]
        ):
            raise LosscraftError(
                "MultiTaskLoss: 'log_var_bounds' must be (low, high), two numbers with low < high, "
                f"got {log_var_bounds!r}"
            )
        lo, hi = log_var_bounds
        self.log_var_bounds = (float(lo), float(hi))
        if not _real(init_log_var) or not math.isfinite(init_log_var):
            raise LosscraftError(
                f"MultiTaskLoss: 'init_log_var' must be a finite float, got {init_log_var!r}"
            )
        self.init_log_var = float(init_log_var)
        if method == "uncertainty":
            self.log_vars = nn.ParameterDict(
                {k: nn.Parameter(torch.tensor(self.init_log_var)) for k in names}
            )
        # DWA bookkeeping: running sums of the current epoch and the last two epoch averages.
        self._epoch_sum = dict.fromkeys(names, 0.0)
        self._epoch_count = dict.fromkeys(names, 0)
        self._history: list[dict[str, float]] = []
        self.last_terms: dict[str, Tensor] = {}
        self.last_weights: dict[str, float] = {}

    # ------------------------------------------------------------------ weights
    def dwa_weights(self) -> dict[str, float]:
        """The DWA weights for the current epoch (1 each for the first two epochs)."""
        names = list(self.tasks)
        if len(self._history) < 2:
            return dict.fromkeys(names, 1.0)
        prev, prev2 = self._history[-1], self._history[-2]
        rates = torch.tensor(
            [prev[k] / prev2[k] if prev2[k] > 0 else 1.0 for k in names], dtype=torch.float64
        )
        lam = len(names) * torch.softmax(rates / self.temperature, dim=0)
        return {k: float(v) for k, v in zip(names, lam.tolist(), strict=True)}

    def task_weights(self) -> dict[str, float]:
        """The effective weight of each task's loss now."""
        if self.method == "fixed":
            return dict(self.fixed_weights)
        if self.method == "dwa":
            return self.dwa_weights()
        out = {}
        for k in self.tasks:
            c = 0.5 if self.task_types[k] == "regression" else 1.0
            out[k] = c * math.exp(-float(self._log_var(k).detach()))
        return out

    def _log_var(self, name: str) -> Tensor:
        lo, hi = self.log_var_bounds
        s: Tensor = self.log_vars[name]
        return s.clamp(lo, hi)

    def end_epoch(self) -> dict[str, float]:
        """Close the epoch: record each task's average loss (DWA) and reset the sums."""
        avg = {k: self._epoch_sum[k] / self._epoch_count[k] for k in self.tasks if self._epoch_count[k] > 0}
        if len(avg) == len(self.tasks):
            self._history = [*self._history[-1:], avg]
        self._epoch_sum = dict.fromkeys(self.tasks, 0.0)
        self._epoch_count = dict.fromkeys(self.tasks, 0)
        return avg

    # ------------------------------------------------------------------ forward
    def forward(self, predictions: Mapping[str, Any], targets: Mapping[str, Tensor]) -> Tensor:
        """Total loss over all tasks; every task needs a prediction (and a target, if its loss has one).

        DWA's epoch averages count only training calls (``module.train()`` and gradients
        enabled), so validation passes do not change the weights.

        Raises:
            LosscraftError: a missing prediction or target, a prediction that does not match the
                task loss's inputs, task losses of different output shapes.
        """
        names = list(self.tasks)
        missing = [
            k
            for k in names
            if k not in predictions
            or (k not in targets and _needs_target(self.tasks[k]) and not _has_target(predictions[k]))
        ]
        if missing:
            raise LosscraftError(f"MultiTaskLoss: missing prediction or target for task(s) {missing}")
        weights = self.dwa_weights() if self.method == "dwa" else None
        record = self.method == "dwa" and self.training and torch.is_grad_enabled()
        losses: dict[str, Tensor] = {}
        for k in names:
            args, kwargs = _task_args(k, self.tasks[k], predictions[k], targets.get(k))
            losses[k] = self.tasks[k](*args, **kwargs)
        check_same_shapes("MultiTaskLoss", "tasks", losses)
        total: Tensor | None = None
        terms: dict[str, Tensor] = {}
        used: dict[str, float] = {}
        for k, loss_k in losses.items():
            terms[k] = loss_k.detach()
            if self.method == "fixed":
                contrib = self.fixed_weights[k] * loss_k
                used[k] = self.fixed_weights[k]
            elif self.method == "uncertainty":
                s = self._log_var(k)
                c = 0.5 if self.task_types[k] == "regression" else 1.0
                contrib = c * torch.exp(-s) * loss_k + 0.5 * s
                used[k] = c * math.exp(-float(s.detach()))
            else:
                assert weights is not None
                contrib = weights[k] * loss_k
                used[k] = weights[k]
                if record:
                    self._epoch_sum[k] += float(loss_k.detach().mean())
                    self._epoch_count[k] += 1
            total = contrib if total is None else total + contrib
        assert total is not None
        self.last_terms = terms
        self.last_weights = used
        return total

    # ------------------------------------------------------------------ state
    def get_extra_state(self) -> dict[str, Any]:
        """DWA's bookkeeping (epoch sums and the last two epoch averages), saved in ``state_dict``."""
        return {
            "epoch_sum": dict(self._epoch_sum),
            "epoch_count": dict(self._epoch_count),
            "history": [dict(h) for h in self._history],
        }

    def set_extra_state(self, state: Any) -> None:
        """Restore what :meth:`get_extra_state` saved (a checkpoint of the same tasks)."""
        names = set(self.tasks)
        if (
            not isinstance(state, Mapping)
            or set(state) != {"epoch_sum", "epoch_count", "history"}
            or set(state["epoch_sum"]) != names
            or set(state["epoch_count"]) != names
            or any(set(h) != names for h in state["history"])
        ):
            raise LosscraftError(
                f"MultiTaskLoss: the saved DWA state does not match the tasks {sorted(names)}"
            )
        self._epoch_sum = {k: float(v) for k, v in state["epoch_sum"].items()}
        self._epoch_count = {k: int(v) for k, v in state["epoch_count"].items()}
        self._history = [{k: float(v) for k, v in h.items()} for h in state["history"]][-2:]

    def __prepare_scriptable__(self) -> NoReturn:
        """``torch.jit.script`` calls this first: a clear error (see :func:`refuse_torchscript`)."""
        refuse_torchscript(self)

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict[str, Any]:
        """Plain data (learned log-variances live in ``state_dict``, not in the config)."""
        cfg: dict[str, Any] = {
            "name": self.config_name,
            "tasks": {k: _task_config(k, t) for k, t in self.tasks.items()},
            "method": self.method,
        }
        if self.method == "fixed":
            cfg["weights"] = dict(self.fixed_weights)
        if self.method == "uncertainty":
            cfg["task_types"] = dict(self.task_types)
            cfg["init_log_var"] = self.init_log_var
            cfg["log_var_bounds"] = list(self.log_var_bounds)
        if self.method == "dwa":
            cfg["temperature"] = self.temperature
        return cfg

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MultiTaskLoss:
        """Inverse of :meth:`get_config`.

        Raises:
            LosscraftError: a missing ``tasks``, an unknown key, or a key the method does not
                use (named, with the valid ones).
        """
        all_keys = tuple(k for keys in _METHOD_KEYS.values() for k in keys)
        cfg = check_config_keys(
            "MultiTaskLoss.from_config", config, required=("tasks",), optional=("name", "method", *all_keys)
        )
        method = cfg.get("method", "fixed")
        if method not in _METHODS:
            raise LosscraftError(
                f"MultiTaskLoss.from_config: 'method' must be one of {', '.join(map(repr, _METHODS))}, "
                f"got {method!r}"
            )
        for key in cfg:
            if key in all_keys and key not in _METHOD_KEYS[method]:
                owner = next(m for m, keys in _METHOD_KEYS.items() if key in keys)
                raise LosscraftError(
                    f"MultiTaskLoss.from_config: key {key!r} is only used with method={owner!r}, got "
                    f"method={method!r}; valid keys for it: "
                    + ", ".join(map(repr, ("tasks", "name", "method", *_METHOD_KEYS[method])))
                )
        cfg.pop("name", None)
        if "log_var_bounds" in cfg and isinstance(cfg["log_var_bounds"], list):
            cfg["log_var_bounds"] = tuple(cfg["log_var_bounds"])
        return cls(cfg.pop("tasks"), **cfg)

    def extra_repr(self) -> str:
        """Method and its settings."""
        if self.method == "fixed":
            return f"method='fixed', weights={self.fixed_weights}"
        if self.method == "dwa":
            return f"method='dwa', temperature={self.temperature}"
        return f"method='uncertainty', task_types={self.task_types}"


def _task_config(name: str, task: nn.Module) -> dict[str, Any]:
    get_config = getattr(task, "get_config", None)
    if get_config is None:
        raise LosscraftError(
            f"MultiTaskLoss: task {name!r} ({type(task).__name__}) has no get_config(); only losscraft "
            "losses and composites can be serialised"
        )
    cfg: dict[str, Any] = get_config()
    return cfg


def _has_target(pred: Any) -> bool:
    return isinstance(pred, Mapping) and "target" in pred


def _needs_target(loss: nn.Module) -> bool:
    names = input_names(loss)
    return names is None or "target" in names


register_composite("multitask", MultiTaskLoss.from_config)
