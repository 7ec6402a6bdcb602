"""Structure metrics in the NOTEARS convention: shd (extra + missing + reversed), tpr, fdr, fpr, nnz."""

from __future__ import annotations

import numpy as np


def count_accuracy(B_true: np.ndarray, B_est: np.ndarray) -> dict[str, float]:
    """Compare a binary estimate with the truth (B[i, j] != 0 means edge i -> j).

    fdr = (reversed + false positives) / predicted, tpr = correct / true edges, fpr = (reversed + false
    positives) / (d(d-1)/2 - true edges), shd = extra + missing skeleton edges + reversed, nnz = predicted.
    """
    T = np.asarray(B_true) != 0
    E = np.asarray(B_est) != 0
    d = len(T)
    np.fill_diagonal(E, False)
    T_skel = T | T.T
    correct = int((E & T).sum())
    reversed_ = int((E & ~T & T.T).sum())
    false_pos = int((E & ~T_skel).sum())
    pred = int(E.sum())
    cond = int(T.sum())
    cond_neg = 0.5 * d * (d - 1) - cond
    E_skel = np.triu(E | E.T, 1)
    T_skel_u = np.triu(T_skel, 1)
    extra = int((E_skel & ~T_skel_u).sum())
    missing = int((T_skel_u & ~E_skel).sum())
    return {
        "fdr": float((reversed_ + false_pos) / max(pred, 1)),
        "tpr": float(correct / max(cond, 1)),
        "fpr": float((reversed_ + false_pos) / max(cond_neg, 1)),
        "shd": extra + missing + reversed_,
        "nnz": pred,
    }
