"""The held-out factor's fold count at small n, on seeds no default was tuned on: 5 folds against 10.

Under the ridge rule (n <= 2d) the parent price's factor is the multiplier of least K-fold held-out error in the
first stage's best order (`penalty.choose_multiplier`). Instances: n = d (seeds 9100+) and n = 2d (seeds 9200+),
d = 10, 20, 30, ER and SF, k = 2, 4, 6, two seeds each, gauss / exp / gumbel noise in turn (NOTEARS simulator, raw
data). Each column is the default search (restarts null, seed 0) with K forced through `problem.folds_for`;
DAGMA as in dag_suite.py. Prints SHD per instance and, per n / d and K, the worst SHD minus DAGMA's, the count at or
below it, the sum and the summed time.
Run: PYTHONPATH=. OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 python experiments/dag_folds_check.py
    > experiments/dag_folds_check.txt
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dag_suite import dagma  # noqa: E402

import gfopt.problems.dag_topo.problem as problem_module  # noqa: E402
from gfopt.core.engine import run  # noqa: E402
from gfopt.core.local_search import LocalSearchEngine  # noqa: E402
from gfopt.problems.dag_topo.data import simulate  # noqa: E402
from gfopt.problems.dag_topo.metrics import count_accuracy  # noqa: E402

FOLDS = (5, 10)
SETS = ((1, 9100), (2, 9200))  # (n / d, first seed)


def default_run(ds, folds: int) -> tuple[int, float]:
    """(SHD, seconds) of the default search with the held-out choice on `folds` folds."""
    problem_module.folds_for = lambda n, d: folds
    t0 = time.perf_counter()
    p = problem_module.DagTopoProblem(data={"center": True}, dataset=ds)
    res = run(p, LocalSearchEngine(restarts=None), np.random.default_rng(0))
    dt = time.perf_counter() - t0
    return count_accuracy(ds.B_true, p.thresholded(p.fit(res.best).W))["shd"], dt


def main() -> None:
    noises = ("gauss", "exp", "gumbel")
    rows = []
    for factor, first_seed in SETS:
        i = 0
        for d in (10, 20, 30):
            for graph in ("ER", "SF"):
                for k in (2, 4, 6):
                    for _ in range(2):
                        n, seed, noise = factor * d, first_seed + i, noises[i % 3]
                        i += 1
                        ds = simulate(graph, k, d, n, noise, "linear", seed)
                        ref = dagma(ds)["shd"]
                        cells = [default_run(ds, K) for K in FOLDS]
                        rows.append((factor, ref, cells))
                        print(f"{graph}{k} d={d} n={n} {noise} s{seed}".ljust(28) + f" dagma {ref:3d} | "
                              + " | ".join(f"K={K} {s:3d} {t:.2f}s" for K, (s, t) in zip(FOLDS, cells, strict=True)),
                              flush=True)
    print()
    for factor, _ in SETS:
        part = [r for r in rows if r[0] == factor]
        for c, K in enumerate(FOLDS):
            diff = [cells[c][0] - ref for _, ref, cells in part]
            print(f"n = {factor}d, K = {K:2d}: worst {max(diff):+d}, at or below DAGMA {sum(x <= 0 for x in diff)}/"
                  f"{len(diff)}, summed {sum(diff):+d}, time {sum(cells[c][1] for _, _, cells in part):.1f} s")


if __name__ == "__main__":
    main()
