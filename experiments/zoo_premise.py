"""Does the built-in zoo make GENOME's premise true? Measured with the zoo's own quick harness (no backend).

(1) accuracy along the line between two experts that a held-out task needs (plot: zoo_interpolation.png);
(2) per held-out task, on TEST: shared starting adapter, best single expert (chosen on valid), uniform merge,
    a same-budget random search over global merge weights and a small GENOME-like search over per-layer merge
    weights (both chosen on VALID), over several search seeds; plus the joint search over all held-out tasks.

    python experiments/zoo_premise.py --preset default --seed 0 --budget 150 --runs 3
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from gfopt.problems.llm_evo.zoo import ensure_zoo
from gfopt.problems.llm_evo.zoo.probe import ZooProbe, pair_search, random_search

HERE = Path(__file__).resolve().parent


def interpolation(probe: ZooProbe, task: str, out: Path) -> dict:
    """EM on valid and test along w * expert_a + (1 - w) * expert_b for the first two experts the task needs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    a, b = probe.manifest["experts_needed"][task][:2]
    ia, ib = probe.expert_names.index(a), probe.expert_names.index(b)
    grid = np.linspace(0, 1, 21)
    k = len(probe.expert_names)
    curve = {"valid": [], "test": [], "w": grid.tolist(), "a": a, "b": b, "task": task}
    for w in grid:
        weights = np.zeros(k)
        weights[ia], weights[ib] = w, 1 - w
        for split in ("valid", "test"):
            curve[split].append(probe.exact_match(probe.merged(weights), task, split))
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for split in ("valid", "test"):
        ax.plot(grid, curve[split], marker="o", label=split)
    ax.set_xlabel(f"w  (merge = w * {a} + (1 - w) * {b})")
    ax.set_ylabel(f"exact match on {task}")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="default")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tag", default="")
    parser.add_argument("--part", choices=["all", "per-task", "joint"], default="all",
                        help="run only the per-task or only the joint searches (e.g. in two processes)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    probe = ZooProbe(ensure_zoo(args.preset, args.seed))
    man = probe.manifest
    k = len(probe.expert_names)
    tag = f"{args.preset}-s{args.seed}{args.tag}"
    t0 = time.perf_counter()
    # the harness scores generation tasks (teacher-forced exact match); multiple-choice ones go through the backend
    generation = [t for t in man["target_tasks"] if man["tasks"][t].get("kind", "generation") == "generation"]
    pair_task = next((t for t in generation if len(man["experts_needed"][t]) == 2), generation[0])
    curve = interpolation(probe, pair_task, HERE / f"zoo_interpolation_{tag}.png")
    print(f"interpolation on {curve['task']} between {curve['a']} (w=1) and {curve['b']} (w=0):")
    print("  w     " + " ".join(f"{w:5.2f}" for w in curve["w"]))
    for split in ("valid", "test"):
        print(f"  {split:5s} " + " ".join(f"{v:5.2f}" for v in curve[split]))

    rows = []
    for task in generation if args.part != "joint" else []:
        n_test = len(probe.batch(task, "test")["input_ids"])
        row: dict = {"task": task, "needs": man["experts_needed"][task], "n_test": n_test}
        row["shared"] = probe.exact_match(probe.shared_b, task, "test")
        valid = [probe.exact_match(probe.experts[i], task, "valid") for i in range(k)]
        best = int(np.argmax(valid))
        row["best_expert"] = probe.exact_match(probe.experts[best], task, "test")
        row["best_expert_name"] = probe.expert_names[best]
        row["uniform"] = probe.exact_match(probe.merged(np.ones(k) / k), task, "test")
        for name, search in (("random", random_search), ("genome_like", pair_search)):
            scores = []
            for run in range(args.runs):
                rng = np.random.default_rng([args.seed, run, 7])
                w, _ = search(probe, task, args.budget, rng)
                scores.append(probe.exact_match(probe.merged(w), task, "test"))
            row[name] = scores
        rows.append(row)
    targets = generation
    joint: dict = {"budget": args.budget}
    for name, search in (("random", random_search), ("genome_like", pair_search)) if args.part != "per-task" else []:
        joint[name] = []
        for run in range(args.runs):
            rng = np.random.default_rng([args.seed, run, 8])
            w, _ = search(probe, targets, args.budget, rng)
            joint[name].append({t: probe.exact_match(probe.merged(w), t, "test") for t in targets})
    print(f"\nper-task search, budget {args.budget} validation evaluations, {args.runs} runs; TEST exact match:")
    header = f"{'task':6s} {'needs':24s} {'shared':>6s} {'best-ex':>7s} {'uniform':>7s} {'random (runs)':>22s} " \
             f"{'genome-like (runs)':>22s} {'noise':>6s}"
    print(header)
    for r in rows:
        noise = np.sqrt(max(np.mean(r["genome_like"]), 0.05) * (1 - np.mean(r["genome_like"])) / r["n_test"])
        r["test_sampling_sd"] = float(noise)
        fmt = lambda xs: " ".join(f"{x:.3f}" for x in xs)  # noqa: E731
        print(f"{r['task']:6s} {','.join(r['needs']):24s} {r['shared']:6.3f} {r['best_expert']:7.3f} "
              f"{r['uniform']:7.3f} {fmt(r['random']):>22s} {fmt(r['genome_like']):>22s} {noise:6.3f}")
    print(f"\njoint search over all held-out tasks (fitness = mean valid EM), budget {args.budget}; TEST EM:")
    for name in [n for n in ("random", "genome_like") if n in joint]:
        for t in targets:
            print(f"  {name:12s} {t:6s} " + " ".join(f"{run[t]:.3f}" for run in joint[name]))
    out = {"preset": args.preset, "seed": args.seed, "budget": args.budget, "curve": curve, "per_task": rows,
           "joint": joint, "seconds": round(time.perf_counter() - t0, 1)}
    name = f"zoo_premise_{tag}" + ("" if args.part == "all" else f"_{args.part}") + ".json"
    (HERE / name).write_text(json.dumps(out, indent=1))
    print(f"\n{out['seconds']} s; wrote experiments/{name} and zoo_interpolation_{tag}.png")


if __name__ == "__main__":
    main()
