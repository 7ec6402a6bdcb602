"""Baselines reported beside GENOME/GENOME+, each chosen on validation with (at most) the run's evaluation budget:
best single expert, shared starting adapter, uniform merge, random search over merge weights, LoraHub (nevergrad
NGOpt over one coefficient per expert, L1-regularised) and Model Swarms (the particle-swarm step alone)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from gfopt.core.engine import Budget, run
from gfopt.core.evolution import PopulationEngine
from gfopt.core.operators.selection import EliteRoulette
from gfopt.core.operators.succession import ParticleSwarm
from gfopt.core.problem import Problem
from gfopt.problems.llm_evo.merge import merge

if TYPE_CHECKING:
    from gfopt.problems.llm_evo.problem import LlmEvoProblem


def best_expert(p: LlmEvoProblem, budget: int, rng: np.random.Generator) -> np.ndarray:
    """The expert with the highest validation fitness."""
    return p.experts[int(np.argmax(p.evaluate(list(p.experts))))].copy()


def shared(p: LlmEvoProblem, budget: int, rng: np.random.Generator) -> np.ndarray | None:
    """The shared starting adapter the experts were fine-tuned from (None when there is none)."""
    return None if p.shared is None else p.shared.copy()


def uniform(p: LlmEvoProblem, budget: int, rng: np.random.Generator) -> np.ndarray:
    """The element-wise mean of all experts."""
    return p.experts.mean(axis=0)


def random_search(p: LlmEvoProblem, budget: int, rng: np.random.Generator, chunk: int = 32) -> np.ndarray:
    """`budget` random merges of all experts (Dirichlet(1) weights, per layer when init.layerwise); best on valid."""
    k = len(p.experts)
    best, best_f, done = None, -np.inf, 0
    while done < budget:
        cands = [p.random_merge(range(k), rng, "linear", p.init_cfg["layerwise"])
                 for _ in range(min(chunk, budget - done))]
        fit = p.evaluate(cands)
        done += len(cands)
        if fit.max() > best_f:
            best, best_f = cands[int(np.argmax(fit))], float(fit.max())
    return best


def lorahub(p: LlmEvoProblem, budget: int, rng: np.random.Generator) -> np.ndarray:
    """LoraHub: NGOpt over w in [-bound, bound]^K minimizing -fitness + l1 * mean|w|; child = sum_k w_k x_k."""
    import nevergrad as ng

    k = len(p.experts)
    param = ng.p.Array(shape=(k,), lower=-p.lorahub_bound, upper=p.lorahub_bound)
    param.random_state = np.random.RandomState(int(rng.integers(2**31 - 1)))
    opt = ng.optimizers.NGOpt(parametrization=param, budget=max(budget - 1, 1))
    with warnings.catch_warnings():  # NGOpt's inner COBYLA complains about the small budgets it is given
        warnings.filterwarnings("ignore", message="COBYLA: Invalid", category=UserWarning)
        for _ in range(max(budget - 1, 1)):
            cand = opt.ask()
            w = np.asarray(cand.value, dtype=np.float32)
            f = p.evaluate([merge(p.experts, w, "linear")])[0]
            opt.tell(cand, -f + p.lorahub_l1 * float(np.mean(np.abs(w))))
        w = np.asarray(opt.provide_recommendation().value, dtype=np.float32)
    return merge(p.experts, w, "linear")


class _StartFrom(Problem):
    """The same objective, started from given genomes (Model Swarms starts from the experts)."""

    sense = "max"

    def __init__(self, problem: Problem, start: Sequence[np.ndarray]) -> None:
        self.problem, self.start = problem, list(start)

    def initial(self, n: int, rng: np.random.Generator) -> list[np.ndarray]:
        return [s.copy() for s in self.start[:n]]

    def evaluate(self, genomes: Sequence[np.ndarray]) -> np.ndarray:
        return self.problem.evaluate(genomes)


def model_swarms(p: LlmEvoProblem, budget: int, rng: np.random.Generator) -> np.ndarray:
    """Succession alone: the particle-swarm step (GENOME+ defaults) on the K experts until the budget is spent."""
    k = len(p.experts)
    engine = PopulationEngine(population_size=k, selection=EliteRoulette(), succession=ParticleSwarm(),
                              max_population=k)
    res = run(_StartFrom(p, list(p.experts)), engine, rng, Budget(evaluations=max(budget, k)))
    return np.asarray(res.best, dtype=np.float32)


BASELINE_FUNCS: dict[str, Any] = {
    "best_expert": best_expert,
    "shared": shared,
    "uniform": uniform,
    "random_search": random_search,
    "lorahub": lorahub,
    "model_swarms": model_swarms,
}
