"""The run pipeline behind `python -m gfopt`: config -> problem + engine -> run -> files in the run dir."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from gfopt.core.callbacks import Checkpoint, History, ProgressBar
from gfopt.core.checkpoint import atomic_write_json, atomic_write_text
from gfopt.core.config import ConfigError
from gfopt.core.engine import Budget, run
from gfopt.errors import InputError, RunInterrupted
from gfopt.rundir import RunDir

log = logging.getLogger("gfopt")

RESULT_FILE = "result.json"
HISTORY_FILE = "history.jsonl"
CHECKPOINT_FILE = "checkpoint.npz"


def config_hash(cfg: DictConfig) -> str:
    """Hash of everything that changes the search (the whole resolved config minus `hydra`)."""
    d = OmegaConf.to_container(cfg, resolve=True)
    d.pop("hydra", None)
    for k in ("resume", "progress", "checkpoint_every", "checkpoint_min_interval_s"):
        d.pop(k, None)
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


def execute(cfg: DictConfig, outdir: Path, hydra_cfg: DictConfig | None = None) -> float:
    """Run one configured search into `outdir`; return the objective (best fitness) as a float.

    Every check (config values, the run dir's lock, the checkpoint, the data) comes before the run dir changes;
    `hydra_cfg` (Hydra's own node) is written to `.hydra/` once the run is accepted.
    """
    with RunDir(Path(outdir)) as rundir:
        validate(cfg)
        rundir.lock()
        return _execute(cfg, rundir, hydra_cfg)


def _execute(cfg: DictConfig, rundir: RunDir, hydra_cfg: DictConfig | None) -> float:
    outdir = rundir.path
    digest = config_hash(cfg)
    ckpt = Checkpoint(outdir / CHECKPOINT_FILE, every=cfg.checkpoint_every,
                      min_interval_s=cfg.checkpoint_min_interval_s)
    state = _resume_state(ckpt, digest) if cfg.resume else None
    problem = _build(cfg.problem, "problem")
    engine = _build(cfg.engine, "engine")
    rng = np.random.default_rng(cfg.seed)
    rundir.accept(cfg, hydra_cfg)
    if state is not None:
        log.info("resuming from %s at step %d", ckpt.path, state["steps"])
    atomic_write_text(outdir / ".config_hash", digest)
    budget = Budget(**OmegaConf.to_container(cfg.budget))
    bar = ProgressBar(total=_total_steps(budget, engine), desc=str(cfg.problem.get("name", "gfopt")),
                      enabled=cfg.progress, budget=budget)
    callbacks = [bar, History(outdir / HISTORY_FILE), ckpt]
    try:
        result = run(problem, engine, rng, budget, callbacks, state=state)
    except KeyboardInterrupt:  # Ctrl-C: the callbacks keep the last finished step; the caller prints one line
        saved = [cb.on_interrupt(engine) for cb in callbacks]
        raise RunInterrupted(engine.steps, any(saved)) from None

    problem.save(result.best, outdir / "best")
    extra = problem.finalize(result, outdir)
    summary: dict[str, Any] = {
        "objective": float(result.best_fitness),
        "sense": problem.sense,
        "problem": cfg.problem.get("name"),
        "engine": cfg.engine._target_.rsplit(".", 1)[-1],
        "seed": int(cfg.seed),
        "steps": result.steps,
        "evaluations": result.evaluations,
        "stopped_by": result.stopped_by,
        "config_hash": digest,
    }
    summary.update(extra)
    summary["wall_time_s"] = round(result.wall_time_s, 3)
    atomic_write_json(outdir / RESULT_FILE, summary)
    log.info("objective %.6g after %d steps, %d evaluations -> %s", result.best_fitness, result.steps,
             result.evaluations, outdir)
    return float(result.best_fitness)


def _total_steps(budget: Budget, engine: Any) -> int | None:
    """The most steps the run can take (budget or the engine's own cap), for the progress bar; None if unknown."""
    caps = [c for c in (budget.steps, engine.max_steps()) if c is not None]
    return min(caps) if caps else None


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


def _resume_state(ckpt: Checkpoint, digest: str) -> dict[str, Any] | None:
    state = ckpt.load()
    if state is None:
        return None
    marker = ckpt.path.parent / ".config_hash"
    if marker.exists() and marker.read_text().strip() != digest:
        raise ConfigError(
            f"resume: {ckpt.path} was written by a different configuration; "
            "use a new hydra.run.dir or pass resume=false to start over"
        )
    return state
