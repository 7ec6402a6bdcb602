"""Insertion moves (one node taken out and put back elsewhere) against brute force: list surgery, exact refits of
every inserted order, local optimality of the search's result, and the knowledge check of each moved order."""

from __future__ import annotations

import numpy as np
import pytest

from gfopt.core.engine import run
from gfopt.core.local_search import LocalSearchEngine
from gfopt.core.operators.permutation import Insert, insert
from gfopt.problems.dag_topo.data import simulate
from gfopt.problems.dag_topo.knowledge import parse_knowledge
from gfopt.problems.dag_topo.neighbourhood import NodeInsertionPasses, TopoSwapNeighbourhood
from gfopt.problems.dag_topo.problem import DagTopoProblem


def all_insertions(d: int) -> tuple[np.ndarray, np.ndarray]:
    src, dst = np.nonzero(~np.eye(d, dtype=bool))
    return src, dst


def test_insert_is_pop_then_insert_on_a_list():
    rng = np.random.default_rng(0)
    order = rng.permutation(7)
    for a, b in zip(*all_insertions(7), strict=True):
        ref = order.tolist()
        ref.insert(int(b), ref.pop(int(a)))
        assert insert(order, a, b).tolist() == ref


@pytest.mark.parametrize("kind", ["least_squares", "bic"])
def test_insert_scores_equal_exact_refits_of_every_inserted_order(kind):
    ds = simulate("ER", 2, 8, 200, "exp", "linear", 5)
    p = DagTopoProblem(score={"type": kind}, dataset=ds)
    rng = np.random.default_rng(1)
    p.initial(1, rng)  # the least-squares default widens its candidates here
    base = p.fit(rng.permutation(8))
    src, dst = all_insertions(8)
    fast = p.score.insert_scores(base, src, dst)
    exact = [p.score.fit_order(insert(base.order, a, b)).score for a, b in zip(src, dst, strict=True)]
    np.testing.assert_allclose(fast, exact, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind,seed", [("least_squares", 0), ("bic", 1)])
def test_search_ends_where_no_single_insertion_improves(kind, seed):
    """Brute force: refit every order one insertion away from the result; none scores lower."""
    d = 7
    ds = simulate("SF", 2, d, 150, "gauss", "linear", seed)
    p = DagTopoProblem(score={"type": kind}, dataset=ds)
    engine = LocalSearchEngine(restarts=0)
    res = run(p, engine, np.random.default_rng(seed))
    nb = engine.neighbourhood
    if kind == "bic":  # BOSS-style passes: one level per node
        assert isinstance(nb._passes, NodeInsertionPasses) and nb.levels == d
    else:
        assert nb.insertions and nb.levels == 3
    best = p.score.fit_order(np.asarray(res.best)).score
    for a, b in zip(*all_insertions(d), strict=True):
        assert p.score.fit_order(insert(np.asarray(res.best), a, b)).score >= best - 1e-12


def test_insertions_default_only_for_sparse_scores_and_can_be_set():
    ds = simulate("ER", 2, 6, 100, "gauss", "linear", 0)
    nb = TopoSwapNeighbourhood()
    nb.bind(DagTopoProblem(score={"select": "all"}, dataset=ds))
    assert not nb.insertions and nb.levels == 3  # TOPO's own neighbourhood for the all-predecessors score
    nb = TopoSwapNeighbourhood(sizes="auto")
    nb.bind(DagTopoProblem(dataset=ds))
    assert not nb.insertions  # the reference's sizes stay the reference's
    nb = TopoSwapNeighbourhood(insertions=True)
    nb.bind(DagTopoProblem(score={"select": "all"}, dataset=ds))
    moves = nb.moves(np.arange(6), 2, np.random.default_rng(0))
    assert len(moves) == 30 and all(isinstance(m, Insert) for m in moves)


def test_allowed_insertions_match_checking_each_moved_order():
    names = [f"v{i}" for i in range(8)]
    k = parse_knowledge(["v0->v3", "v5->v1"], [], [["v2", "v6"], ["v4", "v7"]], names)
    for seed in range(5):
        order = k.random_order(np.random.default_rng(seed))
        src, dst = all_insertions(8)
        fast = k.allowed_insertions(order, src, dst)
        assert fast.tolist() == [k.order_ok(insert(order, a, b)) for a, b in zip(src, dst, strict=True)]


class Recording(DagTopoProblem):
    """Records every order the engine asks to evaluate, and how many came from insertion moves."""

    seen: list
    inserted: int

    def evaluate(self, genomes):
        moves = getattr(genomes, "moves", [])
        self.inserted += sum(isinstance(m, Insert) for m in moves)
        self.seen.extend(np.asarray(g).copy() for g in genomes)
        return super().evaluate(genomes)


def test_insertion_moves_honour_knowledge():
    d = 9
    ds = simulate("ER", 2, d, 300, "gauss", "linear", 3)
    know = {"required": ["x1->x4", "x7->x0"], "forbidden": ["x2->x5"], "tiers": [["x3", "x6"], ["x8", "x1"]]}
    p = Recording(dataset=ds, knowledge=know)
    p.seen, p.inserted = [], 0
    res = run(p, LocalSearchEngine(restarts=1), np.random.default_rng(3))
    assert p.inserted > 0 and all(p.knowledge.order_ok(o) for o in p.seen)
    E = p.thresholded(p.fit(res.best).W) != 0
    assert E[p.knowledge.required].all() and not E[p.knowledge.forbidden].any()


def test_node_passes_visit_every_node_once_per_pass_and_go_on_after_a_move():
    """Pass bookkeeping against a direct replay: levels map to sigma[(cursor + level) % d]; a move advances the
    cursor past the moved node; a finished pass draws a new node order."""
    d = 6
    ds = simulate("ER", 2, d, 100, "gauss", "linear", 0)
    nb = NodeInsertionPasses()
    nb.bind(DagTopoProblem(score={"type": "bic"}, dataset=ds))
    rng = np.random.default_rng(0)
    order = np.arange(d)
    seen = [nb.moves(order, level, rng)[0] for level in range(d)]  # one step that finds nothing
    sigma = nb._sigma.copy()
    assert [order[m.src] for m in seen] == sigma.tolist()  # each node once, in sigma's order
    moved = insert(order, 0, 3)  # pretend level 2's node moved: the next step starts at sigma[3]
    nb.moves(order, 2, rng)
    first = nb.moves(moved, 0, rng)[0]
    assert moved[first.src] == sigma[3]
    assert len(nb.moves(moved, 0, rng)) == d - 1  # every other position


def test_a_bic_search_resumed_from_its_checkpoint_ends_as_the_uninterrupted_one(tmp_path):
    """The passes' node order and cursor travel in the checkpoint file: stopping halfway and resuming from the
    file gives the uninterrupted run's order, score and evaluation count."""
    from gfopt.core.checkpoint import load_state, save_state
    from gfopt.core.engine import Budget

    ds = simulate("ER", 4, 12, 200, "gauss", "linear", 3)

    def search(budget=None, state=None):
        engine = LocalSearchEngine(restarts=1)
        res = run(DagTopoProblem(score={"type": "bic"}, dataset=ds), engine, np.random.default_rng(5), budget,
                  state=state)
        return engine, res

    _, full = search()
    assert full.steps >= 10
    engine, _ = search(Budget(steps=full.steps // 2))
    assert engine.state_dict()["engine"]["neighbourhood"]["sigma"] is not None
    save_state(engine.state_dict(), tmp_path / "checkpoint.npz")
    _, resumed = search(state=load_state(tmp_path / "checkpoint.npz"))
    np.testing.assert_array_equal(resumed.best, full.best)
    assert (resumed.best_fitness, resumed.evaluations, resumed.steps) == (full.best_fitness, full.evaluations,
                                                                          full.steps)
