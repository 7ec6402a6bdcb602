"""Operators for permutations (1-D integer arrays holding 0..d-1 once each)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def random_permutation(d: int, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random permutation of range(d)."""
    return rng.permutation(d)


class OrderCrossover:
    """OX: copy a random slice of the first parent, fill the rest in the second parent's order."""

    def __call__(self, parents: Sequence[np.ndarray], weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        p1, p2 = np.asarray(parents[0]), np.asarray(parents[1])
        d = len(p1)
        a, b = sorted(rng.choice(d + 1, size=2, replace=False))
        child = np.full(d, -1, dtype=p1.dtype)
        child[a:b] = p1[a:b]
        taken = np.zeros(d, dtype=bool)
        taken[p1[a:b]] = True
        fill = [x for x in np.roll(p2, -b) if not taken[x]]
        positions = [(b + i) % d for i in range(d - (b - a))]
        child[positions] = fill
        return child


class SwapMutation:
    """Exchange the elements at two random positions."""

    def __call__(self, genome: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = np.array(genome, copy=True)
        i, j = rng.choice(len(out), size=2, replace=False)
        out[[i, j]] = out[[j, i]]
        return out


class InversionMutation:
    """Reverse a random slice."""

    def __call__(self, genome: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = np.array(genome, copy=True)
        i, j = sorted(rng.choice(len(out) + 1, size=2, replace=False))
        out[i:j] = out[i:j][::-1]
        return out


class SwapNeighbourhood:
    """All position swaps (i < j) of a permutation, one level; a move is a pair of positions."""

    levels = 1

    def moves(self, current: np.ndarray, level: int, rng: np.random.Generator) -> list[tuple[int, int]]:
        d = len(current)
        return [(i, j) for i in range(d) for j in range(i + 1, d)]

    def apply(self, current: np.ndarray, moves: Sequence[tuple[int, int]]) -> np.ndarray:
        out = np.array(current, copy=True)
        for i, j in moves:
            out[[i, j]] = out[[j, i]]
        return out

    def overlaps(self, a: tuple[int, int], b: tuple[int, int]) -> bool:
        """Position intervals [i, j] that intersect."""
        return not (a[1] < b[0] or b[1] < a[0])
