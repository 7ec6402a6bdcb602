"""Ctrl-C, kill -9 and damaged checkpoints, with real processes: a resumed run ends with the uninterrupted result."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from gfopt.core.checkpoint import load_state
from tests.test_app import without_timings

ENV = {**os.environ, "CI": "true", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

# slow enough to stop in the middle (tsp: 50 ms per batch; dag_topo: about 76 steps of ~0.2 s). The dag_topo default
# now ends each start within a few steps of its first stage, so this run takes n = 2d, every first-stage optimum
# and 10 starts (the two-stage machinery and its candidates are still what is checkpointed and resumed).
CASES = {
    "tsp": ["problem=tsp", "problem.cities=30", "problem.delay_s=0.05", "engine=ga", "budget.steps=40", "seed=3"],
    "dag_topo": ["problem=dag_topo", "problem.data.d=60", "problem.data.k=4", "problem.data.n=120",
                 "problem.search.sparse_starts=null", "engine.restarts=9", "seed=1"],
}


def gfopt(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gfopt", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=ENV)


def result(run_dir: Path) -> dict:
    return without_timings(json.loads((run_dir / "result.json").read_text()))


def history_steps(run_dir: Path) -> list[int]:
    return [json.loads(x)["step"] for x in (run_dir / "history.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted result.json of each case (every run checkpoints every step)."""
    root = tmp_path_factory.mktemp("ref")
    out = {}
    for name, args in CASES.items():
        p = gfopt(*args, "checkpoint_min_interval_s=0", f"hydra.run.dir={root / name}", cwd=root)
        assert p.returncode == 0, p.stderr
        out[name] = result(root / name)
    return out


