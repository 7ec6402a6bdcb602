"""The `Problem` contract: what an engine needs from a problem, and nothing more.

Every hook an engine may use is declared here with its default, so an engine never probes a problem with
`getattr`: the search space, starting points, batched evaluation, the default neighbourhood and restarts of a
local search, problem-side checkpoint state, and the end-of-run outputs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from gfopt.core.space import Space

if TYPE_CHECKING:
    from gfopt.core.engine import Comparison, RunResult
    from gfopt.core.operators import Neighbourhood

Genome = Any
"""Opaque to the core: a permutation for dag_topo, a LoRA parameter vector for llm_evo."""


class Problem(ABC):
    """An objective over genomes of one `space`, evaluated in batches so the problem decides how to vectorize."""

    sense: Literal["min", "max"] = "min"
    space_kind: ClassVar[str] = "any"
    """The kind of `space` (see `gfopt.core.space`), known before the problem is built (checked from config)."""

    @classmethod
    def kind_for(cls, config: Any) -> str:
        """The space kind a problem built from `config` will search (override when the config picks it)."""
        return cls.space_kind

    @property
    @abstractmethod
    def space(self) -> Space:
        """The search space: sampling, checkpoint arrays, which operators fit."""

    def initial(self, n: int, rng: np.random.Generator) -> list[Genome]:
        """Return `n` starting genomes drawn with `rng` (default: the space's sampler)."""
        return self.space.sample(n, rng)

    @abstractmethod
    def evaluate(self, genomes: Sequence[Genome]) -> np.ndarray:
        """Return one float fitness per genome, in the problem's `sense`.

        `genomes` may be a `MoveBatch` (moves from one base genome): a problem that can score moves from
        their base faster than whole genomes checks for it; any other problem reads it as a list.
        """

    def remote_batch(self, genomes: Sequence[Genome]) -> Sequence[Genome] | None:
        """The part of a batch worth sending to parallel workers (default: all of it; None: evaluate here)."""
        return genomes

    def evaluate_remote(self, genomes: Sequence[Genome]) -> tuple[np.ndarray, Any]:
        """In a worker: the fitness of a chunk, and anything the parent's `absorb` needs (default: nothing)."""
        return self.evaluate(genomes), None

    def absorb(self, genomes: Sequence[Genome], fitness: np.ndarray, extras: list[Any]) -> np.ndarray | None:
        """In the parent: take the workers' results for `remote_batch`'s genomes. Return the batch's fitness, or
        None to have `evaluate` compute it now (from a cache the results filled)."""
        return fitness

    def default_neighbourhood(self) -> Neighbourhood | None:
        """The neighbourhood a local search uses when none is configured (None: the user must set one)."""
        return None

    def default_restarts(self) -> int:
        """Random restarts of a local search when the engine's `restarts` is null."""
        return 0

    def state_dict(self) -> dict[str, Any]:
        """Problem-side state that changes during a run and shows in its results (checkpointed with the engine)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of `state_dict`."""

    def save(self, genome: Genome, path: Path) -> None:
        """Write `genome` in the problem's native format (default: a .npy array)."""
        np.save(Path(path).with_suffix(".npy"), np.asarray(genome))

    def comparisons(self, result: RunResult) -> list[Comparison]:
        """Runs to make after the main one, each with its own budget, history and checkpoint (baselines)."""
        return []

    def finalize(self, result: RunResult, outdir: Path, comparisons: dict[str, RunResult] | None = None
                 ) -> dict[str, Any]:
        """Called once after the run (and its comparisons): write problem-specific outputs, return extra
        `result.json` fields."""
        return {}
