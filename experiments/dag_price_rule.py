"""The small-sample price rule (n <= 2d): a wider grid and a margin for the held-out factor, against the default.

Under the ridge rule (n <= 2d) the default scales the parent price by a factor chosen by held-out error of ridge fits
in the first stage's best order (`penalty.choose_multiplier`): factors 2 ... 0.25, the least error. The candidate
rule ("wide"), chosen on the tuning pool below: factors 2 ... 0.125 and, with n <= d, the largest factor whose error
is within 5% of the least. Both are full default searches (engine restarts null, seed 0); the candidate is set here
by replacing the problem module's `choose_multiplier`, so the default's code is not changed by this script.

Instances: every n <= 2d instance with a stored DAGMA row (the tuning pool: dag_suite.json, dag_fresh_dagma.json,
dag_tune_small_n.json, dag_small_n_objective.json and dag_folds_check.txt; 202 instances, the rule was chosen on
them), and a check set no rule was chosen on: seeds 9300+ (n = d) and 9400+ (n = 2d), d = 10, 20, 30, ER / SF,
k = 2, 4, 6, two seeds each, gauss / exp / gumbel noise in turn (NOTEARS simulator, raw data), DAGMA rows in
dag_price_dagma.json (`--compute-dagma`; DAGMA as in dag_suite.py, one draw each). `--factors` adds a column per
fixed factor (2 ... 0.125) and the per-instance best of them (an oracle no price rule can beat).
Prints SHD per instance and, per set and n / d group, the worst SHD minus DAGMA's, the count at or below it, the sum
and the time.
Run: PYTHONPATH=. OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 python experiments/dag_price_rule.py
    > experiments/dag_price_rule.txt
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from dag_starts import compute_dagma, fresh_instances, simulated  # noqa: E402

import gfopt.problems.dag_topo.problem as problem_module  # noqa: E402
from gfopt.core.engine import run  # noqa: E402
from gfopt.core.local_search import LocalSearchEngine  # noqa: E402
from gfopt.problems.dag_topo.metrics import count_accuracy  # noqa: E402
from gfopt.problems.dag_topo.penalty import MULTIPLIERS, held_out_errors  # noqa: E402

CHECK_DAGMA = HERE / "dag_price_dagma.json"
WIDE = MULTIPLIERS + (0.18, 0.125)
MARGIN = 0.05
DEFAULT_CHOICE = problem_module.choose_multiplier


def wide_choice(X, order, multipliers=MULTIPLIERS, **kw) -> float:
    """The candidate rule: the largest factor of WIDE whose held-out error is within MARGIN of the least (n <= d;
    the least error with d < n <= 2d)."""
    err = held_out_errors(X, order, WIDE, **kw)
    bound = (1 + (MARGIN if len(X) <= X.shape[1] else 0.0)) * err.min()
    return max(c for c, e in zip(WIDE, err, strict=True) if e <= bound)


def fixed_choice(factor: float):
    return lambda *a, **kw: factor


def tuning_pool() -> list[tuple[dict, int]]:
    """(instance, DAGMA SHD) of every stored n <= 2d instance, by seed (the first file that has a seed wins)."""
    out: dict[int, tuple[dict, int]] = {}
    for r in json.loads((HERE / "dag_suite.json").read_text()):
        out.setdefault(r["instance"]["seed"], (r["instance"], r["dagma"]["shd"]))
    fresh = json.loads((HERE / "dag_fresh_dagma.json").read_text())
    for inst in fresh_instances():
        out.setdefault(inst["seed"], (inst, fresh[str(inst["seed"])]))
    for name in ("dag_tune_small_n.json", "dag_small_n_objective.json"):
        for key, row in json.loads((HERE / name).read_text()).items():
            inst = json.loads(key)
            out.setdefault(inst["seed"], (inst, row["shd"]))
    line = re.compile(r"^(ER|SF)(\d) d=(\d+) n=(\d+) (\w+) s(\d+)\s+dagma\s+(\d+)")
    for text in (HERE / "dag_folds_check.txt").read_text().splitlines():
        if m := line.match(text):
            graph, k, d, n, noise, seed, shd = m.groups()
            inst = {"graph": graph, "k": int(k), "d": int(d), "n": int(n), "noise": noise, "seed": int(seed)}
            out.setdefault(int(seed), (inst, int(shd)))
    return sorted((v for v in out.values() if v[0]["n"] <= 2 * v[0]["d"]), key=lambda v: v[0]["seed"])


def check_instances() -> list[dict]:
    """72 instances on seeds 9300+ (n = d) and 9400+ (n = 2d) that no rule was chosen on."""
    noises = ("gauss", "exp", "gumbel")
    out = []
    for factor, first_seed in ((1, 9300), (2, 9400)):
        i = 0
        for d in (10, 20, 30):
            for graph in ("ER", "SF"):
                for k in (2, 4, 6):
                    for _ in range(2):
                        out.append({"graph": graph, "k": k, "d": d, "n": factor * d, "noise": noises[i % 3],
                                    "seed": first_seed + i})
                        i += 1
    return out


def default_run(ds, choice) -> tuple[int, float]:
    """(SHD, seconds) of the default search with the problem module's held-out choice replaced by `choice`."""
    problem_module.choose_multiplier = choice
    t0 = time.perf_counter()
    p = problem_module.DagTopoProblem(data={"center": True}, dataset=ds)
    res = run(p, LocalSearchEngine(restarts=None), np.random.default_rng(0))
    dt = time.perf_counter() - t0
    return count_accuracy(ds.B_true, p.thresholded(p.fit(res.best).W))["shd"], dt


