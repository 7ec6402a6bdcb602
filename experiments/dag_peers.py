"""The unit-free `bic` score's CPDAG beside causal-learn's GRaSP, BOSS and GES on standardized data, with times.

Instances: ER2 / ER4, d = 20 / 50, n = 1000, gauss noise, 3 seeds (NOTEARS simulator, seeds 200+), every column
scaled to unit variance (so varsortability cannot help). All four methods get the same standardized X; the
metric is the SHD between CPDAGs (pairs whose edge mark differs from the true graph's CPDAG).
  gfopt  python -m gfopt's pipeline with problem.score.type=bic (default restarts: its default price, twice the
         textbook BIC's), CPDAG of the result; gfopt-bic-p2 with problem.score.penalty=2, the objective GRaSP and
         BOSS optimize here (causal-learn's local_score_BIC_from_cov with their default lambda_value=2: 2 log(n)
         per parent, 4x the BIC's)
  GRaSP  causallearn.search.PermutationBased.GRaSP.grasp(X, "local_score_BIC_from_cov", depth=3)
  BOSS   causallearn.search.PermutationBased.BOSS.boss(X, "local_score_BIC_from_cov")
  GES    causallearn.search.ScoreBased.GES.ges(X, "local_score_BIC") (d <= --ges-max-d: minutes at d=20 ER4)
GRaSP and BOSS draw random orders from Python's `random`: it (and numpy's global generator) is seeded with the
instance's seed before each (unseeded, their SHD changed by up to 60 between two runs of the same instance).
Sachs (last row): the flow-cytometry data as the `cdt` package (0.6.0) ships them inside its wheel
(cdt/data/resources/cyto_full_data.csv: 7466 rows, 11 proteins; cyto_full_target.csv: the consensus graph as cdt
gives it, 18 directed edges), read from the installed package's directory without importing cdt (its import pulls
in torch and GPU probes); standardized like the rest. causal-learn's own Sachs loader downloads from GitHub, and
this machine has no network at run time.
causal-learn and cdt are an optional extra: pip install -e ".[peers]".
Run: OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python experiments/dag_peers.py [--max-d 20] [--seeds 3] [--sachs-only]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import importlib.util
import io
import random
import time
from pathlib import Path

import numpy as np

from gfopt.core.engine import run
from gfopt.core.local_search import LocalSearchEngine
from gfopt.problems.dag_topo.cpdag import cpdag_shd, dag_to_cpdag
from gfopt.problems.dag_topo.data import simulate
from gfopt.problems.dag_topo.problem import DagTopoProblem


def sachs() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(X, B_true, names) from the installed cdt package's resources, found with find_spec (cdt is not imported)."""
    spec = importlib.util.find_spec("cdt")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("Sachs: cdt is not installed; pip install -e '.[peers]' (cdt 0.6.0 ships the data)")
    res = Path(next(iter(spec.submodule_search_locations))) / "data" / "resources"
    with open(res / "cyto_full_data.csv", newline="") as f:
        rows = list(csv.reader(f))
    names = rows[0]
    X = np.array(rows[1:], dtype=float)
    B = np.zeros((len(names), len(names)), dtype=int)
    with open(res / "cyto_full_target.csv", newline="") as f:
        for cause, effect in list(csv.reader(f))[1:]:
            B[names.index(cause), names.index(effect)] = 1
    return X, B, names


def cpdag_of_general_graph(G) -> np.ndarray:  # noqa: ANN001 (causallearn GeneralGraph)
    """causal-learn's endpoint matrix -> our CPDAG matrix (graph[j, i] = 1, graph[i, j] = -1 is i -> j)."""
    g = np.asarray(G.graph)
    d = len(g)
    C = np.zeros((d, d), dtype=int)
    for i in range(d):
        for j in range(d):
            if g[j, i] == 1 and g[i, j] == -1:
                C[i, j] = 1
            elif g[i, j] == -1 and g[j, i] == -1:
                C[i, j] = C[j, i] = 1
    return C


def gfopt_bic(X: np.ndarray, seed: int, penalty: float = 1.0) -> np.ndarray:
    """CPDAG of the default bic run (penalty 1: twice the BIC; 2: causal-learn's lambda_value=2, GRaSP's and BOSS's)."""
    p = DagTopoProblem(data={"center": True}, score={"type": "bic", "penalty": penalty}, dataset=_dataset(X))
    res = run(p, LocalSearchEngine(restarts=None), np.random.default_rng(seed))
    return dag_to_cpdag(p.thresholded(p.fit(res.best).W))


