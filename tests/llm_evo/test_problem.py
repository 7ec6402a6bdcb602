"""The problem end to end on the toy fixture: init, saved adapters, determinism, outputs."""

import json
from itertools import combinations

import numpy as np
import pytest
import torch

from gfopt.core.callbacks import History
from gfopt.core.engine import Budget, run
from gfopt.core.evolution import PopulationEngine
from gfopt.core.operators.real import GaussianMask
from gfopt.core.operators.selection import EliteRoulette
from gfopt.core.operators.succession import ParticleSwarm
from gfopt.problems.llm_evo.models import load_model
from gfopt.problems.llm_evo.operators import LoraMerge
from gfopt.problems.llm_evo.problem import genome_key
from gfopt.problems.llm_evo.scoring import fitness_of, prepare, score


def _engine():
    cross = LoraMerge("ties", layerwise=True, concentration=20.0)
    return PopulationEngine(4, EliteRoulette(), cross, GaussianMask(0.1, 0.05), ParticleSwarm(),
                            individual_mutation_rate=0.3, max_population=6, generations=3)


def test_initial_population_merges_every_expert_pair(toy_problem):
    p = toy_problem
    pop = p.initial(3, np.random.default_rng(0))
    seen = set()
    for child in pop:
        for a, b in combinations(range(3), 2):
            d = p.experts[a] - p.experts[b]
            w = float(np.dot(child - p.experts[b], d) / np.dot(d, d))
            if 0 <= w <= 1 and np.allclose(child, w * p.experts[a] + (1 - w) * p.experts[b], atol=1e-5):
                seen.add((a, b))
    assert seen == {(0, 1), (0, 2), (1, 2)}


def test_saved_best_adapter_reloads_and_reproduces_its_validation_score(toy_dir, toy_problem, tmp_path):
    p = toy_problem
    g = p.initial(1, np.random.default_rng(3))[0]
    recorded = p.evaluate([g])[0]
    p.save(g, tmp_path / "best")
    tok, fresh = load_model(toy_dir / "base", tmp_path / "best_adapter", torch.device("cpu"), torch.float32)
    prep = prepare(tok, p.tasks["rev"].splits["valid"][:20], "generation", torch.device("cpu"), 5)
    exact, partial = score(fresh, prep)
    assert fitness_of(exact, partial, p.fit_cfg["metric"], p.fit_cfg["partial_weight"]) == pytest.approx(recorded)
    assert p.records[genome_key(g)]["rev"]["exact"] == pytest.approx(exact.mean())


def test_same_seed_same_run(toy_problem):
    p = toy_problem
    results = []
    for _ in range(2):
        p.cache.clear()
        r = run(p, _engine(), np.random.default_rng(5), Budget())
        results.append(r)
    a, b = results
    assert a.evaluations == b.evaluations and a.best_fitness == b.best_fitness
    np.testing.assert_array_equal(a.best, b.best)
    for x, y in zip(a.population, b.population, strict=True):
        np.testing.assert_array_equal(x, y)


def test_cache_is_by_content(toy_problem):
    p = toy_problem
    g = p.experts[0].copy()
    before = p.n_forward
    p.evaluate([g])
    p.evaluate([g.copy(), g.copy()])
    assert p.n_forward - before in (0, 20)  # scored at most once


def test_finalize_writes_every_output(toy_dir, tmp_path):
    from gfopt.problems.llm_evo.problem import LlmEvoProblem
    from gfopt.problems.llm_evo.toy import toy_kwargs

    p = LlmEvoProblem(**toy_kwargs(toy_dir, baselines=["best_expert", "shared", "uniform", "random_search",
                                                        "lorahub", "model_swarms"], baseline_budget=8))
    r = run(p, _engine(), np.random.default_rng(0), Budget(), [History(tmp_path / "history.jsonl")])
    p.save(r.best, tmp_path / "best")
    runs = p.comparisons(r)
    compared = {c.name: run(c.problem, c.engine, np.random.default_rng(i), c.budget) for i, c in enumerate(runs)}
    # each baseline is a run of its own, within the budget (a generation is never cut: the swarm may end above it)
    assert compared["random_search"].evaluations == compared["lorahub"].evaluations == 8
    assert compared["best_expert"].evaluations == len(p.experts) and 8 <= compared["model_swarms"].evaluations <= 14
    out = p.finalize(r, tmp_path, compared)
    json.dumps(out)
    assert set(out["test"]["baselines"]) == {"best_expert", "shared", "uniform", "random_search", "lorahub",
                                             "model_swarms"}
    for entry in [out["test"]["best"], out["test"]["ensemble"], *out["test"]["baselines"].values()]:
        assert set(entry) == {"rev", "inc"} and all(0 <= v <= 1 for v in entry.values())
    assert out["zero_shot"] == ["inc"] and out["chosen"] in ("best", "ensemble")
    # the uniform merge's score is the element-wise mean of the experts' adapters, scored independently
    assert out["valid_fitness"]["baselines"]["uniform"] == pytest.approx(p.evaluate([p.experts.mean(0)])[0])
    assert (tmp_path / "fitness.png").stat().st_size > 0
    assert (tmp_path / "best_adapter" / "adapter_config.json").exists()


def test_ensemble_members_are_distinct_and_ranked_by_validation_fitness():
    from gfopt.problems.llm_evo.report import top_k_distinct

    a, b, c = (np.full(3, v, np.float32) for v in (1.0, 2.0, 3.0))
    members = top_k_distinct([a, b, b.copy(), c], np.array([0.1, 0.9, 0.9, 0.5]), 3)
    assert [float(m[0]) for m in members] == [2.0, 3.0, 1.0]


def test_named_target_tasks_test_only_those_and_the_zero_shot_list(toy_dir, monkeypatch):
    import gfopt.problems.llm_evo.zoo as zoo
    from gfopt.errors import InputError
    from gfopt.problems.llm_evo.problem import LlmEvoProblem

    monkeypatch.setattr(zoo, "ensure_zoo", lambda *a, **k: toy_dir)  # the toy dir has a zoo-style manifest
    kw = dict(fitness={"samples": 20}, batch_size=8, baselines=[], threads=1)
    assert sorted(LlmEvoProblem(**kw).report_tasks()) == ["inc", "rev"]  # zoo default: every held-out task
    named = LlmEvoProblem(target_tasks=["inc"], **kw)
    assert named.report_tasks() == ["inc"] and list(named.tasks) == ["inc"]
    assert LlmEvoProblem(target_tasks=["inc"], zero_shot_tasks=["rev"], **kw).report_tasks() == ["inc", "rev"]
    with pytest.raises(InputError, match="problem.zero_shot_tasks"):
        LlmEvoProblem(target_tasks=["inc"], zero_shot_tasks=["nope"], **kw)
