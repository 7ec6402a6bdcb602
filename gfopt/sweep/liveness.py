"""Which RUNNING trials still have a live worker: heartbeats written as a trial user attribute (a lease).

The same mechanism serves every shared storage (PostgreSQL, SQLite, journal files, which have no Optuna
heartbeats): while a batch runs, a thread writes `gfopt_beat` = the worker's clock (Unix seconds) into each of its
trials every `interval` seconds. A RUNNING trial whose last beat (or, before its first beat, whose start) is older
than `grace` seconds is stale: its worker died, was paused or lost the storage; any worker may mark it FAIL
(user attribute `gfopt_stale`) and run the slot again. Workers' clocks must agree to well within the grace period (NTP).

After this process saw the storage fail, it fails nobody for `interval + grace` seconds: the other workers' beats
were lost in the same outage, and they need one interval to beat again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from optuna.exceptions import UpdateFinishedTrialError
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from gfopt.sweep.retry import Outage

log = logging.getLogger("gfopt.sweep")

BEAT = "gfopt_beat"
STALE = "gfopt_stale"  # on a trial failed for its silence: "no heartbeat for N s"


@dataclass(frozen=True)
class Liveness:
    """Heartbeat settings: beat every `interval` seconds; a trial silent for `grace` seconds is stale."""

    interval: float
    grace: float

    @property
    def poll(self) -> float:
        """How often a waiting worker looks for stale trials."""
        return max(0.2, min(self.interval, 5.0))


def last_sign(trial: FrozenTrial) -> float:
    """Unix time of the trial's last heartbeat, or of its start when it has not beaten yet."""
    beat = trial.user_attrs.get(BEAT)
    if isinstance(beat, int | float):
        return float(beat)
    start = trial.datetime_start
    return start.timestamp() if start is not None else time.time()


def stale(trials: Sequence[FrozenTrial], grace: float, now: float | None = None) -> list[FrozenTrial]:
    """The RUNNING trials whose last sign of life is more than `grace` seconds old."""
    now = time.time() if now is None else now
    return [t for t in trials if t.state == TrialState.RUNNING and now - last_sign(t) > grace]


def fail_stale(study: Study, live: Liveness | None, outage: Outage | None = None) -> list[FrozenTrial]:
    """Mark stale trials FAIL (user attribute `gfopt_stale`); return those this call failed (as they were before).
    No-op without heartbeats."""
    if live is None:
        return []
    if outage is not None and outage.seconds_since() < live.interval + live.grace:
        return []  # everyone's beats were lost in the outage: give live workers time to beat again
    storage = study._storage
    failed = []
    for t in stale(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)), live.grace):
        try:
            silent = time.time() - last_sign(t)
            storage.set_trial_user_attr(t._trial_id, STALE, f"no heartbeat for {silent:.0f} s")
            storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        except UpdateFinishedTrialError:
            continue  # it finished, or another worker failed it first
        failed.append(t)
        log.warning("trial %d: no heartbeat for %.0f s (grace period %g s); marked FAIL, its slot runs again",
                    t.number, silent, live.grace)
    return failed


def beat(study: Study, trial_ids: Sequence[int]) -> None:
    """Write one heartbeat now for each trial id (raises what the storage raises)."""
    now = time.time()
    for i in trial_ids:
        study._storage.set_trial_user_attr(i, BEAT, now)


class Heartbeats:
    """Beat for `trial_ids` every `live.interval` seconds from a background thread while the batch runs.

    The thread writes through `storage` without retrying (a lost beat is replaced by the next one); failures are
    logged once per outage and recorded in `outage`. A trial finished elsewhere stops being beaten."""

    def __init__(self, storage: object, trial_ids: Sequence[int], live: Liveness | None,
                 outage: Outage | None = None) -> None:
        self.storage = storage
        self.ids = list(trial_ids)
        self.live = live
        self.outage = outage
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def _beat(self) -> None:
        assert self.live is not None
        failing = False
        while not self.stop.wait(self.live.interval):
            now = time.time()
            for i in list(self.ids):
                try:
                    self.storage.set_trial_user_attr(i, BEAT, now)  # type: ignore[attr-defined]
                    failing = False
                except UpdateFinishedTrialError:
                    self.ids.remove(i)  # failed elsewhere: its result will be refused, nothing to keep alive
                except Exception as e:  # the storage is down: the next beat tries again
                    if self.outage is not None:
                        self.outage.note()
                    if not failing:
                        log.warning("heartbeat failed (%s); retrying every %g s", " ".join(str(e).split())[:200],
                                    self.live.interval)
                    failing = True

    def __enter__(self) -> Heartbeats:
        if self.live is not None and self.ids:
            self.thread = threading.Thread(target=self._beat, name="gfopt-heartbeat", daemon=True)
            self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join()
