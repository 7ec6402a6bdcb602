"""Operators for real vectors (numpy arrays of any shape; operations are element-wise)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gfopt.core.operators import Crossover, Mutation, Neighbourhood
from gfopt.core.space import REAL


class Blend(Crossover):
    """Weighted linear merge: child = sum_k w_k * parent_k (weights sum to 1)."""

    space = REAL

    def __call__(self, parents: Sequence[np.ndarray], weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        w = np.asarray(weights, dtype=np.float64)
        out = np.zeros_like(np.asarray(parents[0]), dtype=np.result_type(parents[0], np.float32))
        for wk, p in zip(w, parents, strict=True):
            out += wk * np.asarray(p)
        return out


def sparse_gaussian(shape: tuple[int, ...], sigma: float, gene_rate: float, rng: np.random.Generator) -> np.ndarray:
    """N(0, sigma^2) on a Bernoulli(`gene_rate`) random subset of the entries, zero elsewhere (float64)."""
    mask = rng.random(shape) < gene_rate
    delta = np.zeros(shape)
    delta[mask] = sigma * rng.standard_normal(int(mask.sum()))
    return delta


class GaussianMask(Mutation):
    """Add N(0, sigma^2) noise to a Bernoulli(`gene_rate`) random subset of the entries (GENOME's mutation)."""

    space = REAL

    def __init__(self, sigma: float = 0.01, gene_rate: float = 0.01) -> None:
        self.sigma = sigma
        self.gene_rate = gene_rate
        self.new_genome = None

    def bind(self, problem: object) -> None:
        """Allocate mutants where the problem keeps genomes (its `new_genome(values)`, if it has one)."""
        self.new_genome = getattr(problem, "new_genome", None)

    def __call__(self, genome: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        x = np.asarray(genome)
        mask = rng.random(x.shape) < self.gene_rate  # the random stream of `sparse_gaussian`, without a dense delta
        out = np.array(x, copy=True) if self.new_genome is None else self.new_genome(x)
        noise = self.sigma * rng.standard_normal(int(mask.sum()))
        out[mask] = (out[mask].astype(np.float64) + noise).astype(out.dtype)
        return out


class GaussianNeighbourhood(Neighbourhood):
    """`size` random sparse Gaussian steps around the point (GENOME's mutation as a local-search move).

    Each step moves a Bernoulli(`gene_rate`) subset of the entries (at least one) by N(0, (sigma * scale)^2).
    A move is `(seed, level)`: the step is regenerated from its seed, so moves are small to store and send.
    Level k uses sigma * scales[k] (default: the configured step, then one ten times smaller when no step
    improves). Moves never overlap: the engine may try the sum of several improving steps, and keeps it only
    when it beats the best single step. Points are clipped to the space's bounds, if any.
    """

    space = REAL

    def __init__(self, size: int = 8, sigma: float = 0.01, gene_rate: float = 0.01,
                 scales: Sequence[float] = (1.0, 0.1)) -> None:
        if size < 1:
            raise ValueError(f"GaussianNeighbourhood: size must be >= 1, got {size}")
        self.size, self.sigma, self.gene_rate = int(size), float(sigma), float(gene_rate)
        self.scales = tuple(float(s) for s in scales)
        self.levels = len(self.scales)
        self.max_escalations = None
        self._space: Any = None

    def bind(self, problem: Any) -> None:
        """Learn the problem's space (for its bounds)."""
        self._space = problem.space

    def moves(self, current: np.ndarray, level: int, rng: np.random.Generator) -> list[tuple[int, int]]:
        return [(int(s), level) for s in rng.integers(2**63 - 1, size=self.size)]

    def step(self, shape: tuple[int, ...], move: tuple[int, int]) -> np.ndarray:
        """The step of one move (deterministic in its seed); at least one entry moves, so short vectors move too."""
        seed, level = move
        rng = np.random.default_rng(seed)
        delta = sparse_gaussian(shape, self.sigma * self.scales[level], self.gene_rate, rng)
        if not delta.any():
            delta.flat[int(rng.integers(delta.size))] = self.sigma * self.scales[level] * rng.standard_normal()
        return delta

    def apply(self, current: np.ndarray, moves: Sequence[tuple[int, int]]) -> np.ndarray:
        x = np.asarray(current)
        out = x.astype(np.float64)
        for m in moves:
            out += self.step(x.shape, m)
        if self._space is not None and hasattr(self._space, "clip"):
            out = self._space.clip(out)
        return out.astype(x.dtype)

    def overlaps(self, a: Any, b: Any) -> bool:
        return False

    def describe(self) -> dict[str, Any]:
        return {"size": self.size, "sigma": self.sigma, "gene_rate": self.gene_rate, "scales": list(self.scales)}
