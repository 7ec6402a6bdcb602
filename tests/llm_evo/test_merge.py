"""Merges against peft.utils.merge_utils where the definitions coincide, and hand-computed cases where not."""

import numpy as np
import pytest
import torch
from peft.utils import merge_utils as mu

from gfopt.problems.llm_evo.merge import merge, merge_products, trim_masks
from gfopt.problems.llm_evo.operators import LoraMerge


def _tensors(k=3, n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, generator=g) for _ in range(k)]


def _np(ts):
    return np.stack([t.numpy() for t in ts]).astype(np.float32)


@pytest.mark.parametrize("weights", [[1.0, 1.0, 1.0], [0.2, 0.5, 0.3], [1.5, -0.4, 0.7]])
def test_task_arithmetic_and_linear_match_peft_for_any_weights(weights):
    ts = _tensors()
    ref = mu.task_arithmetic(ts, torch.tensor(weights)).numpy()
    w = np.array(weights)
    np.testing.assert_allclose(merge(_np(ts), w, "task_arithmetic"), ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(merge(_np(ts), w, "linear"), ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("density", [0.3, 0.7, 1.0])
def test_ties_matches_peft_with_unit_weights(density):
    ts = _tensors(seed=1)
    ref = mu.ties(ts, torch.ones(3), density).numpy()
    ours = merge(_np(ts), np.ones(3), "ties", density=density)
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)


def _peft_with_masks(fn, ts, density, seed):
    """Run a PEFT DARE merge under a torch seed and recover its Bernoulli keep masks with the same seed."""
    torch.manual_seed(seed)
    ref = fn(ts, torch.ones(len(ts)), density).numpy()
    torch.manual_seed(seed)
    masks = [torch.bernoulli(torch.full_like(t, density)).bool().numpy() for t in ts]
    return ref, np.stack(masks)


@pytest.mark.parametrize("method", ["dare_linear", "dare_ties"])
def test_dare_matches_peft_with_unit_weights_and_fixed_drop_mask(method):
    ts = _tensors(seed=2)
    ref, keep = _peft_with_masks(getattr(mu, method), ts, 0.6, seed=7)
    ours = merge(_np(ts), np.ones(3), method, density=0.6, keep=keep)
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)


def test_ties_weighted_mean_differs_from_peft_count_mean_by_hand():
    # two parents agree on +1 (entry 0); entry 1: +2 vs -1 with weights 0.5/0.5 -> elected +, only parent 0 counts
    x = np.array([[1.0, 2.0], [1.0, -1.0]], dtype=np.float32)
    w = np.array([0.5, 0.5])
    ours = merge(x, w, "ties", density=1.0)
    np.testing.assert_allclose(ours, [1.0, 2.0])  # weighted means: (0.5+0.5)/1 and (0.5*2)/0.5
    peft = mu.ties([torch.tensor(r) for r in x], torch.tensor(w, dtype=torch.float32), 1.0).numpy()
    np.testing.assert_allclose(peft, [0.5, 1.0])  # PEFT divides the weighted sum by the count: halves them


def test_ties_weighted_sign_election_by_hand():
    # entry: +1 (w 0.9) vs -2 (w 0.1): weighted sum 0.7 > 0 elects +, so the child is +1 (PEFT's unweighted sum: -1)
    x = np.array([[1.0], [-2.0]], dtype=np.float32)
    np.testing.assert_allclose(merge(x, np.array([0.9, 0.1]), "ties"), [1.0])


def test_dare_rescales_by_inverse_density_by_hand():
    x = np.array([[2.0, 4.0, 6.0, 8.0]], dtype=np.float32)
    keep = np.array([[True, False, True, False]])
    np.testing.assert_allclose(merge(x, np.ones(1), "dare_linear", density=0.5, keep=keep), [4.0, 0.0, 12.0, 0.0])


def test_merges_are_relative_to_the_base():
    base = np.array([1.0, 1.0], dtype=np.float32)
    x = np.array([[3.0, 1.0], [1.0, -1.0]], dtype=np.float32)  # task vectors [2, 0] and [0, -2]
    np.testing.assert_allclose(merge(x, np.ones(2), "ties", base=base), [3.0, -1.0])
    np.testing.assert_allclose(merge(x, np.array([0.5, 0.5]), "task_arithmetic", base=base, scale=2.0), [3.0, -1.0])


def test_trim_is_per_segment():
    x = np.array([[10.0, 9.0, 0.1, 0.2]], dtype=np.float32)
    m = trim_masks(x, 0.5, [slice(0, 2), slice(2, 4)])
    assert m.tolist() == [[True, False, False, True]]


def test_layerwise_crossover_weights_stay_convex_per_layer():
    class Layout:
        n_groups, segments = 2, [slice(0, 2), slice(2, 4)]

        def expand(self, gw):
            return np.asarray(gw, dtype=np.float32)[:, [0, 0, 1, 1]]

    op = LoraMerge(method="linear", layerwise=True, concentration=20.0)
    op.layout, op.segments = Layout(), Layout.segments
    parents = [np.zeros(4, np.float32), np.ones(4, np.float32)]
    child = op(parents, np.array([0.5, 0.5]), np.random.default_rng(0))
    assert child[0] == child[1] and child[2] == child[3]  # one weight per layer
    assert 0 < child[0] < 1 and child[0] != child[2]


