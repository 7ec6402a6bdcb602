"""Compiled grow-shrink (`selection_kernels` via `selection`) against a direct regression oracle, and its fast
paths (grow prefixes, sensitivity, move scoring) against fresh fits, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from gfopt.problems.dag_topo import selection
from gfopt.problems.dag_topo.selection import (
    UnbiasedCost,
    cost_code,
    grow_paths,
    grow_prefix,
    grow_sensitivity,
    grow_shrink_batch,
    least_squares_cost,
    log_likelihood_cost,
    shrink_batch,
)

COSTS = {"least_squares": least_squares_cost, "unbiased": UnbiasedCost(least_squares_cost, 40),
         "log_likelihood": log_likelihood_cost}


def covariance(seed: int, d: int, n: int) -> np.ndarray:
    """S of correlated columns with unequal scales (deep grows, as unstandardized data gives)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) @ (rng.normal(size=(d, d)) * (rng.random(d) < 0.3))
    X += rng.normal(size=(n, d)) * rng.uniform(0.2, 3.0, size=d)
    X -= X.mean(axis=0)
    return X.T @ X / n


def random_requests(rng: np.random.Generator, d: int, count: int, density: float) -> tuple[np.ndarray, np.ndarray]:
    """`count` (node, candidate mask) requests: each mask entry on with probability `density`, never the node."""
    nodes = rng.integers(0, d, size=count)
    masks = rng.random((count, d)) < density
    masks[np.arange(count), nodes] = False
    return nodes, masks


def same(a: list, b: list) -> bool:
    """Bitwise equal fits: costs, parent sets and weights."""
    return len(a) == len(b) and all(x[0] == y[0] and np.array_equal(x[1], y[1]) and np.array_equal(x[2], y[2])
                                    for x, y in zip(a, b, strict=True))


def direct_variance(S: np.ndarray, j: int, parents: list[int]) -> float:
    """Residual variance of j on `parents` by a least-squares solve (not the kernels' pivots or inverse)."""
    if not parents:
        return float(S[j, j])
    w = np.linalg.lstsq(S[np.ix_(parents, parents)], S[parents, j], rcond=None)[0]
    return float(S[j, j] - S[parents, j] @ w)


def oracle(S: np.ndarray, j: int, mask: np.ndarray, required: np.ndarray, cost, pen: float) -> tuple[float, list]:
    """Grow-shrink written out plainly: required parents in, add the candidate whose direct regression lowers
    f(v) + pen |A| most while one does, then drop the parent whose removal lowers it most while one does."""
    def total(A: list[int]) -> float:
        return float(cost(direct_variance(S, j, A), len(A))) + pen * len(A)
    A = sorted(np.flatnonzero(required & mask).tolist())
    while True:
        options = [(total(A + [c]), c) for c in np.flatnonzero(mask).tolist() if c not in A]
        if not options or min(options)[0] >= total(A):
            break
        A.append(min(options)[1])
    while True:
        options = [(total([a for a in A if a != b]), b) for b in A if not required[b]]
        if not options or min(options)[0] >= total(A):
            break
        A.remove(min(options)[1])
    return total(A), sorted(A)


@pytest.mark.parametrize("kind", sorted(COSTS))
def test_grow_shrink_equals_a_direct_regression_oracle(kind, monkeypatch):
    """Same parents as the plain oracle and the same cost to 1e-9, with and without required parents; each
    request's fit is the same alone as in its batch (a fit depends on its request only), and in small chunks."""
    d, cost = 10, COSTS[kind]
    S = covariance(11, d, 60)
    rng = np.random.default_rng(12)
    nodes, masks = random_requests(rng, d, 60, 0.7)
    required = masks & (rng.random((60, d)) < 0.15)
    for req in (np.zeros_like(masks), required):
        fits = grow_shrink_batch(S, nodes, masks, cost, 0.01, req)
        sizes = set()
        for r, (c, parents, w) in enumerate(fits):
            want_cost, want = oracle(S, int(nodes[r]), masks[r], req[r], cost, 0.01)
            assert parents.tolist() == want and c == pytest.approx(want_cost, rel=1e-9, abs=1e-12)
            assert np.allclose(S[np.ix_(parents, parents)] @ w, S[parents, nodes[r]], atol=1e-9)
            sizes.add(len(parents))
        assert len(sizes) >= 3  # empty, small and larger parent sets all occur
        alone = [grow_shrink_batch(S, nodes[r:r + 1], masks[r:r + 1], cost, 0.01, req[r:r + 1])[0] for r in (0, 7)]
        assert same(alone, [fits[0], fits[7]])

    monkeypatch.setattr(selection, "BATCH_ENTRIES", 40)  # chunks of 3-4 requests: the same fits
    assert same(grow_shrink_batch(S, nodes, masks, cost, 0.01, required), fits)


def test_a_cost_without_a_compiled_form_is_refused_by_name():
    assert cost_code(UnbiasedCost(log_likelihood_cost, 30)) == (1, 30)
    with pytest.raises(TypeError, match="no compiled form of the cost"):
        cost_code(lambda v, k=0: v)


