"""Open the study's storage from one URL: in memory, SQLite, PostgreSQL (or any SQLAlchemy URL), or a journal file.

- null                              in memory, this process only
- sqlite:///sweeps.db               one machine, one writer at a time (fine for a resumable single-process sweep)
- postgresql://user@host:5432/db    many processes and machines; heartbeats mark dead workers' trials FAIL
- journal:///abs/path.log or journal:rel/path.log
                                    an Optuna journal file: several processes on one machine (file locks)
"""

from __future__ import annotations

import importlib.util
import re
import time
import warnings
from pathlib import Path

from optuna.exceptions import ExperimentalWarning
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend

from gfopt.core.config import ConfigError

KEY = "hydra.sweeper.storage"


def redact(url: str) -> str:
    """The URL with any password replaced by ***, for logs and error messages."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def open_storage(url: str | None, heartbeat_interval: int | None = None,
                 grace_period: int | None = None) -> BaseStorage | None:
    """A storage for `url` (None: in memory), checked to be reachable; heartbeats apply to database URLs."""
    if url is None or str(url).strip() == "":
        return None
    url = str(url)
    if url.startswith("journal:"):
        return _journal(url[len("journal:"):])
    if "://" not in url:
        raise ConfigError(f"{KEY}: {url!r} is not a URL; use sqlite:///file.db, postgresql://user@host/db "
                          "or journal:path.log")
    if heartbeat_interval is not None and heartbeat_interval <= 0:
        raise ConfigError(f"{KEY}: heartbeat_interval must be positive or null, got {heartbeat_interval}")
    shown = redact(url)
    url = with_driver(url)
    for attempt in range(5):
        try:
            if url.startswith("sqlite:///"):
                Path(url[len("sqlite:///"):]).expanduser().parent.mkdir(parents=True, exist_ok=True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExperimentalWarning)  # heartbeat_interval
                return RDBStorage(url, engine_kwargs=_engine_kwargs(url), heartbeat_interval=heartbeat_interval,
                                  grace_period=grace_period)
        except Exception as e:  # sqlalchemy errors: driver missing, host down, auth failed, bad database name
            # workers that start together on a new database race to create Optuna's tables: the losers retry
            if attempt < 4 and any(s in str(e) for s in ("already exists", "duplicate key")):
                time.sleep(0.5 * (attempt + 1))
                continue
            raise ConfigError(f"{KEY}: cannot open {shown}: {_reason(e)}") from None
    raise AssertionError("unreachable")


def with_driver(url: str) -> str:
    """`postgresql://` with the PostgreSQL driver that is installed (SQLAlchemy 2.1 defaults to psycopg 3)."""
    m = re.match(r"^postgres(ql)?://", url)
    if m is None:
        return url
    for module, dialect in (("psycopg", "postgresql+psycopg"), ("psycopg2", "postgresql+psycopg2")):
        if importlib.util.find_spec(module) is not None:
            return dialect + "://" + url[m.end():]
    raise ConfigError(f"{KEY}: PostgreSQL needs a driver: pip install psycopg2-binary (or psycopg)")


def _engine_kwargs(url: str) -> dict:
    if url.startswith(("postgresql", "mysql")):
        # fail fast when the server is unreachable; recycle connections that a server may drop on idle
        args = {"connect_timeout": 10} if url.startswith("postgresql") else {}
        return {"pool_pre_ping": True, "connect_args": args}
    return {}


def _journal(path: str) -> BaseStorage:
    if path.startswith("//"):
        path = path[2:]  # journal:///abs/path -> /abs/path
    if not path:
        raise ConfigError(f"{KEY}: journal: needs a file path, e.g. journal:sweeps/study.log")
    p = Path(path).expanduser()
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(p)))
    except OSError as e:
        raise ConfigError(f"{KEY}: cannot open journal file {p}: {e.strerror or e}") from None


def _reason(e: BaseException) -> str:
    text = str(getattr(e, "orig", None) or e)
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(e).__name__)
    return re.sub(r"\s*\(Background on this error.*$", "", first)
