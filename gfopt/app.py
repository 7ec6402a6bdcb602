"""The run pipeline behind `python -m gfopt`: config -> problem + engine -> run -> files in the run dir."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from gfopt.core.callbacks import Checkpoint, History, ProgressBar, StopOnInterrupt
from gfopt.core.checkpoint import atomic_write_json, atomic_write_text
from gfopt.core.engine import Budget, Callback, RunResult, run
from gfopt.core.evaluator import Evaluator, PoolEvaluator, make_evaluator
from gfopt.errors import ConfigError, InputError, RunInterrupted
from gfopt.pairing import check_pairing
from gfopt.rundir import RunDir
from gfopt.sweep.metrics import metric_values
from gfopt.sweep.trial_link import trial_callbacks

log = logging.getLogger("gfopt")

RESULT_FILE = "result.json"
HISTORY_FILE = "history.jsonl"
CHECKPOINT_FILE = "checkpoint.npz"


def config_hash(cfg: DictConfig) -> str:
    """Hash of everything that changes the search (the whole resolved config minus `hydra`)."""
    d = OmegaConf.to_container(cfg, resolve=True)
    d.pop("hydra", None)
    for k in ("resume", "progress", "checkpoint_every", "checkpoint_min_interval_s", "parallel"):
        d.pop(k, None)
    bootstrap = (d.get("problem") or {}).get("bootstrap")
    if isinstance(bootstrap, dict):  # how many processes run the resamples (same frequencies)
        bootstrap.pop("workers", None)
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


def validate(cfg: DictConfig) -> None:
    """Run every schema's value checks (dataclass `__post_init__`) before any work starts."""
    try:
        OmegaConf.to_object(cfg)
    except ConfigError:
        raise
    except Exception as e:  # omegaconf wraps errors raised inside __post_init__
        cause = e
        while cause is not None and not isinstance(cause, ConfigError):
            cause = cause.__cause__ or cause.__context__
        if cause is not None:
            raise cause from None
        raise


def execute(cfg: DictConfig, outdir: Path, engine_name: str | None = None,
            hydra_cfg: DictConfig | None = None) -> float | list[float]:
    """Run one configured search into `outdir`; return the objective (best fitness) as a float, or the
    result.json field(s) that `optimized_metric` names (a list for several).

    The engine is built first (cheap) and checked against the problem's space and the budget from the config,
    so a misfit is one line before the problem (data, zoo, model) is built. Every check (config, pairing, the run
    dir's lock, the checkpoint, the data) comes before the run dir changes; `hydra_cfg` (Hydra's own node) is
    written to `.hydra/` once the run is accepted, and a run dir this run made is removed again if it is refused.
    """
    with RunDir(Path(outdir)) as rundir:
        validate(cfg)
        engine = _build(cfg.engine, "engine")
        engine_name = engine_name or cfg.engine._target_.rsplit(".", 1)[-1]
        budget = Budget(**OmegaConf.to_container(cfg.budget))
        check_pairing(engine, engine_name, cfg.problem, budget)
        rundir.lock()
        par = OmegaConf.to_container(cfg.parallel)
        evaluator = make_evaluator(par.pop("kind"), OmegaConf.to_container(cfg.problem, resolve=True), **par)
        try:
            return _execute(cfg, rundir, engine, engine_name, budget, evaluator, hydra_cfg)
        finally:
            evaluator.close()


