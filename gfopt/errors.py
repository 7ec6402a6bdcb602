"""The errors the app reports as one line (no traceback): bad configuration or bad input data. Their one home."""


class ConfigError(ValueError):
    """A bad configuration value: the message names the key and the fix, on one line."""


class InputError(ValueError):
    """Bad input (a file, a column, a JSONL line): the message names the culprit and the fix."""
