"""Compose the config once before Hydra runs, so a bad key, type or group choice is one error line.

Hydra's own composition errors span several lines plus a hint about HYDRA_FULL_ERROR; for single runs
we compose first with the same overrides and report the first problem as `key: what is wrong`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException


def _innermost(e: BaseException) -> BaseException:
    while e.__cause__ is not None:
        e = e.__cause__
    return e


def describe(e: BaseException) -> str:
    """One line for a composition error: the full key (or group) and what to do."""
    inner = _innermost(e)
    key = getattr(inner, "full_key", None) or getattr(e, "full_key", None)
    msg = str(inner).strip().splitlines()[0] if str(inner).strip() else type(inner).__name__
    text = str(e)
    if "Could not find" in text and "Available options" in text:
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        wanted = lines[0].split("Could not find", 1)[1].strip().strip("'")
        i = next(k for k, ln in enumerate(lines) if ln.startswith("Available options"))
        options = [ln for ln in lines[i + 1:] if not (":" in ln or "=" in ln)]
        return f"{wanted}: no such config; available: {', '.join(options)}"
    if "not in" in msg or "not in struct" in msg:
        return f"{key}: unknown key ({msg}); check the spelling, or see `python -m gfopt --cfg job`"
    return f"{key}: {msg}" if key else msg


def precheck(conf_dir: str, overrides: list[str], multirun: bool = False) -> str | None:
    """Compose `config` with `overrides` (hydra.* ones left to Hydra); return an error line or None.

    For `-m`, each sweep (`a=1,2`, `range(...)`, `interval(...)`) is checked with its first value.
    """
    user = [o for o in overrides if not o.lstrip("+~").startswith(("hydra.", "hydra/"))]
    sweeper = [o for o in overrides if o.startswith("hydra/sweeper=")]
    parsed = _parse(user)
    if multirun:
        if parsed is None:
            return None  # left to Hydra and the sweep grammar check
        user = [_first_value(o) if o.is_sweep_override() else o.input_line for o in parsed]
    try:
        with initialize_config_dir(config_dir=conf_dir, version_base="1.3"):
            cfg = compose(config_name="config", overrides=user + sweeper, return_hydra_config=multirun)
    except (HydraException, OmegaConfBaseException) as e:
        return describe(e)
    if multirun and "BasicSweeper" in str(OmegaConf.select(cfg, "hydra.sweeper._target_")):
        for o in parsed:
            if isinstance(o.value(), IntervalSweep):
                return (f"{o.get_key_element()}: interval(...) needs an Optuna sweep: add hydra/sweeper=gfopt_optuna "
                        "(Hydra's basic sweeper runs lists and ranges only)")
    groups = {p.name for p in Path(conf_dir).iterdir() if p.is_dir()}
    for o in parsed or []:
        if (o.is_add() or o.is_force_add()) and o.key_or_group.split("@")[0] not in groups:
            error = _unread_key(cfg, o.key_or_group)
            if error:
                return error
    return None


def _parse(overrides: list[str]) -> list[Override] | None:
    parser = OverridesParser.create()
    try:
        return [parser.parse_override(o) for o in overrides]
    except HydraException:
        return None


def _first_value(o: Override) -> str:
    """`key=<the sweep's first value>`: enough to check the key, the type and the range."""
    from gfopt.sweep.grammar import format_value

    v = o.value()
    if isinstance(v, ChoiceSweep) and v.list:
        first = v.list[0]
    elif isinstance(v, RangeSweep | IntervalSweep):
        first = v.start
    else:
        return o.input_line
    return f"{o.get_key_element()}={format_value(first)}"


def _unread_key(cfg: DictConfig, key: str) -> str | None:
    """`+key=...` may only add a name where the config takes free names (a dict such as problem.tasks); a key
    added to a schema anywhere on its path (`+foo=1`, `+engine.sigmaa=1`, `+problem.foo.bar=1`) is read by nobody."""
    node: object = cfg
    parts = key.split(".")
    for depth, name in enumerate(parts):
        if not isinstance(node, DictConfig):
            return None
        kind = OmegaConf.get_type(node)
        schema = kind is not None and dataclasses.is_dataclass(kind)
        if schema and name not in {f.name for f in dataclasses.fields(kind)}:
            return (f"{'.'.join(parts[:depth + 1])}: unknown key (no part of gfopt reads it); check the spelling, "
                    "or see `python -m gfopt --cfg job` for the keys")
        node = node.get(name)
    return None
