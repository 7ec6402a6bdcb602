"""Merges of LoRA parameter vectors (numpy only): linear, task arithmetic, TIES, DARE (linear and TIES).

Parents are rows of a [K, P] float32 array in one `LoraLayout`; merging is element-wise on the LoRA A and B
entries (the paper's choice). TIES and DARE work on task vectors `x_k - base` (base: the shared starting adapter,
or zeros) and add the base back. Where PEFT's `merge_utils` and these definitions differ, on purpose:

- TIES / DARE-TIES take the *weighted mean* over the parents that agree with the elected sign,
  sum_k w_k m_k t_k / sum_k w_k m_k; PEFT divides the weighted sum by the *count* of agreeing parents, which
  halves agreeing entries when the weights sum to 1. With unit weights the two coincide.
- The sign is elected on the weighted sum of trimmed task vectors (PEFT: the unweighted sum); equal for
  unit weights.
- Trimming keeps the top int(density * n) magnitudes of each LoRA tensor (segment), as PEFT does per tensor.

`merge_products` is the other option: merge each module's delta B @ A instead of A and B entry by entry, then
factor the merged delta back to rank r by truncated SVD (the best rank-r approximation). Where the parents share A
(the built-in zoo's experts) both give the same delta for linear merges.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

METHODS = ("linear", "task_arithmetic", "ties", "dare_linear", "dare_ties")


def trim_masks(tasks: np.ndarray, density: float, segments: Sequence[slice] | None = None) -> np.ndarray:
    """Boolean [K, P] mask keeping the top int(density * n) magnitudes of each row within each segment."""
    k_rows, p = tasks.shape
    if density >= 1.0:
        return np.ones_like(tasks, dtype=bool)
    mask = np.zeros_like(tasks, dtype=bool)
    for seg in segments if segments is not None else [slice(0, p)]:
        block = np.abs(tasks[:, seg])
        n = block.shape[1]
        k = int(density * n)
        if k <= 0:
            continue
        idx = np.argpartition(-block, k - 1, axis=1)[:, :k]
        sub = np.zeros_like(block, dtype=bool)
        np.put_along_axis(sub, idx, True, axis=1)
        mask[:, seg] = sub
    return mask


def _weights(weights: np.ndarray, k: int) -> np.ndarray:
    """[K] or [K, P] weights as an array that broadcasts against [K, P]."""
    w = np.asarray(weights, dtype=np.float32)
    if w.shape[0] != k:
        raise ValueError(f"merge: {w.shape[0]} weights for {k} parents")
    return w.reshape(k, 1) if w.ndim == 1 else w


def disjoint_weighted_mean(tasks: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Elect each entry's sign from the weighted sum, then take the weighted mean over agreeing non-zero rows."""
    weighted = w * tasks
    sign = np.where(weighted.sum(axis=0) >= 0, 1.0, -1.0).astype(tasks.dtype)
    agree = np.sign(tasks) == sign
    wm = np.where(agree, np.broadcast_to(w, tasks.shape), 0.0)
    den = wm.sum(axis=0)
    num = (wm * tasks).sum(axis=0)
    return np.divide(num, den, out=np.zeros_like(num), where=den != 0).astype(tasks.dtype)


def merge(
    parents: np.ndarray,
    weights: np.ndarray,
    method: str = "linear",
    *,
    base: np.ndarray | None = None,
    density: float = 1.0,
    segments: Sequence[slice] | None = None,
    rng: np.random.Generator | None = None,
    keep: np.ndarray | None = None,
    scale: float = 1.0,
) -> np.ndarray:
    """Merge the rows of `parents` [K, P] with `weights` ([K], or [K, P] for per-layer weights).

    linear: sum_k w_k x_k. task_arithmetic: base + scale * sum_k w_k (x_k - base). ties: trim each task vector
    to `density` per segment, elect signs, disjoint weighted mean. dare_*: drop entries at random (keep with
    probability `density`, mask from `rng` or given as `keep`), rescale by 1/density, then linear / ties.
    """
    x = np.asarray(parents, dtype=np.float32)
    k = x.shape[0]
    w = _weights(weights, k)
    if method == "linear":
        return (w * x).sum(axis=0)
    if method not in METHODS:
        raise ValueError(f"merge: unknown method {method!r}; choose from {METHODS}")
    b = np.zeros(x.shape[1], dtype=np.float32) if base is None else np.asarray(base, dtype=np.float32)
    tasks = x - b
    if method == "task_arithmetic":
        merged = (w * tasks).sum(axis=0)
    elif method == "ties":
        tasks = np.where(trim_masks(tasks, density, segments), tasks, 0.0).astype(np.float32)
        merged = disjoint_weighted_mean(tasks, w)
    else:  # dare_linear, dare_ties
        if not 0.0 < density <= 1.0:
            raise ValueError(f"merge: DARE needs density in (0, 1], got {density}")
        if keep is None:
            if rng is None:
                raise ValueError("merge: DARE needs an rng or a keep mask")
            keep = rng.random(tasks.shape) < density
        tasks = np.where(keep, tasks / np.float32(density), 0.0).astype(np.float32)
        merged = (w * tasks).sum(axis=0) if method == "dare_linear" else disjoint_weighted_mean(tasks, w)
    return b + np.float32(scale) * merged


def _module_delta(vec: np.ndarray, ta: Any, tb: Any) -> np.ndarray:
    """One module's B @ A (flattened) from a genome, given its A and B tensors' places in the layout."""
    return (vec[tb.slice].reshape(tb.shape) @ vec[ta.slice].reshape(ta.shape)).ravel()


def merge_products(parents: np.ndarray, weights: np.ndarray, layout: Any, method: str = "linear", *,
                   base: np.ndarray | None = None, density: float = 1.0, rng: np.random.Generator | None = None,
                   scale: float = 1.0) -> np.ndarray:
    """Merge each module's delta B_k @ A_k with `merge`, then refactor it to the layout's rank by truncated SVD.

    Weights are [K] or per-entry [K, P] (a per-layer weight is read at the module's B tensor). The child's
    B @ A is the best rank-r approximation of the merged delta (exact when that has rank <= r); its factors are
    balanced, B = U sqrt(S), A = sqrt(S) V^T. TIES trims each module's delta as one tensor.
    """
    x = np.asarray(parents, dtype=np.float32)
    w = _weights(weights, x.shape[0])
    child = np.zeros(x.shape[1], dtype=np.float32)
    for ta, tb in layout.pairs():
        deltas = np.stack([_module_delta(row, ta, tb) for row in x])
        base_delta = None if base is None else _module_delta(np.asarray(base, dtype=np.float32), ta, tb)
        wk = w[:, 0] if w.shape[1] == 1 else w[:, tb.slice.start]
        merged = merge(deltas, wk, method, base=base_delta, density=density, rng=rng, scale=scale)
        u, s, vt = np.linalg.svd(merged.reshape(tb.shape[0], ta.shape[1]).astype(np.float64), full_matrices=False)
        r = ta.shape[0]
        root = np.sqrt(s[:r])
        child[tb.slice] = (u[:, :r] * root).astype(np.float32).ravel()
        child[ta.slice] = (root[:, None] * vt[:r]).astype(np.float32).ravel()
    return child
