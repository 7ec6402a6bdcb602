"""The least-squares inner solver and the swap update against plain solves and full refits."""

from __future__ import annotations

import numpy as np
import pytest

from gfopt.problems.dag_topo.cholesky import factor_order, swap_variance_deltas, weights_from_factor
from gfopt.problems.dag_topo.scores import LeastSquaresScore


def correlated_data(n: int, d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + rng.normal(size=d)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fit_matches_plain_least_squares_per_node(seed):
    X = correlated_data(60, 7, seed)
    order = np.random.default_rng(seed).permutation(7)
    fit = LeastSquaresScore(X).fit_order(order)
    W_ref = np.zeros((7, 7))
    for k in range(1, 7):
        parents = order[:k]
        W_ref[parents, order[k]] = np.linalg.lstsq(X[:, parents], X[:, order[k]], rcond=None)[0]
    np.testing.assert_allclose(fit.W, W_ref, atol=1e-9)
    direct = 0.5 / len(X) * np.sum((X - X @ W_ref) ** 2)
    assert fit.score == pytest.approx(direct, rel=1e-10)


def test_ridge_score_matches_closed_form():
    X = correlated_data(40, 5, 3)
    lam = 0.3
    order = np.array([3, 0, 4, 1, 2])
    fit = LeastSquaresScore(X, lambda2=lam).fit_order(order)
    n = len(X)
    total = 0.0
    for k, j in enumerate(order):
        P = order[:k]
        w = np.linalg.solve(X[:, P].T @ X[:, P] / n + 2 * lam * np.eye(k), X[:, P].T @ X[:, j] / n) if k else []
        r = X[:, j] - (X[:, P] @ w if k else 0.0)
        total += 0.5 / n * r @ r + lam * np.sum(np.square(w))
    assert fit.score == pytest.approx(total, rel=1e-10)


@pytest.mark.parametrize("seed", [0, 1])
def test_swap_deltas_match_full_refits_for_every_pair(seed):
    d = 12
    X = correlated_data(80, d, seed)
    S = X.T @ X / len(X)
    order = np.random.default_rng(seed + 10).permutation(d)
    base = factor_order(S, order)
    a, b = np.triu_indices(d, 1)
    got = swap_variance_deltas(base, a, b)
    for c in range(len(a)):
        swapped = order.copy()
        swapped[[a[c], b[c]]] = swapped[[b[c], a[c]]]
        ref = factor_order(S, swapped).total - base.total
        assert got[c] == pytest.approx(ref, rel=1e-8, abs=1e-10)


def test_swap_deltas_chunking_gives_the_same_numbers(monkeypatch):
    import gfopt.problems.dag_topo.cholesky as ch

    X = correlated_data(50, 9, 4)
    f = factor_order(X.T @ X / 50, np.arange(9))
    a, b = np.triu_indices(9, 1)
    whole = swap_variance_deltas(f, a, b)
    monkeypatch.setattr(ch, "CHUNK_ELEMENTS", 5)
    np.testing.assert_allclose(swap_variance_deltas(f, a, b), whole, rtol=1e-10, atol=1e-12)


def test_weights_from_factor_place_edges_only_forward_in_the_order():
    X = correlated_data(30, 6, 5)
    order = np.array([5, 2, 0, 4, 1, 3])
    W = weights_from_factor(factor_order(X.T @ X / 30, order))
    pos = np.argsort(order)
    i, j = np.nonzero(W)
    assert np.all(pos[i] < pos[j])


def test_loss_gradient_matches_finite_differences():
    X = correlated_data(40, 4, 6)
    score = LeastSquaresScore(X, lambda2=0.2)
    W = np.random.default_rng(0).normal(size=(4, 4))

    def q(W):
        return 0.5 / len(X) * np.sum((X - X @ W) ** 2) + 0.2 * np.sum(W * W)

    num = np.zeros_like(W)
    for i in range(4):
        for j in range(4):
            E = np.zeros_like(W)
            E[i, j] = 1e-6
            num[i, j] = (q(W + E) - q(W - E)) / 2e-6
    np.testing.assert_allclose(score.loss_grad(W), num, rtol=1e-6, atol=1e-6)
