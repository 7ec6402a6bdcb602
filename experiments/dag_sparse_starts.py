"""How many first-stage optima the sparse search should continue from (`problem.search.sparse_starts`): 1 against 2.

The two-stage default takes each of its 5 starts to an all-predecessors optimum, then runs the sparse search from
the best `sparse_starts` distinct ones (by the sparse score). On the d=100 n=200 suite instance both sparse runs
took the same moves with the same gains, so the second looked like pure cost. Instances: the 30 of
experiments/dag_suite.py (seeds 100+) and 72 fresh ones (seeds 9700+: n = d, 2d and 10d; d = 10, 20, 30, 50; ER and
SF; k = 2, 4, 6; gauss / exp / gumbel noise in turn; raw data, NOTEARS simulator). Each column is the default search
(restarts null, seed 0) with the setting forced. DAGMA (as in dag_suite.py) runs only where the two SHDs differ,
to tell whether the difference crosses it. Prints one line per instance, then the summed SHD and time per setting
and per n / d group, and the worst SHD minus DAGMA's among the differing instances.
Run: PYTHONPATH=. OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 python experiments/dag_sparse_starts.py
    > experiments/dag_sparse_starts.txt
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dag_suite import dagma, instances  # noqa: E402

from gfopt.core.engine import run  # noqa: E402
from gfopt.core.local_search import LocalSearchEngine  # noqa: E402
from gfopt.problems.dag_topo.data import simulate  # noqa: E402
from gfopt.problems.dag_topo.metrics import count_accuracy  # noqa: E402
from gfopt.problems.dag_topo.problem import DagTopoProblem  # noqa: E402

SETTINGS = (2, 1)


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


def default_run(ds, sparse_starts: int) -> tuple[int, float]:
    """(SHD, seconds) of the default search with `search.sparse_starts` set."""
    t0 = time.perf_counter()
    p = DagTopoProblem(data={"center": True}, search={"sparse_starts": sparse_starts}, dataset=ds)
    res = run(p, LocalSearchEngine(restarts=None), np.random.default_rng(0))
    dt = time.perf_counter() - t0
    return count_accuracy(ds.B_true, p.thresholded(p.fit(res.best).W))["shd"], dt


def main() -> None:
    rows = []
    for inst in instances() + fresh_instances():
        ds = simulate(inst["graph"], inst["k"], inst["d"], inst["n"], inst["noise"], "linear", inst["seed"])
        cells = [default_run(ds, s) for s in SETTINGS]
        ref = dagma(ds)["shd"] if len({shd for shd, _ in cells}) > 1 else None
        group = "n<=d" if inst["n"] <= inst["d"] else "n<=2d" if inst["n"] <= 2 * inst["d"] else "n>2d"
        rows.append((group, ref, cells))
        name = f"{inst['graph']}{inst['k']} d={inst['d']} n={inst['n']} {inst['noise']} s{inst['seed']}"
        print(name.ljust(28) + " | ".join(f"starts={s} {shd:3d} {t:6.2f}s" for s, (shd, t) in
                                          zip(SETTINGS, cells, strict=True))
              + ("" if ref is None else f" | dagma {ref:3d}"), flush=True)
    print()
    for group in ("n<=d", "n<=2d", "n>2d", "all"):
        part = [r for r in rows if group in ("all", r[0])]
        cols = [f"starts={s}: SHD {sum(c[i][0] for _, _, c in part)}, {sum(c[i][1] for _, _, c in part):.1f} s"
                for i, s in enumerate(SETTINGS)]
        differ = sum(c[0][0] != c[1][0] for _, _, c in part)
        print(f"{group:6s} ({len(part)} instances): " + "; ".join(cols) + f"; SHD differs on {differ}")
    for i, s in enumerate(SETTINGS):
        diffs = [c[i][0] - ref for _, ref, c in rows if ref is not None]
        if diffs:
            print(f"starts={s}, where the settings differ: worst SHD minus DAGMA's {max(diffs):+d}, "
                  f"at or below DAGMA {sum(x <= 0 for x in diffs)}/{len(diffs)}")


if __name__ == "__main__":
    main()
