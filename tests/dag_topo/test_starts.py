"""Starting orders: from weights (threshold until acyclic), from a .npy, and DAGMA post-processing."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from gfopt.core.engine import run
from gfopt.core.local_search import LocalSearchEngine
from gfopt.errors import InputError
from gfopt.problems.dag_topo.data import simulate
from gfopt.problems.dag_topo.problem import DagTopoProblem
from gfopt.problems.dag_topo.starts import is_acyclic, order_from_file, order_from_weights

ALL = {"select": "all"}  # these tests are about TOPO's all-predecessors least squares (the fast path)


def consistent(order, B) -> bool:
    pos = np.argsort(order)
    i, j = np.nonzero(B)
    return bool(np.all(pos[i] < pos[j]))


def test_order_from_weights_drops_the_weakest_edges_of_a_cycle():
    # cycle 0 -> 1 -> 2 -> 0 with 2 -> 0 weakest (0.2), plus 0 -> 3
    W = np.zeros((4, 4))
    W[0, 1], W[1, 2], W[2, 0], W[0, 3] = 1.0, -0.8, 0.2, 0.5
    order = order_from_weights(W)
    assert consistent(order, np.abs(W) > 0.2)
    assert not consistent(order, W != 0)


def test_order_from_weights_uses_the_smallest_acyclic_threshold_brute_force():
    rng = np.random.default_rng(3)
    for _ in range(20):
        W = rng.normal(size=(5, 5)) * (rng.random((5, 5)) < 0.4)
        np.fill_diagonal(W, 0)
        levels = sorted({0.0, *np.abs(W[W != 0]).tolist()})
        t_min = next(t for t in levels if is_acyclic(np.abs(W) > t))
        order = order_from_weights(W)
        assert consistent(order, np.abs(W) > t_min)


def test_order_from_file_accepts_orders_and_weights(tmp_path):
    np.save(tmp_path / "o.npy", np.array([2, 0, 1]))
    np.testing.assert_array_equal(order_from_file(str(tmp_path / "o.npy"), 3), [2, 0, 1])
    W = np.zeros((3, 3))
    W[2, 1] = W[1, 0] = 1.0
    np.save(tmp_path / "w.npy", W)
    np.testing.assert_array_equal(order_from_file(str(tmp_path / "w.npy"), 3), [2, 1, 0])
    np.save(tmp_path / "bad.npy", np.array([0, 0, 1]))
    with pytest.raises(InputError, match="not a permutation"):
        order_from_file(str(tmp_path / "bad.npy"), 3)
    with pytest.raises(InputError, match="file not found"):
        order_from_file(str(tmp_path / "none.npy"), 3)


def test_post_processing_never_worsens_the_score_of_a_dag_it_starts_from(tmp_path):
    ds = simulate("ER", 2, 7, 300, "gauss", "linear", 11)
    base = DagTopoProblem(dataset=ds, score=ALL)
    rng = np.random.default_rng(0)
    for trial in range(5):
        # a DAG in a random order with random weights: another method's (poor) output
        order = rng.permutation(7)
        W = np.zeros((7, 7))
        for a, b in itertools.combinations(range(7), 2):
            if rng.random() < 0.4:
                W[order[a], order[b]] = rng.normal()
        np.save(tmp_path / f"w{trial}.npy", W)
        p = DagTopoProblem(search={"init": str(tmp_path / f"w{trial}.npy")}, dataset=ds, score=ALL)
        res = run(p, LocalSearchEngine(restarts=0), np.random.default_rng(0))
        assert p.fit(res.best).score <= base.weights_score(W) + 1e-12


def post_process(method: str, ds) -> tuple[DagTopoProblem, np.ndarray, float]:
    """Run TOPO from `method`'s output; return the problem, that output thresholded, and TOPO's final score."""
    p = DagTopoProblem(search={"init": method}, dataset=ds, score=ALL)
    res = run(p, LocalSearchEngine(restarts=0), np.random.default_rng(0))
    W_method = p.thresholded(p.start_weights[method])
    assert is_acyclic(W_method) and p.start_kinds == [method]
    return p, W_method, p.fit(res.best).score


@pytest.mark.slow
def test_dagma_start_improves_or_keeps_dagma_score():
    pytest.importorskip("dagma")
    p, W_dagma, score = post_process("dagma", simulate("ER", 2, 10, 500, "gauss", "linear", 5))
    assert score <= p.weights_score(W_dagma) + 1e-12


def test_notears_start_is_post_processed_without_loss():
    from gfopt.problems.dag_topo.metrics import count_accuracy

    ds = simulate("ER", 1, 5, 200, "gauss", "linear", 2)
    p, W_notears, score = post_process("notears", ds)
    assert score <= p.weights_score(W_notears) + 1e-12
    assert count_accuracy(ds.B_true, W_notears)["shd"] <= 2  # NOTEARS itself is close on this easy instance
