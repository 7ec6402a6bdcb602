"""Register every structured-config schema in Hydra's ConfigStore (imported before composition).

Each YAML in `conf/` lists its schema first in its defaults list (`- /schema/<group>/<name>@_here_`), so Hydra types
the node and rejects unknown keys and wrong types at start.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from gfopt.core.config import GfoptConfig, LocalSearchEngineConfig, PopulationEngineConfig

# Problem packages whose `config` module defines `register(cs)`; torch-free by contract.
PROBLEM_CONFIG_MODULES = (
    "gfopt.problems.tsp",
    "gfopt.problems.dag_topo.config",
    "gfopt.problems.llm_evo.config",
)

_registered = False

# groups a user picks on the command line (the others, schema/*, are internal), with when they apply
USER_GROUPS = {"problem": "", "engine": "", "budget": "", "hparams_search": "   (with -m)"}


def conf_dir() -> str:
    """The config tree: shipped inside the wheel as gfopt/conf, or the top-level conf/ of a checkout."""
    here = Path(__file__).resolve().parent
    packaged = here / "conf"
    return str(packaged if packaged.is_dir() else here.parent / "conf")


def group_lines() -> str:
    """`group: option, option` for each user group in conf/, for `--help` (`${gfopt_groups:}`)."""
    lines = []
    for group, note in USER_GROUPS.items():
        options = sorted(p.stem for p in (Path(conf_dir()) / group).glob("*.yaml"))
        lines.append(f"  {group}: {', '.join(options)}{note}")
    return "\n".join(lines)


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
    for mod in PROBLEM_CONFIG_MODULES:
        try:
            module = importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name is not None and mod.startswith(e.name):
                continue  # problem package not present
            raise
        module.register(cs)
    _registered = True
