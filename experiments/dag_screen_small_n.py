"""The candidate screen at d < n <= 2d: the default against no screen, and against a working set of candidates.

With d < n <= 2d the default screens candidate parents once (grow-shrink of each node on all others at a tenth of
the usual screen price, plus the first stage's edges; `DagTopoProblem._screen`), which bounds the sparse search's
work. On the check set's worst instance (SF6 d=30 n=60 s9434) a true-order fit at the best price, with every
predecessor a candidate, has SHD 34 against DAGMA's 38, and 48 with the default's candidates. This script asks
whether the screen is what keeps the default above DAGMA there. Columns, SHD after the 0.3 threshold, each a full
default search (engine restarts null, seed 0) on dag_price_rule's sets, the d < n <= 2d instances only:
  default      as shipped
  no screen    the problem module's SCREEN_MIN_N set to 2: every allowed predecessor a candidate, as with n <= d
  working set  the default's search, then while the final order's fit with every predecessor a candidate picks a
               parent that is not one: add those parents to the candidates and continue the search from that order
               (no restarts)
Times are each column's own (problem set-up and search); they are the machine's at the time of the run.
Run: PYTHONPATH=. OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 python experiments/dag_screen_small_n.py
    [--sets tuning check] > experiments/dag_screen_small_n.txt
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from dag_price_rule import report, sets_from_cli  # noqa: E402

import gfopt.problems.dag_topo.problem as problem_module  # noqa: E402
from gfopt.core.engine import run  # noqa: E402
from gfopt.core.local_search import LocalSearchEngine  # noqa: E402
from gfopt.problems.dag_topo.metrics import count_accuracy  # noqa: E402
from gfopt.problems.dag_topo.parent_sets import ParentSetScore  # noqa: E402

SCREEN_MIN_N = problem_module.SCREEN_MIN_N
MAX_ROUNDS = 10


def searched(ds, screen_min_n: int) -> tuple[problem_module.DagTopoProblem, np.ndarray]:
    """The default search with the module's SCREEN_MIN_N as given: (problem, best order)."""
    problem_module.SCREEN_MIN_N = screen_min_n
    try:
        p = problem_module.DagTopoProblem(data={"center": True}, dataset=ds)
        return p, np.asarray(run(p, LocalSearchEngine(restarts=None), np.random.default_rng(0)).best)
    finally:
        problem_module.SCREEN_MIN_N = SCREEN_MIN_N


def working_set(p: problem_module.DagTopoProblem, order: np.ndarray) -> np.ndarray:
    """The final order: widen the candidates by the unscreened fit's parents and search on until none is new (at
    most MAX_ROUNDS times)."""
    for _ in range(MAX_ROUNDS):
        sc = p.score
        unscreened = ParentSetScore(sc.S, sc.cost, sc.penalty, sc.name).fit_order(order)
        new = (unscreened.W != 0) & ~sc.candidates
        if not new.any():
            break
        sc.add_candidates(new)
        p._fits.clear()  # order fits cached with the narrower candidates
        p.initial = lambda n, rng, start=order: [start.copy()]  # continue from the order reached (no restarts)
        order = np.asarray(run(p, LocalSearchEngine(restarts=0), np.random.default_rng(0)).best)
    return order


def cells_for(ds) -> dict[str, tuple[int, float]]:
    def shd(p, order) -> int:
        return count_accuracy(ds.B_true, p.thresholded(p.fit(order).W))["shd"]

    cells = {}
    t0 = time.perf_counter()
    p, order = searched(ds, SCREEN_MIN_N)
    cells["default"] = (shd(p, order), time.perf_counter() - t0)
    t = time.perf_counter()
    unscreened, unscreened_order = searched(ds, 2)
    cells["no screen"] = (shd(unscreened, unscreened_order), time.perf_counter() - t)
    t = time.perf_counter()
    final = working_set(p, order)
    cells["working set"] = (shd(p, final), cells["default"][1] + time.perf_counter() - t)
    return cells


def main() -> None:
    sets = {label: [(inst, ref) for inst, ref in rows if inst["n"] > inst["d"]]
            for label, rows in sets_from_cli(__doc__.splitlines()[0]).items()}
    report(sets, cells_for)


if __name__ == "__main__":
    main()
