"""CMA-ES, nevergrad, memetic and the real-vector neighbourhood against closed forms and brute force; checkpoint
state of the ask/tell engines reproduces an uninterrupted run exactly."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import permutations

import numpy as np
import pytest

from gfopt.core import Budget, run
from gfopt.core.ask_tell import CmaEsEngine, NevergradEngine
from gfopt.core.checkpoint import load_state, save_state
from gfopt.core.local_search import LocalSearchEngine
from gfopt.core.memetic import MemeticEngine
from gfopt.core.operators.permutation import InversionMutation, OrderCrossover, SwapNeighbourhood
from gfopt.core.operators.real import GaussianNeighbourhood
from gfopt.core.operators.selection import EliteRoulette
from gfopt.core.problem import Problem
from gfopt.core.space import REAL, RealVectorSpace
from gfopt.problems.tsp import TspProblem, tour_lengths

OPTIMUM = np.array([0.3, -0.7, 0.5, 0.1])


class Sphere(Problem):
    """Squared distance to OPTIMUM (minimum 0 there), in a box."""

    sense = "min"
    space_kind = REAL

    def __init__(self, bound: float | None = 2.0) -> None:
        b = bound
        self._space = RealVectorSpace(len(OPTIMUM), lower=None if b is None else -b, upper=b, dtype=np.float64)

    @property
    def space(self) -> RealVectorSpace:
        return self._space

    def evaluate(self, genomes: Sequence[np.ndarray]) -> np.ndarray:
        return np.array([float(np.sum((np.asarray(g) - OPTIMUM) ** 2)) for g in genomes])


def test_cmaes_finds_the_sphere_minimum():
    res = run(Sphere(), CmaEsEngine(sigma0=0.5), np.random.default_rng(0), Budget(evaluations=1500))
    np.testing.assert_allclose(res.best, OPTIMUM, atol=1e-3)


def test_cmaes_stays_inside_the_space_bounds():
    p = Sphere(bound=0.2)  # the optimum's entries -0.7 and 0.5 lie outside: the box optimum is the clipped point
    res = run(p, CmaEsEngine(sigma0=0.1), np.random.default_rng(1), Budget(evaluations=1500))
    assert np.all(np.abs(res.best) <= 0.2 + 1e-12)
    box_optimum = p.evaluate([np.clip(OPTIMUM, -0.2, 0.2)])[0]
    assert box_optimum <= res.best_fitness < box_optimum + 1e-3


@pytest.mark.parametrize("make", [lambda: CmaEsEngine(sigma0=0.5), lambda: NevergradEngine("NGOpt", budget=60)])
def test_ask_tell_checkpoint_resumes_exactly(make, tmp_path):
    full = run(Sphere(), make(), np.random.default_rng(3), Budget(steps=12))
    first = make()
    run(Sphere(), first, np.random.default_rng(3), Budget(steps=5))
    save_state(first.state_dict(), tmp_path / "c.npz")  # through the pickle-free file, as the app does
    resumed = run(Sphere(), make(), np.random.default_rng(99), Budget(steps=12), state=load_state(tmp_path / "c.npz"))
    assert resumed.evaluations == full.evaluations and resumed.best_fitness == full.best_fitness
    np.testing.assert_array_equal(resumed.best, full.best)


def test_gaussian_local_search_descends_the_sphere():
    p = Sphere(bound=None)
    nb = GaussianNeighbourhood(size=16, sigma=0.1, gene_rate=0.5, scales=(1.0, 0.1, 0.01))
    res = run(p, LocalSearchEngine(nb, restarts=0), np.random.default_rng(0), Budget(steps=400))
    start = p.evaluate(p.initial(1, np.random.default_rng(0)))[0]
    assert res.best_fitness < 1e-3 < start


def test_gaussian_moves_are_reproducible_from_their_seed_and_always_move():
    nb = GaussianNeighbourhood(size=3, sigma=0.1, gene_rate=0.0)  # a zero rate still moves one entry
    x = np.zeros(5, np.float32)
    moves = nb.moves(x, 0, np.random.default_rng(0))
    for m in moves:
        a, b = nb.apply(x, [m]), nb.apply(x, [m])
        np.testing.assert_array_equal(a, b)
        assert np.count_nonzero(a) == 1
    np.testing.assert_allclose(nb.apply(x, moves), sum(nb.apply(x, [m]) for m in moves), atol=1e-7)


@pytest.mark.parametrize("instance_seed", [0, 3])
def test_memetic_reaches_the_brute_force_tsp_optimum(instance_seed):
    p = TspProblem(cities=8, instance_seed=instance_seed)
    tours = np.array([(0, *q) for q in permutations(range(1, 8))])
    optimum = float(tour_lengths(p.dist, tours).min())
    engine = MemeticEngine(4, EliteRoulette(0.25), OrderCrossover(), InversionMutation(), SwapNeighbourhood(),
                           generations=6)
    res = run(p, engine, np.random.default_rng(0))
    assert res.best_fitness == pytest.approx(optimum, rel=1e-12)
    # every member of the final population is a local optimum of the swap neighbourhood (Lamarckian descent)
    nb = SwapNeighbourhood()
    for g, f in zip(*engine.population(), strict=True):
        neighbours = [nb.apply(g, [m]) for m in nb.moves(g, 0, None)]
        assert p.evaluate(neighbours).min() >= f - 1e-12
