"""The errors the app reports as one line (no traceback): bad configuration or bad input data. Their one home."""

import signal


class ConfigError(ValueError):
    """A bad configuration value: the message names the key and the fix, on one line."""


class InputError(ValueError):
    """Bad input (a file, a column, a JSONL line): the message names the culprit and the fix."""


class Interrupted(KeyboardInterrupt):
    """A signal ended the command (`signum`: Ctrl-C's SIGINT unless a subclass says otherwise)."""

    signum: int = signal.SIGINT

    @property
    def exit_status(self) -> int:
        """128 + the signal, as a shell reports a process killed by it (130 Ctrl-C, 143 SIGTERM)."""
        return 128 + int(self.signum)


class Terminated(Interrupted):
    """SIGTERM (a scheduler's stop, `kill`) outside the search loop: treated as Ctrl-C, exit status 143."""

    signum = signal.SIGTERM


class RunInterrupted(Interrupted):
    """Ctrl-C (or SIGTERM: `signum`) ended a run after `steps` finished steps; `saved_step`: the step of the
    checkpoint on disk (None: none); `run`: which run of the command (a baseline's name), None for the main one."""

    def __init__(self, steps: int, saved_step: int | None, run: str | None = None,
                 signum: int = signal.SIGINT) -> None:
        super().__init__(f"interrupted at step {steps}")
        self.steps = steps
        self.saved_step = saved_step
        self.run = run
        self.signum = signum

    def line(self) -> str:
        """The one line the command prints."""
        where = f"step {self.steps}" + (f" of {self.run}" if self.run else "")
        if self.signum == signal.SIGTERM:
            where += " by SIGTERM"
        if self.saved_step == self.steps:
            return f"interrupted at {where}; checkpoint saved; run the same command to resume"
        if self.saved_step is not None:
            return f"interrupted at {where}; checkpoint of step {self.saved_step} saved; run the same command to resume"
        if self.run:
            return f"interrupted at {where}; the runs before it are saved; run the same command to resume"
        return f"interrupted at {where}; no step finished, nothing to resume"
