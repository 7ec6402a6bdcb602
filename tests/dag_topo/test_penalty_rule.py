"""The held-out penalty rule (`score.penalty: null`): its error against direct numpy fits, its choice on
constructed cases, and how the problem applies, reports and checkpoints it."""

from __future__ import annotations

import numpy as np
import pytest

from gfopt.core.config import ConfigError
from gfopt.problems.dag_topo.config import DagScoreConfig
from gfopt.problems.dag_topo.data import Dataset, simulate
from gfopt.problems.dag_topo.penalty import MULTIPLIERS, bic_price, choose_multiplier, folds_for, held_out_errors
from gfopt.problems.dag_topo.problem import DagTopoProblem
from gfopt.problems.dag_topo.selection import UnbiasedCost, grow_shrink, least_squares_cost


def direct_held_out(X: np.ndarray, order: np.ndarray, parents_of, folds: int = 5) -> float:
    """Held-out squared error by numpy lstsq: node j on `parents_of(j, predecessors)`, fit on each fold's rest."""
    total = 0.0
    for f in range(folds):
        train, test = X[np.arange(len(X)) % folds != f], X[np.arange(len(X)) % folds == f]
        mu = train.mean(axis=0)
        A, T = train - mu, test - mu
        for pos, j in enumerate(order):
            P = parents_of(j, order[:pos])
            w = np.linalg.lstsq(A[:, P], A[:, j], rcond=None)[0] if len(P) else np.zeros(0)
            total += float(np.sum((T[:, j] - T[:, P] @ w) ** 2))
    return total


def test_held_out_error_equals_direct_regressions_with_all_or_no_parents():
    ds = simulate("ER", 2, 6, 60, "gauss", "linear", 3)
    X, order = ds.X - ds.X.mean(axis=0), np.array([3, 0, 5, 1, 4, 2])
    # a vanishing multiplier: every predecessor pays for itself, so grow-shrink keeps all of them; a huge one
    # keeps none
    err = held_out_errors(X, order, (1e-9, 1e12))
    assert err[0] == pytest.approx(direct_held_out(X, order, lambda j, pred: np.sort(pred)), rel=1e-9)
    assert err[1] == pytest.approx(direct_held_out(X, order, lambda j, pred: np.zeros(0, dtype=int)), rel=1e-9)


def test_held_out_error_respects_forbidden_and_required_parents():
    ds = simulate("ER", 2, 5, 80, "gauss", "linear", 4)
    X, order = ds.X - ds.X.mean(axis=0), np.arange(5)
    allowed = np.ones((5, 5), dtype=bool)
    allowed[0, :] = False  # node 0 is nobody's parent
    required = np.zeros((5, 5), dtype=bool)
    required[1, 4] = True  # 1 -> 4 always
    err = held_out_errors(X, order, (1e-9, 1e12), allowed=allowed, required=required)
    assert err[0] == pytest.approx(direct_held_out(X, order, lambda j, pred: np.sort(pred[pred != 0])), rel=1e-9)
    assert err[1] == pytest.approx(direct_held_out(X, order, lambda j, pred: np.array([1]) if j == 4
                                                   else np.zeros(0, dtype=int)), rel=1e-9)


def test_shared_grow_paths_equal_one_fit_per_fold_and_multiplier():
    """Growing each fold once for all multipliers is only a speed-up: each (fold, multiplier) alone gives the same
    error (93 rows: folds of 19 and 18 rows, so the unbiased cost runs with two training sizes)."""
    ds = simulate("SF", 4, 12, 93, "exp", "linear", 8)
    X, order = ds.X - ds.X.mean(axis=0), np.random.default_rng(1).permutation(12)
    together = held_out_errors(X, order, MULTIPLIERS, unbiased=True)
    alone = [held_out_errors(X, order, (c,), unbiased=True)[0] for c in MULTIPLIERS]
    assert together == pytest.approx(alone, rel=1e-12)
    n = len(X)
    manual = 0.0  # one multiplier by hand: grow-shrink on each fold's S at 0.7 x its BIC price
    for f in range(5):
        A, T = X[np.arange(n) % 5 != f], X[np.arange(n) % 5 == f]
        mu = A.mean(axis=0)
        S = (A - mu).T @ (A - mu) / len(A)
        cost = UnbiasedCost(least_squares_cost, len(A))
        for pos, j in enumerate(order):
            _, P, w = grow_shrink(S, j, order[:pos], cost, 0.7 * bic_price(S, len(A)))
            manual += float(np.sum(((T - mu)[:, j] - (T - mu)[:, P] @ w) ** 2))
    assert alone[MULTIPLIERS.index(0.7)] == pytest.approx(manual, rel=1e-12)


def test_a_zero_multiplier_is_refused():
    with pytest.raises(ValueError, match="multipliers must be > 0, got 0.0"):
        held_out_errors(np.eye(3), np.arange(3), (1.0, 0.0))


def test_independent_columns_get_the_largest_multiplier():
    X = np.random.default_rng(0).standard_normal((200, 8))  # no edges: every chosen parent is noise
    assert choose_multiplier(X - X.mean(axis=0), np.arange(8)) == max(MULTIPLIERS)


