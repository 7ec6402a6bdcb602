"""`score.ridge`: the sparse least-squares score on S + r s2 I, against direct numpy ridge regressions on the data
and a brute force over every order (d = 5)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from gfopt.core.engine import run
from gfopt.core.local_search import LocalSearchEngine
from gfopt.errors import ConfigError
from gfopt.problems.dag_topo.data import simulate
from gfopt.problems.dag_topo.penalty import MULTIPLIERS, bic_price, choose_multiplier, held_out_errors
from gfopt.problems.dag_topo.problem import RIDGE_PRICE, RIDGE_SMALL_N, DagTopoProblem
from gfopt.problems.dag_topo.selection import UnbiasedCost


def ridge_cost(X: np.ndarray, j: int, parents: np.ndarray, r: float) -> tuple[float, np.ndarray]:
    """0.5 (min_w ||x_j - X_A w||^2 / n + r s2 ||w||^2 + r s2) and its w, from the normal equations on the data."""
    n = len(X)
    s2 = float(np.min(np.sum(X**2, axis=0) / n))
    if len(parents) == 0:
        return 0.5 * (X[:, j] @ X[:, j] / n + r * s2), np.zeros(0)
    A = X[:, parents]
    w = np.linalg.solve(A.T @ A / n + r * s2 * np.eye(len(parents)), A.T @ X[:, j] / n)
    resid = X[:, j] - A @ w
    return 0.5 * (resid @ resid / n + r * s2 * (w @ w) + r * s2), w


@pytest.mark.parametrize("n", [6, 8, 12, 16])
def test_small_n_default_is_ridge_regressions_at_a_lower_bic_price(n):
    """n <= 2d: score = sum_j ridge cost_j + 0.85 lambda k_j with ridge 0.1 min(1, d / n), weights the ridge
    weights, no unbiased cost."""
    ds = simulate("ER", 2, 8, n, "gauss", "linear", 3)
    p = DagTopoProblem(dataset=ds)
    assert p.penalty_multiplier == RIDGE_PRICE and not isinstance(p.score.cost, UnbiasedCost)
    X, n = p.X, p.n
    lam = RIDGE_PRICE * float(np.min(np.sum(X**2, axis=0) / n)) * np.log(n) / (2 * n)
    for seed in range(3):
        f = p.fit(np.random.default_rng(seed).permutation(8))
        total = 0.0
        for j in range(8):
            parents = np.flatnonzero(f.W[:, j])
            cost, w = ridge_cost(X, j, parents, RIDGE_SMALL_N * min(1.0, 8 / n))
            np.testing.assert_allclose(f.W[parents, j], w, rtol=1e-8, atol=1e-12)
            total += cost + lam * len(parents)
        assert f.score == pytest.approx(total, rel=1e-9)


def test_chosen_parents_are_a_local_optimum_of_the_ridge_cost():
    """No single predecessor added or parent dropped lowers a node's ridge cost plus price (direct fits)."""
    ds = simulate("SF", 2, 9, 9, "exp", "linear", 5)
    p = DagTopoProblem(dataset=ds, score={"ridge": 0.3, "unbiased": False})
    X, n = p.X, p.n
    lam = float(np.min(np.sum(X**2, axis=0) / n)) * np.log(n) / (2 * n)
    order = np.random.default_rng(1).permutation(9)
    f = p.fit(order)
    for pos, j in enumerate(order):
        parents = set(np.flatnonzero(f.W[:, j]).tolist())

        def cost(a: set, j: int = j) -> float:
            return ridge_cost(X, j, np.array(sorted(a), dtype=np.int64), 0.3)[0] + lam * len(a)

        here = cost(parents)
        for i in order[:pos]:
            other = parents ^ {int(i)}
            assert cost(other) >= here - 1e-12


def test_search_reaches_the_best_order_of_a_brute_force_at_d5():
    ds = simulate("ER", 2, 5, 5, "gumbel", "linear", 11)
    p = DagTopoProblem(dataset=ds)
    res = run(p, LocalSearchEngine(restarts=None), np.random.default_rng(0))
    best = min(p.fit(np.array(o)).score for o in itertools.permutations(range(5)))
    assert res.best_fitness <= best + 1e-9
    assert p.fit(res.best).score - p.true_order_score() <= 1e-9


def test_ridge_rule_is_off_with_n_above_2d_and_an_explicit_ridge_keeps_the_price():
    ds = simulate("ER", 2, 8, 17, "gauss", "linear", 3)
    rule, off = DagTopoProblem(dataset=ds), DagTopoProblem(dataset=ds, score={"ridge": 0})
    order = np.random.default_rng(0).permutation(8)
    assert rule.fit(order).score == off.fit(order).score and rule.penalty_multiplier == 1.0
    np.testing.assert_array_equal(rule.fit(order).W, off.fit(order).W)
    assert not isinstance(rule.score.cost, UnbiasedCost)  # n > 2d: plain residual variances, as before
    two_d = simulate("ER", 2, 8, 16, "gauss", "linear", 3)
    assert isinstance(DagTopoProblem(dataset=two_d, score={"ridge": 0}).score.cost, UnbiasedCost)  # ridge 0, n <= 2d
    explicit = DagTopoProblem(dataset=ds, score={"ridge": 0.2, "penalty": 1.0})
    assert explicit.penalty_multiplier == 1.0 and not isinstance(explicit.score.cost, UnbiasedCost)


