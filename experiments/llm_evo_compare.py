"""GENOME / GENOME+ vs every baseline on the built-in zoo's held-out tasks, over seeds (test exact match).

Runs `python -m gfopt problem=llm_evo engine=<E> seed=<S>` per engine and seed into --out/<E>-s<S>/ (skipped when
its result.json exists), then prints one table per task and seed, and a summary: the mean over seeds of each
method, and for the validation-chosen evolution result (best individual or ensemble) its margin over each
baseline against the seed-to-seed spread and the test-set sampling noise.

    OMP_NUM_THREADS=1 python experiments/llm_evo_compare.py --seeds 0 1 2 --out experiments/llm_evo_runs
    python experiments/llm_evo_compare.py --out experiments/llm_evo_runs --no-run      # table only
Extra Hydra overrides for every run go after `--`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ENGINES = {"genome": "GENOME", "genome_plus": "GENOME+", "genome_paper": "GENOME-authors",
           "genome_plus_paper": "GENOME+-authors"}
FIXED = ("best_expert", "shared", "uniform")


def run_all(out: Path, engines: list[str], seeds: list[int], extra: list[str]) -> None:
    """One gfopt run per (engine, seed); existing results are kept."""
    for e in engines:
        for s in seeds:
            d = out / f"{e}-s{s}"
            if (d / "result.json").exists():
                continue
            cmd = [sys.executable, "-m", "gfopt", "problem=llm_evo", f"engine={e}", f"seed={s}",
                   f"hydra.run.dir={d}", *extra]
            print("$", " ".join(cmd), flush=True)
            subprocess.run(cmd, check=True, env=dict(os.environ, CI="true"))


def collect(out: Path, engines: list[str], seeds: list[int]) -> dict:
    """{(engine, seed): result.json}."""
    res = {}
    for e in engines:
        for s in seeds:
            f = out / f"{e}-s{s}" / "result.json"
            if f.exists():
                res[(e, s)] = json.loads(f.read_text())
    return res


def rows_of(r: dict, label: str) -> dict[str, dict[str, float]]:
    """Method name -> {task: test exact match} for one run."""
    t = r["test"]
    rows = {f"{label} best": t["best"], f"{label} ensemble": t["ensemble"], f"{label} chosen": t["chosen"]}
    return rows | {_bname(label, b): v for b, v in t["baselines"].items()}


def _bname(label: str, baseline: str) -> str:
    """Budgeted searches carry the engine whose evaluation budget they used; fixed baselines do not."""
    return baseline if baseline in FIXED else f"{label} {baseline}"


def markdown(table: dict[str, dict[int, dict[str, float]]], tasks: list[str], seeds: list[int]) -> str:
    """One markdown table: a row per (task, seed), a column per method (test exact match)."""
    methods = list(table)
    lines = ["| task | seed | " + " | ".join(methods) + " |", "|---|---|" + "---|" * len(methods)]
    for t in tasks:
        for s in seeds:
            cells = [table[m].get(s, {}).get(t) for m in methods]
            lines.append(f"| {t} | {s} | " + " | ".join("" if c is None else f"{c:.3f}" for c in cells) + " |")
        means = [np.mean([table[m][s][t] for s in seeds if s in table[m]]) for m in methods]
        lines.append(f"| {t} | mean | " + " | ".join(f"**{v:.3f}**" for v in means) + " |")
        mins = [np.min([table[m][s][t] for s in seeds if s in table[m]]) for m in methods]
        lines.append(f"| {t} | min | " + " | ".join(f"**{v:.3f}**" for v in mins) + " |")
    return "\n".join(lines)


def min_mean(table: dict[str, dict[int, dict[str, float]]], tasks: list[str], seeds: list[int]) -> str:
    """One markdown table: a row per method, per task the minimum and the mean over seeds (test exact match)."""
    lines = ["| method | " + " | ".join(f"{t} min / mean" for t in tasks) + " |", "|---|" + "---|" * len(tasks)]
    for m, per_seed in table.items():
        cells = []
        for t in tasks:
            vals = [per_seed[s][t] for s in seeds if s in per_seed]
            cells.append(f"{np.min(vals):.3f} / {np.mean(vals):.3f}")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("experiments/llm_evo_runs"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--engines", nargs="+", default=list(ENGINES))
    ap.add_argument("--no-run", action="store_true")
    args, extra = ap.parse_known_args()
    extra = [x for x in extra if x != "--"]
    if not args.no_run:
        run_all(args.out, args.engines, args.seeds, extra)
    res = collect(args.out, args.engines, args.seeds)
    if not res:
        print("no results")
        return
    zoos = {json.dumps(r.get("zoo"), sort_keys=True) for r in res.values()}
    if len(zoos) > 1:  # a zoo rebuilt between runs (new zoo_version) makes the runs incomparable
        sys.exit(f"error: the runs under {args.out} used different zoos: {sorted(zoos)}; rerun them on one zoo")
    print(f"zoo: {next(iter(zoos))}")
    first = next(iter(res.values()))
    tasks = first["targets"] + first["zero_shot"]
    # per seed: evolution rows from each engine's run, baselines from the first engine's run of that seed
    table: dict[str, dict[int, dict[str, float]]] = {}
    for s in args.seeds:
        for e in args.engines:
            if (e, s) not in res:
                continue
            for name, per_task in rows_of(res[(e, s)], ENGINES[e]).items():
                if name in table and s in table[name]:
                    continue  # baselines: keep the first engine's
                table.setdefault(name, {})[s] = per_task
    methods = list(table)
    seeds = sorted({s for v in table.values() for s in v})
    print(f"test exact match per task and seed ({', '.join(f'{e}: {ENGINES[e]}' for e in args.engines)}); "
          f"'chosen' = best individual or ensemble, whichever was better on validation\n")
    for t in tasks:
        tag = "target" if t in first["targets"] else "zero-shot"
        print(f"== {t} ({tag})")
        print(f"{'method':<24}" + "".join(f"{'seed ' + str(s):>9}" for s in seeds) + f"{'mean':>9}{'sd':>8}")
        for m in methods:
            vals = [table[m].get(s, {}).get(t, np.nan) for s in seeds]
            print(f"{m:<24}" + "".join(f"{v:>9.3f}" for v in vals) + f"{np.nanmean(vals):>9.3f}"
                  f"{np.nanstd(vals):>8.3f}")
        print()
    print("markdown (rows: task and seed; columns: methods):\n")
    print(markdown(table, tasks, seeds) + "\n")
    print("markdown (min and mean over seeds per method and task):\n")
    print(min_mean(table, tasks, seeds) + "\n")
    print("margin of the validation-chosen evolution result over each baseline (mean over seeds); noise = "
          "seed sd of the difference + 2 x binomial SE of the difference; WIN when margin > noise")
    for e in args.engines:
        chosen = f"{ENGINES[e]} chosen"
        if chosen not in table:
            continue
        run = next(r for (e2, _), r in res.items() if e2 == e)
        for t in tasks:
            n = first.get("test_sizes", {}).get(t, 500)
            parts = []
            for b in (_bname(ENGINES[e], b) for b in run["test"]["baselines"]):
                diff = [table[chosen][s][t] - table[b][s][t] for s in seeds if s in table[chosen] and s in table[b]]
                pb = np.mean([table[b][s][t] for s in seeds if s in table[b]])
                pc = np.mean([table[chosen][s][t] for s in seeds if s in table[chosen]])
                se = np.sqrt((pb * (1 - pb) + pc * (1 - pc)) / n)  # binomial SE of a difference of two scores
                noise = float(np.std(diff)) + 2 * se
                verdict = "WIN" if np.mean(diff) > noise else ("loss" if np.mean(diff) < -noise else "tie")
                parts.append(f"{b.split(' ')[-1]} {np.mean(diff):+.3f} (noise {noise:.3f}) {verdict}")
            print(f"{ENGINES[e]:<8}{t:<10}" + "; ".join(parts))


if __name__ == "__main__":
    main()
