"""Population engine: crossover, mutation, selection, optional succession and elitism (GENOME, GENOME+)."""

from __future__ import annotations

from typing import Any

import numpy as np

from gfopt.core.engine import Budget, Engine, StepGenerator
from gfopt.core.operators import Crossover, Mutation, Selection, Succession
from gfopt.core.operators.selection import positive_weights, roulette


class PopulationEngine(Engine):
    """One generation = [succession ->] crossover + mutation -> selection.

    Crossover: len(pop)//2 attempts, each with probability `crossover_rate`; two distinct parents by
    roulette; the child is a merge weighted by the parents' fitness; parents stay. Mutation: each
    individual spawns a mutated copy with probability `individual_mutation_rate`. Selection: down to
    `population_size` every generation, or, when `max_population` is set (GENOME+), only once the
    population exceeds it. `patience` stops after that many generations without a new best; `generations`
    (optional) caps the number of generations after the initial population: step 0 evaluates the initial
    population, so `generations=3` runs 4 steps and ends with `stopped_by: generations`.
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
    ) -> None:
        super().__init__()
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
            moved = self.succession.move(self.genomes, self.scores(self.fitness), self.ids, self.steps - 1, rng)
            fit = yield moved
            self.genomes, self.fitness = moved, np.asarray(fit, float)
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

    def _state(self) -> dict[str, Any]:
        space = self.problem.space
        state = {
            "genomes": [space.to_array(g) for g in self.genomes],
            "fitness": self.fitness,
            "ids": list(self.ids),
            "next_id": self.next_id,
            "stale": self.stale,
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
        if self.succession is not None:
            self.succession.load_state_dict(state["succession"])
