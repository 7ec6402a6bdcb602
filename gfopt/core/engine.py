"""The `Engine` contract (ask/tell/stop/result/state_dict) and the one `run` loop that drives it.

An engine's step (a generation, a local-search iteration) is a generator that yields batches of
genomes and receives their fitness, so the caller owns evaluation (batching, caching, devices) and the
engine owns only the search logic. Checkpoints are taken between steps.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gfopt.core.problem import Genome, Problem
from gfopt.core.space import ANY, describe_kind, fits
from gfopt.errors import ConfigError

StepGenerator = Generator[list[Genome], np.ndarray, None]


@dataclass
class Budget:
    """When to stop: any limit that is reached ends the run (checked between steps)."""

    steps: int | None = None
    evaluations: int | None = None
    wall_time_s: float | None = None

    @property
    def unlimited(self) -> bool:
        """True when no limit is set (the engine alone must stop the run)."""
        return self.steps is None and self.evaluations is None and self.wall_time_s is None

    def exhausted(self, steps: int, evaluations: int, seconds: float) -> str | None:
        """Name of the first exhausted limit, or None."""
        if self.steps is not None and steps >= self.steps:
            return "steps"
        if self.evaluations is not None and evaluations >= self.evaluations:
            return "evaluations"
        if self.wall_time_s is not None and seconds >= self.wall_time_s:
            return "wall_time"
        return None


@dataclass
class RunResult:
    """What a run returns: the best genome ever evaluated and the final population."""

    best: Genome
    best_fitness: float
    steps: int
    evaluations: int
    wall_time_s: float
    stopped_by: str
    population: list[Genome] = field(default_factory=list)
    fitness: np.ndarray = field(default_factory=lambda: np.empty(0))
    history: list[dict[str, Any]] = field(default_factory=list)
    """One status dict per step (what history.jsonl holds), restored with the checkpoint on resume."""


@dataclass
class Comparison:
    """A run to make beside the main one (a baseline): its own problem view, engine and budget."""

    name: str
    problem: Problem
    engine: Engine
    budget: Budget


class Engine(ABC):
    """Base class: subclasses implement `_step` (and `_state`/`_load_state` for their own fields).

    `space` is the kind of genome the engine itself needs (CMA-ES: real vectors; most engines: any, their operators
    decide). `operators()` lists the configured operators; `check_space` refuses, in one line, an engine or operator
    that does not fit the problem's space (called by the app from the config before the problem is built, and in
    `setup`).
    """

    space: str = ANY

    def __init__(self) -> None:
        self.problem: Problem | None = None
        self.rng: np.random.Generator | None = None
        self.steps = 0
        self.evaluations = 0
        self.elapsed_s = 0.0
        self.best: Genome | None = None
        self.best_fitness = float("nan")
        self.converged = False
        self.step_done = False
        self.history: list[dict[str, Any]] = []
        self._gen: StepGenerator | None = None
        self._pending: list[Genome] | None = None

    # ----------------------------------------------------------------- wiring
    def operators(self) -> dict[str, Any]:
        """The configured operators by config key (`crossover`, `neighbourhood`, ...); None entries are skipped."""
        return {}

    def check_space(self, kind: str, problem_name: str = "the problem", label: str | None = None) -> None:
        """Raise a one-line ConfigError when the engine or an operator does not fit a space of `kind`.

        `label` prefixes the message (default: the operator's config key, `engine.crossover`).
        """
        parts = [("engine", self)] + [(f"engine.{k}", op) for k, op in self.operators().items() if op is not None]
        for key, part in parts:
            if not fits(part.space, kind):
                raise ConfigError(
                    f"{label or key}: {type(part).__name__} works on {describe_kind(part.space)}; "
                    f"{problem_name} searches {describe_kind(kind)}"
                )

    def never_stops(self, budget: Budget) -> bool:
        """True when, under `budget`, nothing would ever end the run (refused before it starts)."""
        return False

    def setup(self, problem: Problem, rng: np.random.Generator) -> None:
        """Bind the problem and the run's single random generator; check and bind the operators."""
        self.problem = problem
        self.rng = rng
        self.check_space(problem.space.kind, getattr(problem, "name", type(problem).__name__))
        for op in self.operators().values():
            if op is not None:
                op.bind(problem)

    def _better(self, a: float, b: float) -> bool:
        """Scalar form of `improves`: one comparison rule (the problem's sense) for every decision."""
        return bool(self.improves(np.array([a]), b)[0])

    def improves(self, fitness: np.ndarray, reference: float) -> np.ndarray:
        """Element-wise `_better(fitness[k], reference)`, vectorized."""
        sc = self.scores(fitness)
        ref = float(self.scores(np.array([reference]))[0])
        return ~np.isnan(sc) if np.isnan(ref) else sc > ref

    def first_best(self, fitness: np.ndarray) -> int | None:
        """Index of the first best non-NaN fitness of a batch, or None when all are NaN."""
        sc = self.scores(fitness)
        ok = np.flatnonzero(~np.isnan(sc))
        return int(ok[np.argmax(sc[ok])]) if len(ok) else None

    def scores(self, fitness: np.ndarray) -> np.ndarray:
        """Fitness turned into 'higher is better', the form every operator works with."""
        fitness = np.asarray(fitness, dtype=float)
        return fitness if self.problem.sense == "max" else -fitness

    # ----------------------------------------------------------------- ask / tell
    @abstractmethod
    def _step(self) -> StepGenerator:
        """One step: `fitness = yield genomes` as often as needed, then return."""

    def ask(self) -> list[Genome]:
        """The next batch to evaluate (empty when the step needed no evaluation)."""
        if self._pending is None:
            self._gen = self._step()
            try:
                self._pending = next(self._gen)
            except StopIteration:
                self._finish_step()
                return []
        return self._pending

    def tell(self, genomes: Sequence[Genome], fitness: np.ndarray) -> None:
        """Report the fitness of the batch returned by `ask`."""
        if self._gen is None:
            raise RuntimeError("tell: no batch is in flight (call ask first)")
        fitness = np.asarray(fitness, dtype=float).reshape(-1)
        if len(fitness) != len(genomes):
            raise ValueError(f"tell: got {len(fitness)} fitness values for {len(genomes)} genomes")
        self.evaluations += len(genomes)
        if len(fitness):  # the batch's first best (vectorized: local-search batches hold 10^5 moves)
            k = self.first_best(fitness)
            if k is not None and self._better(float(fitness[k]), self.best_fitness):
                self.best, self.best_fitness = genomes[k], float(fitness[k])
        try:
            self._pending = self._gen.send(fitness)
        except StopIteration:
            self._finish_step()

    def _finish_step(self) -> None:
        self._gen = None
        self._pending = None
        self.steps += 1
        self.step_done = True

    @property
    def between_steps(self) -> bool:
        """True when no step is in progress (the only time a run may stop or checkpoint)."""
        return self._gen is None

    def stop(self) -> bool:
        """True when the engine has nothing left to do (converged, or early stop)."""
        return self.converged

    def stop_reason(self) -> str:
        """Why `stop()` is true, for `RunResult.stopped_by`."""
        return "converged"

    def max_steps(self) -> int | None:
        """The most steps this engine runs on its own (a generation cap), or None when it cannot say."""
        return None

    @property
    def result(self) -> tuple[Genome, float]:
        """(best genome, best fitness) so far."""
        return self.best, self.best_fitness

    def population(self) -> tuple[list[Genome], np.ndarray]:
        """The current population and its fitness (a single point for local search)."""
        return ([self.best], np.array([self.best_fitness])) if self.best is not None else ([], np.empty(0))

    def report(self) -> dict[str, Any]:
        """Extra `result.json` fields about the search itself (e.g. a neighbourhood's resolved sizes)."""
        return {}

    def status(self) -> dict[str, Any]:
        """Numbers that describe the last step, for progress bars and history files."""
        _, fit = self.population()
        out: dict[str, Any] = {"step": self.steps, "evaluations": self.evaluations, "best": self.best_fitness}
        if len(fit):
            out["mean"] = float(np.mean(fit))
            out["worst"] = float(np.min(fit) if self.problem.sense == "max" else np.max(fit))
            out["size"] = len(fit)
        return out

    # ----------------------------------------------------------------- state
    def _state(self) -> dict[str, Any]:
        return {}

    def _load_state(self, state: dict[str, Any]) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue the run exactly: counters, best, RNG, history, subclass and problem state."""
        if self._gen is not None:
            raise RuntimeError("state_dict is only defined between steps")
        space = self.problem.space
        return {
            "steps": self.steps,
            "evaluations": self.evaluations,
            "elapsed_s": self.elapsed_s,
            "converged": self.converged,
            "best": None if self.best is None else space.to_array(self.best),
            "best_fitness": self.best_fitness,
            "rng": self.rng.bit_generator.state,
            "history": list(self.history),
            "engine": self._state(),
            "problem": self.problem.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of `state_dict`; call after `setup`."""
        self.steps = int(state["steps"])
        self.evaluations = int(state["evaluations"])
        self.elapsed_s = float(state["elapsed_s"])
        self.converged = bool(state["converged"])
        self.best = None if state["best"] is None else self.problem.space.from_array(state["best"])
        self.best_fitness = float(state["best_fitness"])
        self.rng.bit_generator.state = state["rng"]
        self.history = list(state["history"])
        self._load_state(state["engine"])
        self.problem.load_state_dict(state["problem"])


class Callback:
    """Hooks called by `run`; subclass and override what you need."""

    def on_start(self, engine: Engine) -> None:
        """Before the first step (also after a resume)."""

    def on_step(self, engine: Engine, status: dict[str, Any]) -> None:
        """After every completed step."""

    def on_end(self, engine: Engine, result: RunResult) -> None:
        """Once, after the last step."""

    def on_interrupt(self, engine: Engine) -> bool:
        """Ctrl-C ended the run, maybe inside a step; True when a checkpoint of the last finished step is on disk."""
        return False


def run(
    problem: Problem,
    engine: Engine,
    rng: np.random.Generator,
    budget: Budget | None = None,
    callbacks: Iterable[Callback] = (),
    state: dict[str, Any] | None = None,
    evaluator: Callable[[Problem, Sequence[Genome]], np.ndarray] | None = None,
) -> RunResult:
    """Drive `engine` on `problem` until it stops or the budget runs out; resume from `state` if given.

    `evaluator(problem, batch)` gives a batch's fitness (default: `problem.evaluate(batch)` in this process;
    `gfopt.core.evaluator` has process and Ray pools); the engine's random generator never leaves this loop.
    """
    budget = budget or Budget()
    evaluate = evaluator or (lambda p, b: p.evaluate(b))
    callbacks = list(callbacks)
    engine.setup(problem, rng)
    if state is not None:
        engine.load_state_dict(state)
    for cb in callbacks:
        cb.on_start(engine)
    t0 = time.perf_counter() - engine.elapsed_s
    while True:
        engine.elapsed_s = time.perf_counter() - t0
        if engine.between_steps:  # budgets end runs between steps, never inside one
            if engine.stop():
                stopped_by = engine.stop_reason()
                break
            stopped_by = budget.exhausted(engine.steps, engine.evaluations, engine.elapsed_s)
            if stopped_by:
                break
        batch = engine.ask()
        if not engine.step_done:  # a step that needed no evaluation finished inside `ask`
            engine.tell(batch, evaluate(problem, batch) if len(batch) else np.empty(0))
        if engine.step_done:
            engine.step_done = False
            engine.elapsed_s = time.perf_counter() - t0
            status = engine.status()
            status["seconds"] = engine.elapsed_s
            engine.history.append(status)
            for cb in callbacks:
                cb.on_step(engine, status)
    pop, fit = engine.population()
    result = RunResult(
        best=engine.best,
        best_fitness=engine.best_fitness,
        steps=engine.steps,
        evaluations=engine.evaluations,
        wall_time_s=engine.elapsed_s,
        stopped_by=stopped_by,
        population=pop,
        fitness=fit,
        history=list(engine.history),
    )
    for cb in callbacks:
        cb.on_end(engine, result)
    return result
