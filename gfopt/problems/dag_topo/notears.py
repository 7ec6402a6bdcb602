"""NOTEARS (linear, least squares), gfopt's own implementation of its objective, as a starting point to post-process.

min_W 1/(2n) ||X - XW||^2 + lambda1 |W|_1  s.t.  h(W) = tr(exp(W o W)) - d = 0, by the augmented Lagrangian
(rho h^2 / 2 + alpha h) with L-BFGS-B on W = W+ - W- (W+, W- >= 0, zero diagonal), rho x10 while h does not
fall below a quarter of its last value. Slow (dense expm per gradient); meant for small d.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import expm
from scipy.optimize import minimize


def notears_linear(X: np.ndarray, lambda1: float = 0.1, max_iter: int = 100, h_tol: float = 1e-8,
                   rho_max: float = 1e16) -> np.ndarray:
    """Unthresholded NOTEARS weights for data X (n x d)."""
    n, d = X.shape
    S = X.T @ X / n
    eye = np.eye(d)

    def split(z: np.ndarray) -> np.ndarray:
        return (z[: d * d] - z[d * d:]).reshape(d, d)

    def h_val_grad(W: np.ndarray) -> tuple[float, np.ndarray]:
        E = expm(W * W)
        return float(np.trace(E) - d), 2.0 * E.T * W

    def objective(z: np.ndarray, rho: float, alpha: float) -> tuple[float, np.ndarray]:
        W = split(z)
        R = eye - W
        loss = 0.5 * np.sum(R * (S @ R))  # = 1/(2n) ||X - XW||^2
        g_loss = -S @ R
        h, g_h = h_val_grad(W)
        g = g_loss + (rho * h + alpha) * g_h
        value = loss + 0.5 * rho * h * h + alpha * h + lambda1 * z.sum()
        return value, np.concatenate([(g + lambda1).ravel(), (-g + lambda1).ravel()])

    diag = np.eye(d, dtype=bool).ravel()
    bounds = [(0.0, 0.0) if diag[k % (d * d)] else (0.0, None) for k in range(2 * d * d)]
    z = np.zeros(2 * d * d)
    rho, alpha, h = 1.0, 0.0, np.inf
    for _ in range(max_iter):
        while rho < rho_max:
            sol = minimize(objective, z, args=(rho, alpha), jac=True, method="L-BFGS-B", bounds=bounds)
            h_new = h_val_grad(split(sol.x))[0]
            if h_new > 0.25 * h:
                rho *= 10.0
            else:
                break
        z, h = sol.x, h_new
        alpha += rho * h
        if h <= h_tol or rho >= rho_max:
            break
    return split(z)
