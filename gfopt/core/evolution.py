"""Population engine: crossover, mutation, selection, optional succession and elitism (GENOME, GENOME+)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gfopt.core.config import RESTART_MEASURES
from gfopt.core.engine import Budget, Engine, StepGenerator
from gfopt.core.operators import Crossover, Mutation, Selection, Succession
from gfopt.core.operators.selection import positive_weights, roulette, top


class PopulationEngine(Engine):
    """One generation = [succession ->] crossover + mutation -> selection.

    Crossover: len(pop)//2 attempts, each with probability `crossover_rate`; two distinct parents by
    roulette; the child is a merge weighted by the parents' fitness; parents stay. Mutation: each
    individual spawns a mutated copy with probability `individual_mutation_rate`. Selection: down to
    `population_size` every generation, or, when `max_population` is set (GENOME+), only once the
    population exceeds it. `patience` stops after that many generations without a new best; `generations`
    (optional) caps the number of generations after the initial population: step 0 evaluates the initial
    population, so `generations=3` runs 4 steps and ends with `stopped_by: generations`.

    `succession_elite` (k > 0): the k best individuals skip the succession move (they stay in place and are not
    re-evaluated; the swarm still updates their velocity), so the population never loses its best to a swarm step.
    `succession_fraction` (f < 1): only the ceil(f x size) worst-ranked individuals are moved, the others stay like
    the elite, so a generation spends fewer evaluations on the swarm step and more generations fit a budget.
    `restart_threshold` (not None): after each generation the population's `diversity` is measured; after
    `restart_patience` generations in a row under the threshold the population restarts in the same step at
    `population_size`: the `restart_keep` best plus individuals drawn afresh from the problem's `initial` (and
    evaluated), from the run's one random generator.
    """

    def __init__(
        self,
        population_size: int,
        selection: Selection,
        crossover: Crossover | None = None,
        mutation: Mutation | None = None,
        succession: Succession | None = None,
        crossover_rate: float = 0.8,
        individual_mutation_rate: float = 0.15,
        max_population: int | None = None,
        patience: int | None = None,
        generations: int | None = None,
        succession_elite: int = 0,
        succession_fraction: float = 1.0,
        restart_threshold: float | None = None,
        restart_patience: int = 2,
        restart_keep: int = 1,
        restart_measure: str = "distance",
    ) -> None:
        super().__init__()
        if restart_measure not in RESTART_MEASURES:
            raise ValueError(f"engine.restart_measure: must be one of {RESTART_MEASURES}, got {restart_measure!r}")
        self.population_size = population_size
        self.selection = selection
        self.crossover = crossover
        self.mutation = mutation
        self.succession = succession
        self.crossover_rate = crossover_rate
        self.individual_mutation_rate = individual_mutation_rate
        self.max_population = max_population
        self.patience = patience
        self.generations = generations
        self.succession_elite = succession_elite
        self.succession_fraction = succession_fraction
        self.restart_threshold = restart_threshold
        self.restart_patience = restart_patience
        self.restart_keep = restart_keep
        self.restart_measure = restart_measure
        self.low_diversity = 0  # generations in a row with diversity under restart_threshold
        self.restarts = 0
        self.genomes: list[Any] = []
        self.fitness = np.empty(0)
        self.ids: list[int] = []
        self.next_id = 0
        self.stale = 0

    def operators(self) -> dict[str, Any]:
        return {"selection": self.selection, "crossover": self.crossover, "mutation": self.mutation,
                "succession": self.succession}

    def never_stops(self, budget: Budget) -> bool:
        """Without a budget limit, `generations` or `patience`, a population search runs for ever."""
        return budget.unlimited and self.generations is None and self.patience is None

    def _new_ids(self, n: int) -> list[int]:
        ids = list(range(self.next_id, self.next_id + n))
        self.next_id += n
        return ids

    def _step(self) -> StepGenerator:
        rng = self.rng
        if not self.genomes:  # step 0: the initial population
            pop = self.problem.initial(self.population_size, rng)
            fit = yield pop
            pop, fit = yield from self._improve(list(pop), np.asarray(fit, float))
            self.genomes, self.fitness, self.ids = list(pop), np.asarray(fit, float), self._new_ids(len(pop))
            if self.succession is not None:
                self.succession.update(self.ids, self.genomes, self.scores(self.fitness))
            return
        best_before = self.best_fitness
        if self.succession is not None:
            scores = self.scores(self.fitness)
            moved = self.succession.move(self.genomes, scores, self.ids, self.steps - 1, rng)
            n = len(moved)
            stay = max(self.succession_elite, n - math.ceil(self.succession_fraction * n - 1e-9))  # 0.3 x 10 = 3
            elite = set(top(scores, min(stay, n)).tolist())
            todo = [k for k in range(len(moved)) if k not in elite]
            fitness = self.fitness.copy()
            if todo:
                fit = yield [moved[k] for k in todo]
                fitness[todo] = np.asarray(fit, float)
            self.genomes = [self.genomes[k] if k in elite else moved[k] for k in range(len(moved))]
            self.fitness = fitness
            self.succession.update(self.ids, self.genomes, self.scores(self.fitness))
        scores = self.scores(self.fitness)
        children = []
        if self.crossover is not None and len(self.genomes) >= 2:
            for _ in range(len(self.genomes) // 2):
                if rng.random() >= self.crossover_rate:
                    continue
                pair = roulette(scores, 2, rng, replace=False)
                weights = positive_weights(scores[pair])
                children.append(self.crossover([self.genomes[k] for k in pair], weights, rng))
        mutants = []
        if self.mutation is not None:
            for g in self.genomes + children:
                if rng.random() < self.individual_mutation_rate:
                    mutants.append(self.mutation(g, rng))
        new = children + mutants
        if new:
            fit = yield new
            new, fit = yield from self._improve(new, np.asarray(fit, float))
            new_ids = self._new_ids(len(new))
            if self.succession is not None:
                self.succession.update(new_ids, new, self.scores(fit))
            self.genomes = self.genomes + new
            self.fitness = np.concatenate([self.fitness, np.asarray(fit, float)])
            self.ids = self.ids + new_ids
        target = self.max_population or self.population_size
        if len(self.genomes) > target or self.max_population is None:
            keep = self.selection(self.scores(self.fitness), min(target, len(self.genomes)), rng)
            self.genomes = [self.genomes[k] for k in keep]
            self.fitness = self.fitness[keep]
            self.ids = [self.ids[k] for k in keep]
            if self.succession is not None:
                self.succession.forget(self.ids)
        self.stale = 0 if self._better(self.best_fitness, best_before) else self.stale + 1
        if self.patience is not None and self.stale >= self.patience:
            self.converged = True
        if self.restart_threshold is not None:
            low = self.diversity() < self.restart_threshold
            self.low_diversity = self.low_diversity + 1 if low else 0
            if self.low_diversity >= self.restart_patience:
                yield from self._restart()

    def diversity(self) -> float:
        """How spread the population is: `distance`, the mean distance to the population's best relative to the
        best's norm; `fitness`, (best - mean) / |best| of the scores. 0 for a population of copies; NaN fitness
        (failed evaluations) is left out, and a population without any finite fitness counts as diverse (inf)."""
        scores = self.scores(self.fitness)
        if np.isnan(scores).all():
            return float("inf")
        b = int(np.nanargmax(scores))
        if self.restart_measure == "fitness":
            return float((scores[b] - np.nanmean(scores)) / max(abs(scores[b]), 1e-12))
        space = self.problem.space
        x = np.stack([np.asarray(space.to_array(g), dtype=np.float64).reshape(-1) for g in self.genomes])
        return float(np.linalg.norm(x - x[b], axis=1).mean() / max(np.linalg.norm(x[b]), 1e-12))

    def _restart(self) -> StepGenerator:
        """Keep the `restart_keep` best; replace the rest with fresh (evaluated) individuals from `initial`."""
        keep = top(self.scores(self.fitness), min(self.restart_keep, len(self.genomes)))
        fresh = self.problem.initial(max(self.population_size - len(keep), 1), self.rng)
        fit = yield fresh
        fresh, fit = yield from self._improve(list(fresh), np.asarray(fit, float))
        new_ids = self._new_ids(len(fresh))
        self.genomes = [self.genomes[k] for k in keep] + list(fresh)
        self.fitness = np.concatenate([self.fitness[keep], np.asarray(fit, float)])
        self.ids = [self.ids[k] for k in keep] + new_ids
        if self.succession is not None:
            self.succession.forget(self.ids)
            self.succession.update(new_ids, fresh, self.scores(np.asarray(fit, float)))
        self.low_diversity = 0
        self.restarts += 1

    def _improve(self, genomes: list[Any], fitness: np.ndarray) -> StepGenerator:
        """Hook for memetic engines: return improved (genomes, fitness) of freshly evaluated individuals."""
        return genomes, fitness
        yield  # a generator that evaluates nothing

    def stop(self) -> bool:
        """Early stop (`patience`) or `generations` done after the initial population (step 0)."""
        return self.converged or self._generations_done()

    def stop_reason(self) -> str:
        """`patience` for an early stop, `generations` when the cap ended the run."""
        if self.converged:
            return "patience"
        return "generations" if self._generations_done() else super().stop_reason()

    def _generations_done(self) -> bool:
        return self.generations is not None and self.steps > self.generations

    def max_steps(self) -> int | None:
        """Steps this engine runs at most on its own (the initial population plus `generations`), or None."""
        return None if self.generations is None else self.generations + 1

    def population(self) -> tuple[list[Any], np.ndarray]:
        return list(self.genomes), self.fitness.copy()

    def status(self) -> dict[str, Any]:
        """The base status, plus the diversity and the restarts so far when restarts are on."""
        out = super().status()
        if self.restart_threshold is not None and self.genomes:
            out["diversity"] = self.diversity()
            out["restarts"] = self.restarts
        return out

    def _state(self) -> dict[str, Any]:
        space = self.problem.space
        state = {
            "genomes": [space.to_array(g) for g in self.genomes],
            "fitness": self.fitness,
            "ids": list(self.ids),
            "next_id": self.next_id,
            "stale": self.stale,
            "low_diversity": self.low_diversity,
            "restarts": self.restarts,
        }
        if self.succession is not None:
            state["succession"] = self.succession.state_dict()
        return state

    def _load_state(self, state: dict[str, Any]) -> None:
        space = self.problem.space
        self.genomes = [space.from_array(a) for a in state["genomes"]]
        self.fitness = np.asarray(state["fitness"], float)
        self.ids = [int(i) for i in state["ids"]]
        self.next_id = int(state["next_id"])
        self.stale = int(state["stale"])
        self.low_diversity = int(state.get("low_diversity", 0))  # checkpoints from before restarts existed
        self.restarts = int(state.get("restarts", 0))
        if self.succession is not None:
            self.succession.load_state_dict(state["succession"])
