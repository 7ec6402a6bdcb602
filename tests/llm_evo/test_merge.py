"""Merges against peft.utils.merge_utils where the definitions coincide, and hand-computed cases where not."""

import numpy as np
import pytest
import torch
from peft.utils import merge_utils as mu

from gfopt.problems.llm_evo.merge import merge, trim_masks
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
