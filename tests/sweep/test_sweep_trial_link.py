"""The job's side of a trial: reports at steps 1, 2, 4, 8, ..., prunes at a step boundary, stops when its trial
was failed elsewhere (a killed sweeper's orphaned job), and goes on when the storage is unreachable."""

from __future__ import annotations

import time

import optuna
import pytest
from optuna.trial import TrialState

from gfopt.sweep.liveness import BEAT
from gfopt.sweep.retry import Outage
from gfopt.sweep.trial_link import LOCAL_STUDIES, TrialLink, TrialLost, sweeper_id

optuna.logging.set_verbosity(optuna.logging.WARNING)


def link(study: optuna.Study, trial: optuna.Trial, pruner: str = "none", **options) -> TrialLink:
    LOCAL_STUDIES[study.study_name] = study
    return TrialLink({"storage": "memory", "study": study.study_name, "trial_id": trial._trial_id,
                      "number": trial.number, "pruner": pruner, "pruner_options": options, "check_s": 0.0})


def test_reports_the_best_at_powers_of_two_and_prunes_a_worse_trial() -> None:
    study = optuna.create_study(study_name="link-prune")
    for value in (1.0, 2.0):  # two finished trials: best 3 and 4 at step 1, then 1 and 2 from step 2 on
        t = study.ask()
        t.report(value + 2, 1)
        for step in (2, 4):
            t.report(value, step)
        study.tell(t, value)
    trial = study.ask()
    cb = link(study, trial, "median", n_startup_trials=2)
    cb.on_step(None, {"step": 1, "best": 2.0})  # better than the median (3.5) at step 1
    cb.on_step(None, {"step": 3, "best": 1.0})  # not a power of two: nothing reported
    with pytest.raises(optuna.TrialPruned, match="pruned at step 4"):
        cb.on_step(None, {"step": 4, "best": 1.9})  # worse than the median (1.5) at step 4
    assert study.get_trials()[2].intermediate_values == {1: 2.0, 4: 1.9}


def test_a_job_whose_trial_was_failed_elsewhere_stops() -> None:
    study = optuna.create_study(study_name="link-lost")
    trial = study.ask()
    cb = link(study, trial)
    cb.on_step(None, {"step": 1, "best": 1.0})
    study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)  # its sweeper stopped beating
    with pytest.raises(TrialLost, match="trial 0 is FAIL: failed elsewhere"):
        cb.on_step(None, {"step": 2, "best": 1.0})


def test_an_unreachable_storage_does_not_stop_the_run(caplog) -> None:
    study = optuna.create_study(study_name="link-down")
    trial = study.ask()
    cb = link(study, trial, "median")

    def down(*args, **kwargs):
        raise ConnectionRefusedError("connection refused")

    cb.study._storage.get_trial = down
    cb.trial.report = down
    for step in (1, 2, 3):
        cb.on_step(None, {"step": step, "best": 1.0})
    assert caplog.text.count("cannot reach the study") == 1


def test_a_job_whose_sweeper_stopped_beating_stops() -> None:
    study = optuna.create_study(study_name="link-orphan")
    trial = study.ask()
    LOCAL_STUDIES[study.study_name] = study
    spec = {"storage": "memory", "study": study.study_name, "trial_id": trial._trial_id, "number": 0,
            "check_s": 0.0, "grace": 3.0}
    assert TrialLink({**spec, "sweeper": sweeper_id()}).grace is None  # in the sweeper's process: never orphaned
    cb = TrialLink({**spec, "sweeper": "elsewhere:1"})
    study._storage.set_trial_user_attr(trial._trial_id, BEAT, time.time() - 1)
    cb.on_step(None, {"step": 1, "best": 1.0})  # beaten a second ago: fine
    study._storage.set_trial_user_attr(trial._trial_id, BEAT, time.time() - 5)
    cb.outage.note()  # ... unless this job just saw the storage fail: the sweeper's beats were lost with it
    cb.on_step(None, {"step": 2, "best": 1.0})
    cb.outage = Outage()
    with pytest.raises(TrialLost, match="its sweeper has not beaten for 5 s"):
        cb.on_step(None, {"step": 3, "best": 1.0})
