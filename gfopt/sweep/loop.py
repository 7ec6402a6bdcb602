"""The ask -> launch -> tell loop that several processes can run against one study and stop at one total.

`n_trials` is the study's total of trials that are COMPLETE, PRUNED, RUNNING or WAITING, whoever runs them.
Before each ask a process fails stale trials (no heartbeat for the grace period: `gfopt.sweep.liveness`) and
counts that total; after each ask it ranks its trial among those counted by trial number, so when two processes
race for the last slot the higher number loses: it is told FAIL with user attr `gfopt_outcome=surplus` and never
runs. Failed trials do not count, so their slots are run again (bounded by `max_failure_rate`), and re-running a
sweep tops the study up. When every slot is taken but others' trials still run, a process waits for them to end or
go stale instead of leaving, so the study reaches its total; a job's result for a trial failed elsewhere is a
warning, not a crash.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.exceptions import TrialPruned, UpdateFinishedTrialError
from optuna.study import Study
from optuna.trial import FrozenTrial, Trial, TrialState

from gfopt.core.config import ConfigError
from gfopt.sweep.grammar import SearchSpace
from gfopt.sweep.liveness import Heartbeats, Liveness, beat, fail_stale, last_sign
from gfopt.sweep.retry import Outage

log = logging.getLogger("gfopt.sweep")

COUNTED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
# user attr: "error" (the job raised), "surplus" (overshot the total, or a duplicate baseline), "baseline",
# "lost" (the job stopped: its trial was failed elsewhere)
OUTCOME = "gfopt_outcome"
JOB_DIR = "job_dir"


class SweepAborted(RuntimeError):
    """Too many trials failed (`max_failure_rate`): the message says how many and the last error."""


class TotalNotReached(RuntimeError):
    """The study cannot reach its total from here; the message says where it stands and why."""


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
    pruned: int = 0
    stale: int = 0  # others' trials this process failed for their silence
    lost: int = 0  # own results refused: the trial had been failed elsewhere
    trial_numbers: list[int] = field(default_factory=list)


RunBatch = Callable[[list[list[str]], list[Trial]], Sequence[Outcome]]


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
    drop_duplicate_baselines(study)
    return True


def drop_duplicate_baselines(study: Study) -> int:
    """Workers that start together on a new study may each queue the baseline: keep one, fail the other WAITING
    copies (`gfopt_outcome: surplus`) before anyone runs them. Returns how many were dropped.

    Every worker calls this right after its own enqueue, so the one that queued the later copy always sees the
    earlier one (trial numbers follow creation order) and drops its own."""
    live = [t for t in study.get_trials(deepcopy=False) if t.user_attrs.get(OUTCOME) == "baseline"
            and t.state != TrialState.FAIL]
    if len(live) <= 1:
        return 0
    keep = next((t for t in live if t.state != TrialState.WAITING), min(live, key=lambda t: t.number))
    dropped = 0
    for t in live:
        if t is keep or t.state != TrialState.WAITING:
            continue
        try:
            study._storage.set_trial_user_attr(t._trial_id, OUTCOME, "surplus")
            study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
            dropped += 1
        except UpdateFinishedTrialError:
            pass
    return dropped


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




def suggest(trial: Trial, name: str, dist: BaseDistribution) -> Any:
    """Sample `name` from `dist` through the trial's public suggest API (an enqueued trial gets its fixed value)."""
    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(name, list(dist.choices))
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
    if isinstance(dist, FloatDistribution):
        return trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)
    raise TypeError(f"unsupported distribution {dist!r}")


def ask(study: Study, space: SearchSpace, live: Liveness | None) -> Trial:
    """A new trial with its first heartbeat and all its parameters; any error in between fails it at once,
    so no trial is left RUNNING without a heartbeat by this process."""
    trial = study.ask()
    try:
        if live is not None:
            beat(study, [trial._trial_id])
        for name, dist in space.dists.items():
            try:
                suggest(trial, name, dist)
            except ValueError as e:  # e.g. the study holds another distribution for this name
                raise ConfigError(f"hydra.sweeper.params.{name}: {' '.join(str(e).split())}; "
                                  "use a new hydra.sweeper.study_name") from None
    except BaseException:
        study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
        raise
    return trial


def progress_line(trials: Sequence[FrozenTrial], n_trials: int) -> str:
    """`8/10 complete, 2 running elsewhere, last heartbeat 12 s ago`: where a study stands against its total."""
    done = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    running = [t for t in trials if t.state == TrialState.RUNNING]
    text = f"{done}/{n_trials} complete"
    if running:
        ago = time.time() - max(last_sign(t) for t in running)
        text += f", {len(running)} running elsewhere, last heartbeat {ago:.0f} s ago"
    return text


