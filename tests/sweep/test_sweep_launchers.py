"""The gfopt sweeper through launchers that run each job in another process: submitit (the SLURM launcher, here
its local executor) and gfopt's Ray launcher on a Ray cluster held by a separate process, with every job putting
its own `parallel=ray` actors on that cluster. Oracle: the same seeded sweep through Hydra's basic launcher (in
process) gives the same objective for every trial."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.sweep.test_sweep_cli import gfopt

SWEEP = ["hydra/sweeper=gfopt_optuna", "problem=tsp", "engine=ga", "budget.steps=10",
         "engine.crossover_rate=interval(0.1,1)", "hydra.sweeper.n_trials=4", "hydra.sweeper.n_jobs=2",
         "hydra.sweeper.sampler.seed=1"]


def objectives(sweep_dir: Path, trials: int = 4) -> dict[int, float]:
    """Trial number -> objective, from the job dirs `<sweep dir>/<study>/<trial>/result.json`."""
    out = {int(p.parent.name): json.loads(p.read_text())["objective"] for p in sweep_dir.glob("*/*/result.json")}
    assert len(out) == trials, sorted(sweep_dir.rglob("*"))
    return out


@pytest.fixture(scope="module")
def in_process(tmp_path_factory: pytest.TempPathFactory) -> dict[int, float]:
    cwd = tmp_path_factory.mktemp("basic")
    proc = gfopt(*SWEEP, "hydra.sweep.dir=sweep", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return objectives(cwd / "sweep")


@pytest.mark.slow
def test_submitit_jobs_write_inside_the_sweep_dir_and_match_in_process(tmp_path: Path, in_process) -> None:
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    # the default sweep dir has ${now:} and ${pid:}: each job process would resolve them again without the sweeper
    # passing its resolved dir on
    proc = gfopt(*SWEEP, "hydra/launcher=submitit_local", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (sweep_dir,) = (tmp_path / "multirun" / "tsp").iterdir()
    assert objectives(sweep_dir) == in_process


@pytest.mark.slow
def test_ray_launcher_runs_parallel_jobs_on_one_cluster(tmp_path: Path, in_process) -> None:
    pytest.importorskip("ray")
    # Ray's token authentication, as on a real cluster: the head and every driver share the token
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    holder = subprocess.Popen(  # a Ray cluster that outlives nothing: it stops when its stdin closes
        [sys.executable, "-c", "import ray, sys; ray.init(num_cpus=2, include_dashboard=False); "
         "print(ray.get_runtime_context().gcs_address, flush=True); sys.stdin.read(); ray.shutdown()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env={**os.environ, **auth})
    try:
        address = holder.stdout.readline().strip()
        assert re.fullmatch(r"[\d.]+:\d+", address), address
        # each job waits on its one actor, so the job itself reserves no CPU (docs/parallel.md)
        proc = gfopt(*SWEEP, "hydra/launcher=gfopt_ray", f"hydra.launcher.address={address}",
                     "hydra.launcher.cpus_per_job=0", "parallel=ray", "parallel.workers=1",
                     "hydra.sweep.dir=sweep", cwd=tmp_path, env=auth)
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert objectives(tmp_path / "sweep") == in_process
    logs = sorted((tmp_path / "sweep").glob("*/*/gfopt.log"))
    assert len(logs) == 4
    for log in logs:
        assert f"1 actor(s) on the Ray cluster at {address}" in log.read_text(), log.read_text()


@pytest.mark.slow
def test_ray_launcher_reruns_a_job_whose_worker_was_killed_and_it_resumes(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    slow = ["hydra/sweeper=gfopt_optuna", "problem=tsp", "problem.cities=30", "problem.delay_s=0.05", "engine=ga",
            "budget.steps=40", "engine.crossover_rate=interval(0.1,1)", "hydra.sweeper.n_trials=2",
            "hydra.sweeper.n_jobs=2", "hydra.sweeper.sampler.seed=1"]
    reference = tmp_path / "basic"
    reference.mkdir()
    assert gfopt(*slow, "hydra.sweep.dir=sweep", cwd=reference).returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "gfopt", "-m", *slow, "hydra/launcher=gfopt_ray",
                             "hydra.sweep.dir=sweep"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "CI": "true", "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 120
    histories: list[Path] = []
    while time.time() < deadline and proc.poll() is None:  # both jobs a few steps in
        histories = list((tmp_path / "sweep").glob("*/*/history.jsonl"))
        if len(histories) == 2 and all(h.read_text().count("\n") >= 5 for h in histories):
            break
        time.sleep(0.05)
    workers = subprocess.run(["pgrep", "-f", "ray::_run_on_worker"], capture_output=True, text=True).stdout.split()
    assert len(workers) == 2, workers
    os.kill(int(workers[0]), signal.SIGKILL)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "this process ran 2 trial(s) (0 failed" in out + err, out + err
    assert objectives(tmp_path / "sweep", 2) == objectives(reference / "sweep", 2)
    assert any("resuming from" in log.read_text() for log in (tmp_path / "sweep").glob("*/*/gfopt.log"))
