"""Evaluators: how `run` gets a batch's fitness. In process (the default), on worker processes, or on Ray actors.

The random generator stays in the engine, so the evaluator never changes a result. A parallel evaluator asks the
problem which part of a batch is worth sending (`Problem.remote_batch`: llm_evo's uncached genomes, dag_topo's
batches of swap moves), splits it into one contiguous chunk per worker, has each worker's own problem (built once
from the problem's config) score its chunk (`Problem.evaluate_remote`), and hands the results back to the problem
(`Problem.absorb`: llm_evo fills its cache with the per-task records, so the report is unchanged). A worker that
dies is replaced and the batch is sent again; a worker that cannot build the problem stops the run with one line.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from gfopt.core.operators import MoveBatch
from gfopt.core.problem import Genome, Problem
from gfopt.errors import ConfigError

log = logging.getLogger("gfopt")


class Evaluator:
    """In process: `problem.evaluate(batch)`."""

    workers = 1

    def __call__(self, problem: Problem, batch: Sequence[Genome]) -> np.ndarray:
        return problem.evaluate(batch)

    def ready(self) -> None:
        """Wait until every worker has built its problem (none here), so a run's time is the search alone."""

    def close(self) -> None:
        """Release workers (none here)."""


def split(work: Sequence[Genome], parts: int) -> list[Sequence[Genome]]:
    """Contiguous, order-keeping chunks (a MoveBatch stays a MoveBatch of the same base); empty ones dropped."""
    bounds = np.linspace(0, len(work), parts + 1).round().astype(int)
    chunks = []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        if hi > lo:
            chunks.append(MoveBatch(work.base, work.moves[lo:hi], work.neighbourhood) if isinstance(work, MoveBatch)
                          else list(work[lo:hi]))
    return chunks


def pin_threads(threads: int) -> None:
    """Limit BLAS/OpenMP (threadpoolctl) and torch to `threads`, so that workers never oversubscribe the machine."""
    from threadpoolctl import threadpool_limits

    os.environ["OMP_NUM_THREADS"] = str(threads)
    threadpool_limits(threads)
    import sys

    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


class ProblemWorker:
    """What runs inside a worker: the problem built once from its config, then chunks scored on request."""

    def __init__(self, problem_config: dict[str, Any], threads: int) -> None:
        pin_threads(threads)
        self.error: str | None = None
        self.problem: Problem | None = None
        try:
            from hydra.utils import instantiate

            self.problem = instantiate(problem_config, _convert_="object")
        except Exception as e:  # reported to the parent as one line on the first request
            cause = e.__cause__ or e
            self.error = f"{type(cause).__name__}: {str(cause).strip().splitlines()[0] if str(cause).strip() else ''}"

    def ready(self) -> bool:
        """True once built (a Ray actor answers after its constructor)."""
        return True

    def evaluate(self, chunk: Sequence[Genome]) -> tuple[np.ndarray, Any]:
        if self.error is not None:
            raise WorkerBuildError(self.error)
        return self.problem.evaluate_remote(chunk)


class WorkerBuildError(RuntimeError):
    """A worker could not build the problem (its message is the worker's error, one line)."""


