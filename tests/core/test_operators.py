"""Operators on hand-checked cases and invariants."""

import numpy as np
import pytest

from gfopt.core.operators.permutation import InversionMutation, OrderCrossover, SwapMutation, SwapNeighbourhood
from gfopt.core.operators.real import Blend, GaussianMask
from gfopt.core.operators.selection import EliteRoulette, ElitistTournament, positive_weights, roulette, top
from gfopt.core.operators.succession import ParticleSwarm


def is_perm(x, d):
    return sorted(x.tolist()) == list(range(d))


def test_order_crossover_children_are_permutations_holding_a_contiguous_slice_of_the_first_parent():
    rng = np.random.default_rng(0)
    p1, p2 = np.arange(8), np.array([7, 6, 5, 4, 3, 2, 1, 0])
    for _ in range(50):
        child = OrderCrossover()([p1, p2], np.array([0.5, 0.5]), rng)
        assert is_perm(child, 8)
        # genes of p2's order fill the rest: reading the child cyclically, the genes that differ from p1
        # appear in descending (p2's) order
        diff = [int(x) for x, y in zip(child, p1, strict=True) if x != y]
        rotations = [diff[i:] + diff[:i] for i in range(max(len(diff), 1))]
        assert any(r == sorted(r, reverse=True) for r in rotations)


def test_order_crossover_hand_case():
    class FixedRng:
        def choice(self, n, size, replace):
            return np.array([5, 2])  # slice [2, 5)

    child = OrderCrossover()([np.array([0, 1, 2, 3, 4, 5, 6]), np.array([6, 5, 4, 3, 2, 1, 0])], None, FixedRng())
    # slice 2,3,4 from p1 at positions 2..4; from position 5 on, p2's order from its position 5: 1,0,6,5,...
    assert child.tolist() == [6, 5, 2, 3, 4, 1, 0]


def test_permutation_mutations_return_new_valid_permutations():
    rng = np.random.default_rng(1)
    x = np.arange(10)
    for op in (SwapMutation(), InversionMutation()):
        y = op(x, rng)
        assert is_perm(y, 10) and x.tolist() == list(range(10))
    y = SwapMutation()(x, rng)
    assert (y != x).sum() == 2


def test_swap_neighbourhood_moves_and_overlaps():
    nb = SwapNeighbourhood()
    moves = nb.moves(np.arange(5), 0, None)
    assert len(moves) == 10
    assert nb.apply(np.arange(5), [(0, 1), (3, 4)]).tolist() == [1, 0, 2, 4, 3]
    assert nb.overlaps((0, 2), (2, 4)) and not nb.overlaps((0, 1), (2, 4))


def test_positive_weights_guards_zero_and_negative_and_uniform():
    assert positive_weights(np.array([1.0, 3.0])).tolist() == [0.25, 0.75]
    w = positive_weights(np.array([-2.0, 0.0, 2.0]))
    assert np.all(w > 0) and w[2] > w[1] > w[0] and w.sum() == pytest.approx(1)
    assert positive_weights(np.zeros(4)).tolist() == [0.25] * 4


def test_roulette_frequencies_follow_scores():
    rng = np.random.default_rng(0)
    draws = roulette(np.array([1.0, 3.0]), 20000, rng)
    assert np.mean(draws == 1) == pytest.approx(0.75, abs=0.02)


def test_elitist_tournament_keeps_elite_and_size():
    scores = np.array([5.0, 1.0, 9.0, 3.0, 7.0, 2.0, 8.0, 0.0, 4.0, 6.0])
    idx = ElitistTournament(elite_fraction=0.2, tournament_size=3)(scores, 10, np.random.default_rng(0))
    assert len(idx) == 10 and idx[:2].tolist() == [2, 6]
    # a size-3 tournament never picks one of the two worst
    assert not set(idx.tolist()) & {7, 1}


def test_elite_roulette_no_duplicates_and_keeps_top():
    scores = np.arange(20, dtype=float)
    idx = EliteRoulette(elite_fraction=0.1)(scores, 10, np.random.default_rng(0))
    assert len(set(idx.tolist())) == 10 and set(top(scores, 1).tolist()) <= set(idx.tolist())


def test_blend_is_weighted_mean_and_gaussian_mask_touches_only_masked_entries():
    a, b = np.ones(4, np.float32), np.full(4, 3.0, np.float32)
    assert Blend()([a, b], np.array([0.25, 0.75]), None).tolist() == [2.5] * 4
    x = np.zeros(100000, np.float32)
    y = GaussianMask(sigma=0.5, gene_rate=0.1)(x, np.random.default_rng(0))
    assert x.max() == 0  # input untouched
    changed = y != 0
    assert changed.mean() == pytest.approx(0.1, abs=0.01)
    assert y[changed].std() == pytest.approx(0.5, rel=0.05)


