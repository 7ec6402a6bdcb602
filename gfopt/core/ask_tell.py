"""Engines around outside ask/tell optimizers (CMA-ES from `cmaes`, nevergrad), for real-vector spaces.

Their state is checkpointed as the fitness values told so far: on resume the optimizer is rebuilt with the
same seed and the values are told again in order, which reproduces its state exactly without pickling it
(both libraries draw candidates from their own seeded generator). `x` stays in the optimizer; only genomes
(cast to the space's dtype) go out for evaluation.
"""

from __future__ import annotations

import warnings
from abc import abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from gfopt.core.engine import Engine, StepGenerator
from gfopt.core.problem import Problem
from gfopt.core.space import REAL, RealVectorSpace
from gfopt.errors import ConfigError

WORST = 1e30
"""What a NaN fitness is told as (minimization): never chosen."""


@contextmanager
def _quiet_cobyla() -> Iterator[None]:
    """NGOpt's inner COBYLA warns about the small budgets it is given: noise the user cannot act on."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="COBYLA: Invalid", category=UserWarning)
        yield


class AskTellEngine(Engine):
    """One step = one batch asked from the optimizer, evaluated, told; replayable state."""

    space = REAL

    def __init__(self) -> None:
        super().__init__()
        self.opt: Any = None
        self.seed = 0
        self.x0: np.ndarray | None = None
        self.told: list[np.ndarray] = []

    def setup(self, problem: Problem, rng: np.random.Generator) -> None:
        super().setup(problem, rng)
        if not isinstance(problem.space, RealVectorSpace):
            raise ConfigError(f"engine: {type(self).__name__} needs a real-vector space, got {problem.space.kind}")

    @abstractmethod
    def _make(self) -> Any:
        """Build the optimizer from `self.x0` and `self.seed`."""

    @abstractmethod
    def _ask(self) -> list[np.ndarray]:
        """One batch of candidate vectors (float64)."""

    @abstractmethod
    def _tell(self, xs: list[np.ndarray], losses: np.ndarray) -> None:
        """Tell the losses (lower is better) of the batch from `_ask`."""

    def _start(self) -> None:
        """Draw the start (x0 from the problem's initial genomes, the optimizer's seed) once, with the run's rng."""
        starts = np.array([np.asarray(g, float) for g in self.problem.initial(self._n_initial(), self.rng)])
        self._begin(starts, None)

    def _begin(self, starts: np.ndarray, best: int | None) -> None:
        """x0 from the starts (the best one, or their mean), a seed from the run's rng, then the optimizer."""
        self.x0 = self._initial_x0(starts, best)
        self.seed = int(self.rng.integers(2**31 - 1))
        self.opt = self._make()

    def _initial_x0(self, starts: np.ndarray, best: int | None) -> np.ndarray:
        return starts.mean(axis=0) if best is None else starts[best]

    def _n_initial(self) -> int:
        return 1

    def _step(self) -> StepGenerator:
        if self.opt is None:
            self._start()
        xs = self._ask()
        space = self.problem.space
        fit = yield [np.asarray(x, dtype=space.dtype) for x in xs]
        losses = -self.scores(fit)
        losses = np.where(np.isnan(losses), WORST, losses)
        self._tell(xs, losses)
        self.told.append(losses)

    def _state(self) -> dict[str, Any]:
        return {"x0": self.x0, "seed": self.seed, "told": list(self.told)}

    def _load_state(self, state: dict[str, Any]) -> None:
        if state["x0"] is None:
            return
        self.x0, self.seed = np.asarray(state["x0"], float), int(state["seed"])
        self.opt = self._make()
        for losses in state["told"]:  # replay: the same asks, told the same values
            self._tell(self._ask(), np.asarray(losses, float))
        self.told = [np.asarray(v, float) for v in state["told"]]


