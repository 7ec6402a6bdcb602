"""Run callbacks: progress bar, JSONL history, checkpoints (atomic, resumable)."""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

from gfopt.core.checkpoint import load_state, save_state
from gfopt.core.engine import Callback, Engine, RunResult


def progress_enabled(setting: str | bool = "auto") -> bool:
    """True/False as given; 'auto' shows a bar only on a TTY and never under CI (CI=true or 1)."""
    if isinstance(setting, bool):
        return setting
    if setting != "auto":
        raise ValueError(f"progress: must be auto, true or false, got {setting!r}")
    return sys.stderr.isatty() and os.environ.get("CI", "").lower() not in ("1", "true")


class ProgressBar(Callback):
    """A tqdm bar over steps showing best/mean fitness and evaluations."""

    def __init__(self, total: int | None = None, desc: str = "gfopt", enabled: str | bool = "auto") -> None:
        self.total = total
        self.desc = desc
        self.enabled = progress_enabled(enabled)
        self.bar = None

    def on_start(self, engine: Engine) -> None:
        if self.enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, initial=engine.steps, desc=self.desc, unit="step", dynamic_ncols=True)

    def on_step(self, engine: Engine, status: dict[str, Any]) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(best=f"{status['best']:.6g}", evals=status["evaluations"], refresh=False)

    def on_end(self, engine: Engine, result: RunResult) -> None:
        if self.bar is not None:
            self.bar.close()


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
    `min_interval_s` seconds (an fsync per millisecond-step would dominate fast runs), and at the end."""

    def __init__(self, path: Path, every: int = 1, min_interval_s: float = 0.0) -> None:
        self.path = Path(path)
        self.every = max(1, int(every))
        self.min_interval_s = float(min_interval_s)
        self._last = -float("inf")

    def on_step(self, engine: Engine, status: dict[str, Any]) -> None:
        now = time.monotonic()
        if engine.steps % self.every == 0 and now - self._last >= self.min_interval_s:
            save_state(engine.state_dict(), self.path)
            self._last = now

    def on_end(self, engine: Engine, result: RunResult) -> None:
        save_state(engine.state_dict(), self.path)

    def load(self) -> dict[str, Any] | None:
        """The saved state, or None when there is no checkpoint yet."""
        return load_state(self.path) if self.path.exists() else None
