"""TOPO search against exhaustive enumeration of orders (d <= 6) and recovery of an easy simulated graph."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from gfopt.core.engine import run
from gfopt.core.local_search import LocalSearchEngine
from gfopt.core.operators import MoveBatch
from gfopt.problems.dag_topo.data import Dataset, simulate
from gfopt.problems.dag_topo.metrics import count_accuracy
from gfopt.problems.dag_topo.neighbourhood import TopoSwapNeighbourhood, auto_sizes
from gfopt.problems.dag_topo.problem import DagTopoProblem

ALL = {"select": "all"}  # these tests are about TOPO's all-predecessors least squares (the fast path)


def lstsq_score(X: np.ndarray, order) -> float:
    """Independent oracle: 1/(2n) ||X - XW||^2 with each node regressed on all earlier nodes by lstsq."""
    total = 0.0
    for k, j in enumerate(order):
        r = X[:, j] - (X[:, list(order[:k])] @ np.linalg.lstsq(X[:, list(order[:k])], X[:, j], rcond=None)[0]
                       if k else 0.0)
        total += r @ r
    return 0.5 * total / len(X)


def small_problem(d: int, seed: int) -> DagTopoProblem:
    ds = simulate("ER", 2, d, 300, "gauss", "linear", seed)
    return DagTopoProblem(data={"center": True}, dataset=ds, score=ALL)


def solve(problem: DagTopoProblem, seed: int = 0, restarts: int | None = None, sizes: str = "full"):
    engine = LocalSearchEngine(TopoSwapNeighbourhood(sizes=sizes), restarts=restarts)
    return run(problem, engine, np.random.default_rng(seed)), engine


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_result_is_a_local_optimum_and_matches_exhaustive_global_optimum(seed):
    d = 6
    p = small_problem(d, seed)
    result, _ = solve(p, seed)
    X = p.X
    final = lstsq_score(X, result.best)
    assert p.fit(result.best).score == pytest.approx(final, rel=1e-10)
    # no swap of two positions improves (brute-force refits)
    for a, b in itertools.combinations(range(d), 2):
        o = np.array(result.best)
        o[[a, b]] = o[[b, a]]
        assert lstsq_score(X, o) >= final - 1e-10
    # with full swap sets and restarts the search reaches the best of all d! orders
    best = min(lstsq_score(X, o) for o in itertools.permutations(range(d)))
    assert final == pytest.approx(best, rel=1e-9)


def test_reference_sizes_stop_at_a_local_optimum_of_their_candidate_sets():
    p = small_problem(6, 5)
    result, engine = solve(p, restarts=0, sizes="auto")
    assert engine.converged and engine.descent.escalation_limit == auto_sizes(6)[2] == 0
    nb = engine.neighbourhood
    moves = nb.moves(np.asarray(result.best), 0, np.random.default_rng(0))
    assert len(moves) == auto_sizes(6)[0]
    scores = p.evaluate([nb.apply(result.best, [m]) for m in moves])
    assert np.all(scores >= result.best_fitness - 1e-12)


def test_recovers_easy_er2_graph_exactly():
    ds = simulate("ER", 2, 10, 2000, "gauss", "linear", 7)
    p = DagTopoProblem(dataset=ds, score=ALL)
    result, _ = solve(p)
    W_est = p.thresholded(p.fit(result.best).W)
    assert count_accuracy(ds.B_true, W_est)["shd"] == 0


def test_batch_of_swaps_scores_equal_exact_refits():
    p = small_problem(8, 3)
    order = np.random.default_rng(1).permutation(8)
    nb = TopoSwapNeighbourhood()
    nb.bind(p)
    moves = nb.moves(order, 0, np.random.default_rng(0))
    batch = MoveBatch(order, moves, nb)  # scored from the base order's fit, without refits
    exact_before = p.exact_evaluations
    got = p.evaluate(batch)
    assert p.exact_evaluations == exact_before and p.fast_evaluations >= len(moves)
    np.testing.assert_allclose(got, [lstsq_score(p.X, c) for c in batch], rtol=1e-9)
    cands = list(batch[:3]) + [np.arange(8)]  # a list: swaps of a cached fit are fast, the last one is exact
    np.testing.assert_allclose(p.evaluate(cands), [lstsq_score(p.X, c) for c in cands], rtol=1e-9)


def test_candidates_are_forbidden_pairs_ranked_by_path_weight():
    p = small_problem(7, 4)
    order = np.random.default_rng(2).permutation(7)
    nb = TopoSwapNeighbourhood(size_small=5, size_large=21, no_large_search=1)
    nb.bind(p)
    W = p.fit(order).W
    G_h = np.linalg.inv(np.eye(7) - np.abs(W)).T  # DESIGN: G_h = (I - |W|)^{-T}
    small = nb.moves(order, 0, np.random.default_rng(0))
    large = nb.moves(order, 1, np.random.default_rng(0))
    assert len(small) == 5 and len(small) + len(large) == 21  # every forbidden pair once
    values = [G_h[order[b], order[a]] for a, b in small + large]
    assert all(a < b for a, b in small + large)
    assert values == sorted(values)


def test_grad_filter_keeps_only_pairs_the_loss_wants():
    p = small_problem(7, 4)
    order = np.arange(7)
    W = p.fit(order).W
    grad = p.score.loss_grad(W)
    xi = float(np.median(np.abs(grad[np.tril_indices(7, -1)])))
    nb = TopoSwapNeighbourhood(size_small=100, grad_filter=xi)
    nb.bind(p)
    moves = nb.moves(order, 0, np.random.default_rng(0))
    assert moves and all(abs(grad[order[b], order[a]]) >= xi for a, b in moves)
    assert len(moves) < 21


def test_multi_swap_acceptance_never_worse_than_best_single_swap():
    p = small_problem(10, 6)
    result, engine = solve(p, restarts=0, sizes="auto")
    assert engine.accepted_moves >= engine.steps - 2  # at least one swap per improving step
    assert result.best_fitness == pytest.approx(lstsq_score(p.X, result.best), rel=1e-9)


def test_dataset_truth_does_not_enter_the_search():
    ds = simulate("ER", 2, 8, 500, "gauss", "linear", 9)
    blind = Dataset(X=ds.X, names=ds.names)
    r1, _ = solve(DagTopoProblem(dataset=ds, score=ALL))
    r2, _ = solve(DagTopoProblem(dataset=blind, score=ALL))
    np.testing.assert_array_equal(r1.best, r2.best)


@pytest.mark.parametrize("form", ["logdet", "exp", "poly"])
def test_acyclicity_forms_are_zero_exactly_where_no_path_exists(form):
    import networkx as nx

    from gfopt.problems.dag_topo.neighbourhood import path_weights

    p = small_problem(8, 2)
    order = np.random.default_rng(3).permutation(8)
    W = p.thresholded(p.fit(order).W)
    W_pos = W[np.ix_(order, order)]
    P = path_weights(W_pos, form)
    G = nx.DiGraph(np.abs(W_pos) > 0)
    for a, b in itertools.combinations(range(8), 2):
        assert (P[a, b] > 1e-12) == nx.has_path(G, a, b)
