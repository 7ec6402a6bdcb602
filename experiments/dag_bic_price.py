"""The bic score's price per parent, chosen on generated instances apart from dag_peers.py's: CPDAG SHD beside
causal-learn's GRaSP and BOSS.

Instances: ER and SF graphs, k = 2 and 4 expected edges per node, gauss noise, NOTEARS simulator, every column
scaled to unit variance; d = 20 with n = 1000 and n = 300 (3 seeds each) and d = 50 with n = 1000 (2 seeds); seeds
2000+ (dag_peers.py uses 200+). gfopt runs its default bic search (`score.type=bic`, default restarts, seed = the
instance seed) at `score.penalty` 0.5 (the textbook BIC, log(n) / (2n) per parent), 1 (the default: twice it,
`problem.BIC_PRICE`) and 2 (4x, the objective of causal-learn's `local_score_BIC_from_cov` at its default
lambda_value=2); GRaSP and BOSS as in dag_peers.py (seeded through Python's `random`). The last lines give, per price,
the worst CPDAG SHD minus the better peer's, per d.
causal-learn is an optional extra: pip install -e ".[peers]".
Run: PYTHONPATH=. OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python experiments/dag_bic_price.py [--max-d 20]
    [--min-d 50] > experiments/dag_bic_price.txt
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dag_peers import gfopt_bic, peers  # noqa: E402

from gfopt.problems.dag_topo.cpdag import cpdag_shd, dag_to_cpdag  # noqa: E402
from gfopt.problems.dag_topo.data import simulate  # noqa: E402

PRICES = (0.5, 1.0, 2.0)


def instances(min_d: int, max_d: int) -> list[tuple[str, int, int, int, int]]:
    """(graph, k, d, n, seed) of the grid in the module doc."""
    out = []
    for d in (20, 50):
        if not min_d <= d <= max_d:
            continue
        for graph in ("ER", "SF"):
            for k in (2, 4):
                for n in ((1000, 300) if d == 20 else (1000,)):
                    for s in range(3 if d == 20 else 2):
                        seed = 2000 + 100 * (graph == "SF") + 10 * k + d + s + 5 * (n == 300)
                        out.append((graph, k, d, n, seed))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--min-d", type=int, default=20)
    ap.add_argument("--max-d", type=int, default=50)
    args = ap.parse_args()
    names = [f"penalty {p:g}" for p in PRICES] + ["GRaSP", "BOSS"]
    print("CPDAG SHD (time s) on standardized data, bic at three prices; machine shared with other jobs")
    print(f"{'instance':24s} | " + " | ".join(f"{m:>16s}" for m in names))
    worst: dict[tuple[float, int], tuple[int, str]] = {}
    for graph, k, d, n, seed in instances(args.min_d, args.max_d):
        ds = simulate(graph, k, d, n, "gauss", "linear", seed)
        X = (ds.X - ds.X.mean(0)) / ds.X.std(0)
        truth = dag_to_cpdag(ds.B_true)
        label = f"{graph}{k} d={d} n={n} s{seed}"
        res = {}
        for p, name in zip(PRICES, names, strict=False):
            t0 = time.perf_counter()
            res[name] = (cpdag_shd(truth, gfopt_bic(X, seed, p)), time.perf_counter() - t0)
        for name, (C, dt) in peers(X, False, seed).items():
            res[name] = (cpdag_shd(truth, C), dt)
        better_peer = min(res["GRaSP"][0], res["BOSS"][0])
        for p, name in zip(PRICES, names, strict=False):
            worst[(p, d)] = max(worst.get((p, d), (-10**9, "")), (res[name][0] - better_peer, label))
        print(f"{label:24s} | " + " | ".join(f"{res[m][0]:5d} ({res[m][1]:6.1f}s)" for m in names), flush=True)
    for (p, d), (v, label) in sorted(worst.items()):
        print(f"penalty {p:g}, d={d}: worst SHD minus the better of GRaSP and BOSS {v:+d} ({label})")


if __name__ == "__main__":
    main()
