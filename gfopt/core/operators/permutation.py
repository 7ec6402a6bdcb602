"""Operators for permutations (1-D integer arrays holding 0..d-1 once each)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from gfopt.core.operators import Crossover, Mutation, Neighbourhood
from gfopt.core.space import PERMUTATION


class OrderCrossover(Crossover):
    """OX: copy a random slice of the first parent, fill the rest in the second parent's order."""

    space = PERMUTATION

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


class SwapMutation(Mutation):
    """Exchange the elements at two random positions."""

    space = PERMUTATION

    def __call__(self, genome: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = np.array(genome, copy=True)
        i, j = rng.choice(len(out), size=2, replace=False)
        out[[i, j]] = out[[j, i]]
        return out


class InversionMutation(Mutation):
    """Reverse a random slice."""

    space = PERMUTATION

    def __call__(self, genome: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = np.array(genome, copy=True)
        i, j = sorted(rng.choice(len(out) + 1, size=2, replace=False))
        out[i:j] = out[i:j][::-1]
        return out


class Insert(NamedTuple):
    """Move the element at position `src` to position `dst` (the ones in between shift by one)."""

    src: int
    dst: int


def insert(order: np.ndarray, src: int, dst: int) -> np.ndarray:
    """`order` with the element at `src` taken out and put back at position `dst`."""
    out = np.array(order, copy=True)
    if src < dst:
        out[src:dst] = order[src + 1:dst + 1]
    elif dst < src:
        out[dst + 1:src + 1] = order[dst:src]
    out[dst] = order[src]
    return out


class PositionSwaps(Neighbourhood):
    """Base of neighbourhoods whose moves exchange two positions (a, b), a < b, of a permutation.

    A move may also be an `Insert(src, dst)`: one element taken out and put back elsewhere. Either kind changes
    only the positions between its two ends, so `overlaps` compares those intervals for both.
    """

    space = PERMUTATION

    def apply(self, current: np.ndarray, moves: Sequence[tuple[int, int]]) -> np.ndarray:
        out = np.array(current, copy=True)
        for m in moves:
            if isinstance(m, Insert):
                out = insert(out, m.src, m.dst)
            else:
                a, b = m
                out[[a, b]] = out[[b, a]]
        return out

    def overlaps(self, m1: tuple[int, int], m2: tuple[int, int]) -> bool:
        """Position intervals that intersect (for column-separable scores, gains of disjoint ones add)."""
        return not (max(m1) < min(m2) or max(m2) < min(m1))


class SwapNeighbourhood(PositionSwaps):
    """All position swaps (a < b) of a permutation, one level."""

    levels = 1

    def moves(self, current: np.ndarray, level: int, rng: np.random.Generator) -> list[tuple[int, int]]:
        d = len(current)
        return [(i, j) for i in range(d) for j in range(i + 1, d)]
