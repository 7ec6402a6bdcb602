"""The Hydra Sweeper: parse the search space, open the shared study, run the loop through the launcher, report."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger("gfopt.sweep")


class _LastLine:
    """A stderr stand-in that passes everything through and remembers the last line written."""

    def __init__(self, stream: Any) -> None:
        self.stream, self.last, self._buf = stream, "", ""

    def write(self, text: str) -> int:
        self._buf = (self._buf + text)[-4000:]
        lines = [ln for ln in self._buf.splitlines() if ln.strip()]
        if lines:
            self.last = lines[-1].strip()
        return self.stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


class TrialTask:
    """The task function, with `sys.exit(...)` inside a job turned into an error that fails only that trial
    (the message is the job's last stderr line, e.g. the app's one-line `gfopt: error: ...`)."""

    def __init__(self, fn: TaskFunction) -> None:
        self.fn = fn

    def __call__(self, cfg: DictConfig) -> Any:
        real, tee = sys.stderr, _LastLine(sys.stderr)
        sys.stderr = tee
        try:
            return self.fn(cfg)
        except SystemExit as e:
            said = f": {tee.last}" if tee.last else " (its error is in the job's log)"
            raise RuntimeError(f"the job exited with status {e.code}{said}") from None
        finally:
            sys.stderr = real


class GfoptOptunaSweeper(Sweeper):
    """Optuna sweeps over Hydra overrides; `n_trials` is the study's total, shared by every process."""

    def __init__(self, direction: Any = "minimize", n_trials: int = 20, n_jobs: int = 1,
                 study_name: str | None = None, storage: str | None = None, sampler: Any = None,
                 max_failure_rate: float = 0.0, heartbeat_interval: int | None = 10, grace_period: int | None = None,
                 baseline: bool = True, plots: bool = True, params: dict[str, Any] | None = None) -> None:
        self.direction = OmegaConf.to_container(direction) if OmegaConf.is_config(direction) else direction
        self.n_trials = n_trials
        self.n_jobs = n_jobs
        self.study_name = study_name
        self.storage_url = storage
        self.sampler_conf = dict(sampler or {})
        self.max_failure_rate = max_failure_rate
        self.heartbeat_interval = heartbeat_interval
        self.grace_period = grace_period
        self.baseline = baseline
        self.plots = plots
        self.params = dict(params or {})
        self.job_idx = 0
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.launcher: Any = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        from hydra.core.plugins import Plugins

        self.hydra_context = hydra_context
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=TrialTask(task_function), config=config)

    def sweep(self, arguments: list[str]) -> Any:
        """Run the sweep; a bad setting or too many failed trials ends it with one line on stderr."""
        from gfopt.core.config import ConfigError
        from gfopt.sweep.loop import SweepAborted

        try:
            return self._sweep(arguments)
        except ConfigError as e:
            print(f"gfopt: error: {e}", file=sys.stderr)
            sys.exit(2)
        except SweepAborted as e:
            print(f"gfopt: error: sweep aborted: {e}", file=sys.stderr)
            sys.exit(1)

    def _sweep(self, arguments: list[str]) -> Any:
        from gfopt.sweep.grammar import parse_search_space
        from gfopt.sweep.loop import enqueue_baseline, optimize
        from gfopt.sweep.report import write_results
        from gfopt.sweep.storage import redact

        assert self.config is not None
        self._check_settings()
        space = parse_search_space(self.params, arguments)
        study = self._open_study(space)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        if self.baseline and enqueue_baseline(study, space, self._defaults(space.dists)):
            log.info("trial 0 runs the configuration's own values (baseline)")
        try:
            stats = optimize(study, space, self.n_trials, self._run_batch, n_jobs=self.n_jobs,
                             max_failure_rate=self.max_failure_rate)
            done = sum(t.state.name in ("COMPLETE", "PRUNED") for t in study.get_trials(deepcopy=False))
            log.info("this process ran %d trial(s) (%d failed, %d surplus dropped); study %s has %d/%d complete",
                     stats.ran, stats.failed, stats.surplus, study.study_name, done, self.n_trials)
        finally:  # results so far, also when the sweep is aborted
            url = redact(self.storage_url) if self.storage_url else None
            log.info("results: %s", write_results(study, sweep_dir, url, self.plots))
        return study

    def _check_settings(self) -> None:
        from gfopt.core.config import check

        check(self.n_trials >= 1, "hydra.sweeper.n_trials", f"must be >= 1, got {self.n_trials}")
        check(self.n_jobs >= 1, "hydra.sweeper.n_jobs", f"must be >= 1, got {self.n_jobs}")
        check(0.0 <= self.max_failure_rate <= 1.0, "hydra.sweeper.max_failure_rate",
              f"must be in [0, 1], got {self.max_failure_rate}")
        unknown = set(self.sampler_conf) - {"name", "seed", "options"}
        check(not unknown, "hydra.sweeper.sampler", f"unknown key(s) {sorted(unknown)}; use name, seed, options")

    def _open_study(self, space: Any) -> Any:
        import optuna

        from gfopt.core.config import ConfigError
        from gfopt.sweep.samplers import directions_of, make_sampler
        from gfopt.sweep.storage import open_storage, redact

        directions = directions_of(self.direction)
        sampler = make_sampler(self.sampler_conf.get("name", "tpe"), self.sampler_conf.get("seed"),
                               self.sampler_conf.get("options"))
        storage = open_storage(self.storage_url, self.heartbeat_interval, self.grace_period)
        name = self.study_name or self._derived_name(space, directions)
        try:
            study = optuna.create_study(storage=storage, sampler=sampler, study_name=name,
                                        directions=[d.name.lower() for d in directions], load_if_exists=True)
        except Exception as e:
            raise ConfigError(f"hydra.sweeper.storage: cannot open study {name!r} in "
                              f"{redact(str(self.storage_url))}: {' '.join(str(e).split())}") from None
        if list(study.directions) != directions:
            raise ConfigError(f"hydra.sweeper.direction: study {name!r} was created with "
                              f"{[d.name.lower() for d in study.directions]}; use those or a new study_name")
        where = redact(self.storage_url) if self.storage_url else "memory"
        log.info("study %s in %s, sampler %r, directions %s, %d trial(s) already there", name, where, sampler,
                 [d.name.lower() for d in directions], len(study.trials))
        return study

    def _derived_name(self, space: Any, directions: Sequence[Any]) -> str:
        """Same command -> same study: a name from the job name and a digest of the search space."""
        assert self.config is not None
        desc = {"dists": {k: repr(v) for k, v in sorted(space.dists.items())}, "fixed": sorted(space.fixed.values()),
                "directions": [d.name for d in directions]}
        digest = hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest()[:10]
        job = str(self.config.hydra.job.name)
        job = "sweep" if job == "__main__" else re.sub(r"[^A-Za-z0-9_.-]+", "_", job).strip("_") or "sweep"
        return f"{job}-{digest}"

    def _defaults(self, names: Any) -> dict[str, Any]:
        """The configuration's own value for each swept key (a group's chosen option for a config group)."""
        assert self.config is not None
        choices = self.config.hydra.runtime.choices
        out: dict[str, Any] = {}
        for name in names:
            if name in choices:
                out[name] = choices[name]
                continue
            try:
                value = OmegaConf.select(self.config, name, default=None)
            except Exception:
                continue
            if value is not None and not OmegaConf.is_config(value):
                out[name] = value
        return out

    def _run_batch(self, overrides: list[list[str]], numbers: list[int]) -> list[Any]:
        """Launch one batch; each job's dir is named after its trial number so workers never collide."""
        from gfopt.sweep.loop import Outcome

        assert self.config is not None
        subdir = OmegaConf.to_container(self.config.hydra.sweep, resolve=False).get("subdir")
        jobs = []
        for ov, number in zip(overrides, numbers, strict=True):
            extra = []
            if isinstance(subdir, str) and "${hydra.job.num}" in subdir:
                extra = [f"hydra.sweep.subdir={subdir.replace('${hydra.job.num}', str(number))}"]
            jobs.append(list(ov) + extra)
        try:
            self.validate_batch_is_legal(jobs)
        except Exception as e:
            from gfopt.core.config import ConfigError

            raise ConfigError(f"hydra.sweeper.params: a trial's overrides do not compose "
                              f"({' '.join(str(e).split())}); check the swept keys and values") from None
        returns: Sequence[JobReturn] = self.launcher.launch(jobs, initial_job_idx=self.job_idx)
        self.job_idx += len(jobs)
        out = []
        for ret in returns:
            job_dir = OmegaConf.select(ret.hydra_cfg, "hydra.runtime.output_dir") if ret.hydra_cfg else None
            try:
                out.append(Outcome(value=ret.return_value, job_dir=job_dir))
            except Exception as e:
                out.append(Outcome(error=e, job_dir=job_dir))
        return out
