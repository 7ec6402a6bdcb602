"""Fault injection on shared studies with real processes: workers killed (-9) mid-trial and near the end, all
workers killed then the command re-run, a worker paused (SIGSTOP) past the grace period, PostgreSQL stopped and
restarted mid-sweep, and a worker killed on journal storage. Each scenario ends with exactly `n_trials` COMPLETE
trials, the baseline run once, every COMPLETE trial's result.json in its job dir holding the trial's value, and
every worker that was not killed exiting 0.

Trials are small tsp runs of about `TRIAL_S` seconds; heartbeats every second with a 3 s grace period keep each
scenario within a minute or so. PostgreSQL scenarios need a server: GFOPT_TEST_POSTGRES_URL (CI runs
`eval "$(bash .ci/postgres.sh)"`); the outage scenario starts a private one with the same script (needs its
server binaries)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest

from gfopt.sweep.storage import open_storage

PG_URL = os.environ.get("GFOPT_TEST_POSTGRES_URL")
needs_pg = pytest.mark.skipif(not PG_URL, reason="no PostgreSQL: set GFOPT_TEST_POSTGRES_URL "
                                                 "(eval \"$(bash .ci/postgres.sh)\" starts one on loopback)")
ROOT = Path(__file__).resolve().parents[2]
TRIAL_S = 1.5
BASELINE = {"engine.crossover_rate": 0.8, "engine.population_size": 20}  # the configuration's own values
pytestmark = pytest.mark.slow


class Sweep:
    """One study, and the worker processes running the same sweep command against it (each with its own log)."""

    def __init__(self, tmp: Path, storage: str, n_trials: int, extra: tuple[str, ...] = (),
                 trial_s: float = TRIAL_S) -> None:
        self.tmp, self.storage, self.n_trials = tmp, storage, n_trials
        self.name = f"fault-{uuid.uuid4().hex[:8]}"
        self.args = ["hydra/sweeper=gfopt_optuna", "problem=tsp", "engine=ga", "problem.cities=8",
                     "engine.generations=null", f"budget.wall_time_s={trial_s}",
                     "engine.crossover_rate=interval(0.1, 1.0)", "engine.population_size=int(interval(4, 24))",
                     f"hydra.sweeper.storage={storage}", f"hydra.sweeper.study_name={self.name}",
                     f"hydra.sweeper.n_trials={n_trials}", "hydra.sweeper.heartbeat_interval=1",
                     "hydra.sweeper.grace_period=3", "hydra.sweeper.plots=false", *extra]
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, label: str) -> subprocess.Popen:
        """A worker whose jobs go to <tmp>/<label>/<study>/<trial>."""
        env = {**os.environ, "CI": "true", "OMP_NUM_THREADS": "1"}
        log = open(self.tmp / f"{label}.log", "w")  # noqa: SIM115 (closed with the process)
        cmd = [sys.executable, "-m", "gfopt", "-m", *self.args, f"hydra.sweep.dir={self.tmp / label}"]
        # a session of its own: cleanup can reap what it launched (joblib's workers) without touching anything else
        p = subprocess.Popen(cmd, cwd=self.tmp, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[label] = p
        return p

    def log(self, label: str) -> str:
        return (self.tmp / f"{label}.log").read_text()

    def running_job(self, label: str) -> Path | None:
        """A job dir of this worker that has started (config hash written) and not finished (no result.json)."""
        for d in (self.tmp / label / self.name).glob("*"):
            if (d / ".config_hash").exists() and not (d / "result.json").exists():
                return d
        return None

    def wait_for(self, what: str, cond: Callable[[], object], timeout: float = 120) -> object:
        deadline = time.time() + timeout
        while time.time() < deadline:
            out = cond()
            if out:
                return out
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; logs: " +
                             " | ".join(f"{k}: {self.log(k)[-1500:]}" for k in self.procs))

    def kill_mid_trial(self, label: str) -> None:
        self.wait_for(f"{label} to run a trial", lambda: self.running_job(label))
        self.procs[label].send_signal(signal.SIGKILL)
        self.procs[label].wait()

    def finish(self, *labels: str, timeout: float = 240) -> None:
        for label in labels:
            try:
                code = self.procs[label].wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.procs[label].kill()
                raise AssertionError(f"{label} did not finish: {self.log(label)[-3000:]}") from None
            assert code == 0, f"{label} exited {code}: {self.log(label)[-3000:]}"

    def study(self) -> optuna.Study:
        return optuna.load_study(study_name=self.name, storage=open_storage(self.storage))

    def trials(self) -> list[optuna.trial.FrozenTrial]:
        """The study's trials; none while no worker has created the study yet."""
        try:
            return self.study().get_trials()
        except KeyError:
            return []

    def check(self) -> list[optuna.trial.FrozenTrial]:
        """Exactly n_trials COMPLETE, the baseline once, each with its job's result.json holding its value."""
        trials = self.study().get_trials()
        complete = [t for t in trials if t.state.name == "COMPLETE"]
        assert len(complete) == self.n_trials, [(t.number, t.state.name) for t in trials]
        assert sum(t.params == BASELINE for t in complete) == 1
        assert not [t for t in trials if t.state.name in ("RUNNING", "WAITING")]
        for t in complete:
            result = json.loads((Path(t.user_attrs["job_dir"]) / "result.json").read_text())
            assert result["objective"] == pytest.approx(t.value)
        return trials

    def stop_all(self) -> None:
        for p in self.procs.values():
            try:
                os.killpg(p.pid, signal.SIGKILL)  # the worker and anything it launched
            except ProcessLookupError:
                pass
            p.wait()


