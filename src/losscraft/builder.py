r"""Build a full loss from a per-element formula.

You write only the formula; :func:`custom_loss` adds input validation, ``weight``,
``ignore_index``, the reduction, hyperparameter validation, a Module with ``repr`` and config,
combination with ``+``/``*``, and (optionally) a registry entry with metadata::

    >>> import torch, losscraft
    >>> from losscraft.builder import custom_loss
    >>> pseudo_huber = custom_loss(
    ...     "my_pseudo_huber",
    ...     lambda input, target, *, k: k**2 * (torch.sqrt(1 + ((input - target) / k) ** 2) - 1),
    ...     params={"k": 1.0},
    ...     latex=r"k^2(\sqrt{1 + (r/k)^2} - 1)",
    ... )
    >>> pseudo_huber.function(torch.tensor([0.0, 3.0]), torch.zeros(2), k=1.0, reduction="none")
    tensor([0.0000, 2.1623])
    >>> pseudo_huber.module(k=2.0)
    MyPseudoHuberLoss(k=2.0, ignore_index=None, reduction='mean')

Mistakes in the formula are reported when the loss is built (the formula is probed on random
inputs): a result that is not elementwise, NaN/inf values or gradients, or an exception.
"""

from __future__ import annotations

import inspect
import math
import pickle
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ._core.checks import check_floating, check_params, check_same_shape, compute_dtype, fmt_shape, to_compute
from ._core.errors import LosscraftError
from ._core.module import LossModule
from ._core.reduction import check_weight, reduce
from ._core.registry import lookup, unregister
from ._core.registry import register as _register
from ._core.sampling import randn, uniform
from ._core.spec import (
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

__all__ = ["CustomLoss", "custom_loss"]

_FAMILY_TASK = {
    Family.REGRESSION: Task.REGRESSION,
    Family.CLASSIFICATION: Task.BINARY,
    Family.SEGMENTATION: Task.SEGMENTATION,
    Family.EMBEDDING: Task.METRIC_LEARNING,
    Family.DIVERGENCE: Task.DISTILLATION,
    Family.ORDINAL: Task.ORDINAL,
    Family.SEQUENCE: Task.SEQUENCE,
    Family.SURVIVAL: Task.SURVIVAL,
    Family.RANKING: Task.RANKING,
}


@dataclass
class CustomLoss:
    """What :func:`custom_loss` returns: the spec, the function and the Module class."""

    spec: LossSpec
    function: Callable[..., Tensor]
    module: type[LossModule]
    registered: bool

    def __call__(self, *args: Any, **kwargs: Any) -> Tensor:
        """Call the functional form."""
        return self.function(*args, **kwargs)

    def unregister(self) -> None:
        """Remove the registry entry (if registered)."""
        if self.registered:
            unregister(self.spec.name)
            self.registered = False


class _Formula:
    """Holds the user's formula inside a custom Module's pickled state.

    Pickling stores the formula by reference (its module and name), which fails for a lambda
    or a nested function: that case gets a clear error instead of pickle's attribute lookup
    message. ``copy.deepcopy`` shares the function and works for any formula.
    """

    def __init__(self, fn: Callable[..., Tensor], loss_name: str) -> None:
        self.fn = fn
        self.loss_name = loss_name

    def __deepcopy__(self, memo: dict[int, Any]) -> _Formula:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        try:
            pickle.dumps(self.fn)
        except Exception as exc:  # PicklingError, AttributeError, TypeError: by reference failed
            what = getattr(self.fn, "__qualname__", type(self.fn).__name__)
            raise LosscraftError(
                f"custom_loss {self.loss_name!r}: the Module cannot be pickled (or torch.save'd) "
                f"because its formula {what!r} cannot be: define the formula with def at module "
                "level (a lambda or nested function has no importable name)"
            ) from exc
        return (_Formula, (self.fn, self.loss_name))


# (name, formula) -> Module class: unpickling in the same process gives back the same class.
_CLASSES: weakref.WeakValueDictionary[tuple[str, Any], type[LossModule]] = weakref.WeakValueDictionary()


def _rebuild_module(args: dict[str, Any]) -> LossModule:
    """Unpickling: the custom Module class from its ``custom_loss`` arguments, then a bare instance."""
    formula = args["formula"].fn
    key = (args["name"], formula)
    cls = _CLASSES.get(key)
    if cls is None:
        entry = lookup(args["name"])
        theirs = getattr(entry.module, "_custom_args", None) if entry is not None else None
        if (
            entry is not None
            and entry.module is not None
            and issubclass(entry.module, LossModule)  # always: only LossModules attach
            and theirs is not None
            and theirs["formula"].fn is formula
        ):
            cls = entry.module  # registered in this process from the same formula
        else:
            kwargs = {k: v for k, v in args.items() if k != "formula"}
            cls = custom_loss(formula=formula, **kwargs, register=False, probe=False).module
    return cls.__new__(cls)


def _reduce_ex(self: LossModule, protocol: int) -> tuple[Any, ...]:
    # The class is made at run time, so pickle cannot find it by name: rebuild it from the
    # arguments of custom_loss instead, then restore the instance state (hyperparameters, buffers).
    return (_rebuild_module, (type(self)._custom_args,), dict(self.__dict__))  # type: ignore[attr-defined]


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_")) + "Loss"


def _as_param(name: str, value: Any) -> Param:
    if isinstance(value, Param):
        if value.name != name:
            raise LosscraftError(f"custom_loss: Param named {value.name!r} given for key {name!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise LosscraftError(
            f"custom_loss: default of parameter {name!r} must be a finite number or a losscraft Param, got {value!r}"
        )
    return Param(name, float(value), Interval(-math.inf, math.inf, low_closed=False, high_closed=False))


def _real_sample(n: int, *, generator: torch.Generator, dtype: torch.dtype, **_: object) -> Call:
    return Call((randn((n, 3), generator, dtype), randn((n, 3), generator, dtype)))


def _binary_sample(n: int, *, generator: torch.Generator, dtype: torch.dtype, **_: object) -> Call:
    return Call((randn((n, 3), generator, dtype) * 2.0, uniform((n, 3), generator, dtype, 0.05, 0.95)))


def _prob_sample(n: int, *, generator: torch.Generator, dtype: torch.dtype, **_: object) -> Call:
    return Call(
        (uniform((n, 3), generator, dtype, 0.05, 0.95), uniform((n, 3), generator, dtype, 0.05, 0.95))
    )


def _residual_curve(x: Tensor, **_: object) -> Call:
    return Call((x, torch.zeros_like(x)))


def _positive_curve(x: Tensor, **_: object) -> Call:
    return Call((x, torch.ones_like(x)))


def custom_loss(
    name: str,
    formula: Callable[..., Tensor],
    *,
    params: Mapping[str, float | Param] | None = None,
    family: Family | str = Family.REGRESSION,
    input_kind: InputKind | str = InputKind.REAL,
    target_kind: TargetKind | str | None = None,
    properties: Iterable[Property | str] = (),
    latex: str = "",
    summary: str = "",
    references: Iterable[Ref] = (),
    register: bool = False,
    probe: bool = True,
) -> CustomLoss:
    r"""Turn a per-element formula into a full losscraft loss.

    The formula is called as ``formula(input, target, **params)`` on tensors of the same
    shape (in the compute dtype: float32 for half inputs) and must return the unreduced loss
    of that shape. The generated function is::

        <name>_loss(input, target, *, <params>, ignore_index=None, weight=None, reduction="mean")

    * shapes must match, both tensors floating (``LosscraftError`` otherwise);
    * hyperparameters are validated against their domains (a plain number default means any
      finite float; pass a :class:`~losscraft.LossSpec`-style ``Param`` for a domain);
    * ``ignore_index``: positions whose target equals it are excluded (their target is
      replaced by the detached input before the formula runs, so they stay finite);
    * ``weight`` and ``reduction`` follow the library conventions (``docs/conventions.md``).

    Args:
        name: snake_case name; the function is ``<name>_loss``, the Module ``<Name>Loss``.
        formula: ``(input, target, **params) -> Tensor``, elementwise.
        params: hyperparameter name -> default (or ``Param``).
        family: catalog family (metadata). Default regression.
        input_kind: ``"real"``, ``"logits"`` or ``"probabilities"``: chooses the probe and
            sample inputs (real: standard normal; logits: normal with soft targets in
            [0, 1]; probabilities: values in [0.05, 0.95]).
        target_kind: metadata (default ``"real"`` for real inputs, ``"binary"`` otherwise).
        properties: declared properties (metadata; the contract tests can check them).
        latex: the formula in LaTeX (metadata, docs).
        summary: one line (metadata).
        references: literature (metadata).
        register: add a registry entry so ``losscraft.get``/``build`` know it.
        probe: evaluate the formula on random inputs now and report mistakes.

    Returns:
        A :class:`CustomLoss` with ``spec``, ``function`` and ``module``.

    Raises:
        LosscraftError: a bad name, a name already registered, bad parameter defaults, or a
            formula that fails the probe.
    """
    if not isinstance(name, str) or not name.isidentifier() or name != name.lower():
        raise LosscraftError(f"custom_loss: 'name' must be a lowercase identifier, got {name!r}")
    if register and lookup(name) is not None:
        raise LosscraftError(f"custom_loss: a loss named {name!r} is already registered")
    if not callable(formula):
        raise LosscraftError(f"custom_loss: 'formula' must be callable, got {type(formula).__name__}")
    properties, references = tuple(properties), tuple(references)  # iterated twice below
    try:
        fam = Family(family)
        ik = InputKind(input_kind)
    except ValueError as exc:
        raise LosscraftError(f"custom_loss: {exc}") from None
    if ik not in (InputKind.REAL, InputKind.LOGITS, InputKind.PROBABILITIES):
        raise LosscraftError(
            f"custom_loss: 'input_kind' must be 'real', 'logits' or 'probabilities', got {ik.value!r}"
        )
    tk = (
        TargetKind(target_kind)
        if target_kind is not None
        else (TargetKind.REAL if ik is InputKind.REAL else TargetKind.BINARY)
    )
    plist = tuple(_as_param(k, v) for k, v in dict(params or {}).items())
    reserved = {"input", "target", "weight", "reduction", "ignore_index"}
    clash = sorted(reserved & {p.name for p in plist})
    if clash:
        raise LosscraftError(f"custom_loss: parameter names {clash} are reserved")
    all_params = (
        *plist,
        Param("ignore_index", None, Interval(-math.inf, math.inf, optional=True), "target value to ignore"),
    )
    sample = {InputKind.REAL: _real_sample, InputKind.LOGITS: _binary_sample}.get(ik, _prob_sample)
    curve = (
        Curve("residual", (-4.0, 4.0), _residual_curve)
        if ik is InputKind.REAL
        else Curve("logit", (-6.0, 6.0), _positive_curve)
        if ik is InputKind.LOGITS
        else Curve("probability", (0.01, 0.99), _positive_curve, zero=0.5, extent=(0.0, 1.0))
    )
    spec = LossSpec(
        name=name,
        family=fam,
        tasks=(_FAMILY_TASK[fam],),
        input_kind=ik,
        target_kind=tk,
        params=all_params,
        properties=frozenset(Property(p) for p in properties),
        formula=latex or "(custom formula)",
        summary=summary or f"Custom loss {name!r}.",
        references=tuple(references),
        sample=sample,
        curve=curve,
        when_to_use="User-defined.",
    )
    fn_name = spec.function_name
    param_names = [p.name for p in plist]

    def function(input: Tensor, target: Tensor, **kwargs: Any) -> Tensor:
        unknown = sorted(set(kwargs) - {*param_names, "ignore_index", "weight", "reduction"})
        if unknown:
            raise LosscraftError(f"{fn_name}: unexpected keyword argument(s) {unknown}")
        hp = {p.name: kwargs.get(p.name, p.default) for p in plist}
        ignore_index = kwargs.get("ignore_index")
        weight = kwargs.get("weight")
        reduction = kwargs.get("reduction", "mean")
        check_floating(fn_name, "input", input)
        check_floating(fn_name, "target", target)
        check_same_shape(fn_name, input, target)
        check_params(spec, {**hp, "ignore_index": ignore_index, "reduction": reduction})
        dt = compute_dtype(input, target)
        x, y = to_compute(input, dt), to_compute(target, dt)
        mask = None
        if ignore_index is not None:
            mask = y != ignore_index
            # ignored targets become the (detached) prediction: finite for any formula
            y = torch.where(mask, y, x.detach())
        check_weight(fn_name, weight, x.shape)
        values = formula(x, y, **hp)
        if not isinstance(values, Tensor) or values.shape != x.shape:
            got = fmt_shape(values) if isinstance(values, Tensor) else type(values).__name__
            raise LosscraftError(
                f"{fn_name}: the formula must return the per-element loss of the input's shape "
                f"{fmt_shape(x)}, got {got}"
            )
        return reduce(values, reduction, weight, mask)

    function.__name__ = fn_name
    function.__qualname__ = fn_name
    kw = [inspect.Parameter(p.name, inspect.Parameter.KEYWORD_ONLY, default=p.default) for p in plist]
    tail = [
        inspect.Parameter("ignore_index", inspect.Parameter.KEYWORD_ONLY, default=None),
        inspect.Parameter("weight", inspect.Parameter.KEYWORD_ONLY, default=None),
        inspect.Parameter("reduction", inspect.Parameter.KEYWORD_ONLY, default="mean"),
    ]
    head = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in ("input", "target")]
    function.__signature__ = inspect.Signature([*head, *kw, *tail])  # type: ignore[attr-defined]
    function.__doc__ = (
        f"{spec.summary}\n\n$${spec.formula}$$\n\nCustom loss built with losscraft.builder.custom_loss; "
        "reduced as described in *Reductions* (docs/conventions.md)."
    )

    if probe:
        _probe(spec, function, formula, {p.name: p.default for p in plist})

    if register:
        _register(spec)(function)

    def __init__(self: LossModule, **hparams: Any) -> None:
        unknown = sorted(set(hparams) - {*param_names, "ignore_index", "reduction"})
        if unknown:
            raise LosscraftError(f"{_camel(name)}: unexpected hyperparameter(s) {unknown}")
        LossModule.__init__(self, **hparams)

    __init__.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
            *kw,
            inspect.Parameter("ignore_index", inspect.Parameter.KEYWORD_ONLY, default=None),
            inspect.Parameter("reduction", inspect.Parameter.KEYWORD_ONLY, default="mean"),
        ]
    )
    custom_args = {
        "name": name,
        "formula": _Formula(formula, name),
        "params": dict(params or {}),
        "family": fam,
        "input_kind": ik,
        "target_kind": target_kind,
        "properties": tuple(properties),
        "latex": latex,
        "summary": summary,
        "references": tuple(references),
    }
    module = type(
        _camel(name),
        (LossModule,),
        {
            "__init__": __init__,
            "__doc__": f"Module form of the custom loss ``{fn_name}``.",
            "__module__": __name__,
            "__reduce_ex__": _reduce_ex,
            "_custom_args": custom_args,
        },
        spec=spec,
        fn=function,
        attach=register,
    )
    _CLASSES[(name, formula)] = module
    return CustomLoss(spec, function, module, registered=register)


