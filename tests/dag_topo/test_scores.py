"""L1 inner solvers against a bound-constrained L-BFGS oracle; the logistic lambda convention; the MLP score."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import expit

from gfopt.problems.dag_topo.data import simulate
from gfopt.problems.dag_topo.problem import DagTopoProblem
from gfopt.problems.dag_topo.scores import LassoScore, LogisticScore


def l1_oracle(f_grad, k: int, lam: float) -> float:
    """min f(w) + lam |w|_1 via w = u - v, u, v >= 0 (smooth, L-BFGS-B): an independent solver."""

    def obj(z):
        u, v = z[:k], z[k:]
        val, g = f_grad(u - v)
        return val + lam * z.sum(), np.concatenate([g + lam, -g + lam])

    res = minimize(obj, np.zeros(2 * k), jac=True, method="L-BFGS-B", bounds=[(0, None)] * (2 * k),
                   options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 5000})
    return float(res.fun)


def test_lasso_node_fit_matches_oracle():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5)) @ rng.normal(size=(5, 5))
    score = LassoScore(X, lambda1=0.1, lambda2=0.05, max_iter=5000, tol=1e-14)
    parents = np.array([0, 2, 3])
    cost, w = score.node_fit(4, parents)
    n, P, x = len(X), X[:, parents], X[:, 4]

    def f_grad(w):
        r = x - P @ w
        return 0.5 / n * r @ r + 0.05 * w @ w, -P.T @ r / n + 0.1 * w

    assert cost == pytest.approx(l1_oracle(f_grad, 3, 0.1), rel=1e-7)


def test_logistic_node_fit_uses_the_score_lambda():
    ds = simulate("ER", 2, 6, 500, "gauss", "logistic", 3)
    X = ds.X
    lam = 0.01
    score = LogisticScore(X, lambda1=lam, max_iter=20000, tol=1e-15)
    parents = np.array([0, 1, 2, 4])
    cost, w = score.node_fit(5, parents)
    P, x = X[:, parents], X[:, 5]

    def f_grad(w):
        r = P @ w
        return np.mean(np.logaddexp(0, r) - x * r), P.T @ (expit(r) - x) / len(x)

    assert cost == pytest.approx(l1_oracle(f_grad, 4, lam), rel=1e-6)
    # the reported cost is the score term of this node: loss + the same lambda times |w|_1
    r = P @ w
    assert cost == pytest.approx(np.mean(np.logaddexp(0, r) - x * r) + lam * np.abs(w).sum(), rel=1e-12)


def test_logistic_topo_run_on_binary_data():
    ds = simulate("ER", 1, 5, 400, "gauss", "logistic", 2)
    p = DagTopoProblem(score={"type": "logistic", "lambda1": 0.01}, dataset=ds)
    from gfopt.core.engine import run
    from gfopt.core.local_search import LocalSearchEngine

    res = run(p, LocalSearchEngine(restarts=0), np.random.default_rng(0))
    f = p.fit(res.best)
    assert f.score == pytest.approx(p.weights_score(f.W), rel=1e-9)
    # the search never ends worse than its start
    start = p.evaluate(p.initial(1, np.random.default_rng(0)))[0]
    assert f.score <= start


@pytest.mark.slow
def test_mlp_score_beats_linear_on_a_nonlinear_parent_and_converges_early():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    from gfopt.problems.dag_topo.mlp import MlpScore

    rng = np.random.default_rng(0)
    a = rng.uniform(-2, 2, size=300)
    b = np.sin(2 * a) + 0.1 * rng.normal(size=300)
    X = np.c_[a, b] - np.c_[a, b].mean(axis=0)
    mlp = MlpScore(X, hidden=8, max_iter=2000, tol=1e-6, seed=0)
    cost, w = mlp.node_fit(1, np.array([0]))
    linear = 0.5 * np.mean((X[:, 1] - X[:, 0] * (X[:, 0] @ X[:, 1]) / (X[:, 0] @ X[:, 0])) ** 2)
    assert cost < 0.5 * linear and w.shape == (1,) and w[0] > 0
    assert mlp.iterations[-1] < 100  # the convergence test stops before max_iter (100 checks)
    again, _ = MlpScore(X, hidden=8, max_iter=2000, tol=1e-6, seed=0).node_fit(1, np.array([0]))
    assert again == cost  # seeded per node and parent set


@pytest.mark.slow
def test_mlp_topo_run_orders_a_nonlinear_chain():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    from gfopt.core.engine import run
    from gfopt.core.local_search import LocalSearchEngine
    from gfopt.problems.dag_topo.data import Dataset

    rng = np.random.default_rng(1)
    a = rng.uniform(-2, 2, size=200)
    b = np.sin(2 * a) + 0.2 * rng.normal(size=200)
    c = b**2 + 0.2 * rng.normal(size=200)
    ds = Dataset(X=np.c_[c, a, b], names=["c", "a", "b"])
    p = DagTopoProblem(score={"type": "mlp", "hidden": 5, "lambda2": 0.001, "max_iter": 400, "tol": 1e-5},
                       dataset=ds)
    res = run(p, LocalSearchEngine(restarts=1), np.random.default_rng(0))
    assert list(res.best) == [1, 2, 0]  # a -> b -> c: the only order whose nodes are functions of predecessors
