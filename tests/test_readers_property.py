"""Property tests of the input readers (dag_topo's CSV / NPY / NPZ, llm_evo's JSONL task splits): whatever the bytes
or arrays, a reader returns valid data or raises the project's one-line InputError; never another exception or a
numpy warning."""

from __future__ import annotations

import io
import json
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gfopt.errors import InputError
from gfopt.problems.dag_topo.data import load, validate
from gfopt.problems.llm_evo.data import read_jsonl

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_dag_reader(data: bytes, suffix: str, header: bool = True) -> None:
    """Write `data` to a file and read it as problem.data.path would (load, then the checks before any search)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"x{suffix}"
        path.write_bytes(data)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                ds = load(path, header=header)
                validate(ds, "least_squares")
            except InputError as e:
                assert "\n" not in str(e) and str(e)
                return
    n, d = ds.X.shape
    assert n >= 2 and d >= 2 and ds.X.dtype == float and np.isfinite(ds.X).all()
    assert len(ds.names) == d == len(set(ds.names))


def npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def damaged(data: bytes, draw_cut: int, flip: int | None) -> bytes:
    """A prefix of `data` (a torn write), optionally with one byte flipped (a bad sector)."""
    out = bytearray(data[:draw_cut])
    if flip is not None and out:
        out[flip % len(out)] ^= 0xFF
    return bytes(out)


DTYPES = st.sampled_from(["f8", "f4", "i8", "u1", "b1", "c16", "U3", "M8[D]", "f2"])
ARRAYS = hnp.arrays(DTYPES, hnp.array_shapes(min_dims=0, max_dims=3, max_side=6))
MATRIX = hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6)
NUMERIC = st.one_of(  # n x d data that gets past the type checks: huge, tiny, NaN, constant, binary values
    hnp.arrays("f8", MATRIX, elements=st.floats() | st.sampled_from([0.0, 1.0, 1e300, -1e300, 5e-324])),
    hnp.arrays("i4", MATRIX, elements=st.integers(-3, 3)))
CELL = st.one_of(st.floats(allow_nan=True).map(repr), st.integers(-9, 9).map(str), st.text(max_size=4),
                 st.sampled_from(["", " ", "1e400", "nan", "x0", '"a,b"', "0x10"]))


@SETTINGS
@given(st.binary(max_size=400), st.sampled_from([".csv", ".npy", ".npz"]), st.booleans())
def test_any_bytes(data, suffix, header):
    check_dag_reader(data, suffix, header)


@SETTINGS
@given(st.lists(st.lists(CELL, min_size=1, max_size=4), min_size=0, max_size=6), st.booleans(),
       st.sampled_from(["utf-8", "latin-1"]))
def test_csv_text(rows, header, encoding):
    text = "\n".join(",".join(r) for r in rows) + "\n"
    check_dag_reader(text.encode(encoding, errors="replace"), ".csv", header)


@SETTINGS
@given(st.one_of(ARRAYS, NUMERIC), st.integers(0, 4000), st.one_of(st.none(), st.integers(0, 4000)))
def test_npy_arrays_whole_and_damaged(arr, cut, flip):
    data = npy_bytes(arr)
    check_dag_reader(data, ".npy")
    check_dag_reader(damaged(data, cut, flip), ".npy")


@SETTINGS
@given(st.dictionaries(st.sampled_from(["X", "B_true", "W_true", "init_order", "other"]), st.one_of(ARRAYS, NUMERIC),
                       max_size=4),
       st.integers(0, 4000), st.one_of(st.none(), st.integers(0, 4000)))
def test_npz_archives_whole_and_damaged(arrays, cut, flip):
    data = npz_bytes(arrays)
    check_dag_reader(data, ".npz")
    check_dag_reader(damaged(data, cut, flip), ".npz")


def test_a_valid_npz_with_truth_and_order_loads():
    X = np.random.default_rng(0).normal(size=(20, 3))
    B = np.triu(np.ones((3, 3)), 1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.npz"
        path.write_bytes(npz_bytes({"X": X, "B_true": B, "init_order": np.array([2, 0, 1])}))
        ds = load(path)
    assert np.array_equal(ds.X, X) and np.array_equal(ds.B_true, B) and ds.init_order.tolist() == [2, 0, 1]


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
                           lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
                           max_leaves=6)
RECORDS = st.fixed_dictionaries({}, optional={"prompt": JSON_VALUES | st.text(max_size=5),
                                              "answer": JSON_VALUES | st.text(max_size=5),
                                              "question": st.text(max_size=5), "choices": JSON_VALUES})


def check_jsonl(data: bytes, kind: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "valid.jsonl"
        path.write_bytes(data)
        try:
            samples = read_jsonl(path, kind)
        except InputError as e:
            assert "\n" not in str(e) and str(e)
            return
    assert samples and all(isinstance(s.prompt, str) and isinstance(s.answer, str) and s.answer for s in samples)
    if kind == "multiple_choice":
        assert all(s.choices[s.label] == s.answer for s in samples)


@SETTINGS
@given(st.binary(max_size=300), st.sampled_from(["generation", "multiple_choice"]))
def test_jsonl_any_bytes(data, kind):
    check_jsonl(data, kind)


@SETTINGS
@given(st.lists(RECORDS | JSON_VALUES, min_size=0, max_size=4), st.sampled_from(["generation", "multiple_choice"]))
def test_jsonl_records(records, kind):
    check_jsonl("".join(json.dumps(r) + "\n" for r in records).encode(), kind)


@pytest.mark.parametrize("kind", ["generation", "multiple_choice"])
def test_jsonl_valid_records_load(kind):
    rec = {"prompt": "a", "answer": "b"} if kind == "generation" else {"question": "q", "choices": ["x", "y"],
                                                                        "answer": 1}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "valid.jsonl"
        path.write_text(json.dumps(rec) + "\n")
        assert len(read_jsonl(path, kind)) == 1
