"""Hyperparameters from text: ``name=value`` items checked against a spec's domains.

The command line (``--param``/``--sweep``), ``losscraft.compare``'s ``"name:param=value,..."``
strings and anything else that reads hyperparameters from text share these parsers, so a value
is read and checked the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .checks import check_params
from .errors import LosscraftError
from .spec import LossSpec

__all__ = ["parse_params", "parse_sweep", "parse_value"]


def parse_value(caller: str, spec: LossSpec, name: str, text: str, option: str = "--param") -> Any:
    """Parse the text of ``--param name=text`` according to the hyperparameter's domain.

    The domain reads the text (:meth:`~losscraft._core.spec.Domain.parse`). Interval: an int or
    float (``inf`` allowed; ``none`` when optional). FloatSeq: a float or a comma list of floats.
    Choice: one of the choices, compared as text (``true``/``false`` for booleans, ``none``).
    TensorDomain: a comma list of floats (a float64 tensor) or ``none``. The domain itself is
    checked afterwards (:func:`parse_params`).

    >>> import losscraft
    >>> spec = losscraft.get("quantile").spec
    >>> parse_value("analyze", spec, "quantiles", "0.1,0.5,0.9")
    [0.1, 0.5, 0.9]

    Raises:
        LosscraftError: the text cannot be parsed for this domain.
    """
    domain = spec.param(name).domain
    try:
        return domain.parse(text)
    except ValueError:
        raise LosscraftError(
            f"{caller}: cannot parse {option} {name}={text!r}: {name!r} must be {domain.describe()}"
        ) from None


def _split(caller: str, item: str, option: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    key = key.strip()
    if not sep or not key or not value.strip():
        raise LosscraftError(f"{caller}: {option} must look like name=value, got {item!r}")
    return key, value


def _unknown(caller: str, specs: Sequence[LossSpec], key: str) -> LosscraftError:
    have = sorted({p.name for s in specs for p in s.params})
    names = ", ".join(repr(s.name) for s in specs)
    return LosscraftError(
        f"{caller}: {names} {'has' if len(specs) == 1 else 'have'} no hyperparameter {key!r} "
        f"(hyperparameters: {', '.join(have) if have else 'none'})"
    )


def _owner(specs: Sequence[LossSpec], key: str) -> LossSpec | None:
    return next((s for s in specs if any(p.name == key for p in s.params)), None)


def parse_params(caller: str, specs: LossSpec | Sequence[LossSpec], items: Sequence[str]) -> dict[str, Any]:
    """Parse repeated ``--param k=v`` options and check each value against its domain.

    With several losses a key must belong to at least one of them (it is then applied to
    every loss that has it).

    Raises:
        LosscraftError: malformed item, unknown hyperparameter, unparsable or out-of-domain value.
    """
    spec_list = [specs] if isinstance(specs, LossSpec) else list(specs)
    out: dict[str, Any] = {}
    for item in items:
        key, text = _split(caller, item, "--param")
        owner = _owner(spec_list, key)
        if owner is None:
            raise _unknown(caller, spec_list, key)
        value = parse_value(caller, owner, key, text)
        for s in spec_list:
            if any(p.name == key for p in s.params):
                _check(caller, s, key, value)
        out[key] = value
    return out


def parse_sweep(
    caller: str, specs: LossSpec | Sequence[LossSpec], items: Sequence[str]
) -> dict[str, list[Any]]:
    """Parse repeated ``--sweep k=v1,v2,...`` options: one value per comma-separated item.

    Raises:
        LosscraftError: malformed item, unknown hyperparameter, unparsable or out-of-domain value.
    """
    spec_list = [specs] if isinstance(specs, LossSpec) else list(specs)
    out: dict[str, list[Any]] = {}
    for item in items:
        key, text = _split(caller, item, "--sweep")
        owner = _owner(spec_list, key)
        if owner is None:
            raise _unknown(caller, spec_list, key)
        values = []
        for part in text.split(","):
            if not part.strip():
                raise LosscraftError(f"{caller}: --sweep {item!r} has an empty value")
            value = parse_value(caller, owner, key, part, "--sweep")
            for s in spec_list:
                if any(p.name == key for p in s.params):
                    _check(caller, s, key, value)
            values.append(value)
        out[key] = values
    return out


def _check(caller: str, spec: LossSpec, key: str, value: Any) -> None:
    try:
        check_params(spec, {key: value})
    except LosscraftError as exc:
        raise LosscraftError(f"{caller}: {exc}") from None
