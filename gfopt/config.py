"""Register every structured-config schema in Hydra's ConfigStore (imported before composition).

Each YAML in `conf/` lists its schema first in its defaults list (`- /schema/<group>/<name>@_here_`), so Hydra types
the node and rejects unknown keys and wrong types at start.
"""

from __future__ import annotations

import importlib
import os
import pkgutil

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from gfopt.core.config import GfoptConfig, LocalSearchEngineConfig, PopulationEngineConfig
from gfopt.core.schema import schema_of


def problem_config_modules() -> list[str]:
    """Each problem's config module (torch-free by contract): `gfopt/problems/<name>.py` itself, or
    `gfopt/problems/<name>/config.py` for a package. Each defines `register(cs)`; nothing else lists problems."""
    import gfopt.problems as pkg

    return [f"gfopt.problems.{m.name}.config" if m.ispkg else f"gfopt.problems.{m.name}"
            for m in pkgutil.iter_modules(pkg.__path__)]


_registered = False

# groups a user picks on the command line (the others, schema/*, are internal), with when they apply
USER_GROUPS = {"problem": "", "engine": "", "budget": "", "hparams_search": "   (with -m)"}


def group_lines() -> str:
    """`group: option, option` for each user group in conf/, for `--help` (`${gfopt_groups:}`)."""
    from gfopt.pairing import conf_dir

    lines = []
    for group, note in USER_GROUPS.items():
        options = sorted(p.stem for p in (conf_dir() / group).glob("*.yaml"))
        lines.append(f"  {group}: {', '.join(options)}{note}")
    return "\n".join(lines)


MOVED_KEYS = {
    **{f"problem.search.{k}": f"engine.neighbourhood.{k}"
       for k in ("sizes", "size_small", "size_large", "no_large_search", "h", "grad_filter")},
    "problem.search.restarts": "engine.restarts",
}
"""Keys that moved (old -> new): operator settings belong to the engine, only the start stays with the problem."""


def moved_key_error(overrides: list[str]) -> str | None:
    """One line naming the new key for the first override that uses an old one, or None."""
    for o in overrides:
        key = o.lstrip("+~").split("=", 1)[0]
        if key in MOVED_KEYS:
            return f"{key}: moved to {MOVED_KEYS[key]} (operator settings belong to the engine)"
    return None


def register_configs() -> None:
    """Idempotent: store the schemas of the core and of every problem."""
    global _registered
    if _registered:
        return
    # `${pid:}` in conf/config.yaml: run dirs of runs started in the same second differ
    OmegaConf.register_new_resolver("pid", os.getpid, replace=True)
    OmegaConf.register_new_resolver("gfopt_groups", group_lines, replace=True)
    cs = ConfigStore.instance()
    cs.store(group="schema", name="gfopt", node=GfoptConfig)
    cs.store(group="schema/engine", name="population", node=PopulationEngineConfig)
    cs.store(group="schema/engine", name="local_search", node=LocalSearchEngineConfig)
    from gfopt.core.ask_tell import CmaEsEngine
    from gfopt.core.memetic import MemeticEngine

    cs.store(group="schema/engine", name="memetic", node=schema_of(MemeticEngine))
    cs.store(group="schema/engine", name="cmaes", node=schema_of(CmaEsEngine))
    for mod in problem_config_modules():
        importlib.import_module(mod).register(cs)
    _registered = True
