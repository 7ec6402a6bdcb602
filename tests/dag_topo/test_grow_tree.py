"""The fast paths of sparse parent selection against a fresh, uncached grow-shrink (bit for bit)."""

from __future__ import annotations

import numpy as np
import pytest

from gfopt.problems.dag_topo.grow_tree import GrowTree
from gfopt.problems.dag_topo.selection import (
    UnbiasedCost,
    grow_paths,
    grow_prefix,
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


@pytest.mark.parametrize("kind", sorted(COSTS))
def test_grow_tree_fits_equal_a_fresh_batch_grow_shrink(kind):
    d, cost = 14, COSTS[kind]
    S = covariance(1, d, 40)
    rng = np.random.default_rng(2)
    tree = GrowTree(S, cost, 0.01, {})
    for _ in range(6):  # repeated batches reuse the tree's states and the kept shrinks
        nodes = rng.integers(0, d, size=30)
        masks = rng.random((30, d)) < rng.uniform(0.2, 1.0)
        masks[np.arange(30), nodes] = False
        masks[0] = False  # an empty mask
        fresh = grow_shrink_batch(S, nodes, masks, cost, 0.01)
        assert same(tree.fits(nodes, masks), fresh)


def test_grow_tree_is_unchanged_by_its_memory_bound():
    d = 12
    S = covariance(3, d, 40)
    rng = np.random.default_rng(4)
    small = GrowTree(S, least_squares_cost, 0.002, {}, max_bytes=1)  # 4d states, chunks of 16: resets between chunks
    for _ in range(4):
        nodes, masks = random_requests(rng, d, 20, 0.7)
        assert same(small.fits(nodes, masks), grow_shrink_batch(S, nodes, masks, least_squares_cost, 0.002))


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
        parents = [path.taken[r, :keep[r]] for r in range(40)]
        floor = 1e-12 * S[nodes, nodes]
        assert same(shrink_batch(S, nodes, parents, cost, pen, required, floor),
                    grow_shrink_batch(S, nodes, masks, cost, pen, required))
        lengths.add(int(keep.sum()))
    assert len(lengths) == len(penalties)  # each penalty stops somewhere else: the prefixes are not all alike


def test_shrink_memo_gives_the_same_results():
    d = 12
    S = covariance(5, d, 40)
    rng = np.random.default_rng(6)
    memo: dict = {}
    for _ in range(4):
        nodes = rng.integers(0, d, size=25)
        sets = [np.flatnonzero((rng.random(d) < 0.6) & (np.arange(d) != j)) for j in nodes]
        req = np.zeros((25, d), dtype=bool)
        floor = 1e-12 * S[nodes, nodes]
        plain = shrink_batch(S, nodes, sets, least_squares_cost, 0.01, req, floor)
        assert same(shrink_batch(S, nodes, sets, least_squares_cost, 0.01, req, floor, memo), plain)


@pytest.mark.parametrize("kind", sorted(COSTS))
def test_masks_that_avoid_path_and_intruders_keep_their_fit(kind):
    """Drop candidates outside `path`, add ones outside `intrude`: a fresh fit equals the base fit; and the
    sensitivity is not vacuous (changing a path node or adding an intruder changes some fits)."""
    d, cost = 14, COSTS[kind]
    S = covariance(7, d, 40)
    rng = np.random.default_rng(8)
    nodes, wide = random_requests(rng, d, 40, 0.8)
    masks = wide & (rng.random((40, d)) < 0.5)
    path, intrude = GrowTree(S, cost, 0.01, {}).sensitivity(nodes, masks, wide)
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
