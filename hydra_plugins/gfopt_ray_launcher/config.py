"""Structured config of the launcher, stored as `hydra/launcher=gfopt_ray` (importing this module registers it)."""

from dataclasses import dataclass

from hydra.core.config_store import ConfigStore


@dataclass
class GfoptRayLauncherConf:
    """`hydra.launcher.*`: where the cluster is and what one job reserves on it (docs/parallel.md)."""

    _target_: str = "hydra_plugins.gfopt_ray_launcher.launcher.GfoptRayLauncher"
    address: str | None = None  # null: a local Ray; auto: this node's cluster; ray://host:10001: a remote one
    cpus_per_job: float = 1.0  # 0 for jobs with parallel=ray, whose actors hold the CPUs while the job waits
    gpus_per_job: float = 0.0
    max_retries: int = 1  # a job whose Ray worker dies runs again (resuming from its checkpoint in its job dir)


ConfigStore.instance().store(group="hydra/launcher", name="gfopt_ray", node=GfoptRayLauncherConf, provider="gfopt")