def _execute(cfg: DictConfig, rundir: RunDir, engine: Any, engine_name: str, budget: Budget,
             evaluator: Evaluator, hydra_cfg: DictConfig | None) -> float | list[float]:
    """Build the problem, run it and its comparisons, write the outputs."""
    outdir = rundir.path
    digest = config_hash(cfg)
    state = None
    if cfg.resume:  # another config's checkpoint, or one that cannot be read: one line, nothing changed
        _check_marker(outdir, digest)
        state = _checkpoint(outdir, cfg).load()
    problem = _build(cfg.problem, "problem")
    if isinstance(evaluator, PoolEvaluator):  # their start-up is not the search's time (it overlapped the build above)
        t0 = time.perf_counter()
        evaluator.ready()
        log.info("parallel: %d workers ready, %.1f s after the problem was built", evaluator.workers,
                 time.perf_counter() - t0)
    rng = np.random.default_rng(cfg.seed)
    rundir.accept(cfg, hydra_cfg)

    atomic_write_text(outdir / ".config_hash", digest)
    # a sweep's trial link (gfopt.sweep) reports the main run's steps to its Optuna trial and may prune it
    result = _run_in(outdir, problem, engine, rng, budget, cfg, str(cfg.problem.get("name", "gfopt")), evaluator,
                     state=state, extra=trial_callbacks())
    compared = {}
    for i, c in enumerate(problem.comparisons(result)):  # baselines: runs of their own, resumable one by one
        crng = np.random.default_rng([int(cfg.seed), 1000 + i])
        compared[c.name] = _run_in(outdir / "baselines" / c.name, c.problem, c.engine, crng, c.budget, cfg,
                                   f"baseline {c.name}", evaluator)

    problem.save(result.best, outdir / "best")
    extra = problem.finalize(result, outdir, compared)
    summary: dict[str, Any] = {
        "objective": float(result.best_fitness),
        "sense": problem.sense,
        "problem": cfg.problem.get("name"),
        "engine": engine_name,
        "seed": int(cfg.seed),
        "steps": result.steps,
        "evaluations": result.evaluations,
        "stopped_by": result.stopped_by,
        "config_hash": digest,
    }
    summary.update(engine.report())
    summary.update(extra)
    summary["wall_time_s"] = round(result.wall_time_s, 3)
    atomic_write_json(outdir / RESULT_FILE, summary)
    log.info("objective %.6g after %d steps, %d evaluations -> %s", result.best_fitness, result.steps,
             result.evaluations, outdir)
    return metric_values(summary, cfg.get("optimized_metric"))


def _build(node: DictConfig, key: str) -> Any:
    """Instantiate a `_target_` node; a bad argument becomes a one-line ConfigError naming the key."""
    try:
        return instantiate(node, _convert_="object")
    except InstantiationException as e:
        cause = e.__cause__
        if isinstance(cause, ConfigError | InputError):
            raise cause from None
        detail = str(cause or e).strip().splitlines()[0]
        raise ConfigError(f"{key}: cannot build {node.get('_target_')}: {detail}") from None


def _checkpoint(outdir: Path, cfg: DictConfig) -> Checkpoint:
    return Checkpoint(outdir / CHECKPOINT_FILE, every=cfg.checkpoint_every,
                      min_interval_s=cfg.checkpoint_min_interval_s)


def _run_in(outdir: Path, problem: Any, engine: Any, rng: np.random.Generator, budget: Budget, cfg: DictConfig,
            desc: str, evaluator: Evaluator, state: dict[str, Any] | None = None,
            extra: list[Callback] | None = None) -> RunResult:
    """One run with its own progress bar, history and checkpoint in `outdir` (resumed from it when allowed, or
    from `state` already read). Ctrl-C: the last finished step is saved and `RunInterrupted` says so."""
    outdir.mkdir(parents=True, exist_ok=True)
    ckpt = _checkpoint(outdir, cfg)
    if state is None and cfg.resume:
        state = ckpt.load()
    if state is not None:
        log.info("resuming from %s at step %d", ckpt.path, state["steps"])
    bar = ProgressBar(total=_total_steps(budget, engine), desc=desc, enabled=cfg.progress, budget=budget)
    stop = StopOnInterrupt()
    # extra (a sweep's trial link) after the checkpoint: a pruned trial stops with this step saved; stop last
    callbacks = [bar, History(outdir / HISTORY_FILE), ckpt, *(extra or []), stop]
    try:
        with stop.active():
            return run(problem, engine, rng, budget, callbacks, state=state, evaluator=evaluator)
    except KeyboardInterrupt:  # the callbacks keep the last finished step; the command prints one line
        for cb in callbacks:
            cb.on_interrupt(engine)
        raise RunInterrupted(engine.steps, ckpt.saved_step, None if desc == cfg.problem.get("name") else desc,
                             stop.signum) from None


def _total_steps(budget: Budget, engine: Any) -> int | None:
    """The most steps the run can take (budget or the engine's own cap), for the progress bar; None if unknown."""
    caps = [c for c in (budget.steps, engine.max_steps()) if c is not None]
    return min(caps) if caps else None


def _check_marker(outdir: Path, digest: str) -> None:
    """Refuse to resume a run dir whose checkpoint another configuration wrote."""
    marker = outdir / ".config_hash"
    if (outdir / CHECKPOINT_FILE).exists() and marker.exists() and marker.read_text().strip() != digest:
        raise ConfigError(
            f"resume: {outdir / CHECKPOINT_FILE} was written by a different configuration; "
            "use a new hydra.run.dir or pass resume=false to start over"
        )
