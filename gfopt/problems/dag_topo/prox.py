"""FISTA (accelerated proximal gradient) for smooth losses plus an L1 penalty: the inner solver of the
L1-penalized least-squares and logistic node fits."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def soft_threshold(w: np.ndarray, t: float) -> np.ndarray:
    """Proximal map of t * ||w||_1."""
    return np.sign(w) * np.maximum(np.abs(w) - t, 0.0)


def fista_l1(
    value_grad: Callable[[np.ndarray], tuple[float, np.ndarray]],
    lipschitz: float,
    lambda1: float,
    w0: np.ndarray,
    max_iter: int = 500,
    tol: float = 1e-8,
) -> tuple[np.ndarray, float]:
    """Minimize f(w) + lambda1 ||w||_1 with step 1/lipschitz (an upper bound of f's gradient Lipschitz constant).

    Stops when the objective changes by less than tol * max(1, |objective|) between iterations (adaptive
    restart on increase). Returns (w, objective).
    """
    step = 1.0 / max(lipschitz, 1e-12)
    w = w0.copy()
    y, t = w.copy(), 1.0
    fw, _ = value_grad(w)
    obj = fw + lambda1 * np.abs(w).sum()
    for _ in range(max_iter):
        _, gy = value_grad(y)
        w_new = soft_threshold(y - step * gy, step * lambda1)
        f_new, _ = value_grad(w_new)
        obj_new = f_new + lambda1 * np.abs(w_new).sum()
        if obj_new > obj:  # restart the momentum; take a plain proximal step from w instead
            _, gw = value_grad(w)
            w_new = soft_threshold(w - step * gw, step * lambda1)
            f_new, _ = value_grad(w_new)
            obj_new = f_new + lambda1 * np.abs(w_new).sum()
            t = 1.0
            y = w_new.copy()
        else:
            t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
            y = w_new + ((t - 1.0) / t_new) * (w_new - w)
            t = t_new
        converged = abs(obj - obj_new) <= tol * max(1.0, abs(obj_new))
        w, obj = w_new, obj_new  # a proximal step of length 1/lipschitz never increases the objective
        if converged:
            break
    return w, float(obj)
