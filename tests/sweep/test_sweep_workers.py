"""Several processes on one study: N copies of one command complete exactly n_trials (none lost, none run twice),
and plain Optuna opens the study from the sweep's own PostgreSQL URL. Faults (killed, paused workers, outages)
are in test_sweep_faults.py.

PostgreSQL tests need a server: set GFOPT_TEST_POSTGRES_URL (CI runs `eval "$(bash .ci/postgres.sh)"`)."""

from __future__ import annotations

import os
import subprocess
import sys
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


def run_two_workers(tmp_path: Path, storage: str, n_trials: int = 12) -> str:
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
    # every complete trial ran exactly once, in its own job dir <sweep dir>/<study>/<trial>, and only they ran
    ran = sorted(int(p.parent.name) for p in (tmp_path / "sweep" / name).glob("*/result.json"))
    assert ran == sorted(t.number for t in complete)
    for t in complete:
        job = yaml.safe_load(Path(t.user_attrs["job_dir"], "result.json").read_text())
        assert job["objective"] == pytest.approx(t.value)
    counts = [int(o.split("this process ran ")[1].split(" ")[0]) for o in outs]
    assert sum(counts) == n_trials and min(counts) >= 1, counts  # both worked, together exactly the total
    return name


@pytest.mark.slow
def test_two_processes_share_a_journal_file_study(tmp_path: Path) -> None:
    run_two_workers(tmp_path, f"journal:{tmp_path}/study.log")


@pytest.mark.slow
@needs_pg
def test_two_processes_share_a_postgresql_study_that_plain_optuna_opens(tmp_path: Path) -> None:
    name = run_two_workers(tmp_path, PG_URL)
    # the sweep's own URL, as optuna.load_study and optuna-dashboard take it (SQLAlchemy -> psycopg 3)
    study = optuna.load_study(study_name=name, storage=PG_URL)
    assert sum(t.state.name == "COMPLETE" for t in study.trials) == 12
    assert study.user_attrs["gfopt_identity"]["params"].keys() == {"engine.crossover_rate", "engine.population_size"}
