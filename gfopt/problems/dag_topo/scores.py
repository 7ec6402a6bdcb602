"""Scores Q(W; X) over topological orders: each node is fit on all nodes before it (column-separable).

`LeastSquaresScore` (no L1) is the fast path: Cholesky factors of the ordered covariance, and batched swap
updates that never touch the n x d data. Every other score is a `SeparableScore`: a per-node inner solver
whose results are cached by (node, set of predecessors), so a swap of positions a < b refits only the nodes
at positions a..b.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit

from gfopt.problems.dag_topo.cholesky import OrderFactor, factor_order, swap_variance_deltas, weights_from_factor
from gfopt.problems.dag_topo.prox import fista_l1

CACHE_LIMIT = 200_000


def least_squares_grad(S: np.ndarray, lambda2: float, W: np.ndarray) -> np.ndarray:
    """Gradient of 1/(2n) ||X - XW||^2 + lambda2 ||W||^2 at W, from S = X^T X / n."""
    return -S @ (np.eye(len(W)) - W) + 2.0 * lambda2 * W


@dataclass
class OrderFit:
    """The fit of every node on its predecessors in `order`: per-position costs, weights and the score."""

    order: np.ndarray
    costs: np.ndarray
    W: np.ndarray
    factor: OrderFactor | None = field(default=None, repr=False)

    @property
    def score(self) -> float:
        return float(self.costs.sum())


class Score(ABC):
    """A column-separable objective; `fit_order` is exact, `swap_scores` scores swaps of one base order."""

    name = "score"

    @abstractmethod
    def fit_order(self, order: np.ndarray) -> OrderFit:
        """Fit every node on all nodes before it in `order`."""

    @abstractmethod
    def swap_scores(self, base: OrderFit, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Scores of the orders obtained from `base.order` by swapping positions a[c] < b[c]."""

    def loss_grad(self, W: np.ndarray) -> np.ndarray | None:
        """Gradient of the smooth loss at W (for the paper's gradient filter); None when not defined."""
        return None


