"""Starting orders: random, the order of another method's weights (DAGMA, or a .npy), or a stored order."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from gfopt.errors import ConfigError, InputError
from gfopt.problems.dag_topo.data import topological_order


def is_acyclic(B: np.ndarray) -> bool:
    """True when the directed graph B (B[i, j] != 0: i -> j) has no cycle."""
    try:
        topological_order(B)
    except ValueError:
        return False
    return True


def order_from_weights(W: np.ndarray) -> np.ndarray:
    """Threshold |W| at the smallest level that leaves a DAG, then sort topologically (the post-processing start)."""
    A = np.abs(np.asarray(W, dtype=float))
    np.fill_diagonal(A, 0.0)
    levels = np.unique(A[A > 0])
    if is_acyclic(A):
        return topological_order(A)
    lo, hi = 0, len(levels) - 1  # keep edges with |w| > levels[k]; k = len - 1 leaves no edge
    while lo < hi:
        mid = (lo + hi) // 2
        if is_acyclic(A > levels[mid]):
            hi = mid
        else:
            lo = mid + 1
    return topological_order(A > levels[lo])


def order_from_file(path: str, d: int) -> np.ndarray:
    """A .npy holding a permutation (1-D) or a d x d weight matrix (2-D) -> a starting order."""
    p = Path(path)
    key = "problem.search.init"
    if not p.is_file():
        raise InputError(f"{key}: file not found: {p} (use random, dagma, or a .npy order / weight matrix)")
    try:
        arr = np.load(p, allow_pickle=False)
    except ValueError as e:
        raise InputError(f"{key}: {p} is not a readable .npy array ({e})") from None
    if arr.ndim == 1:
        if sorted(arr.astype(np.int64).tolist()) != list(range(d)) or arr.shape[0] != d:
            raise InputError(f"{key}: {p} is 1-D but not a permutation of 0..{d - 1}")
        return arr.astype(np.int64)
    if arr.shape == (d, d):
        if not np.all(np.isfinite(arr)):
            raise InputError(f"{key}: {p} has NaN/inf weights")
        return order_from_weights(arr)
    raise InputError(f"{key}: {p} has shape {arr.shape}; expected a permutation ({d},) or weights ({d}, {d})")


def dagma_weights(X: np.ndarray, lambda1: float = 0.02, loss: str = "l2") -> np.ndarray:
    """Unthresholded DAGMA (linear) weights on X; needs the optional `dagma` package (pip install dagma)."""
    try:
        from dagma import linear as dagma_linear
    except ImportError:
        raise ConfigError(
            "problem.search.init: dagma is not installed; pip install dagma, or use init=random"
        ) from None
    from tqdm.auto import tqdm

    original = dagma_linear.tqdm
    dagma_linear.tqdm = functools.partial(tqdm, disable=True)  # DAGMA always draws a progress bar
    try:
        model = dagma_linear.DagmaLinear(loss_type=loss)
        return model.fit(np.array(X, dtype=float, copy=True), lambda1=lambda1, w_threshold=0.0)
    finally:
        dagma_linear.tqdm = original

