"""dag_topo on a generated suite: the old default, the new default and DAGMA side by side, per instance.

Instances (NOTEARS simulator, seeds 100+): ER and SF graphs, k = 2, 4, 6 expected edges per node, d = 10..100,
n from d to 10d, gauss / exp / gumbel noise; at d = 100 the small-sample cases n = d and n = 2d (ER4, SF4).
Methods:
  old   least squares on every predecessor (score.select=all), threshold 0.3: the default before issue 14
  new   the default: parents chosen per node (grow-shrink, BIC penalty) after the all-predecessors search
  dagma DagmaLinear(loss_type='l2').fit(X, lambda1=0.02, w_threshold=0.3) on the same centred X
Columns: SHD, TPR, FDR, score (each TOPO run in its own score; DAGMA's weights refitted in the new score),
search gap (final score minus the true order's score, fitted the same way), wall time (problem set-up + search).
Run: OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python experiments/dag_suite.py [--max-d 50] [--no-dagma]
    [--dagma-from experiments/dag_suite.json]
Prints one line per instance as it goes, then a summary; `--out` writes all rows as JSON. `--dagma-from` takes DAGMA's
rows from an earlier run's JSON (DAGMA is deterministic given X; its d=100 runs take 5-9 minutes each here): SHD, TPR,
FDR and time are that run's, its score column is left out (it is in the score of the code that wrote the file).
`--check-dagma K` reruns DAGMA on the first K instances and stops if a stored row differs.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from gfopt.core.engine import run
from gfopt.core.local_search import LocalSearchEngine
from gfopt.errors import InputError
from gfopt.problems.dag_topo.data import simulate
from gfopt.problems.dag_topo.metrics import count_accuracy
from gfopt.problems.dag_topo.problem import DagTopoProblem
from gfopt.problems.dag_topo.starts import dagma_weights


def instances() -> list[dict]:
    """30 instances: 26 spread over the grid by a fixed rule, plus ER4/SF4 at d=100 with n = d and 2d."""
    out = []
    noises = ("gauss", "exp", "gumbel")
    i = 0
    for d in (10, 20, 50):
        for graph in ("ER", "SF"):
            for k in (2, 4, 6):
                if d == 10 and k == 6:
                    continue
                for n_factor in ((1, 10) if d < 50 else (2,)):
                    out.append({"graph": graph, "k": k, "d": d, "n": n_factor * d, "noise": noises[i % 3],
                                "seed": 100 + i})
                    i += 1
    for graph in ("ER", "SF"):
        for n_factor in (1, 2):
            out.append({"graph": graph, "k": 4, "d": 100, "n": n_factor * 100, "noise": "gauss", "seed": 100 + i})
            i += 1
    return out


def topo(ds, select: str, seed: int = 0) -> dict:
    t0 = time.perf_counter()
    try:
        p = DagTopoProblem(data={"center": True}, score={"select": select}, dataset=ds)
    except InputError as e:
        return {"refused": str(e).split(";")[0]}
    res = run(p, LocalSearchEngine(restarts=None), np.random.default_rng(seed))
    dt = time.perf_counter() - t0
    f = p.fit(res.best)
    m = count_accuracy(ds.B_true, p.thresholded(f.W))
    return {"shd": m["shd"], "tpr": m["tpr"], "fdr": m["fdr"], "score": f.score,
            "gap": f.score - p.true_order_score(), "time": dt}


def dagma(ds) -> dict:
    p = DagTopoProblem(data={"center": True}, dataset=ds)  # the new score, to refit DAGMA's graph in
    t0 = time.perf_counter()
    W = dagma_weights(p.X, 0.02, "l2")
    dt = time.perf_counter() - t0
    W_t = np.where(np.abs(W) >= 0.3, W, 0.0)
    m = count_accuracy(ds.B_true, W_t)
    return {"shd": m["shd"], "tpr": m["tpr"], "fdr": m["fdr"], "score": p.weights_score(W_t), "gap": None,
            "time": dt}


def fmt(r: dict | None) -> str:
    if r is None:
        return "-"
    if "refused" in r:
        return "refused"
    gap = "" if r["gap"] is None else f" gap {r['gap']:+.4f}"
    score = "" if r["score"] is None else f" score {r['score']:.4f}"
    when = " (stored)" if r.get("stored") else ""
    return f"SHD {r['shd']:3d} TPR {r['tpr']:.2f} FDR {r['fdr']:.2f}{score}{gap} {r['time']:.1f}s{when}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-d", type=int, default=100)
    ap.add_argument("--no-dagma", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--dagma-from", type=Path, default=None)
    ap.add_argument("--check-dagma", type=int, default=2)
    args = ap.parse_args()
    stored = {}
    if args.dagma_from is not None:
        old_rows = json.loads(args.dagma_from.read_text())
        stored = {json.dumps(r["instance"], sort_keys=True): r["dagma"] for r in old_rows}
    rows = []
    for i, inst in enumerate(instances()):
        if inst["d"] > args.max_d:
            continue
        ds = simulate(inst["graph"], inst["k"], inst["d"], inst["n"], inst["noise"], "linear", inst["seed"])
        old_row, new_row = topo(ds, "all"), topo(ds, "bic")
        d_row = stored.get(json.dumps(inst, sort_keys=True))
        if d_row is not None:
            d_row = {**d_row, "score": None, "stored": True}
            if i < args.check_dagma:
                fresh = dagma(ds)
                if any(fresh[k] != d_row[k] for k in ("shd", "tpr", "fdr")):
                    raise SystemExit(f"stored DAGMA row differs from a fresh run on {inst}: {fresh} vs {d_row}")
        elif not args.no_dagma:
            d_row = dagma(ds)
        row = {"instance": inst, "old": old_row, "new": new_row, "dagma": d_row}
        rows.append(row)
        name = "{graph}{k} d={d} n={n} {noise} s{seed}".format(**inst)
        print(f"{name:28s} | old {fmt(row['old'])} | new {fmt(row['new'])} | dagma {fmt(row['dagma'])}", flush=True)
    print("\nsummary over", len(rows), "instances (machine shared with other jobs: times are loaded-machine times)")
    new_vs_dagma = [r["new"]["shd"] - r["dagma"]["shd"] for r in rows if r["dagma"] is not None]
    if new_vs_dagma:
        worst = int(np.argmax(new_vs_dagma))
        print(f"new SHD - DAGMA SHD: worst {max(new_vs_dagma):+d} ({rows[worst]['instance']}), "
              f"instances with new <= DAGMA: {sum(x <= 0 for x in new_vs_dagma)}/{len(new_vs_dagma)}")
    ratios = [r["new"]["time"] / r["old"]["time"] for r in rows if "refused" not in r["old"]]
    if ratios:
        print(f"time new / old: worst {max(ratios):.1f}x, median {np.median(ratios):.1f}x "
              f"(old refused on {sum('refused' in r['old'] for r in rows)} instances)")
    gaps = [r["new"]["gap"] for r in rows if r["instance"]["d"] <= 50]
    if gaps:
        print(f"new search gap up to d=50: worst {max(gaps):+.5f}, > 0 on {sum(g > 1e-9 for g in gaps)}/{len(gaps)}")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1, default=float))


if __name__ == "__main__":
    main()
