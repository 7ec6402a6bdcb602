"""End-of-run report of llm_evo: test scores of the best individual, the top-k ensemble and every baseline,
and `fitness.png` (per-generation curves with the baselines' validation fitness as lines)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gfopt.problems.llm_evo.cache import genome_key
from gfopt.problems.llm_evo.scoring import vote

if TYPE_CHECKING:
    from gfopt.core.engine import RunResult
    from gfopt.problems.llm_evo.problem import LlmEvoProblem

log = logging.getLogger("gfopt.llm_evo")


def top_k_distinct(population: list[np.ndarray], fitness: np.ndarray, k: int) -> list[np.ndarray]:
    """The k best genomes by validation fitness, duplicates (same content) skipped, best first."""
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


def finalize_run(p: LlmEvoProblem, result: RunResult, outdir: Path, baselines: dict[str, RunResult]
                 ) -> dict[str, Any]:
    """Everything `result.json` needs beyond the objective (test scores of the best individual, the ensemble and
    each baseline run's best); also writes `fitness.png`. Genomes of either space are scored as LoRA vectors."""
    t0 = time.perf_counter()
    budget = int(p.baseline_budget or result.evaluations)
    tasks = p.report_tasks()
    test_preps = {t: p._prep(t, "test", p.test_samples) for t in tasks}
    params = p.view("params")  # validation fitness without the coefficients space's penalty

    def valid_exact(g: np.ndarray) -> dict[str, float]:
        params.evaluate([g])
        return {t: v["exact"] for t, v in p.records[genome_key(g)].items()}

    best = p.params_of(result.best)
    out: dict[str, Any] = {
        "space": p.space_name, "zoo": p.zoo_info, "targets": p.targets,
        "zero_shot": [t for t in tasks if t not in p.targets],
        "experts": p.expert_names, "fitness_metric": p.fit_cfg["metric"], "baseline_budget": budget,
        "test_sizes": {t: prep.n_samples for t, prep in test_preps.items()},
        "valid": {"best": valid_exact(best)}, "valid_fitness": {"best": float(params.evaluate([best])[0])},
        "test": {"best": p.test_exact(best, test_preps)},
    }
    members = top_k_distinct([p.params_of(g) for g in result.population], result.fitness, p.ensemble_k)
    if len(members) >= 2:
        out["valid"]["ensemble"] = {t: ensemble_exact(p, members, t, "valid", p.valid_n[t]) for t in p.targets}
        out["test"]["ensemble"] = {t: ensemble_exact(p, members, t, "test", p.test_samples) for t in tasks}
    else:
        out["valid"]["ensemble"], out["test"]["ensemble"] = dict(out["valid"]["best"]), dict(out["test"]["best"])
    use_ens = _weighted(p, out["valid"]["ensemble"]) > _weighted(p, out["valid"]["best"])
    out["chosen"] = "ensemble" if use_ens else "best"
    out["test"]["chosen"] = out["test"][out["chosen"]]
    out["ensemble_size"] = len(members)

    out["test"]["baselines"], out["valid"]["baselines"], out["valid_fitness"]["baselines"] = {}, {}, {}
    out["baseline_evaluations"] = {}
    for name, res in baselines.items():
        g = p.views[name].params_of(res.best)
        out["valid_fitness"]["baselines"][name] = float(params.evaluate([g])[0])
        out["valid"]["baselines"][name] = valid_exact(g)
        out["test"]["baselines"][name] = p.test_exact(g, test_preps)
        out["baseline_evaluations"][name] = res.evaluations
        log.info("baseline %s: valid fitness %.4f", name, out["valid_fitness"]["baselines"][name])
    out["finalize_s"] = {"total": round(time.perf_counter() - t0, 2),
                               "baselines": {n: round(r.wall_time_s, 2) for n, r in baselines.items()}}
    plot_fitness(result.history, out["valid_fitness"]["baselines"], outdir / "fitness.png")
    return out


def plot_fitness(rows: list[dict[str, Any]], baselines: dict[str, float], path: Path) -> None:
    """Best/mean/worst validation fitness per generation (the run's history), baselines as horizontal lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