def test_bad_ridge_names_the_field():
    with pytest.raises(ConfigError, match=r"problem.score.ridge: must be >= 0"):
        DagTopoProblem(data={"d": 5, "n": 50}, score={"ridge": -0.1})
    with pytest.raises(ConfigError, match=r"problem.score.ridge: applies to the sparse least-squares score"):
        DagTopoProblem(data={"d": 5, "n": 50}, score={"ridge": 0.1, "type": "bic"})
    with pytest.raises(ConfigError, match=r"problem.score.ridge: applies to the sparse least-squares score"):
        DagTopoProblem(data={"d": 5, "n": 50}, score={"ridge": 0.1, "select": "all"})


def test_held_out_error_with_ridge_equals_direct_ridge_regressions():
    """All parents kept (a vanishing multiplier): each fold's error is that of numpy ridge fits on the training
    rows (normal equations, penalty r x the training rows' smallest variance); with no parents the ridge is moot."""
    ds = simulate("ER", 2, 6, 12, "gauss", "linear", 3)
    X, order, r = ds.X - ds.X.mean(axis=0), np.array([3, 0, 5, 1, 4, 2]), 0.3
    err = held_out_errors(X, order, (1e-9, 1e12), ridge=r)
    plain = held_out_errors(X, order, (1e12,))
    total = 0.0
    for f in range(5):
        train, test = X[np.arange(12) % 5 != f], X[np.arange(12) % 5 == f]
        mu = train.mean(axis=0)
        A, T = train - mu, test - mu
        s2 = float(np.min(np.sum(A**2, axis=0) / len(A)))
        for pos, j in enumerate(order):
            P = np.sort(order[:pos])
            w = (np.linalg.solve(A[:, P].T @ A[:, P] / len(A) + r * s2 * np.eye(len(P)), A[:, P].T @ A[:, j] / len(A))
                 if len(P) else np.zeros(0))
            total += float(np.sum((T[:, j] - T[:, P] @ w) ** 2))
    assert err[0] == pytest.approx(total, rel=1e-9)
    assert err[1] == pytest.approx(plain[0], rel=1e-12)


@pytest.mark.parametrize(("penalty", "n", "folds", "seed"), [(None, 10, 10, 5), (1.0, 10, 10, 5), (2.0, 10, 10, 5),
                                                             (1.0, 20, 5, 4)])
def test_with_n_at_most_2d_the_configured_multiplier_is_scaled_by_the_held_out_choice(penalty, n, folds, seed):
    """The factor is the held-out choice among ridge fits in the first stage's best order: 10 folds with n <= d,
    5 above (on these seeds the other fold count would choose another factor)."""
    ds = simulate("ER", 4, 10, n, "exp", "linear", seed)
    p = DagTopoProblem(dataset=ds, score={"penalty": penalty})
    base = 1.0 if penalty is None else penalty
    assert p.penalty_multiplier == base * RIDGE_PRICE  # before the first stage
    starts = p.initial(5, np.random.default_rng(0))
    ridge = RIDGE_SMALL_N * min(1.0, 10 / n)
    chosen = choose_multiplier(p.X, starts[0], folds=folds, ridge=ridge)  # in the first stage's best (kept) order
    assert chosen in MULTIPLIERS and p.penalty_multiplier == base * chosen
    assert p.score.penalty == pytest.approx(p.penalty_multiplier * bic_price(p.X.T @ p.X / p.n, p.n), rel=1e-12)


def test_without_a_first_stage_the_ridge_rule_keeps_the_fixed_factor():
    ds = simulate("ER", 4, 10, 10, "exp", "linear", 2)
    p = DagTopoProblem(dataset=ds, score={"screen": False})
    p.initial(5, np.random.default_rng(0))
    assert p.penalty_multiplier == RIDGE_PRICE


def test_the_ridge_rules_choice_survives_a_checkpoint():
    ds = simulate("ER", 4, 10, 10, "exp", "linear", 2)
    a = DagTopoProblem(dataset=ds)
    order = a.initial(5, np.random.default_rng(0))[0]
    assert a.penalty_multiplier != RIDGE_PRICE  # chosen (0.85 is not among the choices)
    resumed = DagTopoProblem(dataset=ds)
    resumed.load_state_dict(a.state_dict())
    assert resumed.penalty_multiplier == a.penalty_multiplier
    assert resumed.fit(order).score == pytest.approx(a.fit(order).score, rel=1e-12)
