"""GENOME+ with the succession elite and population restarts on LoRA genomes: a checkpoint taken after a restart
(through the pickle-free file) resumes to the uninterrupted run; restarts re-seed from the problem's experts and
expert pairs."""

from __future__ import annotations

import numpy as np

from gfopt.core import Budget, run
from gfopt.core.checkpoint import load_state, save_state
from gfopt.core.evolution import PopulationEngine
from gfopt.core.operators.real import GaussianMask
from gfopt.core.operators.selection import EliteRoulette
from gfopt.core.operators.succession import ParticleSwarm
from gfopt.problems.llm_evo.operators import LoraMerge


def _engine() -> PopulationEngine:
    return PopulationEngine(population_size=4, max_population=6, selection=EliteRoulette(),
                            crossover=LoraMerge(layerwise=True, concentration=20.0),
                            mutation=GaussianMask(sigma=0.1, gene_rate=0.05), succession=ParticleSwarm(),
                            individual_mutation_rate=0.3, succession_elite=1, restart_threshold=2.0,
                            restart_patience=1, restart_keep=1, restart_measure="fitness")


def test_lora_run_with_restarts_resumes_to_the_uninterrupted_run(toy_problem, tmp_path):
    full = _engine()
    full_res = run(toy_problem, full, np.random.default_rng(11), Budget(steps=4))
    assert full.restarts == 3  # threshold 2 > any relative spread: a restart closes every generation
    first = _engine()
    run(toy_problem, first, np.random.default_rng(11), Budget(steps=2))
    assert first.restarts == 1
    save_state(first.state_dict(), tmp_path / "ck.npz")
    resumed = _engine()
    res = run(toy_problem, resumed, np.random.default_rng(5), Budget(steps=4), state=load_state(tmp_path / "ck.npz"))
    assert res.best_fitness == full_res.best_fitness and res.evaluations == full_res.evaluations
    np.testing.assert_array_equal(res.fitness, full_res.fitness)
    for a, b in zip(res.population, full_res.population, strict=True):
        np.testing.assert_array_equal(a, b)
    experts = {e.tobytes() for e in toy_problem.experts}
    assert sum(g.tobytes() in experts for g in res.population) >= 1  # the last restart drew raw experts again
