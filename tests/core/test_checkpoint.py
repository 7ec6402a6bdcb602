"""Checkpoint files: lossless round trip without pickle, atomic writes."""

import numpy as np
import pytest

from gfopt.core.checkpoint import atomic_write_text, load_state, save_state


def test_round_trip_nested_state_with_rng(tmp_path):
    rng = np.random.default_rng(42)
    rng.random(3)
    state = {"a": 1, "b": [np.arange(3), None, {"c": np.eye(2, dtype=np.float32)}], "rng": rng.bit_generator.state,
             "f": float("nan"), "s": "text"}
    save_state(state, tmp_path / "ck.npz")
    back = load_state(tmp_path / "ck.npz")
    assert back["a"] == 1 and back["s"] == "text" and np.isnan(back["f"])
    assert back["b"][0].tolist() == [0, 1, 2] and back["b"][1] is None
    assert back["b"][2]["c"].dtype == np.float32
    other = np.random.default_rng(0)
    other.bit_generator.state = back["rng"]
    assert other.random() == rng.random()


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    p = tmp_path / "out.txt"
    atomic_write_text(p, "old")

    class Boom(str):
        def encode(self, *_):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write_text(p, Boom("new"))
    assert p.read_text() == "old"
    assert [f.name for f in tmp_path.iterdir()] == ["out.txt"]


def test_bfloat16_arrays_round_trip(tmp_path):
    import ml_dtypes

    from gfopt.core.checkpoint import load_state, save_state

    a = (np.arange(7, dtype=np.float32) / 3).astype(ml_dtypes.bfloat16)
    save_state({"x": [a, np.ones(2)]}, tmp_path / "c.npz")
    back = load_state(tmp_path / "c.npz")["x"]
    assert back[0].dtype == a.dtype and back[0].tobytes() == a.tobytes() and back[1].tolist() == [1.0, 1.0]
