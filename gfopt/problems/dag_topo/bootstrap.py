"""Bootstrap stability: rerun the search on row resamples and count how often each edge appears.

The usual way to judge which edges to believe: an edge found in 95% of resamples is supported by the data, one
found in 30% is not. Each resample is a fresh problem with the run's settings (score, knowledge, threshold) and
the default local search; resample k's rows and search come from child stream k of `bootstrap.seed`. A run saves the
counts after every resample, so a stopped bootstrap resumes where it stopped.
"""

from __future__ import annotations

import io
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from gfopt.core.checkpoint import atomic_write_bytes
from gfopt.errors import InputError

log = logging.getLogger(__name__)


def edge_frequencies(problem: Any, samples: int, seed: int, state_path: Path | None = None,
                     progress: bool = False) -> np.ndarray:
    """Fraction of `samples` row resamples whose (thresholded) result has edge i -> j.

    Resample k draws its rows and its search from its own stream (child k of `seed`), so the frequencies do not
    depend on where a run was stopped: with `state_path`, the edge counts are saved after every resample and a
    rerun continues from the first unfinished one.
    """
    from gfopt.core.engine import run
    from gfopt.core.local_search import LocalSearchEngine
    from gfopt.problems.dag_topo.data import Dataset
    from gfopt.problems.dag_topo.problem import DagTopoProblem

    X = problem.dataset.X
    counts, done = _load_counts(state_path, samples, seed, problem.d)
    if done:
        log.info("bootstrap: resuming at resample %d of %d from %s", done + 1, samples, state_path)
    else:
        log.info("bootstrap: %d row resamples", samples)
    streams = np.random.SeedSequence(seed).spawn(samples)
    bar = None
    if progress and done < samples:
        from tqdm.auto import tqdm

        bar = tqdm(total=samples, initial=done, desc="bootstrap", unit="resample", dynamic_ncols=True)
    try:
        for k in range(done, samples):
            rng = np.random.default_rng(streams[k])
            rows = rng.integers(0, len(X), size=len(X))
            ds = Dataset(X=X[rows], names=list(problem.names), source=f"{problem.dataset.source} (resample {k})")
            sub = DagTopoProblem(problem.name, data=problem.data_cfg, score=problem.score_cfg,
                                 search={**asdict(problem.search_cfg), "init": "random"},
                                 w_threshold=problem.w_threshold, dataset=ds, knowledge=problem.knowledge_cfg)
            res = run(sub, LocalSearchEngine(restarts=None), rng)
            counts += sub.thresholded(sub.fit(res.best).W) != 0
            if state_path is not None:
                _save_counts(state_path, counts, k + 1, samples, seed)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return counts / samples


def _load_counts(path: Path | None, samples: int, seed: int, d: int) -> tuple[np.ndarray, int]:
    """The saved counts and number of finished resamples, or zeros when there is no state for these settings."""
    if path is None or not path.exists():
        return np.zeros((d, d)), 0
    try:
        with np.load(path) as z:
            counts, done, meta = z["counts"], int(z["done"]), (int(z["samples"]), int(z["seed"]))
    except Exception as e:  # a file cut short or not ours: one line naming it and the fix
        raise InputError(f"{path}: bootstrap state cannot be read ({type(e).__name__}); delete it to redo the "
                         f"bootstrap") from None
    if meta != (samples, seed) or counts.shape != (d, d) or not 0 <= done <= samples:
        return np.zeros((d, d)), 0  # written for other settings (the run dir's config hash guards the rest)
    return counts.astype(float), done


def _save_counts(path: Path, counts: np.ndarray, done: int, samples: int, seed: int) -> None:
    buf = io.BytesIO()
    np.savez(buf, counts=counts, done=done, samples=samples, seed=seed)
    atomic_write_bytes(path, buf.getvalue())


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
