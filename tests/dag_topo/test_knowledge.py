"""Prior knowledge: honoured exactly by the search on random instances; contradictions are one line."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from gfopt.core.config import ConfigError
from gfopt.core.engine import run
from gfopt.core.local_search import LocalSearchEngine
from gfopt.errors import InputError
from gfopt.problems.dag_topo.data import simulate
from gfopt.problems.dag_topo.knowledge import parse_knowledge
from gfopt.problems.dag_topo.problem import DagTopoProblem


class Recording(DagTopoProblem):
    """Records every order the engine asks to evaluate."""

    seen: list

    def evaluate(self, genomes):
        self.seen.extend(np.asarray(g).copy() for g in genomes)
        return super().evaluate(genomes)


def random_knowledge(d: int, rng: np.random.Generator, names: list[str]) -> dict:
    """A consistent random set: tiers from a random split of a random order, required edges along that order."""
    perm = rng.permutation(d)
    cut = sorted(rng.choice(np.arange(1, d), size=2, replace=False))
    tiers = [[names[i] for i in perm[:cut[0]]], [str(i) for i in perm[cut[1]:]]]  # names and indices mixed
    later = [(perm[a], perm[b]) for a, b in itertools.combinations(range(d), 2)]
    picks = rng.choice(len(later), size=4, replace=False)
    required = [f"{names[later[k][0]]}->{names[later[k][1]]}" for k in picks[:2]]
    forbidden = [f"{later[k][0]}->{later[k][1]}" for k in picks[2:]]
    return {"required": required, "forbidden": forbidden, "tiers": tiers}


@pytest.mark.parametrize("kind,seed", [("least_squares", 0), ("bic", 1), ("least_squares", 2)])
def test_knowledge_is_honoured_on_random_instances(kind, seed):
    rng = np.random.default_rng(seed)
    d = 9
    ds = simulate("ER", 2, d, 300, "gauss", "linear", seed)
    know = random_knowledge(d, rng, ds.names)
    p = Recording(score={"type": kind}, dataset=ds, knowledge=know)
    p.seen = []
    res = run(p, LocalSearchEngine(restarts=2), np.random.default_rng(seed))
    k = p.knowledge
    assert len(p.seen) > 20 and all(k.order_ok(o) for o in p.seen)  # no order against the knowledge visited
    W = p.thresholded(p.fit(res.best).W)
    E = W != 0
    assert E[k.required].all()  # required edges present
    assert not E[k.forbidden].any()  # forbidden edges absent
    tier_of = {}
    for t, tier in enumerate(know["tiers"]):
        for ref in tier:
            tier_of[ds.names.index(ref) if ref in ds.names else int(ref)] = t
    for i, j in zip(*np.nonzero(E), strict=True):  # no edge from a later tier into an earlier one
        if i in tier_of and j in tier_of:
            assert tier_of[i] <= tier_of[j]


def test_allowed_swaps_match_checking_each_swapped_order():
    rng = np.random.default_rng(4)
    names = [f"v{i}" for i in range(8)]
    k = parse_knowledge(["v0->v3", "v5->v1"], [], [["v2", "v6"], ["v4", "v7"]], names)
    order = k.random_order(rng)
    a, b = np.triu_indices(8, 1)
    fast = k.allowed_swaps(order, a, b)
    for c in range(len(a)):
        o = order.copy()
        o[[a[c], b[c]]] = o[[b[c], a[c]]]
        assert fast[c] == k.order_ok(o)


def test_contradictions_are_one_line_naming_the_cycle():
    names = ["a", "b", "c", "d"]
    with pytest.raises(ConfigError, match=r"cycle: a -> b \(required\), b -> c \(required\), c -> a \(tiers\)"):
        parse_knowledge(["a->b", "b->c"], [], [["c"], ["a"]], names)
    with pytest.raises(ConfigError, match="a->b is both required and forbidden"):
        parse_knowledge(["a->b"], ["0->1"], [], names)
    with pytest.raises(ConfigError, match="unknown node 'e'"):
        parse_knowledge(["a->e"], [], [], names)
    with pytest.raises(ConfigError, match="is not an edge"):
        parse_knowledge(["a-b"], [], [], names)


def test_bootstrap_frequencies_are_counts_over_resamples(tmp_path):
    """samples=B: each frequency is a multiple of 1/B; strong true edges are found in every resample."""
    from gfopt.core.engine import run as run_search
    from gfopt.problems.dag_topo.bootstrap import edge_frequencies

    ds = simulate("ER", 1, 6, 400, "gauss", "linear", 3)
    p = DagTopoProblem(dataset=ds, knowledge={"forbidden": ["x0->x1"]})
    run_search(p, LocalSearchEngine(restarts=0), np.random.default_rng(0))
    freq = edge_frequencies(p, 4, seed=1)
    np.testing.assert_allclose(freq * 4, np.round(freq * 4))
    assert freq[0, 1] == 0.0  # knowledge holds in every resample
    strong = (np.abs(ds.W_true) > 1.0) & (ds.B_true != 0)
    found = (freq + freq.T)[strong]  # the skeleton edge, in either direction
    assert np.all(found >= 0.75)


def test_bootstrap_with_few_rows_runs_resamples_whose_repeated_rows_leave_a_singular_covariance():
    """d < n < 1.6d: a resample's repeated rows leave d or fewer distinct ones (a singular covariance with n > d).
    The default score treats that as n <= d (first-stage ridge, no precision-matrix screen) instead of refusing it;
    the same rows given as data are refused as dependent columns, as before."""
    from gfopt.problems.dag_topo import bootstrap
    from gfopt.problems.dag_topo.data import Dataset

    ds = simulate("ER", 2, 8, 10, "gauss", "linear", 4)
    p = DagTopoProblem(dataset=ds)
    streams = np.random.SeedSequence(5).spawn(6)
    distinct = [len(np.unique(np.random.default_rng(s).integers(0, 10, size=10))) for s in streams]
    assert min(distinct) <= 8  # the case is exercised: at least one resample is singular
    freq = bootstrap.edge_frequencies(p, 6, seed=5)
    np.testing.assert_allclose(freq * 6, np.round(freq * 6))
    assert freq.sum() > 0 and np.all(np.diag(freq) == 0)
    rows = np.random.default_rng(streams[int(np.argmin(distinct))]).integers(0, 10, size=10)
    dup = Dataset(X=ds.X[rows], names=list(ds.names))
    assert DagTopoProblem(dataset=dup, resample=True).singular
    with pytest.raises(InputError, match="columns are linearly dependent"):
        DagTopoProblem(dataset=dup)


@pytest.mark.parametrize("score", [{"type": "bic"}, {"select": "all"}])
def test_bootstrap_of_a_score_that_needs_distinct_rows_is_refused_before_the_search(score):
    ds = simulate("ER", 2, 20, 30, "gauss", "linear", 4)  # ~19 distinct rows per resample
    with pytest.raises(InputError, match=r"problem.bootstrap.samples: a resample of the n = 30 rows holds about 19"):
        DagTopoProblem(dataset=ds, score=score, bootstrap={"samples": 4})
    DagTopoProblem(dataset=ds, score=score)  # without the bootstrap it runs


def test_bootstrap_stopped_midway_resumes_to_the_uninterrupted_frequencies(tmp_path, monkeypatch):
    """Counts are saved after every resample; a rerun after Ctrl-C continues and ends with the same frequencies."""
    from gfopt.core.engine import run as run_search
    from gfopt.problems.dag_topo import bootstrap

    ds = simulate("ER", 2, 6, 200, "gauss", "linear", 4)
    p = DagTopoProblem(dataset=ds)
    run_search(p, LocalSearchEngine(restarts=0), np.random.default_rng(0))
    whole = bootstrap.edge_frequencies(p, 5, seed=2)

    state = tmp_path / "bootstrap_state.npz"
    save = bootstrap._save_counts

    def save_then_stop(path, counts, done, samples, seed):
        save(path, counts, done, samples, seed)
        if done.sum() == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(bootstrap, "_save_counts", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        bootstrap.edge_frequencies(p, 5, seed=2, state_path=state)
    monkeypatch.setattr(bootstrap, "_save_counts", save)
    with np.load(state) as z:
        assert z["done"].tolist() == [True, True, False, False, False]
    np.testing.assert_array_equal(bootstrap.edge_frequencies(p, 5, seed=2, state_path=state), whole)
    # a state written for another seed is not reused; a damaged file is one line naming it
    other = bootstrap.edge_frequencies(p, 5, seed=3)
    np.testing.assert_array_equal(bootstrap.edge_frequencies(p, 5, seed=3, state_path=state), other)
    state.write_bytes(state.read_bytes()[:40])
    with pytest.raises(InputError, match="bootstrap_state.npz: bootstrap state cannot be read.*delete it"):
        bootstrap.edge_frequencies(p, 5, seed=2, state_path=state)


def test_bootstrap_in_processes_equals_one_process_and_resumes_any_finished_set(tmp_path):
    """workers=2 (spawned processes) gives one process's frequencies; a state whose finished resamples are not a
    prefix (processes end out of order), or one in the older format (a count), resumes to the same result."""
    from gfopt.problems.dag_topo import bootstrap

    ds = simulate("ER", 2, 5, 150, "gauss", "linear", 6)
    p = DagTopoProblem(dataset=ds)
    serial = bootstrap.edge_frequencies(p, 4, seed=7)
    state = tmp_path / "bootstrap_state.npz"
    assert np.array_equal(bootstrap.edge_frequencies(p, 4, seed=7, state_path=state, workers=2), serial)
    streams, settings = np.random.SeedSequence(7).spawn(4), bootstrap.resample_settings(p)

    def edges(k):
        return bootstrap.resample_edges(ds.X, list(p.names), ds.source, k, streams[k], settings)

    part = edges(1) + edges(3)  # resamples 1 and 3 done, by hand
    bootstrap._save_counts(state, part, np.array([False, True, False, True]), 4, 7)
    assert np.array_equal(bootstrap.edge_frequencies(p, 4, seed=7, state_path=state, workers=2), serial)
    np.savez(state, counts=edges(0), done=1, samples=4, seed=7)  # the format before workers: a count of finished
    assert np.array_equal(bootstrap.edge_frequencies(p, 4, seed=7, state_path=state), serial)


def test_bootstrap_workers_that_keep_dying_end_in_one_line_naming_the_setting(monkeypatch):
    """A pool whose workers die on every try: after the retries, one ConfigError line naming bootstrap.workers."""
    import concurrent.futures
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool

    from gfopt.errors import ConfigError
    from gfopt.problems.dag_topo import bootstrap

    pools = []

    class DyingPool:
        def __init__(self, *args, **kwargs):
            pools.append(self)

        def submit(self, *args):
            f = Future()
            f.set_exception(BrokenProcessPool("a worker died"))
            return f

        def shutdown(self, **kwargs):
            pass

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", DyingPool)
    p = DagTopoProblem(dataset=simulate("ER", 2, 5, 100, "gauss", "linear", 1))
    with pytest.raises(ConfigError) as e:
        bootstrap.edge_frequencies(p, 3, seed=0, workers=2)
    assert str(e.value).startswith("problem.bootstrap.workers: a worker process died 4 times")
    assert "\n" not in str(e.value) and len(pools) == 4