def test_crossover_weights_are_the_fitness_weights_or_a_dirichlet_draw_around_them():
    parents = [np.zeros(3, np.float32), np.ones(3, np.float32)]
    w = np.array([0.75, 0.25])
    paper = LoraMerge(method="linear")(parents, w, np.random.default_rng(0))
    np.testing.assert_allclose(paper, 0.25)  # concentration=None: exactly the fitness weights
    draws = [LoraMerge(method="linear", concentration=2.0)(parents, w, np.random.default_rng(s))[0] for s in range(400)]
    assert np.ptp(draws) > 0.5  # one global draw per child, widely spread at c=2 ...
    assert abs(np.mean(draws) - 0.25) < 0.03  # ... and centred on the fitness weight (Dirichlet mean)
    with pytest.raises(ValueError, match="concentration"):
        LoraMerge(layerwise=True)


def _one_module_layout(r: int = 2, d_in: int = 5, d_out: int = 4):
    from gfopt.problems.llm_evo.layout import LoraLayout, LoraTensor

    a = LoraTensor("m.layers.0.q.lora_A.default.weight", (r, d_in), slice(0, r * d_in), 0)
    b = LoraTensor("m.layers.0.q.lora_B.default.weight", (d_out, r), slice(r * d_in, r * d_in + d_out * r), 0)
    return LoraLayout([a, b]), a, b


def _genome(layout, a, b, A, B):
    g = np.zeros(layout.size, np.float32)
    g[a.slice], g[b.slice] = A.ravel(), B.ravel()
    return g


def _delta(g, a, b):
    return g[b.slice].reshape(b.shape) @ g[a.slice].reshape(a.shape)


def test_product_merge_with_a_shared_A_equals_the_factor_merge_product():
    layout, a, b = _one_module_layout()
    rng = np.random.default_rng(0)
    A = rng.standard_normal(a.shape).astype(np.float32)
    parents = np.stack([_genome(layout, a, b, A, rng.standard_normal(b.shape).astype(np.float32)) for _ in range(3)])
    w = np.array([0.5, 0.3, 0.2])
    child = merge_products(parents, w, layout, "linear")
    factor = merge(parents, w, "linear")  # B = sum w_k B_k, A shared: delta (sum w_k B_k) A
    np.testing.assert_allclose(_delta(child, a, b), _delta(factor, a, b), atol=1e-5)


def test_product_merge_is_exact_when_the_merged_delta_fits_the_rank():
    layout, a, b = _one_module_layout(r=2)
    rng = np.random.default_rng(1)
    parents, deltas = [], []
    for _ in range(2):  # two rank-1 deltas with different A: their sum has rank 2 = r
        A = rng.standard_normal(a.shape).astype(np.float32)
        B = np.zeros(b.shape, np.float32)
        B[:, 0] = rng.standard_normal(b.shape[0])
        parents.append(_genome(layout, a, b, A, B))
        deltas.append(B @ A)
    w = np.array([0.7, 0.3])
    child = merge_products(np.stack(parents), w, layout, "linear")
    np.testing.assert_allclose(_delta(child, a, b), 0.7 * deltas[0] + 0.3 * deltas[1], atol=1e-5)
    per_entry = np.repeat(w[:, None], layout.size, axis=1)  # per-layer weights, one layer: the same child
    np.testing.assert_allclose(merge_products(np.stack(parents), per_entry, layout, "linear"), child, atol=1e-6)
    # the element-wise merge of these factors is a different delta (sum w A) x (sum w B): why the option exists
    assert not np.allclose(_delta(merge(np.stack(parents), w, "linear"), a, b), _delta(child, a, b), atol=1e-3)


def test_lora_merge_product_space_uses_the_bound_layout():
    layout, a, b = _one_module_layout()
    rng = np.random.default_rng(2)
    parents = [_genome(layout, a, b, rng.standard_normal(a.shape), rng.standard_normal(b.shape)) for _ in range(2)]

    class Bound:
        pass

    problem = Bound()
    problem.layout, problem.shared = layout, None
    op = LoraMerge("linear", space="product")
    op.bind(problem)
    child = op(parents, np.array([0.5, 0.5]), rng)
    np.testing.assert_allclose(child, merge_products(np.stack(parents), np.array([0.5, 0.5]), layout), atol=1e-6)
    with pytest.raises(ValueError, match="space"):
        LoraMerge(space="both")


def test_product_merge_on_a_real_peft_layout_keeps_each_module_delta(toy_problem):
    p = toy_problem
    pairs = p.layout.pairs()
    assert sorted(t.name for pair in pairs for t in pair) == sorted(t.name for t in p.layout.tensors)
    child = merge_products(p.experts[:2], np.array([1.0, 0.0]), p.layout)  # all weight on expert 0
    for a, b in pairs:
        np.testing.assert_allclose(_delta(child, a, b), _delta(p.experts[0], a, b), atol=1e-5)
