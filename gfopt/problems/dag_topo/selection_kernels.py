"""Compiled loops of sparse parent selection (numba): grow-shrink of many (node, candidate mask) requests.

Each request is fitted on its own, in plain loops over its candidates only, so a request's result never depends on
the others in its batch (a fit depends on the node, its mask and S alone). In numpy the same fits cost a call per
small array: grow trees and batching hid that overhead; here a grow-shrink of one node is a few microseconds.
The cost of residual variance v with k parents is coded as (kind, n): kind 0 is 0.5 v (least squares), kind 1 is
0.5 (log(2 pi v) + 1) (Gaussian log-likelihood); n > 0 scales v by n / (n - k) first (`selection.UnbiasedCost`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

COLLINEAR = 1e-10
"""A candidate whose variance given the chosen parents is below this fraction of its own variance is skipped."""
MIN_VARIANCE = 1e-12
"""Residual variances are kept above this fraction of the node's variance (log v stays finite when n <= d)."""
RELATIVE_GAIN = 1e-15
"""A step must lower the cost by more than this fraction of it (rounding never counts as a gain)."""


@njit(cache=True, inline="always")
def cost_of(v: float, k: int, kind: int, n: int) -> float:
    """The cost of residual variance v with k parents (module doc: kind, n)."""
    if n > 0:
        if n - k <= 0:
            return np.inf
        v = v * (n / (n - k))
    if kind == 0:
        return 0.5 * v
    return 0.5 * (np.log(2.0 * np.pi * v) + 1.0)


@njit(cache=True)
def grow_many(S, nodes, masks, wide, required, kind, n, penalty, record):  # pragma: no cover - compiled
    """The grow stage of every request (r: node nodes[r], candidates masks[r], a subset of wide[r]).

    Required candidates are taken first (lowest index first, skipping collinear ones); then the candidate with the
    largest gain colj^2 / diag (S's entries given the parents so far; first index on ties) while it lowers
    f(v) + penalty |A|. Returns taken (R, M) in the order taken, count (R,), required count (R,), variance (R, M+1)
    after t parents, and with `record`, per request over d nodes: path (added, or best when the grow stopped) and
    intrude (in wide[r] with a gain at least a step's best inside the mask; see `selection.grow_sensitivity`);
    without it, both are empty (0, d) arrays.
    """
    R, d = masks.shape
    M = 0
    for r in range(R):
        M = max(M, masks[r].sum())
    taken = np.full((R, M), -1, dtype=np.int64)
    count = np.zeros(R, dtype=np.int64)
    nreq = np.zeros(R, dtype=np.int64)
    variance = np.full((R, M + 1), np.nan)
    path = np.zeros((R if record else 0, d), dtype=np.bool_)
    intrude = np.zeros((R if record else 0, d), dtype=np.bool_)
    idx = np.empty(d, dtype=np.int64)
    Q = np.empty((M, d))  # Q[s, c]: pivot column s at candidate c
    qj = np.empty(M)  # their entries at the node itself
    diag = np.empty(d)
    colj = np.empty(d)
    own = np.empty(d)
    inmask = np.empty(d, dtype=np.bool_)
    chosen = np.empty(d, dtype=np.bool_)
    gains = np.empty(d)
    for r in range(R):
        j = nodes[r]
        m = 0
        for c in range(d):
            if wide[r, c] and c != j:
                idx[m] = c
                inmask[m] = masks[r, c]
                diag[m] = S[c, c]
                own[m] = S[c, c]
                colj[m] = S[c, j]
                chosen[m] = False
                m += 1
        floor = MIN_VARIANCE * S[j, j]
        dj = S[j, j]
        t = 0

        for _ in range(M + 1):  # required parents first
            p = -1
            for c in range(m):
                if inmask[c] and required[r, idx[c]] and not chosen[c] and diag[c] > COLLINEAR * own[c]:
                    p = c
                    break
            if p < 0:
                break
            dj = _take(S, j, idx, m, p, t, Q, qj, diag, colj, chosen)
            taken[r, t] = idx[p]
            t += 1
        nreq[r] = t
        v = max(dj, floor)
        variance[r, t] = v
        current = cost_of(v, t, kind, n) + penalty * t
        while t < M:  # grow
            best = -1
            g = -np.inf
            for c in range(m):
                gains[c] = -np.inf
                if not chosen[c] and diag[c] > COLLINEAR * own[c]:
                    gains[c] = colj[c] ** 2 / diag[c]
                    if inmask[c] and gains[c] > g:
                        g, best = gains[c], c
            if record:
                for c in range(m):
                    if gains[c] > -np.inf and gains[c] >= g:
                        intrude[r, idx[c]] = True
            if best < 0:
                break
            if record:
                path[r, idx[best]] = True
            v_new = max(v - g, floor)
            new = cost_of(v_new, t + 1, kind, n) + penalty * (t + 1)
            if not new < current - RELATIVE_GAIN * abs(current):
                break
            _take(S, j, idx, m, best, t, Q, qj, diag, colj, chosen)
            taken[r, t] = idx[best]
            t += 1
            v, current = v_new, new
            variance[r, t] = v
        count[r] = t
    return taken, count, nreq, variance, path, intrude


