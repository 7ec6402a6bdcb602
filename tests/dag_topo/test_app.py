"""`python -m gfopt problem=dag_topo`: config composition, run-directory outputs, one-line input errors."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from gfopt.app import validate
from gfopt.config import register_configs
from gfopt.errors import ConfigError
from gfopt.problems.dag_topo.problem import DagTopoProblem

REPO = Path(__file__).resolve().parents[2]


def composed(*overrides: str):
    register_configs()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return compose(config_name="config", overrides=["problem=dag_topo", *overrides])


def test_default_config_composes_to_the_topo_default_run():
    cfg = composed()
    validate(cfg)
    assert cfg.problem.name == "dag_topo" and cfg.engine.restarts is None
    nb = cfg.engine.neighbourhood
    assert nb.sizes == "full" and nb._target_.endswith("TopoSwapNeighbourhood")
    assert cfg.problem.data.d == 20 and cfg.problem.w_threshold == 0.3


def test_auto_restarts_are_four_below_d200_and_one_from_there():
    from gfopt.problems.dag_topo.problem import DagTopoProblem

    assert DagTopoProblem(data={"d": 8, "n": 50}).default_restarts() == 4
    assert DagTopoProblem(data={"d": 200, "n": 400, "k": 1}).default_restarts() == 1


def test_bad_values_fail_validation_naming_the_key():
    from gfopt.app import _build

    with pytest.raises(ConfigError, match="engine.neighbourhood.sizes: must be one of"):
        _build(composed("engine.neighbourhood.sizes=huge").engine, "engine")
    with pytest.raises(ConfigError, match="problem.data.noise"):
        validate(composed("problem.data.noise=cauchy"))


def test_reference_sizes_reach_the_neighbourhood():
    cfg = composed("engine.neighbourhood.sizes=auto", "engine.neighbourhood.size_small=7", "problem.data.d=10")
    from hydra.utils import instantiate

    p = instantiate(cfg.problem, _convert_="object")
    nb = instantiate(cfg.engine.neighbourhood)
    nb.bind(p)
    assert (nb.size_small, nb.size_large, nb.max_escalations, nb.levels) == (7, 28, 1, 2)


def gfopt(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CI": "true", "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "gfopt", "problem=dag_topo", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600, env=env)


@pytest.mark.slow
def test_run_writes_every_output(tmp_path):
    out = tmp_path / "run"
    p = gfopt("problem.data.d=8", "engine.restarts=1", f"hydra.run.dir={out}", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    res = json.loads((out / "result.json").read_text())
    for key in ("score", "order", "n_edges", "wall_time_s", "metrics"):
        assert key in res
    assert set(res["metrics"]) == {"shd", "tpr", "fdr", "fpr", "nnz"} and res["search_gap"] <= 1e-9
    # the score is the objective of W_raw on the data as used (centred simulation, same seed): least squares
    # plus the BIC penalty per chosen parent, s2 log(n) / (2n) with s2 the smallest column variance, times the
    # multiplier reported (1 by default)
    X = DagTopoProblem(data={"d": 8}).X
    W_raw = np.load(out / "W_raw.npy")
    n = len(X)
    assert res["penalty_multiplier"] == 1.0
    penalty = res["penalty_multiplier"] * X.var(axis=0).min() * np.log(n) / (2 * n)
    expected = 0.5 / n * np.sum((X - X @ W_raw) ** 2) + penalty * np.count_nonzero(W_raw)
    assert res["score"] == pytest.approx(expected, rel=1e-9)
    rows = list(csv.reader((out / "W_est.csv").open()))
    names = [f"x{i}" for i in range(8)]
    assert rows[0] == ["", *names] and [r[0] for r in rows[1:]] == names
    W_est = np.array([[float(x) for x in r[1:]] for r in rows[1:]])
    assert np.count_nonzero(W_est) == res["n_edges"] and np.all(np.abs(W_est[W_est != 0]) >= 0.3)
    import networkx as nx

    G = nx.read_graphml(out / "graph.graphml")
    assert G.number_of_edges() == res["n_edges"] and G.number_of_nodes() == 8
    assert (out / "graph.png").read_bytes()[:4] == b"\x89PNG"
    history = [json.loads(x) for x in (out / "history.jsonl").read_text().splitlines()]
    assert history and history[-1]["best"] == pytest.approx(res["score"], rel=1e-9)


@pytest.mark.slow
def test_bad_input_is_one_error_line_and_exit_2(tmp_path):
    (tmp_path / "x.csv").write_text("a,b\n1,2\n1,3\n1,4\n")
    p = gfopt("problem.data.path=x.csv", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert p.returncode == 2
    lines = [x for x in p.stderr.splitlines() if x.strip()]
    assert lines == ["gfopt: error: problem.data: x.csv: column 'a' is constant; remove constant columns"]


@pytest.mark.parametrize("old, new", [("problem.search.sizes=auto", "engine.neighbourhood.sizes"),
                                      ("problem.search.restarts=0", "engine.restarts")])
def test_moved_keys_are_one_line_naming_the_new_key(old, new, tmp_path):
    p = gfopt(old, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert p.returncode == 2 and not (tmp_path / "run").exists()
    lines = [x for x in p.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"gfopt: error: {old.split('=')[0]}: moved to {new}")
