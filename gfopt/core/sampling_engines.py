"""Engines without a search: evaluate given genomes once, or draw from the problem's sampler (random search)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gfopt.core.engine import Engine, StepGenerator


class FixedGenomes(Engine):
    """One step: evaluate the given genomes; the best of them is the result (a baseline such as "best expert")."""

    def __init__(self, genomes: Sequence[Any]) -> None:
        super().__init__()
        self.genomes = [np.asarray(g) for g in genomes]
        if not self.genomes:
            raise ValueError("FixedGenomes: no genomes given")

    def _step(self) -> StepGenerator:
        yield list(self.genomes)
        self.converged = True


class RandomSearch(Engine):
    """Each step evaluates `batch` fresh draws of `problem.initial` (the problem's sampler); the best is the result.

    With `total`, the last batch is cut so that exactly `total` genomes are evaluated, then the search converges.
    """

    def __init__(self, batch: int = 32, total: int | None = None) -> None:
        super().__init__()
        if batch < 1:
            raise ValueError(f"RandomSearch: batch must be >= 1, got {batch}")
        self.batch, self.total = batch, total

    def _step(self) -> StepGenerator:
        n = self.batch if self.total is None else min(self.batch, self.total - self.evaluations)
        yield list(self.problem.initial(n, self.rng))
        if self.total is not None and self.evaluations >= self.total:
            self.converged = True
