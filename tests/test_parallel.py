"""parallel=processes|ray: the same result.json as serial (the engine keeps the random generator), dead workers
replaced with the batch sent again, and a worker that cannot build the problem is one line."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from gfopt.app import execute
from gfopt.config import register_configs
from gfopt.core import Budget, run
from gfopt.core.engine import Callback
from gfopt.core.evaluator import ProcessEvaluator
from gfopt.core.evolution import PopulationEngine
from gfopt.core.operators.permutation import OrderCrossover, SwapMutation
from gfopt.core.operators.selection import ElitistTournament
from gfopt.errors import ConfigError
from gfopt.problems.tsp import TspProblem

REPO = Path(__file__).resolve().parents[1]
TSP = {"_target_": "gfopt.problems.tsp.TspProblem", "cities": 12, "instance_seed": 1}


def result_of(tmp_path: Path, name: str, *overrides: str) -> dict:
    register_configs()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[*overrides, "progress=false"])
    execute(cfg, tmp_path / name)
    res = json.loads((tmp_path / name / "result.json").read_text())
    return {k: v for k, v in res.items() if not k.endswith("_s")}


def ga() -> PopulationEngine:
    return PopulationEngine(population_size=10, selection=ElitistTournament(), crossover=OrderCrossover(),
                            mutation=SwapMutation(), individual_mutation_rate=0.5, generations=8)


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.setenv(k, "1")


@pytest.mark.slow
def test_processes_give_the_serial_result_on_dag_topo(tmp_path):
    args = ["problem=dag_topo", "problem.data.d=12", "problem.data.k=2", "engine.restarts=1"]
    serial = result_of(tmp_path, "serial", *args)
    parallel = result_of(tmp_path, "processes", *args, "parallel=processes", "parallel.threads_per_worker=1")
    assert serial == parallel and serial["fast_evaluations"] > 0


@pytest.mark.slow
def test_processes_give_the_serial_result_on_llm_evo(tmp_path):
    from tests.test_app import _toy_args

    args = _toy_args(tmp_path)
    serial = result_of(tmp_path, "serial", *args)
    parallel = result_of(tmp_path, "processes", *args, "parallel=processes", "parallel.threads_per_worker=1")
    assert serial == parallel and serial["test"]["baselines"]


class KillAWorker(Callback):
    def __init__(self, evaluator: ProcessEvaluator, at_step: int) -> None:
        self.evaluator, self.at_step = evaluator, at_step

    def on_step(self, engine, status) -> None:
        if engine.steps == self.at_step:
            os.kill(self.evaluator.processes()[0].pid, signal.SIGKILL)


@pytest.mark.slow
def test_a_killed_worker_is_replaced_and_its_batch_sent_again():
    reference = run(TspProblem(**{k: v for k, v in TSP.items() if k != "_target_"}), ga(), np.random.default_rng(0))
    ev = ProcessEvaluator(TSP, workers=2, threads_per_worker=1)
    try:
        problem = TspProblem(cities=12, instance_seed=1)
        res = run(problem, ga(), np.random.default_rng(0), callbacks=[KillAWorker(ev, 3)], evaluator=ev)
    finally:
        ev.close()
    assert ev.replaced >= 1
    assert res.best_fitness == reference.best_fitness and res.evaluations == reference.evaluations


def test_a_worker_that_cannot_build_the_problem_is_one_line():
    ev = ProcessEvaluator({**TSP, "cities": 2}, workers=1, threads_per_worker=1)
    try:
        with pytest.raises(ConfigError) as e:
            run(TspProblem(cities=12), ga(), np.random.default_rng(0), Budget(steps=2), evaluator=ev)
    finally:
        ev.close()
    assert str(e.value) == ("parallel: a worker could not build the problem: ConfigError: problem.cities: "
                            "must be >= 3, got 2")


@pytest.mark.slow
def test_ray_gives_the_serial_result_and_replaces_a_killed_actor(tmp_path):
    ray = pytest.importorskip("ray")
    from gfopt.core.evaluator import RayEvaluator

    reference = run(TspProblem(cities=12, instance_seed=1), ga(), np.random.default_rng(0))
    ev = RayEvaluator(TSP, workers=2, threads_per_worker=1)
    try:
        class KillAnActor(Callback):
            def on_step(self, engine, status) -> None:
                if engine.steps == 3:
                    ray.kill(ev.actors[0])

        res = run(TspProblem(cities=12, instance_seed=1), ga(), np.random.default_rng(0), callbacks=[KillAnActor()],
                  evaluator=ev)
    finally:
        ev.close()
        ray.shutdown()
    assert ev.replaced >= 1
    assert res.best_fitness == reference.best_fitness and res.evaluations == reference.evaluations
    np.testing.assert_array_equal(res.best, reference.best)
