"""``LossModule``: the thin ``nn.Module`` base every loss Module derives from.

A concrete Module is three lines: the class statement naming its spec and function, and an
``__init__`` whose keyword-only signature repeats the function's defaults (so IDEs and type
checkers see them; the contract suite asserts that all three copies agree).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from torch import Tensor, nn

from .checks import as_tensor_param, check_params
from .combine import Combinable
from .errors import LosscraftError
from .registry import attach_module
from .spec import LossSpec, TensorDomain

__all__ = ["LossModule"]


class LossModule(Combinable, nn.Module):
    """Base class of losscraft loss Modules.

    Hyperparameters are validated at construction (errors surface where the loss is built),
    shown by ``repr`` and round-trip through :meth:`get_config` / :meth:`from_config`. They
    read and write as attributes, as in torch (``m.delta``, ``m.delta = 0.1``,
    ``ce.weight = w``, ``m.reduction = "sum"``): an assignment is validated like a constructor
    argument and takes effect at the next call (and in ``repr`` / ``get_config``). ``+`` and
    ``*`` build a :class:`~losscraft.compose.CombinedLoss`. Tensor hyperparameters (class
    weights, ``pos_weight``) are buffers, so ``.to(device)`` moves them. ``forward`` calls the
    functional form.
    """

    spec: ClassVar[LossSpec]
    _fn: ClassVar[Callable[..., Tensor]]

    def __init_subclass__(
        cls,
        *,
        spec: LossSpec | None = None,
        fn: Callable[..., Tensor] | None = None,
        attach: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        if spec is None or fn is None:
            return  # an intermediate/abstract subclass
        cls.spec = spec
        cls._fn = staticmethod(fn)  # type: ignore[assignment]
        if attach:  # unregistered custom losses (losscraft.builder) are not attached
            attach_module(spec, cls)

    def __init__(self, **hparams: Any) -> None:
        super().__init__()
        spec = type(self).spec
        unknown = set(hparams) - set(spec.defaults)
        if unknown:  # pragma: no cover - subclasses have explicit signatures
            raise LosscraftError(f"{type(self).__name__}: unknown hyperparameters {sorted(unknown)}")
        values = {**spec.defaults, **hparams}
        values = {k: _as_tensor_param(spec, k, v) for k, v in values.items()}
        check_params(spec, values)
        # Lists given for tensor hyperparameters, kept for get_config (not their float32 rounding).
        self._given = {
            k: list(v)
            for k, v in hparams.items()
            if isinstance(v, (list, tuple)) and isinstance(values[k], Tensor)
        }
        self._plain: dict[str, Any] = {}
        self._tensor_names: tuple[str, ...] = ()
        names = []
        for k, v in values.items():
            if isinstance(v, Tensor):
                self.register_buffer(f"_hp_{k}", v.detach().clone())
                names.append(k)
            else:
                self._plain[k] = tuple(v) if isinstance(v, list) else v
        self._tensor_names = tuple(names)

    def __setattr__(self, name: str, value: Any) -> None:
        # After __init__, a hyperparameter name is the hyperparameter (torch users write
        # ce.weight = w): validate it and store it where hparams reads it, never a dead attribute.
        if "_plain" in self.__dict__ and name in type(self).spec.defaults:
            self._set_hparam(name, value)
        else:
            super().__setattr__(name, value)

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails (nn.Module's buffers/submodules come first).
        d = self.__dict__
        if "_plain" in d:
            if name in d["_plain"]:
                return d["_plain"][name]
            if name in d.get("_tensor_names", ()):
                return d["_buffers"][f"_hp_{name}"]
        return super().__getattr__(name)

    def _set_hparam(self, name: str, value: Any) -> None:
        """Validate ``value`` as at construction and store it (a tensor becomes a buffer)."""
        spec = type(self).spec
        raw, value = value, _as_tensor_param(spec, name, value)
        check_params(spec, {name: value})
        given = self.__dict__.get("_given")
        if given is not None:  # get_config shows the new value (a list as the user wrote it)
            given.pop(name, None)
            if isinstance(raw, (list, tuple)) and isinstance(value, Tensor):
                given[name] = list(raw)
        buffer = f"_hp_{name}"
        if isinstance(value, Tensor):
            self._plain.pop(name, None)
            self._buffers[buffer] = value.detach().clone()
            if name not in self._tensor_names:
                self._tensor_names = (*self._tensor_names, name)
        else:
            if buffer in self._buffers:
                del self._buffers[buffer]
                self._tensor_names = tuple(n for n in self._tensor_names if n != name)
            self._plain[name] = tuple(value) if isinstance(value, list) else value

    @property
    def hparams(self) -> dict[str, Any]:
        """The hyperparameters this Module passes to its function (a fresh dict)."""
        out = dict(self._plain)
        for k in self._tensor_names:
            out[k] = getattr(self, f"_hp_{k}")
        return out

    @property
    def reduction(self) -> str:
        """The configured reduction."""
        return str(self._plain["reduction"])

    def forward(self, *inputs: Tensor, weight: Tensor | None = None) -> Tensor:
        """Compute the loss; ``weight`` is the per-element weight where the loss takes one."""
        kwargs = self.hparams
        if weight is not None:
            if type(self).spec.weight != "element":
                raise LosscraftError(
                    f"{type(self).__name__}: per-element 'weight' is not accepted at call time; "
                    "class weights are set at construction"
                )
            kwargs["weight"] = weight
        return type(self)._fn(*inputs, **kwargs)

    def extra_repr(self) -> str:
        """``delta=2.0, reduction='sum'``: every hyperparameter, in spec order."""
        parts = []
        for k, v in self.get_config().items():
            if k != "name":
                parts.append(f"{k}={v!r}")
        return ", ".join(parts)

    def get_config(self) -> dict[str, Any]:
        """A plain, JSON-serialisable dict; ``losscraft.build(config)`` rebuilds the Module."""
        spec = type(self).spec
        cfg: dict[str, Any] = {"name": spec.name}
        hp = self.hparams
        for p in spec.params:
            cfg[p.name] = p.domain.to_config(hp[p.name])
            given = self._given.get(p.name)
            if given is not None and cfg[p.name] == p.domain.to_config(as_tensor_param(given)):
                cfg[p.name] = list(given)  # the user's numbers, while the buffer still holds them
        cfg["reduction"] = hp["reduction"]
        return cfg

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> LossModule:
        """Inverse of :meth:`get_config` (the ``name`` key is optional and checked)."""
        params = dict(config)
        name = params.pop("name", cls.spec.name)
        if name != cls.spec.name:
            raise LosscraftError(f"{cls.__name__}.from_config: config is for {name!r}, not {cls.spec.name!r}")
        unknown = sorted(set(params) - set(cls.spec.defaults))
        if unknown:
            allowed = ", ".join(sorted(cls.spec.defaults))
            raise LosscraftError(
                f"{cls.__name__}: unknown hyperparameter(s) {', '.join(map(repr, unknown))}; "
                f"expected some of {allowed}"
            )
        return cls(**params)


def _as_tensor_param(spec: LossSpec, name: str, value: Any) -> Any:
    """Lists given for tensor hyperparameters (e.g. from a config) become float tensors."""
    if name == "reduction" or value is None:
        return value
    try:
        p = spec.param(name)
    except KeyError:  # pragma: no cover
        return value
    if isinstance(p.domain, TensorDomain):
        return as_tensor_param(value)  # the functions' conversion (float32 buffer)
    return value
