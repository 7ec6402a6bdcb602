"""Succession: the particle-swarm step of GENOME+ (Model Swarms), on real vectors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gfopt.core.operators import Succession
from gfopt.core.space import REAL


class ParticleSwarm(Succession):
    """v <- (r0 phi_i v + r1 phi_c (p - x) + r2 phi_s (g - x) - r3 phi_r (w - x)) / sum(r_k phi_k); x += lam v.

    p is each individual's own personal best (a separate copy, never an alias of x); g and w are the best and
    worst of the current population (`extremes="population"`) or of every genome ever evaluated
    (`extremes="ever"`, the GENOME+ authors' choice); lam = step * decay**generation.
    """

    space = REAL

    def __init__(
        self,
        phi_inertia: float = 0.2,
        phi_cognitive: float = 0.2,
        phi_social: float = 0.2,
        phi_repel: float = 0.1,
        step: float = 0.5,
        decay: float = 0.95,
        extremes: str = "population",
    ) -> None:
        if extremes not in ("population", "ever"):
            raise ValueError(f"ParticleSwarm: extremes must be population or ever, got {extremes!r}")
        self.phi = np.array([phi_inertia, phi_cognitive, phi_social, phi_repel], dtype=float)
        self.step = step
        self.decay = decay
        self.extremes = extremes
        self.ever: dict[str, tuple[float, np.ndarray]] = {}  # "best"/"worst" -> (score, copy of the genome)
        self.new_genome: Any = None
        self.velocity: dict[int, np.ndarray] = {}
        self.pbest: dict[int, np.ndarray] = {}
        self.pbest_score: dict[int, float] = {}

    def bind(self, problem: object) -> None:
        """Allocate moved genomes where the problem keeps genomes (its `new_genome(values)`, if it has one)."""
        self.new_genome = getattr(problem, "new_genome", None)

    def move(
        self,
        genomes: Sequence[np.ndarray],
        scores: np.ndarray,
        ids: Sequence[int],
        generation: int,
        rng: np.random.Generator,
    ) -> list[np.ndarray]:
        """Return moved copies of `genomes` (same order); `scores` are 'higher is better'."""
        self.update(ids, genomes, scores)
        if self.extremes == "ever":
            g, w = self.ever["best"][1], self.ever["worst"][1]
        else:
            g = np.asarray(genomes[int(np.argmax(scores))])
            w = np.asarray(genomes[int(np.argmin(scores))])
        lam = self.step * self.decay**generation
        moved = []
        for x, i in zip(genomes, ids, strict=True):
            x = np.asarray(x)
            v = self.velocity.get(i, np.zeros_like(x))
            r = rng.random(4)
            c = r * self.phi
            v = (c[0] * v + c[1] * (self.pbest[i] - x) + c[2] * (g - x) - c[3] * (w - x)) / c.sum()
            self.velocity[i] = v.astype(x.dtype)
            y = (x + lam * v).astype(x.dtype)
            moved.append(y if self.new_genome is None else self.new_genome(y))
        return moved

    def update(self, ids: Sequence[int], genomes: Sequence[np.ndarray], scores: np.ndarray) -> None:
        """Record new personal bests (copies) for the given individuals, and the best / worst ever evaluated."""
        for i, x, s in zip(ids, genomes, scores, strict=True):
            if i not in self.pbest_score or s > self.pbest_score[i]:
                self.pbest[i] = np.array(x, copy=True)
                self.pbest_score[i] = float(s)
            if self.extremes == "ever":
                if "best" not in self.ever or s > self.ever["best"][0]:
                    self.ever["best"] = (float(s), np.array(x, copy=True))
                if "worst" not in self.ever or s < self.ever["worst"][0]:
                    self.ever["worst"] = (float(s), np.array(x, copy=True))

    def forget(self, keep_ids: Sequence[int]) -> None:
        """Drop memory of individuals no longer in the population."""
        keep = set(int(i) for i in keep_ids)
        for d in (self.velocity, self.pbest, self.pbest_score):
            for k in [k for k in d if k not in keep]:
                del d[k]

    def state_dict(self) -> dict[str, Any]:
        ids = sorted(self.pbest)
        state = {
            "ids": ids,
            "velocity": [self.velocity.get(i) for i in ids],
            "pbest": [self.pbest[i] for i in ids],
            "pbest_score": [self.pbest_score[i] for i in ids],
        }
        for k, (s, x) in self.ever.items():
            state[f"ever_{k}"], state[f"ever_{k}_score"] = x, s
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        ids = [int(i) for i in state["ids"]]
        self.velocity = {i: v for i, v in zip(ids, state["velocity"], strict=True) if v is not None}
        self.pbest = dict(zip(ids, state["pbest"], strict=True))
        self.pbest_score = {i: float(s) for i, s in zip(ids, state["pbest_score"], strict=True)}
        self.ever = {k: (float(state[f"ever_{k}_score"]), state[f"ever_{k}"]) for k in ("best", "worst")
                     if f"ever_{k}" in state}
