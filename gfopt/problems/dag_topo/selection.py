"""Sparse parent selection within an order, from the covariance S = X^T X / n (never the n x d data).

A node's cost given a parent set A is f(v) + penalty * |A|, with v the residual variance of the node regressed on
A (a Schur complement of S). f is 0.5 v for least squares (equal noise variances) and 0.5 log v for the Gaussian
log-likelihood with one variance per node (BIC). Parents are chosen by grow-shrink, as GRaSP and BOSS do: add the
predecessor that lowers the cost most while one does, then drop parents while dropping one lowers it.
Because the cost only needs S restricted to the candidates, n <= d is no obstacle as long as the chosen sets
stay small (collinear candidates are skipped).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from scipy.linalg import cho_factor, cho_solve

COLLINEAR = 1e-10
"""A candidate whose variance given the chosen parents is below this fraction of its own variance is skipped."""
MIN_VARIANCE = 1e-12
"""Residual variances are kept above this fraction of the node's variance (log v stays finite when n <= d)."""

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
                      required: np.ndarray | None = None,
                      shrunk: dict[tuple[int, bytes], Fit] | None = None) -> list[Fit]:
    """`grow_shrink` for many (node, candidate mask) requests at once, vectorized over the batch (chunked).

    `shrunk`, when given, keeps the shrink stage's results by (node, grown parent set): many masks grow to the same
    set, and the shrink sees only that set (and the required parents, fixed for a caller that passes one dict).
    """
    nodes = np.asarray(nodes, dtype=np.int64)
    masks = np.asarray(masks, dtype=bool)
    req = np.zeros_like(masks) if required is None else np.asarray(required, dtype=bool) & masks
    path = grow_paths(S, nodes, masks, cost, penalty, req)
    floor = MIN_VARIANCE * S[nodes, nodes]
    out: list[Fit] = []
    step = _chunk_rows(masks)
    for lo in range(0, len(nodes), step):  # the shrink's stacked matrices stay within the grow's bound too
        hi = min(lo + step, len(nodes))
        parents = [path.taken[r, :path.count[r]] for r in range(lo, hi)]
        out.extend(shrink_batch(S, nodes[lo:hi], parents, cost, penalty, req[lo:hi], floor[lo:hi], shrunk))
    return out


BATCH_ELEMENTS = 4_000_000
"""Entries of the stacked conditional covariances processed at once by `grow_shrink_batch` and `grow_paths`."""


