"""Sparse parent selection and the bic score against direct regressions (numpy lstsq on the data)."""

from __future__ import annotations

import numpy as np
import pytest

from gfopt.core.engine import run
from gfopt.core.local_search import LocalSearchEngine
from gfopt.errors import InputError
from gfopt.problems.dag_topo.cpdag import dag_to_cpdag
from gfopt.problems.dag_topo.data import simulate
from gfopt.problems.dag_topo.metrics import count_accuracy
from gfopt.problems.dag_topo.problem import DagTopoProblem
from gfopt.problems.dag_topo.selection import UnbiasedCost, grow_shrink, least_squares_cost, log_likelihood_cost


def direct_loglik(X: np.ndarray, j: int, parents: np.ndarray) -> float:
    """Gaussian log-likelihood of column j given `parents` at the ML fit (lstsq weights, variance RSS / n)."""
    n = len(X)
    if len(parents):
        w, *_ = np.linalg.lstsq(X[:, parents], X[:, j], rcond=None)
        r = X[:, j] - X[:, parents] @ w
    else:
        r = X[:, j]
    s2 = r @ r / n
    return float(np.sum(-0.5 * np.log(2 * np.pi * s2) - r**2 / (2 * s2)))


def test_bic_score_equals_direct_regression_log_likelihood():
    ds = simulate("ER", 2, 8, 300, "gauss", "linear", 4)
    p = DagTopoProblem(score={"type": "bic"}, dataset=ds)
    X = p.X  # centred
    rng = np.random.default_rng(0)
    for _ in range(3):
        f = p.fit(rng.permutation(8))
        loglik = sum(direct_loglik(X, j, np.flatnonzero(f.W[:, j])) for j in range(8))
        n_edges = np.count_nonzero(f.W)
        # at the default penalty each parent costs twice the textbook BIC's log(n) / (2n)
        assert f.score == pytest.approx(-loglik / p.n + 2 * n_edges * np.log(p.n) / (2 * p.n), rel=1e-9)
        for j in range(8):  # weights are the regression's
            parents = np.flatnonzero(f.W[:, j])
            if len(parents):
                w, *_ = np.linalg.lstsq(X[:, parents], X[:, j], rcond=None)
                np.testing.assert_allclose(f.W[parents, j], w, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("cost", [least_squares_cost, log_likelihood_cost])
def test_grow_shrink_ends_where_no_single_add_or_drop_helps(cost):
    """The chosen set is a local optimum of f(v) + penalty |A|, checked by refitting every neighbour directly."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 7)) @ rng.normal(size=(7, 7))
    X -= X.mean(0)
    S = X.T @ X / len(X)
    pen = 0.02
    cand = np.array([0, 1, 2, 3, 5, 6])

    def value(parents):
        ll = direct_loglik(X, 4, np.asarray(parents, dtype=int))
        s2 = np.exp(-2 * ll / len(X) - 1) / (2 * np.pi)  # back to the ML variance
        return float(cost(s2)) + pen * len(parents)

    c, parents, _ = grow_shrink(S, 4, cand, cost, pen)
    assert c == pytest.approx(value(parents), rel=1e-9)
    for x in cand:
        nb = sorted(set(parents) ^ {int(x)})
        assert value(nb) >= c - 1e-12


@pytest.mark.parametrize("kind", ["least_squares", "bic"])
def test_batched_swap_scores_equal_exact_refits(kind):
    ds = simulate("ER", 2, 9, 200, "gauss", "linear", 2)
    p = DagTopoProblem(score={"type": kind}, dataset=ds)
    rng = np.random.default_rng(3)
    p.initial(1, rng)  # the least-squares default widens its candidates here
    base = p.fit(rng.permutation(9))
    a, b = np.triu_indices(9, 1)
    fast = p.score.swap_scores(base, a, b)
    for c in range(len(a)):
        order = base.order.copy()
        order[[a[c], b[c]]] = order[[b[c], a[c]]]
        assert fast[c] == pytest.approx(p.score.fit_order(order).score, rel=1e-10, abs=1e-12)


def test_bic_is_unit_free():
    """Rescaling columns changes neither the bic score of an order nor the parents it chooses."""
    ds = simulate("ER", 2, 8, 500, "gauss", "linear", 5)
    scales = np.array([1e-3, 1.0, 50.0, 2.0, 0.1, 7.0, 1e3, 3.0])
    ds2 = simulate("ER", 2, 8, 500, "gauss", "linear", 5)
    ds2.X = ds2.X * scales
    p1 = DagTopoProblem(score={"type": "bic"}, dataset=ds)
    p2 = DagTopoProblem(score={"type": "bic"}, dataset=ds2)
    rng = np.random.default_rng(0)
    for _ in range(10):
        order = rng.permutation(8)
        f1, f2 = p1.fit(order), p2.fit(order)
        assert f1.score == pytest.approx(f2.score, rel=1e-9)
        np.testing.assert_array_equal(f1.W != 0, f2.W != 0)
        np.testing.assert_array_equal(dag_to_cpdag(f1.W != 0), dag_to_cpdag(f2.W != 0))


def test_small_samples_run_with_sparse_parents_and_all_predecessors_is_refused():
    ds = simulate("ER", 2, 30, 30, "gauss", "linear", 6)  # n = d
    with pytest.raises(InputError, match=r"problem.score.select=all: .*n = 30 <= d = 30"):
        DagTopoProblem(score={"select": "all"}, dataset=ds)
    with pytest.raises(InputError, match=r"problem.score.type=bic: n = 30 <= d = 30; .*unbounded"):
        DagTopoProblem(score={"type": "bic"}, dataset=ds)
    p = DagTopoProblem(dataset=ds)
    res = run(p, LocalSearchEngine(restarts=1), np.random.default_rng(0))
    m = count_accuracy(ds.B_true, p.thresholded(p.fit(res.best).W))
    assert np.isfinite(res.best_fitness) and m["tpr"] > 0.5


def test_default_recovers_the_graph_and_its_search_gap_is_not_positive():
    ds = simulate("ER", 4, 15, 600, "gumbel", "linear", 7)
    p = DagTopoProblem(dataset=ds)
    res = run(p, LocalSearchEngine(restarts=None), np.random.default_rng(0))
    f = p.fit(res.best)
    assert count_accuracy(ds.B_true, p.thresholded(f.W))["shd"] <= 2
    assert f.score - p.true_order_score() <= 1e-9


def test_least_squares_default_is_the_unbiased_residual_variance_plus_the_bic_penalty():
    """With n <= 2d and the ridge off: score = sum_j 0.5 RSS_j / (n - k_j) + lambda k_j, from direct lstsq fits on
    the chosen parents."""
    ds = simulate("ER", 2, 8, 16, "gumbel", "linear", 6)
    p = DagTopoProblem(dataset=ds, score={"ridge": 0})
    X = p.X
    n = p.n
    lam = float(np.min(X.var(axis=0))) * np.log(n) / (2 * n)
    f = p.fit(np.random.default_rng(2).permutation(8))
    total = 0.0
    for j in range(8):
        parents = np.flatnonzero(f.W[:, j])
        if len(parents):
            w, *_ = np.linalg.lstsq(X[:, parents], X[:, j], rcond=None)
            r = X[:, j] - X[:, parents] @ w
        else:
            r = X[:, j]
        total += 0.5 * (r @ r) / (n - len(parents)) + lam * len(parents)
    assert f.score == pytest.approx(total, rel=1e-9)
    biased = DagTopoProblem(dataset=ds, score={"ridge": 0, "unbiased": False}).fit(f.order)
    assert biased.score < f.score  # dividing by n flatters every fit with parents
    larger = DagTopoProblem(dataset=simulate("ER", 2, 8, 17, "gauss", "linear", 6))
    assert not isinstance(larger.score.cost, UnbiasedCost)  # n > 2d: off by default
