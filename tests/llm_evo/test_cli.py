"""`python -m gfopt problem=llm_evo engine=genome_plus` end to end on the tiny zoo (built on first use)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest


@pytest.mark.slow
def test_cli_end_to_end_on_tiny_zoo(tmp_path):
    env = dict(os.environ, GFOPT_HOME=str(tmp_path / "home"), CI="true", OMP_NUM_THREADS="1")
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "gfopt", "problem=llm_evo", "engine=genome_plus", "problem.zoo.preset=tiny",
           "engine.generations=2", "engine.population_size=6", "engine.max_population=10",
           "problem.baseline_budget=6", "problem.threads=1", f"hydra.run.dir={run_dir}"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads((run_dir / "result.json").read_text())
    tasks = set(res["targets"]) | set(res["zero_shot"])
    assert len(res["targets"]) >= 3
    for entry in [res["test"]["best"], res["test"]["ensemble"], *res["test"]["baselines"].values()]:
        assert set(entry) == tasks
    assert set(res["test"]["baselines"]) == {"best_expert", "shared", "uniform", "random_search", "lorahub",
                                             "lorahub_ce", "model_swarms"}
    hist = [json.loads(x) for x in (run_dir / "history.jsonl").read_text().splitlines()]
    assert {"best", "mean", "worst", "size", "evaluations"} <= set(hist[-1])
    assert (run_dir / "fitness.png").stat().st_size > 0

    # the saved adapter, read back through PEFT, scores exactly the recorded objective
    os.environ["GFOPT_HOME"] = env["GFOPT_HOME"]
    try:
        from gfopt.problems.llm_evo.models import load_vector
        from gfopt.problems.llm_evo.problem import LlmEvoProblem

        p = LlmEvoProblem(zoo={"preset": "tiny", "seed": 0}, baselines=[], threads=1)
    finally:
        del os.environ["GFOPT_HOME"]
    vec = load_vector(p.layout, run_dir / "best_adapter")
    assert p.evaluate([vec])[0] == pytest.approx(res["objective"])
    assert np.isfinite(vec).all()


def test_bad_input_is_one_line_exit_2(tmp_path):
    cmd = [sys.executable, "-m", "gfopt", "problem=llm_evo", "engine=genome", f"problem.model.base={tmp_path}/nope",
           f"problem.model.experts=[{tmp_path}/a,{tmp_path}/b]", f"+problem.tasks.t.dir={tmp_path}",
           f"hydra.run.dir={tmp_path}/run"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=dict(os.environ, CI="true"))
    assert proc.returncode == 2
    lines = [x for x in proc.stderr.splitlines() if x.startswith("gfopt: error:")]
    assert len(lines) == 1 and "nope: base model dir not found" in lines[0]