@pytest.fixture
def sweeps():
    made: list[Sweep] = []
    yield made
    for s in made:
        s.stop_all()


@needs_pg
def test_a_worker_killed_mid_trial_its_slot_is_run_again(tmp_path: Path, sweeps: list[Sweep]) -> None:
    s = Sweep(tmp_path, PG_URL, n_trials=6)
    sweeps.append(s)
    s.start("a"), s.start("b")
    s.kill_mid_trial("a")
    s.finish("b")
    trials = s.check()
    assert any(t.state.name == "FAIL" and "gfopt_stale" in t.user_attrs for t in trials)  # a's trial, failed by b
    assert "marked FAIL, its slot runs again" in s.log("b")


@needs_pg
def test_a_worker_killed_near_the_end_is_waited_for(tmp_path: Path, sweeps: list[Sweep]) -> None:
    s = Sweep(tmp_path, PG_URL, n_trials=5)
    sweeps.append(s)
    s.start("a"), s.start("b")

    def a_runs_one_of_the_last() -> bool:  # a's trial in flight and at most one slot still free
        done = sum(t.state.name in ("COMPLETE", "RUNNING") for t in s.trials())
        return done >= s.n_trials - 1 and s.running_job("a") is not None

    s.wait_for("a to run one of the last trials", a_runs_one_of_the_last)
    s.procs["a"].send_signal(signal.SIGKILL)
    s.procs["a"].wait()
    s.finish("b")
    s.check()


@needs_pg
def test_all_workers_killed_then_the_command_rerun_completes(tmp_path: Path, sweeps: list[Sweep]) -> None:
    s = Sweep(tmp_path, PG_URL, n_trials=4)
    sweeps.append(s)
    s.start("a"), s.start("b")
    s.kill_mid_trial("a")
    s.kill_mid_trial("b")
    assert any(t.state.name == "RUNNING" for t in s.trials())  # nobody told the study
    s.start("again")
    s.finish("again")
    s.check()
    assert "waiting: " in s.log("again") or "marked FAIL" in s.log("again")


@needs_pg
def test_a_worker_paused_past_the_grace_period_goes_on(tmp_path: Path, sweeps: list[Sweep]) -> None:
    s = Sweep(tmp_path, PG_URL, n_trials=6)
    sweeps.append(s)
    s.start("a"), s.start("b")
    s.wait_for("a to run a trial", lambda: s.running_job("a"))
    s.procs["a"].send_signal(signal.SIGSTOP)
    s.wait_for("b to fail a's silent trial", lambda: any("gfopt_stale" in t.user_attrs
                                                            for t in s.trials()), timeout=60)
    s.procs["a"].send_signal(signal.SIGCONT)
    s.finish("a", "b")  # the paused worker does not crash on resume
    s.check()
    assert "when its job ended" in s.log("a") or "failed elsewhere" in s.log("a")


def test_a_worker_killed_on_journal_storage_its_lease_expires(tmp_path: Path, sweeps: list[Sweep]) -> None:
    s = Sweep(tmp_path, f"journal:{tmp_path}/study.log", n_trials=5)
    sweeps.append(s)
    s.start("a"), s.start("b")
    s.kill_mid_trial("a")
    s.finish("b")
    trials = s.check()
    assert any("gfopt_stale" in t.user_attrs for t in trials)


