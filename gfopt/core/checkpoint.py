"""Checkpoints without pickle: nested dicts/lists of JSON values and numpy arrays in one .npz, written atomically.

The previous checkpoint is kept beside the new one (`<name>.prev.npz`), so a checkpoint that a crash, a full disk
or an editor left unreadable costs one step of progress instead of the run.
"""

from __future__ import annotations

import io
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from gfopt.errors import ConfigError

_META = "__meta__"
log = logging.getLogger("gfopt")


def file_mode() -> int:
    """The mode a plain `open(path, "w")` would give a new file under the process umask (0o666 & ~umask)."""
    try:  # Linux exposes the umask without changing it (os.umask would, for a moment, for every thread)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temp file in the same folder and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, file_mode())  # mkstemp makes 0600 files; results should read like any other output
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Atomic text write (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    """Atomic JSON write, keys in insertion order, 2-space indent."""
    atomic_write_text(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


def _json_default(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not JSON serializable: {type(x).__name__}")


def _encode(obj: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(obj, np.ndarray):
        key = f"a{len(arrays)}"
        if obj.dtype.kind == "V" and obj.dtype.itemsize == 2:  # ml_dtypes bfloat16: npz keeps raw bits only
            arrays[key] = np.ascontiguousarray(obj).view(np.uint16)
            return {"__array__": key, "dtype": obj.dtype.name}
        arrays[key] = obj
        return {"__array__": key}
    if hasattr(obj, "detach") and hasattr(obj, "cpu"):  # a torch tensor, without importing torch
        return _encode(obj.detach().cpu().numpy(), arrays)
    if isinstance(obj, dict):
        return {"__dict__": [[k, _encode(v, arrays)] for k, v in obj.items()]}
    if isinstance(obj, list | tuple):
        return [_encode(v, arrays) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _decode(obj: Any, arrays: Any) -> Any:
    if isinstance(obj, dict):
        if "__array__" in obj:
            a = arrays[obj["__array__"]]
            if "dtype" in obj:  # bfloat16 stored as its uint16 bits
                import ml_dtypes

                a = a.view(getattr(ml_dtypes, obj["dtype"]))
            return a
        return {k: _decode(v, arrays) for k, v in obj["__dict__"]}
    if isinstance(obj, list):
        return [_decode(v, arrays) for v in obj]
    return obj


def encode_state(state: dict[str, Any]) -> bytes:
    """A state dict (JSON values + numpy arrays) as the bytes of an .npz file: a deep copy, detached from the
    engine's live arrays."""
    arrays: dict[str, np.ndarray] = {}
    meta = json.dumps(_encode(state, arrays))
    buf = io.BytesIO()
    np.savez(buf, **arrays, **{_META: np.array(meta)})
    return buf.getvalue()


def copy_state(obj: Any) -> Any:
    """A copy of a state dict that later changes to the engine's arrays cannot reach: arrays (and tensors) are
    copied, dicts and lists rebuilt, other values (numbers, strings, bytes) shared. Several times cheaper than
    `copy.deepcopy` on the same state."""
    if isinstance(obj, np.ndarray):
        return obj.copy()
    if hasattr(obj, "detach") and hasattr(obj, "clone"):  # a torch tensor, without importing torch
        return obj.detach().clone()
    if isinstance(obj, dict):
        return {k: copy_state(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [copy_state(v) for v in obj]
    return obj


def previous_path(path: Path) -> Path:
    """Where the checkpoint before `path` is kept: `checkpoint.npz` -> `checkpoint.prev.npz`."""
    path = Path(path)
    return path.with_name(f"{path.stem}.prev{path.suffix}")


def write_state_bytes(data: bytes, path: Path) -> None:
    """Install encoded state at `path` atomically; the file it replaces becomes `previous_path(path)`.

    Between the two renames only the .prev file exists, and `load_latest_state` reads it.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
    atomic_write_bytes(tmp, data)
    if path.exists():
        os.replace(path, previous_path(path))  # a separate file: damage to the new one cannot reach it
    os.replace(tmp, path)


def save_state(state: dict[str, Any], path: Path) -> None:
    """Write a state dict (JSON values + numpy arrays) to `path` (.npz) atomically, keeping the previous one."""
    write_state_bytes(encode_state(state), path)


def load_state(path: Path) -> dict[str, Any]:
    """Read a state dict written by `save_state` (no pickle involved); any damage raises an exception."""
    with np.load(Path(path), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if k != _META}
        meta = json.loads(str(z[_META]))
    return _decode(meta, arrays)


def load_latest_state(path: Path) -> dict[str, Any] | None:
    """The state at `path`, else (with a warning) the previous one; None when neither file exists.

    Raises a one-line ConfigError when the files exist but none loads.
    """
    path = Path(path)
    candidates = [p for p in (path, previous_path(path)) if p.exists()]
    errors = []
    for p in candidates:
        try:
            state = load_state(p)
        except Exception as e:  # a damaged zip, JSON or array: BadZipFile, EOFError, ValueError, KeyError, ...
            errors.append(f"{p.name}: {type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}")
            continue
        if errors:
            log.warning("cannot read %s (%s); resuming from %s (step %s)", path, errors[0], p.name, state.get("steps"))
        return state
    if not candidates:
        return None
    raise ConfigError(f"resume: cannot read the checkpoint in {path.parent} ({'; '.join(errors)}); "
                     "pass resume=false to start over")
