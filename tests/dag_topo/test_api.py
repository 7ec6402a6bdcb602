"""`gfopt.dag.learn` runs the CLI's pipeline: same data and seed give the CLI's result.json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from gfopt.dag import learn
from gfopt.problems.dag_topo.data import simulate

REPO = Path(__file__).resolve().parents[2]


def test_learn_equals_the_cli_result(tmp_path):
    ds = simulate("ER", 2, 7, 150, "gauss", "linear", 9)
    data = tmp_path / "x.npz"
    np.savez(data, X=ds.X, B_true=ds.B_true)
    know = ["problem.knowledge.forbidden=[\"x1->x2\"]"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "gfopt", "problem=dag_topo", f"problem.data.path={data}", "seed=3",
                    "progress=false", *know, f"hydra.run.dir={tmp_path / 'cli'}"], check=True, cwd=REPO, env=env,
                   capture_output=True)
    cli = json.loads((tmp_path / "cli" / "result.json").read_text())
    res = learn(data, seed=3, knowledge={"forbidden": ["x1->x2"]}, outdir=tmp_path / "api")
    api = dict(res.result)
    for r in (cli, api):
        r.pop("wall_time_s")
    assert api == cli
    assert res.order == cli["order_names"] and res.metrics == cli["metrics"]
    assert res.graph.number_of_edges() == cli["n_edges"] and not res.graph.has_edge("x1", "x2")


def test_learn_takes_a_dataframe_like_with_names_and_returns_the_weights(tmp_path):
    ds = simulate("ER", 2, 6, 200, "gauss", "linear", 1)

    class Frame:  # the two things learn uses from a pandas DataFrame
        columns = ["a", "b", "c", "d", "e", "f"]

        def __array__(self, dtype=None, copy=None):
            return ds.X

    res = learn(Frame(), score="bic", seed=0, outdir=tmp_path)
    assert res.names == Frame.columns and sorted(res.order) == sorted(Frame.columns)
    assert res.W.shape == (6, 6) and res.cpdag is not None
    assert set(res.graph.nodes) == set(Frame.columns)


def test_learn_gives_back_the_callers_blas_threads(tmp_path, monkeypatch):
    """The search runs with one BLAS thread (process_settings); `learn` restores what the caller had, here two."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from gfopt.problems.dag_topo.problem import DagTopoProblem

    def threads() -> set[int]:
        return {pool["num_threads"] for pool in threadpool_info()}

    seen = {}
    build = DagTopoProblem.__init__

    def spy(self, *a, **k):  # the setting just after the problem is built, inside the run
        build(self, *a, **k)
        seen["threads"] = threads()

    monkeypatch.setattr(DagTopoProblem, "__init__", spy)
    ds = simulate("ER", 2, 6, 60, "gauss", "linear", 4)
    with threadpool_limits(limits=2):
        learn(ds.X, seed=0, outdir=tmp_path)
        assert seen == {"threads": {1}}
        assert threads() == {2}
