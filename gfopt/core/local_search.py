"""Local-search engine: batched neighbourhoods, greedy multi-accept, escalation, restarts."""

from __future__ import annotations

from typing import Any

import numpy as np

from gfopt.core.engine import Engine, StepGenerator
from gfopt.core.operators import Neighbourhood
from gfopt.core.problem import Problem


class LocalSearchEngine(Engine):
    """One step = one improving move (or a set of compatible ones) from the current point.

    Each step evaluates the moves of neighbourhood level 0 as one batch; without an improving move it
    escalates to the next level (at most `max_escalations` times over a run; null asks the neighbourhood's own
    `max_escalations` attribute, unlimited when it has none). With `multi_accept`,
    improving moves are applied greedily, best first, when they do not `overlap` an accepted one; the
    combined point is evaluated and kept only if it beats the best single move. At a local optimum the
    search restarts from the next starting point (`restarts` more, drawn once up front with
    `problem.initial`; null asks the problem's `default_restarts`, 0 when it has none) and converges after
    the last; the best point over all starts is the result.
    """

    def __init__(
        self,
        neighbourhood: Neighbourhood | None = None,
        multi_accept: bool = True,
        max_escalations: int | None = None,
        restarts: int | None = 0,
    ) -> None:
        super().__init__()
        self.neighbourhood = neighbourhood
        self.multi_accept = multi_accept
        self.max_escalations = max_escalations
        self.restarts = restarts
        self.starts: list[Any] = []
        self.start_index = -1
        self.current: Any = None
        self.current_fitness = float("nan")
        self.escalation_limit: int | None = max_escalations
        self.restart_count = restarts or 0
        self.escalations = 0
        self.accepted_moves = 0
        self.optima: list[float] = []

    def setup(self, problem: Problem, rng: np.random.Generator) -> None:
        """Bind the problem; take its default neighbourhood when none was configured."""
        super().setup(problem, rng)
        if self.neighbourhood is None:
            if not hasattr(problem, "default_neighbourhood"):
                raise ValueError(f"engine.neighbourhood: {type(problem).__name__} has no default; set one")
            self.neighbourhood = problem.default_neighbourhood()
        bind = getattr(self.neighbourhood, "bind", None)
        if bind is not None:
            bind(problem)
        r = self.restarts
        self.restart_count = int(r if r is not None else getattr(problem, "default_restarts", 0))
        limit = self.max_escalations
        self.escalation_limit = limit if limit is not None else getattr(self.neighbourhood, "max_escalations", None)

    def _step(self) -> StepGenerator:
        if not self.starts:
            self.starts = list(self.problem.initial(self.restart_count + 1, self.rng))
        if self.current is None:
            self.start_index += 1
            start = self.starts[self.start_index]
            fit = yield [start]
            self.current, self.current_fitness = start, float(fit[0])
            return
        nb = self.neighbourhood
        for level in range(nb.levels):
            if level > 0 and self.escalation_limit is not None and self.escalations >= self.escalation_limit:
                break
            moves = nb.moves(self.current, level, self.rng)
            if not moves:
                continue
            if level > 0:
                self.escalations += 1
            candidates = [nb.apply(self.current, [m]) for m in moves]
            fit = np.asarray((yield candidates), dtype=float)
            order = np.argsort(-self.scores(fit), kind="stable")
            improving = order[self.improves(fit, self.current_fitness)[order]].tolist()
            if not improving:
                continue
            best_k = improving[0]
            new, new_fit, n_moves = candidates[best_k], float(fit[best_k]), 1
            if self.multi_accept and len(improving) > 1:
                chosen = [moves[best_k]]
                for k in improving[1:]:
                    if not any(nb.overlaps(moves[k], c) for c in chosen):
                        chosen.append(moves[k])
                if len(chosen) > 1:
                    combined = nb.apply(self.current, chosen)
                    comb_fit = float((yield [combined])[0])
                    if self._better(comb_fit, new_fit):
                        new, new_fit, n_moves = combined, comb_fit, len(chosen)
            self.current, self.current_fitness = new, new_fit
            self.accepted_moves += n_moves
            return
        # no level improved: a local optimum
        self.optima.append(self.current_fitness)
        if self.start_index + 1 < len(self.starts):
            self.current = None
        else:
            self.converged = True

    def population(self) -> tuple[list[Any], np.ndarray]:
        if self.current is None:
            return super().population()
        return [self.current], np.array([self.current_fitness])

    def status(self) -> dict[str, Any]:
        out = super().status()
        out.update(current=self.current_fitness, start=self.start_index, escalations=self.escalations)
        return out

    def _state(self) -> dict[str, Any]:
        p = self.problem
        return {
            "starts": [p.to_array(s) for s in self.starts],
            "start_index": self.start_index,
            "current": None if self.current is None else p.to_array(self.current),
            "current_fitness": self.current_fitness,
            "escalations": self.escalations,
            "accepted_moves": self.accepted_moves,
            "optima": list(self.optima),
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        p = self.problem
        self.starts = [p.from_array(s) for s in state["starts"]]
        self.start_index = int(state["start_index"])
        self.current = None if state["current"] is None else p.from_array(state["current"])
        self.current_fitness = float(state["current_fitness"])
        self.escalations = int(state["escalations"])
        self.accepted_moves = int(state["accepted_moves"])
        self.optima = [float(x) for x in state["optima"]]
