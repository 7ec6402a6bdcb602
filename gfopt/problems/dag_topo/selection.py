"""Sparse parent selection within an order, from the covariance S = X^T X / n (never the n x d data).

A node's cost given a parent set A is f(v) + penalty * |A|, with v the residual variance of the node regressed on
A (a Schur complement of S). f is 0.5 v for least squares (equal noise variances) and 0.5 log v for the Gaussian
log-likelihood with one variance per node (BIC). Parents are chosen by grow-shrink, as GRaSP and BOSS do: add the
predecessor that lowers the cost most while one does, then drop parents while dropping one lowers it.
Because the cost only needs S restricted to the candidates, n <= d is no obstacle as long as the chosen sets
stay small (collinear candidates are skipped). The loops themselves are compiled (`selection_kernels`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from scipy.linalg import cho_factor, cho_solve

from gfopt.problems.dag_topo.selection_kernels import RELATIVE_GAIN, grow_many, shrink_many

Transform = Callable[..., Any]
"""f(v, k): the cost of residual variance v with k parents, elementwise on arrays."""
Fit = tuple[float, np.ndarray, np.ndarray]
"""One node's (cost, sorted parents, weights on them)."""


def least_squares_cost(v: float, k: Any = 0) -> float:
    """Half the residual variance: the least-squares score of one node."""
    return 0.5 * v


def log_likelihood_cost(v: float, k: Any = 0) -> float:
    """Minus the Gaussian log-likelihood per sample at the ML variance v: 0.5 (log(2 pi v) + 1)."""
    return 0.5 * (np.log(2.0 * np.pi * v) + 1.0)  # works elementwise on arrays too


class UnbiasedCost:
    """`base` of the residual variance divided by n - k instead of n (k parents): v n / (n - k).

    In-sample residual variance shrinks by (n - k) / n under the true model, so with n near d an order whose late
    nodes regress on many parents looks better than it is; the unbiased estimate removes that (k >= n: inf).
    """

    def __init__(self, base: Transform, n: int) -> None:
        self.base, self.n = base, int(n)

    def __call__(self, v: Any, k: Any = 0) -> Any:
        room = self.n - np.asarray(k, dtype=float)
        with np.errstate(divide="ignore"):
            scale = np.where(room > 0, self.n / np.where(room > 0, room, 1.0), np.inf)
        return self.base(v * scale, k)


def residual_variance(S: np.ndarray, j: int, parents: np.ndarray) -> tuple[float, np.ndarray]:
    """(variance of node j given `parents`, regression weights) from the covariance."""
    parents = np.asarray(parents, dtype=np.int64)
    if len(parents) == 0:
        return float(S[j, j]), np.zeros(0)
    c = cho_factor(S[np.ix_(parents, parents)], lower=True, check_finite=False)
    w = cho_solve(c, S[parents, j], check_finite=False)
    return float(S[j, j] - S[parents, j] @ w), w


def cost_code(cost: Transform) -> tuple[int, int]:
    """(kind, n) of a cost for the compiled loops (`selection_kernels`): kind 0 least squares, 1 log-likelihood; n > 0
    for `UnbiasedCost` over n samples."""
    if isinstance(cost, UnbiasedCost):
        kind, inner = cost_code(cost.base)
        if inner:
            raise TypeError("UnbiasedCost of an UnbiasedCost is not a cost these loops know")
        return kind, cost.n
    if cost is least_squares_cost:
        return 0, 0
    if cost is log_likelihood_cost:
        return 1, 0
    raise TypeError(f"no compiled form of the cost {cost!r}: use least_squares_cost, log_likelihood_cost or "
                    "UnbiasedCost of one of them")


