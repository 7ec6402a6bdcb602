"""Typed operators that Hydra builds with `_target_`. They belong to a representation, not a problem."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from gfopt.core.problem import Genome


@runtime_checkable
class Crossover(Protocol):
    """Combine parents into one child; `weights` (summing to 1) say how much each parent counts."""

    def __call__(self, parents: Sequence[Genome], weights: np.ndarray, rng: np.random.Generator) -> Genome: ...


@runtime_checkable
class Mutation(Protocol):
    """Return a perturbed copy of a genome (never modify the input)."""

    def __call__(self, genome: Genome, rng: np.random.Generator) -> Genome: ...


@runtime_checkable
class Selection(Protocol):
    """Pick `n` survivors; `scores` are 'higher is better'. Returns indices into the population."""

    def __call__(self, scores: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray: ...


@runtime_checkable
class Succession(Protocol):
    """Move individuals (e.g. a particle-swarm step); keeps per-individual memory keyed by id."""

    def move(
        self, genomes: Sequence[Genome], scores: np.ndarray, ids: Sequence[int], generation: int,
        rng: np.random.Generator,
    ) -> list[Genome]: ...

    def update(self, ids: Sequence[int], genomes: Sequence[Genome], scores: np.ndarray) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@runtime_checkable
class Neighbourhood(Protocol):
    """Moves around a point, in `levels` of growing size (level 0 first, larger ones on escalation)."""

    levels: int

    def moves(self, current: Genome, level: int, rng: np.random.Generator) -> list[Any]: ...

    def apply(self, current: Genome, moves: Sequence[Any]) -> Genome: ...

    def overlaps(self, a: Any, b: Any) -> bool: ...
