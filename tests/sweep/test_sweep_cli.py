"""`python -m gfopt -m` with the gfopt_optuna sweeper: one-line errors, resumed sweeps reach the total, result
files and plots, presets compose and their grammar parses, and the basic sweeper's grid path still works."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from gfopt.__main__ import conf_dir
from gfopt.sweep.grammar import parse_search_space

SWEEP = ["hydra/sweeper=gfopt_optuna", "problem=tsp", "engine=ga", "budget.steps=3", "problem.cities=8"]


def gfopt(*args: str, cwd: Path, timeout: float = 300,
          env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "CI": "true", "OMP_NUM_THREADS": "1", "HYDRA_FULL_ERROR": "", **(env or {})}
    return subprocess.run([sys.executable, "-m", "gfopt", "-m", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


def error_line(proc: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("gfopt: error:")]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


@pytest.mark.parametrize("args, words", [
    (["+hydra.sweeper.params.engine.crossover_rate='interval(1)'"],
     ["hydra.sweeper.params.engine.crossover_rate", "interval(1)", "end"]),
    (["hydra.sweeper.sampler.name=tpee", "engine.crossover_rate=interval(0,1)"],
     ["hydra.sweeper.sampler.name", "tpee", "tpe, random, cmaes, gp, nsgaii, qmc"]),
    (["hydra.sweeper.storage=postgresql://gfopt@127.0.0.1:1/nowhere", "engine.crossover_rate=interval(0,1)"],
     ["hydra.sweeper.storage", "127.0.0.1:1", "refused"]),
    (["+hydra.sweeper.params.engine.population_size='tag(lg, int(interval(2, 9)))'"],
     ["hydra.sweeper.params.engine.population_size", "unknown tag"]),
    (["hydra.sweeper.heartbeat_interval=10", "hydra.sweeper.grace_period=10", "engine.crossover_rate=interval(0,1)"],
     ["hydra.sweeper.grace_period", "must exceed heartbeat_interval=10"]),
    (["hydra.sweeper.pruner=medain", "engine.crossover_rate=interval(0,1)"],
     ["hydra.sweeper.pruner", "unknown pruner 'medain'", "none, median, hyperband"]),
    (["optimized_metric=[objective,wall_time_s]", "engine.crossover_rate=interval(0,1)"],
     ["optimized_metric", "2 field(s)", "direction has 1"]),
    (["hydra.sweeper.sampler.name=grid", "engine.crossover_rate=interval(0,1)"],
     ["hydra.sweeper.params.engine.crossover_rate", "finite values"]),
    (["hydra/launcher=joblib", "hydra.sweeper.pruner=median", "engine.crossover_rate=interval(0,1)"],
     ["hydra.sweeper.pruner", "JoblibLauncher", "set hydra.sweeper.storage"]),
])
def test_bad_sweep_settings_fail_in_one_line(tmp_path: Path, args: list[str], words: list[str]) -> None:
    proc = gfopt(*SWEEP, *args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    line = error_line(proc)
    assert all(w in line for w in words), line
    assert not list(tmp_path.rglob("result.json"))  # nothing ran


@pytest.mark.slow
def test_sweep_writes_results_and_a_rerun_continues_to_the_total(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    common = [*SWEEP, f"hydra.sweeper.storage={url}", "hydra.sweeper.study_name=s", "hydra.sweeper.sampler.seed=0",
              "engine.crossover_rate=interval(0.1, 1.0)", "engine.population_size=int(interval(4, 24))"]
    first = gfopt(*common, "hydra.sweeper.n_trials=3", f"hydra.sweep.dir={tmp_path}/a", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    again = gfopt(*common, "hydra.sweeper.n_trials=5", f"hydra.sweep.dir={tmp_path}/b", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]

    study = optuna.load_study(study_name="s", storage=url)
    trials = study.get_trials()
    assert [t.state.name for t in trials] == ["COMPLETE"] * 5
    # trial 0 is the configuration's own values; job dirs are named by trial number, first 3 then 2 more
    assert trials[0].params == {"engine.crossover_rate": 0.8, "engine.population_size": 20}
    assert sorted(p.name for p in (tmp_path / "a" / "s").iterdir() if p.is_dir()) == ["0", "1", "2"]
    assert sorted(p.name for p in (tmp_path / "b" / "s").iterdir() if p.is_dir()) == ["3", "4"]
    for t in trials:  # the value the sweeper recorded is the job's own objective, read back independently
        job = yaml.safe_load(Path(t.user_attrs["job_dir"], "result.json").read_text())
        assert job["objective"] == pytest.approx(t.value) and job["sense"] == "min"
        assert f"engine.population_size={t.params['engine.population_size']}" in t.user_attrs["overrides"]

    results = yaml.safe_load((tmp_path / "b" / "optimization_results.yaml").read_text())
    best = min(trials, key=lambda t: t.value)
    assert results["best_value"] == pytest.approx(best.value) and results["best_params"] == best.params
    assert results["baseline"]["value"] == pytest.approx(trials[0].value)
    assert results["trials"] == {"complete": 5}
    for png in ("optimization_history.png", "param_importances.png"):
        assert (tmp_path / "b" / png).stat().st_size > 1000


@pytest.mark.slow
def test_grid_path_with_the_basic_sweeper_still_works(tmp_path: Path) -> None:
    proc = gfopt("problem=tsp", "engine=ga", "budget.steps=2", "problem.cities=5,6", f"hydra.sweep.dir={tmp_path}/g",
                 cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    cities = sorted(len(yaml.safe_load(p.read_text())["tour"]) for p in (tmp_path / "g").rglob("result.json"))
    assert cities == [5, 6]
    proc = gfopt("problem=dag_topo", "problem.data.d=5,6", "problem.data.n=100", "engine.restarts=0",
                 f"hydra.sweep.dir={tmp_path}/d", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(yaml.safe_load(p.read_text())["d"] for p in (tmp_path / "d").rglob("result.json")) == [5, 6]


@pytest.mark.parametrize("preset, direction, problem", [("dag_topo", "minimize", "dag_topo"),
                                                         ("llm_evo", "maximize", "llm_evo")])
def test_presets_compose_and_their_grammar_parses(preset: str, direction: str, problem: str) -> None:
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"hparams_search={preset}"], return_hydra_config=True)
    assert cfg.problem.name == problem
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("GfoptOptunaSweeper") and sweeper.direction == direction
    space = parse_search_space(dict(sweeper.params))
    assert len(space.dists) >= 5 and not space.fixed
    for key in space.dists:  # every swept key exists in the composed config (a typo would fail every trial)
        parent, _, leaf = key.rpartition(".")
        node = OmegaConf.select(cfg, parent) if parent else cfg
        assert node is not None and leaf in node, key


@pytest.mark.slow
def test_another_sweep_pointed_at_a_study_is_refused_unless_extending(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    common = [*SWEEP, f"hydra.sweeper.storage={url}", "hydra.sweeper.study_name=s", "hydra.sweeper.plots=false",
              "engine.crossover_rate=interval(0.1, 1.0)", f"hydra.sweep.dir={tmp_path}/a"]
    first = gfopt(*common, "hydra.sweeper.n_trials=1", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    other = gfopt(*common, "hydra.sweeper.n_trials=2", "engine.individual_mutation_rate=0.4", cwd=tmp_path)
    assert other.returncode == 2
    line = error_line(other)
    assert "study 's' was made by another sweep" in line and "here only ['engine.individual_mutation_rate=0.4']" in line
    assert "hydra.sweeper.extend_study=true" in line
    more = gfopt(*common, "hydra.sweeper.n_trials=2", "engine.individual_mutation_rate=0.4",
                 "hydra.sweeper.extend_study=true", cwd=tmp_path)
    assert more.returncode == 0, more.stderr[-3000:]
    assert [t.state.name for t in optuna.load_study(study_name="s", storage=url).trials] == ["COMPLETE"] * 2


@pytest.mark.slow
def test_pruned_trials_stop_early_keep_their_files_and_report_their_steps(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/p.db"
    proc = gfopt("hydra/sweeper=gfopt_optuna", "problem=tsp", "engine=ga", "problem.cities=12", "budget.steps=15",
                 "engine.crossover_rate=interval(0.1, 1.0)", "engine.population_size=int(interval(4, 24))",
                 f"hydra.sweeper.storage={url}", "hydra.sweeper.study_name=p", "hydra.sweeper.n_trials=8",
                 "hydra.sweeper.sampler.seed=0", "hydra.sweeper.pruner=median", "hydra.sweeper.plots=false",
                 "+hydra.sweeper.pruner_options={n_startup_trials: 2}", f"hydra.sweep.dir={tmp_path}/sw", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    trials = optuna.load_study(study_name="p", storage=url).trials
    pruned = [t for t in trials if t.state.name == "PRUNED"]
    assert len(trials) == 8 and pruned and all(t.state.name in ("COMPLETE", "PRUNED") for t in trials)
    for t in trials:  # the values reported from inside the job are the job's own best at steps 1, 2, 4, 8
        job = tmp_path / "sw" / "p" / str(t.number)
        history = [json.loads(line) for line in (job / "history.jsonl").read_text().splitlines()]
        assert t.intermediate_values == {h["step"]: pytest.approx(h["best"]) for h in history
                                         if h["step"] in (1, 2, 4, 8)}
        if t.state.name == "PRUNED":  # stopped at the step it was pruned at, files kept, no result
            assert history[-1]["step"] in (1, 2, 4, 8) and (job / "checkpoint.npz").exists()
            assert not (job / "result.json").exists()
            assert t.value == pytest.approx(history[-1]["best"])
        else:
            assert len(history) == 15 and (job / "result.json").exists()


@pytest.mark.slow
def test_several_objectives_from_result_fields_give_the_pareto_front(tmp_path: Path) -> None:
    proc = gfopt(*SWEEP, "engine.crossover_rate=interval(0.1, 1.0)", "engine.population_size=int(interval(4, 24))",
                 "optimized_metric=[objective,evaluations]", "hydra.sweeper.direction=[minimize,minimize]",
                 "hydra.sweeper.n_trials=6", "hydra.sweeper.study_name=mo", "hydra.sweeper.plots=false",
                 f"hydra.sweeper.storage=sqlite:///{tmp_path}/m.db", f"hydra.sweep.dir={tmp_path}/mo", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    trials = optuna.load_study(study_name="mo", storage=f"sqlite:///{tmp_path}/m.db").trials
    points = {}
    for t in trials:
        result = json.loads(Path(t.user_attrs["job_dir"], "result.json").read_text())
        assert t.values == [pytest.approx(result["objective"]), result["evaluations"]]
        points[t.number] = t.values
    front = {n for n, v in points.items()  # brute force: not dominated by any other point
             if not any(all(a <= b for a, b in zip(w, v, strict=True)) and w != v for w in points.values())}
    results = yaml.safe_load((tmp_path / "mo" / "optimization_results.yaml").read_text())
    assert {s["trial"] for s in results["solutions"]} == front


@pytest.mark.slow
def test_a_grid_sweep_with_the_default_in_its_space_runs_every_point_once(tmp_path: Path) -> None:
    proc = gfopt(*SWEEP, "hydra.sweeper.sampler.name=grid", "engine.crossover_rate=choice(0.2, 0.8)",
                 "engine.population_size=range(10, 30, 10)", "hydra.sweeper.storage=sqlite:///g.db",
                 "hydra.sweeper.study_name=g", "hydra.sweeper.plots=false", f"hydra.sweep.dir={tmp_path}/g",
                 cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    trials = optuna.load_study(study_name="g", storage=f"sqlite:///{tmp_path}/g.db").trials
    points = sorted((t.params["engine.crossover_rate"], t.params["engine.population_size"]) for t in trials)
    assert points == [(0.2, 10), (0.2, 20), (0.8, 10), (0.8, 20)]  # n_trials=20 capped at the 4 points, (0.8, 20)
    assert all(t.state.name == "COMPLETE" for t in trials)      # the default included, each once
