"""Open the study's storage from one URL: in memory, SQLite, PostgreSQL (or any SQLAlchemy URL), or a journal file.

- null                              in memory, this process only
- sqlite:///sweeps.db               one machine, one writer at a time (fine for a resumable single-process sweep)
- postgresql://user@host:5432/db    many processes and machines (driver: psycopg 3, as SQLAlchemy 2.1 and
                                    `optuna.load_study` / `optuna-dashboard` pick for the same URL)
- journal:///abs/path.log or journal:rel/path.log
                                    an Optuna journal file: several processes on one machine (file locks)

Opening fails fast (a wrong URL is a configuration error); afterwards every call is retried through outages for
`retry_s` seconds (`gfopt.sweep.retry`).
"""

from __future__ import annotations

import importlib.util
import re
import time
from pathlib import Path

from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend

from gfopt.core.config import ConfigError
from gfopt.sweep.retry import Outage, RetryingStorage

KEY = "hydra.sweeper.storage"


def redact(url: str) -> str:
    """The URL with any password replaced by ***, for logs and error messages."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def open_storage(url: str | None, retry_s: float | None = None, outage: Outage | None = None) -> BaseStorage | None:
    """A storage for `url` (None: in memory), checked to be reachable now; with `retry_s`, wrapped so that later
    calls ride out outages of up to that many seconds."""
    if url is None or str(url).strip() == "":
        return None
    storage = _open(str(url))
    return storage if retry_s is None else RetryingStorage(storage, retry_s, outage)


def _open(url: str) -> BaseStorage:
    if url.startswith("journal:"):
        return _journal(url[len("journal:"):])
    if "://" not in url:
        raise ConfigError(f"{KEY}: {url!r} is not a URL; use sqlite:///file.db, postgresql://user@host/db "
                          "or journal:path.log")
    shown = redact(url)
    url = with_driver(url)
    for attempt in range(5):
        try:
            if url.startswith("sqlite:///"):
                Path(url[len("sqlite:///"):]).expanduser().parent.mkdir(parents=True, exist_ok=True)
            return RDBStorage(url, engine_kwargs=_engine_kwargs(url))
        except Exception as e:  # sqlalchemy errors: driver missing, host down, auth failed, bad database name
            # workers that start together on a new database race to create Optuna's tables: the losers retry
            if attempt < 4 and any(s in str(e) for s in ("already exists", "duplicate key")):
                time.sleep(0.5 * (attempt + 1))
                continue
            raise ConfigError(f"{KEY}: cannot open {shown}: {_reason(e)}") from None
    raise AssertionError("unreachable")


def with_driver(url: str) -> str:
    """`postgresql://` with the PostgreSQL driver that is installed: psycopg 3 (gfopt's dependency, and SQLAlchemy
    2.1's default for the bare scheme), else psycopg2."""
    m = re.match(r"^postgres(ql)?://", url)
    if m is None:
        return url
    for module, dialect in (("psycopg", "postgresql+psycopg"), ("psycopg2", "postgresql+psycopg2")):
        if importlib.util.find_spec(module) is not None:
            return dialect + "://" + url[m.end():]
    raise ConfigError(f"{KEY}: PostgreSQL needs a driver: pip install 'psycopg[binary]'")


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