def _dataset(X: np.ndarray):  # noqa: ANN202
    from gfopt.problems.dag_topo.data import Dataset

    return Dataset(X=X, names=[f"x{i}" for i in range(X.shape[1])])


def seed_peers(seed: int) -> None:
    """GRaSP and BOSS shuffle with Python's `random` (and parts of causal-learn use numpy's global generator)."""
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002


def peers(X: np.ndarray, with_ges: bool, seed: int) -> dict[str, tuple[np.ndarray, float]]:
    from causallearn.search.PermutationBased.BOSS import boss
    from causallearn.search.PermutationBased.GRaSP import grasp
    from causallearn.search.ScoreBased.GES import ges

    out = {}
    with contextlib.redirect_stdout(io.StringIO()):
        seed_peers(seed)
        t0 = time.perf_counter()
        G = grasp(X, "local_score_BIC_from_cov", depth=3, verbose=False)
        out["GRaSP"] = (cpdag_of_general_graph(G), time.perf_counter() - t0)
        seed_peers(seed)
        t0 = time.perf_counter()
        G = boss(X, "local_score_BIC_from_cov", verbose=False)
        out["BOSS"] = (cpdag_of_general_graph(G), time.perf_counter() - t0)
        if with_ges:
            t0 = time.perf_counter()
            G = ges(X, "local_score_BIC")["G"]
            out["GES"] = (cpdag_of_general_graph(G), time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-d", type=int, default=50)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--ges-max-d", type=int, default=20, help="run GES only up to this d (minutes per d=20 ER4)")
    ap.add_argument("--sachs-only", action="store_true")
    args = ap.parse_args()
    methods = ["gfopt-bic", "gfopt-bic-p2", "GRaSP", "BOSS", "GES"]
    peer_names = methods[2:]
    print("CPDAG SHD (time s) on standardized data; machine shared with other jobs")
    print(f"{'instance':24s} | " + " | ".join(f"{m:>16s}" for m in methods))
    worst = {g: dict.fromkeys(peer_names, -10**9) for g in methods[:2]}
    for d in (20, 50):
        if d > args.max_d or args.sachs_only:
            continue
        for k in (2, 4):
            for s in range(args.seeds):
                seed = 200 + 10 * d + 2 * k + s
                ds = simulate("ER", k, d, 1000, "gauss", "linear", seed)
                X = (ds.X - ds.X.mean(0)) / ds.X.std(0)
                truth = dag_to_cpdag(ds.B_true)
                t0 = time.perf_counter()
                res = {"gfopt-bic": (cpdag_shd(truth, gfopt_bic(X, seed)), time.perf_counter() - t0)}
                t0 = time.perf_counter()
                res["gfopt-bic-p2"] = (cpdag_shd(truth, gfopt_bic(X, seed, 2.0)), time.perf_counter() - t0)
                for name, (Cp, dt) in peers(X, d <= args.ges_max_d, seed).items():
                    res[name] = (cpdag_shd(truth, Cp), dt)
                for g in methods[:2]:
                    for m in peer_names:
                        if m in res:
                            worst[g][m] = max(worst[g][m], res[g][0] - res[m][0])
                cells = " | ".join(f"{res[m][0]:5d} ({res[m][1]:6.1f}s)" if m in res else f"{'-':>16s}"
                                   for m in methods)
                print(f"ER{k} d={d} n=1000 s{seed:<6d} | {cells}", flush=True)
    X, B, names = sachs()
    X = (X - X.mean(0)) / X.std(0)
    truth = dag_to_cpdag(B)
    t0 = time.perf_counter()
    res = {"gfopt-bic": (cpdag_shd(truth, gfopt_bic(X, 0)), time.perf_counter() - t0)}
    t0 = time.perf_counter()
    res["gfopt-bic-p2"] = (cpdag_shd(truth, gfopt_bic(X, 0, 2.0)), time.perf_counter() - t0)
    for name, (Cp, dt) in peers(X, True, 0).items():
        res[name] = (cpdag_shd(truth, Cp), dt)
    cells = " | ".join(f"{res[m][0]:5d} ({res[m][1]:6.1f}s)" for m in methods)
    label = f"Sachs n={len(X)} {int(B.sum())} edges"
    print(f"{label:24s} | {cells}  (not in the worst-case line)", flush=True)
    for g in methods[:2]:
        print(f"worst ({g} SHD - peer SHD) over instances: "
              + ", ".join(f"{m} {v:+d}" if v > -10**9 else f"{m} -" for m, v in worst[g].items()))


if __name__ == "__main__":
    main()
