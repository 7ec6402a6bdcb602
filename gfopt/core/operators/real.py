"""Operators for real vectors (numpy arrays of any shape; operations are element-wise)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class Blend:
    """Weighted linear merge: child = sum_k w_k * parent_k (weights sum to 1)."""

    def __call__(self, parents: Sequence[np.ndarray], weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        w = np.asarray(weights, dtype=np.float64)
        out = np.zeros_like(np.asarray(parents[0]), dtype=np.result_type(parents[0], np.float32))
        for wk, p in zip(w, parents, strict=True):
            out += wk * np.asarray(p)
        return out


class GaussianMask:
    """Add N(0, sigma^2) noise to a Bernoulli(`gene_rate`) random subset of the entries."""

    def __init__(self, sigma: float = 0.01, gene_rate: float = 0.01) -> None:
        self.sigma = sigma
        self.gene_rate = gene_rate
        self.new_genome = None

    def bind(self, problem: object) -> None:
        """Allocate mutants where the problem keeps genomes (its `new_genome(values)`, if it has one)."""
        self.new_genome = getattr(problem, "new_genome", None)

    def __call__(self, genome: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        x = np.asarray(genome)
        mask = rng.random(x.shape) < self.gene_rate
        out = np.array(x, copy=True) if self.new_genome is None else self.new_genome(x)
        out[mask] += (self.sigma * rng.standard_normal(int(mask.sum()))).astype(out.dtype)
        return out