class LeastSquaresScore(Score):
    """Q = 1/(2n) ||X - XW||_F^2 + lambda2 ||W||_F^2 by Cholesky factors (ridge = S + 2 lambda2 I)."""

    name = "least_squares"

    def __init__(self, X: np.ndarray, lambda2: float = 0.0) -> None:
        n, d = X.shape
        self.S0 = X.T @ X / n
        self.lambda2 = float(lambda2)
        self.S = self.S0 + 2.0 * self.lambda2 * np.eye(d)

    def fit_order(self, order: np.ndarray) -> OrderFit:
        f = factor_order(self.S, order)
        return OrderFit(order=f.order, costs=0.5 * f.var - self.lambda2, W=weights_from_factor(f), factor=f)

    def swap_scores(self, base: OrderFit, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return base.score + 0.5 * swap_variance_deltas(base.factor, a, b)

    def loss_grad(self, W: np.ndarray) -> np.ndarray:
        return least_squares_grad(self.S0, self.lambda2, W)


class SeparableScore(Score):
    """Generic path: `node_fit(j, parents)` per node, memoized on (node, predecessor set)."""

    def __init__(self, d: int) -> None:
        self.d = d
        self._cache: dict[tuple[int, bytes], tuple[float, np.ndarray]] = {}

    @abstractmethod
    def _node_fit(self, j: int, parents: np.ndarray) -> tuple[float, np.ndarray]:
        """(cost, weights on `parents`) of node j fit on the sorted index array `parents`."""

    def node_fit(self, j: int, parents: np.ndarray) -> tuple[float, np.ndarray]:
        """Cached `_node_fit`; the cache only depends on the SET of predecessors."""
        parents = np.sort(np.asarray(parents, dtype=np.int64))
        mask = np.zeros(self.d, dtype=bool)
        mask[parents] = True
        key = (int(j), np.packbits(mask).tobytes())
        hit = self._cache.get(key)
        if hit is None:
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()
            hit = self._cache[key] = self._node_fit(int(j), parents)
        return hit

    def fit_order(self, order: np.ndarray) -> OrderFit:
        order = np.asarray(order)
        costs = np.empty(self.d)
        W = np.zeros((self.d, self.d))
        for k, j in enumerate(order):
            parents = np.sort(order[:k])
            costs[k], w = self.node_fit(j, parents)
            W[parents, j] = w
        return OrderFit(order=order, costs=costs, W=W)

    def swap_scores(self, base: OrderFit, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        out = np.empty(len(a))
        for c, (lo, hi) in enumerate(zip(np.asarray(a), np.asarray(b), strict=True)):
            order = base.order.copy()
            order[[lo, hi]] = order[[hi, lo]]
            block = sum(self.node_fit(order[k], order[:k])[0] for k in range(lo, hi + 1))
            out[c] = base.score - base.costs[lo:hi + 1].sum() + block
        return out


class LassoScore(SeparableScore):
    """Least squares with L1 (and optional L2): Q = 1/(2n)||X - XW||^2 + lambda1 |W|_1 + lambda2 ||W||^2."""

    name = "least_squares"

    def __init__(self, X: np.ndarray, lambda1: float, lambda2: float = 0.0, max_iter: int = 500,
                 tol: float = 1e-8) -> None:
        n, d = X.shape
        super().__init__(d)
        self.S = X.T @ X / n
        self.lambda1, self.lambda2 = float(lambda1), float(lambda2)
        self.max_iter, self.tol = max_iter, tol

    def _node_fit(self, j: int, parents: np.ndarray) -> tuple[float, np.ndarray]:
        Sjj = self.S[j, j]
        if len(parents) == 0:
            return 0.5 * Sjj, np.zeros(0)
        Spp = self.S[np.ix_(parents, parents)]
        s = self.S[parents, j]
        l2 = self.lambda2

        def value_grad(w: np.ndarray) -> tuple[float, np.ndarray]:
            Sw = Spp @ w
            return 0.5 * (Sjj - 2.0 * w @ s + w @ Sw) + l2 * w @ w, Sw - s + 2.0 * l2 * w

        lip = float(np.linalg.eigvalsh(Spp)[-1]) + 2.0 * l2
        w, obj = fista_l1(value_grad, lip, self.lambda1, np.zeros(len(parents)), self.max_iter, self.tol)
        return obj, w

    def loss_grad(self, W: np.ndarray) -> np.ndarray:
        return least_squares_grad(self.S, self.lambda2, W)


class LogisticScore(SeparableScore):
    """Q = 1/n sum[log(1 + e^{XW}) - X * XW] + lambda1 |W|_1, inner fit = L1 logistic with the same lambda1."""

    name = "logistic"

    def __init__(self, X: np.ndarray, lambda1: float = 0.0, max_iter: int = 500, tol: float = 1e-8) -> None:
        n, d = X.shape
        super().__init__(d)
        self.X = X
        self.lambda1 = float(lambda1)
        self.max_iter, self.tol = max_iter, tol

    def _node_fit(self, j: int, parents: np.ndarray) -> tuple[float, np.ndarray]:
        n = len(self.X)
        x = self.X[:, j]
        if len(parents) == 0:
            return float(np.log(2.0)), np.zeros(0)
        Xp = self.X[:, parents]

        def value_grad(w: np.ndarray) -> tuple[float, np.ndarray]:
            r = Xp @ w
            return float(np.mean(np.logaddexp(0.0, r) - x * r)), Xp.T @ (expit(r) - x) / n

        lip = float(np.linalg.norm(Xp, 2)) ** 2 / (4.0 * n)
        w, obj = fista_l1(value_grad, lip, self.lambda1, np.zeros(len(parents)), self.max_iter, self.tol)
        return obj, w

    def loss_grad(self, W: np.ndarray) -> np.ndarray:
        return self.X.T @ (expit(self.X @ W) - self.X) / len(self.X)
