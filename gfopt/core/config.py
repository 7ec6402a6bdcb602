"""Structured-config schemas for the core (top level, budget, engines) and their value checks.

Hydra merges every YAML onto these dataclasses, so an unknown key or a wrong type fails at start;
`__post_init__` checks values (run through `OmegaConf.to_object` before any work starts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

from gfopt.errors import ConfigError


def check(cond: bool, key: str, msg: str) -> None:
    """Raise `ConfigError('key: msg')` unless `cond`."""
    if not cond:
        raise ConfigError(f"{key}: {msg}")


def check_rate(value: float, key: str) -> None:
    """A probability or fraction must lie in [0, 1]."""
    check(0.0 <= value <= 1.0, key, f"must be in [0, 1], got {value}")


@dataclass
class BudgetConfig:
    steps: int | None = None
    evaluations: int | None = None
    wall_time_s: float | None = None

    def __post_init__(self) -> None:
        for k in ("steps", "evaluations", "wall_time_s"):
            v = getattr(self, k)
            check(v is None or v > 0, f"budget.{k}", f"must be positive or null, got {v}")


RESTART_MEASURES = ("distance", "fitness")  # how a population engine measures diversity for restarts


@dataclass
class PopulationEngineConfig:
    _target_: str = "gfopt.core.evolution.PopulationEngine"
    population_size: int = 10
    selection: Any = MISSING
    crossover: Any = None
    mutation: Any = None
    succession: Any = None
    crossover_rate: float = 0.8
    individual_mutation_rate: float = 0.15
    max_population: int | None = None
    patience: int | None = None
    generations: int | None = None
    succession_elite: int = 0  # the k best skip the succession move (keep the population's best)
    succession_fraction: float = 1.0  # move only the ceil(f x size) worst-ranked individuals (1.0: all)
    restart_threshold: float | None = None  # restart when diversity stays under this (null: never)
    restart_patience: int = 2  # ... for this many generations in a row
    restart_keep: int = 1  # individuals kept through a restart (the best)
    restart_measure: str = "distance"  # distance: mean relative distance to the best | fitness: relative spread

    def __post_init__(self) -> None:
        # population_size first: the restart and max_population checks below are stated relative to it
        check(self.population_size >= 2, "engine.population_size", f"must be >= 2, got {self.population_size}")
        check(self.generations is None or self.generations >= 1, "engine.generations", "must be >= 1 or null")
        check(self.succession_elite >= 0, "engine.succession_elite", f"must be >= 0, got {self.succession_elite}")
        sf = self.succession_fraction
        check(0 < sf <= 1, "engine.succession_fraction",
              f"must be in (0, 1] (the share of the population the succession moves), got {sf}")
        rt = self.restart_threshold
        check(rt is None or rt > 0, "engine.restart_threshold", f"must be > 0 or null (no restarts), got {rt}")
        check(self.restart_patience >= 1, "engine.restart_patience", f"must be >= 1, got {self.restart_patience}")
        check(0 <= self.restart_keep < self.population_size, "engine.restart_keep",
              f"must be in [0, population_size ({self.population_size})), got {self.restart_keep}")
        check(self.restart_measure in RESTART_MEASURES, "engine.restart_measure",
              f"must be one of {RESTART_MEASURES}, got {self.restart_measure!r}")
        check_rate(self.crossover_rate, "engine.crossover_rate")
        check_rate(self.individual_mutation_rate, "engine.individual_mutation_rate")
        mp = self.max_population
        check(mp is None or mp >= self.population_size, "engine.max_population",
              f"must be null or >= population_size ({self.population_size}), got {mp}")
        check(self.patience is None or self.patience >= 1, "engine.patience", "must be >= 1 or null")
        for op in ("selection", "crossover", "mutation", "succession"):
            _check_operator(getattr(self, op), f"engine.{op}")


@dataclass
class LocalSearchEngineConfig:
    _target_: str = "gfopt.core.local_search.LocalSearchEngine"
    neighbourhood: Any = None
    multi_accept: bool = True
    max_escalations: int | None = None
    restarts: int | None = None

    def __post_init__(self) -> None:
        r = self.restarts
        check(r is None or r >= 0, "engine.restarts", f"must be >= 0 or null (the problem's default), got {r}")
        me = self.max_escalations
        check(me is None or me >= 0, "engine.max_escalations", f"must be >= 0 or null, got {me}")
        _check_operator(self.neighbourhood, "engine.neighbourhood")


def _check_operator(node: Any, key: str) -> None:
    if node is None:
        return
    check(isinstance(node, dict) and "_target_" in node, key, "must be null or a mapping with a _target_")
    for name in ("rate", "gene_rate", "elite_fraction", "density"):
        if name in node and node[name] is not None:
            check_rate(float(node[name]), f"{key}.{name}")
    if "sigma" in node:
        check(float(node["sigma"]) >= 0, f"{key}.sigma", f"must be >= 0, got {node['sigma']}")


@dataclass
class ParallelConfig:
    """Where a run's evaluations happen (`parallel=serial|processes|ray`); never changes the result."""

    kind: str = "serial"
    workers: int = 2
    threads_per_worker: int | None = None  # null: cores // workers
    gpus_per_worker: float = 0.0
    address: str | None = None  # ray: null starts a local Ray; auto or ray://host:10001 joins a cluster

    def __post_init__(self) -> None:
        check(self.kind in ("serial", "processes", "ray"), "parallel.kind", f"must be serial, processes or ray, "
              f"got {self.kind!r}")
        check(self.workers >= 1, "parallel.workers", f"must be >= 1, got {self.workers}")
        t = self.threads_per_worker
        check(t is None or t >= 1, "parallel.threads_per_worker", f"must be >= 1 or null, got {t}")
        check(self.gpus_per_worker >= 0, "parallel.gpus_per_worker", f"must be >= 0, got {self.gpus_per_worker}")


@dataclass
class GfoptConfig:
    """Top level: `problem` and `engine` are typed by their own group schemas."""

    problem: Any = MISSING
    engine: Any = MISSING
    seed: int = 0
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    parallel: ParallelConfig = field(default_factory=ParallelConfig)
    checkpoint_every: int = 1
    checkpoint_min_interval_s: float = 5.0
    resume: bool = True
    progress: Any = "auto"
    optimized_metric: Any = None  # result.json field(s) a sweep optimizes: a name or a list (gfopt.sweep)

    def __post_init__(self) -> None:
        check(self.seed >= 0, "seed", f"must be a non-negative integer, got {self.seed}")
        check(self.checkpoint_every >= 1, "checkpoint_every", "must be >= 1")
        check(self.checkpoint_min_interval_s >= 0, "checkpoint_min_interval_s", "must be >= 0")
        check(self.progress in ("auto", True, False), "progress", f"must be auto, true or false, got {self.progress}")
