"""The n <= 2d ridge rule on instances outside its tuning grid: n = 1.5d (d = 10, 20, 50; seeds 3000+) and
d = 100 n = 200 (seeds 1100+), against ridge 0 (the default there before) and DAGMA.

The rule (`score.ridge` null, `problem.RIDGE_MAX_N`) was chosen on experiments/dag_small_n_objective.py's n = 2d
instances (experiments/dag_small_n_2d.txt); these check it where it interpolates (n = 1.5d: ridge 0.1 d / n = 0.067)
and at a larger d. Each gfopt run is the default search (engine restarts null, seed 0); DAGMA as in dag_suite.py
(DagmaLinear l2, lambda1 0.02, threshold 0.3). Prints SHD per instance and the worst SHD minus DAGMA's per set.
Run: PYTHONPATH=. OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python experiments/dag_ridge_2d_check.py
    [--skip-d100] > experiments/dag_ridge_2d_check.txt
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dag_tune_small_n import dagma  # noqa: E402

from gfopt.core.engine import run  # noqa: E402
from gfopt.core.local_search import LocalSearchEngine  # noqa: E402
from gfopt.problems.dag_topo.data import simulate  # noqa: E402
from gfopt.problems.dag_topo.metrics import count_accuracy  # noqa: E402
from gfopt.problems.dag_topo.problem import DagTopoProblem  # noqa: E402


def instances(skip_d100: bool) -> list[tuple[str, str, int, int, int, str, int]]:
    """(set, graph, k, d, n, noise, seed)."""
    noises = ("gauss", "exp", "gumbel")
    out, i = [], 0
    for d in (10, 20, 50):
        for graph in ("ER", "SF"):
            for k in (2, 4, 6):
                if not (d == 10 and k == 6):
                    out.append(("n=1.5d", graph, k, d, int(1.5 * d), noises[i % 3], 3000 + i))
                i += 1
    if not skip_d100:
        for r, (graph, k, noise) in enumerate((("ER", 4, "gumbel"), ("SF", 4, "exp"), ("ER", 2, "gauss"),
                                               ("SF", 2, "gumbel"), ("ER", 6, "exp"), ("SF", 6, "gauss"))):
            out.append(("d=100 n=200", graph, k, 100, 200, noise, 1100 + r))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-d100", action="store_true", help="leave out the d = 100 instances (DAGMA: minutes each)")
    args = ap.parse_args()
    worst: dict[tuple[str, str], tuple[int, str]] = {}
    for name, graph, k, d, n, noise, seed in instances(args.skip_d100):
        ds = simulate(graph, k, d, n, noise, "linear", seed)
        ref = dagma(ds)["shd"]
        label = f"{graph}{k} d={d} n={n} {noise} s{seed}"
        cells = []
        for rule, ridge in (("ridge 0", 0.0), ("rule", None)):
            t0 = time.perf_counter()
            p = DagTopoProblem(data={"center": True}, score={"ridge": ridge}, dataset=ds)
            res = run(p, LocalSearchEngine(restarts=None), np.random.default_rng(0))
            shd = int(count_accuracy(ds.B_true, p.thresholded(p.fit(res.best).W))["shd"])
            cells.append(f"{rule} {shd:3d} ({time.perf_counter() - t0:4.1f}s)")
            worst[(name, rule)] = max(worst.get((name, rule), (-10**9, "")), (shd - ref, label))
        print(f"{label:28s} dagma {ref:3d} | " + " | ".join(cells), flush=True)
    for (name, rule), (v, label) in sorted(worst.items()):
        print(f"{name:12s} {rule:8s}: worst SHD minus DAGMA's {v:+d} ({label})")


if __name__ == "__main__":
    main()
