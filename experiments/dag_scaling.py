"""How dag_topo's time grows with d: ER4, n = 2000, one random start, reference (auto) sizes and full swap sets.

Each (d, sizes) point runs in its own process (its peak RSS is the memory figure). Writes
experiments/dag_scaling.json and a log-log plot experiments/dag_scaling.png, and prints the table with the
fitted exponent (time ~ d^k).
Run: OPENBLAS_NUM_THREADS=1 python experiments/dag_scaling.py [--d 20 50 100 200 500] [--sizes auto full]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def one(d: int, sizes: str, restarts: int, seed: int) -> dict:
    """One run in this process: simulate ER4 (n = 2000), search, report time, score, SHD and peak memory."""
    from gfopt.core.engine import run
    from gfopt.core.local_search import LocalSearchEngine
    from gfopt.problems.dag_topo.metrics import count_accuracy
    from gfopt.problems.dag_topo.neighbourhood import TopoSwapNeighbourhood
    from gfopt.problems.dag_topo.problem import DagTopoProblem

    p = DagTopoProblem(data={"d": d, "k": 4, "n": 2000, "seed": seed})
    t0 = time.perf_counter()
    res = run(p, LocalSearchEngine(TopoSwapNeighbourhood(sizes=sizes), restarts=restarts), np.random.default_rng(seed))
    dt = time.perf_counter() - t0
    f = p.fit(res.best)
    m = count_accuracy(p.dataset.B_true, p.thresholded(f.W))
    return {"d": d, "sizes": sizes, "restarts": restarts, "time_s": dt, "score": f.score, "shd": m["shd"],
            "true_edges": int(p.dataset.B_true.sum()), "steps": res.steps, "evaluations": res.evaluations,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def plot(rows: list[dict], path: Path) -> dict[str, float]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, ax = plt.subplots(figsize=(6, 4.5))
    slopes = {}
    for sizes in sorted({r["sizes"] for r in rows}):
        pts = sorted((r["d"], r["time_s"]) for r in rows if r["sizes"] == sizes)
        d, t = np.array(pts).T
        if len(d) >= 2:
            slopes[sizes] = float(np.polyfit(np.log(d), np.log(t), 1)[0])
        ax.loglog(d, t, "o-", label=f"sizes={sizes} (slope {slopes.get(sizes, float('nan')):.2f})")
    ds = sorted({r["d"] for r in rows})
    ax.set_xticks(ds, [str(d) for d in ds])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("d (nodes)")
    ax.set_ylabel("wall time (s), one start")
    ax.set_title("dag_topo: ER4, n = 2000, OPENBLAS_NUM_THREADS=1")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return slopes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--d", type=int, nargs="+", default=[20, 50, 100, 200, 500])
    ap.add_argument("--sizes", nargs="+", default=["auto", "full"])
    ap.add_argument("--restarts", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.d[0], args.sizes[0], args.restarts, args.seed)))
        return
    rows = []
    env = {**os.environ, "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "1")}
    for sizes in args.sizes:
        for d in args.d:
            cmd = [sys.executable, __file__, "--one", "--d", str(d), "--sizes", sizes, "--restarts",
                   str(args.restarts), "--seed", str(args.seed)]
            out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            r = rows[-1]
            print(f"sizes={sizes:4s} d={d:4d} time {r['time_s']:8.2f}s score {r['score']:10.4f} shd {r['shd']:5d}"
                  f"/{r['true_edges']} steps {r['steps']} evals {r['evaluations']} rss {r['peak_rss_mb']:.0f}MB",
                  flush=True)
    (HERE / "dag_scaling.json").write_text(json.dumps(rows, indent=1) + "\n")
    slopes = plot(rows, HERE / "dag_scaling.png")
    print("fitted exponents (time ~ d^k):", {k: round(v, 2) for k, v in slopes.items()})


if __name__ == "__main__":
    main()
