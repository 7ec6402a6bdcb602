"""Memetic engine: a population search whose new individuals are improved by a local search (Lamarckian)."""

from __future__ import annotations

from typing import Any

import numpy as np

from gfopt.core.evolution import PopulationEngine
from gfopt.core.local_search import Descent, resolve_neighbourhood
from gfopt.core.operators import Crossover, Mutation, Neighbourhood, Selection
from gfopt.core.problem import Problem


class MemeticEngine(PopulationEngine):
    """GA generations (crossover, mutation, selection) where every new individual first descends in `neighbourhood`.

    The initial population (with `improve_initial`) descends to local optima: the same starts and descents as a
    local search with population_size - 1 restarts, so the memetic result is never worse than that search's. Each
    later child takes up to `local_steps` `Descent` steps (null: until a local optimum) and replaces itself with the
    result, so crossover recombines local optima. On dag_topo the descent's moves are scored from their base order
    (the fast swap scoring); on llm_evo they are sparse Gaussian steps. `neighbourhood` null takes the problem's
    default; `max_escalations` null takes the neighbourhood's own limit (per individual).
    """

    def __init__(
        self,
        population_size: int,
        selection: Selection,
        crossover: Crossover | None = None,
        mutation: Mutation | None = None,
        neighbourhood: Neighbourhood | None = None,
        local_steps: int | None = None,
        multi_accept: bool = True,
        max_escalations: int | None = None,
        improve_initial: bool = True,
        crossover_rate: float = 0.8,
        individual_mutation_rate: float = 0.2,
        patience: int | None = None,
        generations: int | None = None,
    ) -> None:
        super().__init__(population_size, selection, crossover=crossover, mutation=mutation,
                         crossover_rate=crossover_rate, individual_mutation_rate=individual_mutation_rate,
                         patience=patience, generations=generations)
        self.neighbourhood = neighbourhood
        self.local_steps = local_steps
        self.multi_accept = multi_accept
        self.max_escalations = max_escalations
        self.improve_initial = improve_initial
        self.local_moves = 0

    def operators(self) -> dict[str, Any]:
        return {**super().operators(), "neighbourhood": self.neighbourhood}

    def setup(self, problem: Problem, rng: np.random.Generator) -> None:
        """Take the problem's default neighbourhood when none is configured, then check and bind everything."""
        self.neighbourhood = resolve_neighbourhood(self, self.neighbourhood, problem)
        super().setup(problem, rng)

    def _improve(self, genomes: list[Any], fitness: np.ndarray):
        initial = not self.genomes
        if initial and not self.improve_initial:
            return genomes, fitness
        limit = self.max_escalations if self.max_escalations is not None else self.neighbourhood.max_escalations
        max_steps = None if initial else self.local_steps
        out, fit = list(genomes), np.array(fitness, dtype=float)
        for i in range(len(out)):
            descent = Descent(self.neighbourhood, self.multi_accept, limit)
            steps = 0
            while max_steps is None or steps < max_steps:
                moved = yield from descent.step(self, out[i], float(fit[i]))
                if moved is None:
                    break
                out[i], fit[i], n = moved
                self.local_moves += n
                steps += 1
        return out, fit

    def report(self) -> dict[str, Any]:
        return {"neighbourhood": self.neighbourhood.describe(), "local_moves": self.local_moves}

    def _state(self) -> dict[str, Any]:
        return {**super()._state(), "local_moves": self.local_moves,
                "neighbourhood": self.neighbourhood.state_dict()}

    def _load_state(self, state: dict[str, Any]) -> None:
        super()._load_state(state)
        self.local_moves = int(state["local_moves"])
        self.neighbourhood.load_state_dict(state.get("neighbourhood") or {})