def grow_shrink(S: np.ndarray, j: int, candidates: np.ndarray, cost: Transform, penalty: float,
                required: np.ndarray | None = None) -> tuple[float, np.ndarray, np.ndarray]:
    """Choose parents of node j among `candidates`: (cost, sorted parents, weights on them).

    `required` parents are always kept. Grow: add the candidate that lowers f(v) + penalty |A| most, while one
    does. Shrink: drop the parent whose removal lowers it most, while one does (required ones stay).
    """
    d = len(S)
    mask = np.zeros((1, d), dtype=bool)
    mask[0, np.asarray(candidates, dtype=np.int64)] = True
    req = np.zeros((1, d), dtype=bool)
    if required is not None:
        req[0, np.asarray(required, dtype=np.int64)] = True
    return grow_shrink_batch(S, np.array([j]), mask, cost, penalty, req)[0]


def grow_shrink_batch(S: np.ndarray, nodes: np.ndarray, masks: np.ndarray, cost: Transform, penalty: float,
                      required: np.ndarray | None = None) -> list[Fit]:
    """`grow_shrink` for many (node, candidate mask) requests; each is fitted on its own (compiled loops), in chunks
    whose (requests x candidates) grow records stay within BATCH_ENTRIES."""
    nodes, masks = np.asarray(nodes, dtype=np.int64), np.asarray(masks, dtype=bool)
    required = None if required is None else np.asarray(required, dtype=bool)
    step = max(1, BATCH_ENTRIES // (int(masks.sum(axis=1).max(initial=0)) + 1))
    out: list[Fit] = []
    for lo in range(0, len(masks), step):
        part = slice(lo, lo + step)
        path = grow_paths(S, nodes[part], masks[part], cost, penalty, None if required is None else required[part])
        out += shrink_batch(S, nodes[part], path.taken, path.count, cost, penalty, path.required_mask)
    return out


BATCH_ENTRIES = 2_000_000
"""Requests x (largest candidate count + 1) per compiled call of `grow_shrink_batch` (bounds its memory)."""


class GrowPaths(NamedTuple):
    """The grow stage of many requests, step by step (`grow_paths`)."""

    taken: np.ndarray
    """(R, M) the parents in the order taken (required ones first), -1 after `count`."""
    count: np.ndarray
    """(R,) parents taken."""
    required: np.ndarray
    """(R,) of them required (taken before the greedy steps)."""
    variance: np.ndarray
    """(R, M + 1) residual variance after t parents, for t = required .. count (nan elsewhere)."""
    required_mask: np.ndarray
    """(R, d) the required parents of each request (within its mask)."""


def _requests(S: np.ndarray, nodes: np.ndarray, masks: np.ndarray,
              required: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(S, nodes, masks, required) as the compiled loops take them (contiguous float64 / int64 / bool)."""
    masks = np.ascontiguousarray(masks, dtype=bool)
    req = np.zeros_like(masks) if required is None else np.ascontiguousarray(required, dtype=bool) & masks
    return np.ascontiguousarray(S, dtype=float), np.ascontiguousarray(nodes, dtype=np.int64), masks, req


def grow_paths(S: np.ndarray, nodes: np.ndarray, masks: np.ndarray, cost: Transform, penalty: float,
               required: np.ndarray | None = None) -> GrowPaths:
    """The grow stage of `grow_shrink_batch` with every step recorded.

    The step taken never depends on the penalty (the best gain among the candidates left); the penalty only says
    when to stop, and a larger one stops no later. So the paths at the smallest of several penalties hold the grow
    of every other one as a prefix (`grow_prefix`).
    """
    S, nodes, masks, req = _requests(S, nodes, masks, required)
    taken, count, nreq, variance, _, _ = grow_many(S, nodes, masks, masks, req, *cost_code(cost), float(penalty), False)
    return GrowPaths(taken, count, nreq, variance, req)


def grow_sensitivity(S: np.ndarray, nodes: np.ndarray, masks: np.ndarray, wide: np.ndarray, cost: Transform,
                     penalty: float) -> tuple[np.ndarray, np.ndarray]:
    """Which candidate changes can alter each request's grow-shrink result: (path, intrude), rows over d nodes.

    `path[r, c]`: c was added by the grow of (nodes[r], masks[r]) or was the best candidate at the step that
    stopped it. `intrude[r, c]`: c is in `wide[r]` (a superset of masks[r]) and its gain at some grow step was at
    least that step's best among masks[r] (any finite gain where there was none). The grow then picks the same
    parents for any mask that drops only nodes outside `path` and adds only `wide` nodes outside `intrude` (each
    step's argmax and the stopping test see the same values, entry for entry), so the result is the same.
    No required parents here.
    """
    S, nodes, masks, req = _requests(S, nodes, masks, None)
    wide = np.ascontiguousarray(wide, dtype=bool) | masks
    return grow_many(S, nodes, masks, wide, req, *cost_code(cost), float(penalty), True)[4:]


def grow_prefix(path: GrowPaths, cost: Transform, penalty: float) -> np.ndarray:
    """Parents kept per request when the grow recorded in `path` (at a penalty <= `penalty`) runs at `penalty`:
    the required ones, then the steps up to the first that does not lower f(v) + penalty |A| (as the grow tests)."""
    t = np.arange(path.taken.shape[1])
    if len(t) == 0:
        return path.count.copy()
    v = path.variance
    with np.errstate(invalid="ignore"):
        current = cost(v[:, :-1], t) + penalty * t
        new = cost(v[:, 1:], t + 1) + penalty * (t + 1)
        ok = new < current - RELATIVE_GAIN * np.abs(current)
    ok = (ok | (t < path.required[:, None])) & (t < path.count[:, None])
    return np.where(ok.all(axis=1), path.count, np.argmin(ok, axis=1))


def shrink_batch(S: np.ndarray, nodes: np.ndarray, parents: np.ndarray, counts: np.ndarray, cost: Transform,
                 penalty: float, required: np.ndarray | None = None) -> list[Fit]:
    """Drop parents while one removal lowers the cost: removing a raises v by w_a^2 / (S_AA^{-1})_aa.

    Request r is node nodes[r] with parents parents[r, :counts[r]] (any order); `required[r]` (over d nodes)
    parents stay. Returns (cost, sorted parents, weights) per request.
    """
    S, nodes = np.ascontiguousarray(S, dtype=float), np.ascontiguousarray(nodes, dtype=np.int64)
    req = np.zeros((len(nodes), len(S)), dtype=bool) if required is None else \
        np.ascontiguousarray(required, dtype=bool)
    cost_r, kept, kc, weights = shrink_many(S, nodes, np.ascontiguousarray(parents, dtype=np.int64),
                                            np.ascontiguousarray(counts, dtype=np.int64), req, *cost_code(cost),
                                            float(penalty))
    return [(float(cost_r[r]), kept[r, :k].copy(), weights[r, :k].copy()) for r, k in enumerate(kc.tolist())]


def screen(S: np.ndarray, cost: Transform, penalty: float, allowed: np.ndarray, precision: bool) -> np.ndarray:
    """Candidate parents per node, a Markov-blanket superset (a node's parents lie in its blanket).

    With `precision` (the caller's choice for n > 2d and a nonsingular S): the partial correlations of the precision
    matrix, kept where the log-likelihood gain of the pair, -0.5 log(1 - rho^2), exceeds `penalty` (the regression
    of j on all others, tested one term at a time). Otherwise: grow-shrink of each node on all others. Symmetrized,
    then restricted to `allowed`.
    """
    d = len(S)
    if precision:
        P = np.linalg.inv(S)
        dg = np.sqrt(np.diag(P))
        rho2 = np.clip((P / np.outer(dg, dg)) ** 2, 0.0, 1.0 - 1e-15)
        M = -0.5 * np.log1p(-rho2) > penalty
        np.fill_diagonal(M, False)
        return (M | M.T) & allowed
    M = np.zeros((d, d), dtype=bool)
    masks = (allowed | allowed.T).T.copy()  # row j: the candidates of node j
    np.fill_diagonal(masks, False)
    for j, (_, chosen, _) in enumerate(grow_shrink_batch(S, np.arange(d), masks, cost, penalty)):
        M[chosen, j] = True
    M = M | M.T
    return M & allowed
