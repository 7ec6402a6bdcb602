"""The built-in model zoo of llm_evo: a tiny Llama, a shared LoRA adapter, K domain experts and held-out tasks.

Everything is saved as Hugging Face / PEFT directories under `$GFOPT_HOME/zoo/<preset>-s<seed>/` and loaded back
through `from_pretrained`, the same path a user's real model takes. See docs/llm_zoo.md.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from gfopt.errors import InputError
from gfopt.problems.llm_evo.zoo.presets import PRESETS, ZOO_VERSION, ZooPreset, get_preset

log = logging.getLogger("gfopt.llm_evo")


def gfopt_home() -> Path:
    """`$GFOPT_HOME`, else `$XDG_CACHE_HOME/gfopt`, else `~/.cache/gfopt`."""
    if os.environ.get("GFOPT_HOME"):
        return Path(os.environ["GFOPT_HOME"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "gfopt"


def zoo_dir(preset: str = "default", seed: int = 0) -> Path:
    """Where the zoo of (preset, seed) lives (whether or not it is built)."""
    return gfopt_home() / "zoo" / f"{preset}-s{int(seed)}"


def load_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest of a built zoo dir (or the manifest.json file itself); InputError when missing or broken."""
    path = Path(path)
    file = path / "manifest.json" if path.is_dir() else path
    try:
        return json.loads(file.read_text())
    except FileNotFoundError as e:
        raise InputError(f"{file}: zoo manifest not found; build it with `python -m gfopt zoo build`") from e
    except json.JSONDecodeError as e:
        raise InputError(f"{file}: broken zoo manifest ({e}); delete the zoo dir and rebuild it") from e


def ensure_zoo(preset: str = "default", seed: int = 0, progress: bool = True) -> Path:
    """The zoo dir of (preset, seed), built first when missing or built by an older zoo version."""
    out = zoo_dir(preset, seed)
    built = (out / "manifest.json").exists()
    version = load_manifest(out).get("zoo_version") if built else None
    if version != ZOO_VERSION:
        from gfopt.problems.llm_evo.zoo.build import build_zoo

        if built:  # say so: results on the old zoo are not comparable with the new one
            log.warning("zoo %s was built by zoo version %s; this gfopt needs %s: rebuilding it", out, version,
                        ZOO_VERSION)
        build_zoo(get_preset(preset), int(seed), out, progress=progress)
    return out


def cli(argv: list[str]) -> int:
    """`python -m gfopt zoo build|info [--preset P] [--seed S]`."""
    from gfopt.problems.llm_evo.zoo.command import run_cli

    return run_cli(argv)


__all__ = ["PRESETS", "ZOO_VERSION", "ZooPreset", "cli", "ensure_zoo", "gfopt_home", "load_manifest", "zoo_dir"]
