"""Storage retries: transient errors (a dropped or refused connection) are retried with backoff until the storage
answers, or until the patience runs out (StorageLost, one line); other errors pass at once."""

from __future__ import annotations

import optuna
import pytest
import sqlalchemy.exc
from optuna.exceptions import StorageInternalError, UpdateFinishedTrialError

from gfopt.sweep.retry import Outage, RetryingStorage, StorageLost, call_with_retry, is_transient


def refused() -> sqlalchemy.exc.OperationalError:
    return sqlalchemy.exc.OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))


class Flaky:
    """Fails `n` times with `error`, then returns 42."""

    def __init__(self, n: int, error: BaseException) -> None:
        self.n, self.error, self.calls = n, error, 0

    def __call__(self) -> int:
        self.calls += 1
        if self.calls <= self.n:
            raise self.error
        return 42


def test_transient_errors_are_retried_with_growing_backoff_until_the_storage_answers() -> None:
    naps: list[float] = []
    outage = Outage()
    wrapped = StorageInternalError("commit failed")
    wrapped.__cause__ = refused()  # how Optuna's RDB storage wraps a lost connection during a write
    for error in (refused(), wrapped):
        naps.clear()
        fn = Flaky(5, error)
        assert call_with_retry(fn, (), {}, 60, "get_trial", outage, sleep=naps.append) == 42
        assert fn.calls == 6 and naps == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert outage.seconds_since() < 5


def test_patience_runs_out_in_one_line_and_other_errors_pass_at_once() -> None:
    with pytest.raises(StorageLost, match=r"^unreachable for \d+ s \(hydra.sweeper.storage_retry_s=0\); last error "
                                          r"in tell: .*connection refused"):
        call_with_retry(Flaky(1, refused()), (), {}, 0, "tell", sleep=lambda s: None)
    for error in (UpdateFinishedTrialError("finished"), KeyError("no study"), ValueError("bad value")):
        fn = Flaky(1, error)
        with pytest.raises(type(error)):
            call_with_retry(fn, (), {}, 60, "x", sleep=lambda s: None)
        assert fn.calls == 1
    assert not is_transient(StorageInternalError("value too long"))


def test_the_wrapper_is_a_complete_storage_that_optuna_uses_as_is() -> None:
    storage = RetryingStorage(optuna.storages.InMemoryStorage(), patience_s=1)
    study = optuna.create_study(storage=storage, study_name="w")
    study.optimize(lambda t: t.suggest_float("x", 0, 1) ** 2, n_trials=3)
    assert len(study.trials) == 3 and study.best_value <= min(t.value for t in study.trials)
    assert optuna.load_study(study_name="w", storage=storage).best_trial.number == study.best_trial.number
