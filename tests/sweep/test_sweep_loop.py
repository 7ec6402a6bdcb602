"""The shared-total loop with a fake launcher: exact totals, resume to the total, race losers dropped, failures
bounded, stale trials of dead workers failed and their slots re-run, baseline trial from the configuration."""

from __future__ import annotations

import time

import optuna
import pytest
from optuna.trial import TrialState

from gfopt.core.config import ConfigError
from gfopt.sweep.grammar import parse_search_space
from gfopt.sweep.liveness import BEAT, STALE, Liveness, beat, fail_stale, stale
from gfopt.sweep.loop import (
    OUTCOME,
    Outcome,
    SweepAborted,
    TotalNotReached,
    drop_duplicate_baselines,
    enqueue_baseline,
    optimize,
    overshoots,
    values_of,
)
from gfopt.sweep.retry import Outage
from gfopt.sweep.storage import open_storage

optuna.logging.set_verbosity(optuna.logging.WARNING)
SPACE = parse_search_space({"x": "interval(-2, 2)", "k": "choice(a, b)"}, ["problem=tsp"])


class FakeLauncher:
    """Stands in for Hydra's launcher: parses each job's overrides and returns x**2 (or fails on request)."""

    def __init__(self, fail: set[int] | None = None) -> None:
        self.calls: list[list[list[str]]] = []
        self.numbers: list[int] = []
        self.fail = fail or set()

    def __call__(self, batch: list[list[str]], trials: list) -> list[Outcome]:
        numbers = [t.number for t in trials]
        self.calls.append(batch)
        self.numbers += numbers
        out = []
        for ov, n in zip(batch, numbers, strict=True):
            assert ov[0] == "problem=tsp"
            x = float(dict(o.split("=", 1) for o in ov)["x"])
            out.append(Outcome(error=RuntimeError("boom")) if n in self.fail else Outcome(value=x * x))
        return out


def states(study: optuna.Study) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        out[t.state.name] = out.get(t.state.name, 0) + 1
    return out


def test_runs_exactly_the_total_in_batches() -> None:
    study = optuna.create_study()
    launch = FakeLauncher()
    stats = optimize(study, SPACE, 7, launch, n_jobs=3)
    assert states(study) == {"COMPLETE": 7} and stats.ran == 7
    assert [len(b) for b in launch.calls] == [3, 3, 1]
    assert sorted(launch.numbers) == list(range(7))  # every trial ran once


def test_rerun_continues_to_the_total(tmp_path) -> None:
    url = open_storage(f"journal:{tmp_path}/s.log")
    first = FakeLauncher()
    optimize(optuna.create_study(storage=url, study_name="s"), SPACE, 4, first)
    again = optuna.load_study(storage=url, study_name="s")
    second = FakeLauncher()
    optimize(again, SPACE, 4, second)  # already at the total: nothing to do
    assert second.numbers == []
    third = FakeLauncher()
    optimize(optuna.load_study(storage=url, study_name="s"), SPACE, 10, third)  # raised total: only the rest
    assert third.numbers == [4, 5, 6, 7, 8, 9]
    assert states(optuna.load_study(storage=url, study_name="s")) == {"COMPLETE": 10}


def test_running_trials_of_other_workers_take_their_slots_and_are_waited_for() -> None:
    study = optuna.create_study()
    other = [study.ask(), study.ask()]  # two trials in flight elsewhere, beating
    for t in other:
        beat(study, [t._trial_id])
    launch = FakeLauncher()
    naps = []

    def sleep(s: float) -> None:  # while this worker waits, the others finish their trials
        naps.append(s)
        study.tell(other[len(naps) - 1], 0.0)

    optimize(study, SPACE, 5, launch, live=Liveness(interval=1, grace=30), sleep=sleep)
    assert launch.numbers == [2, 3, 4] and naps == [1, 1]  # it returned only once both had ended
    assert states(study) == {"COMPLETE": 5}


def test_without_heartbeats_trials_running_elsewhere_end_the_sweep_with_one_line() -> None:
    study = optuna.create_study()
    study.ask()
    with pytest.raises(TotalNotReached, match=r"^2/3 complete, 1 running elsewhere, last heartbeat \d+ s ago; "
                                              "without heartbeats"):
        optimize(study, SPACE, 3, FakeLauncher())


def test_rank_check_matches_brute_force_over_states() -> None:
    study = optuna.create_study()
    trials = [study.ask() for _ in range(6)]
    study.tell(trials[1], state=TrialState.FAIL)
    study.tell(trials[3], 1.0)
    n_trials = 3
    counted = [t.number for t in study.get_trials() if t.state in (TrialState.RUNNING, TrialState.COMPLETE)]
    for t in trials:
        expected = t.number in counted and counted.index(t.number) + 1 > n_trials
        if t.number in counted:
            assert overshoots(study, t.number, n_trials) == expected
    assert [overshoots(study, n, n_trials) for n in counted] == [False, False, False, True, True]


