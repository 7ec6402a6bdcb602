"""Fresh held-out mixtures for a built zoo: new expert pairs / triples with new letter shares, as task dirs.

The zoo's own held-out tasks (mix0-mix3) are the ones gfopt's defaults were chosen on. A mixture seed never used
for tuning gives tasks the defaults have not seen: same cipher family and experts, other expert sets and shares.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from gfopt.core.checkpoint import atomic_write_json
from gfopt.errors import ConfigError
from gfopt.problems.llm_evo.zoo.build import _task_splits, plan_tasks, write_jsonl
from gfopt.problems.llm_evo.zoo.presets import ZooPreset
from gfopt.problems.llm_evo.zoo.tasks import family_pairs

MIN_SHARE = 0.15  # every member's letters make up at least this share, so every expert is needed


def draw_shares(rng: np.random.Generator, size: int) -> np.ndarray:
    """Letter shares of `size` experts: a Dirichlet(2) draw floored at MIN_SHARE and renormalized."""
    s = np.maximum(rng.dirichlet(np.full(size, 2.0)), MIN_SHARE)
    return s / s.sum()


def make_mixtures(preset: ZooPreset, zoo_seed: int, mix_seed: int, size: int, count: int,
                  out: Path) -> dict[str, Any]:
    """Write `count` mixtures of `size` experts (task dirs under `out`); return their index (also in index.json).

    Expert sets are distinct and drawn with `mix_seed`; splits follow the preset's held-out sizes.
    """
    if not 2 <= size <= preset.n_groups:
        raise ConfigError(f"zoo mixtures: --size must be in [2, {preset.n_groups}], got {size}")
    if count < 1:
        raise ConfigError(f"zoo mixtures: --count must be >= 1, got {count}")
    plan = plan_tasks(preset, zoo_seed)
    family, names = plan["family"], plan["expert_names"]
    rng = np.random.default_rng(np.random.SeedSequence([zoo_seed, 5, mix_seed, size]))
    sizes = {"train": preset.n_heldout_train, "valid": preset.n_valid, "test": preset.n_test}
    tmp = out.parent / f".tmp-{out.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    index: dict[str, Any] = {"zoo_seed": zoo_seed, "mix_seed": mix_seed, "size": size, "tasks": {}}
    seen: set[tuple[int, ...]] = set()
    for i in range(count):
        for _ in range(1000):
            pick = tuple(sorted(int(g) for g in rng.choice(preset.n_groups, size=size, replace=False)))
            if pick not in seen:
                break
        seen.add(pick)
        shares = draw_shares(rng, size)
        letters = "".join(family.groups[g] for g in pick)
        probs = np.repeat(shares, preset.group_size)
        splits = _task_splits(rng, letters, sizes, preset, probs / probs.sum())
        name = f"fresh{mix_seed}k{size}_{i}"
        for split, inputs in splits.items():
            write_jsonl(tmp / name / f"{split}.jsonl", family_pairs(family, inputs))
        share_of = {names[g]: round(float(s), 3) for g, s in zip(pick, shares, strict=True)}
        index["tasks"][name] = {"dir": str(out / name), "experts_needed": [names[g] for g in pick],
                                "letter_shares": share_of}
    atomic_write_json(tmp / "index.json", index)
    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    os.rename(tmp, out)
    return index


def overrides(index: dict[str, Any]) -> str:
    """The command-line overrides that make these mixtures the run's target tasks."""
    tasks = index["tasks"]
    adds = " ".join(f"'+problem.tasks.{n}={t['dir']}'" for n, t in tasks.items())
    return f"{adds} 'problem.target_tasks=[{','.join(tasks)}]'"


def read_index(out: Path) -> dict[str, Any]:
    """The index.json of a mixtures dir."""
    return json.loads((Path(out) / "index.json").read_text())
