"""problem.fitness.tiebreak=ce: each task's fitness is its metric minus tiebreak_weight x the gold cross-entropy,
checked against a per-sample loop of unpadded forwards; bad settings are one-line errors naming the field."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from gfopt.errors import ConfigError
from gfopt.problems.llm_evo.config import FitnessConfig, LlmEvoConfig
from gfopt.problems.llm_evo.text import encode_pair


def _blend_and_ce(model, tokenizer, samples, partial_weight):
    """Oracle, one unpadded forward per sample: blend (1 if every answer token and eos is the argmax, else
    partial_weight x the fraction that are) and the mean NLL per answer token over the samples."""
    blend, nll, count = [], 0.0, 0
    with torch.inference_mode():
        for s in samples:
            ids, start = encode_pair(tokenizer, s.prompt, s.answer)
            logits = model(input_ids=torch.tensor([ids])).logits[0].float()
            logp = torch.log_softmax(logits, -1)
            hits = [int(torch.argmax(logits[j - 1])) == ids[j] for j in range(start, len(ids))]
            blend.append(1.0 if all(hits) else partial_weight * sum(hits) / len(hits))
            nll -= sum(float(logp[j - 1, ids[j]]) for j in range(start, len(ids)))
            count += len(ids) - start
    return float(np.mean(blend)), nll / count


@pytest.mark.parametrize("eps", [0.01, 0.3])
def test_tiebreak_fitness_is_blend_minus_eps_cross_entropy(toy_problem, eps):
    p = copy.copy(toy_problem)
    p.fit_cfg = {**toy_problem.fit_cfg, "tiebreak": "ce", "tiebreak_weight": eps}
    p.tiebreak_weight = eps
    p.cache, p.records = {}, {}
    g = toy_problem.random_merge([0, 1], np.random.default_rng(5))
    p.write(g)
    expected = 0.0
    for t in p.targets:
        assert p.tasks[t].kind == "generation"
        blend, ce = _blend_and_ce(p.model, p.tokenizer, p.tasks[t].splits["valid"][:p.valid_n[t]],
                                  p.fit_cfg["partial_weight"])
        expected += p.weights[t] * (blend - eps * ce)
    assert p.evaluate([g])[0] == pytest.approx(expected, rel=1e-4, abs=1e-6)
    plain = copy.copy(toy_problem)
    plain.cache, plain.records = {}, {}
    assert plain.evaluate([g])[0] > p.evaluate([g])[0]  # the default (tiebreak none) has no CE term


def test_the_problem_reads_the_tiebreak_from_its_fitness_config(toy_dir):
    from gfopt.problems.llm_evo.problem import LlmEvoProblem
    from gfopt.problems.llm_evo.toy import toy_kwargs

    p = LlmEvoProblem(**toy_kwargs(toy_dir, fitness={"samples": 20, "tiebreak": "ce", "tiebreak_weight": 0.05}))
    assert p.tiebreak_weight == 0.05
    assert LlmEvoProblem(**toy_kwargs(toy_dir)).tiebreak_weight == 0.0


@pytest.mark.parametrize("fitness, field", [({"tiebreak": "loss"}, "problem.fitness.tiebreak"),
                                            ({"tiebreak": "ce", "tiebreak_weight": -1.0},
                                             "problem.fitness.tiebreak_weight"),
                                            ({"tiebreak": "ce", "metric": "likelihood"},
                                             "problem.fitness.tiebreak")])
def test_bad_tiebreak_settings_are_one_line_errors(fitness, field):
    with pytest.raises(ConfigError) as e:
        LlmEvoConfig(fitness=FitnessConfig(**fitness))
    assert str(e.value).startswith(field) and "\n" not in str(e.value)
