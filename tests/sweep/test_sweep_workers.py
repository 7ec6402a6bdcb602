"""Several processes on one study: N copies of one command complete exactly n_trials (none lost, none run twice),
and a worker killed mid-trial leaves a FAIL trial (heartbeats) that the others do not wait for.

PostgreSQL tests need a server: set GFOPT_TEST_POSTGRES_URL (CI runs `eval "$(bash .ci/postgres.sh)"`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import optuna
import pytest
import yaml

from gfopt.sweep.storage import open_storage

PG_URL = os.environ.get("GFOPT_TEST_POSTGRES_URL")
needs_pg = pytest.mark.skipif(not PG_URL, reason="no PostgreSQL: set GFOPT_TEST_POSTGRES_URL "
                                                 "(eval \"$(bash .ci/postgres.sh)\" starts one on loopback)")
SPACE = ["engine.crossover_rate=interval(0.1, 1.0)", "engine.population_size=int(interval(4, 24))"]


def worker(cwd: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "CI": "true", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "gfopt", "-m", "hydra/sweeper=gfopt_optuna", "problem=tsp", "engine=ga",
           "problem.cities=8", *args]
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(p: subprocess.Popen, timeout: float = 400) -> str:
    out, _ = p.communicate(timeout=timeout)
    assert p.returncode == 0, out[-3000:]
    return out


def run_two_workers(tmp_path: Path, storage: str, n_trials: int = 12) -> None:
    name = f"two-{uuid.uuid4().hex[:8]}"
    args = ["budget.steps=3", *SPACE, f"hydra.sweeper.storage={storage}", f"hydra.sweeper.study_name={name}",
            f"hydra.sweeper.n_trials={n_trials}", f"hydra.sweep.dir={tmp_path}/sweep", "hydra.sweeper.plots=false"]
    procs = [worker(tmp_path, *args) for _ in range(2)]  # the same command twice, same sweep dir
    outs = [finish(p) for p in procs]

    trials = optuna.load_study(study_name=name, storage=open_storage(storage)).get_trials()
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    others = [t for t in trials if t.state.name != "COMPLETE"]
    assert len(complete) == n_trials
    assert all(t.state.name == "FAIL" and t.user_attrs.get("gfopt_outcome") == "surplus" for t in others)
    # every complete trial ran exactly once, in its own job dir, and only they ran (surplus trials never start)
    ran = sorted(int(p.parent.name) for p in (tmp_path / "sweep").glob("*/result.json"))
    assert ran == sorted(t.number for t in complete)
    for t in complete:
        job = yaml.safe_load(Path(t.user_attrs["job_dir"], "result.json").read_text())
        assert job["objective"] == pytest.approx(t.value)
    counts = [int(o.split("this process ran ")[1].split(" ")[0]) for o in outs]
    assert sum(counts) == n_trials and min(counts) >= 1, counts  # both worked, together exactly the total


@pytest.mark.slow
def test_two_processes_share_a_journal_file_study(tmp_path: Path) -> None:
    run_two_workers(tmp_path, f"journal:{tmp_path}/study.log")


@pytest.mark.slow
@needs_pg
def test_two_processes_share_a_postgresql_study(tmp_path: Path) -> None:
    run_two_workers(tmp_path, PG_URL)


@pytest.mark.slow
@needs_pg
def test_a_worker_killed_mid_trial_leaves_a_failed_trial_the_others_do_not_wait_for(tmp_path: Path) -> None:
    name = f"kill-{uuid.uuid4().hex[:8]}"
    common = [*SPACE, f"hydra.sweeper.storage={PG_URL}", f"hydra.sweeper.study_name={name}", "hydra.sweeper.n_trials=5",
              "hydra.sweeper.heartbeat_interval=1", "hydra.sweeper.grace_period=3", "hydra.sweeper.plots=false",
              "hydra.sweeper.baseline=false"]
    # the doomed worker's trial would run for 10 minutes; the survivor's trials take about a second each
    doomed = worker(tmp_path, *common, "budget.wall_time_s=600", f"hydra.sweep.dir={tmp_path}/doomed")
    deadline = time.time() + 120
    while not list((tmp_path / "doomed").glob("*/.config_hash")):  # its job has started
        assert doomed.poll() is None and time.time() < deadline, "the first worker did not start a trial"
        time.sleep(0.2)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    study = optuna.load_study(study_name=name, storage=open_storage(PG_URL))
    assert [t.state.name for t in study.get_trials()] == ["RUNNING"]  # nobody told Optuna it died

    start = time.time()
    survivor = worker(tmp_path, *common, "budget.wall_time_s=1", f"hydra.sweep.dir={tmp_path}/survivor")
    out = finish(survivor, timeout=300)
    trials = study.get_trials()
    assert trials[0].state.name == "FAIL" and "gfopt_outcome" not in trials[0].user_attrs  # failed by heartbeat
    assert [t.state.name for t in trials[1:]] == ["COMPLETE"] * 5  # its slot was run again: total still 5
    assert "this process ran 5 trial(s)" in out
    assert time.time() - start < 120
