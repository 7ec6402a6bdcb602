"""Data for dag_topo: NOTEARS-style simulation, loading .csv/.npy/.npz, and the input checks.

Every problem with the input is reported as one `InputError` line naming the file / column and the fix,
before any search starts.
"""

from __future__ import annotations

import csv
import heapq
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from scipy.special import expit

from gfopt.errors import InputError


@dataclass
class Dataset:
    """X (n x d) with node names, plus the truth and an initial order when the source has them."""

    X: np.ndarray
    names: list[str]
    B_true: np.ndarray | None = None
    W_true: np.ndarray | None = None
    init_order: np.ndarray | None = None
    source: str = "simulated"


# ---------------------------------------------------------------------------------------------- simulation
def simulate_dag(d: int, s0: int, graph: str, rng: np.random.Generator) -> np.ndarray:
    """Binary DAG adjacency (B[i, j] = 1: i -> j) with about s0 edges: ER (uniform edges) or SF (Barabasi-Albert)."""
    if graph == "ER":
        pairs = np.array(np.triu_indices(d, 1)).T
        s0 = min(s0, len(pairs))
        chosen = pairs[rng.choice(len(pairs), size=s0, replace=False)]
        B = np.zeros((d, d))
        B[chosen[:, 0], chosen[:, 1]] = 1  # acyclic: edges go from lower to higher label
    elif graph == "SF":
        m = max(1, int(round(s0 / d)))
        B = np.zeros((d, d))
        degree = np.zeros(d)
        for new in range(1, d):
            k = min(m, new)
            weights = degree[:new] + 1.0
            targets = rng.choice(new, size=k, replace=False, p=weights / weights.sum())
            B[new, targets] = 1  # new node points at older, popular ones
            degree[targets] += 1
            degree[new] += k
    else:
        raise ValueError(f"unknown graph type {graph!r}")
    perm = rng.permutation(d)
    return B[np.ix_(perm, perm)]


def simulate_weights(B: np.ndarray, rng: np.random.Generator, low: float = 0.5, high: float = 2.0) -> np.ndarray:
    """Edge weights uniform on [-high, -low] U [low, high]."""
    sign = rng.choice([-1.0, 1.0], size=B.shape)
    return B * sign * rng.uniform(low, high, size=B.shape)


def topological_order(B: np.ndarray) -> np.ndarray:
    """A topological order of the DAG B (Kahn's algorithm, smallest label first); ValueError when cyclic."""
    B = np.asarray(B) != 0
    indeg = B.sum(axis=0).astype(int)
    ready = np.flatnonzero(indeg == 0).tolist()
    heapq.heapify(ready)
    out = []
    while ready:
        i = heapq.heappop(ready)
        out.append(i)
        for j in np.flatnonzero(B[i]):
            indeg[j] -= 1
            if indeg[j] == 0:
                heapq.heappush(ready, int(j))
    if len(out) != len(B):
        raise ValueError("graph has a cycle")
    return np.array(out, dtype=np.int64)


def simulate_sem(W: np.ndarray, n: int, sem: str, noise: str, rng: np.random.Generator) -> np.ndarray:
    """Samples from a linear SEM (additive noise of unit scale) or a logistic / Poisson GLM SEM."""
    d = len(W)
    X = np.zeros((n, d))
    for j in topological_order(W):
        eta = X @ W[:, j]
        if sem == "logistic":
            X[:, j] = rng.binomial(1, expit(eta)).astype(float)
        elif sem == "poisson":
            X[:, j] = rng.poisson(np.exp(np.minimum(eta, 20.0))).astype(float)
        elif noise == "gauss":
            X[:, j] = eta + rng.normal(size=n)
        elif noise == "exp":
            X[:, j] = eta + rng.exponential(size=n)
        elif noise == "gumbel":
            X[:, j] = eta + rng.gumbel(size=n)
        elif noise == "uniform":
            X[:, j] = eta + rng.uniform(-1.0, 1.0, size=n)
        else:
            raise ValueError(f"unknown noise {noise!r}")
    return X