class CmaEsEngine(AskTellEngine):
    """CMA-ES through the `cmaes` package: full covariance up to `max_full_dim` dimensions, separable above.

    `population_size` initial genomes of the problem are drawn (llm_evo coefficients: one-hot experts and pairs, or
    1/K each with coefficients.init=uniform); with `start: best` they are evaluated first and the mean starts at the
    best of them (a multimodal landscape such as merge weights, where their average is a poor merge), with
    `start: mean` at their average, unevaluated. `sigma0` null is the median per-entry spread of those genomes (0.3
    when they coincide). The search converges when `cmaes` says it should stop.
    """

    def __init__(self, sigma0: float | None = None, population_size: int | None = None,
                 max_full_dim: int = 1000, start: str = "best") -> None:
        super().__init__()
        if start not in ("best", "mean"):
            raise ConfigError(f"engine.start: must be best or mean, got {start!r}")
        self.start = start
        if sigma0 is not None and sigma0 <= 0:
            raise ConfigError(f"engine.sigma0: must be > 0 or null, got {sigma0}")
        if population_size is not None and population_size < 2:
            raise ConfigError(f"engine.population_size: must be >= 2 or null, got {population_size}")
        self.sigma0, self.population_size, self.max_full_dim = sigma0, population_size, max_full_dim
        self.sigma_start = 0.0

    def _n_initial(self) -> int:
        n = self.problem.space.size
        return self.population_size or 4 + int(3 * np.log(n))

    def _step(self) -> StepGenerator:
        if self.opt is None and self.start == "best":  # step 0: evaluate the initial genomes, start at the best
            starts = list(self.problem.initial(self._n_initial(), self.rng))
            fit = yield starts
            self._begin(np.array([np.asarray(g, float) for g in starts]), int(self.first_best(fit) or 0))
            return
        yield from super()._step()

    def _begin(self, starts: np.ndarray, best: int | None) -> None:
        """sigma0 = the starts' median per-entry spread unless configured; then x0, seed and optimizer as usual."""
        spread = float(np.median(starts.std(axis=0)))
        self.sigma_start = self.sigma0 or (spread if spread > 0 else 0.3)
        super()._begin(starts, best)

    def _make(self) -> Any:
        import cmaes

        space = self.problem.space
        bounds = np.c_[space.lower, space.upper] if space.bounded else None
        x0 = np.clip(self.x0, space.lower, space.upper) if space.bounded else self.x0
        cls = cmaes.CMA if space.size <= self.max_full_dim else cmaes.SepCMA
        return cls(mean=x0, sigma=self.sigma_start, bounds=bounds, seed=self.seed,
                   population_size=self.population_size)

    def _ask(self) -> list[np.ndarray]:
        return [self.opt.ask() for _ in range(self.opt.population_size)]

    def _tell(self, xs: list[np.ndarray], losses: np.ndarray) -> None:
        self.opt.tell(list(zip(xs, losses.tolist(), strict=True)))
        if self.opt.should_stop():
            self.converged = True

    def report(self) -> dict[str, Any]:
        kind = type(self.opt).__name__ if self.opt is not None else None
        return {"cmaes": {"variant": kind, "population_size": getattr(self.opt, "population_size", None),
                          "sigma0": self.sigma_start}}

    def _state(self) -> dict[str, Any]:
        return {**super()._state(), "sigma_start": self.sigma_start}

    def _load_state(self, state: dict[str, Any]) -> None:
        self.sigma_start = float(state["sigma_start"])
        super()._load_state(state)


class NevergradEngine(AskTellEngine):
    """A nevergrad optimizer (default NGOpt, as LoraHub uses) over the space's box, one candidate per step.

    It starts at `x0` zeros (LoraHub's start) or at the mean of the problem's initial genomes (`x0: initial`).
    `budget` is the optimizer's own budget hint (null: unlimited); the run's budget still ends the run.
    """

    def __init__(self, optimizer: str = "NGOpt", budget: int | None = None, x0: str = "zeros") -> None:
        super().__init__()
        if x0 not in ("zeros", "initial"):
            raise ConfigError(f"engine.x0: must be zeros or initial, got {x0!r}")
        self.optimizer, self.budget, self.x0_mode = optimizer, budget, x0
        self._cands: list[Any] = []

    def _initial_x0(self, starts: np.ndarray, best: int | None) -> np.ndarray:
        return np.zeros(starts.shape[1]) if self.x0_mode == "zeros" else super()._initial_x0(starts, best)

    def _make(self) -> Any:
        import nevergrad as ng

        space = self.problem.space
        kw = {"lower": space.lower, "upper": space.upper} if space.bounded else {}
        param = ng.p.Array(init=np.asarray(self.x0, float), **kw)
        param.random_state = np.random.RandomState(self.seed)
        return ng.optimizers.registry[self.optimizer](parametrization=param, budget=self.budget)

    def _ask(self) -> list[np.ndarray]:
        with _quiet_cobyla():
            self._cands = [self.opt.ask()]
        return [np.asarray(c.value, float) for c in self._cands]

    def _tell(self, xs: list[np.ndarray], losses: np.ndarray) -> None:
        with _quiet_cobyla():
            for cand, loss in zip(self._cands, losses.tolist(), strict=True):
                self.opt.tell(cand, loss)
