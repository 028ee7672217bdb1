r"""Multi-task losses: fixed weights, homoscedastic uncertainty weighting and Dynamic Weight Averaging.

>>> import torch, losscraft
>>> from losscraft.multitask import MultiTaskLoss
>>> mtl = MultiTaskLoss({"depth": losscraft.MSELoss(), "seg": losscraft.CrossEntropyLoss()},
...                     method="uncertainty", task_types={"depth": "regression", "seg": "classification"})
>>> sorted(name for name, _ in mtl.named_parameters())
['log_vars.depth', 'log_vars.seg']

Pass every task's prediction and target by name: ``mtl({"depth": d, "seg": s}, {"depth": dt,
"seg": st})``. A prediction may be a tuple of tensors for losses with several inputs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from ._core.errors import LosscraftError
from ._core.registry import build, register_composite

__all__ = ["MultiTaskLoss"]

_METHODS = ("fixed", "uncertainty", "dwa")
_TYPES = ("regression", "classification")


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
        task_types = dict(task_types or {})
        for k, t in task_types.items():
            if k not in names:
                raise LosscraftError(f"MultiTaskLoss: 'task_types' name {k!r} is not a task")
            if t not in _TYPES:
                raise LosscraftError(
                    f"MultiTaskLoss: task_types[{k!r}] must be 'regression' or 'classification', got {t!r}"
                )
        self.task_types = {k: task_types.get(k, "regression") for k in names}
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
            raise LosscraftError(
                f"MultiTaskLoss: 'temperature' must be a float in (0, inf), got {temperature!r}"
            )
        self.temperature = float(temperature)
        lo, hi = log_var_bounds
        if not lo < hi:
            raise LosscraftError(
                f"MultiTaskLoss: 'log_var_bounds' must be (low, high) with low < high, got {log_var_bounds!r}"
            )
        self.log_var_bounds = (float(lo), float(hi))
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
        """Total loss over all tasks; every task needs a prediction and a target."""
        names = list(self.tasks)
        missing = [k for k in names if k not in predictions or k not in targets]
        if missing:
            raise LosscraftError(f"MultiTaskLoss: missing prediction or target for task(s) {missing}")
        weights = self.dwa_weights() if self.method == "dwa" else None
        total: Tensor | None = None
        terms: dict[str, Tensor] = {}
        used: dict[str, float] = {}
        for k in names:
            pred = predictions[k]
            args = (*pred, targets[k]) if isinstance(pred, tuple) else (pred, targets[k])
            loss_k = self.tasks[k](*args)
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
                self._epoch_sum[k] += float(loss_k.detach())
                self._epoch_count[k] += 1
            total = contrib if total is None else total + contrib
        assert total is not None
        self.last_terms = terms
        self.last_weights = used
        return total

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict[str, Any]:
        """Plain data (learned log-variances live in ``state_dict``, not in the config)."""
        cfg: dict[str, Any] = {
            "name": self.config_name,
            "tasks": {k: t.get_config() for k, t in self.tasks.items()},  # type: ignore[operator]
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
        """Inverse of :meth:`get_config`."""
        cfg = {k: v for k, v in config.items() if k != "name"}
        if "log_var_bounds" in cfg:
            cfg["log_var_bounds"] = tuple(cfg["log_var_bounds"])
        return cls(cfg.pop("tasks"), **cfg)

    def extra_repr(self) -> str:
        """Method and its settings."""
        if self.method == "fixed":
            return f"method='fixed', weights={self.fixed_weights}"
        if self.method == "dwa":
            return f"method='dwa', temperature={self.temperature}"
        return f"method='uncertainty', task_types={self.task_types}"


register_composite("multitask", MultiTaskLoss.from_config)
