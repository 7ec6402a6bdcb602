"""What the Checkpoint callback costs on fast steps: a run with it (default 5 s between writes; the in-memory copy
that Ctrl-C writes is only taken after steps of 0.5 s or more) against the same run without it, side by side.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python experiments/checkpoint_overhead.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from gfopt.core.callbacks import Checkpoint
from gfopt.core.engine import Budget, run
from gfopt.core.evolution import PopulationEngine
from gfopt.core.local_search import LocalSearchEngine
from gfopt.core.operators.permutation import OrderCrossover, SwapMutation
from gfopt.core.operators.selection import ElitistTournament
from gfopt.problems.dag_topo.problem import DagTopoProblem
from gfopt.problems.tsp import TspProblem


def tsp_ga():
    engine = PopulationEngine(population_size=20, selection=ElitistTournament(), crossover=OrderCrossover(),
                              mutation=SwapMutation(), crossover_rate=0.8, individual_mutation_rate=0.5)
    return TspProblem(cities=30), engine, Budget(steps=500)


def dag_default():
    problem = DagTopoProblem()
    return problem, LocalSearchEngine(problem.default_neighbourhood(), restarts=4), None


def timed(make, with_checkpoint: bool, folder: Path) -> tuple[float, int]:
    problem, engine, budget = make()
    callbacks = [Checkpoint(folder / "ck.npz", min_interval_s=5.0)] if with_checkpoint else []
    t0 = time.perf_counter()
    result = run(problem, engine, np.random.default_rng(0), budget, callbacks)
    return time.perf_counter() - t0, result.steps


def main(repeats: int = 5) -> None:
    print(f"{'case':<22}{'steps':>7}{'without (s)':>13}{'with (s)':>10}{'ratio':>8}   (median of {repeats})")
    with tempfile.TemporaryDirectory() as tmp:
        for name, make in (("tsp GA, 30 cities", tsp_ga), ("dag_topo default d=20", dag_default)):
            without, with_ = [], []
            for _ in range(repeats):  # interleaved, so load on a shared machine hits both alike
                t, steps = timed(make, False, Path(tmp))
                without.append(t)
                with_.append(timed(make, True, Path(tmp))[0])
            a, b = float(np.median(without)), float(np.median(with_))
            print(f"{name:<22}{steps:>7}{a:>13.3f}{b:>10.3f}{b / a:>8.2f}")


if __name__ == "__main__":
    main()
