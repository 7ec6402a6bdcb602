"""End-of-run report of llm_evo: test scores of the best individual, the top-k ensemble and every baseline,
and `fitness.png` (per-generation curves with the baselines' validation fitness as lines)."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gfopt.problems.llm_evo.baselines import BASELINE_FUNCS
from gfopt.problems.llm_evo.scoring import vote

if TYPE_CHECKING:
    from gfopt.problems.llm_evo.problem import LlmEvoProblem

log = logging.getLogger("gfopt.llm_evo")


def top_k_distinct(population: list[np.ndarray], fitness: np.ndarray, k: int) -> list[np.ndarray]:
    """The k best genomes by validation fitness, duplicates (same content) skipped, best first."""
    from gfopt.problems.llm_evo.problem import genome_key

    seen, out = set(), []
    for i in np.argsort(-np.asarray(fitness, dtype=float), kind="stable"):
        key = genome_key(population[i])
        if key not in seen:
            seen.add(key)
            out.append(population[i])
        if len(out) == k:
            break
    return out


def ensemble_exact(p: LlmEvoProblem, members: list[np.ndarray], task: str, split: str, n: int | None) -> float:
    """Exact match of the members' per-sample majority vote (ties to the best-ranked member; labels unseen)."""
    answers = [p.answers(g, task, split, n) for g in members]
    voted = vote(answers)
    gold = p.gold(task, split, n)
    return float(np.mean([a == g for a, g in zip(voted, gold, strict=True)]))


def _weighted(p: LlmEvoProblem, per_task: dict[str, float]) -> float:
    return float(sum(p.weights[t] * per_task[t] for t in p.targets))


def finalize_run(p: LlmEvoProblem, result: Any, outdir: Path) -> dict[str, Any]:
    """Everything `result.json` needs beyond the objective; also writes `fitness.png`."""
    t0 = time.perf_counter()
    budget = int(p.baseline_budget or result.evaluations)
    tasks = p.report_tasks()
    test_preps = {t: p._prep(t, "test", p.test_samples) for t in tasks}
    n_valid = int(p.fit_cfg["samples"])

    def valid_exact(g: np.ndarray) -> dict[str, float]:
        p.evaluate([g])
        from gfopt.problems.llm_evo.problem import genome_key

        return {t: v["exact"] for t, v in p.records[genome_key(g)].items()}

    best = np.asarray(result.best, dtype=np.float32)
    out: dict[str, Any] = {
        "zoo": p.zoo_info, "targets": p.targets, "zero_shot": [t for t in tasks if t not in p.targets],
        "experts": p.expert_names, "fitness_metric": p.fit_cfg["metric"], "baseline_budget": budget,
        "test_sizes": {t: prep.n_samples for t, prep in test_preps.items()},
        "valid": {"best": valid_exact(best)}, "valid_fitness": {"best": float(p.evaluate([best])[0])},
        "test": {"best": p.test_exact(best, test_preps)},
    }
    members = top_k_distinct([np.asarray(g, np.float32) for g in result.population], result.fitness, p.ensemble_k)
    if len(members) >= 2:
        out["valid"]["ensemble"] = {t: ensemble_exact(p, members, t, "valid", n_valid) for t in p.targets}
        out["test"]["ensemble"] = {t: ensemble_exact(p, members, t, "test", p.test_samples) for t in tasks}
    else:
        out["valid"]["ensemble"], out["test"]["ensemble"] = dict(out["valid"]["best"]), dict(out["test"]["best"])
    use_ens = _weighted(p, out["valid"]["ensemble"]) > _weighted(p, out["valid"]["best"])
    out["chosen"] = "ensemble" if use_ens else "best"
    out["test"]["chosen"] = out["test"][out["chosen"]]
    out["ensemble_size"] = len(members)

    out["test"]["baselines"], out["valid"]["baselines"], out["valid_fitness"]["baselines"] = {}, {}, {}
    seconds = {}
    for i, name in enumerate(p.baselines):
        s0 = time.perf_counter()
        rng = np.random.default_rng([p.seed, 1000 + i])
        g = BASELINE_FUNCS[name](p, budget, rng)
        if g is None:
            continue
        out["valid_fitness"]["baselines"][name] = float(p.evaluate([g])[0])
        out["valid"]["baselines"][name] = valid_exact(g)
        out["test"]["baselines"][name] = p.test_exact(g, test_preps)
        seconds[name] = round(time.perf_counter() - s0, 2)
        log.info("baseline %s: valid fitness %.4f", name, out["valid_fitness"]["baselines"][name])
    out["finalize_seconds"] = {"total": round(time.perf_counter() - t0, 2), "baselines": seconds}
    plot_fitness(outdir / "history.jsonl", out["valid_fitness"]["baselines"], outdir / "fitness.png")
    return out


def plot_fitness(history: Path, baselines: dict[str, float], path: Path) -> None:
    """Best/mean/worst validation fitness per generation, baselines as horizontal lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = []
    if Path(history).exists():
        for line in Path(history).read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                break
    fig, ax = plt.subplots(figsize=(7, 4.2))
    if rows:
        steps = [r["step"] for r in rows]
        for key, style in (("best", "-"), ("mean", "--"), ("worst", ":")):
            ys = [r.get(key) for r in rows]
            if any(y is not None for y in ys):
                ax.plot(steps, [np.nan if y is None else y for y in ys], style, color="k", label=key)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (name, f) in enumerate(sorted(baselines.items())):
        ax.axhline(f, color=colors[i % len(colors)], lw=1, label=name)
    ax.set_xlabel("generation")
    ax.set_ylabel("validation fitness")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
