"""The loss registry: ``register`` records a spec and its function; Modules attach themselves.

``get(name)`` returns the :class:`LossEntry` (spec, function, Module class); ``catalog()``
lists and filters entries; ``build(config)`` makes a Module from a plain config dict.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from torch import nn

from .errors import LosscraftError
from .spec import Family, InputKind, LossSpec, Property, TargetKind, Task

__all__ = [
    "LossEntry",
    "RegisteredModule",
    "attach_module",
    "build",
    "catalog",
    "check_config_keys",
    "get",
    "lookup",
    "register",
    "register_composite",
    "unregister",
]

F = TypeVar("F", bound=Callable[..., Any])


class RegisteredModule(Protocol):
    """What the registry needs of an entry's Module (every ``LossModule`` subclass has it).

    A protocol rather than ``LossModule`` itself: the Module base imports the registry (to attach
    each subclass), so the registry must not import it back.
    """

    def __init__(self, **hparams: Any) -> None: ...

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> nn.Module:
        """The Module configured by ``config`` (see ``LossModule.from_config``)."""
        ...


@dataclass
class LossEntry:
    """One catalog entry: metadata, functional form and Module form."""

    spec: LossSpec
    function: Callable[..., Any]
    module: type[RegisteredModule] | None = None

    @property
    def name(self) -> str:
        """Registry key."""
        return self.spec.name

    def __repr__(self) -> str:
        mod = self.module.__name__ if self.module is not None else None
        return f"LossEntry(name={self.name!r}, function={self.function.__name__}, module={mod})"


_ENTRIES: dict[str, LossEntry] = {}
_ALIASES: dict[str, str] = {}
_COMPOSITES: dict[str, Callable[[Mapping[str, Any]], Any]] = {}


def register_composite(name: str, factory: Callable[[Mapping[str, Any]], Any]) -> None:
    """Let :func:`build` rebuild composite losses (combinations, wrappers) from their configs."""
    if name in _COMPOSITES or name in _ENTRIES:
        raise RuntimeError(f"composite {name!r} registered twice")
    _COMPOSITES[name] = factory


def composites() -> tuple[str, ...]:
    """The names :func:`register_composite` has recorded (``"combined"``, ``"weighted"``, ...)."""
    return tuple(_COMPOSITES)


def check_config_keys(
    owner: str,
    config: Any,
    *,
    required: tuple[str, ...] = (),
    optional: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Validate the keys of a composite's config; return it as a plain dict.

    ``config`` must be a mapping with every ``required`` key and no key outside
    ``required + optional``. The error names the offending key, suggests the closest valid one
    and lists them all (a misspelt option must never be silently ignored).

    Raises:
        LosscraftError: not a mapping, a missing required key or an unknown key.
    """
    if not isinstance(config, Mapping):
        raise LosscraftError(f"{owner}: 'config' must be a mapping, got {type(config).__name__}")
    valid = (*required, *optional)
    listing = ", ".join(repr(k) for k in valid)
    for key in config:
        if key not in valid:
            close = difflib.get_close_matches(str(key), valid, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise LosscraftError(f"{owner}: unknown config key {key!r}{hint}; valid keys: {listing}")
    for key in required:
        if key not in config:
            raise LosscraftError(
                f"{owner}: config is missing the required key {key!r}; valid keys: {listing}"
            )
    return dict(config)


def register(spec: LossSpec, *, aliases: tuple[str, ...] = ()) -> Callable[[F], F]:
    """Decorator: record ``spec`` for the decorated function and return the function unchanged."""

    def deco(fn: F) -> F:
        if spec.name in _ENTRIES or spec.name in _ALIASES:
            raise RuntimeError(f"loss {spec.name!r} registered twice")
        if fn.__name__ != spec.function_name:
            raise RuntimeError(f"function for {spec.name!r} must be named {spec.function_name}")
        _ENTRIES[spec.name] = LossEntry(spec, fn)
        for alias in aliases:
            if alias in _ENTRIES or alias in _ALIASES:
                raise RuntimeError(f"alias {alias!r} registered twice")
            _ALIASES[alias] = spec.name
        return fn

    return deco


def unregister(name: str) -> None:
    """Remove an entry and its aliases (for custom losses redefined in a session or a test)."""
    key = _resolve(name)
    del _ENTRIES[key]
    for alias in [a for a, k in _ALIASES.items() if k == key]:
        del _ALIASES[alias]


def attach_module(spec: LossSpec, cls: type[RegisteredModule]) -> None:
    """Record ``cls`` as the Module form of the registered loss ``spec`` (called by the Module base).

    Raises:
        RuntimeError: ``spec`` is not registered, or already has another Module class.
    """
    entry = _ENTRIES.get(spec.name)
    if entry is None:
        raise RuntimeError(f"Module {cls.__name__} refers to unregistered loss {spec.name!r}")
    if entry.module is not None and entry.module is not cls:
        raise RuntimeError(f"loss {spec.name!r} already has Module {entry.module.__name__}")
    entry.module = cls


def lookup(name: str) -> LossEntry | None:
    """The entry registered under exactly the key ``name`` (no alias or suffix resolution), or ``None``."""
    return _ENTRIES.get(name)


def _resolve(name: str) -> str:
    key = name.strip().lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key.endswith("_loss") and key not in _ENTRIES:
        key = _ALIASES.get(key[: -len("_loss")], key[: -len("_loss")])
    if key not in _ENTRIES:
        names = sorted([*_ENTRIES, *_ALIASES])
        close = difflib.get_close_matches(key, names, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise LosscraftError(f"get: unknown loss {name!r}{hint} (see losscraft.catalog())")
    return key


def get(name: str) -> LossEntry:
    """The catalog entry for ``name`` (registry key, alias, or function name).

    Raises:
        LosscraftError: unknown name; the message suggests the closest names.
    """
    if not isinstance(name, str):
        raise LosscraftError(f"get: 'name' must be a string, got {type(name).__name__}")
    return _ENTRIES[_resolve(name)]


def aliases() -> dict[str, str]:
    """Alias -> registry key."""
    return dict(_ALIASES)


def catalog(
    *,
    family: Family | str | None = None,
    task: Task | str | None = None,
    property: Property | str | None = None,
    input_kind: InputKind | str | None = None,
    target_kind: TargetKind | str | None = None,
) -> list[LossEntry]:
    """All entries, sorted by name, optionally filtered (filters combine with AND).

    Raises:
        LosscraftError: a filter value that is not a known family/task/property/kind.
    """
    fam = _enum("family", Family, family)
    tsk = _enum("task", Task, task)
    prop = _enum("property", Property, property)
    ik = _enum("input_kind", InputKind, input_kind)
    tk = _enum("target_kind", TargetKind, target_kind)
    out = []
    for key in sorted(_ENTRIES):
        s = _ENTRIES[key].spec
        if fam is not None and s.family != fam:
            continue
        if tsk is not None and tsk not in s.tasks:
            continue
        if prop is not None and prop not in s.properties:
            continue
        if ik is not None and s.input_kind != ik:
            continue
        if tk is not None and s.target_kind != tk:
            continue
        out.append(_ENTRIES[key])
    return out


E = TypeVar("E", Family, Task, Property, InputKind, TargetKind)


def _enum(arg: str, enum: type[E], value: E | str | None) -> E | None:
    if value is None:
        return None
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(repr(e.value) for e in enum)
        raise LosscraftError(f"catalog: '{arg}' must be one of {allowed}, got {value!r}") from None


def build(config: Mapping[str, Any] | str) -> Any:
    """Make a loss Module from ``{"name": ..., **hyperparameters}`` (or just a name).

    ``build(m.get_config())`` reproduces ``m``, for every catalog loss and for composites
    (combinations, wrappers, multi-task losses), nested to any depth.
    """
    if isinstance(config, str):
        config = {"name": config}
    if not isinstance(config, Mapping) or "name" not in config:
        raise LosscraftError(f"build: 'config' must be a mapping with a 'name' key, got {config!r}")
    if config["name"] in _COMPOSITES:
        return _COMPOSITES[config["name"]](config)
    entry = get(config["name"])
    if entry.module is None:  # pragma: no cover - every entry has a Module (contract test)
        raise LosscraftError(f"build: loss {entry.name!r} has no Module form")
    params = {k: v for k, v in config.items() if k != "name"}
    return entry.module.from_config(params)