class PoolEvaluator(Evaluator):
    """Base of the parallel evaluators: split, send, gather, absorb; `_map` is the transport."""

    def __init__(self, problem_config: dict[str, Any], workers: int, threads_per_worker: int | None) -> None:
        if workers < 1:
            raise ConfigError(f"parallel.workers: must be >= 1, got {workers}")
        self.problem_config = problem_config
        self.workers = int(workers)
        cores = os.cpu_count() or 1
        self.threads = int(threads_per_worker or max(1, cores // self.workers))
        self.replaced = 0

    def __call__(self, problem: Problem, batch: Sequence[Genome]) -> np.ndarray:
        work = problem.remote_batch(batch)
        if work is None or not len(work):
            return problem.evaluate(batch)
        chunks = split(work, self.workers)
        try:
            results = self._map(chunks)
        except WorkerBuildError as e:
            raise ConfigError(f"parallel: a worker could not build the problem: {e}") from None
        fitness = np.concatenate([np.asarray(f, float).reshape(-1) for f, _ in results])
        out = problem.absorb(work, fitness, [x for _, x in results])
        return problem.evaluate(batch) if out is None else out

    def _map(self, chunks: list[Sequence[Genome]]) -> list[tuple[np.ndarray, Any]]:
        raise NotImplementedError


# ---------------------------------------------------------------------------------------------- processes
_WORKER: ProblemWorker | None = None


def _init_process(problem_config: dict[str, Any], threads: int) -> None:
    global _WORKER
    _WORKER = ProblemWorker(problem_config, threads)


def _ready() -> bool:
    return _WORKER is not None


def _evaluate_in_process(chunk: Sequence[Genome]) -> tuple[np.ndarray, Any]:
    return _WORKER.evaluate(chunk)


class ProcessEvaluator(PoolEvaluator):
    """`workers` processes on this machine (spawned, each building its problem once); a dead one is replaced."""

    def __init__(self, problem_config: dict[str, Any], workers: int = 2, threads_per_worker: int | None = None,
                 retries: int = 3) -> None:
        super().__init__(problem_config, workers, threads_per_worker)
        self.retries = retries
        self.pool: Any = None
        self.started: list[Any] = []
        self._start()  # the workers build their problems now, while the parent builds its own

    def _start(self) -> None:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        self.pool = ProcessPoolExecutor(self.workers, mp_context=mp.get_context("spawn"), initializer=_init_process,
                                        initargs=(self.problem_config, self.threads))
        # one process is spawned per pending task
        self.started = [self.pool.submit(_ready) for _ in range(self.workers)]

    def ready(self) -> None:
        from concurrent.futures import wait

        wait(self.started)  # a worker that died here is replaced by the first batch

    def processes(self) -> list[Any]:
        """The live worker processes (for tests that kill one)."""
        return list(getattr(self.pool, "_processes", {}).values()) if self.pool is not None else []

    def _map(self, chunks: list[Sequence[Genome]]) -> list[tuple[np.ndarray, Any]]:
        from concurrent.futures.process import BrokenProcessPool

        for attempt in range(self.retries + 1):
            if self.pool is None:
                self._start()
            try:
                futures = [self.pool.submit(_evaluate_in_process, c) for c in chunks]
                return [f.result() for f in futures]
            except BrokenProcessPool:  # a worker died: new workers, the same batch again
                self.pool.shutdown(wait=False, cancel_futures=True)
                self.pool = None
                self.replaced += 1
                if attempt == self.retries:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


# ---------------------------------------------------------------------------------------------- ray
class RayEvaluator(PoolEvaluator):
    """`workers` Ray actors, each holding one problem (and `gpus_per_worker` GPUs); a dead actor is replaced.

    `address` null starts a local Ray; `auto` joins the cluster of this machine; `ray://host:10001` a remote one.
    """

    def __init__(self, problem_config: dict[str, Any], workers: int = 2, threads_per_worker: int | None = None,
                 gpus_per_worker: float = 0.0, address: str | None = None, retries: int = 3) -> None:
        super().__init__(problem_config, workers, threads_per_worker)
        try:
            import ray
        except ModuleNotFoundError:
            raise ConfigError("parallel=ray: the ray package is not installed; pip install 'gfopt[parallel]'") from None
        self.ray = ray
        self.gpus, self.retries = float(gpus_per_worker), retries
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True,
                     **({} if address else {"num_cpus": max(os.cpu_count() or 1, self.workers)}))
        self._actor_cls = ray.remote(num_cpus=min(self.threads, os.cpu_count() or 1), num_gpus=self.gpus)(ProblemWorker)
        self.actors = [self._new_actor() for _ in range(self.workers)]
        log.info("parallel=ray: %d actor(s) on the Ray cluster at %s", self.workers,
                 ray.get_runtime_context().gcs_address)

    def _new_actor(self) -> Any:
        return self._actor_cls.remote(self.problem_config, self.threads)

    def ready(self) -> None:
        self.ray.wait([a.ready.remote() for a in self.actors], num_returns=len(self.actors))

    def _map(self, chunks: list[Sequence[Genome]]) -> list[tuple[np.ndarray, Any]]:
        ray = self.ray
        out: list[Any] = [None] * len(chunks)
        todo = list(range(len(chunks)))
        for attempt in range(self.retries + 1):
            refs = {k: self.actors[k].evaluate.remote(chunks[k]) for k in todo}
            failed = []
            for k, ref in refs.items():
                try:
                    out[k] = ray.get(ref)
                except ray.exceptions.RayTaskError as e:
                    if isinstance(e.cause, WorkerBuildError):
                        raise e.cause from None
                    raise
                except ray.exceptions.RayActorError:  # the actor died: a new one, the same chunk again
                    self.actors[k] = self._new_actor()
                    self.replaced += 1
                    failed.append(k)
            if not failed:
                return out
            if attempt == self.retries:
                raise RuntimeError(f"parallel=ray: workers {failed} died {self.retries + 1} times")
            todo = failed
        raise AssertionError("unreachable")

    def close(self) -> None:
        for a in self.actors:
            self.ray.kill(a)
        self.actors = []


def make_evaluator(kind: str, problem_config: dict[str, Any], **settings: Any) -> Evaluator:
    """`serial`, `processes` or `ray`, from the `parallel` config group."""
    if kind == "serial":
        return Evaluator()
    if kind == "processes":
        return ProcessEvaluator(problem_config, settings["workers"], settings["threads_per_worker"])
    if kind == "ray":
        return RayEvaluator(problem_config, settings["workers"], settings["threads_per_worker"],
                            settings["gpus_per_worker"], settings["address"])
    raise ConfigError(f"parallel.kind: must be serial, processes or ray, got {kind!r}")
