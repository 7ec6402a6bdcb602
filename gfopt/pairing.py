"""Engine x problem pairings, checked from the config before the problem is built (no zoo build, no model load).

An engine fits a problem when the engine and each of its operators work on the problem's space kind. The engines
that would fit are found from `conf/engine/*.yaml` plus the problem-specific `conf/operators/<engine>_<problem>.yaml`,
so a refusal names what to pick instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf

from gfopt.core.engine import Budget, Engine
from gfopt.core.space import fits
from gfopt.errors import ConfigError


def conf_dir() -> Path:
    """The config tree: shipped inside the wheel as gfopt/conf, or the top-level conf/ of a checkout."""
    here = Path(__file__).resolve().parent
    packaged = here / "conf"
    return packaged if packaged.is_dir() else here.parent / "conf"


def problem_kind(problem_cfg: DictConfig) -> str:
    """The space kind the configured problem will search, from its class (imported, not built)."""
    return get_class(problem_cfg._target_).kind_for(problem_cfg)


def _kinds(node: Any) -> list[str]:
    """Space kinds of a config node's `_target_` and of its operator sub-nodes."""
    if not isinstance(node, DictConfig):
        return []
    out = [getattr(get_class(node._target_), "space", "any")] if "_target_" in node else []
    return out + [k for v in node.values() if isinstance(v, DictConfig) for k in _kinds(v)]


def _schema_target(defaults: Any) -> str | None:
    """The `_target_` of the schema a YAML's defaults list names (`/schema/engine/<name>@_here_`), if any."""
    from hydra.core.config_store import ConfigStore

    from gfopt.config import register_configs

    register_configs()
    for entry in defaults or []:
        if isinstance(entry, str) and entry.lstrip("/").startswith("schema/"):
            path = entry.lstrip("/").split("@", 1)[0]
            node = ConfigStore.instance().load(f"{path}.yaml").node
            return node.get("_target_")
    return None


def engine_kinds(engine: str, problem: str) -> list[str]:
    """Kinds needed by `conf/engine/<engine>.yaml` with `conf/operators/<engine>_<problem>.yaml` merged on top."""
    root = conf_dir()
    node = OmegaConf.load(root / "engine" / f"{engine}.yaml")
    target = _schema_target(node.pop("defaults", None))
    if target and "_target_" not in node:
        node._target_ = target
    extra = root / "operators" / f"{engine}_{problem}.yaml"
    if extra.exists():
        more = OmegaConf.load(extra)
        more.pop("defaults", None)
        node = OmegaConf.merge(node, more)
    return _kinds(node)


def compatible_engines(problem: str, kind: str) -> list[str]:
    """Names of the shipped engine configs whose engine and operators all fit `kind` on `problem`."""
    names = sorted(p.stem for p in (conf_dir() / "engine").glob("*.yaml"))
    return [e for e in names if all(fits(k, kind) for k in engine_kinds(e, problem))]


def check_pairing(engine: Engine, engine_name: str, problem_cfg: DictConfig, budget: Budget) -> None:
    """One-line ConfigError when the engine can never stop, or does not fit the problem's space."""
    if engine.never_stops(budget):
        raise ConfigError(f"engine={engine_name}: this configuration never stops; set budget.steps, "
                          "budget.evaluations or budget.wall_time_s, or engine.generations or engine.patience")
    kind = problem_kind(problem_cfg)
    name = str(problem_cfg.get("name", "the problem"))
    if kind != get_class(problem_cfg._target_).space_kind:  # the config chose another space
        name = f"{name} (problem.space={problem_cfg.space})"
    try:
        engine.check_space(kind, name, label=f"engine={engine_name}")
    except ConfigError as e:
        ok = [e2 for e2 in compatible_engines(name, kind) if e2 != engine_name]
        hint = f" (pick engine={', '.join(ok)})" if ok else ""
        raise ConfigError(f"{e}{hint}") from None
