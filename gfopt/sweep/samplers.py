"""Optuna sampler factory by short name, with per-trial seeding so that one seed drives a sweep.

A sampler seeded once per process would make N workers of one study propose the same points. Instead every
trial reseeds the sampler's random state from (seed, trial number): one process reproduces its sweep exactly,
and workers that share a study draw different points because their trials have different numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.samplers import BaseSampler
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from gfopt.core.config import ConfigError


def _tpe(seed: int | None, **kw: Any) -> BaseSampler:
    return optuna.samplers.TPESampler(seed=seed, **kw)


def _random(seed: int | None, **kw: Any) -> BaseSampler:
    return optuna.samplers.RandomSampler(seed=seed, **kw)


def _cmaes(seed: int | None, **kw: Any) -> BaseSampler:
    try:
        import cmaes  # noqa: F401
    except ModuleNotFoundError:
        raise ConfigError("hydra.sweeper.sampler.name: cmaes needs the 'cmaes' package: pip install cmaes") from None
    return optuna.samplers.CmaEsSampler(seed=seed, **kw)


def _gp(seed: int | None, **kw: Any) -> BaseSampler:
    try:
        import torch  # noqa: F401
    except ModuleNotFoundError:
        raise ConfigError("hydra.sweeper.sampler.name: gp needs torch (CPU is fine): pip install torch") from None
    return optuna.samplers.GPSampler(seed=seed, **kw)


def _nsgaii(seed: int | None, **kw: Any) -> BaseSampler:
    return optuna.samplers.NSGAIISampler(seed=seed, **kw)


def _qmc(seed: int | None, **kw: Any) -> BaseSampler:
    return optuna.samplers.QMCSampler(seed=seed, **kw)


def _grid(seed: int | None, space: Mapping[str, BaseDistribution] | None = None, **kw: Any) -> BaseSampler:
    return optuna.samplers.GridSampler(grid_values(space or {}), seed=seed, **kw)


def _bruteforce(seed: int | None, space: Mapping[str, BaseDistribution] | None = None, **kw: Any) -> BaseSampler:
    grid_values(space or {})  # the same finiteness check as the grid, as one line before any trial
    return optuna.samplers.BruteForceSampler(seed=seed, **kw)


SAMPLERS: dict[str, Callable[..., BaseSampler]] = {
    "tpe": _tpe, "random": _random, "cmaes": _cmaes, "gp": _gp, "nsgaii": _nsgaii, "qmc": _qmc,
    "grid": _grid, "bruteforce": _bruteforce,
}
EXHAUSTIVE = ("grid", "bruteforce")  # they enumerate a finite space once, then have nothing new to propose


def grid_values(space: Mapping[str, BaseDistribution]) -> dict[str, list[Any]]:
    """Every value of each parameter of a finite space (choice, range); ConfigError naming an interval."""
    out: dict[str, list[Any]] = {}
    for name, d in space.items():
        if isinstance(d, CategoricalDistribution):
            out[name] = list(d.choices)
        elif isinstance(d, IntDistribution) and not d.log:
            out[name] = list(range(d.low, d.high + 1, d.step))
        elif isinstance(d, FloatDistribution) and d.step is not None and not d.log:
            n = int(round((d.high - d.low) / d.step))
            out[name] = [d.low + i * d.step for i in range(n + 1)]
        else:
            raise ConfigError(f"hydra.sweeper.params.{name}: the grid and bruteforce samplers need finite values; "
                              "use choice(...) or range(...), not interval(...)")
    if not out:
        raise ConfigError("hydra.sweeper.sampler.name: the grid and bruteforce samplers need swept parameters")
    return out


def grid_size(space: Mapping[str, BaseDistribution]) -> int:
    """How many points a finite space has."""
    return math.prod(len(v) for v in grid_values(space).values())


def make_sampler(name: str, seed: int | None = None, options: Mapping[str, Any] | None = None,
                 space: Mapping[str, BaseDistribution] | None = None) -> BaseSampler:
    """Build the named sampler (grid and bruteforce enumerate `space`); with a seed, wrap it so each trial is
    seeded from (seed, trial number)."""
    key = str(name).lower()
    if key not in SAMPLERS:
        raise ConfigError(f"hydra.sweeper.sampler.name: unknown sampler {name!r}; use one of {', '.join(SAMPLERS)}")
    if seed is not None and int(seed) < 0:
        raise ConfigError(f"hydra.sweeper.sampler.seed: must be a non-negative integer or null, got {seed}")
    kwargs = dict(options or {})
    if key in EXHAUSTIVE:
        kwargs["space"] = space
    try:
        sampler = SAMPLERS[key](seed, **kwargs)
    except TypeError as e:
        raise ConfigError(f"hydra.sweeper.sampler.options: {' '.join(str(e).split())}") from None
    if key in EXHAUSTIVE:
        sampler = NoStopSampler(sampler)
    return sampler if seed is None else TrialSeededSampler(sampler, int(seed))


def _random_states(obj: Any, depth: int = 3) -> list[np.random.RandomState]:
    """The numpy random states an Optuna sampler draws from (directly, or lazily, or in nested samplers)."""
    found: list[np.random.RandomState] = []
    if depth < 0 or not hasattr(obj, "__dict__"):
        return found
    for value in vars(obj).values():
        if isinstance(value, np.random.RandomState):
            found.append(value)
        elif type(value).__name__ == "LazyRandomState":
            found.append(value.rng)
        elif isinstance(value, BaseSampler) or type(value).__module__.startswith("optuna.samplers"):
            found += _random_states(value, depth - 1)
    return found


class DelegatingSampler(BaseSampler):
    """A sampler that hands every call to `base`; subclasses change one step."""

    def __init__(self, base: BaseSampler) -> None:
        self.base = base

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self.base.before_trial(study, trial)

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return self.base.infer_relative_search_space(study, trial)

    def sample_relative(self, study: Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        return self.base.sample_relative(study, trial, search_space)

    def sample_independent(self, study: Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        return self.base.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None) -> None:
        self.base.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self.base.reseed_rng()


class TrialSeededSampler(DelegatingSampler):
    """Delegate to `base`, reseeding its random states from (seed, trial number) before each trial."""

    def __init__(self, base: BaseSampler, seed: int) -> None:
        super().__init__(base)
        self.seed = seed

    def reseed_for(self, number: int) -> None:
        """Put every random state of the base sampler in the state it has for trial `number`."""
        for i, state in enumerate(_random_states(self.base)):
            state.seed(np.random.SeedSequence([self.seed, number, i]).generate_state(1)[0])

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self.reseed_for(trial.number)
        self.base.before_trial(study, trial)

    def __repr__(self) -> str:
        return f"{type(self.base).__name__}(seed={self.seed}, per-trial)"


class NoStopSampler(DelegatingSampler):
    """Delegate to `base`, but drop its `study.stop()` when the grid is done: Optuna allows that call only inside
    `Study.optimize`, and the sweep loop stops by itself at its total (capped at the grid's size)."""

    def after_trial(self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None) -> None:
        stop = study.stop
        study.stop = lambda: None  # type: ignore[method-assign]
        try:
            self.base.after_trial(study, trial, state, values)
        finally:
            study.stop = stop  # type: ignore[method-assign]

    def __repr__(self) -> str:
        return repr(self.base)


def directions_of(direction: Any) -> list[StudyDirection]:
    """`minimize`, `maximize`, or a list of them (several objectives) -> Optuna directions."""
    items = list(direction) if isinstance(direction, list | tuple) or hasattr(direction, "__iter__") and \
        not isinstance(direction, str) else [direction]
    out = []
    for d in items:
        name = str(getattr(d, "name", d)).lower()
        if name not in ("minimize", "maximize"):
            raise ConfigError(f"hydra.sweeper.direction: {d!r} is not minimize or maximize")
        out.append(StudyDirection.MINIMIZE if name == "minimize" else StudyDirection.MAXIMIZE)
    if not out:
        raise ConfigError("hydra.sweeper.direction: give minimize, maximize or a list of them")
    return out
