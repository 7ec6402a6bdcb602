"""What standardizing does to the least-squares default, beside the unit-free bic score (DAG SHD, n = 1000).

Least squares with one noise variance for every node orients edges by variance; on data simulated as NOTEARS does,
the variances grow along the causal order, so that signal is what finds the graph, and dividing each column by its
standard deviation removes it. This is the measurement behind the warning `problem.data.standardize=true` gives with
least squares. Instances: ER2/ER4/SF4 d=20 and ER2/ER4 d=50, gauss and exp noise, seeds 9500+. Each run is the
default search (restarts null, seed 0). bic's SHD here is on DAGs (dag_peers.py reports it on CPDAGs).
Run: PYTHONPATH=. OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 python experiments/dag_standardize.py
    > experiments/dag_standardize.txt
"""

from __future__ import annotations

import numpy as np

from gfopt.core.engine import run
from gfopt.core.local_search import LocalSearchEngine
from gfopt.problems.dag_topo.data import simulate
from gfopt.problems.dag_topo.metrics import count_accuracy
from gfopt.problems.dag_topo.problem import DagTopoProblem

RUNS = (("least squares, raw", {}, {}), ("least squares, standardized", {"standardize": True}, {}),
        ("bic", {}, {"type": "bic"}))


def main() -> None:
    i = 0
    print(f"{'instance':22s} | " + " | ".join(name for name, _, _ in RUNS))
    for graph, k, d in (("ER", 2, 20), ("ER", 4, 20), ("SF", 4, 20), ("ER", 2, 50), ("ER", 4, 50)):
        for noise in ("gauss", "exp"):
            ds = simulate(graph, k, d, 1000, noise, "linear", 9500 + i)
            cells = []
            for name, data, score in RUNS:
                p = DagTopoProblem(data=data, score=score, dataset=ds)
                res = run(p, LocalSearchEngine(restarts=None), np.random.default_rng(0))
                shd = count_accuracy(ds.B_true, p.thresholded(p.fit(res.best).W))["shd"]
                cells.append(f"{shd:>{len(name)}d}")
            print(f"{graph}{k} d={d} {noise} s{9500 + i}".ljust(22) + " | " + " | ".join(cells), flush=True)
            i += 1


if __name__ == "__main__":
    main()
