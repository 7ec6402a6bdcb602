"""`score.penalty: null` with n > 2d: the parent penalty's multiplier chosen from the data by held-out error.

The BIC price per parent is one fixed point on a trade-off that depends on the graph: on generated instances
with n = 10d it kept dense graphs' weaker true parents out (ER6 d=20 n=200: SHD 13 at multiplier 1, 3 at 0.25)
while sparse graphs did best at 1-2. So each multiplier of `MULTIPLIERS` is scored by K-fold cross-validation of
the per-node regressions in one given order (the first stage's best optimum): on K - 1 folds every node's parents
are chosen among its predecessors by grow-shrink with the search's own cost, and the squared errors of those fits
on the held-out fold are summed. The multiplier with the smallest total is used for the search. Folds are fixed
row classes (i mod K), so the choice is deterministic. See experiments/dag_tune_small_n.py for the measurements.
"""

from __future__ import annotations

import numpy as np

from gfopt.problems.dag_topo.selection import UnbiasedCost, grow_shrink_batch, least_squares_cost

MULTIPLIERS = (2.0, 1.4, 1.0, 0.7, 0.5, 0.35, 0.25)
"""Penalty multipliers the held-out rule chooses from (1.0 = the BIC penalty)."""
FOLDS = 5
"""K of the K-fold split: fold f holds the rows i with i % K == f."""


def bic_price(S: np.ndarray, n: int) -> float:
    """The least-squares BIC price of one parent: s2 log(n) / (2n), s2 the smallest column variance of S."""
    return float(np.diag(S).min()) * np.log(n) / (2 * n)


def held_out_errors(X: np.ndarray, order: np.ndarray, multipliers: tuple[float, ...] = MULTIPLIERS,
                    folds: int = FOLDS, unbiased: bool = False, allowed: np.ndarray | None = None,
                    required: np.ndarray | None = None) -> np.ndarray:
    """Total held-out squared error per multiplier of every node regressed on its chosen predecessors in `order`.

    Per fold: the training rows centred on their means, S their covariance (over n_train), parents by grow-shrink
    at multiplier * `bic_price(S, n_train)` (the residual variance over n_train - k when `unbiased`), among the
    predecessors i with `allowed[i, j]` (`required` ones always in); then the held-out rows, centred on the same
    means, give the squared residuals under those weights, summed over nodes, rows and folds.
    """
    X = np.asarray(X, dtype=float)
    order = np.asarray(order, dtype=np.int64)
    n, d = X.shape
    masks = np.zeros((d, d), dtype=bool)  # row r: the candidate parents of order[r]
    for r in range(d):
        masks[r, order[:r]] = True
    if allowed is not None:
        masks &= np.asarray(allowed, dtype=bool)[:, order].T
    req = None if required is None else np.asarray(required, dtype=bool)[:, order].T & masks
    out = np.zeros(len(multipliers))
    fold_of = np.arange(n) % folds
    for f in range(folds):
        train, test = X[fold_of != f], X[fold_of == f]
        mu = train.mean(axis=0)
        A, T = train - mu, test - mu
        S = A.T @ A / len(A)
        cost = UnbiasedCost(least_squares_cost, len(A)) if unbiased else least_squares_cost
        price = bic_price(S, len(A))
        for m, c in enumerate(multipliers):
            fits = grow_shrink_batch(S, order, masks, cost, c * price, req)
            for j, (_, parents, w) in zip(order.tolist(), fits, strict=True):
                out[m] += float(np.sum((T[:, j] - T[:, parents] @ w) ** 2))
    return out


def choose_multiplier(X: np.ndarray, order: np.ndarray, multipliers: tuple[float, ...] = MULTIPLIERS,
                      folds: int = FOLDS, unbiased: bool = False, allowed: np.ndarray | None = None,
                      required: np.ndarray | None = None) -> float:
    """The multiplier with the least held-out error (a tie goes to the larger one: the sparser graph)."""
    err = held_out_errors(X, order, multipliers, folds, unbiased, allowed, required)
    return float(multipliers[min(range(len(multipliers)), key=lambda m: (err[m], -multipliers[m]))])
