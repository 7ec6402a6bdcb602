"""BLAS threads for the dag_topo search: the same run with 1 and with 2 BLAS threads, side by side in one process.

The search's matrices are d x d (d <= a few hundred), too small to gain from threads; on a busy machine extra
threads only wait for each other. DagTopoProblem pins one thread (process_settings.apply_search_settings); this script
overrides that with threadpoolctl for each timing. Instance: ER4, d=50, n=1000 (select=all: the fast path; and
the default). Run: python experiments/dag_threads.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from gfopt.core.engine import run
from gfopt.core.local_search import LocalSearchEngine
from gfopt.problems.dag_topo.data import simulate
from gfopt.problems.dag_topo.problem import DagTopoProblem


def timed(ds, select: str, threads: int) -> float:
    with threadpool_limits(limits=threads):
        t0 = time.perf_counter()
        p = DagTopoProblem(score={"select": select}, dataset=ds)
        run(p, LocalSearchEngine(restarts=None), np.random.default_rng(0))
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    ds = simulate("ER", 4, 50, 1000, "gauss", "linear", 18)
    print("ER4 d=50 n=1000, median of", args.repeats, "runs (machine shared with other jobs)")
    for select in ("all", "bic"):
        t = {k: float(np.median([timed(ds, select, k) for _ in range(args.repeats)])) for k in (1, 2)}
        print(f"select={select}: 1 thread {t[1]:.2f} s, 2 threads {t[2]:.2f} s, ratio 2/1 = {t[2] / t[1]:.2f}")


if __name__ == "__main__":
    main()