class FixedRandom:
    def __init__(self, r):
        self.r = np.asarray(r, float)

    def random(self, n):
        return self.r[:n]


def test_particle_swarm_step_closed_form_and_personal_best_is_a_copy():
    ps = ParticleSwarm(phi_inertia=0.2, phi_cognitive=0.2, phi_social=0.2, phi_repel=0.1, step=0.5, decay=0.95)
    x = [np.array([0.0]), np.array([2.0]), np.array([4.0])]
    scores = np.array([1.0, 3.0, 2.0])  # best: x[1] = 2, worst: x[0] = 0
    ps.update([0, 1, 2], [np.array([1.0]), x[1], x[2]], np.array([5.0, 3.0, 2.0]))  # pbest of 0 is 1.0
    moved = ps.move(x, scores, [0, 1, 2], generation=2, rng=FixedRandom([1, 1, 1, 1]))
    lam = 0.5 * 0.95**2
    # individual 0: v = (0 + .2*(1-0) + .2*(2-0) - .1*(0-0)) / .7
    assert moved[0][0] == pytest.approx(lam * (0.2 * 1 + 0.2 * 2) / 0.7)
    # individual 2: p = own x (4), g = 2, w = 0 -> v = (.2*0 + .2*(2-4) - .1*(0-4)) / .7 = 0
    assert moved[2][0] == pytest.approx(4.0)
    assert ps.pbest[0][0] == 1.0  # the personal best did not move with x
    assert ps.pbest[1] is not x[1]


def test_tournament_without_replacement_never_selects_twice_and_matches_a_brute_force_oracle():
    rng = np.random.default_rng(3)
    scores = rng.random(15)
    for seed in range(20):
        idx = ElitistTournament(0.2, 3, replace=False)(scores, 10, np.random.default_rng(seed))
        assert len(idx) == 10 and len(set(idx.tolist())) == 10
        assert idx[:2].tolist() == top(scores, 2).tolist()
    # tournaments as large as the population: each one takes the best individual left, i.e. the top n in order
    idx = ElitistTournament(0.2, 15, replace=False)(scores, 10, np.random.default_rng(0))
    assert idx.tolist() == top(scores, 10).tolist()
    # asking for the whole population returns each individual once
    assert sorted(ElitistTournament(0.1, 3, replace=False)(scores, 15, rng).tolist()) == list(range(15))
    # with replacement the same scores give copies (why the option exists)
    idx = ElitistTournament(0.1, 3)(scores, 15, np.random.default_rng(0))
    assert len(set(idx.tolist())) < 15


def test_particle_swarm_ever_extremes_pull_toward_the_best_ever_evaluated():
    ps = ParticleSwarm(phi_inertia=0, phi_cognitive=0, phi_social=1, phi_repel=0, step=0.5, decay=1.0,
                       extremes="ever")
    best_ever = np.full(3, 10.0)
    ps.update([0], [best_ever], np.array([5.0]))  # evaluated once, then dropped from the population
    x = [np.zeros(3), np.ones(3)]
    moved = ps.move(x, np.array([1.0, 2.0]), [1, 2], 0, np.random.default_rng(0))
    for xi, mi in zip(x, moved, strict=True):  # v = g - x exactly (one non-zero phi): x + 0.5 (g - x)
        np.testing.assert_allclose(mi, xi + 0.5 * (best_ever - xi))
    pop = ParticleSwarm(phi_inertia=0, phi_cognitive=0, phi_social=1, phi_repel=0, step=0.5, decay=1.0)
    pop.update([0], [best_ever], np.array([5.0]))
    moved = pop.move(x, np.array([1.0, 2.0]), [1, 2], 0, np.random.default_rng(0))
    np.testing.assert_allclose(moved[0], 0.5 * x[1])  # population extremes: toward the current best, x[1]
    repel = ParticleSwarm(phi_inertia=0, phi_cognitive=0, phi_social=0, phi_repel=1, step=1.0, decay=1.0,
                          extremes="ever")
    repel.update([0, 1], [np.full(3, -4.0), np.zeros(3)], np.array([-1.0, 0.0]))  # -4: the worst ever
    moved = repel.move([np.ones(3)], np.array([3.0]), [2], 0, np.random.default_rng(0))
    np.testing.assert_allclose(moved[0], np.ones(3) - (np.full(3, -4.0) - np.ones(3)))
    state = repel.state_dict()
    again = ParticleSwarm(extremes="ever")
    again.load_state_dict(state)
    assert again.ever["worst"][0] == -1.0 and np.array_equal(again.ever["worst"][1], np.full(3, -4.0))
