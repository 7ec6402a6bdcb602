"""The ask -> launch -> tell loop that several processes can run against one study and stop at one total.

`n_trials` is the study's total of trials that are COMPLETE, PRUNED, RUNNING or WAITING, whoever runs them.
Before each ask a process fails stale trials (dead workers, via Optuna heartbeats) and counts that total; after
each ask it ranks its trial among those counted by trial number, so when two processes race for the last slot
the higher number loses: it is told FAIL with user attr `gfopt_outcome=surplus` and never runs. Failed trials do
not count, so their slots are run again (bounded by `max_failure_rate`), and re-running a sweep tops the study up.
"""

from __future__ import annotations

import logging
import math
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.study import Study
from optuna.trial import FrozenTrial, Trial, TrialState

from gfopt.sweep.grammar import SearchSpace

log = logging.getLogger("gfopt.sweep")

COUNTED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
OUTCOME = "gfopt_outcome"  # user attr: "error" (the job raised), "surplus" (overshot the total), "baseline"
JOB_DIR = "job_dir"


class SweepAborted(RuntimeError):
    """Too many trials failed (`max_failure_rate`): the message says how many and the last error."""


@dataclass
class Outcome:
    """What one job gave back: its return value, or the error it raised, and where it wrote."""

    value: Any = None
    error: BaseException | None = None
    job_dir: str | None = None


@dataclass
class SweepStats:
    """What this process did: trials it ran, that failed, and that it dropped as surplus."""

    ran: int = 0
    failed: int = 0
    surplus: int = 0
    trial_numbers: list[int] = field(default_factory=list)


RunBatch = Callable[[list[list[str]], list[int]], Sequence[Outcome]]


def counted(trials: Sequence[FrozenTrial]) -> int:
    """Trials that take a slot of the total: complete, pruned, running or waiting."""
    return sum(t.state in COUNTED for t in trials)


def overshoots(study: Study, number: int, n_trials: int) -> bool:
    """True when trial `number` ranks past `n_trials` among counted trials ordered by number."""
    trials = study.get_trials(deepcopy=False)
    rank = sum(t.state in COUNTED and t.number <= number for t in trials)
    return rank > n_trials


def values_of(value: Any, n_objectives: int) -> list[float]:
    """The job's return value as `n_objectives` finite floats, or ValueError saying what was wrong."""
    items = list(value) if isinstance(value, list | tuple) or type(value).__name__ == "ListConfig" else [value]
    if len(items) != n_objectives:
        raise ValueError(f"the task returned {value!r}; the sweep has {n_objectives} objective(s)")
    try:
        out = [float(v) for v in items]
    except (TypeError, ValueError):
        raise ValueError(f"the task returned {value!r}, not a float") from None
    if not all(math.isfinite(v) for v in out):
        raise ValueError(f"the task returned a non-finite objective {out}")
    return out


class Heartbeats:
    """Record Optuna heartbeats for the trials in flight, from a background thread (RDB storages only)."""

    def __init__(self, study: Study, trials: Sequence[Trial]) -> None:
        storage = study._storage
        self.interval = storage.get_heartbeat_interval() if hasattr(storage, "get_heartbeat_interval") else None
        self.storage = storage
        self.ids = [t._trial_id for t in trials]  # Optuna has no public trial id; heartbeats are keyed by it
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def _beat(self) -> None:
        while True:
            for i in self.ids:
                try:
                    self.storage.record_heartbeat(i)
                except Exception as e:  # a transient database error must not kill the sweep
                    log.warning("heartbeat for trial id %d failed: %s", i, e)
            if self.stop.wait(self.interval):
                return

    def __enter__(self) -> Heartbeats:
        if self.interval:
            self.thread = threading.Thread(target=self._beat, name="gfopt-heartbeat", daemon=True)
            self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join()


def fail_stale(study: Study) -> None:
    """Mark trials of dead workers FAIL (heartbeat older than the grace period); no-op without heartbeats."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def enqueue_baseline(study: Study, space: SearchSpace, defaults: dict[str, Any]) -> bool:
    """On a new study, queue the configuration's own values as trial 0, so results compare against them."""
    if study.get_trials(deepcopy=False) or not space.dists:
        return False
    params = {n: defaults[n] for n, d in space.dists.items() if n in defaults and _inside(d, defaults[n])}
    if len(params) != len(space.dists):
        missing = sorted(set(space.dists) - set(params))
        log.info("no baseline trial: the configuration's values of %s are not in the search space", missing)
        return False
    study.enqueue_trial(params, user_attrs={OUTCOME: "baseline"})
    return True