def simulate(graph: str, k: int, d: int, n: int, noise: str, sem: str, seed: int) -> Dataset:
    """NOTEARS-convention instance: s0 = k * d expected edges, weights U(+-[0.5, 2]), one seed for everything."""
    rng = np.random.default_rng(seed)
    B = simulate_dag(d, k * d, graph, rng)
    W = simulate_weights(B, rng)
    X = simulate_sem(W, n, sem, noise, rng)
    return Dataset(X=X, names=[f"x{i}" for i in range(d)], B_true=B, W_true=W)


# ---------------------------------------------------------------------------------------------- loading
KEY = "problem.data.path"


def load(path: str | Path, header: bool = True) -> Dataset:
    """Read `.csv` (a header row of node names unless `header=False`), `.npy` (n x d) or `.npz` (X; optional
    B_true / W_true / init_order). Anything unreadable is one `InputError` naming the file."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{KEY}: {p} is a directory; give a .csv, .npy or .npz file in it")
    if not p.is_file():
        raise InputError(f"{KEY}: file not found: {p} (give a .csv, .npy or .npz file)")
    suffix = p.suffix.lower()
    if suffix not in (".csv", ".npy", ".npz"):
        raise InputError(f"{KEY}: unsupported file type {suffix!r} for {p} (use .csv, .npy or .npz)")
    try:
        if suffix == ".csv":
            return _load_csv(p, header)
        with p.open("rb") as f:  # our handle: numpy leaks its own when a damaged archive fails to open
            if suffix == ".npy":
                X = _numeric(np.load(f, allow_pickle=False), p)
                return Dataset(X=X, names=[f"x{i}" for i in range(X.shape[1])], source=str(p))
            return _load_npz(f, p)
    except InputError:
        raise
    except (OSError, ValueError, EOFError, KeyError, TypeError, zipfile.BadZipFile, zlib.error) as e:
        detail = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(f"{KEY}: cannot read {p} as {suffix} ({detail}); is it a valid {suffix} file?") from None


def _load_npz(f: BinaryIO, p: Path) -> Dataset:
    with np.load(f, allow_pickle=False) as z:
        if "X" not in z:
            raise InputError(f"{KEY}: {p} has no array 'X' (keys: {', '.join(z.files)})")
        X = _numeric(z["X"], p)
        d = X.shape[1]
        ds = Dataset(X=X, names=[f"x{i}" for i in range(d)], source=str(p))
        for name in ("B_true", "W_true"):
            if name in z:
                arr = _numeric(z[name], p, name)
                if arr.shape != (d, d):
                    raise InputError(f"{KEY}: {p}: {name} has shape {arr.shape}, expected ({d}, {d})")
                setattr(ds, name, arr)
        if ds.B_true is None and ds.W_true is not None:
            ds.B_true = (ds.W_true != 0).astype(float)
        if "init_order" in z:
            order = z["init_order"]
            if order.dtype.kind not in "iu" or order.ndim != 1:
                raise InputError(f"{KEY}: {p}: init_order must be a 1-D integer array, got {order.dtype} "
                                 f"of shape {order.shape}")
            ds.init_order = order.astype(np.int64)
        return ds


def _numeric(arr: np.ndarray, p: Path, name: str = "X") -> np.ndarray:
    what = "" if name == "X" else f" ({name})"
    if arr.dtype.kind not in "biuf":
        raise InputError(f"{KEY}: {p} holds {arr.dtype} values{what}; expected a numeric n x d array")
    if arr.ndim != 2:
        raise InputError(f"{KEY}: {p} holds an array of shape {arr.shape}{what}; expected n x d (2-D)")
    return arr.astype(float)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _load_csv(p: Path, header: bool = True) -> Dataset:
    try:
        with p.open(newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except UnicodeDecodeError as e:
        raise InputError(f"{KEY}: {p} is not UTF-8 text (byte {e.object[e.start]:#04x} at offset {e.start}); "
                         "save it as UTF-8") from None
    except csv.Error as e:
        raise InputError(f"{KEY}: {p} is not a readable CSV file ({e})") from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise InputError(f"{KEY}: {p} is empty; expected a header row of node names and data rows")
    if header:
        names = [h.strip() for h in rows[0]]
        body = rows[1:]
        if all(_is_number(h) for h in names):
            raise InputError(
                f"{KEY}: {p}: the first row ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''}) is numbers, "
                f"not node names; add a header row, or pass problem.data.header=false to name the columns "
                f"x0..x{len(names) - 1}"
            )
    else:
        names = [f"x{j}" for j in range(len(rows[0]))]
        body = rows
    if len(set(names)) != len(names):
        dup = sorted({h for h in names if names.count(h) > 1})
        raise InputError(f"{KEY}: {p}: duplicate column names {dup}; make the header names unique")
    first = 2 if header else 1
    X = np.empty((len(body), len(names)))
    for i, row in enumerate(body):
        if len(row) != len(names):
            raise InputError(f"{KEY}: {p}: line {i + first} has {len(row)} fields, the first row has {len(names)}")
        for j, cell in enumerate(row):
            try:
                X[i, j] = float(cell)
            except ValueError:
                raise InputError(
                    f"{KEY}: {p}: column {names[j]!r} is not numeric (line {i + first}: {cell!r}); "
                    "remove or encode it"
                ) from None
    return Dataset(X=X, names=names, source=str(p))


# ---------------------------------------------------------------------------------------------- checks
def is_binary(X: np.ndarray) -> bool:
    """All values are 0 or 1."""
    return bool(np.all((X == 0) | (X == 1)))


# Beyond this magnitude X^T X / n overflows float64 (about 1.3e154 squared), so scores and eigenvalues fail.
MAX_ABS = 1e150


def validate(ds: Dataset, score: str, standardize: bool = False) -> None:
    """Reject data the search cannot use: too small, non-finite, constant columns, values too large to square
    (unless `standardize`, which rescales them first), wrong type for the score."""
    X, names, src = ds.X, ds.names, ds.source
    if X.ndim != 2 or X.shape[1] < 2:
        raise InputError(f"problem.data: {src} has {X.shape[-1] if X.ndim else 0} column(s); need at least 2 nodes")
    n, d = X.shape
    if n < 2:
        raise InputError(f"problem.data: {src} has {n} row(s); need at least 2 samples")
    bad = ~np.isfinite(X)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise InputError(
            f"problem.data: {src}: column {names[j]!r} has {int(bad[:, j].sum())} NaN/inf value(s) "
            f"(first at row {i + 1}); drop or impute them"
        )
    big = np.flatnonzero(np.max(np.abs(X), axis=0) > MAX_ABS)
    if len(big) and not standardize:
        j = int(big[0])
        raise InputError(
            f"problem.data: {src}: column {names[j]!r} has values up to {np.max(np.abs(X[:, j])):.3g}, too large "
            "to square in float64; rescale the data or pass problem.data.standardize=true"
        )
    const = np.flatnonzero(np.all(X == X[:1], axis=0))
    if len(const):
        raise InputError(
            f"problem.data: {src}: column {names[const[0]]!r} is constant; remove constant columns"
        )
    if score == "least_squares" and is_binary(X):
        raise InputError(f"problem.data: {src} is binary (0/1); use problem.score.type=logistic for binary data")
    if score == "logistic" and not is_binary(X):
        j = int(np.flatnonzero(~np.all((X == 0) | (X == 1), axis=0))[0])
        raise InputError(
            f"problem.data: {src}: column {names[j]!r} is not 0/1; logistic needs binary data "
            "(use problem.score.type=least_squares)"
        )
    if ds.B_true is not None and ds.B_true.shape != (d, d):
        raise InputError(f"problem.data: {src}: B_true has shape {ds.B_true.shape}, expected ({d}, {d})")
    if ds.init_order is not None and sorted(ds.init_order.tolist()) != list(range(d)):
        raise InputError(f"problem.data: {src}: init_order is not a permutation of 0..{d - 1}")