@needs_pg
def test_jobs_of_a_killed_sweeper_under_joblib_stop_and_a_rerun_completes(tmp_path: Path, sweeps: list[Sweep]) -> None:
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    s = Sweep(tmp_path, PG_URL, n_trials=2, trial_s=8, extra=("hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
                                                              "hydra.sweeper.n_jobs=2"))
    sweeps.append(s)
    s.start("a")
    jobs = s.wait_for("both jobs to run", lambda: (lambda h: h if len(h) == 2 else None)(
        sorted((tmp_path / "a" / s.name).glob("*/history.jsonl"))))
    s.procs["a"].send_signal(signal.SIGKILL)  # the sweeper only: its joblib workers live on
    s.procs["a"].wait()
    time.sleep(3 + 1 + 2)  # grace + one check interval + slack
    sizes = [p.stat().st_size for p in jobs]
    time.sleep(2)
    assert [p.stat().st_size for p in jobs] == sizes  # the orphaned jobs stopped ...
    assert not list((tmp_path / "a" / s.name).glob("*/result.json"))  # ... before finishing their 8 s
    s.start("again")
    s.finish("again")
    s.check()


@pytest.fixture
def private_postgres(tmp_path: Path):
    """A PostgreSQL server of its own (started with .ci/postgres.sh), so stopping it disturbs nobody."""
    if shutil.which("pg_ctl") is None and not list(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")):
        pytest.skip("no PostgreSQL server binaries (apt-get install postgresql)")
    env = {**os.environ, "GFOPT_PG_DIR": f"/tmp/gfopt-pg-fault-{uuid.uuid4().hex[:8]}"}
    script = str(ROOT / ".ci" / "postgres.sh")
    out = subprocess.run(["bash", script], env=env, capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        pytest.skip(f"could not start a private PostgreSQL: {out.stderr[-500:]}")
    url = out.stdout.strip().split("=", 1)[1]

    def control(what: str) -> None:
        subprocess.run(["bash", script, what], env=env, check=True, capture_output=True, timeout=120)

    try:
        yield url, control
    finally:
        subprocess.run(["bash", script, "stop"], env=env, capture_output=True, timeout=120)


def test_postgresql_stopped_and_restarted_mid_sweep(tmp_path: Path, sweeps: list[Sweep], private_postgres) -> None:
    url, control = private_postgres
    s = Sweep(tmp_path, url, n_trials=6)
    sweeps.append(s)
    s.start("a"), s.start("b")
    s.wait_for("two trials complete", lambda: sum(t.state.name == "COMPLETE" for t in s.trials()) >= 2)
    job = s.wait_for("a to run a trial", lambda: s.running_job("a"))
    down = time.time()
    control("down")
    time.sleep(15)  # a's job ends during the outage; its result waits in the worker for the server
    up = time.time()
    control("up")
    s.finish("a", "b")
    trials = s.check()
    assert (job / "result.json").stat().st_mtime < up  # computed while the server was down ...
    mine = [t for t in trials if t.user_attrs.get("job_dir") == str(job)]
    assert [t.state.name for t in mine] == ["COMPLETE"] and down < (job / "result.json").stat().st_mtime  # ... and told
    assert "storage back after" in s.log("a")


def test_a_storage_gone_for_longer_than_the_retry_time_ends_the_worker_in_one_line(
        tmp_path: Path, sweeps: list[Sweep], private_postgres) -> None:
    url, control = private_postgres
    s = Sweep(tmp_path, url, n_trials=50, extra=("hydra.sweeper.storage_retry_s=4",))
    sweeps.append(s)
    s.start("a")
    s.wait_for("a trial to complete", lambda: any(t.state.name == "COMPLETE" for t in s.trials()))
    control("down")
    gone = time.time()
    code = s.procs["a"].wait(timeout=120)
    out = s.log("a")
    lines = [ln for ln in out.splitlines() if ln.startswith("gfopt: error:")]
    assert code == 1 and len(lines) == 1 and "Traceback" not in out, out[-3000:]
    assert lines[0].startswith("gfopt: error: hydra.sweeper.storage: unreachable for ")
    assert "storage_retry_s=4" in lines[0] and lines[0].endswith("re-run the command to continue the sweep")
    assert time.time() - gone < 60  # the retry time, the job in flight, and no second wait for the results file
