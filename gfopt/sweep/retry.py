"""A storage wrapper that rides out database outages: every call is retried with backoff for `patience_s` seconds.

A worker whose PostgreSQL server restarts (or whose network drops) keeps its computed results and tells them when
the server is back; only after `patience_s` without success does it give up, with one line (`StorageLost`).
Errors that are not about reaching the storage (a finished trial, a duplicate study, a bad value) pass at once.

Retrying a write whose commit reached the server but whose reply was lost can repeat it; Optuna's writes are
idempotent except `create_new_trial` (a repeat leaves one extra RUNNING trial with no heartbeat, which the stale
check fails after the grace period) and `set_trial_state_values` (a repeat raises UpdateFinishedTrialError, which
the loop reads back as "already recorded").
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from optuna.storages import BaseStorage

log = logging.getLogger("gfopt.sweep")


class StorageLost(RuntimeError):
    """The storage stayed unreachable for longer than the configured patience."""


def is_transient(error: BaseException) -> bool:
    """True for errors about reaching the storage (connection refused or dropped, server restarting, I/O)."""
    seen: set[int] = set()
    e: BaseException | None = error
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        name = type(e).__name__
        module = type(e).__module__
        if module.startswith("sqlalchemy") and name in ("OperationalError", "InterfaceError", "DisconnectionError",
                                                        "TimeoutError"):
            return True
        if module.startswith(("sqlalchemy", "psycopg")) and getattr(e, "connection_invalidated", False):
            return True
        if module.startswith(("psycopg", "psycopg2")) and name in ("OperationalError", "InterfaceError"):
            return True
        if isinstance(e, ConnectionError | TimeoutError):
            return True
        e = e.__cause__ or e.__context__
    return False


class Outage:
    """When this process last saw the storage fail, shared by the retrying calls and the heartbeat thread."""

    def __init__(self) -> None:
        self.last_trouble: float | None = None  # time.time() of the last failed call
        self._lock = threading.Lock()

    def note(self) -> None:
        """Record a failed call now."""
        with self._lock:
            self.last_trouble = time.time()

    def seconds_since(self) -> float:
        """Seconds since the last failed call (infinity when there was none)."""
        return float("inf") if self.last_trouble is None else time.time() - self.last_trouble


def call_with_retry(fn: Callable[..., Any], args: tuple, kwargs: dict, patience_s: float, what: str,
                    outage: Outage | None = None, sleep: Callable[[float], None] = time.sleep) -> Any:
    """`fn(*args, **kwargs)`, retried with exponential backoff (0.5 s doubling to 10 s) on transient errors."""
    start = time.monotonic()
    delay = 0.5
    failed = 0
    while True:
        try:
            out = fn(*args, **kwargs)
        except Exception as e:
            if not is_transient(e):
                raise
            if outage is not None:
                outage.note()
            waited = time.monotonic() - start
            reason = " ".join(str(getattr(e, "orig", None) or e).split())[:200]
            if waited + delay > patience_s:
                raise StorageLost(f"unreachable for {waited:.0f} s (hydra.sweeper.storage_retry_s={patience_s:g}); "
                                  f"last error in {what}: {reason}") from None
            if failed == 0:
                log.warning("storage unreachable (%s: %s); retrying for up to %g s", what, reason, patience_s)
            failed += 1
            sleep(delay)
            delay = min(2 * delay, 10.0)
            continue
        if failed:
            log.warning("storage back after %.1f s (%d retries of %s)", time.monotonic() - start, failed, what)
        return out


class RetryingStorage(BaseStorage):
    """Delegate every public storage call to `inner`, retrying transient errors for `patience_s` seconds."""

    def __init__(self, inner: BaseStorage, patience_s: float = 300.0, outage: Outage | None = None) -> None:
        self.inner = inner
        self.patience_s = float(patience_s)
        self.outage = outage or Outage()

    def __repr__(self) -> str:
        return f"RetryingStorage({type(self.inner).__name__}, patience_s={self.patience_s:g})"


def _retrying(name: str) -> Callable[..., Any]:
    def method(self: RetryingStorage, *args: Any, **kwargs: Any) -> Any:
        return call_with_retry(getattr(self.inner, name), args, kwargs, self.patience_s, name, self.outage)

    method.__name__ = name
    method.__doc__ = f"`{name}` of the wrapped storage, retried on transient errors."
    return method


# every public method of BaseStorage (abstract or not) goes to the wrapped storage's own implementation
for _name in sorted(n for n in dir(BaseStorage) if not n.startswith("_") and callable(getattr(BaseStorage, n))):
    setattr(RetryingStorage, _name, _retrying(_name))
RetryingStorage.__abstractmethods__ = frozenset()