def _inside(dist: Any, value: Any) -> bool:
    if isinstance(dist, CategoricalDistribution):
        return any(value == c and type(value) is type(c) for c in dist.choices)
    if isinstance(dist, IntDistribution):
        return isinstance(value, int) and dist.low <= value <= dist.high and (value - dist.low) % dist.step == 0
    if isinstance(dist, FloatDistribution):
        if not isinstance(value, int | float) or isinstance(value, bool) or not dist.low <= value <= dist.high:
            return False
        return dist.step is None or abs(round((value - dist.low) / dist.step) * dist.step - (value - dist.low)) < 1e-9
    return False


def optimize(study: Study, space: SearchSpace, n_trials: int, run_batch: RunBatch, n_jobs: int = 1,
             max_failure_rate: float = 0.0) -> SweepStats:
    """Ask, run (`run_batch(overrides, trial_numbers)`) and tell batches of up to `n_jobs` trials until the
    study holds `n_trials` counted trials; raise SweepAborted past `max_failure_rate * n_trials` job errors."""
    stats = SweepStats()
    n_obj = len(study.directions)
    # failures from before this run do not count against it
    old_failures = {t.number for t in study.get_trials(deepcopy=False) if t.state == TrialState.FAIL}
    while True:
        fail_stale(study)
        trials = study.get_trials(deepcopy=False)
        _check_failures(trials, old_failures, n_trials, max_failure_rate)
        free = n_trials - counted(trials)
        if free <= 0:
            return stats
        batch: list[Trial] = []
        for _ in range(min(n_jobs, free)):
            with warnings.catch_warnings():  # "Heartbeat ... supposed to be used with Study.optimize": we beat
                warnings.filterwarnings("ignore", message="Heartbeat of storage")
                trial = study.ask(fixed_distributions=space.dists)
            if overshoots(study, trial.number, n_trials):
                trial.set_user_attr(OUTCOME, "surplus")
                study.tell(trial, state=TrialState.FAIL)
                stats.surplus += 1
                break
            trial.set_user_attr("overrides", space.overrides(trial.params))
            batch.append(trial)
        if not batch:
            continue
        try:
            with Heartbeats(study, batch):
                outcomes = run_batch([space.overrides(t.params) for t in batch], [t.number for t in batch])
        except BaseException:  # Ctrl-C or a batch that cannot start: free the slots before leaving
            for trial in batch:
                study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
            raise
        for trial, outcome in zip(batch, outcomes, strict=True):
            _tell(study, trial, outcome, n_obj, stats)


def _tell(study: Study, trial: Trial, outcome: Outcome, n_obj: int, stats: SweepStats) -> None:
    stats.ran += 1
    stats.trial_numbers.append(trial.number)
    if outcome.job_dir:
        trial.set_user_attr(JOB_DIR, outcome.job_dir)
    error = outcome.error
    values = None
    if error is None:
        try:
            values = values_of(outcome.value, n_obj)
        except ValueError as e:
            error = e
    if error is not None:
        stats.failed += 1
        message = " ".join(f"{type(error).__name__}: {error}".split())[:500]
        trial.set_user_attr(OUTCOME, "error")
        trial.set_user_attr("error", message)
        log.warning("trial %d failed: %s", trial.number, message)
        study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
        return
    frozen = study.tell(trial, values, skip_if_finished=True)
    if frozen.state != TrialState.COMPLETE:
        log.warning("trial %d was already %s (its heartbeat lapsed?); its result was not recorded",
                    trial.number, frozen.state.name)


def _check_failures(trials: Sequence[FrozenTrial], old: set[int], n_trials: int, rate: float) -> None:
    errors = [t for t in trials if t.number not in old and t.state == TrialState.FAIL
              and t.user_attrs.get(OUTCOME) == "error"]
    if len(errors) > rate * n_trials:
        last = errors[-1]
        raise SweepAborted(
            f"{len(errors)} trial(s) failed, more than max_failure_rate={rate} x n_trials={n_trials} allows; "
            f"last: trial {last.number} ({last.user_attrs.get(JOB_DIR, '?')}): {last.user_attrs.get('error', '?')}"
        )
