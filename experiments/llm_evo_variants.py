"""Compare engine settings of llm_evo on VALIDATION fitness only (how the defaults were chosen; no test data read).

Loads the problem once, then for each spec (Hydra overrides joined by ';') and seed runs the engine with
`Budget(evaluations=--budget)` and prints the best validation fitness, validation exact match per target task,
and the five largest expert coefficients of the best genome (least squares on the experts' deltas from the shared
adapter: which experts it combines). A spec `baseline=<name>` runs that baseline with the same budget instead.

    OMP_NUM_THREADS=1 python experiments/llm_evo_variants.py \\
        "engine=genome_plus" "engine=genome_plus;engine.crossover.method=ties" "baseline=random_search" \\
        --budget 400 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

CONF = Path(__file__).resolve().parents[1] / "conf"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("specs", nargs="+", help="';'-joined Hydra overrides (problem=llm_evo is implied)")
    ap.add_argument("--budget", type=int, default=400)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--zoo", default="default")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    from gfopt.config import register_configs
    from gfopt.core.engine import Budget, run
    from gfopt.problems.llm_evo.baselines import baseline_runs
    from gfopt.problems.llm_evo.problem import LlmEvoProblem

    register_configs()
    p = LlmEvoProblem(zoo={"preset": args.zoo, "seed": 0}, baselines=[])
    origin = p.shared if p.shared is not None else np.zeros(p.layout.size, np.float32)
    deltas = p.experts - origin
    default_init = dict(p.init_cfg)

    def show(tag: str, genome: np.ndarray, evals: int, seconds: float) -> None:
        coef, *_ = np.linalg.lstsq(deltas.T, genome - origin, rcond=None)
        top = " ".join(f"{p.expert_names[i]}:{coef[i]:.2f}" for i in np.argsort(-np.abs(coef))[:5])
        rec = p.score_valid(genome)
        exact = " ".join(f"{t}={rec[t]['exact']:.2f}" for t in p.targets)
        print(f"{tag}\n    fitness {p.evaluate([genome])[0]:.4f} | {exact} | {evals} evals {seconds:.0f}s | {top}",
              flush=True)

    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        for spec in args.specs:
            overrides = [o for o in spec.split(";") if o]
            for seed in args.seeds:
                p.cache.clear()
                rng, t0 = np.random.default_rng(seed), time.perf_counter()
                if overrides[0].startswith("baseline="):
                    p.baselines = [overrides[0].split("=", 1)[1]]
                    (c,) = baseline_runs(p, args.budget)
                    res = run(c.problem, c.engine, rng, c.budget)
                    show(f"{spec} seed {seed}", c.problem.params_of(res.best), res.evaluations,
                         time.perf_counter() - t0)
                    continue
                cfg = compose("config", overrides=["problem=llm_evo", *overrides])
                p.init_cfg = {**default_init, **dict(cfg.problem.init)}
                res = run(p, instantiate(cfg.engine), rng, Budget(evaluations=args.budget))
                show(f"{spec} seed {seed}", res.best, res.evaluations, time.perf_counter() - t0)


if __name__ == "__main__":
    main()
