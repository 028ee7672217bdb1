"""Models and output heads for ``compare``: the same network for every loss, a head per loss.

:func:`make_model` builds the network every candidate loss trains (``"linear"``, ``"mlp"`` or the
user's own factory), with the same initialisation for the same seed. :func:`head_for` reads a
loss's registry metadata and returns the :class:`Head` that adapts the network to it: how many
outputs it needs, what the loss is called with, and how raw outputs become a
:class:`~losscraft.guide.metrics.Prediction` in the task's terms:

========================================  =========  =====================  =====================
loss (by its spec)                        outputs    loss called with       prediction
========================================  =========  =====================  =====================
real input, real or count target          1          ``(out, y)``           ``out``
... curve extent ``(a, inf)`` (``msle``)  1          ``(a + e^out, y)``     ``a + e^out``
log-rate input (``poisson_nll``)          1          ``(out, y)``           ``e^out``
log-rate and zero logit (zero-inflated)   2          ``(out, y)``           ``(1-sigmoid(z))e^eta``
... with ``log_input=False``              1          ``(softplus(out), y)`` ``softplus(out)``
quantile levels (``Role.QUANTILE_LEVEL``) Q          ``(out, y)``           sorted quantiles
third input ``var`` (``gaussian_nll``)    2          ``(mu, y, e^s)``       mean ``mu``, var ``e^s``
binary target, logits (binary task)       1          ``(out, y.float())``   ``sigmoid(out)``
binary target, probabilities (``bce``)    1          ``(sigmoid(out), y)``  ``sigmoid(out)``
class-index target (binary task)          2          ``(out, y.long())``    ``softmax(out)[:, 1]``
class-index target (multiclass task)      C          ``(out, y.long())``    ``softmax(out)``
distribution target (``kl_div``)          C          ``(out, onehot(y))``   ``softmax(out)``
binary target (multilabel task)           L          ``(out, Y.float())``   ``sigmoid(out)``
========================================  =========  =====================  =====================

A proportion target (task ``proportion_regression``) with a binary-target loss
(``bce_with_logits``) predicts ``sigmoid(out)``. A Module without a spec (e.g. an adaptive
loss with learnable parameters, or a torch loss) gets the task's plain head: 1 raw output for
regression, 1 logit for binary, C logits for multiclass, L logits for multilabel.

A :class:`~losscraft.compose.CombinedLoss` calls every term with the same inputs, so every term
must take the same form (same outputs, same transform, same target); the first term's head
then makes the predictions. Wrappers (``Weighted``, ``ErrorWeighted``) use their inner loss's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from losscraft._core.combine import CombinedLoss
from losscraft._core.errors import LosscraftError
from losscraft._core.registry import build
from losscraft._core.spec import InputKind, LossSpec, Property, Role, TargetKind, Task
from losscraft.guide.metrics import Prediction

__all__ = ["HIDDEN_UNITS", "Head", "ModelFactory", "head_for", "make_model"]

HIDDEN_UNITS = 64
"""Width of the hidden layer of ``model="mlp"``."""

ModelFactory = Callable[[int, int], nn.Module]
"""``(n_features, n_outputs) -> nn.Module``: the user's own architecture."""

Kind = Literal["regression", "quantiles", "gaussian", "binary", "multiclass", "multilabel"]
InputLink = Literal["identity", "exp_shift", "softplus", "sigmoid", "softmax"]
PredictLink = Literal["identity", "exp", "exp_shift", "softplus", "sigmoid", "softmax", "zero_inflated"]
TargetForm = Literal["float", "long", "onehot", "sign"]

_REGRESSION_TASKS = frozenset(
    {Task.REGRESSION.value, Task.COUNT.value, Task.QUANTILE_REGRESSION.value, Task.PROPORTION.value}
)
_TASK_ALIASES = {
    "binary": Task.BINARY.value,
    "multiclass": Task.MULTICLASS.value,
    "multilabel": Task.MULTILABEL.value,
    "ordinal": Task.ORDINAL.value,
    "count": Task.COUNT.value,
    "proportion": Task.PROPORTION.value,
    "quantile": Task.QUANTILE_REGRESSION.value,
}
_CLASS_TARGETS = frozenset({TargetKind.CLASS_INDEX, TargetKind.CLASS_INDEX_OR_PROBABILITIES})


