"""The bic score against causal-learn's GRaSP and BOSS on seeds and noise types no default was tuned on.

dag_peers.py and dag_bic_price.py use gauss noise and k = 2, 4. This grid adds what an unseen instance could be:
ER and SF graphs, k = 2, 4, 6, gauss / exp / gumbel noise in turn, d = 20 and 30, n = 1000, seeds 9600+; every
column scaled to unit variance. gfopt runs its default bic search (seed = the instance seed), GRaSP and BOSS as in
dag_peers.py. Prints CPDAG SHD and time per instance, then the worst of gfopt's SHD minus the better peer's.
causal-learn is an optional extra: pip install -e ".[peers]".
Run: PYTHONPATH=. OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 python experiments/dag_bic_check.py
    > experiments/dag_bic_check.txt
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dag_peers import gfopt_bic, peers  # noqa: E402

from gfopt.problems.dag_topo.cpdag import cpdag_shd, dag_to_cpdag  # noqa: E402
from gfopt.problems.dag_topo.data import simulate  # noqa: E402


def main() -> None:
    noises = ("gauss", "exp", "gumbel")
    diffs, i = [], 0
    print(f"{'instance':30s} | {'gfopt-bic':>16s} | {'GRaSP':>16s} | {'BOSS':>16s}")
    for d in (20, 30):
        for graph in ("ER", "SF"):
            for k in (2, 4, 6):
                seed, noise = 9600 + i, noises[i % 3]
                i += 1
                ds = simulate(graph, k, d, 1000, noise, "linear", seed)
                X = (ds.X - ds.X.mean(axis=0)) / ds.X.std(axis=0)
                truth = dag_to_cpdag(ds.B_true)
                t0 = time.perf_counter()
                ours = cpdag_shd(truth, gfopt_bic(X, seed))
                cells = {"gfopt-bic": (ours, time.perf_counter() - t0)}
                for name, (C, dt) in peers(X, False, seed).items():
                    cells[name] = (cpdag_shd(truth, C), dt)
                diffs.append((ours - min(cells["GRaSP"][0], cells["BOSS"][0]), f"{graph}{k} d={d} {noise} s{seed}"))
                print(f"{graph}{k} d={d} n=1000 {noise} s{seed}".ljust(30) + " | "
                      + " | ".join(f"{s:4d} ({t:6.1f} s)" for s, t in cells.values()), flush=True)
    worst = max(diffs)
    print(f"\ngfopt-bic minus the better of GRaSP and BOSS: worst {worst[0]:+d} ({worst[1]}), at or below "
          f"{sum(x <= 0 for x, _ in diffs)}/{len(diffs)}, summed {sum(x for x, _ in diffs):+d}")


if __name__ == "__main__":
    main()
