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
from gfopt.errors import ConfigError, InputError

log = logging.getLogger(__name__)


def edge_frequencies(problem: Any, samples: int, seed: int, state_path: Path | None = None,
                     progress: bool = False, workers: int = 1) -> np.ndarray:
    """Fraction of `samples` row resamples whose (thresholded) result has edge i -> j.

    Resample k draws its rows and its search from its own stream (child k of `seed`), so the frequencies depend
    neither on where a run was stopped nor on `workers` (resamples run in that many spawned processes, one BLAS
    thread each): with `state_path`, the edge counts and the finished resamples are saved after every resample and
    a rerun does only the unfinished ones.
    """
    X = problem.dataset.X
    counts, done = _load_counts(state_path, samples, seed, problem.d)
    todo = np.flatnonzero(~done).tolist()
    if done.any():
        log.info("bootstrap: resuming with %d of %d resamples done, from %s", done.sum(), samples, state_path)
    else:
        log.info("bootstrap: %d row resamples%s", samples, f" in {workers} processes" if workers > 1 else "")
    streams = np.random.SeedSequence(seed).spawn(samples)
    settings = resample_settings(problem)
    source = problem.dataset.source
    bar = None
    if progress and todo:
        from tqdm.auto import tqdm

        bar = tqdm(total=samples, initial=int(done.sum()), desc="bootstrap", unit="resample", dynamic_ncols=True)

    def finished(k: int, edges: np.ndarray) -> None:
        counts[:] += edges
        done[k] = True
        if state_path is not None:
            _save_counts(state_path, counts, done, samples, seed)
        if bar is not None:
            bar.update(1)

    try:
        if workers <= 1 or len(todo) <= 1:
            for k in todo:
                finished(k, resample_edges(X, list(problem.names), source, k, streams[k], settings))
        else:
            _run_pool(X, list(problem.names), source, todo, streams, settings, workers, finished)
    finally:
        if bar is not None:
            bar.close()
    return counts / samples


def resample_settings(problem: Any) -> dict[str, Any]:
    """The run's settings that every resample's problem is built with (picklable, for worker processes)."""
    return {"name": problem.name, "data": problem.data_cfg, "score": problem.score_cfg,
            "search": {**asdict(problem.search_cfg), "init": "random"}, "w_threshold": problem.w_threshold,
            "knowledge": problem.knowledge_cfg}


def resample_edges(X: np.ndarray, names: list[str], source: str, k: int, stream: np.random.SeedSequence,
                   settings: dict[str, Any]) -> np.ndarray:
    """Resample k: rows drawn from its stream, the default local search with the run's settings; its edges (0/1)."""
    from gfopt.core.engine import run
    from gfopt.core.local_search import LocalSearchEngine
    from gfopt.problems.dag_topo.data import Dataset
    from gfopt.problems.dag_topo.problem import DagTopoProblem

    rng = np.random.default_rng(stream)
    rows = rng.integers(0, len(X), size=len(X))
    ds = Dataset(X=X[rows], names=names, source=f"{source} (resample {k})")
    sub = DagTopoProblem(settings["name"], data=settings["data"], score=settings["score"], search=settings["search"],
                         w_threshold=settings["w_threshold"], dataset=ds, knowledge=settings["knowledge"],
                         resample=True)
    res = run(sub, LocalSearchEngine(restarts=None), rng)
    return (sub.thresholded(sub.fit(res.best).W) != 0).astype(float)


def _init_worker() -> None:
    """A bootstrap worker: one BLAS thread, and Ctrl-C left to the parent (which stops the pool)."""
    import signal

    from gfopt.core.evaluator import pin_threads

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    pin_threads(1)


def _run_pool(X: np.ndarray, names: list[str], source: str, todo: list[int], streams: list, settings: dict,
              workers: int, finished: Any, retries: int = 3) -> None:
    """The resamples `todo` in `workers` spawned processes; `finished(k, edges)` as each one ends. A worker that
    dies (killed, out of memory) costs only its resample: a new pool runs the unfinished ones, up to `retries`
    times, then one line names the setting to lower (the finished resamples are saved either way)."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    left = list(todo)
    for attempt in range(retries + 1):
        pool = ProcessPoolExecutor(min(workers, len(left)), mp_context=mp.get_context("spawn"),
                                   initializer=_init_worker)
        try:
            pending = {pool.submit(resample_edges, X, names, source, k, streams[k], settings): k for k in left}
            while pending:
                ended, _ = wait(pending, return_when=FIRST_COMPLETED)
                for f in sorted(ended, key=pending.get):
                    k = pending.pop(f)
                    finished(k, f.result())
                    left.remove(k)
            return
        except BrokenProcessPool:
            if attempt == retries:
                raise ConfigError(f"problem.bootstrap.workers: a worker process died {retries + 1} times (out of "
                                  f"memory?); the finished resamples are saved: run the same command with fewer "
                                  f"workers to resume") from None
            log.warning("bootstrap: a worker process died; %d resamples left, in new processes", len(left))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _load_counts(path: Path | None, samples: int, seed: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """The saved counts and which resamples they hold, or zeros when there is no state for these settings."""
    fresh = np.zeros((d, d)), np.zeros(samples, dtype=bool)
    if path is None or not path.exists():
        return fresh
    try:
        with np.load(path) as z:
            counts, done, meta = z["counts"], np.asarray(z["done"]), (int(z["samples"]), int(z["seed"]))
    except Exception as e:  # a file cut short or not ours: one line naming it and the fix
        raise InputError(f"{path}: bootstrap state cannot be read ({type(e).__name__}); delete it to redo the "
                         f"bootstrap") from None
    if done.ndim == 0:  # a state from before parallel resamples: the first `done` resamples
        done = np.arange(samples) < int(done) if 0 <= int(done) <= samples else None
    if meta != (samples, seed) or counts.shape != (d, d) or done is None or done.shape != (samples,):
        return fresh  # written for other settings (the run dir's config hash guards the rest)
    return counts.astype(float), done.astype(bool)


def _save_counts(path: Path, counts: np.ndarray, done: np.ndarray, samples: int, seed: int) -> None:
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
