"""GENOME's crossover on LoRA genomes: a merge of the parents weighted by fitness (optionally per layer)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from gfopt.core.operators import Crossover
from gfopt.problems.llm_evo.merge import METHODS, merge, merge_products

log = logging.getLogger("gfopt.llm_evo")
LORA = "real/lora"
"""The space kind of a LoRA parameter vector (llm_evo with problem.space=params)."""


class LoraMerge(Crossover):
    """Crossover by merging: `method` in linear | task_arithmetic | ties | dare_linear | dare_ties.

    Parents' weights come from the engine (fitness-proportional, summing to 1); with `concentration=None`
    the child uses them as they are (the paper's merge). With a `concentration` c, the child's weights are a
    draw from Dirichlet(c * weights): centred on the fitness weights, spread more the smaller c is, so the
    weaker parent sometimes passes on a whole skill. `layerwise` draws one such vector per transformer layer
    (needs a concentration). TIES/DARE work on task vectors relative to the problem's shared starting adapter
    (zeros when there is none), learnt in `bind`. All randomness comes from `rng`.

    `space="factors"` (default, the paper's) merges A and B entry by entry; `space="product"` merges each
    module's delta B @ A and factors it back to rank r by truncated SVD (`merge.merge_products`).
    """

    space = LORA

    def __init__(self, method: str = "linear", density: float = 0.7, layerwise: bool = False,
                 concentration: float | None = None, scale: float = 1.0, space: str = "factors") -> None:
        if method not in METHODS:
            raise ValueError(f"LoraMerge: unknown method {method!r}; choose from {METHODS}")
        if concentration is not None and concentration <= 0:
            raise ValueError(f"LoraMerge: concentration must be > 0 or null, got {concentration}")
        if layerwise and concentration is None:
            raise ValueError("LoraMerge: layerwise=true draws per-layer weights; give it a concentration")
        if space not in ("factors", "product"):
            raise ValueError(f"LoraMerge: space must be factors or product, got {space!r}")
        self.method, self.density, self.layerwise, self.merge_space = method, density, layerwise, space
        self.concentration, self.scale = concentration, scale
        self.base: np.ndarray | None = None
        self.segments: list[slice] | None = None
        self.layout: Any = None
        self.new_genome: Any = None

    def bind(self, problem: Any) -> None:
        """Learn the genome layout (per-tensor segments, per-layer groups) and the shared base, if any."""
        self.layout = problem.layout
        self.segments = self.layout.segments
        self.base = problem.shared
        self.new_genome = getattr(problem, "new_genome", None)  # children in the problem's dtype / memory map
        if self.layerwise and self.layout.n_groups == 1:
            log.warning("engine.crossover.layerwise: the adapter's LoRA tensors form one layer group (%s), so "
                        "per-layer crossover weights are one global weight", self.layout.group_names[0])

    def __call__(self, parents: Sequence[np.ndarray], weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        x = np.stack([np.asarray(g, dtype=np.float32) for g in parents])
        w = np.asarray(weights, dtype=np.float64)
        if self.concentration is not None:
            alpha = np.maximum(self.concentration * w, 1e-3)
            if self.layerwise and self.layout is not None:
                w = self.layout.expand(rng.dirichlet(alpha, size=self.layout.n_groups).T)
            else:
                w = rng.dirichlet(alpha)
        if self.merge_space == "product":
            if self.layout is None:
                raise ValueError("LoraMerge(space='product') needs the problem's LoRA layout (bind it first)")
            child = merge_products(x, w, self.layout, self.method, base=self.base, density=self.density, rng=rng,
                                   scale=self.scale)
        else:
            child = merge(x, w, self.method, base=self.base, density=self.density, segments=self.segments, rng=rng,
                          scale=self.scale)
        return child if self.new_genome is None else self.new_genome(child)
