"""Errors that the app reports as one line (no traceback): bad configuration or bad input data."""

from gfopt.core.config import ConfigError


class InputError(ValueError):
    """Bad input (a file, a column, a JSONL line): the message names the culprit and the fix."""


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C ended a run after `steps` finished steps; `saved`: a checkpoint of them is on disk."""

    def __init__(self, steps: int, saved: bool) -> None:
        super().__init__(f"interrupted at step {steps}")
        self.steps = steps
        self.saved = saved

    def line(self) -> str:
        """The one line the command prints."""
        if self.saved:
            return f"interrupted at step {self.steps}; checkpoint saved; run the same command to resume"
        return f"interrupted at step {self.steps}; no step finished, nothing to resume"


__all__ = ["ConfigError", "InputError", "RunInterrupted"]
