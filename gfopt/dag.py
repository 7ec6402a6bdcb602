"""Python API for DAG structure learning: `learn(X)` runs the same pipeline as `python -m gfopt problem=dag_topo`.

It composes the Hydra config with the given settings, writes the data to the run directory, calls the CLI's
`gfopt.app.execute`, and reads the run's files back, so a notebook and the command line give the same result for
the same data and seed (there is no second implementation).

    from gfopt.dag import learn
    res = learn(df, score="bic", knowledge={"forbidden": ["age->sex"]}, seed=0)
    res.graph.edges(data=True); res.W; res.order; res.metrics
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gfopt.core.checkpoint import atomic_write_text


@dataclass
class DagResult:
    """A learned DAG: thresholded weights `W` (W[i, j]: edge i -> j), the unthresholded fit `W_raw`, the order
    (node names), a networkx DiGraph on node names, metrics when the truth is known, and the run's result.json."""

    W: np.ndarray
    W_raw: np.ndarray
    names: list[str]
    order: list[str]
    result: dict[str, Any]
    outdir: Path
    cpdag: np.ndarray | None = None
    edge_frequencies: np.ndarray | None = field(default=None, repr=False)

    @property
    def graph(self):  # noqa: ANN201 (networkx.DiGraph)
        """The thresholded graph with node names and `weight` edge attributes."""
        import networkx as nx

        G = nx.DiGraph()
        G.add_nodes_from(self.names)
        for i, j in zip(*np.nonzero(self.W), strict=True):
            G.add_edge(self.names[i], self.names[j], weight=float(self.W[i, j]))
        return G

    @property
    def metrics(self) -> dict[str, Any] | None:
        """SHD / TPR / FDR / FPR / NNZ (and CPDAG SHD for bic) when the data carried the true graph."""
        return self.result.get("metrics")

    @property
    def score(self) -> float:
        return float(self.result["score"])


def _write_csv(X: np.ndarray, names: Sequence[str], path: Path) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(list(names))
    for row in X:
        w.writerow([repr(float(x)) for x in row])
    atomic_write_text(path, buf.getvalue())


def _read_csv_matrix(path: Path) -> np.ndarray:
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    return np.array([[float(x) for x in r[1:]] for r in rows[1:]])


def learn(data: Any, score: str = "least_squares", knowledge: dict[str, Any] | None = None, seed: int = 0,
          outdir: str | Path | None = None, overrides: Sequence[str] = (), **problem: Any) -> DagResult:
    """Learn a DAG from `data`: an n x d array, a pandas DataFrame (column names become node names) or a path
    (.csv / .npy / .npz, as `problem.data.path`).

    score: least_squares (default: sparse parents, BIC penalty), bic (unit-free; CPDAG too), logistic, mlp.
    knowledge: {"required": ["a->b"], "forbidden": [...], "tiers": [[...], [...]]} by names or indices.
    problem: other `problem.*` keys as nested dicts, e.g. data={"standardize": True}, bootstrap={"samples": 20}.
    overrides: extra Hydra overrides as on the command line (e.g. "engine.restarts=0").
    outdir: the run directory (a new temporary one when None); it holds the same files as a CLI run.
    """
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf, open_dict

    from gfopt.__main__ import conf_dir
    from gfopt.app import execute
    from gfopt.config import register_configs
    from gfopt.problems.dag_topo.process_settings import restore_search_settings

    out = Path(outdir) if outdir is not None else Path(tempfile.mkdtemp(prefix="gfopt_dag_"))
    out.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str | Path):
        path = Path(data).resolve()
    else:
        names = [str(c) for c in data.columns] if hasattr(data, "columns") else None
        X = np.asarray(data, dtype=float)
        if X.ndim != 2:
            raise ValueError(f"data: expected an n x d array, got shape {X.shape}")
        path = out / "data.csv"
        _write_csv(X, names or [f"x{i}" for i in range(X.shape[1])], path)
    register_configs()
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["problem=dag_topo", f"problem.data.path={path}",
                                                       f"problem.score.type={score}", f"seed={int(seed)}",
                                                       "progress=false", *overrides], return_hydra_config=True)
    engine_name = cfg.hydra.runtime.choices.get("engine")  # the CLI reports the engine by its config name
    with open_dict(cfg):
        del cfg["hydra"]
        for key, value in (knowledge or {}).items():
            cfg.problem.knowledge[key] = OmegaConf.create(list(value))
        for section, values in problem.items():
            if isinstance(values, dict):
                for key, value in values.items():
                    cfg.problem[section][key] = value
            else:
                cfg.problem[section] = values
    try:
        execute(cfg, out, engine_name=engine_name)
    finally:
        restore_search_settings()
    result = json.loads((out / "result.json").read_text())
    W = _read_csv_matrix(out / "W_est.csv")
    with (out / "W_est.csv").open(newline="") as f:
        names = next(csv.reader(f))[1:]
    cpdag = _read_csv_matrix(out / "cpdag.csv").astype(int) if (out / "cpdag.csv").exists() else None
    freq = _read_csv_matrix(out / "edge_frequencies.csv") if (out / "edge_frequencies.csv").exists() else None
    return DagResult(W=W, W_raw=np.load(out / "W_raw.npy"), names=names, order=list(result["order_names"]),
                     result=result, outdir=out, cpdag=cpdag, edge_frequencies=freq)