@njit(cache=True, inline="always")
def _take(S, j, idx, m, p, t, Q, qj, diag, colj, chosen):  # pragma: no cover - compiled
    """Add candidate p as the (t+1)-th parent: its pivot column given the t before updates the candidates'
    conditional variances and covariances with the node; returns the node's variance given all t+1 parents."""
    b = idx[p]
    q = Q[t]
    for c in range(m):
        q[c] = S[idx[c], b]
    x = S[j, b]
    for s in range(t):  # one pivot at a time over all candidates (a loop the compiler vectorizes)
        f = Q[s, p]
        prev = Q[s]
        for c in range(m):
            q[c] -= prev[c] * f
        x -= qj[s] * f
    root = np.sqrt(q[p])
    for c in range(m):
        q[c] /= root
    qj[t] = x / root
    for c in range(m):
        diag[c] -= q[c] ** 2
        colj[c] -= q[c] * qj[t]
    chosen[p] = True
    dj = S[j, j]
    for s in range(t + 1):
        dj -= qj[s] ** 2
    return dj


@njit(cache=True)
def shrink_many(S, nodes, parents, counts, required, kind, n, penalty):  # pragma: no cover - compiled
    """Drop parents while one removal lowers the cost (removing a raises v by w_a^2 / (S_AA^-1)_aa; the best
    removal first, first index on ties; required parents stay; the inverse is downdated, not recomputed).
    parents[r, :counts[r]] are node nodes[r]'s grown set. Returns cost (R,), kept parents sorted (R, K) (-1 padded),
    their count (R,) and weights (R, K)."""
    R, K = parents.shape
    cost = np.empty(R)
    kept = np.full((R, K), -1, dtype=np.int64)
    kc = np.zeros(R, dtype=np.int64)
    weights = np.zeros((R, K))
    P = np.empty(K, dtype=np.int64)
    A = np.empty((K, K))
    inv = np.empty((K, K))
    s = np.empty(K)
    w = np.empty(K)
    for r in range(R):
        j = nodes[r]
        k = counts[r]
        P[:k] = np.sort(parents[r, :k])
        floor = MIN_VARIANCE * S[j, j]
        for a in range(k):
            s[a] = S[P[a], j]
            for b in range(k):
                A[a, b] = S[P[a], P[b]]
        _invert(A, inv, k)
        v = S[j, j]
        for a in range(k):
            x = 0.0
            for b in range(k):
                x += inv[a, b] * s[b]
            w[a] = x
            v -= s[a] * x
        v = max(v, floor)
        while True:
            current = cost_of(v, k, kind, n) + penalty * k
            best = -1
            low = np.inf
            for a in range(k):
                if required[r, P[a]]:
                    continue
                drop = cost_of(max(v + w[a] ** 2 / inv[a, a], floor), k - 1, kind, n) + penalty * (k - 1)
                if drop < low:
                    low, best = drop, a
            if best < 0 or not low < current - RELATIVE_GAIN * abs(current):
                break
            v = max(v + w[best] ** 2 / inv[best, best], floor)
            _drop(P, inv, w, k, best)
            k -= 1
        cost[r] = current
        kc[r] = k
        kept[r, :k] = P[:k]
        weights[r, :k] = w[:k]
    return cost, kept, kc, weights


