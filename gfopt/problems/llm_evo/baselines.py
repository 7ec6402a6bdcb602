"""Baselines reported beside GENOME/GENOME+, each a run of its own (own budget, history and checkpoint, made by the
app after the main run) on a view of the same loaded problem, chosen on validation with at most the run's evaluation
budget: best single expert, shared starting adapter, uniform merge, random search over merge weights, LoraHub
(nevergrad NGOpt over one coefficient per expert, L1-regularised: the coefficients space; `lorahub` maximizes the
fitness, `lorahub_ce` minimizes LoraHub's original objective, cross-entropy of the gold answers + 0.05 mean |w|) and
Model Swarms (the particle-swarm step alone)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gfopt.core.ask_tell import NevergradEngine
from gfopt.core.engine import Budget, Comparison
from gfopt.core.evolution import PopulationEngine
from gfopt.core.operators.selection import EliteRoulette
from gfopt.core.operators.succession import ParticleSwarm
from gfopt.core.sampling_engines import FixedGenomes, RandomSearch

if TYPE_CHECKING:
    from gfopt.problems.llm_evo.problem import LlmEvoProblem


def baseline_runs(p: LlmEvoProblem, budget: int) -> list[Comparison]:
    """The runs of `p.baselines`, in that order (a baseline that does not apply, `shared` without one, is left out)."""
    k = len(p.experts)
    params = p.view("params")
    runs = {
        "best_expert": lambda: Comparison("best_expert", params, FixedGenomes(list(p.experts)), Budget()),
        "shared": lambda: (None if p.shared is None else
                           Comparison("shared", params, FixedGenomes([p.shared]), Budget())),
        "uniform": lambda: Comparison("uniform", params, FixedGenomes([p.experts.mean(axis=0)]), Budget()),
        # Dirichlet(1) weights over all experts (per layer when init.layerwise), linear merge
        "random_search": lambda: Comparison(
            "random_search",
            p.view("coefficients", coefficients={"init": "dirichlet", "layerwise": p.init_cfg["layerwise"],
                                                 "l1": 0.0, "bound": 1.0}),
            RandomSearch(batch=32, total=budget), Budget(evaluations=budget)),
        # LoraHub: NGOpt over w in [-bound, bound]^K from 0, minimizing -fitness + l1 * mean|w|
        "lorahub": lambda: Comparison(
            "lorahub",
            p.view("coefficients", coefficients={"layerwise": False, "bound": p.lorahub_bound, "l1": p.lorahub_l1}),
            NevergradEngine("NGOpt", budget=budget, x0="zeros"), Budget(evaluations=budget)),
        # LoraHub's own objective: the same search minimizing the gold answers' cross-entropy + l1 * mean|w|
        "lorahub_ce": lambda: Comparison(
            "lorahub_ce",
            p.view("coefficients", coefficients={"layerwise": False, "bound": p.lorahub_bound, "l1": p.lorahub_l1},
                   objective="cross_entropy"),
            NevergradEngine("NGOpt", budget=budget, x0="zeros"), Budget(evaluations=budget)),
        # Model Swarms: the particle-swarm step (GENOME+ defaults) on the K experts
        "model_swarms": lambda: Comparison(
            "model_swarms", p.view("params", init={"mode": "experts"}),
            PopulationEngine(population_size=k, selection=EliteRoulette(), succession=ParticleSwarm(),
                             max_population=k),
            Budget(evaluations=max(budget, k))),
    }
    out = [runs[name]() for name in p.baselines]
    return [c for c in out if c is not None]