@pytest.mark.parametrize("kind", sorted(COSTS))
def test_grow_at_a_larger_penalty_is_a_prefix_of_the_smallest_ones_path(kind):
    """`grow_prefix` of the path grown at the smallest penalty equals the grow run at each larger one (required
    parents first), and shrinking that prefix gives grow-shrink's fit at that penalty, bit for bit."""
    d, cost = 14, COSTS[kind]
    S = covariance(9, d, 40)
    rng = np.random.default_rng(10)
    nodes, masks = random_requests(rng, d, 40, 0.8)
    required = masks & (rng.random((40, d)) < 0.1)
    penalties = (0.001, 0.004, 0.01, 0.05, 1.0)
    path = grow_paths(S, nodes, masks, cost, penalties[0], required)
    assert path.count.max() > path.required.max()  # the grow took optional parents somewhere
    lengths = set()
    for pen in penalties:
        keep = grow_prefix(path, cost, pen)
        direct = grow_paths(S, nodes, masks, cost, pen, required)
        assert np.array_equal(keep, direct.count)
        assert all(np.array_equal(path.taken[r, :keep[r]], direct.taken[r, :direct.count[r]]) for r in range(40))
        assert same(shrink_batch(S, nodes, path.taken, keep, cost, pen, path.required_mask),
                    grow_shrink_batch(S, nodes, masks, cost, pen, required))
        lengths.add(int(keep.sum()))
    assert len(lengths) == len(penalties)  # each penalty stops somewhere else: the prefixes are not all alike


@pytest.mark.parametrize("kind", sorted(COSTS))
def test_masks_that_avoid_path_and_intruders_keep_their_fit(kind):
    """Drop candidates outside `path`, add ones outside `intrude`: a fresh fit equals the base fit; and the
    sensitivity is not vacuous (changing a path node or adding an intruder changes some fits)."""
    d, cost = 14, COSTS[kind]
    S = covariance(7, d, 40)
    rng = np.random.default_rng(8)
    nodes, wide = random_requests(rng, d, 40, 0.8)
    masks = wide & (rng.random((40, d)) < 0.5)
    path, intrude = grow_sensitivity(S, nodes, masks, wide, cost, 0.01)
    assert not (path & ~masks).any() and not (intrude & ~wide).any()
    base = grow_shrink_batch(S, nodes, masks, cost, 0.01)
    changed = 0
    for _ in range(5):
        drop = masks & ~path & (rng.random((40, d)) < 0.5)
        add = wide & ~masks & ~intrude & (rng.random((40, d)) < 0.5)
        assert same(grow_shrink_batch(S, nodes, (masks & ~drop) | add, cost, 0.01), base)
        flip = (masks & path) | (wide & ~masks & intrude)  # every sensitive candidate toggled
        moved = grow_shrink_batch(S, nodes, masks ^ flip, cost, 0.01)
        changed += sum(not same([a], [b]) for a, b in zip(moved, base, strict=True))
    assert changed > 0


@pytest.mark.parametrize("kind", ["least_squares", "bic"])
def test_move_scores_with_the_sensitivity_filter_equal_refitting_every_node(kind, monkeypatch):
    """Swap and insertion scores bit for bit against the same scoring that refits every node (no filter)."""
    from gfopt.problems.dag_topo.data import simulate
    from gfopt.problems.dag_topo.parent_sets import ParentSetScore
    from gfopt.problems.dag_topo.problem import DagTopoProblem

    d = 12
    ds = simulate("ER", 4, d, 2 * d, "gauss", "linear", 3)
    p = DagTopoProblem(score={"type": kind}, dataset=ds)
    rng = np.random.default_rng(5)
    p.initial(1, rng)
    a, b = np.triu_indices(d, 1)
    src, dst = np.nonzero(~np.eye(d, dtype=bool))
    orders = [rng.permutation(d) for _ in range(4)]
    fast = [(p.score.swap_scores(p.fit(o), a, b), p.score.insert_scores(p.fit(o), src, dst)) for o in orders]
    everything = np.ones((d, d), dtype=bool)
    monkeypatch.setattr(ParentSetScore, "sensitivity", lambda self, order: (everything, everything))
    for o, (swaps, inserts) in zip(orders, fast, strict=True):
        assert np.array_equal(p.score.swap_scores(p.fit(o), a, b), swaps)
        assert np.array_equal(p.score.insert_scores(p.fit(o), src, dst), inserts)


def test_the_compiled_inverse_matches_numpy_for_positive_definite_and_indefinite_matrices():
    """Cholesky for positive definite matrices, Gauss-Jordan where a pivot is <= 0 (a safety net)."""
    from gfopt.problems.dag_topo.selection_kernels import _invert

    rng = np.random.default_rng(13)
    B = rng.normal(size=(6, 6))
    for M in (B @ B.T + 0.1 * np.eye(6), B + B.T):  # positive definite, then indefinite
        assert np.linalg.eigvalsh(M).min() > 0 or np.linalg.eigvalsh(M).min() < -0.1
        inv = np.zeros((8, 8))
        _invert(np.pad(M, (0, 2)), inv, 6)  # the kernels pass larger work arrays
        assert np.allclose(inv[:6, :6], np.linalg.inv(M), atol=1e-9)
