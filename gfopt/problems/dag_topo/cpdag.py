"""Markov equivalence classes: the CPDAG of a DAG and the SHD between two CPDAGs.

A score that depends on the data only through a Gaussian likelihood (the `bic` score) cannot tell apart the DAGs
of one equivalence class, so its result is the class: the skeleton, the v-structures, and every edge that Meek's
rules R1-R3 then orient (Meek 1995: with v-structures given, R1-R3 give the CPDAG).
Matrix convention: C[i, j] = 1 and C[j, i] = 0 is i -> j; C[i, j] = C[j, i] = 1 is an undirected edge i - j.
"""

from __future__ import annotations

import numpy as np


def dag_to_cpdag(B: np.ndarray) -> np.ndarray:
    """The CPDAG (as a 0/1 matrix) of the DAG B (B[i, j] != 0: i -> j)."""
    D = np.asarray(B) != 0
    d = len(D)
    adj = D | D.T
    directed = np.zeros((d, d), dtype=bool)
    for k in range(d):  # v-structures i -> k <- j with i, j not adjacent
        pa = np.flatnonzero(D[:, k])
        for x in range(len(pa)):
            for y in range(x + 1, len(pa)):
                i, j = pa[x], pa[y]
                if not adj[i, j]:
                    directed[i, k] = directed[j, k] = True
    undirected = adj & ~directed & ~directed.T
    changed = True
    while changed:
        changed = False
        for a, b in zip(*np.nonzero(np.triu(undirected)), strict=True):
            for x, y in ((a, b), (b, a)):
                if undirected[x, y] and _meek_orients(x, y, directed, undirected, adj):
                    directed[x, y] = True
                    undirected[x, y] = undirected[y, x] = False
                    changed = True
                    break
    return (directed | undirected).astype(int)


def _meek_orients(x: int, y: int, directed: np.ndarray, undirected: np.ndarray, adj: np.ndarray) -> bool:
    """True when R1, R2 or R3 orients the undirected edge x - y as x -> y."""
    into_x = np.flatnonzero(directed[:, x])
    if np.any(~adj[into_x, y]):  # R1: a -> x - y, a and y not adjacent
        return True
    if np.any(directed[x] & directed[:, y]):  # R2: x -> c -> y
        return True
    both = np.flatnonzero(undirected[x] & directed[:, y])  # R3: x - c1 -> y, x - c2 -> y, c1, c2 not adjacent
    for p in range(len(both)):
        for q in range(p + 1, len(both)):
            if not adj[both[p], both[q]]:
                return True
    return False


def cpdag_shd(C_true: np.ndarray, C_est: np.ndarray) -> int:
    """Pairs (i < j) whose edge differs between the two CPDAGs: missing, extra, or a different mark."""
    T = np.asarray(C_true) != 0
    E = np.asarray(C_est) != 0
    i, j = np.triu_indices(len(T), 1)
    return int(np.sum((T[i, j] != E[i, j]) | (T[j, i] != E[j, i])))
