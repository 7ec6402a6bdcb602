"""Bootstrap stability: rerun the search on row resamples and count how often each edge appears.

The usual way to judge which edges to believe: an edge found in 95% of resamples is supported by the data, one
found in 30% is not. Each resample is a fresh problem with the run's settings (score, knowledge, threshold) and
the default local search; one generator, drawn from `bootstrap.seed`, decides the rows and the searches.
"""

from __future__ import annotations

import io
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from gfopt.core.checkpoint import atomic_write_bytes


def edge_frequencies(problem: Any, samples: int, seed: int) -> np.ndarray:
    """Fraction of `samples` row resamples whose (thresholded) result has edge i -> j."""
    from gfopt.core.engine import run
    from gfopt.core.local_search import LocalSearchEngine
    from gfopt.problems.dag_topo.data import Dataset
    from gfopt.problems.dag_topo.problem import DagTopoProblem

    rng = np.random.default_rng(seed)
    X = problem.dataset.X
    counts = np.zeros((problem.d, problem.d))
    for _ in range(samples):
        rows = rng.integers(0, len(X), size=len(X))
        ds = Dataset(X=X[rows], names=list(problem.names), source=f"{problem.dataset.source} (resample)")
        sub = DagTopoProblem(problem.name, data=problem.data_cfg, score=problem.score_cfg,
                             search={**asdict(problem.search_cfg), "init": "random"},
                             w_threshold=problem.w_threshold, dataset=ds, knowledge=problem.knowledge_cfg)
        res = run(sub, LocalSearchEngine(restarts=None), rng)
        counts += sub.thresholded(sub.fit(res.best).W) != 0
    return counts / samples


def draw_frequencies(freq: np.ndarray, names: list[str], path: Path) -> None:
    """Heat map of edge frequencies (row = parent, column = child)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = len(names)
    fig, ax = plt.subplots(figsize=(max(4, 0.25 * d + 2), max(4, 0.25 * d + 2)))
    im = ax.imshow(freq, vmin=0, vmax=1, cmap="viridis")
    if d <= 40:
        ax.set_xticks(range(d), names, rotation=90, fontsize=7)
        ax.set_yticks(range(d), names, fontsize=7)
    ax.set_xlabel("child")
    ax.set_ylabel("parent")
    fig.colorbar(im, ax=ax, label="edge frequency")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
