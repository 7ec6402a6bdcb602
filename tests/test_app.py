"""The Hydra app end to end: outputs, one-line errors, determinism, kill -9 + resume, wheel install."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def gfopt(*args: str, cwd: Path, python: str = sys.executable, env: dict | None = None,
          timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([python, "-m", "gfopt", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "CI": "true", **(env or {})})


def without_timings(obj):
    if isinstance(obj, dict):
        return {k: without_timings(v) for k, v in obj.items() if not k.endswith("_s")}
    if isinstance(obj, list):
        return [without_timings(v) for v in obj]
    return obj


def test_run_writes_result_history_checkpoint_and_returns_objective(tmp_path):
    out = tmp_path / "run"
    p = gfopt("problem=tsp", "engine=ga", "budget.steps=5", f"hydra.run.dir={out}", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    result = json.loads((out / "result.json").read_text())
    assert result["steps"] == 5 and result["stopped_by"] == "steps"
    assert result["objective"] == pytest.approx(result["length"])
    lines = [json.loads(x) for x in (out / "history.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [1, 2, 3, 4, 5]
    assert {"best", "mean", "evaluations", "seconds"} <= set(lines[-1])
    assert (out / "checkpoint.npz").exists() and (out / ".hydra" / "config.yaml").exists()


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("engine.crossover_rate=1.5", "engine.crossover_rate: must be in [0, 1], got 1.5"),
        ("engine.population_size=1", "engine.population_size: must be >= 2"),
        ("engine.selection.elite_fraction=2", "engine.selection.elite_fraction: must be in [0, 1]"),
        ("problem.citiess=3", "problem.citiess: unknown key"),
        ("problem.cities=abc", "problem.cities: Value 'abc' of type 'str' could not be converted to Integer"),
        ("budget.steps=0", "budget.steps: must be positive or null"),
        ("engine.selectio=3", "engine.selectio: unknown key"),
    ],
)
def test_bad_config_gives_one_clear_line(tmp_path, override, expected):
    p = gfopt("problem=tsp", "engine=ga", override, f"hydra.run.dir={tmp_path / 'r'}", cwd=tmp_path)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("gfopt: error: ") and expected in lines[0]
    assert not (tmp_path / "r" / "result.json").exists()


def test_unknown_group_option_lists_the_choices(tmp_path):
    p = gfopt("engine=nope", cwd=tmp_path)
    assert p.returncode == 2
    assert p.stderr.strip() == "gfopt: error: engine/nope: no such config; available: " + ", ".join(
        sorted(x.stem for x in (REPO / "conf" / "engine").glob("*.yaml")))


def test_help_lists_the_config_groups(tmp_path):
    p = gfopt("--help", cwd=tmp_path)
    assert p.returncode == 0
    head = p.stdout.split("== Config ==")[0]
    groups = {ln.split(":")[0].strip(): ln.split(":")[1] for ln in head.split("(group=option) ==")[1].splitlines()
              if ":" in ln}
    for group in ("problem", "engine", "hparams_search"):  # every option the conf/ dir ships, no internal schema
        assert {x.strip() for x in groups[group].split("(")[0].split(",")} == {
            x.stem for x in (REPO / "conf" / group).glob("*.yaml")}
    assert "schema" not in head and "python -m gfopt zoo" in head and "python -m gfopt -m" in head


def test_same_seed_gives_identical_result_json(tmp_path):
    results = []
    for name in ("a", "b"):
        p = gfopt("problem=tsp", "engine=ga", "budget.steps=8", "seed=7", f"hydra.run.dir={tmp_path / name}",
                  cwd=tmp_path)
        assert p.returncode == 0, p.stderr
        results.append(without_timings(json.loads((tmp_path / name / "result.json").read_text())))
    assert results[0] == results[1]


def _toy_args(tmp_path: Path) -> list[str]:
    from gfopt.problems.llm_evo.toy import build_toy

    toy = build_toy(tmp_path / "toy", n_experts=3, seed=0)
    experts = ",".join(str(toy / "experts" / f"e{i}") for i in range(3))
    return ["problem=llm_evo", f"problem.model.base={toy / 'base'}", f"problem.model.experts=[{experts}]",
            f"problem.model.shared_adapter={toy / 'adapters' / 'shared'}",
            f"+problem.tasks.rev.dir={toy / 'tasks' / 'rev'}",
            "problem.target_tasks=[rev]", "problem.fitness.samples=20", "problem.batch_size=8", "problem.threads=1",
            "problem.baselines=[best_expert,random_search,lorahub,model_swarms]", "problem.baseline_budget=8",
            "engine.population_size=4", "engine.max_population=6", "budget.evaluations=60"]


RESUME_CASES = {  # case -> (arguments, the history file to watch, its lines to wait for before the kill)
    "tsp": (["problem=tsp", "problem.cities=30", "problem.delay_s=0.05", "engine=ga", "budget.steps=40"],
            "history.jsonl", 12),
    "dag_topo": (["problem=dag_topo", "problem.data.d=40", "problem.data.k=4", "problem.data.n=80",  # ~67 steps
                  "problem.search.sparse_starts=null", "engine.restarts=9"], "history.jsonl", 10),
    "llm_evo": (_toy_args, "history.jsonl", 2),
    "llm_evo_in_a_baseline": (_toy_args, "baselines/lorahub/history.jsonl", 3),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(RESUME_CASES))
def test_sigkill_mid_run_then_resume_gives_the_uninterrupted_result(case, tmp_path):
    args, watched, lines = RESUME_CASES[case]
    args = (args(tmp_path) if callable(args) else args) + ["seed=3", "checkpoint_min_interval_s=0"]
    env = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    ref = gfopt(*args, f"hydra.run.dir={tmp_path / 'ref'}", cwd=tmp_path, env=env, timeout=600)
    assert ref.returncode == 0, ref.stderr

    run_dir = tmp_path / "killed"
    cmd = [sys.executable, "-m", "gfopt", *args, f"hydra.run.dir={run_dir}"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env={**os.environ, "CI": "true", **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline:
        if (run_dir / watched).exists() and len((run_dir / watched).read_text().splitlines()) >= lines:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run_dir / "result.json").exists(), "the run finished before it was killed"

    resumed = gfopt(*args, f"hydra.run.dir={run_dir}", cwd=tmp_path, env=env, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    a = without_timings(json.loads((tmp_path / "ref" / "result.json").read_text()))
    b = without_timings(json.loads((run_dir / "result.json").read_text()))
    assert a == b
    steps = [json.loads(x)["step"] for x in (run_dir / "history.jsonl").read_text().splitlines()]
    assert steps == list(range(1, len(steps) + 1)) and len(steps) == a["steps"]


def test_resume_refuses_a_checkpoint_from_another_config(tmp_path):
    run_dir = tmp_path / "r"
    assert gfopt("problem=tsp", "engine=ga", "budget.steps=3", f"hydra.run.dir={run_dir}", cwd=tmp_path).returncode == 0
    p = gfopt("problem=tsp", "engine=ga", "budget.steps=3", "seed=9", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert p.returncode == 2 and "different configuration" in p.stderr and len(p.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_non_editable_wheel_ships_the_configs_and_runs(tmp_path):
    dist = tmp_path / "dist"
    b = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(dist),
                        str(REPO)], capture_output=True, text=True, timeout=600)
    assert b.returncode == 0, b.stderr
    wheel = next(dist.glob("gfopt-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = str(venv / "bin" / "python")
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True, timeout=300)
    # dependencies come from the test environment's site-packages (a path entry: its .pth files, such as
    # the editable finder of this checkout, are not processed), so only the wheel provides gfopt
    site = next(p for p in sys.path if p.endswith("site-packages"))
    venv_site = next((venv / "lib").glob("python*/site-packages"))
    (venv_site / "deps.pth").write_text(site + "\n")
    where = subprocess.run([py, "-c", "import gfopt; print(gfopt.__file__)"], capture_output=True, text=True,
                           cwd=tmp_path, timeout=60)
    assert str(venv_site) in where.stdout, where.stdout + where.stderr
    p = gfopt("problem=tsp", "budget.steps=3", f"hydra.run.dir={tmp_path / 'out'}", cwd=tmp_path, python=py)
    assert p.returncode == 0, p.stderr
    assert json.loads((tmp_path / "out" / "result.json").read_text())["problem"] == "tsp"


def test_evaluation_budget_and_progress_flag_end_a_run_between_steps(tmp_path):
    out = tmp_path / "r"
    p = gfopt("problem=tsp", "engine=ga", "budget.evaluations=30", "progress=false", f"hydra.run.dir={out}",
              cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    result = json.loads((out / "result.json").read_text())
    assert result["stopped_by"] == "evaluations" and result["evaluations"] >= 30


def test_unparsable_sweep_grammar_is_one_line(tmp_path):
    p = gfopt("-m", "engine=ga", "engine.crossover_rate=interval(1)", cwd=tmp_path)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gfopt: error: engine.crossover_rate:"), p.stderr


def test_a_problem_picks_its_engine_and_the_command_line_still_wins():
    from hydra import compose, initialize_config_dir

    from gfopt.config import register_configs

    register_configs()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        default = compose(config_name="config")
        plus = compose(config_name="config", overrides=["problem=llm_evo"])
        plain = compose(config_name="config", overrides=["problem=llm_evo", "engine=genome"])
    assert default.problem.name == "dag_topo" and default.engine._target_.endswith("LocalSearchEngine")
    assert plus.engine.max_population is not None and plus.engine.succession is not None  # GENOME+
    assert plain.engine.max_population is None and plain.engine.succession is None  # GENOME
