"""Selection operators on 'higher is better' scores."""

from __future__ import annotations

import numpy as np

from gfopt.core.operators import Selection


def positive_weights(scores: np.ndarray) -> np.ndarray:
    """Scores -> probabilities. Positive scores are used as they are; otherwise shifted above the minimum.

    Guards the roulette wheel against zero or negative fitness; equal scores give a uniform wheel.
    """
    s = np.asarray(scores, dtype=float)
    if len(s) == 0:
        raise ValueError("positive_weights: empty scores")
    if np.all(s > 0):
        w = s
    else:
        span = np.ptp(s)
        w = s - s.min() + (0.01 * span if span > 0 else 1.0)
    return w / w.sum()


def roulette(scores: np.ndarray, n: int, rng: np.random.Generator, replace: bool = True) -> np.ndarray:
    """Draw `n` indices with probability proportional to (guarded) score."""
    return rng.choice(len(scores), size=n, replace=replace, p=positive_weights(scores))


def top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the `k` best scores, best first; ties broken by position (stable)."""
    return np.argsort(-np.asarray(scores, dtype=float), kind="stable")[:k]


class ElitistTournament(Selection):
    """GENOME's selection: keep the top `elite_fraction`, fill the rest by size-`k` tournaments.

    `replace=True`: every tournament draws from the whole population, so a strong individual can win several
    times and fill the population with copies. `replace=False` (the GENOME authors' code): each winner leaves
    the pool (elites are not in it), so no individual is selected twice; the last tournaments shrink to the
    pool that is left.
    """

    def __init__(self, elite_fraction: float = 0.1, tournament_size: int = 3, replace: bool = True) -> None:
        self.elite_fraction = elite_fraction
        self.tournament_size = tournament_size
        self.replace = replace

    def __call__(self, scores: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        scores = np.asarray(scores, dtype=float)
        n = n if self.replace else min(n, len(scores))
        n_elite = min(int(self.elite_fraction * n), n)
        chosen = list(top(scores, n_elite))
        if self.replace:
            k = min(self.tournament_size, len(scores))
            while len(chosen) < n:
                entrants = rng.choice(len(scores), size=k, replace=False)
                chosen.append(int(entrants[np.argmax(scores[entrants])]))
            return np.asarray(chosen, dtype=int)
        pool = np.setdiff1d(np.arange(len(scores)), chosen)
        while len(chosen) < n:
            entrants = rng.choice(pool, size=min(self.tournament_size, len(pool)), replace=False)
            winner = int(entrants[np.argmax(scores[entrants])])
            chosen.append(winner)
            pool = pool[pool != winner]
        return np.asarray(chosen, dtype=int)


class EliteRoulette(Selection):
    """GENOME+'s selection: keep the top `elite_fraction`, fill by roulette without replacement."""

    def __init__(self, elite_fraction: float = 0.1) -> None:
        self.elite_fraction = elite_fraction

    def __call__(self, scores: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        scores = np.asarray(scores, dtype=float)
        n = min(n, len(scores))
        elite = top(scores, min(int(self.elite_fraction * n), n))
        rest = np.setdiff1d(np.arange(len(scores)), elite)
        fill = rest[roulette(scores[rest], n - len(elite), rng, replace=False)] if n > len(elite) else rest[:0]
        return np.concatenate([elite, fill]).astype(int)
