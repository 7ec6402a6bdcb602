"""llm_evo runs on the tiny zoo: Ctrl-C and kill -9 resume to the uninterrupted result; no library noise."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("peft")

ARGS = ["problem=llm_evo", "engine=genome_plus", "problem.zoo.preset=tiny", "engine.generations=6",
        "engine.population_size=6", "engine.max_population=10", "problem.baselines=[best_expert]",
        "problem.threads=1", "seed=2", "checkpoint_min_interval_s=0"]


def without_timings(obj):
    if isinstance(obj, dict):
        return {k: without_timings(v) for k, v in obj.items() if not k.endswith(("_s", "seconds"))}
    if isinstance(obj, list):
        return [without_timings(v) for v in obj]
    return obj


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    return {**os.environ, "GFOPT_HOME": str(home), "CI": "true", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def gfopt(run_dir: Path, env: dict, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gfopt", *ARGS, *extra, f"hydra.run.dir={run_dir}"], env=env,
                          capture_output=True, text=True, timeout=900, cwd=run_dir.parent)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, env) -> dict:
    """One uninterrupted run (it builds the tiny zoo on first use)."""
    run_dir = tmp_path_factory.mktemp("ref") / "run"
    ref = gfopt(run_dir, env)
    assert ref.returncode == 0, ref.stderr[-2000:]
    return {"result": without_timings(json.loads((run_dir / "result.json").read_text())),
            "output": ref.stdout + ref.stderr}


@pytest.mark.slow
def test_an_llm_evo_run_prints_no_library_warnings_or_loading_bars(reference):
    noise = [ln for ln in reference["output"].splitlines()
             if "Warning" in ln or "Loading weights" in ln or "warnings.warn" in ln]
    assert noise == []


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_stopped_llm_evo_run_resumes_to_the_uninterrupted_result(tmp_path, env, reference, sig):
    run_dir = tmp_path / "stopped"
    proc = subprocess.Popen([sys.executable, "-m", "gfopt", *ARGS, f"hydra.run.dir={run_dir}"], env=env,
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    history = run_dir / "history.jsonl"
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        if history.exists() and history.read_text().count("\n") >= 3:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the run ended before it could be stopped"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=300)
    if sig == signal.SIGINT:
        assert proc.returncode == 130
        assert err.strip().splitlines()[-1].startswith("gfopt: interrupted at step "), err[-2000:]
    assert not (run_dir / "result.json").exists()

    resumed = gfopt(run_dir, env)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert without_timings(json.loads((run_dir / "result.json").read_text())) == reference["result"]
