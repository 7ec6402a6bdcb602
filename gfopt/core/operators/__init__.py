"""Typed operators that Hydra builds with `_target_`. They belong to a representation (a space kind), not a problem.

Every operator declares `space` (the kind of genome it works on, see `gfopt.core.space`) and may `bind` to the
problem to learn its layout; engines check `space` against the problem's space before the first evaluation.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from gfopt.core.problem import Genome
from gfopt.core.space import ANY


class Operator:
    """Base of all operators: the space kind it works on, and an optional binding to the problem."""

    space: str = ANY

    def bind(self, problem: Any) -> None:
        """Learn what the operator needs from the problem (a genome layout, a fit function); default: nothing."""


class Crossover(Operator, ABC):
    """Combine parents into one child; `weights` (summing to 1) say how much each parent counts."""

    @abstractmethod
    def __call__(self, parents: Sequence[Genome], weights: np.ndarray, rng: np.random.Generator) -> Genome: ...


class Mutation(Operator, ABC):
    """Return a perturbed copy of a genome (never modify the input)."""

    @abstractmethod
    def __call__(self, genome: Genome, rng: np.random.Generator) -> Genome: ...


class Selection(Operator, ABC):
    """Pick `n` survivors; `scores` are 'higher is better'. Returns indices into the population."""

    @abstractmethod
    def __call__(self, scores: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray: ...


class Succession(Operator, ABC):
    """Move individuals (e.g. a particle-swarm step); keeps per-individual memory keyed by id."""

    @abstractmethod
    def move(
        self, genomes: Sequence[Genome], scores: np.ndarray, ids: Sequence[int], generation: int,
        rng: np.random.Generator,
    ) -> list[Genome]: ...

    @abstractmethod
    def update(self, ids: Sequence[int], genomes: Sequence[Genome], scores: np.ndarray) -> None: ...

    def forget(self, keep_ids: Sequence[int]) -> None:
        """Drop memory of individuals no longer in the population (default: keep everything)."""

    @abstractmethod
    def state_dict(self) -> dict[str, Any]: ...

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class Neighbourhood(Operator, ABC):
    """Moves around a point, in `levels` of growing size (level 0 first, larger ones on escalation).

    `max_escalations` is how often a level above 0 may run over a whole search (None: unlimited).
    """

    levels: int = 1
    max_escalations: int | None = None

    @abstractmethod
    def moves(self, current: Genome, level: int, rng: np.random.Generator) -> list[Any]: ...

    @abstractmethod
    def apply(self, current: Genome, moves: Sequence[Any]) -> Genome: ...

    @abstractmethod
    def overlaps(self, a: Any, b: Any) -> bool: ...

    def describe(self) -> dict[str, Any]:
        """Settings as resolved for this problem (reported in result.json); default: none."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """What the neighbourhood remembers between steps (checkpointed by the engines); default: nothing."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of `state_dict`."""


class MoveBatch(Sequence):
    """Moves from one base genome, read as the list of genomes they lead to (built lazily).

    This is the explicit form of "score these moves from this base": a problem that can score a move from its
    base (dag_topo's swap scoring) reads `base` and `moves`; any other problem indexes it like a list.
    """

    def __init__(self, base: Genome, moves: Sequence[Any], neighbourhood: Neighbourhood) -> None:
        self.base = base
        self.moves = list(moves)
        self.neighbourhood = neighbourhood

    def __len__(self) -> int:
        return len(self.moves)

    def __getitem__(self, k: Any) -> Any:
        if isinstance(k, slice):
            return [self.neighbourhood.apply(self.base, [m]) for m in self.moves[k]]
        return self.neighbourhood.apply(self.base, [self.moves[k]])