def _probe(
    spec: LossSpec, function: Callable[..., Tensor], formula: Callable[..., Tensor], hp: dict[str, Any]
) -> None:
    fn = spec.function_name
    g = torch.Generator().manual_seed(0)
    call = spec.sample(6, generator=g, dtype=torch.float64)
    x = call.args[0].clone().requires_grad_(True)
    y = call.args[1]
    try:
        values = formula(x, y, **hp)
    except Exception as exc:  # the user's code: report whatever it raised
        raise LosscraftError(f"{fn}: the formula raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(values, Tensor):
        raise LosscraftError(f"{fn}: the formula must return a Tensor, got {type(values).__name__}")
    if values.shape != x.shape:
        raise LosscraftError(
            f"{fn}: the formula must be elementwise: for inputs of shape {fmt_shape(x)} it returned "
            f"shape {fmt_shape(values)}"
        )
    bad = ~torch.isfinite(values.detach())
    if bool(bad.any()):
        i = tuple(int(v) for v in bad.nonzero()[0])
        raise LosscraftError(
            f"{fn}: the formula returned {values[i].item()} at the probe point input={x[i].item():.4g}, "
            f"target={y[i].item():.4g} (params {hp})"
        )
    grad = torch.autograd.grad(values.sum(), x, allow_unused=True)[0] if values.requires_grad else None
    if grad is None:
        raise LosscraftError(f"{fn}: the formula's value does not depend on 'input' (no gradient)")
    badg = ~torch.isfinite(grad)
    if bool(badg.any()):
        i = tuple(int(v) for v in badg.nonzero()[0])
        raise LosscraftError(
            f"{fn}: the formula's gradient is {grad[i].item()} at the probe point input={x[i].item():.4g}, "
            f"target={y[i].item():.4g} (params {hp})"
        )
    # the full function (validation + reduction) must work too
    function(call.args[0], call.args[1])
