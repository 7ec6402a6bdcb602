"""The progress bar has a total (hence an ETA) whenever the budget or the engine's own cap gives one."""

from __future__ import annotations

import re

import numpy as np
import pytest

from gfopt.app import _total_steps
from gfopt.core.callbacks import ProgressBar
from gfopt.core.engine import Budget, run
from gfopt.core.evolution import PopulationEngine
from gfopt.core.operators.permutation import OrderCrossover, SwapMutation
from gfopt.core.operators.selection import ElitistTournament
from gfopt.problems.tsp import TspProblem


def ga(generations=None):
    return PopulationEngine(population_size=8, selection=ElitistTournament(), crossover=OrderCrossover(),
                            mutation=SwapMutation(), generations=generations)


def final_bar(capsys) -> str:
    return capsys.readouterr().err.split("\r")[-1]


@pytest.mark.parametrize(("generations", "budget", "total"), [(3, Budget(), 4), (None, Budget(steps=5), 5),
                                                               (10, Budget(steps=5), 5)])
def test_steps_total_from_the_budget_or_the_generation_cap(capsys, generations, budget, total):
    engine = ga(generations)
    bar = ProgressBar(total=_total_steps(budget, engine), desc="tsp", enabled=True, budget=budget)
    result = run(TspProblem(cities=8), engine, np.random.default_rng(0), budget, [bar])
    assert result.steps == total
    line = final_bar(capsys)
    assert f"{total}/{total} [" in line and re.search(r"\[\d\d:\d\d<\d\d:\d\d", line), line  # elapsed<remaining


def test_an_evaluation_budget_makes_a_bar_over_evaluations(capsys):
    budget = Budget(evaluations=40)
    bar = ProgressBar(total=_total_steps(budget, ga()), desc="tsp", enabled=True, budget=budget)
    result = run(TspProblem(cities=8), ga(), np.random.default_rng(0), budget, [bar])
    line = final_bar(capsys)
    assert result.evaluations >= 40 and "40/40 [" in line and "eval" in line, line


def test_no_limit_no_total(capsys):
    bar = ProgressBar(total=None, desc="tsp", enabled=True, budget=Budget())
    run(TspProblem(cities=8), ga(2), np.random.default_rng(0), Budget(), [bar])
    assert "/" not in final_bar(capsys).split("[")[0]
