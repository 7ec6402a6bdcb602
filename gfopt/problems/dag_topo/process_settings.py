"""Process settings for the search: set when a problem is built, undone by the Python API when it returns.

- One BLAS / OpenMP thread: the search's matrices are small (d x d), so more threads only add contention. On a busy
  2-core machine the d=50 search took 15 s with two BLAS threads against 2 s with one. `GFOPT_BLAS_THREADS`
  overrides the count (for measuring the effect).
- 4 KB pages for numpy's arrays: numpy asks the kernel to back arrays of 4 MB and more with transparent huge pages,
  and the grow tree writes fresh rows of its state arrays all the time. Where the kernel compacts memory to serve
  such a fault (THP defrag `madvise`, as on this project's machines) each one stalls: ER4 d=100 n=200 spent
  0.54-0.77 s of 2.75-3.44 s in the kernel, against 0.22-0.30 s of 2.43-2.81 s with 4 KB pages (fresh
  processes, interleaved). `GFOPT_HUGE_PAGES=1` keeps numpy's setting.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

_limits: Any = None
_huge_pages_before: bool | None = None


def _set_huge_pages(on: bool) -> bool | None:
    """numpy's hugepage advice on or off; returns the previous value (None where this numpy has no such switch)."""
    core = getattr(np, "_core", None) or getattr(np, "core", None)
    setter = getattr(getattr(core, "multiarray", None), "_set_madvise_hugepage", None)
    return None if setter is None else bool(setter(on))


def apply_search_settings() -> None:
    """One BLAS / OpenMP thread in every loaded pool, and no hugepage advice, for the rest of the process
    (idempotent; see the module doc)."""
    global _limits, _huge_pages_before
    if _limits is not None:
        return
    from threadpoolctl import threadpool_limits

    _limits = threadpool_limits(limits=int(os.environ.get("GFOPT_BLAS_THREADS", "1")))
    if os.environ.get("GFOPT_HUGE_PAGES") != "1":
        _huge_pages_before = _set_huge_pages(False)


def restore_search_settings() -> None:
    """Undo `apply_search_settings` (the Python API restores the caller's settings when it returns)."""
    global _limits, _huge_pages_before
    if _limits is not None:
        _limits.restore_original_limits()
        _limits = None
    if _huge_pages_before is not None:
        _set_huge_pages(_huge_pages_before)
        _huge_pages_before = None
