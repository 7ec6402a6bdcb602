"""Structure metrics against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from gfopt.problems.dag_topo.metrics import count_accuracy


def adj(d, edges):
    B = np.zeros((d, d))
    for i, j in edges:
        B[i, j] = 1
    return B


def test_perfect_estimate():
    B = adj(4, [(0, 1), (1, 2), (0, 3)])
    assert count_accuracy(B, B) == {"fdr": 0.0, "tpr": 1.0, "fpr": 0.0, "shd": 0, "nnz": 3}


def test_one_reversed_one_missing_one_extra():
    # truth 0->1, 1->2, 2->3; estimate 1->0 (reversed), 1->2 (correct), 0->3 (extra); 2->3 missing
    T = adj(4, [(0, 1), (1, 2), (2, 3)])
    E = adj(4, [(1, 0), (1, 2), (0, 3)])
    m = count_accuracy(T, E)
    # predicted 3: 1 correct, 1 reversed, 1 false positive; negatives = 6 - 3 = 3
    assert m["nnz"] == 3
    assert m["tpr"] == pytest.approx(1 / 3)
    assert m["fdr"] == pytest.approx(2 / 3)
    assert m["fpr"] == pytest.approx(2 / 3)
    assert m["shd"] == 3  # extra 0-3, missing 2-3, reversed 1->0


def test_empty_estimate_counts_every_true_edge_as_missing():
    T = adj(5, [(0, 1), (2, 3), (3, 4), (0, 4)])
    m = count_accuracy(T, np.zeros((5, 5)))
    assert (m["shd"], m["nnz"], m["tpr"], m["fdr"], m["fpr"]) == (4, 0, 0.0, 0.0, 0.0)


def test_weighted_estimate_is_binarized():
    T = adj(3, [(0, 1)])
    E = np.array([[0, -0.7, 0], [0, 0, 0], [1.5, 0, 0]])
    m = count_accuracy(T, E)
    assert m["shd"] == 1 and m["nnz"] == 2 and m["fdr"] == 0.5
