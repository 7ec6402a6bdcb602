"""CPDAG of a DAG against brute force: the edges every Markov-equivalent DAG orients the same way."""

from __future__ import annotations

import itertools

import numpy as np

from gfopt.problems.dag_topo.cpdag import cpdag_shd, dag_to_cpdag
from gfopt.problems.dag_topo.starts import is_acyclic


def v_structures(D: np.ndarray) -> set:
    adj = D | D.T
    return {(min(i, j), k, max(i, j)) for k in range(len(D))
            for i, j in itertools.combinations(np.flatnonzero(D[:, k]), 2) if not adj[i, j]}


def brute_cpdag(D: np.ndarray) -> np.ndarray:
    """Enumerate every orientation of the skeleton; keep acyclic ones with the same v-structures (same class)."""
    edges = list(zip(*np.nonzero(np.triu(D | D.T)), strict=True))
    members = []
    for bits in itertools.product((0, 1), repeat=len(edges)):
        G = np.zeros_like(D)
        for (i, j), b in zip(edges, bits, strict=True):
            G[(i, j) if b == 0 else (j, i)] = True
        if is_acyclic(G) and v_structures(G) == v_structures(D):
            members.append(G)
    C = np.zeros(D.shape, dtype=int)
    for i, j in edges:
        fwd = [bool(G[i, j]) for G in members]
        if all(fwd):
            C[i, j] = 1
        elif not any(fwd):
            C[j, i] = 1
        else:
            C[i, j] = C[j, i] = 1
    return C


def test_cpdag_matches_brute_force_on_random_dags():
    rng = np.random.default_rng(0)
    for _ in range(40):
        d = int(rng.integers(3, 7))
        D = np.triu(rng.random((d, d)) < 0.45, 1)
        p = rng.permutation(d)
        D = D[np.ix_(p, p)]
        np.testing.assert_array_equal(dag_to_cpdag(D), brute_cpdag(D))


def test_cpdag_shd_counts_pairs_with_different_marks():
    T = np.array([[0, 1, 0], [0, 0, 0], [0, 1, 0]])  # a -> b <- c (a v-structure: fully directed)
    assert cpdag_shd(dag_to_cpdag(T), dag_to_cpdag(T)) == 0
    chain = np.array([[0, 1, 0], [0, 0, 1], [0, 0, 0]])  # a - b - c undirected
    assert cpdag_shd(dag_to_cpdag(T), dag_to_cpdag(chain)) == 2
