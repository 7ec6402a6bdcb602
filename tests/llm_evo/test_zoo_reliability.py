"""`zoo build` stopped half-way: its temp dir is cleaned by the next build; without a TTY it logs one line per phase."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from gfopt.problems.llm_evo.zoo.build import remove_stale_temps


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid  # reaped: no process has this id now (ids are not reused that fast)


def test_stale_temp_dirs_of_stopped_builds_are_removed_and_a_live_builds_kept(tmp_path):
    out = tmp_path / "zoo" / "tiny-s0"
    out.parent.mkdir()
    gone = dead_pid()
    stale = [out.parent / f".tmp-tiny-s0-{gone}", out.parent / f".old-tiny-s0-{gone}"]
    live = out.parent / f".tmp-tiny-s0-{os.getppid()}"  # a build running in another process
    other = out.parent / f".tmp-default-s0-{gone}"  # another zoo's: its own build cleans it
    for d in [*stale, live, other]:
        (d / "base").mkdir(parents=True)
    assert sorted(remove_stale_temps(out)) == sorted(stale)
    assert sorted(p.name for p in out.parent.iterdir()) == sorted([live.name, other.name])


@pytest.mark.slow
def test_a_killed_build_leaves_a_temp_dir_that_the_next_build_removes_and_logs_its_phases(tmp_path):
    env = {**os.environ, "GFOPT_HOME": str(tmp_path), "CI": "true", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "gfopt", "zoo", "build", "--preset", "tiny", "--threads", "1"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    zoo = tmp_path / "zoo"
    deadline = time.time() + 120
    while time.time() < deadline and not list(zoo.glob(".tmp-tiny-s0-*/base/config.json")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert [p.name for p in zoo.iterdir()] == [f".tmp-tiny-s0-{proc.pid}"]

    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert [p.name for p in zoo.iterdir()] == ["tiny-s0"]
    log = done.stdout + done.stderr  # not a TTY: no bar, a line per phase
    from gfopt.problems.llm_evo.zoo.presets import get_preset

    first_expert = f"training expert dom00 (1/{get_preset('tiny').n_groups})"
    for phase in ("pre-training the base model", "training the shared adapter", first_expert,
                  "writing the manifest", f"removed {zoo / f'.tmp-tiny-s0-{proc.pid}'}"):
        assert phase in log, log
    assert "\r" not in log


@pytest.mark.slow
def test_ctrl_c_on_a_build_is_one_line_and_keeps_nothing(tmp_path):
    env = {**os.environ, "GFOPT_HOME": str(tmp_path), "CI": "true", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "gfopt", "zoo", "build", "--preset", "tiny", "--threads", "1"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    zoo = tmp_path / "zoo"
    deadline = time.time() + 120
    while time.time() < deadline and not list(zoo.glob(".tmp-tiny-s0-*/base/config.json")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert err.strip().splitlines()[-1] == ("gfopt: zoo build interrupted; nothing was kept, run it again to build "
                                           "the zoo"), err
    assert "Traceback" not in err and list(zoo.iterdir()) == []


def test_zoo_info_on_a_missing_zoo_names_the_command_that_builds_that_preset(tmp_path, monkeypatch, capsys):
    from gfopt.problems.llm_evo.zoo import cli

    monkeypatch.setenv("GFOPT_HOME", str(tmp_path))
    assert cli(["info", "--preset", "tiny", "--seed", "3"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("build it with `python -m gfopt zoo build --preset tiny --seed 3`") and "\n" not in err
