"""Process settings for the search: set when a problem is built, undone by the Python API when it returns.

One BLAS / OpenMP thread: the search's matrices are small (d x d), so more threads only add contention. On a busy
2-core machine the d=50 search took 15 s with two BLAS threads against 2 s with one. `GFOPT_BLAS_THREADS` overrides
the count (for measuring the effect). (Until the grow-shrink loops were compiled, the numpy grow tree also needed
4 KB pages instead of numpy's transparent huge pages; the compiled loops keep no large arrays, and ER4 d=100 n=200
runs as fast either way: 2.21-2.26 s with huge pages, 2.25-2.45 s without, kernel time 0.14-0.21 s both.)
"""

from __future__ import annotations

import os
from typing import Any

_limits: Any = None


def apply_search_settings() -> None:
    """One BLAS / OpenMP thread in every loaded pool for the rest of the process (idempotent; see the module doc)."""
    global _limits
    if _limits is not None:
        return
    from threadpoolctl import threadpool_limits

    _limits = threadpool_limits(limits=int(os.environ.get("GFOPT_BLAS_THREADS", "1")))


def restore_search_settings() -> None:
    """Undo `apply_search_settings` (the Python API restores the caller's settings when it returns)."""
    global _limits
    if _limits is not None:
        _limits.restore_original_limits()
        _limits = None
