"""The shared-total loop with a fake launcher: exact totals, resume to the total, race losers dropped, failures
bounded, stale trials of dead workers failed and their slots re-run, baseline trial from the configuration."""

from __future__ import annotations

import time

import optuna
import pytest
from optuna.trial import TrialState

from gfopt.sweep.grammar import parse_search_space
from gfopt.sweep.loop import OUTCOME, Outcome, SweepAborted, enqueue_baseline, optimize, overshoots, values_of
from gfopt.sweep.storage import open_storage

optuna.logging.set_verbosity(optuna.logging.WARNING)
SPACE = parse_search_space({"x": "interval(-2, 2)", "k": "choice(a, b)"}, ["problem=tsp"])


class FakeLauncher:
    """Stands in for Hydra's launcher: parses each job's overrides and returns x**2 (or fails on request)."""

    def __init__(self, fail: set[int] | None = None) -> None:
        self.calls: list[list[list[str]]] = []
        self.numbers: list[int] = []
        self.fail = fail or set()

    def __call__(self, batch: list[list[str]], numbers: list[int]) -> list[Outcome]:
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


def test_running_trials_of_other_workers_take_their_slots() -> None:
    study = optuna.create_study()
    other = [study.ask(), study.ask()]  # two trials in flight elsewhere
    launch = FakeLauncher()
    optimize(study, SPACE, 5, launch)
    assert launch.numbers == [2, 3, 4]
    for t in other:
        study.tell(t, 0.0)
    assert states(study) == {"COMPLETE": 5}


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
    stats = optimize(study, SPACE, 2, launch)
    # trial 0 (ours) ran; trial 1 is the rival's; ours got trial 2, past the total -> surplus, never run
    assert launch.numbers == [0] and stats.surplus == 1
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

    def launch(batch, numbers):
        return [Outcome(value="nan?") for _ in batch]

    with pytest.raises(SweepAborted, match="not a float"):
        optimize(study, SPACE, 3, launch)
    assert values_of([1, 2.5], 2) == [1.0, 2.5]
    with pytest.raises(ValueError, match="2 objective"):
        values_of(1.0, 2)
    with pytest.raises(ValueError, match="non-finite"):
        values_of(float("nan"), 1)


def test_stale_trial_of_a_dead_worker_fails_and_its_slot_is_rerun(tmp_path) -> None:
    storage = open_storage(f"sqlite:///{tmp_path}/h.db", heartbeat_interval=1, grace_period=1)
    study = optuna.create_study(storage=storage, study_name="h")
    dead = study.ask()
    storage.record_heartbeat(dead._trial_id)  # it started, then its worker died
    time.sleep(2.2)
    launch = FakeLauncher()
    optimize(study, SPACE, 3, launch)
    assert study.get_trials()[0].state == TrialState.FAIL
    assert states(study) == {"COMPLETE": 3, "FAIL": 1} and launch.numbers == [1, 2, 3]


def test_an_interrupted_batch_frees_its_slots() -> None:
    study = optuna.create_study()

    def launch(batch, numbers):
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
