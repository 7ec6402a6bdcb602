"""A small travelling-salesman problem on random cities: the core's demo and test problem for permutations."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gfopt.core.config import check
from gfopt.core.operators.permutation import SwapNeighbourhood
from gfopt.core.problem import Problem
from gfopt.core.schema import schema_of
from gfopt.core.space import PERMUTATION, PermutationSpace


def tour_lengths(dist: np.ndarray, tours: np.ndarray) -> np.ndarray:
    """Closed-tour lengths for a batch of tours (rows), vectorized."""
    tours = np.atleast_2d(tours)
    return dist[tours, np.roll(tours, -1, axis=1)].sum(axis=1)


class TspProblem(Problem):
    """Minimize the closed tour length through `cities` uniform random points in the unit square."""

    sense = "min"
    space_kind = PERMUTATION

    def __init__(self, name: str = "tsp", cities: int = 12, instance_seed: int = 0, delay_s: float = 0.0,
                 coords: np.ndarray | None = None) -> None:
        """`delay_s`: a simulated cost per evaluated batch (demos of progress, checkpoints, sweeps)."""
        check(cities >= 3, "problem.cities", f"must be >= 3, got {cities}")
        check(delay_s >= 0, "problem.delay_s", f"must be >= 0, got {delay_s}")
        self.name = name
        self.delay_s = delay_s
        if coords is None:
            coords = np.random.default_rng(instance_seed).random((cities, 2))
        self.coords = np.asarray(coords, dtype=float)
        self.dist = np.linalg.norm(self.coords[:, None] - self.coords[None], axis=-1)
        self._space = PermutationSpace(len(self.coords))

    @property
    def space(self) -> PermutationSpace:
        """Tours: permutations of the cities."""
        return self._space

    def evaluate(self, genomes: Sequence[np.ndarray]) -> np.ndarray:
        if self.delay_s:
            time.sleep(self.delay_s)
        return tour_lengths(self.dist, np.asarray(genomes))

    def default_neighbourhood(self) -> SwapNeighbourhood:
        """Local search on tours: all position swaps."""
        return SwapNeighbourhood()

    def finalize(self, result: Any, outdir: Path, comparisons: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"tour": [int(x) for x in result.best], "length": float(result.best_fitness)}

    def save(self, genome: np.ndarray, path: Path) -> None:
        Path(path).with_suffix(".json").write_text(json.dumps([int(x) for x in genome]))


def register(cs: Any) -> None:
    """Store the schema (the constructor's arguments) in Hydra's ConfigStore."""
    cs.store(group="schema/problem", name="tsp", node=schema_of(TspProblem))
