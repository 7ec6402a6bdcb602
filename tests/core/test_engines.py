"""Engines against brute force on small permutation problems."""

from itertools import permutations

import numpy as np
import pytest

from gfopt.core import Budget, run
from gfopt.core.evolution import PopulationEngine
from gfopt.core.local_search import LocalSearchEngine
from gfopt.core.operators.permutation import OrderCrossover, SwapMutation, SwapNeighbourhood
from gfopt.core.operators.selection import ElitistTournament
from gfopt.problems.tsp import TspProblem, tour_lengths


def brute_force_tsp(problem: TspProblem) -> float:
    d = len(problem.coords)
    tours = np.array([(0, *p) for p in permutations(range(1, d))])
    return float(tour_lengths(problem.dist, tours).min())


@pytest.mark.parametrize("instance_seed", [0, 1, 2])
def test_local_search_with_restarts_reaches_brute_force_optimum(instance_seed):
    problem = TspProblem(cities=7, instance_seed=instance_seed)
    engine = LocalSearchEngine(SwapNeighbourhood(), restarts=30)
    result = run(problem, engine, np.random.default_rng(0))
    assert result.stopped_by == "converged"
    assert result.best_fitness == pytest.approx(brute_force_tsp(problem), rel=1e-12)


def test_local_search_ends_at_a_swap_local_optimum():
    problem = TspProblem(cities=9, instance_seed=3)
    engine = LocalSearchEngine(SwapNeighbourhood(), multi_accept=True)
    result = run(problem, engine, np.random.default_rng(1))
    nb = SwapNeighbourhood()
    neighbours = [nb.apply(result.best, [m]) for m in nb.moves(result.best, 0, None)]
    assert problem.evaluate(neighbours).min() >= result.best_fitness - 1e-12


@pytest.mark.parametrize("instance_seed", [0, 4])
def test_genetic_algorithm_reaches_brute_force_optimum(instance_seed):
    problem = TspProblem(cities=7, instance_seed=instance_seed)
    engine = PopulationEngine(
        population_size=30, selection=ElitistTournament(0.1, 3), crossover=OrderCrossover(),
        mutation=SwapMutation(), individual_mutation_rate=0.5,
    )
    result = run(problem, engine, np.random.default_rng(0), Budget(steps=60))
    assert result.best_fitness == pytest.approx(brute_force_tsp(problem), rel=1e-12)


def test_budget_limits_steps_and_evaluations():
    problem = TspProblem(cities=10)
    engine = PopulationEngine(population_size=10, selection=ElitistTournament(), crossover=OrderCrossover(),
                              mutation=SwapMutation())
    result = run(problem, engine, np.random.default_rng(0), Budget(steps=4))
    assert result.steps == 4 and result.stopped_by == "steps"
    engine = PopulationEngine(population_size=10, selection=ElitistTournament(), crossover=OrderCrossover(),
                              mutation=SwapMutation())
    result = run(problem, engine, np.random.default_rng(0), Budget(evaluations=25))
    assert result.evaluations >= 25 and result.stopped_by == "evaluations"


def test_early_stop_after_patience_generations_without_a_new_best():
    problem = TspProblem(cities=5)  # 12 distinct tours: the optimum is found fast, then nothing improves
    engine = PopulationEngine(population_size=10, selection=ElitistTournament(), crossover=OrderCrossover(),
                              mutation=SwapMutation(), patience=3)
    result = run(problem, engine, np.random.default_rng(0), Budget(steps=500))
    assert result.stopped_by == "patience" and result.steps < 500
    assert result.best_fitness == pytest.approx(brute_force_tsp(problem))


def test_same_seed_same_run_and_different_seed_differs():
    def once(seed):
        engine = PopulationEngine(population_size=12, selection=ElitistTournament(), crossover=OrderCrossover(),
                                  mutation=SwapMutation())
        r = run(TspProblem(cities=15), engine, np.random.default_rng(seed), Budget(steps=10))
        return r.best_fitness, tuple(r.best), r.evaluations

    assert once(5) == once(5)
    assert once(5) != once(6)


def test_state_dict_round_trip_continues_identically():
    problem = TspProblem(cities=12)

    def make():
        return PopulationEngine(population_size=10, selection=ElitistTournament(), crossover=OrderCrossover(),
                                mutation=SwapMutation())

    full = run(problem, make(), np.random.default_rng(3), Budget(steps=12))
    first = make()
    run(problem, first, np.random.default_rng(3), Budget(steps=5))
    resumed = run(problem, make(), np.random.default_rng(999), Budget(steps=12), state=first.state_dict())
    assert resumed.best_fitness == full.best_fitness
    assert np.array_equal(resumed.fitness, full.fitness)


def test_tell_without_a_batch_in_flight_raises():
    engine = LocalSearchEngine(SwapNeighbourhood())
    engine.setup(TspProblem(cities=5), np.random.default_rng(0))
    with pytest.raises(RuntimeError, match="no batch is in flight"):
        engine.tell([], np.empty(0))


def test_an_operator_of_another_space_is_refused_in_setup():
    from gfopt.core.operators.real import GaussianMask
    from gfopt.errors import ConfigError

    engine = PopulationEngine(population_size=4, selection=ElitistTournament(), mutation=GaussianMask())
    msg = "engine.mutation: GaussianMask works on real vectors; tsp searches permutations"
    with pytest.raises(ConfigError, match=msg):
        engine.setup(TspProblem(cities=5), np.random.default_rng(0))
