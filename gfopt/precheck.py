"""Compose the config once before Hydra runs, so a bad key, type or group choice is one error line.

Hydra's own composition errors span several lines plus a hint about HYDRA_FULL_ERROR; for single runs
we compose first with the same overrides and report the first problem as `key: what is wrong`.
"""

from __future__ import annotations

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException


def _innermost(e: BaseException) -> BaseException:
    while e.__cause__ is not None:
        e = e.__cause__
    return e


def describe(e: BaseException) -> str:
    """One line for a composition error: the full key (or group) and what to do."""
    inner = _innermost(e)
    key = getattr(inner, "full_key", None) or getattr(e, "full_key", None)
    msg = str(inner).strip().splitlines()[0] if str(inner).strip() else type(inner).__name__
    text = str(e)
    if "Could not find" in text and "Available options" in text:
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        wanted = lines[0].split("Could not find", 1)[1].strip().strip("'")
        i = next(k for k, ln in enumerate(lines) if ln.startswith("Available options"))
        options = [ln for ln in lines[i + 1:] if not (":" in ln or "=" in ln)]
        return f"{wanted}: no such config; available: {', '.join(options)}"
    if "not in" in msg or "not in struct" in msg:
        return f"{key}: unknown key ({msg}); check the spelling, or see `python -m gfopt --cfg job`"
    return f"{key}: {msg}" if key else msg


def precheck(conf_dir: str, overrides: list[str]) -> str | None:
    """Compose `config` with `overrides` (hydra.* ones left to Hydra); return an error line or None."""
    user = [o for o in overrides if not o.lstrip("+~").startswith(("hydra.", "hydra/"))]
    try:
        with initialize_config_dir(config_dir=conf_dir, version_base="1.3"):
            compose(config_name="config", overrides=user)
    except (HydraException, OmegaConfBaseException) as e:
        return describe(e)
    return None
