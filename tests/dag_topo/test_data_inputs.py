"""What a user's data file can get wrong, each as one InputError naming the file or column and the fix."""

from __future__ import annotations

import numpy as np
import pytest

from gfopt.errors import InputError
from gfopt.problems.dag_topo.problem import DagTopoProblem


def problem_from(path, **data):
    return DagTopoProblem(data={"path": str(path), **data})


def gaussian(n=60, d=3, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d))


def write_rows(path, rows, header=None):
    lines = ([",".join(header)] if header else []) + [",".join(repr(float(v)) for v in r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_csv_without_header_is_refused_with_the_fix(tmp_path):
    X = gaussian()
    path = write_rows(tmp_path / "x.csv", X)
    with pytest.raises(InputError, match=r"first row \(.*\) is numbers, not node names; .*problem.data.header=false "
                                         r"to name the columns x0..x2"):
        problem_from(path)
    p = problem_from(path, header=False)  # the fix: every row is data
    assert p.names == ["x0", "x1", "x2"] and p.n == len(X)


def test_header_false_on_a_file_with_a_header_names_the_column(tmp_path):
    path = write_rows(tmp_path / "x.csv", gaussian(), header=["a", "b", "c"])
    with pytest.raises(InputError, match=r"column 'x0' is not numeric \(line 1: 'a'\)"):
        problem_from(path, header=False)


def test_a_directory_is_called_a_directory(tmp_path):
    with pytest.raises(InputError, match=rf"problem.data.path: {tmp_path} is a directory"):
        problem_from(tmp_path)


def test_a_latin1_csv_names_the_file_and_the_fix(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes("température,b\n1,2\n3,5\n".encode("latin-1"))
    with pytest.raises(InputError, match=rf"{path} is not UTF-8 text \(byte 0xe9 at offset 4\); save it as UTF-8"):
        problem_from(path)


@pytest.mark.parametrize("suffix", [".npy", ".npz"])
def test_a_corrupt_numpy_file_names_the_file(tmp_path, suffix):
    path = tmp_path / f"x{suffix}"
    if suffix == ".npy":
        np.save(path, gaussian())
    else:
        np.savez(path, X=gaussian())
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(InputError, match=rf"problem.data.path: cannot read {path} as {suffix} "):
        problem_from(path)


def test_huge_values_name_the_column_and_standardize_makes_them_usable(tmp_path, recwarn):
    X = gaussian(n=200)
    X[:, 1] = 1e300 * (X[:, 1] + 0.5 * X[:, 0])
    np.save(tmp_path / "x.npy", X)
    with pytest.raises(InputError, match=r"column 'x1' has values up to .*e\+300, too large to square in float64; "
                                         r"rescale the data or pass problem.data.standardize=true"):
        problem_from(tmp_path / "x.npy")
    big = problem_from(tmp_path / "x.npy", standardize=True)
    X[:, 1] /= 1e300
    np.save(tmp_path / "small.npy", X)
    small = problem_from(tmp_path / "small.npy", standardize=True)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    np.testing.assert_allclose(big.X, small.X, rtol=1e-12, atol=1e-12)  # the same standardized data
    order = np.arange(3)
    assert big.evaluate([order])[0] == pytest.approx(small.evaluate([order])[0], rel=1e-9)


def test_a_npy_header_that_does_not_parse_is_one_input_error(tmp_path):
    """numpy's header parser raises SyntaxError on some damaged headers (found by the hypothesis readers test)."""
    import io

    from gfopt.errors import InputError
    from gfopt.problems.dag_topo.data import load

    buf = io.BytesIO()
    np.save(buf, np.ones((3, 2)))
    raw = bytearray(buf.getvalue())
    i = raw.find(b"False")
    raw[i:i + 5] = b"Fals("
    (tmp_path / "x.npy").write_bytes(bytes(raw))
    with pytest.raises(InputError, match="cannot read .*x.npy as .npy"):
        load(tmp_path / "x.npy")


def test_least_squares_warnings_point_to_the_unit_free_score_not_to_standardizing(caplog):
    """Squared-error scores orient edges by variance, which standardizing removes: on this instance the raw data
    give the true graph and the standardized ones do not. The warnings (standardize=true, or column scales 1000x
    apart) say so and name problem.score.type=bic; the unit-free score itself is not warned about."""
    from gfopt.core.engine import run
    from gfopt.core.local_search import LocalSearchEngine
    from gfopt.problems.dag_topo.data import Dataset, simulate
    from gfopt.problems.dag_topo.metrics import count_accuracy

    def fresh() -> Dataset:  # warnings are once per dataset object
        return simulate("ER", 2, 10, 1000, "gauss", "linear", 9500)

    def warned(**kw) -> str:
        with caplog.at_level("WARNING", logger="gfopt.dag_topo"):
            caplog.clear()
            kw.setdefault("dataset", fresh())
            DagTopoProblem(**kw)
        return caplog.text

    shd = {}
    for standardize in (False, True):
        ds = fresh()
        p = DagTopoProblem(data={"standardize": standardize}, dataset=ds)
        res = run(p, LocalSearchEngine(restarts=0), np.random.default_rng(0))
        shd[standardize] = count_accuracy(ds.B_true, p.thresholded(p.fit(res.best).W))["shd"]
    assert shd[False] == 0 < shd[True]
    text = warned(data={"standardize": True})
    assert "problem.data.standardize=true with least squares" in text and "problem.score.type=bic" in text
    wide = fresh()
    wide.X[:, 3] *= 1e4
    text = warned(dataset=wide)
    assert "column scales differ by" in text and "problem.score.type=bic" in text and "standardize" not in text
    assert warned(dataset=wide) == ""  # once per dataset (the default's first stage builds a second problem on it)
    assert warned() == "" and warned(score={"type": "bic"}, dataset=wide) == ""
