"""Checkpoints without pickle: nested dicts/lists of JSON values and numpy arrays in one .npz, written atomically."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

_META = "__meta__"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temp file in the same folder and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
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


def save_state(state: dict[str, Any], path: Path) -> None:
    """Write a state dict (JSON values + numpy arrays) to `path` (.npz) atomically."""
    import io

    arrays: dict[str, np.ndarray] = {}
    meta = json.dumps(_encode(state, arrays))
    buf = io.BytesIO()
    np.savez(buf, **arrays, **{_META: np.array(meta)})
    atomic_write_bytes(Path(path), buf.getvalue())


def load_state(path: Path) -> dict[str, Any]:
    """Read a state dict written by `save_state` (no pickle involved)."""
    with np.load(Path(path), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if k != _META}
        meta = json.loads(str(z[_META]))
    return _decode(meta, arrays)