# --------------------------------------------------------------------------- models
def make_model(model: str | ModelFactory, n_features: int, n_outputs: int, seed: int) -> nn.Module:
    """The network to train: ``"linear"``, ``"mlp"`` (one hidden layer of 64 ReLU units) or a factory.

    The parameters are initialised under ``torch.manual_seed(seed)`` inside a forked RNG, so the
    same seed gives the same initial weights for every loss and the caller's global torch RNG
    state is left as it was.

    Raises:
        LosscraftError: an unknown model name, a factory that does not return an ``nn.Module``,
            or sizes below 1.
    """
    if n_features < 1 or n_outputs < 1:
        raise LosscraftError(
            f"compare: the model needs at least 1 feature and 1 output, got {n_features} and {n_outputs}"
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if model == "linear":
            return nn.Linear(n_features, n_outputs)
        if model == "mlp":
            return nn.Sequential(
                nn.Linear(n_features, HIDDEN_UNITS), nn.ReLU(), nn.Linear(HIDDEN_UNITS, n_outputs)
            )
        if isinstance(model, str) or not callable(model):
            raise LosscraftError(
                f"compare: model must be 'linear', 'mlp' or a callable (n_features, n_outputs) -> "
                f"nn.Module, got {model!r}"
            )
        net = model(n_features, n_outputs)
    if not isinstance(net, nn.Module):
        raise LosscraftError(f"compare: the model factory must return an nn.Module, got {type(net).__name__}")
    return net


# --------------------------------------------------------------------------- heads
@dataclass(frozen=True)
class Head:
    """How one loss meets the network: outputs, loss arguments and predictions.

    Plain data (picklable for parallel fits). ``target`` encodes the user's targets once per
    fold; ``train_args`` turns the network's ``(N, n_outputs)`` output into the loss's
    positional arguments; ``predict`` turns it into a :class:`Prediction`.

    Attributes:
        name: the loss's registry name (or class name), for messages.
        kind: the :class:`Prediction` kind.
        n_outputs: network outputs per sample.
        input_link: transform of the outputs before the loss sees them.
        predict_link: transform of the outputs into predictions.
        target_form: ``"float"`` (values or 0/1), ``"long"`` (class indices), ``"onehot"``
            (a distribution per sample) or ``"sign"`` (-1/+1).
        variance_output: the second output is a log-variance passed as the loss's third input.
        levels: quantile levels, sorted (quantile heads).
        level_order: the column of the outputs holding each sorted level (the loss's own order
            of ``quantiles`` is kept in training).
        squeeze: a single output is passed as ``(N,)`` (scalar quantile level, regression,
            binary logit).
        shift: ``a`` of ``exp_shift`` (predictions ``a + exp(out)`` for losses defined above ``a``).
        classes: class labels in column order (binary: ``(negative, positive)``); ``None``:
            the targets already are ``0 .. C-1`` (or 0/1 columns for multilabel).
    """

    name: str
    kind: Kind
    n_outputs: int
    input_link: InputLink = "identity"
    predict_link: PredictLink = "identity"
    target_form: TargetForm = "float"
    variance_output: bool = False
    levels: tuple[float, ...] = ()
    level_order: tuple[int, ...] = ()
    squeeze: bool = False
    shift: float = 0.0
    classes: tuple[Any, ...] | None = None

    # ----------------------------------------------------------------- targets
    def encode(self, y: Any) -> np.ndarray[Any, Any]:
        """Class labels as indices ``0 .. C-1`` into :attr:`classes` (other kinds: ``y`` as an array).

        Raises:
            LosscraftError: a label that is not one of :attr:`classes`.
        """
        arr = np.asarray(y)
        if self.kind not in ("binary", "multiclass") or self.classes is None:
            return arr
        known = np.asarray(self.classes)
        order = np.argsort(known, kind="stable")
        pos = np.clip(np.searchsorted(known[order], arr), 0, len(known) - 1)
        found = known[order][pos] == arr
        if not np.all(found):
            bad = arr[~found][0].tolist()
            raise LosscraftError(
                f"compare: label {bad!r} is not one of the classes {list(self.classes)} of loss {self.name!r}"
            )
        return np.asarray(order[pos], dtype=np.int64)

    def target(self, y: Any, dtype: torch.dtype = torch.float32) -> Tensor:
        """The loss's target tensor for targets ``y`` (class labels are encoded by :meth:`encode`).

        ``dtype`` is the floating dtype of float targets (match the network's).
        """
        arr = self.encode(y)
        if self.target_form == "long":
            return torch.as_tensor(arr, dtype=torch.long)
        if self.target_form == "onehot":
            index = torch.as_tensor(arr, dtype=torch.long)
            return nn.functional.one_hot(index, self.n_outputs).to(dtype)
        t = torch.as_tensor(np.asarray(arr, dtype=np.float64), dtype=dtype)
        return 2.0 * t - 1.0 if self.target_form == "sign" else t

    # ----------------------------------------------------------------- outputs
    def _outputs(self, outputs: Tensor) -> Tensor:
        """Check the network's output shape; a 1-D output counts as one column."""
        out = outputs.unsqueeze(-1) if outputs.dim() == 1 else outputs
        if out.dim() != 2 or out.shape[1] != self.n_outputs:
            raise LosscraftError(
                f"compare: loss {self.name!r} needs a model output of shape (N, {self.n_outputs}), "
                f"got {tuple(outputs.shape)}"
            )
        return out

    def train_args(self, outputs: Tensor, target: Tensor) -> tuple[Tensor, ...]:
        """The loss's positional arguments for outputs ``(N, n_outputs)`` and the ``target`` tensor."""
        out = self._outputs(outputs)
        if self.variance_output:
            return out[:, 0], target, out[:, 1].exp()
        x = _link(out, self.input_link, self.shift)
        return (x.squeeze(-1) if self.squeeze else x), target

    def predict(self, outputs: Tensor, y_true: Any) -> Prediction:
        """The predictions for outputs ``(N, n_outputs)``, with the test targets ``y_true``.

        ``y_true`` is in the user's labels (the :class:`Prediction` pairs it with
        :attr:`classes`).
        """
        with torch.no_grad():
            out = self._outputs(outputs).detach().to(torch.float64)
            yt = np.asarray(y_true)
            if self.variance_output:
                return Prediction("gaussian", yt, point=out[:, 0].numpy(), variance=out[:, 1].exp().numpy())
            p = _link(out, self.predict_link, self.shift).numpy()
        if self.kind == "quantiles":
            # Columns in level order, then sorted per row: the monotone rearrangement of
            # Chernozhukov, Fernandez-Val & Galichon (2010) fixes crossing quantiles.
            q = np.sort(p[:, list(self.level_order)], axis=1)
            return Prediction("quantiles", yt, point=_point(q, self.levels), quantiles=q, levels=self.levels)
        if self.kind == "regression":
            return Prediction("regression", yt, point=p[:, 0])
        if self.kind == "binary":
            return Prediction("binary", yt, proba=p[:, -1], classes=self.classes)
        return Prediction(self.kind, yt, proba=p, classes=self.classes)

    def describe(self) -> str:
        """One line for reports, e.g. ``3 outputs (quantiles 0.05, 0.5, 0.95)``."""
        what = {
            "regression": "point",
            "quantiles": "quantiles " + ", ".join(f"{t:g}" for t in self.levels),
            "gaussian": "mean and log-variance",
            "binary": "P(positive)",
            "multiclass": "class probabilities",
            "multilabel": "label probabilities",
        }[self.kind]
        if self.predict_link == "zero_inflated":
            what = "log-rate and zero logit; mean (1 - pi) e^eta"
        plural = "" if self.n_outputs == 1 else "s"
        return f"{self.n_outputs} output{plural} ({what}; loss input: {self.input_link})"


def _link(x: Tensor, link: str, shift: float) -> Tensor:
    if link == "identity":
        return x
    if link == "zero_inflated":  # [log-rate, zero logit] -> the mean count (1 - pi) * lambda
        return torch.sigmoid(-x[:, 1:2]) * x[:, 0:1].exp()
    if link == "exp":
        return x.exp()
    if link == "exp_shift":
        return shift + x.exp()
    if link == "softplus":
        return nn.functional.softplus(x)
    if link == "sigmoid":
        return torch.sigmoid(x)
    return torch.softmax(x, dim=-1)


def _point(q: np.ndarray[Any, Any], levels: tuple[float, ...]) -> np.ndarray[Any, Any]:
    """The 0.5-level column when there is one, else the mean over levels (as the metrics derive it)."""
    for j, t in enumerate(levels):
        if abs(t - 0.5) < 1e-12:
            return np.asarray(q[:, j])
    return np.asarray(q.mean(axis=1))


def _task_name(task: Any) -> str:
    name = str(getattr(task, "value", task)).strip().lower()
    return _TASK_ALIASES.get(name, name)


def _hparams(module: nn.Module, spec: LossSpec) -> dict[str, Any]:
    """The Module's current hyperparameters (spec defaults for anything it does not expose)."""
    own = getattr(module, "hparams", None)
    return {**spec.defaults, **(own if isinstance(own, dict) else {})}


def _resolve(module: nn.Module) -> tuple[LossSpec, dict[str, Any]] | None:
    """The spec and hyperparameters behind ``module`` (through wrappers); ``None`` without a spec."""
    spec = getattr(type(module), "spec", None)
    if isinstance(spec, LossSpec):
        return spec, _hparams(module, spec)
    inner = getattr(module, "loss", None)
    if isinstance(inner, nn.Module):
        return _resolve(inner)
    return None


def _class_count(task: str, n_classes: int | None, classes: tuple[Any, ...] | None, name: str) -> int:
    count = len(classes) if classes is not None else n_classes
    if count == 1:
        shown = f" {list(classes)}" if classes is not None else ""
        raise LosscraftError(
            f"compare: the target has a single class{shown}: there is nothing to separate for loss {name!r} "
            "(or any other); collect samples of the other class(es)"
        )
    if task == Task.BINARY.value:
        if count not in (None, 2):
            raise LosscraftError(f"compare: a binary task has 2 classes, got {count} (loss {name!r})")
        return 2
    if count is None or count < 2:
        raise LosscraftError(
            f"compare: task {task!r} needs n_classes (or classes) >= 2 to size the head of loss {name!r}"
        )
    return int(count)


def _plain_head(name: str, task: str, n: int | None) -> Head:
    """The task's usual head for a loss without a spec (torch's conventions)."""
    if task in _REGRESSION_TASKS:
        return Head(name, "regression", 1, squeeze=True)
    if task == Task.BINARY.value:
        return Head(name, "binary", 1, predict_link="sigmoid", squeeze=True)
    if task == Task.MULTILABEL.value:
        assert n is not None
        return Head(name, "multilabel", n, predict_link="sigmoid")
    assert n is not None
    return Head(name, "multiclass", n, predict_link="softmax", target_form="long")


def _spec_head(spec: LossSpec, hp: dict[str, Any], task: str, n: int | None) -> Head:
    """The head of a catalog or custom loss, from its spec (see the module docstring's table)."""
    name = spec.name
    inputs = tuple(spec.inputs)
    kind = spec.input_kind
    unsupported = f"compare: loss {name!r} does not fit task {task!r}"
    if kind not in (InputKind.REAL, InputKind.LOGITS, InputKind.PROBABILITIES):
        raise LosscraftError(
            f"compare: loss {name!r} takes {kind.value} {_sig(inputs)}; compare trains plain output "
            "heads (real values, logits or probabilities), not embedding or margin heads"
        )
    variance = len(inputs) == 3 and inputs[2] == "var"
    if len(inputs) != 2 and not variance:
        raise LosscraftError(
            f"compare: loss {name!r} takes {_sig(inputs)}; compare calls a loss as (input, target)"
        )
    target = spec.target_kind
    prob_in = kind == InputKind.PROBABILITIES
    if task in _REGRESSION_TASKS:
        if variance:
            if target != TargetKind.REAL:
                raise LosscraftError(f"{unsupported}: its target is {target.value}")
            return Head(name, "gaussian", 2, variance_output=True)
        if target == TargetKind.BINARY and task == Task.PROPORTION.value:
            return Head(
                name,
                "regression",
                1,
                input_link="sigmoid" if prob_in else "identity",
                predict_link="sigmoid",
                squeeze=True,
            )
        if target not in (TargetKind.REAL, TargetKind.COUNT) or kind != InputKind.REAL:
            raise LosscraftError(f"{unsupported}: it takes {kind.value} input and {target.value} targets")
        levels = [p for p in spec.params if p.role == Role.QUANTILE_LEVEL]
        if levels:
            value = hp[levels[0].name]
            given = tuple(float(t) for t in value) if isinstance(value, (list, tuple)) else (float(value),)
            order = tuple(int(i) for i in np.argsort(given, kind="stable"))
            return Head(
                name,
                "quantiles",
                len(given),
                levels=tuple(given[i] for i in order),
                level_order=order,
                squeeze=not isinstance(value, (list, tuple)),
            )
        curve = spec.curve
        width = _output_width(spec)
        if width != 1:
            zero_inflated = Property.ZERO_INFLATED in spec.properties
            if width == 2 and zero_inflated and curve is not None and curve.axis == "log_rate":
                # [log-rate, logit of a structural zero] per target
                return Head(name, "regression", 2, predict_link="zero_inflated")
            raise LosscraftError(
                f"{unsupported}: it takes {width} outputs per target, and compare knows no prediction "
                "of the target from them (a zero-inflated log-rate head takes 2)"
            )
        if curve is not None and curve.axis == "log_rate":
            if hp.get("log_input", True):
                return Head(name, "regression", 1, predict_link="exp", squeeze=True)
            return Head(name, "regression", 1, input_link="softplus", predict_link="softplus", squeeze=True)
        if curve is not None and curve.axis == "residual" and math.isfinite(curve.extent[0]):
            low = float(curve.extent[0])
            return Head(
                name,
                "regression",
                1,
                input_link="exp_shift",
                predict_link="exp_shift",
                shift=low,
                squeeze=True,
            )
        return Head(name, "regression", 1, squeeze=True)
    if variance or (kind == InputKind.REAL and target not in _CLASS_TARGETS):
        raise LosscraftError(f"{unsupported}: it takes {kind.value} input and {target.value} targets")
    link: InputLink = "identity"
    assert n is not None
    if task == Task.MULTILABEL.value:
        if target != TargetKind.BINARY:
            raise LosscraftError(
                f"{unsupported}: multilabel needs a loss with 0/1 targets, it takes {target.value}"
            )
        return Head(name, "multilabel", n, input_link="sigmoid" if prob_in else link, predict_link="sigmoid")
    if task == Task.BINARY.value and target in (TargetKind.BINARY, TargetKind.SIGN):
        return Head(
            name,
            "binary",
            1,
            input_link="sigmoid" if prob_in else link,
            predict_link="sigmoid",
            target_form="sign" if target == TargetKind.SIGN else "float",
            squeeze=True,
        )
    forms: dict[TargetKind, TargetForm] = {
        TargetKind.CLASS_INDEX: "long",
        TargetKind.CLASS_INDEX_OR_PROBABILITIES: "long",
        TargetKind.PROBABILITIES: "onehot",
    }
    if target not in forms:
        raise LosscraftError(
            f"{unsupported}: it takes {target.value} targets; a {task} task needs class indices or distributions"
        )
    kind_name: Kind = "binary" if task == Task.BINARY.value else "multiclass"
    return Head(
        name,
        kind_name,
        n,
        input_link="softmax" if prob_in else link,
        predict_link="softmax",
        target_form=forms[target],
    )


def _output_width(spec: LossSpec) -> int:
    """Model outputs per target element, read from the shapes of the spec's sample call.

    An input shaped like the target takes 1; an input with one trailing dimension more than
    the target (``(*, k)`` against ``(*)``) takes ``k``.
    """
    call = spec.sample(2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x, t = call.args[0], call.args[1]
    if x.dim() == t.dim() + 1 and tuple(x.shape[:-1]) == tuple(t.shape):
        return int(x.shape[-1])
    return 1


def _sig(names: tuple[str, ...]) -> str:
    return "(" + ", ".join(names) + ")"


def _head(module: nn.Module, task: str, n: int | None) -> Head:
    if isinstance(module, CombinedLoss):
        heads = [(term_name, _head(term, task, n)) for term_name, term in module.terms.items()]
        first_name, first = heads[0]
        for term_name, head in heads[1:]:
            if _form(head) != _form(first):
                raise LosscraftError(
                    f"compare: every term of a combination is called with the same inputs, but term "
                    f"{term_name!r} ({head.name}) takes {head.describe()} and term {first_name!r} "
                    f"({first.name}) takes {first.describe()}"
                )
        return first
    resolved = _resolve(module)
    if resolved is None:
        return _plain_head(type(module).__name__, task, n)
    return _spec_head(*resolved, task, n)


def _form(head: Head) -> tuple[Any, ...]:
    """What a loss is called with: outputs, their transform, the target's form and the arity."""
    return (
        head.n_outputs,
        head.input_link,
        head.shift,
        head.target_form,
        head.variance_output,
        head.squeeze,
        head.level_order,
    )


def head_for(
    loss: nn.Module | str | Mapping[str, Any],
    task: Any,
    n_classes: int | None = None,
    classes: Sequence[Any] | None = None,
) -> Head:
    """The :class:`Head` that adapts the network to ``loss`` for ``task``.

    Args:
        loss: a configured loss Module (catalog, custom, wrapper or combination), or a registry
            name or config dict (built with :func:`losscraft.build`).
        task: the task (a ``Task`` or its value, e.g. ``"binary_classification"``; the short
            forms ``"binary"``, ``"multiclass"``, ``"multilabel"`` are read too).
        n_classes: classes (multiclass) or labels (multilabel); binary is always 2.
        classes: the class labels in column order (binary: ``(negative, positive)``, i.e. the
            sorted unique labels); sets ``n_classes`` when given. Multilabel: label names.

    Raises:
        LosscraftError: a loss that does not fit the task (a regression loss for classes, a
            loss with embedding inputs, ...), a combination whose terms take different inputs,
            a missing class count, or a task compare does not train (segmentation, metric learning).
    """
    if isinstance(loss, (str, Mapping)):
        loss = build(loss)
    if not isinstance(loss, nn.Module):
        raise LosscraftError(f"compare: a loss must be an nn.Module, got {type(loss).__name__}")
    name = _task_name(task)
    if name == Task.ORDINAL.value:
        name = Task.MULTICLASS.value  # ordered classes trained as classes
    labels = None if classes is None else tuple(classes)
    if name in _REGRESSION_TASKS:
        return _head(loss, name, None)
    if name not in (Task.BINARY.value, Task.MULTICLASS.value, Task.MULTILABEL.value):
        raise LosscraftError(
            f"compare: task {name!r} is not one compare trains (regression, count, proportion, "
            "quantile, binary, multiclass, ordinal, multilabel)"
        )
    n = _class_count(name, n_classes, labels, getattr(type(loss), "__name__", "loss"))
    head = _head(loss, name, n)
    if labels is not None and head.kind in ("binary", "multiclass", "multilabel"):
        head = replace(head, classes=labels)
    return head
