"""Population restarts and the succession elite: the diversity measures against a direct loop, the restart fires on
a constructed collapsed population and not on a diverse one, the elite is never moved, and a checkpoint taken
after a restart resumes to the uninterrupted run."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from gfopt.core import Budget, run
from gfopt.core.checkpoint import load_state, save_state
from gfopt.core.config import PopulationEngineConfig
from gfopt.core.evolution import PopulationEngine
from gfopt.core.operators.real import GaussianMask
from gfopt.core.operators.selection import EliteRoulette
from gfopt.core.operators.succession import ParticleSwarm
from gfopt.core.problem import Problem
from gfopt.core.space import REAL, RealVectorSpace
from gfopt.errors import ConfigError


class Bowl(Problem):
    """Maximize 10 - |x - 1|^2 in 3 dimensions; `initial` draws points around 0 from the run's generator and
    counts its calls (the count is not search state: it never changes a point)."""

    sense = "max"
    space_kind = REAL

    def __init__(self) -> None:
        self._space = RealVectorSpace(3, dtype=np.float64)
        self.calls = 0

    @property
    def space(self) -> RealVectorSpace:
        return self._space

    def initial(self, n: int, rng: np.random.Generator) -> list[np.ndarray]:
        self.calls += 1
        return [rng.normal(0, 0.5, 3) for _ in range(n)]

    def evaluate(self, genomes: Sequence[np.ndarray]) -> np.ndarray:
        return np.array([10.0 - float(np.sum((np.asarray(g) - 1.0) ** 2)) for g in genomes])


def _bare(**kw) -> PopulationEngine:
    """No crossover, mutation or succession: a generation changes nothing unless a restart fires."""
    eng = PopulationEngine(population_size=4, selection=EliteRoulette(), crossover_rate=0.0, **kw)
    eng.setup(Bowl(), np.random.default_rng(0))
    return eng


def _place(eng: PopulationEngine, genomes: list[np.ndarray]) -> None:
    """Put a population (after its initial step) into the engine, as a run would have left it."""
    eng.genomes = [np.asarray(g, float) for g in genomes]
    eng.fitness = eng.problem.evaluate(eng.genomes)
    eng.ids = eng._new_ids(len(genomes))
    eng.steps = 1


def test_diversity_measures_equal_a_direct_loop():
    eng = _bare(restart_threshold=0.1)
    pop = [np.array([1.0, 1.0, 1.0]), np.array([0.0, 1.0, 2.0]), np.array([3.0, 0.0, 1.0]), np.array([1.0, 2.0, 0.5])]
    _place(eng, pop)
    b = int(np.argmax(eng.fitness))
    dist = sum(np.sqrt(sum((x[j] - pop[b][j]) ** 2 for j in range(3))) for x in pop) / len(pop)
    assert eng.diversity() == pytest.approx(dist / np.sqrt(sum(v * v for v in pop[b])))
    eng.restart_measure = "fitness"
    f = eng.fitness
    assert eng.diversity() == pytest.approx((max(f) - sum(f) / 4) / abs(max(f)))


@pytest.mark.parametrize("measure", ["distance", "fitness"])
def test_restart_fires_on_a_collapsed_population_and_keeps_the_best(measure):
    eng = _bare(restart_threshold=0.05, restart_patience=2, restart_keep=1, restart_measure=measure)
    best = np.array([0.9, 1.0, 1.1])
    _place(eng, [best] + [best + 1e-4 * k for k in range(1, 4)])
    assert eng.ask() == [] and eng.restarts == 0 and eng.low_diversity == 1  # one low generation: patience is 2
    batch = eng.ask()
    assert len(batch) == 3 and eng.problem.calls == 1  # the three non-elite drawn from `initial`
    eng.tell(batch, eng.problem.evaluate(batch))
    assert eng.restarts == 1 and eng.low_diversity == 0
    np.testing.assert_array_equal(eng.genomes[0], best)
    for got, want in zip(eng.genomes[1:], batch, strict=True):
        np.testing.assert_array_equal(got, want)
    assert eng.diversity() > 0.05


def test_no_restart_on_a_diverse_population():
    eng = _bare(restart_threshold=0.05, restart_patience=1)
    _place(eng, [np.array([1.0, 1.0, 1.0]), np.array([-1.0, 2.0, 0.0]), np.array([3.0, 0.0, 1.0]),
                 np.array([0.0, 0.0, 4.0])])
    for _ in range(3):
        assert eng.ask() == []
    assert eng.restarts == 0 and eng.problem.calls == 0


def _swarm(**kw) -> PopulationEngine:
    return PopulationEngine(population_size=6, max_population=10, selection=EliteRoulette(),
                            crossover=None, mutation=GaussianMask(sigma=0.3, gene_rate=0.5),
                            succession=ParticleSwarm(), individual_mutation_rate=0.5, **kw)


def test_succession_elite_is_not_moved_nor_re_evaluated():
    eng = _swarm(succession_elite=2)
    eng.setup(Bowl(), np.random.default_rng(4))
    first = eng.ask()
    eng.tell(first, eng.problem.evaluate(first))
    order = np.argsort(-eng.fitness, kind="stable")
    elite = [eng.genomes[k].copy() for k in order[:2]]
    moved = eng.ask()
    assert len(moved) == len(first) - 2
    assert not any(np.array_equal(m, e) for m in moved for e in elite)
    eng.tell(moved, eng.problem.evaluate(moved))
    for e in elite:
        assert any(np.array_equal(g, e) for g in eng.genomes)


@pytest.mark.parametrize("fraction, size, moved", [(0.5, 6, 3), (0.3, 10, 3), (0.01, 6, 1), (1.0, 6, 6)])
def test_succession_fraction_moves_only_the_worst(fraction, size, moved):
    eng = _swarm(succession_fraction=fraction)
    eng.setup(Bowl(), np.random.default_rng(4))
    first = eng.problem.initial(size, np.random.default_rng(5))
    _place(eng, first)
    eng.succession.update(eng.ids, eng.genomes, eng.scores(eng.fitness))
    f = list(eng.fitness)
    stay = sorted(range(size), key=lambda k: -f[k])[:size - moved]  # oracle: the best size - moved, by sort
    kept = [eng.genomes[k].copy() for k in stay]
    batch = eng.ask()
    assert len(batch) == moved
    assert not any(np.array_equal(b, g) for b in batch for g in kept)
    eng.tell(batch, eng.problem.evaluate(batch))
    for g in kept:
        assert any(np.array_equal(x, g) for x in eng.genomes)


def test_succession_fraction_one_is_the_plain_run():
    a = run(Bowl(), _swarm(), np.random.default_rng(7), Budget(steps=6))
    b = run(Bowl(), _swarm(succession_fraction=1.0), np.random.default_rng(7), Budget(steps=6))
    np.testing.assert_array_equal(a.fitness, b.fitness)
    assert a.evaluations == b.evaluations


def test_succession_fraction_with_an_elite_keeps_the_larger_set():
    eng = _swarm(succession_fraction=0.9, succession_elite=3)
    eng.setup(Bowl(), np.random.default_rng(4))
    _place(eng, eng.problem.initial(6, np.random.default_rng(5)))
    eng.succession.update(eng.ids, eng.genomes, eng.scores(eng.fitness))
    assert len(eng.ask()) == 3  # ceil(0.9 x 6) = 6 would move all; the 3 elite stay


def test_checkpoint_after_a_restart_resumes_to_the_uninterrupted_run(tmp_path):
    kw = {"succession_elite": 1, "restart_threshold": 0.5, "restart_patience": 1, "restart_measure": "fitness"}
    full = _swarm(**kw)
    full_res = run(Bowl(), full, np.random.default_rng(7), Budget(steps=12))
    first = _swarm(**kw)
    run(Bowl(), first, np.random.default_rng(7), Budget(steps=5))
    assert 1 <= first.restarts < full.restarts  # the checkpoint falls after a restart, and more follow
    save_state(first.state_dict(), tmp_path / "ck.npz")
    resumed = _swarm(**kw)
    res = run(Bowl(), resumed, np.random.default_rng(99), Budget(steps=12), state=load_state(tmp_path / "ck.npz"))
    assert res.best_fitness == full_res.best_fitness
    np.testing.assert_array_equal(res.fitness, full_res.fitness)
    assert res.evaluations == full_res.evaluations and resumed.restarts == full.restarts
    assert [h["restarts"] for h in res.history] == [h["restarts"] for h in full_res.history]


@pytest.mark.parametrize("field, value", [("restart_threshold", 0.0), ("restart_patience", 0), ("restart_keep", 10),
                                          ("restart_measure", "entropy"), ("succession_elite", -1),
                                          ("succession_fraction", 0.0), ("succession_fraction", 1.5)])
def test_bad_restart_settings_are_one_line_errors_naming_the_field(field, value):
    with pytest.raises(ConfigError) as e:
        PopulationEngineConfig(population_size=10, selection={"_target_": "x"}, **{field: value})
    assert f"engine.{field}" in str(e.value) and "\n" not in str(e.value)


def test_diversity_leaves_out_failed_evaluations():
    eng = _bare(restart_threshold=0.1, restart_measure="fitness")
    _place(eng, [np.array([1.0, 1.0, 1.0]), np.array([0.0, 1.0, 2.0]), np.array([3.0, 0.0, 1.0])])
    f = eng.fitness.copy()
    eng.fitness = np.array([f[0], np.nan, f[2]])
    assert eng.diversity() == pytest.approx((f[0] - (f[0] + f[2]) / 2) / abs(f[0]))
    eng.fitness = np.full(3, np.nan)
    assert eng.diversity() == float("inf")
