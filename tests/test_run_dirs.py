"""Run dirs: unique by default, held by one live run, unchanged by a refused run, no junk, the process umask."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from gfopt.rundir import RunDir

ENV = {**os.environ, "CI": "true", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
TSP = ["problem=tsp", "engine=ga", "budget.steps=3"]


def gfopt(*args: str, cwd: Path, umask: int | None = None) -> subprocess.CompletedProcess:
    pre = (lambda: os.umask(umask)) if umask is not None else None
    return subprocess.run([sys.executable, "-m", "gfopt", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=ENV, preexec_fn=pre)


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under `folder` with its bytes and mtime."""
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def one_error_line(p: subprocess.CompletedProcess) -> str:
    assert p.returncode == 2, p.stdout + p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gfopt: error: "), p.stderr
    return lines[0]


def test_two_runs_started_together_get_their_own_dirs(tmp_path):
    cmd = [sys.executable, "-m", "gfopt", "problem=tsp", "engine=ga", "budget.steps=20"]
    procs = [subprocess.Popen([*cmd, f"seed={s}"], cwd=tmp_path, env=ENV, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for s in (1, 2)]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read()
    dirs = sorted((tmp_path / "outputs" / "tsp").iterdir())
    assert len(dirs) == 2
    seeds = set()
    for d in dirs:
        result = json.loads((d / "result.json").read_text())
        steps = [json.loads(x)["step"] for x in (d / "history.jsonl").read_text().splitlines()]
        assert steps == list(range(1, 21))
        assert f"seed: {result['seed']}" in (d / ".hydra" / "config.yaml").read_text()
        seeds.add(result["seed"])
    assert seeds == {1, 2}


def test_a_run_dir_held_by_a_live_run_refuses_a_second_one(tmp_path):
    run_dir = tmp_path / "r"
    with RunDir(run_dir) as held:  # what a live run holds while it runs
        held.lock()
        held.accept(OmegaConf.create({}))
        before = snapshot(run_dir)
        line = one_error_line(gfopt(*TSP, f"hydra.run.dir={run_dir}", cwd=tmp_path))
        assert f"hydra.run.dir: {run_dir} is in use by another run (pid {os.getpid()})" in line
        assert snapshot(run_dir) == before
    assert gfopt(*TSP, f"hydra.run.dir={run_dir}", cwd=tmp_path).returncode == 0  # released: usable again


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("engine.crossover_rate=1.5", "engine.crossover_rate: must be in [0, 1]"),  # a value error
        ("seed=9", "different configuration"),  # the resume refusal
    ],
)
def test_a_refused_run_changes_nothing_in_an_existing_run_dir(tmp_path, override, expected):
    run_dir = tmp_path / "r"
    assert gfopt(*TSP, f"hydra.run.dir={run_dir}", cwd=tmp_path).returncode == 0
    before = snapshot(run_dir)
    assert expected in one_error_line(gfopt(*TSP, override, f"hydra.run.dir={run_dir}", cwd=tmp_path))
    assert snapshot(run_dir) == before


def test_a_data_error_changes_nothing_in_an_existing_run_dir(tmp_path):
    run_dir = tmp_path / "r"
    args = ["problem=dag_topo", "problem.data.d=5", "problem.data.n=50", f"hydra.run.dir={run_dir}"]
    assert gfopt(*args, cwd=tmp_path).returncode == 0
    before = snapshot(run_dir)
    line = one_error_line(gfopt(*args, f"problem.data.path={tmp_path / 'nope.csv'}", "resume=false", cwd=tmp_path))
    assert "file not found" in line
    assert snapshot(run_dir) == before


@pytest.mark.parametrize(
    "args",
    [
        [*TSP, "engine.crossover_rate=1.5"],  # refused in the task, after Hydra made the dir
        ["problem=dag_topo", "problem.data.path=nope.csv"],  # refused while building the problem
    ],
)
def test_a_refused_run_leaves_no_run_dir_behind(tmp_path, args):
    one_error_line(gfopt(*args, cwd=tmp_path))
    assert [p for p in (tmp_path / "outputs").rglob("*") if p.is_file() or not any(p.iterdir())] == []


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_every_output_file_follows_the_process_umask(tmp_path, umask):
    run_dir = tmp_path / "r"
    p = gfopt("problem.data.d=5", "problem.data.n=50", f"hydra.run.dir={run_dir}", cwd=tmp_path, umask=umask)
    assert p.returncode == 0, p.stderr
    modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in run_dir.rglob("*") if f.is_file()}
    assert {"result.json", "W_est.csv", "graph.png", "checkpoint.npz", "history.jsonl", "config.yaml"} <= set(modes)
    assert set(modes.values()) == {0o666 & ~umask}, modes


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["+foo=1"], "foo: unknown key (no part of gfopt reads it)"),
        (["+engine.sigmaa=1"], "engine.sigmaa: unknown key"),
        (["+problem.foo.bar=1"], "problem.foo: unknown key"),
        (["-m", "problem.dat.d=10,20"], "problem.dat: unknown key"),
        (["-m", "hydra/sweeper=gfopt_optuna", "engine=ga", "engine.crossover_rat=interval(0.1,1)"],
         "engine.crossover_rat: unknown key"),
        (["-m", "engine=ga", "engine.crossover_rate=interval(0.1,1)"],
         "engine.crossover_rate: interval(...) needs an Optuna sweep: add hydra/sweeper=gfopt_optuna"),
        (["hydra.run.dir=/proc/gfopt-x"], "hydra.run.dir: cannot write to /proc/gfopt-x"),
    ],
)
def test_command_line_mistakes_are_one_line(tmp_path, args, expected):
    assert expected in one_error_line(gfopt(*args, cwd=tmp_path))
    assert not (tmp_path / "outputs").exists() and not (tmp_path / "multirun").exists()


def test_a_plus_key_where_the_config_takes_free_names_is_still_accepted(tmp_path):
    from gfopt.__main__ import conf_dir
    from gfopt.config import register_configs
    from gfopt.precheck import precheck

    register_configs()
    assert precheck(conf_dir(), ["problem=llm_evo", f"+problem.tasks.mine={tmp_path}"]) is None
    assert "unknown key" in precheck(conf_dir(), ["problem=llm_evo", f"+problem.zoo.mine={tmp_path}"])


def test_the_hparams_search_preset_writes_into_the_dir_it_names():
    from hydra import compose, initialize_config_dir

    from gfopt.__main__ import conf_dir
    from gfopt.config import register_configs

    register_configs()
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["hparams_search=dag_topo"], return_hydra_config=True)
    assert str(cfg.hydra.sweep.dir).startswith("multirun/hparams_search/dag_topo/")


def test_engine_generations_counts_after_the_initial_population_and_says_so(tmp_path):
    run_dir = tmp_path / "r"
    p = gfopt("problem=tsp", "engine=ga", "engine.generations=3", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    result = json.loads((run_dir / "result.json").read_text())
    assert result["steps"] == 4 and result["stopped_by"] == "generations"