def test_many_weak_parents_get_a_multiplier_below_the_bic():
    # every earlier node is a parent with a weight whose gain in variance sits between the BIC price at
    # multiplier 0.25 and at 1: the BIC drops them all, the held-out error wants them
    rng = np.random.default_rng(1)
    n, d = 400, 8
    X = np.zeros((n, d))
    for j in range(d):
        X[:, j] = X[:, :j] @ np.full(j, 0.12) + rng.standard_normal(n)
    X -= X.mean(axis=0)
    assert choose_multiplier(X, np.arange(d)) < 1.0


def problem(n: int, d: int = 10, **score) -> DagTopoProblem:
    """The opt-in rule (`penalty: null`) unless `score` sets a penalty."""
    return DagTopoProblem(data={"center": True}, score={"penalty": None, **score},
                          dataset=simulate("ER", 4, d, n, "gauss", "linear", 7))


def test_the_rule_chooses_only_for_the_two_stage_sparse_least_squares_score():
    """penalty null chooses with n > 2d and under the ridge rule (n <= 2d); with ridge 0 at n <= 2d, an explicit
    penalty or no first stage it does not."""
    big = problem(200)
    order = big.initial(3, np.random.default_rng(0))[0]
    assert big.penalty_multiplier in MULTIPLIERS
    S = big.X.T @ big.X / big.n
    assert big.score.penalty == pytest.approx(big.penalty_multiplier * bic_price(S, big.n), rel=1e-12)
    assert big.fit(order).score == pytest.approx(big.score.fit_order(order).score)
    small = problem(20)
    small.initial(3, np.random.default_rng(0))
    assert small.penalty_multiplier in MULTIPLIERS
    for p in (problem(20, ridge=0), problem(200, penalty=0.7), problem(200, screen=False)):
        p.initial(3, np.random.default_rng(0))
        assert p.penalty_multiplier == (0.7 if p.score_cfg.penalty == 0.7 else 1.0)


def test_the_choice_is_deterministic_and_survives_a_checkpoint():
    a, b = problem(200), problem(200)
    order_a = a.initial(3, np.random.default_rng(5))[0]
    assert b.initial(3, np.random.default_rng(5))[0].tolist() == order_a.tolist()
    assert a.penalty_multiplier == b.penalty_multiplier != 1.0  # a choice the fresh problem would not make
    resumed = problem(200)
    resumed.load_state_dict(a.state_dict())
    assert resumed.penalty_multiplier == a.penalty_multiplier
    assert resumed.fit(order_a).score == pytest.approx(a.fit(order_a).score, rel=1e-12)


def test_a_negative_penalty_names_the_field():
    with pytest.raises(ConfigError, match=r"problem.score.penalty: must be >= 0 .* or null"):
        DagScoreConfig(penalty=-1.0)


def test_a_given_dataset_with_n_above_2d_reports_the_multiplier(tmp_path):
    ds = simulate("ER", 2, 6, 100, "gauss", "linear", 2)
    p = DagTopoProblem(data={"center": True}, score={"penalty": None},
                       dataset=Dataset(X=ds.X, names=[f"v{i}" for i in range(6)]))
    order = p.initial(2, np.random.default_rng(0))[0]

    class Result:
        best = order

    assert p.finalize(Result(), tmp_path)["penalty_multiplier"] == p.penalty_multiplier


def test_fold_count_ten_at_n_up_to_d_and_never_more_folds_than_rows():
    """With n < K rows, K folds are the n one-row folds plus empty ones: the errors equal leave-one-out's."""
    X = np.random.default_rng(4).normal(size=(7, 9))
    X -= X.mean(axis=0)
    order = np.arange(9)
    assert held_out_errors(X, order, folds=10) == pytest.approx(held_out_errors(X, order, folds=7), rel=1e-12)
    assert [folds_for(n, 20) for n in (7, 10, 20, 21, 40)] == [7, 10, 10, 5, 5]


def test_the_rebuilt_score_keeps_the_screen_and_runs_it_once(monkeypatch):
    """After the held-out choice the score is rebuilt at the new price; the candidate screen (grow-shrink of each
    node on all others at n <= 2d) does not depend on that price, so it is reused: the same candidates as a fresh
    screen of the rebuilt score's S, and one screen per problem."""
    import gfopt.problems.dag_topo.parent_sets as parent_sets

    calls = []
    real = parent_sets.screen
    monkeypatch.setattr(parent_sets, "screen", lambda *a: calls.append(a) or real(*a))
    p = problem(20, d=12)  # n <= 2d: the ridge rule chooses, on the grow-shrink screen
    before = p.score
    p.initial(3, np.random.default_rng(0))
    assert p.score is not before and p.score.penalty != before.penalty  # rebuilt at the chosen price
    assert len(calls) == 1
    S, cost, screen_penalty, allowed, precision = calls[0]
    assert np.array_equal(p.score.S, S) and not precision
    assert np.array_equal(p.score.screened, real(p.score.S, cost, screen_penalty, allowed, precision))