def test_race_loser_is_dropped_as_surplus(monkeypatch) -> None:
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(storage=storage, study_name="r")
    rival = optuna.load_study(storage=storage, study_name="r")
    real_ask, asks = study.ask, []

    def racing_ask(*args, **kwargs):  # on our second ask, a rival worker asks between our count and our ask
        asks.append(1)
        if len(asks) == 2:
            rival.ask()
        return real_ask(*args, **kwargs)

    monkeypatch.setattr(study, "ask", racing_ask)
    launch = FakeLauncher()
    with pytest.raises(TotalNotReached, match="1/2 complete, 1 running elsewhere"):  # the rival never ends
        optimize(study, SPACE, 2, launch)
    # trial 0 (ours) ran; trial 1 is the rival's; ours got trial 2, past the total -> surplus, never run
    assert launch.numbers == [0]
    surplus = study.get_trials()[2]
    assert surplus.state == TrialState.FAIL and surplus.user_attrs[OUTCOME] == "surplus"
    assert states(study) == {"COMPLETE": 1, "RUNNING": 1, "FAIL": 1}


def test_failures_abort_past_the_rate_and_are_rerun_below_it() -> None:
    study = optuna.create_study()
    with pytest.raises(SweepAborted, match=r"1 trial\(s\) failed.*max_failure_rate=0.0.*boom"):
        optimize(study, SPACE, 5, FakeLauncher(fail={1}))
    assert states(study) == {"COMPLETE": 1, "FAIL": 1}

    study = optuna.create_study()
    stats = optimize(study, SPACE, 5, FakeLauncher(fail={1, 3}), max_failure_rate=0.4)
    assert states(study) == {"COMPLETE": 5, "FAIL": 2} and stats.failed == 2  # failed slots were run again
    assert study.get_trials()[1].user_attrs[OUTCOME] == "error"


def test_a_bad_return_value_fails_the_trial() -> None:
    study = optuna.create_study()

    def launch(batch, trials):
        return [Outcome(value="nan?") for _ in batch]

    with pytest.raises(SweepAborted, match="not a float"):
        optimize(study, SPACE, 3, launch)
    assert values_of([1, 2.5], 2) == [1.0, 2.5]
    with pytest.raises(ValueError, match="2 objective"):
        values_of(1.0, 2)
    with pytest.raises(ValueError, match="non-finite"):
        values_of(float("nan"), 1)


@pytest.mark.parametrize("url", ["sqlite:///{}/h.db", "journal:{}/h.log"])
def test_stale_trial_of_a_dead_worker_fails_and_its_slot_is_rerun(tmp_path, url) -> None:
    storage = open_storage(url.format(tmp_path), retry_s=5)
    study = optuna.create_study(storage=storage, study_name="h")
    dead = study.ask()
    storage.set_trial_user_attr(dead._trial_id, BEAT, time.time() - 4)  # it beat 4 s ago, then its worker died
    alive = study.ask()
    beat(study, [alive._trial_id])
    launch = FakeLauncher()

    def sleep(s: float) -> None:
        study.tell(alive, 1.0)

    stats = optimize(study, SPACE, 4, launch, live=Liveness(interval=1, grace=3), sleep=sleep)
    first = study.get_trials()[0]
    assert first.state == TrialState.FAIL and first.user_attrs[STALE].startswith("no heartbeat for 4 s")
    assert states(study) == {"COMPLETE": 4, "FAIL": 1} and launch.numbers == [2, 3, 4] and stats.stale == 1


def test_staleness_counts_from_the_start_before_the_first_beat_and_waits_out_an_outage() -> None:
    study = optuna.create_study()
    silent = study.ask()  # asked, then the worker died before its first heartbeat
    start = study.get_trials()[0].datetime_start.timestamp()
    assert stale(study.get_trials(), grace=3, now=start + 2) == []
    assert [t.number for t in stale(study.get_trials(), grace=3, now=start + 4)] == [silent.number]
    outage = Outage()
    outage.note()  # this process just saw the storage fail: everyone's beats may have been lost with it
    study._storage.set_trial_user_attr(silent._trial_id, BEAT, time.time() - 10)
    assert fail_stale(study, Liveness(interval=1, grace=3), outage) == []
    assert [t.number for t in fail_stale(study, Liveness(interval=1, grace=3), Outage())] == [silent.number]


def test_a_result_for_a_trial_failed_elsewhere_is_a_warning_and_the_sweep_goes_on(caplog) -> None:
    study = optuna.create_study()

    def launch(batch, trials):  # while trial 1 runs, another worker fails it (its heartbeats had lapsed)
        if trials[0].number == 1:
            study._storage.set_trial_state_values(trials[0]._trial_id, TrialState.FAIL)
        return FakeLauncher()(batch, trials)

    stats = optimize(study, SPACE, 3, launch)
    assert stats.lost == 1 and states(study) == {"COMPLETE": 3, "FAIL": 1}
    assert "trial 1 was already FAIL when its job ended" in caplog.text


