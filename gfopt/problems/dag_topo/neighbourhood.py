"""TOPO's swap neighbourhood: forbidden pairs ranked by the acyclicity gradient G_h, in a small and a large set.

A move is a pair of positions (a, b), a < b, of the current order: the nodes there exchange places, which
allows the edge order[b] -> order[a]. G_h[i, j] sums weighted paths j -> i in the current fit, so small values
mark edges that are cheap to allow; the candidates are the forbidden pairs with the smallest values.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.linalg import expm, solve_triangular


def auto_sizes(d: int) -> tuple[int, int, int]:
    """(size_small, size_large, no_large_search) as in the TOPO authors' later code."""
    pairs = d * (d - 1) / 2
    mid = np.sqrt(d) * (d - 1) * np.log10(d)
    small = int(min(1.5 * d, mid, pairs))
    large = int(max(1.5 * d, min(mid, pairs)))
    return max(small, 1), max(large, 1), 1 if d >= 10 else 0


def path_weights(W_pos: np.ndarray, form: str) -> np.ndarray:
    """Acyclicity-gradient path matrix in position space: P[q, k] ~ weighted paths from position q to k.

    `W_pos` is strictly upper triangular (a DAG in its own order). logdet: (I - |W|)^{-1}; exp: expm(|W|);
    poly: (I + |W|/d)^(d-1). G_h is its transpose: G_h[i, j] = P[j, i].
    """
    d = len(W_pos)
    A = np.abs(W_pos)
    if form == "logdet":
        return solve_triangular(np.eye(d) - A, np.eye(d), lower=False, check_finite=False)
    if form == "exp":
        return expm(A)
    if form == "poly":
        return np.linalg.matrix_power(np.eye(d) + A / d, d - 1)
    raise ValueError(f"unknown acyclicity form {form!r}")


@functools.lru_cache(maxsize=4)
def _pairs(d: int) -> tuple[np.ndarray, np.ndarray]:
    """All position pairs (a, b), a < b (read-only, shared)."""
    a, b = np.triu_indices(d, 1)
    a.flags.writeable = b.flags.writeable = False
    return a, b


def allowed_by_knowledge(knowledge: Any, order: np.ndarray, a: np.ndarray, b: np.ndarray,
                         values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drop the swaps that would break the problem's prior knowledge (no-op without knowledge)."""
    if knowledge is None:
        return a, b, values
    keep = knowledge.allowed_swaps(order, a, b)
    return a[keep], b[keep], values[keep]


class TopoSwapNeighbourhood:
    """Levels of G_h-ranked swaps: the `size_small` best pairs, then up to `size_large`, then (optionally) up to
    `size_full`; each level holds only the pairs the previous ones did not. `max_escalations` tells the engine how
    often a level above 0 may run (null: unlimited)."""

    def __init__(self, size_small: int | None = None, size_large: int | None = None,
                 no_large_search: int | None = None, h: str = "logdet", grad_filter: float | None = None,
                 size_full: int | None = None) -> None:
        self.size_small = size_small
        self.size_large = size_large
        self.size_full = size_full
        self.max_escalations = no_large_search
        self.h = h
        self.grad_filter = grad_filter
        self.problem: Any = None
        self._ranked: tuple[bytes, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None

    @property
    def levels(self) -> int:
        """2 (small, large), or 3 when a full level beyond the large one is configured."""
        return 3 if self.size_full is not None else 2

    def bind(self, problem: Any) -> None:
        """Attach the problem whose `fit(order)` gives W and whose score gives the loss gradient."""
        self.problem = problem

    def forbidden_pairs(self, current: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All forbidden pairs as position pairs (a, b), a < b, with their G_h values (gradient-filtered if asked)."""
        order = np.asarray(current)
        d = len(order)
        fit = self.problem.fit(order)
        W_pos = fit.W[np.ix_(order, order)]
        P = path_weights(W_pos, self.h)
        a, b = _pairs(d)
        values = P[a, b]  # G_h[order[b], order[a]]: paths order[a] -> order[b]
        a, b, values = allowed_by_knowledge(getattr(self.problem, "knowledge", None), order, a, b, values)
        if self.grad_filter is not None:
            grad = self.problem.score.loss_grad(fit.W)
            if grad is not None:
                keep = np.abs(grad[order[b], order[a]]) >= self.grad_filter
                a, b, values = a[keep], b[keep], values[keep]
        return a, b, values

    def moves(self, current: np.ndarray, level: int, rng: np.random.Generator) -> list[tuple[int, int]]:
        """The ranked pairs of `level`: [0, size_small), [size_small, size_large), [size_large, size_full).

        The ranking is a stable sort by G_h value (ties by pair index), computed only as far as asked.
        """
        key = np.asarray(current).tobytes()
        if self._ranked is None or self._ranked[0] != key:  # escalation re-asks for the same order
            self._ranked = (key, self.forbidden_pairs(current))
        a, b, values = self._ranked[1]
        bounds = [0]
        for size in (self.size_small, self.size_large, self.size_full)[: self.levels]:
            bounds.append(min(len(a), max(bounds[-1], size if size is not None else len(a))))
        lo, hi = bounds[level], bounds[level + 1]
        if hi <= lo:
            return []
        if hi < len(a):  # only the pairs up to the hi-th smallest value (with all ties) need sorting
            kth = np.partition(values, hi - 1)[hi - 1]
            idx = np.flatnonzero(values <= kth)
        else:
            idx = np.arange(len(a))
        rank = idx[np.argsort(values[idx], kind="stable")][lo:hi]
        return list(zip(a[rank].tolist(), b[rank].tolist(), strict=True))

    def apply(self, current: np.ndarray, moves: Sequence[tuple[int, int]]) -> np.ndarray:
        out = np.array(current, copy=True)
        for a, b in moves:
            out[a], out[b] = out[b], out[a]
        return out

    def overlaps(self, m1: tuple[int, int], m2: tuple[int, int]) -> bool:
        """Position intervals [a, b] that intersect (their score changes would not add up)."""
        return not (m1[1] < m2[0] or m2[1] < m1[0])
