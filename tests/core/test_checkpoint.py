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


def test_copy_state_is_detached_from_the_live_arrays_and_round_trips(tmp_path):
    from gfopt.core.checkpoint import copy_state

    live = {"pop": [np.arange(3)], "fit": np.ones(2), "rng": {"state": 5}, "t": (1, "a")}
    snap = copy_state(live)
    live["pop"][0][0] = 99
    live["fit"] *= 7
    live["rng"]["state"] = 6
    assert snap["pop"][0].tolist() == [0, 1, 2] and snap["fit"].tolist() == [1, 1] and snap["rng"]["state"] == 5
    save_state(snap, tmp_path / "ck.npz")
    back = load_state(tmp_path / "ck.npz")
    assert back["pop"][0].tolist() == [0, 1, 2] and back["t"] == [1, "a"]


def test_a_damaged_checkpoint_falls_back_to_the_previous_one_with_a_warning(tmp_path, caplog):
    from gfopt.core.checkpoint import load_latest_state, previous_path

    path = tmp_path / "checkpoint.npz"
    save_state({"steps": 1}, path)
    save_state({"steps": 2}, path)
    assert previous_path(path).name == "checkpoint.prev.npz" and load_state(previous_path(path))["steps"] == 1
    path.write_bytes(path.read_bytes()[:30])
    assert load_latest_state(path)["steps"] == 1
    assert "resuming from checkpoint.prev.npz (step 1)" in caplog.text
    path.unlink()  # a crash between the two renames of a write: only the previous file is there
    assert load_latest_state(path)["steps"] == 1
    assert load_latest_state(tmp_path / "none.npz") is None