def start(args: list[str], run_dir: Path) -> subprocess.Popen:
    """Start `python -m gfopt` into `run_dir` in the background."""
    return subprocess.Popen([sys.executable, "-m", "gfopt", *args, f"hydra.run.dir={run_dir}"], cwd=run_dir.parent,
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_until(proc: subprocess.Popen, ready: Callable[[], bool]) -> None:
    """Wait until `ready()` while the run lives (it must still live then)."""
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not ready():
        time.sleep(0.005)
    assert proc.poll() is None, "the run ended before it could be stopped"


def stop_when(proc: subprocess.Popen, ready: Callable[[], bool], sig: int) -> subprocess.CompletedProcess:
    """Wait until `ready()` while the run lives, send `sig`; return the finished process."""
    wait_until(proc, ready)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def start_and_stop(args: list[str], run_dir: Path, sig: int, after_lines: int) -> subprocess.CompletedProcess:
    """Start a run, wait until `after_lines` steps are in its history, send `sig`; return the finished process."""
    history = run_dir / "history.jsonl"
    return stop_when(start(args, run_dir), lambda: history.exists() and history.read_text().count("\n") >= after_lines,
                     sig)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_ctrl_c_prints_one_line_saves_the_last_step_and_resumes_to_the_same_result(tmp_path, reference, name):
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    p = start_and_stop(CASES[name], run_dir, signal.SIGINT, after_lines=8)
    assert p.returncode == 130, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gfopt: interrupted at step "), p.stderr
    assert "checkpoint saved; run the same command to resume" in lines[0]
    step = int(lines[0].split("at step ")[1].split(";")[0])
    assert load_state(run_dir / "checkpoint.npz")["steps"] == step >= 8  # the last finished step, not an older one
    assert history_steps(run_dir)[-1] >= step and not (run_dir / "result.json").exists()

    resumed = gfopt(*CASES[name], f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert result(run_dir) == reference[name]
    assert history_steps(run_dir) == list(range(1, reference[name]["steps"] + 1))


@pytest.mark.slow
def test_sigterm_stops_after_the_step_in_progress_with_one_line_and_resumes(tmp_path, reference):
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    p = start_and_stop(CASES["tsp"], run_dir, signal.SIGTERM, after_lines=8)
    assert p.returncode == 143, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gfopt: interrupted at step "), p.stderr
    assert "by SIGTERM; checkpoint saved; run the same command to resume" in lines[0]
    step = int(lines[0].split("at step ")[1].split(" ")[0])
    assert load_state(run_dir / "checkpoint.npz")["steps"] == step >= 8
    resumed = gfopt(*CASES["tsp"], f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert result(run_dir) == reference["tsp"]


@pytest.mark.slow
def test_sigterm_while_the_problem_is_built_is_one_line(tmp_path):
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    # the run dir is locked just before the problem is built; dag_topo d=400, n=20000 takes seconds to simulate
    # its data and fit the covariance
    proc = subprocess.Popen([sys.executable, "-m", "gfopt", "problem=dag_topo", "problem.data.d=400",
                             "problem.data.n=20000", f"hydra.run.dir={run_dir}"], cwd=tmp_path, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not (run_dir / ".lock").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    time.sleep(0.3)
    assert proc.poll() is None and not (run_dir / "history.jsonl").exists()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert err.strip().splitlines() == ["gfopt: terminated (SIGTERM) outside the search; run the same command to "
                                        "start or resume"], err


BOOTSTRAP = ["problem=dag_topo", "problem.data.d=20", "problem.data.n=400", "problem.bootstrap.samples=40"]


@pytest.fixture(scope="module")
def bootstrap_reference(tmp_path_factory) -> Path:
    """The run dir of the uninterrupted serial bootstrap run."""
    ref_dir = tmp_path_factory.mktemp("boot") / "ref"
    p = gfopt(*BOOTSTRAP, f"hydra.run.dir={ref_dir}", cwd=ref_dir.parent)
    assert p.returncode == 0, p.stderr
    return ref_dir


def assert_same_bootstrap(run_dir: Path, ref_dir: Path) -> None:
    assert result(run_dir) == result(ref_dir)
    np.testing.assert_array_equal(np.loadtxt(run_dir / "edge_frequencies.csv", delimiter=",", dtype=str),
                                  np.loadtxt(ref_dir / "edge_frequencies.csv", delimiter=",", dtype=str))


@pytest.mark.slow
def test_ctrl_c_during_the_bootstrap_keeps_the_finished_resamples_and_resumes_to_the_same_result(
        tmp_path, bootstrap_reference):
    """The bootstrap runs after the search: Ctrl-C there (resamples in 2 processes) is one line, and the rerun (in
    one process) does the unfinished resamples, to the uninterrupted serial run's frequencies."""
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    state = run_dir / "bootstrap_state.npz"
    p = stop_when(start([*BOOTSTRAP, "problem.bootstrap.workers=2"], run_dir), state.exists, signal.SIGINT)
    err = p.stderr
    assert p.returncode == 130, err
    assert err.strip().splitlines() == ["gfopt: interrupted outside the search; run the same command to start or "
                                        "resume"], err
    assert not (run_dir / "result.json").exists()
    with np.load(state) as z:
        assert 1 <= z["done"].sum() < 40
    resumed = gfopt(*BOOTSTRAP, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "bootstrap: resuming with" in (run_dir / "gfopt.log").read_text()
    assert_same_bootstrap(run_dir, bootstrap_reference)


def spawned_workers(pid: int) -> list[int]:
    """The multiprocessing-spawned children of process `pid` (from /proc: their parent id and command line)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmd = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue  # the process ended while we read it
        if ppid == pid and b"spawn_main" in cmd:
            out.append(int(stat.parent.name))
    return out


@pytest.mark.slow
def test_a_bootstrap_worker_killed_with_9_costs_only_its_resample(tmp_path, bootstrap_reference):
    """kill -9 of a bootstrap worker process (as the OOM killer does): a new pool runs the unfinished resamples and
    the run ends with the uninterrupted serial run's frequencies."""
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    proc = start([*BOOTSTRAP, "problem.bootstrap.workers=2"], run_dir)
    wait_until(proc, (run_dir / "bootstrap_state.npz").exists)
    workers = spawned_workers(proc.pid)
    assert workers, "no worker process to kill"
    os.kill(workers[0], signal.SIGKILL)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "bootstrap: a worker process died" in (run_dir / "gfopt.log").read_text()
    assert_same_bootstrap(run_dir, bootstrap_reference)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_kill_9_then_a_truncated_checkpoint_falls_back_to_the_previous_one(tmp_path, reference, name):
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    args = [*CASES[name], "checkpoint_min_interval_s=0"]
    p = start_and_stop(args, run_dir, signal.SIGKILL, after_lines=8)
    assert p.returncode == -signal.SIGKILL
    ckpt = run_dir / "checkpoint.npz"
    torn = ckpt.exists()
    if torn:  # else the kill landed between the two renames of a checkpoint write: only .prev is there
        data = ckpt.read_bytes()
        ckpt.write_bytes(data[: len(data) // 2])  # a torn write, as a full disk or a copy tool leaves it

    resumed = gfopt(*args, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming from checkpoint.prev.npz" in resumed.stdout + resumed.stderr or not torn
    assert result(run_dir) == reference[name]


def test_unreadable_checkpoints_are_one_line_and_resume_false_starts_over(tmp_path):
    run_dir = tmp_path / "r"
    args = ["problem=tsp", "engine=ga", "budget.steps=4", f"hydra.run.dir={run_dir}"]
    assert gfopt(*args, "budget.steps=2", cwd=tmp_path).returncode == 0
    before = result(run_dir)
    (run_dir / "checkpoint.npz").write_bytes(b"")  # empty and truncated: neither loads
    (run_dir / "checkpoint.prev.npz").write_bytes((run_dir / "history.jsonl").read_bytes()[:10])
    p = gfopt(*args, "budget.steps=2", cwd=tmp_path)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gfopt: error: resume: cannot read the checkpoint"), p.stderr
    assert "pass resume=false to start over" in lines[0]
    assert result(run_dir) == before  # the refused run changed nothing

    p = gfopt(*args, "budget.steps=2", "resume=false", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert result(run_dir) == before and load_state(run_dir / "checkpoint.npz")["steps"] == 2


@pytest.mark.slow
def test_a_second_ctrl_c_inside_a_long_step_still_saves_the_last_finished_step(tmp_path):
    # 0.6 s per step (one evaluated batch): steps of 0.5 s or more keep an in-memory copy of the last finished one
    args = ["problem=tsp", "problem.cities=12", "problem.delay_s=0.6", "engine=ga", "budget.steps=12", "seed=4"]
    ref = tmp_path / "ref"
    assert gfopt(*args, f"hydra.run.dir={ref}", cwd=tmp_path).returncode == 0
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    proc = start(args, run_dir)
    history = run_dir / "history.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (history.exists() and history.read_text().count("\n") >= 3):
        time.sleep(0.01)
    time.sleep(0.2)  # inside the next step
    proc.send_signal(signal.SIGINT)  # asks for a stop at the step's end ...
    time.sleep(0.05)
    proc.send_signal(signal.SIGINT)  # ... and this one stops now, inside the step
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    line = err.strip().splitlines()[-1]
    step = int(line.split("at step ")[1].split(";")[0])
    assert line.endswith("; checkpoint saved; run the same command to resume"), err
    assert load_state(run_dir / "checkpoint.npz")["steps"] == step == history_steps(run_dir)[-1]
    assert gfopt(*args, f"hydra.run.dir={run_dir}", cwd=tmp_path).returncode == 0
    assert result(run_dir) == result(ref)
