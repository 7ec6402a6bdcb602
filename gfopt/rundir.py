"""The run dir: held by one live run at a time, untouched until the run is accepted, gone when a fresh one is refused.

Hydra creates the dir before the task starts; `.hydra/` is written here (`hydra.output_subdir: null` in
conf/config.yaml) only once every check has passed, so a refused run cannot overwrite a finished run's record.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path
from types import TracebackType

from omegaconf import DictConfig, OmegaConf

from gfopt.core.checkpoint import atomic_write_text
from gfopt.errors import ConfigError

LOCK_FILE = ".lock"


class RunDir:
    """Context manager over a run dir: `lock()` holds it (an exclusive, non-blocking `flock` that the kernel drops
    when the process dies, even by kill -9); an error before `accept()` removes the dir again if this run made it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.accepted = False
        self._fd: int | None = None
        self._fresh: list[Path] | None = None

    def __enter__(self) -> RunDir:
        self.path.mkdir(parents=True, exist_ok=True)
        entries = list(self.path.iterdir())
        # Hydra has just made the dir (and maybe an empty job log): nothing in it belongs to an earlier run
        if all(p.is_file() and p.name != LOCK_FILE and p.stat().st_size == 0 for p in entries):
            self._fresh = entries
        return self

    def lock(self) -> None:
        """Hold the dir for this process; a one-line ConfigError when another live run holds it."""
        fd = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            holder = _read_pid(self.path / LOCK_FILE)
            holder = holder if holder and pid_alive(holder) else None
            raise ConfigError(
                f"hydra.run.dir: {self.path} is in use by another run{f' (pid {holder})' if holder else ''}; "
                "wait for it to end, or pick another hydra.run.dir"
            ) from None
        self._fd = fd

    def accept(self, cfg: DictConfig, hydra_cfg: DictConfig | None = None) -> None:
        """Every check passed: from here on the dir is this run's. Writes `.hydra/` (config, hydra, overrides)
        and the holder's pid into the lock file (named when another run is refused)."""
        self.accepted = True
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)
        if hydra_cfg is None:
            return
        meta = self.path / ".hydra"
        atomic_write_text(meta / "config.yaml", OmegaConf.to_yaml(cfg))
        atomic_write_text(meta / "hydra.yaml", OmegaConf.to_yaml(OmegaConf.create({"hydra": hydra_cfg})))
        atomic_write_text(meta / "overrides.yaml", OmegaConf.to_yaml(hydra_cfg.overrides.task))

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None) -> None:
        if kind is not None and not self.accepted and self._fresh is not None:
            self._remove()
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def _remove(self) -> None:
        """Delete what this refused run left in a dir it created (only what it made), then the dir if empty."""
        for p in [*self._fresh, *([self.path / LOCK_FILE] if self._fd is not None else [])]:
            p.unlink(missing_ok=True)
        cwd, leaf = Path.cwd(), self.path.absolute()
        for d in [leaf, *leaf.parents]:  # the leaf, then the empty parents under the working dir
            if d != leaf and (d == cwd or cwd not in d.parents):
                break
            try:
                d.rmdir()
            except OSError:
                break  # not empty (another run's, or something appeared meanwhile): leave it


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def pid_alive(pid: int) -> bool:
    """True when a process with this id exists (possibly another user's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def check_writable(run_dir: str) -> str | None:
    """An error line when `run_dir` cannot be created (checked before Hydra tries, which would print a traceback)."""
    if "${" in run_dir:
        return None
    p = Path(run_dir).absolute()
    made = [a for a in [p, *p.parents] if not a.exists()]
    try:
        p.mkdir(parents=True, exist_ok=True)
        probe = p / f".gfopt-write-test-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as e:
        return f"hydra.run.dir: cannot write to {run_dir} ({e.strerror or e}); pick a writable directory"
    finally:
        for a in made:  # deepest first; Hydra makes them again, and a refused run must not leave them behind
            try:
                a.rmdir()
            except OSError:
                break
    return None
