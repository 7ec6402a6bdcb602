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

from hydra.core.utils import JobReturn, JobStatus
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
                 storage_retry_s: float = 300.0, pruner: str = "none", pruner_options: dict[str, Any] | None = None,
                 extend_study: bool = False, baseline: bool = True, plots: bool = True,
                 params: dict[str, Any] | None = None) -> None:
        self.direction = OmegaConf.to_container(direction) if OmegaConf.is_config(direction) else direction
        self.n_trials = n_trials
        self.n_jobs = n_jobs
        self.study_name = study_name
        self.storage_url = storage
        self.sampler_conf = dict(sampler or {})
        self.max_failure_rate = max_failure_rate
        self.heartbeat_interval = heartbeat_interval
        self.grace_period = grace_period
        self.storage_retry_s = storage_retry_s
        self.pruner = str(pruner)
        self.pruner_options = dict(pruner_options or {})
        self.extend_study = extend_study
        self.baseline = baseline
        self.plots = plots
        self.params = dict(params or {})
        self.job_idx = 0
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.launcher: Any = None
        self.study: Any = None
        self.outage: Any = None  # gfopt.sweep.retry.Outage, shared by the storage and the heartbeat threads
        self.sweep_dir = ""

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        from hydra.core.plugins import Plugins

        self.hydra_context = hydra_context
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=TrialTask(task_function), config=config)

    def sweep(self, arguments: list[str]) -> Any:
        """Run the sweep; a bad setting or too many failed trials ends it with one line on stderr."""
        from gfopt.core.config import ConfigError
        from gfopt.sweep.loop import SweepAborted, TotalNotReached
        from gfopt.sweep.retry import StorageLost

        try:
            return self._sweep(arguments)
        except ConfigError as e:
            print(f"gfopt: error: {e}", file=sys.stderr)
            sys.exit(2)
        except SweepAborted as e:
            print(f"gfopt: error: sweep aborted: {e}", file=sys.stderr)
            sys.exit(1)
        except TotalNotReached as e:
            print(f"gfopt: error: sweep incomplete: {e}", file=sys.stderr)
            sys.exit(1)
        except StorageLost as e:
            print(f"gfopt: error: hydra.sweeper.storage: {e}; re-run the command to continue the sweep",
                  file=sys.stderr)
            sys.exit(1)

    def _sweep(self, arguments: list[str]) -> Any:
        from gfopt.sweep.grammar import parse_search_space
        from gfopt.sweep.liveness import Liveness
        from gfopt.sweep.loop import drop_duplicate_baselines, enqueue_baseline, optimize
        from gfopt.sweep.report import write_results
        from gfopt.sweep.retry import Outage, StorageLost
        from gfopt.sweep.samplers import EXHAUSTIVE, grid_size
        from gfopt.sweep.storage import redact
        from gfopt.sweep.trial_link import LOCAL_STUDIES

        assert self.config is not None
        self._check_settings()
        space = parse_search_space(self.params, arguments)
        self.outage = Outage()
        study = self._open_study(space)
        n_trials = self.n_trials
        exhaustive = str(self.sampler_conf.get("name", "tpe")).lower() in EXHAUSTIVE
        if exhaustive and grid_size(space.dists) < n_trials:
            n_trials = grid_size(space.dists)
            log.info("the grid has %d point(s): the study's total is %d, not n_trials=%d", n_trials, n_trials,
                     self.n_trials)
        if self.storage_url is None:
            LOCAL_STUDIES[study.study_name] = study  # in-process jobs report to it
        self.study = study
        # resolved once here: a job in another process (submitit, joblib, Ray) would resolve `${now:}`/`${pid:}`
        # again and write beside the sweep dir instead of inside it
        self.sweep_dir = str(self.config.hydra.sweep.dir)
        sweep_dir = Path(self.sweep_dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        # a grid visits the configuration's own point anyway; queued, it would run twice and push a point out
        if self.baseline and not exhaustive and enqueue_baseline(study, space, self._defaults(space.dists)):
            log.info("the configuration's own values are queued as the baseline trial")
        drop_duplicate_baselines(study)
        live = None
        if self.storage_url is not None and self.heartbeat_interval is not None:
            interval = float(self.heartbeat_interval)
            live = Liveness(interval, float(self.grace_period) if self.grace_period is not None else 2 * interval)
        lost = False
        try:
            stats = optimize(study, space, n_trials, self._run_batch, n_jobs=self.n_jobs,
                             max_failure_rate=self.max_failure_rate, live=live, outage=self.outage)
            done = sum(t.state.name in ("COMPLETE", "PRUNED") for t in study.get_trials(deepcopy=False))
            log.info("this process ran %d trial(s) (%d failed, %d pruned, %d surplus dropped, %d refused as failed "
                     "elsewhere, %d stale failed); study %s has %d/%d complete or pruned", stats.ran, stats.failed,
                     stats.pruned, stats.surplus, stats.lost, stats.stale, study.study_name, done, n_trials)
        except StorageLost:
            lost = True  # no results file: reading the study would wait out the outage a second time
            raise
        finally:  # results so far, also when the sweep is aborted
            url = redact(self.storage_url) if self.storage_url else None
            try:
                if not lost:
                    log.info("results: %s", write_results(study, sweep_dir, url, self.plots))
            except Exception as e:  # the storage may be what failed; the original error is the one to show
                log.warning("no %s: %s", "optimization_results.yaml", " ".join(str(e).split())[:300])
        return study

    def _check_settings(self) -> None:
        from gfopt.core.config import check
        from gfopt.sweep.pruners import make_pruner

        check(self.n_trials >= 1, "hydra.sweeper.n_trials", f"must be >= 1, got {self.n_trials}")
        check(self.n_jobs >= 1, "hydra.sweeper.n_jobs", f"must be >= 1, got {self.n_jobs}")
        check(0.0 <= self.max_failure_rate <= 1.0, "hydra.sweeper.max_failure_rate",
              f"must be in [0, 1], got {self.max_failure_rate}")
        unknown = set(self.sampler_conf) - {"name", "seed", "options"}
        check(not unknown, "hydra.sweeper.sampler", f"unknown key(s) {sorted(unknown)}; use name, seed, options")
        interval, grace = self.heartbeat_interval, self.grace_period
        check(interval is None or interval > 0, "hydra.sweeper.heartbeat_interval",
              f"must be positive or null, got {interval}")
        if grace is not None:
            check(interval is not None, "hydra.sweeper.grace_period", "needs heartbeats: set heartbeat_interval")
            check(grace > interval, "hydra.sweeper.grace_period",
                  f"must exceed heartbeat_interval={interval} (got {grace}), or workers fail each other's live "
                  "trials; 2-3 x the interval is usual")
        check(self.storage_retry_s >= 0, "hydra.sweeper.storage_retry_s", f"must be >= 0, got {self.storage_retry_s}")
        make_pruner(self.pruner, self.pruner_options)  # a bad name or option fails here, before any trial
        if self.pruner != "none":
            assert self.config is not None
            launcher = str(OmegaConf.select(self.config, "hydra.launcher._target_", default="") or "")
            check(self.storage_url is not None or launcher.endswith("BasicLauncher"), "hydra.sweeper.pruner",
                  f"jobs of {launcher.rsplit('.', 1)[-1]} run in other processes and cannot reach an in-memory "
                  "study; set hydra.sweeper.storage (e.g. sqlite:///sweeps.db)")
            check(len(self._metrics()) == 1 and self._metrics()[0] == "objective", "hydra.sweeper.pruner",
                  "prunes on the engine's per-step best, i.e. optimized_metric=objective with one direction; "
                  "use pruner=none for other or several metrics")

    def _metrics(self) -> list[str]:
        """The result.json fields the sweep optimizes (`optimized_metric`; default: objective)."""
        assert self.config is not None
        metric = self.config.get("optimized_metric")
        if metric is None:
            return ["objective"]
        if isinstance(metric, str):
            return [metric]
        return [str(m) for m in metric]

    def _open_study(self, space: Any) -> Any:
        import optuna

        from gfopt.core.config import ConfigError, check
        from gfopt.sweep.identity import guard, identity
        from gfopt.sweep.samplers import directions_of, make_sampler
        from gfopt.sweep.storage import open_storage, redact

        assert self.config is not None
        directions = directions_of(self.direction)
        metrics = self._metrics()
        check(len(metrics) == len(directions), "optimized_metric",
              f"names {len(metrics)} field(s) {metrics} but hydra.sweeper.direction has {len(directions)}; give "
              "one direction per metric")
        check(self.pruner == "none" or len(directions) == 1, "hydra.sweeper.pruner",
              "Optuna prunes single-objective studies only; use pruner=none")
        sampler = make_sampler(self.sampler_conf.get("name", "tpe"), self.sampler_conf.get("seed"),
                               self.sampler_conf.get("options"), space=space.dists)
        storage = open_storage(self.storage_url, self.storage_retry_s, self.outage)
        name = self.study_name or self._derived_name(space, directions)
        try:
            study = optuna.create_study(storage=storage, sampler=sampler, study_name=name,
                                        directions=[d.name.lower() for d in directions], load_if_exists=True)
        except ConfigError:
            raise
        except Exception as e:
            raise ConfigError(f"hydra.sweeper.storage: cannot open study {name!r} in "
                              f"{redact(str(self.storage_url))}: {' '.join(str(e).split())}") from None
        if list(study.directions) != directions:
            raise ConfigError(f"hydra.sweeper.direction: study {name!r} was created with "
                              f"{[d.name.lower() for d in study.directions]}; use those or a new study_name")
        metric = self.config.get("optimized_metric")
        metric = OmegaConf.to_container(metric) if OmegaConf.is_config(metric) else metric
        problem = OmegaConf.select(self.config, "problem.name", default=None)
        guard(study, identity(space, [d.name.lower() for d in directions], metric, problem), space,
              self.extend_study)
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

    def _run_batch(self, overrides: list[list[str]], trials: list[Any]) -> list[Any]:
        """Launch one batch. Job dirs are `<sweep dir>/<study>/<trial number>` (when `hydra.sweep.subdir` is the
        default `${hydra.job.num}`), so workers and studies sharing a sweep dir never collide; each job gets its
        trial's link (`GFOPT_TRIAL`) in its environment through `hydra.job.env_set`."""
        from gfopt.sweep.grammar import format_value
        from gfopt.sweep.loop import Outcome
        from gfopt.sweep.trial_link import ENV, link_env

        assert self.config is not None and self.study is not None
        subdir = OmegaConf.to_container(self.config.hydra.sweep, resolve=False).get("subdir")
        folder = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.study.study_name).strip("_") or "study"
        jobs = []
        for ov, trial in zip(overrides, trials, strict=True):
            extra = [f"hydra.sweep.dir={format_value(self.sweep_dir)}"]
            if isinstance(subdir, str) and "${hydra.job.num}" in subdir:
                extra.append(f"hydra.sweep.subdir={subdir.replace('${hydra.job.num}', f'{folder}/{trial.number}')}")
            link = link_env(self.study.study_name, trial._trial_id, trial.number)
            extra.append(f"++hydra.job.env_set.{ENV}={format_value(link)}")
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
            if ret.status == JobStatus.FAILED:  # read the error without Hydra's "Error executing job" log line
                out.append(Outcome(error=ret._return_value, job_dir=job_dir))
            else:
                out.append(Outcome(value=ret.return_value, job_dir=job_dir))
        return out