def optimize(study: Study, space: SearchSpace, n_trials: int, run_batch: RunBatch, n_jobs: int = 1,
             max_failure_rate: float = 0.0, live: Liveness | None = None, outage: Outage | None = None,
             sleep: Callable[[float], None] = time.sleep) -> SweepStats:
    """Ask, run (`run_batch(overrides, trials)`) and tell batches of up to `n_jobs` trials until the study holds
    `n_trials` COMPLETE or PRUNED trials. While other workers' trials are RUNNING it waits: they end, or go stale
    (no heartbeat for `live.grace` s) and are failed here and their slots run again. Raises SweepAborted past
    `max_failure_rate * n_trials` job errors, and TotalNotReached when others run trials that can never be seen
    to go stale (no heartbeats)."""
    stats = SweepStats()
    n_obj = len(study.directions)
    # failures from before this run do not count against it
    old_failures = {t.number for t in study.get_trials(deepcopy=False) if t.state == TrialState.FAIL}
    waiting_for: set[int] = set()
    while True:
        for t in fail_stale(study, live, outage):
            stats.stale += 1
            if t.user_attrs.get(OUTCOME) == "baseline":  # its worker died: queue the baseline again, once
                study.enqueue_trial(t.params, user_attrs={OUTCOME: "baseline"})
        trials = study.get_trials(deepcopy=False)
        _check_failures(trials, old_failures, n_trials, max_failure_rate)
        free = n_trials - counted(trials)
        queued = sum(t.state == TrialState.WAITING for t in trials)
        if free <= 0 and not queued:
            running = {t.number for t in trials if t.state == TrialState.RUNNING}
            if not running:
                return stats
            if live is None:
                raise TotalNotReached(f"{progress_line(trials, n_trials)}; without heartbeats "
                                      "(hydra.sweeper.heartbeat_interval=null) nobody can tell whether they still "
                                      "run: re-run the command once they have ended")
            if running != waiting_for:
                log.info("waiting: %s (a trial silent for %g s is failed and run again)",
                         progress_line(trials, n_trials), live.grace)
                waiting_for = running
            sleep(live.poll)
            continue
        batch: list[Trial] = []
        for _ in range(min(n_jobs, max(free, 0) + queued)):  # a queued trial is popped, not added
            trial = ask(study, space, live)
            if overshoots(study, trial.number, n_trials):
                study._storage.set_trial_user_attr(trial._trial_id, OUTCOME, "surplus")
                study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
                stats.surplus += 1
                break
            batch.append(trial)
        if not batch:
            continue
        beats = getattr(study._storage, "inner", study._storage)  # heartbeats never wait out an outage
        # beats go on while the results are told: a tell that waits out an outage keeps its trials alive
        with Heartbeats(beats, [t._trial_id for t in batch], live, outage):
            try:
                for trial in batch:
                    trial.set_user_attr("overrides", space.overrides(trial.params))
                outcomes = run_batch([space.overrides(t.params) for t in batch], batch)
            except BaseException:  # Ctrl-C or a batch that cannot start: free the slots before leaving
                for trial in batch:
                    try:
                        study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
                    except Exception as e:  # the storage is gone too: the trials go stale instead
                        log.warning("could not fail trial %d (%s)", trial.number, e)
                raise
            for trial, outcome in zip(batch, outcomes, strict=True):
                _tell(study, trial, outcome, n_obj, stats)


def _tell(study: Study, trial: Trial, outcome: Outcome, n_obj: int, stats: SweepStats) -> None:
    """Record one job's outcome; a trial finished elsewhere meanwhile (failed as stale) only logs a warning."""
    stats.ran += 1
    stats.trial_numbers.append(trial.number)
    try:
        _record(study, trial, outcome, n_obj, stats)
    except UpdateFinishedTrialError:
        stats.lost += 1
        state = study._storage.get_trial(trial._trial_id).state
        log.warning("trial %d was already %s when its job ended (failed elsewhere: no heartbeat for the grace "
                    "period); its result was not recorded (job dir %s)", trial.number, state.name,
                    outcome.job_dir or "?")


def _finish(study: Study, trial: Trial, state: TrialState, values: list[float] | None = None) -> None:
    """Tell `state` (and `values`); UpdateFinishedTrialError when the trial had been finished otherwise, also when
    that happened between Optuna's check and its write."""
    frozen = study.tell(trial, values, state=state, skip_if_finished=True)
    if frozen.state != state or (values is not None and list(frozen.values or []) != values):
        raise UpdateFinishedTrialError(f"trial {trial.number} is {frozen.state.name}")


def _record(study: Study, trial: Trial, outcome: Outcome, n_obj: int, stats: SweepStats) -> None:
    if outcome.job_dir:
        trial.set_user_attr(JOB_DIR, outcome.job_dir)
    error = outcome.error
    if error is not None and (isinstance(error, TrialPruned) or type(error).__name__ == "TrialPruned"):
        _finish(study, trial, TrialState.PRUNED)
        stats.pruned += 1
        log.info("trial %d pruned: %s", trial.number, error)
        return
    if error is not None and type(error).__name__ == "TrialLost":  # the job saw its trial failed elsewhere
        trial.set_user_attr(OUTCOME, "lost")  # raises UpdateFinishedTrialError when it was (the usual case)
        _finish(study, trial, TrialState.FAIL)
        stats.lost += 1
        log.warning("trial %d lost: %s", trial.number, error)
        return
    values = None
    if error is None:
        try:
            values = values_of(outcome.value, n_obj)
        except ValueError as e:
            error = e
    if error is not None:
        message = " ".join(f"{type(error).__name__}: {error}".split())[:500]
        trial.set_user_attr(OUTCOME, "error")
        trial.set_user_attr("error", message)
        _finish(study, trial, TrialState.FAIL)
        stats.failed += 1
        log.warning("trial %d failed: %s", trial.number, message)
        return
    _finish(study, trial, TrialState.COMPLETE, values)


def _check_failures(trials: Sequence[FrozenTrial], old: set[int], n_trials: int, rate: float) -> None:
    errors = [t for t in trials if t.number not in old and t.state == TrialState.FAIL
              and t.user_attrs.get(OUTCOME) == "error"]
    if len(errors) > rate * n_trials:
        last = errors[-1]
        raise SweepAborted(
            f"{len(errors)} trial(s) failed, more than max_failure_rate={rate} x n_trials={n_trials} allows; "
            f"last: trial {last.number} ({last.user_attrs.get(JOB_DIR, '?')}): {last.user_attrs.get('error', '?')}"
        )
