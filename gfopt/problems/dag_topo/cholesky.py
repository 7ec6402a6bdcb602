"""Least squares on a topological order through the Cholesky factor of the ordered covariance.

For an order pi, node pi[k] is regressed on all nodes before it. With S = X^T X / n permuted by pi and
S_pi = L L^T, the residual variance of position k is L[k, k]^2, so the score is 0.5 * sum(diag(L)^2) and the
regression weights come from L^{-1}. Swapping positions a < b changes only the nodes at positions a..b;
`swap_variance_deltas` gets the new variances of that block in O(b - a) each from L and L^{-1} of the base
order, batched over many swaps, without refactorizing (derivation in docs/dag_topo.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import cholesky, solve_triangular

CHUNK_ELEMENTS = 2_000_000
"""Flat block entries processed at once by `swap_variance_deltas` (bounds memory at large d)."""


@dataclass
class OrderFactor:
    """The Cholesky factor of S permuted by `order`, its inverse and the per-position residual variances."""

    order: np.ndarray
    L: np.ndarray
    Linv: np.ndarray
    var: np.ndarray

    @property
    def total(self) -> float:
        """Sum of residual variances (twice the least-squares score)."""
        return float(self.var.sum())


def factor_order(S: np.ndarray, order: np.ndarray) -> OrderFactor:
    """Factorize S for `order` (O(d^3)); raises numpy's LinAlgError if S is not positive definite."""
    order = np.asarray(order)
    Sp = S[np.ix_(order, order)]
    try:
        L = cholesky(Sp, lower=True, check_finite=False)
    except Exception as e:  # scipy raises LinAlgError with a terse message
        raise np.linalg.LinAlgError(f"covariance is not positive definite: {e}") from None
    Linv = solve_triangular(L, np.eye(len(order)), lower=True, check_finite=False)
    return OrderFactor(order=order, L=L, Linv=Linv, var=np.diag(L) ** 2)


def weights_from_factor(f: OrderFactor) -> np.ndarray:
    """The OLS weight matrix W (node space, W[i, j] = weight of edge i -> j) of the factor's order."""
    d = len(f.order)
    M = np.diag(f.L)[:, None] * f.Linv  # unit lower triangular: row k is the residual of position k
    W_pos = np.eye(d) - M.T  # strictly upper: W_pos[q, k] = weight of position q in the fit of position k
    W = np.zeros((d, d))
    W[np.ix_(f.order, f.order)] = W_pos
    return W


def _segment_cumsum(values: np.ndarray, starts: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """Inclusive cumulative sums of `values` restarted at each segment start (`seg[k]` = segment of entry k)."""
    c = np.cumsum(values)
    base = np.zeros(len(starts))
    base[1:] = c[starts[1:] - 1]
    return c - base[seg]


def swap_variance_deltas(f: OrderFactor, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Change of the summed residual variance when positions a[c] < b[c] of the factor's order are swapped.

    Exact up to rounding; O(sum(b - a)) in total, processed in chunks.
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    out = np.empty(len(a))
    lengths = b - a + 1
    start = 0
    while start < len(a):
        stop = start + 1
        total = lengths[start]
        while stop < len(a) and total + lengths[stop] <= CHUNK_ELEMENTS:
            total += lengths[stop]
            stop += 1
        out[start:stop] = _swap_deltas_chunk(f, a[start:stop], b[start:stop])
        start = stop
    return out


def _swap_deltas_chunk(f: OrderFactor, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    m = b - a + 1
    starts = np.zeros(len(a), dtype=np.int64)
    starts[1:] = np.cumsum(m)[:-1]
    ends = starts + m - 1
    seg = np.repeat(np.arange(len(a)), m)
    p = np.arange(m.sum()) - starts[seg] + a[seg]  # absolute position of each block entry
    ac, bc = a[seg], b[seg]
    lb = f.L[bc, p]  # last row of the block factor T = L[a:b+1, a:b+1]
    u = f.Linv[p, ac]  # first column of T^{-1}
    lpp = np.sqrt(f.var[p])
    lb2, u2, gu = lb * lb, u * u, lb * u
    U2_incl = _segment_cumsum(u2, starts, seg)
    g_incl = _segment_cumsum(gu, starts, seg)
    lb2_incl = _segment_cumsum(lb2, starts, seg)
    U2 = U2_incl - u2  # sum over positions before p within the block
    g = g_incl - gu
    h = lb2_incl[ends][seg] - (lb2_incl - lb2)  # sum of lb^2 over positions >= p
    # middle positions: node keeps its predecessors but trades the first block node for the last one
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = -lpp * u / np.sqrt(U2)
        beta = g / np.sqrt(U2)
        new = alpha**2 + lpp**2 - (alpha * beta + lpp * lb) ** 2 / (beta**2 + h)
    first = starts
    new[first] = lb2_incl[ends]  # the last node moves first: its variance given the prefix
    new[ends] = 1.0 / U2_incl[ends]  # the first node moves last: 1 / (C^{-1})_{00}
    delta_each = new - f.var[p]
    return np.add.reduceat(delta_each, starts)