def _chunk_rows(masks: np.ndarray) -> int:
    """Requests per chunk: BATCH_ELEMENTS over (the largest candidate count + 1)^2."""
    m_max = int(masks.sum(axis=1).max()) if len(masks) else 0
    return max(1, BATCH_ELEMENTS // (m_max + 1) ** 2)


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


def grow_paths(S: np.ndarray, nodes: np.ndarray, masks: np.ndarray, cost: Transform, penalty: float,
               required: np.ndarray | None = None) -> GrowPaths:
    """The grow stage of `grow_shrink_batch` with every step recorded.

    The step taken never depends on the penalty (the best gain among the candidates left); the penalty only says
    when to stop, and a larger one stops no later. So the paths at the smallest of several penalties hold the grow
    of every other one as a prefix (`grow_prefix`).
    """
    nodes = np.asarray(nodes, dtype=np.int64)
    masks = np.asarray(masks, dtype=bool)
    req = np.zeros_like(masks) if required is None else np.asarray(required, dtype=bool) & masks
    m_max = int(masks.sum(axis=1).max()) if len(masks) else 0
    step = _chunk_rows(masks)
    out = GrowPaths(np.full((len(nodes), m_max), -1, dtype=np.int64), np.zeros(len(nodes), dtype=np.int64),
                    np.zeros(len(nodes), dtype=np.int64), np.full((len(nodes), m_max + 1), np.nan))
    for lo in range(0, len(nodes), step):
        part = _grow_chunk(S, nodes[lo:lo + step], masks[lo:lo + step], cost, penalty, req[lo:lo + step])
        width = part.taken.shape[1]
        out.taken[lo:lo + step, :width] = part.taken
        out.variance[lo:lo + step, :width + 1] = part.variance
        out.count[lo:lo + step], out.required[lo:lo + step] = part.count, part.required
    return out


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
        ok = new < current - 1e-15 * np.abs(current)
    ok = (ok | (t < path.required[:, None])) & (t < path.count[:, None])
    return np.where(ok.all(axis=1), path.count, np.argmin(ok, axis=1))


def _grow_chunk(S: np.ndarray, nodes: np.ndarray, masks: np.ndarray, cost: Transform, penalty: float,
                req: np.ndarray) -> GrowPaths:
    R = len(nodes)
    counts = masks.sum(axis=1)
    m = int(counts.max()) if R else 0
    rows = np.arange(R)
    # candidate k of request r is idx[r, k] (valid[r, k]); column m is the node itself
    valid = np.arange(m)[None, :] < counts[:, None]
    idx = np.where(valid, np.argsort(~masks, axis=1, kind="stable")[:, :m], 0)
    full = np.concatenate([idx, nodes[:, None]], axis=1)
    # conditional covariances given the chosen parents, kept as S - sum_t q_t q_t^T (one column per pivot)
    diag = S[full, full].copy()
    colj = S[full, nodes[:, None]].copy()
    own = diag[:, :m].copy()
    pivots: list[np.ndarray] = []
    chosen = np.zeros((R, m), dtype=bool)
    taken = np.full((R, m), -1, dtype=np.int64)
    count = np.zeros(R, dtype=np.int64)
    variance = np.full((R, m + 1), np.nan)
    floor = MIN_VARIANCE * S[nodes, nodes]
    must = req[rows[:, None], idx] & valid

    def take(r: np.ndarray, k: np.ndarray) -> None:
        col = S[full[r], full[r, k][:, None]]
        for q in pivots:
            col -= q[r] * q[r, k][:, None]
        q_new = np.zeros((R, m + 1))
        q_new[r] = col / np.sqrt(col[np.arange(len(r)), k])[:, None]
        pivots.append(q_new)
        diag[r] -= q_new[r] ** 2
        colj[r] -= q_new[r] * q_new[r, m][:, None]
        chosen[r, k] = True
        taken[r, count[r]] = idx[r, k]
        count[r] += 1

    for _ in range(int(must.sum(axis=1).max()) if R and m else 0):  # required parents first
        pend = must & ~chosen & (diag[:, :m] > COLLINEAR * own)
        r = np.flatnonzero(pend.any(axis=1))
        if len(r) == 0:
            break
        take(r, np.argmax(pend[r], axis=1))
    required = count.copy()
    v = np.maximum(diag[:, m], floor)
    variance[rows, count] = v
    current = cost(v, count) + penalty * count
    active = np.ones(R, dtype=bool) if m else np.zeros(R, dtype=bool)
    while active.any():  # grow
        ok = valid & ~chosen & (diag[:, :m] > COLLINEAR * own) & active[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            gains = np.where(ok, colj[:, :m] ** 2 / np.where(ok, diag[:, :m], 1.0), -np.inf)
        best = np.argmax(gains, axis=1)
        g = gains[rows, best]
        v_new = np.maximum(v - np.where(np.isfinite(g), g, 0.0), floor)
        new = cost(v_new, count + 1) + penalty * (count + 1)
        accept = active & np.isfinite(g) & (new < current - 1e-15 * np.abs(current))
        active &= accept
        r = np.flatnonzero(accept)
        if len(r) == 0:
            break
        take(r, best[r])
        v[r], current[r] = v_new[r], new[r]
        variance[r, count[r]] = v_new[r]
    return GrowPaths(taken, count, required, variance)


def shrink_batch(S: np.ndarray, nodes: np.ndarray, parents: list[np.ndarray], cost: Transform, penalty: float,
                 req: np.ndarray, floor: np.ndarray, memo: dict[tuple[int, bytes], Fit] | None = None) -> list[Fit]:
    """Drop parents while one removal lowers the cost: removing a raises v by w_a^2 / (S_AA^{-1})_aa.

    Requests are processed in groups of one parent count (no padding, so a result never depends on its batch).
    Each step looks only at the current set, so the result from a set is the result from the set it drops to:
    `memo` (by (node, set), for one S, cost, penalty and required matrix) keeps every set passed through.
    """
    R = len(nodes)
    out: list = [None] * R
    seen: list[list[tuple[int, bytes]]] = [[] for _ in range(R)]
    memo = {} if memo is None else memo
    groups: dict[int, tuple[list[int], list[np.ndarray]]] = {}

    def enter(r: int, p: np.ndarray) -> None:
        key = (int(nodes[r]), p.tobytes())
        hit = memo.get(key)
        if hit is not None:
            out[r] = hit
            for old in seen[r]:
                memo[old] = hit
            return
        seen[r].append(key)
        rows, sets = groups.setdefault(len(p), ([], []))
        rows.append(r)
        sets.append(p)

    for r in range(R):
        enter(r, np.sort(np.asarray(parents[r], dtype=np.int64)))
    while groups:
        k = max(groups)
        rows, sets = groups.pop(k)
        todo = np.array(rows, dtype=np.int64)
        P = np.array(sets, dtype=np.int64).reshape(len(todo), k)
        count = np.full(len(todo), k)
        js = nodes[todo]
        s = S[P, js[:, None]]
        if k:
            inv = np.linalg.inv(S[P[:, :, None], P[:, None, :]])
            w = (inv * s[:, None, :]).sum(axis=2)
        else:
            w = np.zeros((len(todo), 0))
        v = np.maximum(S[js, js] - (s * w).sum(axis=1), floor[todo])
        current = cost(v, count) + penalty * count
        if k:
            inv_diag = inv[:, np.arange(k), np.arange(k)]
            drop = cost(np.maximum(v[:, None] + w**2 / inv_diag, floor[todo][:, None]), (count - 1)[:, None])
            drop = drop + penalty * (count - 1)[:, None]
            drop = np.where(~req[todo[:, None], P], drop, np.inf)
            best = np.argmin(drop, axis=1)
            improve = drop[np.arange(len(todo)), best] < current - 1e-15 * np.abs(current)
        else:
            best, improve = np.zeros(len(todo), dtype=np.int64), np.zeros(len(todo), dtype=bool)
        for t in np.flatnonzero(~improve).tolist():
            r = rows[t]
            out[r] = (float(current[t]), P[t].copy(), w[t].copy())
            for old in seen[r]:
                memo[old] = out[r]
        imp = np.flatnonzero(improve)
        if len(imp):
            keep = np.ones((len(imp), k), dtype=bool)
            keep[np.arange(len(imp)), best[imp]] = False
            smaller = P[imp][keep].reshape(len(imp), k - 1)
            for t, p in zip(imp.tolist(), smaller, strict=True):
                enter(rows[t], p)
    return out


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
