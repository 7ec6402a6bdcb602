"""Structured-config schemas written once: a class's constructor arguments are its schema.

`schema_of(cls)` builds the dataclass Hydra types a config node with (unknown keys and wrong types fail at start)
from `cls.__init__`'s signature, defaults included, so a new problem or engine is one module and one YAML that
names the schema. Value checks stay in the constructor (raising `ConfigError`), before any expensive work.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from typing import Any

from omegaconf import MISSING

_PLAIN = (int, float, bool, str)


def _field_type(hint: Any) -> Any:
    """Keep plain types (and their Optional forms) for OmegaConf's type checks; anything else is Any."""
    if hint in _PLAIN:
        return hint
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1 and args[0] in _PLAIN:
            return args[0] | None
    return Any


def schema_of(cls: type, name: str | None = None) -> type:
    """A dataclass with `_target_` = `cls` and one field per keyword argument of `cls.__init__`."""
    hints = typing.get_type_hints(cls.__init__)
    fields: list[tuple[str, Any, Any]] = [
        ("_target_", str, dataclasses.field(default=f"{cls.__module__}.{cls.__qualname__}"))]
    for p in list(inspect.signature(cls.__init__).parameters.values())[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        t = _field_type(hints.get(p.name, Any))
        if p.default is inspect.Parameter.empty:
            default = dataclasses.field(default=MISSING)
        elif isinstance(p.default, list | tuple | dict):
            default = dataclasses.field(default_factory=lambda v=p.default: type(v)(v) if not isinstance(v, tuple)
                                        else list(v))
        else:
            default = dataclasses.field(default=p.default)
        fields.append((p.name, t, default))
    return dataclasses.make_dataclass(name or f"{cls.__name__}Config", fields)
