"""The job's side of a sweep trial: report the engine's per-step best to the trial, prune, notice a lost trial.

The sweeper passes each job its study name and trial id in the environment variable `GFOPT_TRIAL` (JSON, set
through `hydra.job.env_set`, so it reaches jobs under the basic, joblib, submitit and Ray launchers alike); the
storage URL and pruner come from the job's own `hydra.sweeper` config, so no password is written into a log.

`TrialLink` is a run callback: after engine steps 1, 2, 4, 8, ... (powers of two: the same steps in every trial,
so pruners compare like with like, and a few storage writes per trial however fast the steps are) it reports the
step's best fitness as the trial's intermediate value and asks the pruner; a pruned run raises
`optuna.TrialPruned` at that step boundary (history and checkpoint are already written; the sweeper tells the
trial PRUNED). Every `check_s` seconds it also reads the trial: a trial failed elsewhere, or one whose sweeper has
not beaten for the grace period (killed, while its joblib or submitit jobs live on), stops the job, so orphaned
jobs of a killed sweeper do not run on for nothing.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from typing import Any

from gfopt.core.engine import Callback, Engine

log = logging.getLogger("gfopt.sweep")

ENV = "GFOPT_TRIAL"
MEMORY = "memory"
# in-memory studies of this process by name, so that jobs run in-process by the basic launcher find them
LOCAL_STUDIES: dict[str, Any] = {}  # name -> optuna.Study (optuna is imported only inside a sweep's jobs)


class TrialLost(RuntimeError):
    """The trial was finished elsewhere (failed as stale) while this job ran: its result would be refused."""


def link_env(study_name: str, trial_id: int, number: int) -> str:
    """The `GFOPT_TRIAL` value the sweeper hands to one job (with the sweeper's host and pid: a job in the sweeper's
    own process shares its heartbeat thread and never thinks itself orphaned)."""
    return json.dumps({"study": study_name, "trial_id": trial_id, "number": number, "sweeper": sweeper_id()},
                      sort_keys=True)


def sweeper_id() -> str:
    """This process, as `host:pid`."""
    return f"{socket.gethostname()}:{os.getpid()}"


def trial_callbacks() -> list[Callback]:
    """The run callbacks for a job launched by the gfopt sweeper (none outside a sweep)."""
    text = os.environ.get(ENV)
    if not text:
        return []
    try:
        from hydra.core.hydra_config import HydraConfig
        from omegaconf import OmegaConf

        sweeper = OmegaConf.to_container(HydraConfig.get().sweeper, resolve=True)
        interval = sweeper.get("heartbeat_interval")
        grace = sweeper.get("grace_period") or (2 * interval if interval else None)
        spec = {**json.loads(text), "storage": sweeper.get("storage") or MEMORY,
                "pruner": sweeper.get("pruner") or "none", "pruner_options": sweeper.get("pruner_options") or {},
                "check_s": interval or 10.0, "grace": grace if sweeper.get("storage") else None}
        return [TrialLink(spec)]
    except Exception as e:  # a broken link must not fail the run itself
        log.warning("%s is set but unusable (%s); this job reports nothing to its trial", ENV, e)
        return []


class TrialLink(Callback):
    """Report each step's best to the Optuna trial, prune when the pruner says so, stop when the trial is lost."""

    def __init__(self, spec: dict[str, Any]) -> None:
        import optuna

        from gfopt.sweep.pruners import make_pruner
        from gfopt.sweep.retry import Outage
        from gfopt.sweep.storage import open_storage

        self.number = int(spec["number"])
        self.check_s = float(10.0 if spec.get("check_s") is None else spec["check_s"])
        # seconds: a trial whose sweeper (in another process) stopped beating this long is orphaned
        self.grace = spec.get("grace") if spec.get("sweeper") != sweeper_id() else None
        self.outage = Outage()
        pruner = make_pruner(spec.get("pruner") or "none", spec.get("pruner_options"))
        if spec["storage"] == MEMORY:
            study = LOCAL_STUDIES.get(spec["study"])
            if study is None:
                raise RuntimeError("an in-memory study is only visible to jobs in the sweeper's process; "
                                   "use hydra.sweeper.storage=sqlite:///... or postgresql://...")
            storage = study._storage
        else:
            storage = open_storage(spec["storage"])
        # the job never samples: a random sampler keeps `Trial(...)` from building a TPE model
        self.study = optuna.load_study(study_name=spec["study"], storage=storage, pruner=pruner,
                                       sampler=optuna.samplers.RandomSampler())
        self.trial = optuna.trial.Trial(self.study, int(spec["trial_id"]))
        self.prunes = spec.get("pruner", "none") != "none"
        self._checked = time.monotonic()
        self._warned = False

    def on_step(self, engine: Engine, status: dict[str, Any]) -> None:
        import optuna
        from optuna.trial import TrialState

        from gfopt.sweep.liveness import last_sign

        try:
            step = int(status["step"])
            if self.prunes and step > 0 and step & (step - 1) == 0:
                best = float(status["best"])
                self.trial.report(best, step)
                if self.trial.should_prune():
                    log.info("trial %d pruned at step %d (best so far %.6g)", self.number, status["step"], best)
                    raise optuna.TrialPruned(f"trial {self.number} pruned at step {status['step']}")
            if time.monotonic() - self._checked >= self.check_s:
                self._checked = time.monotonic()
                frozen = self.study._storage.get_trial(self.trial._trial_id)
                if frozen.state != TrialState.RUNNING:
                    raise TrialLost(f"trial {self.number} is {frozen.state.name}: failed elsewhere after its "
                                    "heartbeat lapsed (was the sweeper killed?); this job stops")
                silent = time.time() - last_sign(frozen)
                if self.grace and silent > self.grace and \
                        self.outage.seconds_since() > self.check_s + self.grace:  # beats lost in an outage
                    raise TrialLost(f"trial {self.number}: its sweeper has not beaten for {silent:.0f} s (killed?); "
                                    "this job stops")
        except optuna.exceptions.UpdateFinishedTrialError:
            raise TrialLost(f"trial {self.number} was finished elsewhere while this job ran") from None
        except (optuna.TrialPruned, TrialLost):
            raise
        except Exception as e:  # the storage is down: the run goes on, its result waits in the sweeper
            self.outage.note()
            if not self._warned:
                log.warning("trial %d: cannot reach the study (%s); going on without reporting",
                            self.number, " ".join(str(e).split())[:200])
                self._warned = True
