"""The `Problem` contract: what an engine needs from a problem, and nothing more."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

Genome = Any
"""Opaque to the core: a permutation for dag_topo, a LoRA parameter vector for llm_evo."""


class Problem(ABC):
    """An objective over genomes, evaluated in batches so the problem decides how to vectorize or cache."""

    sense: Literal["min", "max"] = "min"

    @abstractmethod
    def initial(self, n: int, rng: np.random.Generator) -> list[Genome]:
        """Return `n` starting genomes drawn with `rng` (the only source of randomness)."""

    @abstractmethod
    def evaluate(self, genomes: Sequence[Genome]) -> np.ndarray:
        """Return one float fitness per genome, in the problem's `sense`."""

    def save(self, genome: Genome, path: Path) -> None:
        """Write `genome` in the problem's native format (default: a .npy array)."""
        np.save(Path(path).with_suffix(".npy"), np.asarray(genome))

    def to_array(self, genome: Genome) -> np.ndarray:
        """Genome -> numpy array, for checkpoints. Override with `from_array` for non-array genomes."""
        return np.asarray(genome)

    def from_array(self, array: np.ndarray) -> Genome:
        """Inverse of `to_array`."""
        return array

    def finalize(self, result: Any, outdir: Path) -> dict[str, Any]:
        """Called once after the run: write problem-specific outputs, return extra `result.json` fields."""
        return {}
