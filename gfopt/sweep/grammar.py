"""Hydra override grammar -> Optuna search space (the official hydra-optuna-sweeper's syntax, Hydra's semantics).

- `choice(a, b)` / `a,b`           -> CategoricalDistribution
- `range(start, stop[, step])`     -> Int/FloatDistribution over exactly the values Hydra's basic sweeper would run
                                      (stop is exclusive, as in a grid sweep); `shuffle(range(...))` -> categorical
- `interval(lo, hi)`               -> FloatDistribution; `int(interval(lo, hi))` -> IntDistribution
- `tag(log, interval(lo, hi))`     -> the same on a log scale
- anything else (`x=3`, `+x=3`, `~x`, `group=name`) is a fixed override passed to every trial unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep, Transformer
from hydra.errors import HydraException
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from gfopt.core.config import ConfigError

KNOWN_TAGS = frozenset({"log"})


@dataclass
class SearchSpace:
    """What the sweeper samples (`dists`, by Optuna parameter name) and what it passes through (`fixed`)."""

    dists: dict[str, BaseDistribution] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)  # parameter name -> override key ("+x" for an add)
    fixed: dict[str, str] = field(default_factory=dict)  # override key -> full override string

    def overrides(self, params: Mapping[str, Any]) -> list[str]:
        """The job's command-line overrides for one trial's sampled `params`, fixed ones first."""
        out = list(self.fixed.values())
        out += [f"{self.keys[name]}={format_value(value)}" for name, value in params.items()]
        return out


def format_value(value: Any) -> str:
    """Render a sampled value as override text that Hydra parses back to the same value."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if _parses_to(text, text):
        return text
    for q in ("'", '"'):
        quoted = q + text.replace("\\", "\\\\").replace(q, "\\" + q) + q
        if _parses_to(quoted, text):
            return quoted
    raise ConfigError(f"cannot write {text!r} as a Hydra override value")


def _parses_to(text: str, value: str) -> bool:
    try:
        parsed = OverridesParser.create().parse_override(f"k={text}")
    except HydraException:
        return False
    return not parsed.is_sweep_override() and parsed.value() == value


def parse_search_space(params: Mapping[str, Any] | None, arguments: Iterable[str] = ()) -> SearchSpace:
    """Merge `hydra.sweeper.params` (key -> grammar string) with command-line overrides (later wins)."""
    lines = [(f"hydra.sweeper.params.{k}", f"{k}={v if isinstance(v, str) else format_value(v)}")
             for k, v in _flat(params or {}).items()]
    lines += [(a.split("=", 1)[0], a) for a in arguments]
    parser = OverridesParser.create()
    space = SearchSpace()
    for where, line in lines:
        try:
            override = parser.parse_override(line)
        except HydraException as e:
            raise ConfigError(f"{where}: cannot parse {line!r}: {_one_line(e)} (see docs/sweeps.md for the grammar)") \
                from None
        key = override.get_key_element()
        name = override.key_or_group
        space.dists.pop(name, None)
        space.fixed.pop(key, None)
        dist = distribution(override, where)
        if dist is None:
            space.fixed[key] = line  # verbatim: re-rendering would turn `false` into `False`
        else:
            space.dists[name] = dist
            space.keys[name] = key
    return space


def check_command_line(args: Iterable[str]) -> None:
    """Raise a one-line ConfigError for the first command-line override Hydra cannot parse (else do nothing)."""
    parser = OverridesParser.create()
    for arg in args:
        if arg.startswith("-") or "=" not in arg:
            continue
        try:
            parser.parse_override(arg)
        except HydraException as e:
            key = arg.split("=", 1)[0]
            raise ConfigError(f"{key}: cannot parse {arg!r}: {_one_line(e)} (see docs/sweeps.md for the grammar)") \
                from None


def _flat(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{engine: {mutation: {sigma: ...}}}` (from a command-line `hydra.sweeper.params.engine...`) -> dotted keys."""
    out: dict[str, Any] = {}
    for k, v in params.items():
        if isinstance(v, Mapping) or type(v).__name__ == "DictConfig":
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def distribution(override: Override, where: str = "") -> BaseDistribution | None:
    """The Optuna distribution for one sweep override, or None for a fixed value."""
    where = where or override.get_key_element()
    if not override.is_sweep_override():
        return None
    value = override.value()
    tags = set(getattr(value, "tags", set()))
    unknown = tags - KNOWN_TAGS
    if unknown:
        raise ConfigError(f"{where}: unknown tag(s) {sorted(unknown)}; the only tag the sweeper reads is 'log'")
    try:
        if isinstance(value, ChoiceSweep) or (isinstance(value, RangeSweep) and value.shuffle):
            _no_log(tags, where, "choice")
            return _categorical(override, where)
        if isinstance(value, RangeSweep):
            _no_log(tags, where, "range")
            return _range(override, value, where)
        if isinstance(value, IntervalSweep):
            return _interval(value, "log" in tags, where)
    except ConfigError:
        raise
    except ValueError as e:  # Optuna's own checks (log of a non-positive bound, ...)
        raise ConfigError(f"{where}: {_one_line(e)}") from None
    raise ConfigError(f"{where}: unsupported sweep {override.get_value_element_as_str()!r}")


def _categorical(override: Override, where: str) -> CategoricalDistribution:
    choices = list(override.sweep_iterator(transformer=Transformer.identity))
    for c in choices:
        if not (c is None or isinstance(c, str | int | float | bool)):
            raise ConfigError(f"{where}: choice values must be scalars (str, int, float, bool, null), got {c!r}")
    if not choices:
        raise ConfigError(f"{where}: empty choice")
    return CategoricalDistribution(choices)


def _range(override: Override, value: RangeSweep, where: str) -> BaseDistribution:
    values = list(override.sweep_iterator(transformer=Transformer.identity))
    if not values:
        raise ConfigError(f"{where}: range({value.start}, {value.stop}, {value.step}) is empty (stop is exclusive)")
    step = value.step
    if step is None or step == 0:
        return CategoricalDistribution(values)
    lo, hi = min(values), max(values)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values) and isinstance(step, int):
        return IntDistribution(int(lo), int(hi), step=abs(step))
    return FloatDistribution(float(lo), float(hi), step=abs(float(step)))


def _interval(value: IntervalSweep, log: bool, where: str) -> BaseDistribution:
    lo, hi = value.start, value.end
    if lo is None or hi is None:
        raise ConfigError(f"{where}: interval needs two bounds: interval(low, high)")
    if lo > hi:
        raise ConfigError(f"{where}: interval({lo}, {hi}) has low > high")
    if isinstance(lo, int) and isinstance(hi, int):
        return IntDistribution(lo, hi, log=log)
    return FloatDistribution(float(lo), float(hi), log=log)


def _no_log(tags: set[str], where: str, kind: str) -> None:
    if "log" in tags:
        raise ConfigError(f"{where}: tag(log, ...) applies to interval(...) only, not to {kind}")


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())
