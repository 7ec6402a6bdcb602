"""Local-search engine: batched neighbourhoods, greedy multi-accept, escalation, restarts."""

from __future__ import annotations

from typing import Any

import numpy as np

from gfopt.core.engine import Engine, StepGenerator
from gfopt.core.operators import MoveBatch, Neighbourhood
from gfopt.core.problem import Problem
from gfopt.errors import ConfigError


def resolve_neighbourhood(engine: Engine, neighbourhood: Neighbourhood | None, problem: Problem) -> Neighbourhood:
    """The configured neighbourhood, or the problem's default; a one-line error when there is neither."""
    if neighbourhood is not None:
        return neighbourhood
    nb = problem.default_neighbourhood()
    if nb is None:
        name = getattr(problem, "name", type(problem).__name__)
        raise ConfigError(f"engine.neighbourhood: {name} has no default neighbourhood; set engine.neighbourhood "
                          f"(a _target_ such as gfopt.core.operators.real.GaussianNeighbourhood)")
    return nb


class Descent:
    """One improving move (or a set of compatible ones) from a point, through a neighbourhood's levels.

    Level 0's moves are one batch (a `MoveBatch`, so a problem may score them from the point); without an
    improving move it escalates to the next level (at most `escalation_limit` times over its life; None:
    unlimited). With `multi_accept`, improving moves are applied greedily, best first, when they do not
    `overlap` an accepted one; the combined point is evaluated and kept only if it beats the best single move.
    Shared by the local-search and memetic engines.
    """

    def __init__(self, neighbourhood: Neighbourhood, multi_accept: bool, escalation_limit: int | None) -> None:
        self.nb = neighbourhood
        self.multi_accept = multi_accept
        self.escalation_limit = escalation_limit
        self.escalations = 0

    def step(self, engine: Engine, current: Any, current_fitness: float) -> StepGenerator:
        """Yield batches; return (new point, its fitness, moves applied), or None at a local optimum."""
        nb = self.nb
        for level in range(nb.levels):
            if level > 0 and self.escalation_limit is not None and self.escalations >= self.escalation_limit:
                break
            moves = nb.moves(current, level, engine.rng)
            if not moves:
                continue
            if level > 0:
                self.escalations += 1
            batch = MoveBatch(current, moves, nb)
            fit = np.asarray((yield batch), dtype=float)
            order = np.argsort(-engine.scores(fit), kind="stable")
            improving = order[engine.improves(fit, current_fitness)[order]].tolist()
            if not improving:
                continue
            best_k = improving[0]
            new, new_fit, n_moves = batch[best_k], float(fit[best_k]), 1
            if self.multi_accept and len(improving) > 1:
                chosen = [moves[best_k]]
                for k in improving[1:]:
                    if not any(nb.overlaps(moves[k], c) for c in chosen):
                        chosen.append(moves[k])
                if len(chosen) > 1:
                    combined = nb.apply(current, chosen)
                    comb_fit = float((yield [combined])[0])
                    if engine._better(comb_fit, new_fit):
                        new, new_fit, n_moves = combined, comb_fit, len(chosen)
            return new, new_fit, n_moves
        return None


class LocalSearchEngine(Engine):
    """One step = one `Descent` step (an improving move, or a compatible set) from the current point.

    At a local optimum the search restarts from the next starting point (`restarts` more, drawn once up front
    with `problem.initial`; null asks the problem's `default_restarts()`) and converges after the last; the best
    point over all starts is the result. `neighbourhood` null takes the problem's `default_neighbourhood()`;
    `max_escalations` null takes the neighbourhood's own limit.
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
        self.restart_count = restarts or 0
        self.accepted_moves = 0
        self.descent: Descent | None = None

    def operators(self) -> dict[str, Any]:
        return {"neighbourhood": self.neighbourhood}

    def setup(self, problem: Problem, rng: np.random.Generator) -> None:
        """Bind the problem; take its default neighbourhood and restarts where none are configured."""
        self.neighbourhood = resolve_neighbourhood(self, self.neighbourhood, problem)
        super().setup(problem, rng)
        r = self.restarts
        self.restart_count = int(r if r is not None else problem.default_restarts())
        limit = self.max_escalations if self.max_escalations is not None else self.neighbourhood.max_escalations
        self.descent = Descent(self.neighbourhood, self.multi_accept, limit)

    def _step(self) -> StepGenerator:
        if not self.starts:
            self.starts = list(self.problem.initial(self.restart_count + 1, self.rng))
        if self.current is None:
            self.start_index += 1
            start = self.starts[self.start_index]
            fit = yield [start]
            self.current, self.current_fitness = start, float(fit[0])
            return
        moved = yield from self.descent.step(self, self.current, self.current_fitness)
        if moved is not None:
            self.current, self.current_fitness, n_moves = moved
            self.accepted_moves += n_moves
        elif self.start_index + 1 < len(self.starts):  # a local optimum: the next start
            self.current = None
        else:
            self.converged = True

    def population(self) -> tuple[list[Any], np.ndarray]:
        if self.current is None:
            return super().population()
        return [self.current], np.array([self.current_fitness])

    def report(self) -> dict[str, Any]:
        return {"neighbourhood": self.neighbourhood.describe(), "restarts": self.restart_count,
                "accepted_moves": self.accepted_moves}

    def status(self) -> dict[str, Any]:
        out = super().status()
        out.update(current=self.current_fitness, start=self.start_index, escalations=self.descent.escalations)
        return out

    def _state(self) -> dict[str, Any]:
        space = self.problem.space
        return {
            "starts": [space.to_array(s) for s in self.starts],
            "start_index": self.start_index,
            "current": None if self.current is None else space.to_array(self.current),
            "current_fitness": self.current_fitness,
            "escalations": self.descent.escalations,
            "accepted_moves": self.accepted_moves,
            "neighbourhood": self.neighbourhood.state_dict(),
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        space = self.problem.space
        self.starts = [space.from_array(s) for s in state["starts"]]
        self.start_index = int(state["start_index"])
        self.current = None if state["current"] is None else space.from_array(state["current"])
        self.current_fitness = float(state["current_fitness"])
        self.descent.escalations = int(state["escalations"])
        self.accepted_moves = int(state["accepted_moves"])
        self.neighbourhood.load_state_dict(state.get("neighbourhood") or {})
