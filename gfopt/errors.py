"""Errors that the app reports as one line (no traceback): bad configuration or bad input data."""

from gfopt.core.config import ConfigError


class InputError(ValueError):
    """Bad input (a file, a column, a JSONL line): the message names the culprit and the fix."""


__all__ = ["ConfigError", "InputError"]
