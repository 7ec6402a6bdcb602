"""End-of-sweep files: best and baseline from the trials (checked by brute force), the Pareto front for several
objectives, plots; and the plugin's task wrapper that turns a job's sys.exit into a failed trial."""

from __future__ import annotations

import sys

import optuna
import pytest
import yaml
from optuna.distributions import CategoricalDistribution, FloatDistribution

from gfopt.sweep.loop import OUTCOME
from gfopt.sweep.report import summary, write_results
from hydra_plugins.gfopt_optuna_sweeper.sweeper import TrialTask

optuna.logging.set_verbosity(optuna.logging.WARNING)
DISTS = {"x": FloatDistribution(-1, 1), "k": CategoricalDistribution(["a", "b"])}


def filled(directions: list[str], points: list[tuple[float, str]]) -> optuna.Study:
    study = optuna.create_study(directions=directions)
    for i, (x, k) in enumerate(points):
        attrs = {OUTCOME: "baseline"} if i == 0 else {}
        t = optuna.trial.create_trial(params={"x": x, "k": k}, distributions=DISTS, user_attrs=attrs,
                                      values=[(x - 0.3) ** 2, abs(x + 0.5) + (k == "b")][:len(directions)])
        study.add_trial(t)
    return study


POINTS = [(0.9, "a"), (0.25, "b"), (-0.4, "a"), (0.35, "a"), (-0.9, "b"), (0.0, "a")]


def test_best_and_baseline_match_brute_force(tmp_path) -> None:
    study = filled(["minimize"], POINTS)
    data = summary(study)
    values = [(x - 0.3) ** 2 for x, _ in POINTS]
    best = min(range(len(POINTS)), key=values.__getitem__)
    assert data["best_trial"] == best and data["best_value"] == pytest.approx(values[best])
    assert data["best_params"] == {"x": POINTS[best][0], "k": POINTS[best][1]}
    assert data["baseline"]["value"] == pytest.approx(values[0])
    assert data["baseline"]["improvement"] == pytest.approx(values[0] - values[best])  # > 0: better than baseline
    path = write_results(study, tmp_path, plots=False)  # plots: the next test and the end-to-end CLI test
    assert yaml.safe_load(path.read_text())["best_value"] == pytest.approx(values[best])


def test_several_objectives_give_the_pareto_front(tmp_path) -> None:
    study = filled(["minimize", "minimize"], POINTS)
    vals = [((x - 0.3) ** 2, abs(x + 0.5) + (k == "b")) for x, k in POINTS]
    front = {i for i, v in enumerate(vals)
             if not any(all(w[j] <= v[j] for j in range(2)) and w != v for w in vals)}
    assert {s["trial"] for s in summary(study)["solutions"]} == front
    write_results(study, tmp_path)
    for png in ("optimization_history_0.png", "optimization_history_1.png", "param_importances_0.png"):
        assert (tmp_path / png).stat().st_size > 1000


def test_no_complete_trial_still_writes_counts(tmp_path) -> None:
    study = optuna.create_study()
    study.tell(study.ask(), state=optuna.trial.TrialState.FAIL)
    data = yaml.safe_load(write_results(study, tmp_path).read_text())
    assert data["trials"] == {"fail": 1} and "best_value" not in data


def test_a_job_that_exits_fails_its_trial_only() -> None:
    def task(cfg):
        print("gfopt: error: engine.max_population: must be >= population_size", file=sys.stderr)
        raise SystemExit(2)

    with pytest.raises(RuntimeError, match=r"exited with status 2: gfopt: error: engine\.max_population: must be"):
        TrialTask(task)(None)
    assert TrialTask(lambda cfg: 1.5)(None) == 1.5
