"""The launcher: a sweep's batch becomes Ray tasks, one per job, each running Hydra's `run_job` on a worker."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, run_job, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, open_dict

log = logging.getLogger(__name__)


def _run_on_worker(hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig,
                   singleton_state: dict[Any, Any]) -> JobReturn:
    """One job on a Ray worker: Hydra's global state as the sweeper had it, then the job in its own dir."""
    setup_globals()
    Singleton.set_state(singleton_state)
    HydraConfig.instance().set_config(config)
    return run_job(hydra_context=hydra_context, task_function=task_function, config=config,
                   job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")


class GfoptRayLauncher(Launcher):
    """Jobs as Ray tasks reserving `cpus_per_job`/`gpus_per_job`; `address` null starts a local Ray. A job whose
    worker dies is run again up to `max_retries` times (gfopt resumes it from the checkpoint in its job dir), then
    reported as a failed job, so the sweeper fails that trial and goes on."""

    def __init__(self, address: str | None = None, cpus_per_job: float = 1.0, gpus_per_job: float = 0.0,
                 max_retries: int = 1) -> None:
        self.address, self.cpus, self.gpus = address, float(cpus_per_job), float(gpus_per_job)
        self.max_retries = int(max_retries)
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.task_function: TaskFunction | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config, self.hydra_context, self.task_function = config, hydra_context, task_function

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        """Submit every job of the batch, then wait for all; results in the batch's order."""
        try:
            import ray
        except ModuleNotFoundError:
            raise RuntimeError("hydra/launcher=gfopt_ray: the ray package is not installed; "
                               "pip install 'gfopt[parallel]'") from None
        assert self.config is not None and self.hydra_context is not None
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False,
                     **({} if self.address else {"num_cpus": os.cpu_count() or 1}))
        remote = ray.remote(num_cpus=self.cpus, num_gpus=self.gpus, max_retries=self.max_retries)(_run_on_worker)
        sweep_dir = Path(str(self.config.hydra.sweep.dir)).absolute()  # a worker's cwd need not be ours
        sweep_dir.mkdir(parents=True, exist_ok=True)
        log.info("Ray launcher: %d job(s) on %s, sweep dir %s", len(job_overrides),
                 self.address or "a local Ray", sweep_dir)
        refs, configs = [], []
        for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
            log.info("\t#%d : %s", idx, " ".join(filter_overrides(list(overrides))))
            config = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            with open_dict(config):
                config.hydra.job.id = f"ray_{idx}"
                config.hydra.job.num = idx
                config.hydra.sweep.dir = str(sweep_dir)
            configs.append(config)
            refs.append(remote.remote(self.hydra_context, self.task_function, config, Singleton.get_state()))
        returns = []
        for ref, overrides, config in zip(refs, job_overrides, configs, strict=True):
            try:
                returns.append(ray.get(ref))
            except ray.exceptions.RayError as e:  # the worker died more than max_retries times
                error = RuntimeError(f"its Ray worker died {self.max_retries + 1} time(s) "
                                     f"({type(e).__name__}); hydra.launcher.max_retries={self.max_retries}")
                returns.append(JobReturn(overrides=list(overrides), cfg=config, status=JobStatus.FAILED,
                                         _return_value=error))
        return returns
