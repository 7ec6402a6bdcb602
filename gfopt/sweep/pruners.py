"""Optuna pruners by short name (`hydra.sweeper.pruner=median|hyperband|none`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import optuna
from optuna.pruners import BasePruner

from gfopt.core.config import ConfigError

PRUNERS = ("none", "median", "hyperband")


def make_pruner(name: str, options: Mapping[str, Any] | None = None) -> BasePruner:
    """The named pruner; `options` go to its constructor (e.g. `{n_startup_trials: 5, n_warmup_steps: 3}`)."""
    key = str(name).lower()
    kwargs = dict(options or {})
    try:
        if key == "none":
            return optuna.pruners.NopPruner()
        if key == "median":
            return optuna.pruners.MedianPruner(**kwargs)
        if key == "hyperband":
            return optuna.pruners.HyperbandPruner(**kwargs)
    except TypeError as e:
        raise ConfigError(f"hydra.sweeper.pruner_options: {' '.join(str(e).split())}") from None
    raise ConfigError(f"hydra.sweeper.pruner: unknown pruner {name!r}; use one of {', '.join(PRUNERS)}")
