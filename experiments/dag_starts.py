"""How many starts the two-stage default needs: the first stage's 5 against 3, and 2 sparse starts against 1.

The default takes each of its 5 starts (`engine.restarts` null: 1 + 4) to an all-predecessors optimum, then runs the
sparse search from the best `problem.search.sparse_starts` = 2 distinct ones (by the sparse score). On the d=100
n=200 suite instance both sparse runs took the same moves with the same gains, so fewer starts looked like free
time. Settings: the default; `search.sparse_starts=1`; `engine.restarts=2` (3 first-stage starts, 2 sparse).
Instances: the 30 of experiments/dag_suite.py (seeds 100+; DAGMA rows from dag_suite.json) and 72 fresh ones
(seeds 9700+: n = d, 2d and 10d; d = 10, 20, 30, 50; ER and SF; k = 2, 4, 6; gauss / exp / gumbel noise in turn;
raw data, NOTEARS simulator; DAGMA rows in dag_fresh_dagma.json, written by `--compute-dagma`, DAGMA as in
dag_suite.py; its SHD moves between processes on the same X, so each row is one draw). Search seed 0. Prints SHD
and time per instance and setting, then per n / d group and setting the worst SHD minus DAGMA's, the count at or
below it, the sum and the time.
Run: PYTHONPATH=. OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 python experiments/dag_starts.py
    > experiments/dag_starts.txt   (`--settings default` runs the default only)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from dag_suite import dagma, instances  # noqa: E402

from gfopt.core.engine import run  # noqa: E402
from gfopt.core.local_search import LocalSearchEngine  # noqa: E402
from gfopt.problems.dag_topo.data import simulate  # noqa: E402
from gfopt.problems.dag_topo.metrics import count_accuracy  # noqa: E402
from gfopt.problems.dag_topo.problem import DagTopoProblem  # noqa: E402

SETTINGS = {"default": ({}, None), "sparse_starts=1": ({"sparse_starts": 1}, None), "restarts=2": ({}, 2)}
FRESH_DAGMA = HERE / "dag_fresh_dagma.json"


def fresh_instances() -> list[dict]:
    """72 instances on seeds 9700+ (no default was tuned on them)."""
    noises = ("gauss", "exp", "gumbel")
    out, i = [], 0
    for factor in (1, 2, 10):
        for d in (10, 20, 30, 50):
            for graph in ("ER", "SF"):
                for k in (2, 4, 6):
                    out.append({"graph": graph, "k": k, "d": d, "n": factor * d, "noise": noises[i % 3],
                                "seed": 9700 + i})
                    i += 1
    return out


def simulated(inst: dict):
    return simulate(inst["graph"], inst["k"], inst["d"], inst["n"], inst["noise"], "linear", inst["seed"])


def compute_dagma(instances: list[dict], path: Path) -> None:
    """DAGMA's SHD on each instance, printed as it goes and written to `path` as {seed: SHD}."""
    out = {}
    for inst in instances:
        out[inst["seed"]] = dagma(simulated(inst))["shd"]
        print(inst["seed"], out[inst["seed"]], flush=True)
    path.write_text(json.dumps(out, indent=0) + "\n")


def default_run(ds, search: dict | None = None, restarts: int | None = None,
                score: dict | None = None) -> tuple[int, float, float]:
    """(SHD, seconds, penalty multiplier used) of the default search (seed 0) with `problem.search` and
    `problem.score` overrides and `engine.restarts`."""
    t0 = time.perf_counter()
    p = DagTopoProblem(data={"center": True}, search=search, score=score, dataset=ds)
    res = run(p, LocalSearchEngine(restarts=restarts), np.random.default_rng(0))
    dt = time.perf_counter() - t0
    return count_accuracy(ds.B_true, p.thresholded(p.fit(res.best).W))["shd"], dt, p.penalty_multiplier


def dagma_rows() -> dict[int, int]:
    """DAGMA's SHD by seed: the suite's stored rows and the fresh instances' file."""
    rows = {r["instance"]["seed"]: r["dagma"]["shd"] for r in json.loads((HERE / "dag_suite.json").read_text())}
    rows.update({int(s): shd for s, shd in json.loads(FRESH_DAGMA.read_text()).items()})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--compute-dagma", action="store_true", help=f"run DAGMA on the fresh instances into {FRESH_DAGMA}")
    ap.add_argument("--settings", nargs="+", choices=sorted(SETTINGS), default=list(SETTINGS),
                    help="which settings to run (default: all three)")
    args = ap.parse_args()
    settings = {name: SETTINGS[name] for name in args.settings}
    if args.compute_dagma:
        compute_dagma(fresh_instances(), FRESH_DAGMA)
        return
    ref = dagma_rows()
    rows = []
    for inst in instances() + fresh_instances():
        ds = simulated(inst)
        cells = {name: default_run(ds, search, restarts) for name, (search, restarts) in settings.items()}
        group = "n <= d" if inst["n"] <= inst["d"] else "n <= 2d" if inst["n"] <= 2 * inst["d"] else "n > 2d"
        rows.append((group, ref[inst["seed"]], cells))
        name = f"{inst['graph']}{inst['k']} d={inst['d']} n={inst['n']} {inst['noise']} s{inst['seed']}"
        print(name.ljust(28) + f" dagma {ref[inst['seed']]:3d} | "
              + " | ".join(f"{s} {shd:3d} {t:5.2f}s" for s, (shd, t, _) in cells.items()), flush=True)
    print()
    for group in ("n <= d", "n <= 2d", "n > 2d", "all"):
        part = [r for r in rows if group in ("all", r[0])]
        print(f"{group} ({len(part)} instances), SHD minus DAGMA's:")
        for s in settings:
            diff = [cells[s][0] - dg for _, dg, cells in part]
            print(f"  {s:16s} worst {max(diff):+4d}, at or below {sum(x <= 0 for x in diff):3d}/{len(diff)}, "
                  f"summed {sum(diff):+5d}, time {sum(cells[s][1] for _, _, cells in part):6.1f} s")


if __name__ == "__main__":
    main()
