"""problem.space=coefficients: a genome is one merge weight per expert (per layer optionally), checked against the
closed form sum_k w_k x_k and against the params space's scores of the same adapters."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def coef(toy_problem):
    return toy_problem.view("coefficients")


def test_one_hot_weights_are_the_experts_and_score_like_them(toy_problem, coef):
    k = len(toy_problem.experts)
    assert coef.space.kind == "real/coefficients" and coef.space.size == k
    for e in range(k):
        w = np.eye(k, dtype=np.float32)[e]
        np.testing.assert_array_equal(coef.params_of(w), toy_problem.experts[e])
        assert coef.evaluate([w])[0] == toy_problem.evaluate([toy_problem.experts[e]])[0]


def test_weights_give_the_linear_combination_and_l1_is_subtracted(toy_problem, coef):
    w = np.array([0.7, -0.2, 0.4], dtype=np.float32)
    expected = (w[:, None].astype(np.float64) * toy_problem.experts).sum(axis=0)
    np.testing.assert_allclose(coef.params_of(w), expected, rtol=1e-5, atol=1e-7)
    penalised = toy_problem.view("coefficients", coefficients={"l1": 0.1})
    assert penalised.evaluate([w])[0] == pytest.approx(toy_problem.evaluate([coef.params_of(w)])[0]
                                                       - 0.1 * np.mean(np.abs(w)))


def test_lorahub_cross_entropy_objective_is_weighted_loss_plus_l1(toy_problem, gold_cross_entropy):
    """LoraHub's original objective (lorahub_ce): minus (weighted gold cross-entropy + l1 x mean|w|), each task's
    cross-entropy from an unpadded per-sample oracle on its validation samples."""
    p = toy_problem
    w = np.array([0.5, 0.8, -0.3], dtype=np.float32)
    ce = p.view("coefficients", coefficients={"l1": 0.05}, objective="cross_entropy")
    value = ce.evaluate([w])[0]
    p.write(ce.params_of(w))
    loss = sum(p.weights[t] * gold_cross_entropy(p.model, p.tokenizer, p.tasks[t].splits["valid"][:p.valid_n[t]])
               for t in p.targets)
    assert value == pytest.approx(-(loss + 0.05 * np.mean(np.abs(w))), rel=1e-4)
    assert p.view("coefficients").evaluate([w])[0] == p.evaluate([ce.params_of(w)])[0]  # fitness views unchanged


def test_lorahub_ce_baseline_searches_the_cross_entropy_in_the_coefficients_space(toy_problem):
    from gfopt.problems.llm_evo.baselines import baseline_runs

    p = toy_problem.view()
    p.baselines = ["lorahub", "lorahub_ce"]
    fit, ce = baseline_runs(p, 12)
    assert (fit.name, ce.name) == ("lorahub", "lorahub_ce")
    assert fit.problem.objective == "fitness" and ce.problem.objective == "cross_entropy"
    assert ce.problem.space_name == "coefficients" and ce.problem.coef_cfg["l1"] == p.lorahub_l1


def test_layerwise_weights_apply_per_layer_group(toy_problem):
    lw = toy_problem.view("coefficients", coefficients={"layerwise": True})
    k, g = len(toy_problem.experts), toy_problem.layout.n_groups
    assert lw.space.size == k * g and g > 1
    w = np.random.default_rng(0).uniform(-1, 1, size=(k, g)).astype(np.float32)
    got = lw.params_of(w.reshape(-1))
    for grp in range(g):
        cols = toy_problem.layout.group_of == grp
        np.testing.assert_allclose(got[cols], (w[:, grp, None] * toy_problem.experts[:, cols]).sum(axis=0),
                                   rtol=1e-5, atol=1e-7)


def test_initial_weights_are_one_hot_experts_then_pairs_summing_to_one(coef):
    starts = coef.initial(6, np.random.default_rng(0))
    k = 3
    np.testing.assert_array_equal(np.stack(starts[:k]), np.eye(k))
    for w in starts[k:]:
        assert np.count_nonzero(w) == 2 and w.sum() == pytest.approx(1.0, abs=1e-6)
    assert all(np.all(np.abs(w) <= coef.space.upper) for w in starts)


def test_likelihood_fitness_is_the_weighted_geometric_mean_token_probability(toy_problem, gold_cross_entropy):
    """problem.fitness.metric=likelihood: each task's fitness is exp(-gold cross-entropy), from the unpadded oracle."""
    import copy

    p = copy.copy(toy_problem)
    p.fit_cfg = {**toy_problem.fit_cfg, "metric": "likelihood"}
    p.cache, p.records = {}, {}
    g = toy_problem.random_merge([0, 2], np.random.default_rng(3))
    p.write(g)
    expected = sum(p.weights[t] * np.exp(-gold_cross_entropy(p.model, p.tokenizer,
                                                              p.tasks[t].splits["valid"][:p.valid_n[t]]))
                   for t in p.targets)
    assert p.evaluate([g])[0] == pytest.approx(expected, rel=1e-4)
    assert 0 < expected <= 1
