"""Run callbacks: progress bar, JSONL history, checkpoints (atomic, resumable)."""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gfopt.core.checkpoint import copy_state, encode_state, load_latest_state, write_state_bytes
from gfopt.core.engine import Budget, Callback, Engine, RunResult


def progress_enabled(setting: str | bool = "auto") -> bool:
    """True/False as given; 'auto' shows a bar only on a TTY and never under CI (CI=true or 1)."""
    if isinstance(setting, bool):
        return setting
    if setting != "auto":
        raise ValueError(f"progress: must be auto, true or false, got {setting!r}")
    return sys.stderr.isatty() and os.environ.get("CI", "").lower() not in ("1", "true")


class ProgressBar(Callback):
    """A tqdm bar with best fitness and evaluations, over the first limit that gives it a total (so it shows an
    ETA): steps (the budget's or the engine's own cap), else evaluations, else wall time; plain steps otherwise."""

    def __init__(self, total: int | None = None, desc: str = "gfopt", enabled: str | bool = "auto",
                 budget: Budget | None = None) -> None:
        self.desc = desc
        self.enabled = progress_enabled(enabled)
        self.bar = None
        self.unit, self.total = "step", total
        if total is None and budget is not None:
            if budget.steps is not None:
                self.total = budget.steps
            elif budget.evaluations is not None:
                self.unit, self.total = "eval", budget.evaluations
            elif budget.wall_time_s is not None:
                self.unit, self.total = "s", budget.wall_time_s

    def _position(self, engine: Engine) -> float:
        if self.unit == "eval":
            pos = engine.evaluations
        elif self.unit == "s":
            pos = round(engine.elapsed_s, 1)
        else:
            pos = engine.steps
        return pos if self.total is None else min(pos, self.total)  # a last step may overshoot: keep the total

    def on_start(self, engine: Engine) -> None:
        if self.enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, initial=self._position(engine), desc=self.desc, unit=self.unit,
                            dynamic_ncols=True)

    def on_step(self, engine: Engine, status: dict[str, Any]) -> None:
        if self.bar is not None:
            self.bar.update(self._position(engine) - self.bar.n)
            self.bar.set_postfix(step=engine.steps, best=f"{status['best']:.6g}", evals=status["evaluations"],
                                 refresh=False)

    def on_end(self, engine: Engine, result: RunResult) -> None:
        self.on_interrupt(engine)

    def on_interrupt(self, engine: Engine) -> bool:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        return False


def _clean(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if hasattr(x, "item"):
        return _clean(x.item())
    return x


class History(Callback):
    """Append one JSON line per step to `path`; on resume, drops lines past the checkpointed step."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def on_start(self, engine: Engine) -> None:
        if not self.path.exists():
            return
        keep = []
        for line in self.path.read_text().splitlines():
            try:
                if json.loads(line)["step"] <= engine.steps:
                    keep.append(line)
            except (ValueError, KeyError):
                break  # a torn last line from a killed run
        self.path.write_text("".join(k + "\n" for k in keep))

    def on_step(self, engine: Engine, status: dict[str, Any]) -> None:
        with self.path.open("a") as f:
            f.write(json.dumps({k: _clean(v) for k, v in status.items()}) + "\n")
            f.flush()


class Checkpoint(Callback):
    """Save `engine.state_dict()` to `path` atomically: every `every` steps, but not more often than every
    `min_interval_s` seconds (an fsync per millisecond-step would dominate fast runs), and at the end.

    After a step that took at least `snapshot_min_s` and is not written yet, a copy of its state is kept in memory,
    so that an interrupt inside the next (long) step still writes the last finished step. Fast steps skip the
    copy (its cost grows with the run's history); a first Ctrl-C ends them at the step's end (`StopOnInterrupt`).
    """

    def __init__(self, path: Path, every: int = 1, min_interval_s: float = 0.0, snapshot_min_s: float = 0.5) -> None:
        self.path = Path(path)
        self.every = max(1, int(every))
        self.min_interval_s = float(min_interval_s)
        self.snapshot_min_s = float(snapshot_min_s)
        self._last = -float("inf")
        self._step_start = time.monotonic()
        self._unsaved: dict[str, Any] | None = None
        self.saved_step: int | None = None
        """The step of the checkpoint on disk (None: none written or resumed from)."""

    def _write(self, state: dict[str, Any], step: int) -> None:
        write_state_bytes(encode_state(state), self.path)
        self._unsaved, self.saved_step = None, step

    def on_start(self, engine: Engine) -> None:
        if engine.steps and self.path.exists():
            self.saved_step = engine.steps  # resumed from it
        self._step_start = time.monotonic()

    def on_step(self, engine: Engine, status: dict[str, Any]) -> None:
        now = time.monotonic()
        took, self._step_start = now - self._step_start, now
        if engine.steps % self.every == 0 and now - self._last >= self.min_interval_s:
            self._write(engine.state_dict(), engine.steps)
            self._last = now
        else:
            self._unsaved = copy_state(engine.state_dict()) if took >= self.snapshot_min_s else None

    def on_end(self, engine: Engine, result: RunResult) -> None:
        self._write(engine.state_dict(), engine.steps)

    def on_interrupt(self, engine: Engine) -> bool:
        """Write the last finished step if it can (a step cut short is dropped); True when it is on disk.
        Otherwise `saved_step` says which older step the checkpoint on disk holds."""
        if engine.between_steps and engine.steps and self.saved_step != engine.steps:
            self._write(engine.state_dict(), engine.steps)
        elif self._unsaved is not None and self._unsaved["steps"] == engine.steps:
            self._write(self._unsaved, engine.steps)
        return self.saved_step is not None and self.saved_step == engine.steps

    def load(self) -> dict[str, Any] | None:
        """The saved state (the previous checkpoint, with a warning, when the latest is damaged), or None when
        there is no checkpoint yet; ConfigError when none can be read."""
        return load_latest_state(self.path)


class StopOnInterrupt(Callback):
    """While `active()`, the first Ctrl-C (SIGINT) or SIGTERM only asks the run to stop after the step in progress
    (this callback raises KeyboardInterrupt from `on_step`, after the history and checkpoint callbacks listed before
    it have seen that step); a second one interrupts at once. `signum` is the first signal. Only the main thread
    can take signals: elsewhere both keep their previous handlers."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.requested = False
        self.signum = int(signal.SIGINT)

    @contextmanager
    def active(self) -> Iterator[None]:
        """Install the handlers for the duration of a run."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, frame: Any) -> None:
            if self.requested:
                raise KeyboardInterrupt
            self.requested, self.signum = True, int(signum)

        previous = {s: signal.signal(s, handler) for s in self.SIGNALS}
        try:
            yield
        finally:
            for s, h in previous.items():
                signal.signal(s, h)

    def on_step(self, engine: Engine, status: dict[str, Any]) -> None:
        if self.requested:
            raise KeyboardInterrupt