def test_an_error_between_ask_and_launch_fails_the_trial_at_once() -> None:
    study = optuna.create_study()
    old = study.ask()
    old.suggest_categorical("x", ["a", "b"])  # the study samples x as a choice; this sweep says interval
    study.tell(old, 1.0)
    with pytest.raises(ConfigError, match=r"hydra.sweeper.params.x: .*new hydra.sweeper.study_name"):
        optimize(study, SPACE, 3, FakeLauncher())
    assert states(study) == {"COMPLETE": 1, "FAIL": 1}  # nothing left RUNNING without a heartbeat


def test_a_pruned_job_is_told_pruned() -> None:
    study = optuna.create_study()

    def launch(batch, trials):
        trials[0].report(3.0, 1)
        return [Outcome(error=optuna.TrialPruned("pruned at step 1"))]

    stats = optimize(study, SPACE, 2, launch)
    assert states(study) == {"PRUNED": 2} and stats.pruned == 2 and study.get_trials()[0].value == 3.0


def test_an_interrupted_batch_frees_its_slots() -> None:
    study = optuna.create_study()

    def launch(batch, trials):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        optimize(study, SPACE, 3, launch, n_jobs=2)
    assert states(study) == {"FAIL": 2}


def test_baseline_is_the_configurations_values_when_they_are_in_the_space() -> None:
    study = optuna.create_study()
    assert enqueue_baseline(study, SPACE, {"x": 0.5, "k": "b"})
    launch = FakeLauncher()
    optimize(study, SPACE, 2, launch)
    first = study.get_trials()[0]
    assert first.params == {"x": 0.5, "k": "b"} and first.user_attrs[OUTCOME] == "baseline" and first.value == 0.25
    assert not enqueue_baseline(study, SPACE, {"x": 0.5, "k": "b"})  # only on a new study
    assert not enqueue_baseline(optuna.create_study(), SPACE, {"x": 5.0, "k": "b"})  # outside the interval
    assert not enqueue_baseline(optuna.create_study(), SPACE, {"x": 0.5})  # a key without a value


def test_workers_starting_together_run_the_baseline_once(tmp_path) -> None:
    storage = open_storage(f"journal:{tmp_path}/b.log")
    a = optuna.create_study(storage=storage, study_name="b")
    b = optuna.load_study(storage=storage, study_name="b")
    # both saw an empty study and queued the baseline before either dropped duplicates
    a.enqueue_trial({"x": 0.5, "k": "b"}, user_attrs={OUTCOME: "baseline"})
    b.enqueue_trial({"x": 0.5, "k": "b"}, user_attrs={OUTCOME: "baseline"})
    assert drop_duplicate_baselines(b) == 1 and drop_duplicate_baselines(a) == 0
    launch = FakeLauncher()
    optimize(a, SPACE, 3, launch)
    trials = a.get_trials()
    assert [t.state.name for t in trials] == ["COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]
    assert trials[1].user_attrs[OUTCOME] == "surplus"
    assert sum(t.params == {"x": 0.5, "k": "b"} for t in trials if t.state == TrialState.COMPLETE) == 1


def test_a_baseline_trial_whose_worker_died_is_queued_again() -> None:
    study = optuna.create_study()
    assert enqueue_baseline(study, SPACE, {"x": 0.5, "k": "b"})
    dead = study.ask()  # popped by a worker that then died
    for name, dist in SPACE.dists.items():
        dead._suggest(name, dist)
    study._storage.set_trial_user_attr(dead._trial_id, BEAT, time.time() - 10)
    optimize(study, SPACE, 2, FakeLauncher(), live=Liveness(interval=1, grace=3))
    trials = study.get_trials()
    assert [t.state.name for t in trials] == ["FAIL", "COMPLETE", "COMPLETE"]
    assert trials[1].params == {"x": 0.5, "k": "b"} and trials[1].user_attrs[OUTCOME] == "baseline"


def test_a_job_that_lost_its_trial_is_not_an_error_and_its_slot_runs_again() -> None:
    from gfopt.sweep.trial_link import TrialLost

    study = optuna.create_study()

    def launch(batch, trials):
        if trials[0].number == 0:
            return [Outcome(error=TrialLost("trial 0: its sweeper has not beaten for 9 s"))]
        return FakeLauncher()(batch, trials)

    stats = optimize(study, SPACE, 2, launch)  # max_failure_rate=0: a job error would abort
    assert stats.lost == 1 and stats.failed == 0
    assert [(t.state.name, t.user_attrs.get(OUTCOME)) for t in study.get_trials()] == [
        ("FAIL", "lost"), ("COMPLETE", None), ("COMPLETE", None)]