@njit(cache=True, inline="always")
def _drop(P, inv, w, k, a):  # pragma: no cover - compiled
    """Remove entry a of the set: the inverse of the smaller matrix and the weights on the rest, by the rank-one
    downdate inv - inv[:, a] inv[a, :] / inv[a, a] (and w - inv[:, a] w_a / inv[a, a]), then close the gap."""
    pivot = inv[a, a]
    for b in range(k):
        if b != a:
            f = inv[b, a] / pivot
            w[b] -= f * w[a]
            for c in range(k):
                inv[b, c] -= f * inv[a, c]
    for b in range(a, k - 1):
        P[b] = P[b + 1]
        w[b] = w[b + 1]
        for c in range(k):
            inv[b, c] = inv[b + 1, c]
    for c in range(a, k - 1):
        for b in range(k - 1):
            inv[b, c] = inv[b, c + 1]


@njit(cache=True)
def _invert(A, inv, k):  # pragma: no cover - compiled
    """inv[:k, :k] = A[:k, :k]^-1 for a symmetric positive definite A, by Cholesky (L and then L^-1 in inv's lower
    triangle, the product in A); a pivot <= 0 (A not positive definite) falls back to Gauss-Jordan elimination."""
    for c in range(k):  # A = L L^T
        x = A[c, c]
        for s in range(c):
            x -= inv[c, s] ** 2
        if not x > 0.0:
            _gauss_jordan(A, inv, k)
            return
        inv[c, c] = np.sqrt(x)
        for a in range(c + 1, k):
            y = A[a, c]
            for s in range(c):
                y -= inv[a, s] * inv[c, s]
            inv[a, c] = y / inv[c, c]
    for c in range(k):  # L^-1 in place, column by column
        inv[c, c] = 1.0 / inv[c, c]
        for a in range(c + 1, k):
            y = 0.0
            for s in range(c, a):
                y -= inv[a, s] * inv[s, c]
            inv[a, c] = y / inv[a, a]
    for a in range(k):  # A^-1 = L^-T L^-1
        for b in range(a + 1):
            x = 0.0
            for s in range(a, k):
                x += inv[s, a] * inv[s, b]
            A[a, b] = x
    for a in range(k):
        for b in range(a + 1):
            inv[a, b] = A[a, b]
            inv[b, a] = A[a, b]


@njit(cache=True)
def _gauss_jordan(A, inv, k):  # pragma: no cover - compiled
    """inv[:k, :k] = A[:k, :k]^-1 by Gauss-Jordan elimination with partial pivoting (A is overwritten)."""
    for a in range(k):
        for b in range(k):
            inv[a, b] = 1.0 if a == b else 0.0
    for c in range(k):
        p = c
        for a in range(c + 1, k):
            if abs(A[a, c]) > abs(A[p, c]):
                p = a
        if p != c:
            for b in range(k):
                A[c, b], A[p, b] = A[p, b], A[c, b]
                inv[c, b], inv[p, b] = inv[p, b], inv[c, b]
        piv = A[c, c]
        for b in range(k):
            A[c, b] /= piv
            inv[c, b] /= piv
        for a in range(k):
            if a != c:
                f = A[a, c]
                if f != 0.0:
                    for b in range(k):
                        A[a, b] -= f * A[c, b]
                        inv[a, b] -= f * inv[c, b]
