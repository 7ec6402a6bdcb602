"""Structured config of the sweeper, stored as `hydra/sweeper=gfopt_optuna` (importing this module registers it)."""

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore


@dataclass
class SamplerConf:
    """Which Optuna sampler: tpe, random, cmaes, gp, nsgaii, qmc, grid or bruteforce; `options` go to its
    constructor."""

    name: str = "tpe"
    seed: int | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class GfoptOptunaSweeperConf:
    """Everything `hydra.sweeper.*` accepts; docs/sweeps.md explains each key."""

    _target_: str = "hydra_plugins.gfopt_optuna_sweeper.sweeper.GfoptOptunaSweeper"
    direction: Any = "minimize"  # or a list, one per objective
    n_trials: int = 20  # total for the study, whoever runs it
    n_jobs: int = 1  # trials per launcher batch (parallel with a parallel launcher)
    study_name: str | None = None  # null: derived from the search space
    storage: str | None = None  # null (memory), sqlite:///f.db, postgresql://..., journal:f.log
    sampler: SamplerConf = field(default_factory=SamplerConf)
    max_failure_rate: float = 0.0  # abort when job errors exceed this fraction of n_trials
    heartbeat_interval: int | None = 10  # seconds between heartbeats of running trials (null: none)
    grace_period: int | None = None  # seconds without heartbeat before FAIL (null: 2x interval); > interval
    storage_retry_s: float = 300.0  # how long storage calls are retried through an outage before giving up
    pruner: str = "none"  # none, median or hyperband
    pruner_options: dict[str, Any] = field(default_factory=dict)  # keyword arguments of the pruner
    extend_study: bool = False  # allow adding to a study that another sweep (space, overrides) created
    baseline: bool = True  # queue the configuration's own values as the first trial of a new study
    plots: bool = True
    params: dict[str, Any] = field(default_factory=dict)  # key -> grammar string


ConfigStore.instance().store(group="hydra/sweeper", name="gfopt_optuna", node=GfoptOptunaSweeperConf,
                             provider="gfopt")
