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

from gfopt.problems.dag_topo.selection import (
    UnbiasedCost,
    grow_paths,
    grow_prefix,
    least_squares_cost,
    shrink_batch,
)

MULTIPLIERS = (2.0, 1.4, 1.0, 0.7, 0.5, 0.35, 0.25)
"""Penalty multipliers the held-out rule chooses from (1.0 = the BIC penalty)."""
FOLDS = 5
"""K of the K-fold split: fold f holds the rows i with i % K == f."""
FOLDS_SMALL_N = 10
"""K with n <= d (`folds_for`)."""


def folds_for(n: int, d: int) -> int:
    """K for n rows and d columns: `FOLDS_SMALL_N` with n <= d (at most n: more folds would only add empty ones),
    else `FOLDS`.

    With n = d, 5 folds train on 0.8 d rows and hold out n / 5, and the choice was noisy: on 36 generated n = d
    instances (d = 10, 20, 30; seeds 9100+) 10 folds lowered the worst SHD minus DAGMA's from +12 to +6 (at or
    below DAGMA 31 -> 32, summed -706 -> -812); on the tuning suite's 36 (seeds 1000+) the worst was +6 either way,
    33 -> 35 at or below. (At n = 2d, seeds 9200+: worst +11 either way, 32 -> 33, for 16% more time.)
    """
    return min(FOLDS_SMALL_N, n) if n <= d else FOLDS


def bic_price(S: np.ndarray, n: int) -> float:
    """The least-squares BIC price of one parent: s2 log(n) / (2n), s2 the smallest column variance of S."""
    return float(np.diag(S).min()) * np.log(n) / (2 * n)


def with_ridge(S: np.ndarray, ridge: float) -> np.ndarray:
    """S + ridge * s2 I, s2 the smallest column variance of S (`score.ridge`): every node fit a ridge regression."""
    return S + ridge * float(np.diag(S).min()) * np.eye(len(S))


def held_out_errors(X: np.ndarray, order: np.ndarray, multipliers: tuple[float, ...] = MULTIPLIERS,
                    folds: int = FOLDS, unbiased: bool = False, allowed: np.ndarray | None = None,
                    required: np.ndarray | None = None, ridge: float = 0.0) -> np.ndarray:
    """Total held-out squared error per multiplier of every node regressed on its chosen predecessors in `order`.

    Per fold: the training rows centred on their means, S their covariance (over n_train), parents by grow-shrink
    at multiplier * `bic_price(S, n_train)` (the residual variance over n_train - k when `unbiased`), among the
    predecessors i with `allowed[i, j]` (`required` ones always in; with `ridge` > 0 on S + ridge * s2 I, s2 the
    training covariance's smallest variance, as `score.ridge` does); then the held-out rows, centred on the same
    means, give the squared residuals under those weights, summed over nodes, rows and folds. Multipliers must be
    > 0 (an error names the value otherwise).

    Both costs are linear in the residual variance, so grow-shrink on S at penalty c * price chooses what it
    chooses on S / price at penalty c, with the same weights: each fold is grown once, at the smallest multiplier
    (the grow at a larger one is a prefix of that path, `grow_prefix`), then shrunk per multiplier.
    """
    if min(multipliers) <= 0:
        raise ValueError(f"held_out_errors: multipliers must be > 0, got {min(multipliers)}")
    X = np.asarray(X, dtype=float)
    order = np.asarray(order, dtype=np.int64)
    n, d = X.shape
    masks = np.zeros((d, d), dtype=bool)  # row r: the candidate parents of order[r]
    for r in range(d):
        masks[r, order[:r]] = True
    if allowed is not None:
        masks &= np.asarray(allowed, dtype=bool)[:, order].T
    req = np.zeros_like(masks) if required is None else np.asarray(required, dtype=bool)[:, order].T & masks
    fold_of = np.arange(n) % folds
    out = np.zeros(len(multipliers))
    for f in range(folds):
        train, test = X[fold_of != f], X[fold_of == f]
        mu = train.mean(axis=0)
        A = train - mu
        S = A.T @ A / len(A)
        price = bic_price(S, len(A))
        if ridge > 0:
            S = with_ridge(S, ridge)
        S, T = S / price, test - mu
        cost = UnbiasedCost(least_squares_cost, len(A)) if unbiased else least_squares_cost
        path = grow_paths(S, order, masks, cost, min(multipliers), req)
        for m, c in enumerate(multipliers):
            W = np.zeros((d, d))
            fits = shrink_batch(S, order, path.taken, grow_prefix(path, cost, c), cost, c, path.required_mask)
            for j, (_, chosen, w) in zip(order.tolist(), fits, strict=True):
                W[chosen, j] = w
            out[m] += float(np.sum((T - T @ W) ** 2))
    return out


def choose_multiplier(X: np.ndarray, order: np.ndarray, multipliers: tuple[float, ...] = MULTIPLIERS,
                      folds: int = FOLDS, unbiased: bool = False, allowed: np.ndarray | None = None,
                      required: np.ndarray | None = None, ridge: float = 0.0) -> float:
    """The multiplier with the least held-out error (a tie goes to the larger one: the sparser graph)."""
    err = held_out_errors(X, order, multipliers, folds, unbiased, allowed, required, ridge)
    return float(multipliers[min(range(len(multipliers)), key=lambda m: (err[m], -multipliers[m]))])
