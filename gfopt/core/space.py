"""Search spaces: what a genome is. A problem declares one; operators declare the kind they work on.

A space samples genomes, converts them to and from the arrays stored in checkpoints, and answers whether an
operator fits it. Kinds form a small hierarchy written as paths: an operator for `real` fits every real-vector
space (`real/lora` included); one for `real/lora` (merging LoRA adapters) fits only that sub-kind.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

PERMUTATION = "permutation"
REAL = "real"
ANY = "any"

KIND_WORDS = {
    PERMUTATION: "permutations",
    REAL: "real vectors",
    "real/lora": "LoRA parameter vectors",
    "real/coefficients": "real vectors (merge coefficients)",
}


def fits(operator_kind: str, space_kind: str) -> bool:
    """True when an operator declared for `operator_kind` works on genomes of `space_kind`."""
    return operator_kind == ANY or space_kind == operator_kind or space_kind.startswith(operator_kind + "/")


def describe_kind(kind: str) -> str:
    """Words for a kind, as used in one-line errors ("permutations", "real vectors", ...)."""
    return KIND_WORDS.get(kind, kind)


class Space(ABC):
    """The set a problem searches: sampling and the checkpoint array form of its genomes."""

    kind: str = ANY
    dtype: Any = np.float64

    @abstractmethod
    def sample(self, n: int, rng: np.random.Generator) -> list[np.ndarray]:
        """`n` genomes drawn with `rng`."""

    def to_array(self, genome: Any) -> np.ndarray:
        """Genome -> the array stored in checkpoints (in this space's dtype)."""
        return np.asarray(genome, dtype=self.dtype)

    def from_array(self, array: np.ndarray) -> np.ndarray:
        """Checkpoint array -> genome."""
        return np.asarray(array, dtype=self.dtype)

    def fits(self, operator_kind: str) -> bool:
        """Whether an operator declared for `operator_kind` works here."""
        return fits(operator_kind, self.kind)


class PermutationSpace(Space):
    """Orderings of `d` items: int64 arrays holding 0..d-1 once each."""

    kind = PERMUTATION
    dtype = np.int64

    def __init__(self, d: int) -> None:
        if d < 2:
            raise ValueError(f"PermutationSpace: d must be >= 2, got {d}")
        self.d = int(d)

    def sample(self, n: int, rng: np.random.Generator) -> list[np.ndarray]:
        return [rng.permutation(self.d).astype(np.int64) for _ in range(n)]

    def contains(self, genome: Any) -> bool:
        """True for a permutation of range(d)."""
        g = np.asarray(genome)
        return g.shape == (self.d,) and np.array_equal(np.sort(g), np.arange(self.d))


class RealVectorSpace(Space):
    """Real vectors of `size` numbers (float32 by default), optionally inside [lower, upper] per entry.

    `kind` may name a sub-kind (`real/lora`: a LoRA parameter vector) so that operators that need the
    structure (merging adapters per layer) are told apart from generic real-vector operators.
    """

    def __init__(self, size: int, lower: float | np.ndarray | None = None, upper: float | np.ndarray | None = None,
                 kind: str = REAL, dtype: Any = np.float32) -> None:
        if size < 1:
            raise ValueError(f"RealVectorSpace: size must be >= 1, got {size}")
        if not (kind == REAL or kind.startswith(REAL + "/")):
            raise ValueError(f"RealVectorSpace: kind must be 'real' or 'real/<sub-kind>', got {kind!r}")
        self.size = int(size)
        self.kind = kind
        self.dtype = dtype
        self.lower = None if lower is None else np.broadcast_to(np.asarray(lower, float), (self.size,))
        self.upper = None if upper is None else np.broadcast_to(np.asarray(upper, float), (self.size,))

    @property
    def bounded(self) -> bool:
        """True when both bounds are given."""
        return self.lower is not None and self.upper is not None

    def sample(self, n: int, rng: np.random.Generator) -> list[np.ndarray]:
        """Uniform inside the bounds; standard normal (clipped to any one-sided bound) without them."""
        if self.bounded:
            return [rng.uniform(self.lower, self.upper).astype(self.dtype) for _ in range(n)]
        return [self.clip(rng.standard_normal(self.size)).astype(self.dtype) for _ in range(n)]

    def clip(self, x: np.ndarray) -> np.ndarray:
        """`x` moved inside the bounds (unchanged when there are none)."""
        if self.lower is None and self.upper is None:
            return x
        return np.clip(x, self.lower, self.upper)
