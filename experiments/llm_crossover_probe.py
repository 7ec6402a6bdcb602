"""Why GENOME's default crossover is a linear merge on the built-in zoo: can a fitness-weighted child carry the
weaker parent's skill? (validation split only; no test data is read)

Parent G merges the two experts that one held-out task needs at 0.5 / 0.5; parent Q is the third expert the other
held-out tasks need. A crossover child is merge([G, Q], [1 - a, a]) for the weights a that fitness-proportional
parent weights give (Q is the weaker parent: a < 0.5), by each merge method. Prints validation fitness and exact
match per task.

    OMP_NUM_THREADS=1 python experiments/llm_crossover_probe.py [--zoo default] [--methods linear ties]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zoo", default="default")
    ap.add_argument("--seed", type=int, default=0, help="zoo seed")
    ap.add_argument("--methods", nargs="+", default=["linear", "ties", "dare_linear"])
    ap.add_argument("--weights", type=float, nargs="+", default=[0.15, 0.25, 0.35, 0.5, 0.65])
    args = ap.parse_args()
    torch.set_num_threads(1)
    from gfopt.problems.llm_evo.merge import merge
    from gfopt.problems.llm_evo.problem import LlmEvoProblem
    from gfopt.problems.llm_evo.zoo import load_manifest

    p = LlmEvoProblem(zoo={"preset": args.zoo, "seed": args.seed}, baselines=[])
    needed = load_manifest(p.zoo_info["dir"])["experts_needed"]
    pair = min(needed.values(), key=len)  # the 2-expert task's experts
    third = next(e for v in needed.values() for e in v if e not in pair)
    ix = {n: i for i, n in enumerate(p.expert_names)}
    rng = np.random.default_rng(0)  # DARE's drop masks
    print(f"zoo {p.zoo_info['preset']}-s{p.zoo_info['seed']} v{p.zoo_info['zoo_version']}: G = 0.5 {pair[0]} + "
          f"0.5 {pair[1]} (same method), Q = {third}; child = merge([G, Q], [1 - a, a])")
    print(f"{'method':<12}{'a':>6}{'fitness':>9}" + "".join(f"{t:>7}" for t in p.targets))
    for method in args.methods:
        g = merge(p.experts[[ix[pair[0]], ix[pair[1]]]], np.array([0.5, 0.5]), method, base=p.shared,
                  density=0.7, rng=rng, segments=p.layout.segments)
        for a in [0.0, *args.weights]:
            child = g if a == 0 else merge(np.stack([g, p.experts[ix[third]]]), np.array([1 - a, a]), method,
                                           base=p.shared, density=0.7, rng=rng, segments=p.layout.segments)
            rec = p.score_valid(child)
            print(f"{method:<12}{a:>6.2f}{p.evaluate([child])[0]:>9.3f}"
                  + "".join(f"{rec[t]['exact']:>7.2f}" for t in p.targets))


if __name__ == "__main__":
    main()
