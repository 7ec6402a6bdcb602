"""Input checks (one clear error naming the problem, before any search), loading, and simulation conventions."""

from __future__ import annotations

import numpy as np
import pytest

from gfopt.errors import InputError
from gfopt.problems.dag_topo.data import load, simulate, topological_order
from gfopt.problems.dag_topo.problem import DagTopoProblem


def problem_from(path, **score):
    return DagTopoProblem(data={"path": str(path)}, score=score or None)


def write_csv(path, header, rows):
    path.write_text(",".join(header) + "\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n")
    return path


def gaussian(n=50, d=3, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d))


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"problem.data.path: file not found: .*nope.csv"):
        problem_from(tmp_path / "nope.csv")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_names_the_column(tmp_path, bad):
    X = gaussian()
    X[7, 1] = bad
    np.save(tmp_path / "x.npy", X)
    with pytest.raises(InputError, match=r"column 'x1' has 1 NaN/inf value\(s\) \(first at row 8\)"):
        problem_from(tmp_path / "x.npy")


def test_non_numeric_column_is_named(tmp_path):
    rows = [[1.0, "a", 2.0], [2.0, "b", 1.0], [0.5, "c", 0.1]]
    with pytest.raises(InputError, match=r"column 'grp' is not numeric \(line 2: 'a'\)"):
        problem_from(write_csv(tmp_path / "x.csv", ["p1", "grp", "p3"], rows))


def test_constant_column_is_named(tmp_path):
    X = gaussian()
    X[:, 2] = 4.0
    rows = X.tolist()
    with pytest.raises(InputError, match=r"column 'c' is constant"):
        problem_from(write_csv(tmp_path / "x.csv", ["a", "b", "c"], rows))


def test_fewer_than_two_columns(tmp_path):
    np.save(tmp_path / "x.npy", gaussian(d=1))
    with pytest.raises(InputError, match="need at least 2 nodes"):
        problem_from(tmp_path / "x.npy")


def test_fewer_than_two_rows(tmp_path):
    write_csv(tmp_path / "x.csv", ["a", "b"], [[1.0, 2.0]])
    with pytest.raises(InputError, match="need at least 2 samples"):
        problem_from(tmp_path / "x.csv")


def test_binary_data_for_least_squares(tmp_path):
    X = (gaussian(d=4) > 0).astype(float)
    np.save(tmp_path / "x.npy", X)
    with pytest.raises(InputError, match="binary .* use problem.score.type=logistic"):
        problem_from(tmp_path / "x.npy")


def test_continuous_data_for_logistic(tmp_path):
    np.save(tmp_path / "x.npy", gaussian(d=4))
    with pytest.raises(InputError, match="column 'x0' is not 0/1; logistic needs binary data"):
        problem_from(tmp_path / "x.npy", type="logistic")


def test_npz_without_x(tmp_path):
    np.savez(tmp_path / "x.npz", Y=gaussian())
    with pytest.raises(InputError, match="has no array 'X'"):
        problem_from(tmp_path / "x.npz")


def test_csv_with_odd_names_and_scales_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.normal(size=300) * 1e4
    b = 3e-4 * a + rng.normal(size=300)
    c = rng.normal(size=300) * 1e-3
    names = ["p44/42", "raf mek", "PIP3(%)"]
    ds = load(write_csv(tmp_path / "x.csv", names, np.c_[a, b, c].tolist()))
    assert ds.names == names and ds.X.shape == (300, 3)
    p = DagTopoProblem(data={"path": str(tmp_path / "x.csv"), "standardize": True})
    np.testing.assert_allclose(p.X.std(axis=0), 1.0)
    np.testing.assert_allclose(p.X.mean(axis=0), 0.0, atol=1e-12)
    # without standardizing, scales 7 orders of magnitude apart still give the same order scores
    raw = DagTopoProblem(data={"path": str(tmp_path / "x.csv")})
    for order in ([0, 1, 2], [2, 1, 0], [1, 0, 2]):
        X = raw.X
        W = raw.fit(np.array(order)).W
        direct = 0.5 / len(X) * np.sum((X - X @ W) ** 2)
        assert raw.fit(np.array(order)).score == pytest.approx(direct, rel=1e-9)


def test_collinear_columns_are_rejected(tmp_path):
    X = gaussian(d=3)
    X = np.c_[X, X[:, 0] - 2 * X[:, 1]]
    np.save(tmp_path / "x.npy", X)
    with pytest.raises(InputError, match="linearly dependent"):
        problem_from(tmp_path / "x.npy")


def test_center_false_keeps_x_as_given(tmp_path):
    X = gaussian() + 5.0
    np.save(tmp_path / "x.npy", X)
    p = DagTopoProblem(data={"path": str(tmp_path / "x.npy"), "center": False})
    np.testing.assert_array_equal(p.X, X)
    assert DagTopoProblem(data={"path": str(tmp_path / "x.npy")}).X.mean(axis=0) == pytest.approx(0.0, abs=1e-12)


def test_npz_truth_and_init_order_are_read(tmp_path):
    ds = simulate("ER", 2, 6, 100, "gauss", "linear", 0)
    order = np.arange(6)[::-1]
    np.savez(tmp_path / "x.npz", X=ds.X, W_true=ds.W_true, init_order=order)
    p = DagTopoProblem(data={"path": str(tmp_path / "x.npz")}, search={"init": "data"},
                       score={"select": "all"})  # the sparse default refines each start first (two_stage)
    np.testing.assert_array_equal(p.dataset.B_true, ds.B_true)
    np.testing.assert_array_equal(p.initial(1, np.random.default_rng(0))[0], order)


@pytest.mark.parametrize("graph", ["ER", "SF"])
def test_simulation_follows_notears_conventions(graph):
    ds = simulate(graph, 2, 30, 50, "gauss", "linear", 1)
    topological_order(ds.B_true)  # acyclic, or it raises
    w = np.abs(ds.W_true[ds.B_true != 0])
    assert np.all((w >= 0.5) & (w <= 2.0))
    assert abs(ds.B_true.sum() - 60) <= (0 if graph == "ER" else 10)
    again = simulate(graph, 2, 30, 50, "gauss", "linear", 1)
    np.testing.assert_array_equal(ds.X, again.X)


def test_logistic_simulation_is_binary():
    ds = simulate("ER", 1, 5, 200, "gauss", "logistic", 0)
    assert set(np.unique(ds.X)) <= {0.0, 1.0}
