"""One BLAS / OpenMP thread for the search: its matrices are small (d x d), so more threads only add contention.

Measured on a busy 2-core machine: the d=50 search took 15 s with two BLAS threads against 2 s with one.
"""

from __future__ import annotations

from typing import Any

_limits: Any = None


def pin_blas_threads() -> None:
    """Limit every loaded BLAS and OpenMP pool to one thread for the rest of the process (idempotent).

    `GFOPT_BLAS_THREADS` overrides the count (for measuring the effect).
    """
    global _limits
    if _limits is not None:
        return
    import os

    from threadpoolctl import threadpool_limits

    _limits = threadpool_limits(limits=int(os.environ.get("GFOPT_BLAS_THREADS", "1")))


def restore_blas_threads() -> None:
    """Undo `pin_blas_threads` (the Python API restores the caller's settings when it returns)."""
    global _limits
    if _limits is not None:
        _limits.restore_original_limits()
        _limits = None