def summary(label: str, rows: list[tuple[dict, int, dict]]) -> None:
    for group, inside in (("n <= d", lambda i: i["n"] <= i["d"]), ("d < n <= 2d", lambda i: i["n"] > i["d"])):
        part = [r for r in rows if inside(r[0])]
        if not part:
            continue
        print(f"{label}, {group} ({len(part)} instances), SHD minus DAGMA's:")
        for column in part[0][2]:
            diff = [cells[column][0] - ref for _, ref, cells in part]
            worst = max(range(len(diff)), key=lambda j: diff[j])
            inst = part[worst][0]
            print(f"  {column:8s} worst {diff[worst]:+4d} ({inst['graph']}{inst['k']} d={inst['d']} n={inst['n']} "
                  f"s{inst['seed']}), at or below {sum(x <= 0 for x in diff):3d}/{len(diff)}, summed {sum(diff):+6d}, "
                  f"time {sum(cells[column][1] for _, _, cells in part):6.1f} s")


def selected_sets(names: list[str]) -> dict[str, list[tuple[dict, int]]]:
    """(instance, DAGMA SHD) per set asked for: "tuning" (the pool) and / or "check"."""
    sets = {}
    if "tuning" in names:
        sets["tuning pool"] = tuning_pool()
    if "check" in names:
        stored = json.loads(CHECK_DAGMA.read_text())
        sets["check set"] = [(inst, stored[str(inst["seed"])]) for inst in check_instances()]
    return sets


def sets_from_cli(description: str) -> dict[str, list[tuple[dict, int]]]:
    """The sets named by `--sets` (default both), for the scripts that compare estimators on them; the units warning
    some instances raise is silenced (the data are the simulator's)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--sets", nargs="+", choices=("tuning", "check"), default=["tuning", "check"])
    names = ap.parse_args().sets
    logging.disable(logging.WARNING)
    return selected_sets(names)


def report(sets: dict[str, list[tuple[dict, int]]], cells_for) -> None:
    """Per set: `cells_for(dataset)` ({column: (SHD, seconds)}) printed per instance as it goes, then `summary`."""
    for label, instances in sets.items():
        rows = []
        for inst, ref in instances:
            cells = cells_for(simulated(inst))
            rows.append((inst, ref, cells))
            name = f"{inst['graph']}{inst['k']} d={inst['d']} n={inst['n']} {inst['noise']} s{inst['seed']}"
            print(name.ljust(28) + f" dagma {ref:3d} | "
                  + " | ".join(f"{c} {shd:3d} {t:5.2f}s" for c, (shd, t) in cells.items()), flush=True)
        print()
        summary(label, rows)
        print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--compute-dagma", action="store_true", help=f"run DAGMA on the check set into {CHECK_DAGMA}")
    ap.add_argument("--factors", action="store_true", help="also each fixed factor and the per-instance best")
    ap.add_argument("--sets", nargs="+", choices=("tuning", "check"), default=["tuning", "check"])
    args = ap.parse_args()
    if args.compute_dagma:
        compute_dagma(check_instances(), CHECK_DAGMA)
        return

    def cells_for(ds) -> dict[str, tuple[int, float]]:
        cells = {"default": default_run(ds, DEFAULT_CHOICE), "wide": default_run(ds, wide_choice)}
        if args.factors:
            fixed = {f"x{c:g}": default_run(ds, fixed_choice(c)) for c in WIDE}
            cells.update(fixed)
            cells["best x"] = min(fixed.values())
        return cells

    report(selected_sets(args.sets), cells_for)


if __name__ == "__main__":
    main()
