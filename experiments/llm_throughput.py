"""llm_evo speed and memory: candidate throughput with the in-place swap vs the raw batched forward of a fixed
adapter, crossover+mutation time vs evaluation time for one N=40 generation, peak memory figures, and the
memory plan (logged before every run) against what the process measures.

    OMP_NUM_THREADS=1 python experiments/llm_throughput.py --zoo tiny      # built-in zoo preset (GFOPT_HOME)
    OMP_NUM_THREADS=1 python experiments/llm_throughput.py --toy           # throwaway fixture (no zoo needed)
    OMP_NUM_THREADS=1 python experiments/llm_throughput.py --llama100m --samples 16 --reps 3
        # a built ~106M-parameter Llama (random weights: mechanics, not quality) with 4 rank-16 bf16 experts

Prints a table; the numbers depend on the machine (say which when you quote them).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def _rss_mib(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _status_mib() -> dict[str, float]:
    """VmRSS, RssAnon, RssFile and VmHWM of this process in MiB."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key = line.split(":")[0]
        if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
            out[key] = int(line.split()[1]) / 1024
    return out


def build_llama100m(root: Path, n_valid: int, n_experts: int = 4, rank: int = 16) -> dict:
    """A random ~106M-parameter Llama (hidden 768, 12 layers, MLP 3072), bf16 rank-16 experts on every linear
    layer, and the toy digit tasks; returns `LlmEvoProblem` arguments (user-path mode)."""
    from gfopt.problems.llm_evo.archs import build_base, make_expert
    from gfopt.problems.llm_evo.toy import _tasks

    base = build_base("llama", root / "base", hidden=768, layers=12, heads=12, intermediate=3072)
    experts = [make_expert(base, root / f"e{k}", "llama", r=rank, alpha=2 * rank, seed=k, std=0.02,
                           dtype=torch.bfloat16) for k in range(n_experts)]
    _tasks(root, np.random.default_rng(0), n_valid, 30)
    return dict(model=dict(base=str(base), experts=[str(e) for e in experts]),
                tasks={t: {"dir": str(root / "tasks" / t)} for t in ("rev", "inc")}, target_tasks=["rev", "inc"],
                fitness={"samples": n_valid}, baselines=[])


def memory_check(p, n: int, anon0: float) -> None:
    """Print the memory plan next to what this process measures when it holds that population.

    `anon0`: RssAnon after importing torch, transformers and PEFT, before loading anything (the baseline)."""
    from gfopt.core.operators.real import GaussianMask
    from gfopt.problems.llm_evo.operators import LoraMerge

    mib = 2**20
    plan = p.memory_plan
    n_genomes = plan.population_bytes // plan.adapter_bytes
    cross, mut = LoraMerge("linear", 0.7, True, 20.0), GaussianMask(0.05, 0.1)
    cross.bind(p)
    mut.bind(p)
    rng = np.random.default_rng(0)
    before = _status_mib()
    pop = p.initial(n, rng)
    while len(pop) < n_genomes:  # children and mutants as a generation makes them, up to the planned count
        a, b = rng.choice(len(pop), 2, replace=False)
        pop.append(cross([pop[a], pop[b]], np.array([0.5, 0.5]), rng))
        if len(pop) < n_genomes:
            pop.append(mut(pop[-1], rng))
    after = _status_mib()
    anon = after["RssAnon"] - before["RssAnon"]
    print(f"{'memory plan vs measured (MiB)':<60}{'plan':>10}{'measured':>10}{'ratio':>8}")
    print(f"{'loaded: weights + W0 copies + experts (RssAnon growth)':<60}"
          f"{(plan.base_bytes + plan.fold_bytes + plan.experts_bytes) / mib:>10.1f}{before['RssAnon'] - anon0:>10.1f}"
          f"{(before['RssAnon'] - anon0) / ((plan.base_bytes + plan.fold_bytes + plan.experts_bytes) / mib):>8.2f}")
    base_measured = sum(q.numel() * q.element_size() for nm, q in p.model.named_parameters()
                        if "lora_" not in nm) / mib
    print(f"{'base weights (parameter bytes, ' + plan.device + ')':<60}{plan.base_bytes / mib:>10.1f}"
          f"{base_measured:>10.1f}{base_measured / (plan.base_bytes / mib):>8.2f}")
    where = "memory-mapped: RssAnon growth" if plan.mapped else "RssAnon growth"
    print(f"{f'population, {n_genomes} genomes of {p.genome_dtype} ({where})':<60}"
          f"{plan.population_bytes / mib:>10.1f}{anon:>10.1f}"
          f"{anon / (plan.population_bytes / mib) if not plan.mapped else float('nan'):>8.2f}")
    genomes = (plan.population_bytes + plan.transient_bytes) / mib
    print(f"{'population + merge working copies (RssAnon growth)':<60}{genomes:>10.1f}{anon:>10.1f}"
          f"{anon / genomes if not plan.mapped else float('nan'):>8.2f}")
    if plan.mapped:
        print(f"{'  ... file-backed pages resident (RssFile growth)':<60}{'':>10}"
              f"{after['RssFile'] - before['RssFile']:>10.1f}")
    total = after["RssAnon"] - anon0
    print(f"{'planned peak vs RssAnon above the libraries':<60}{plan.peak_bytes / mib:>10.1f}{total:>10.1f}"
          f"{total / (plan.peak_bytes / mib):>8.2f}")
    print(f"{'RSS now / VmHWM (libraries and file-backed pages included)':<60}{after['VmRSS']:>10.1f}"
          f"{after['VmHWM']:>10.1f}")
    del pop


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zoo", default="tiny", help="zoo preset (default: tiny)")
    ap.add_argument("--toy", action="store_true", help="use the throwaway toy fixture instead of a zoo")
    ap.add_argument("--n", type=int, default=40, help="population size for the operator timing")
    ap.add_argument("--reps", type=int, default=20, help="candidates / forward passes timed")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--llama100m", action="store_true", help="build a ~106M-parameter random Llama and use it")
    ap.add_argument("--samples", type=int, default=200, help="validation samples per task (--llama100m)")
    ap.add_argument("--host-gb", type=float, default=None, help="problem.memory.host_gb (memory-map above it)")
    ap.add_argument("--max-population", type=int, default=40, help="max population for the memory plan")
    ap.add_argument("--memory-only", action="store_true", help="stop after the memory plan check")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    import peft  # noqa: F401  (baseline memory after the libraries)
    import transformers  # noqa: F401

    from gfopt.core.operators.real import GaussianMask
    from gfopt.core.operators.selection import positive_weights, roulette
    from gfopt.problems.llm_evo.operators import LoraMerge
    from gfopt.problems.llm_evo.problem import LlmEvoProblem
    from gfopt.problems.llm_evo.scoring import score

    rss0 = _rss_mib()
    anon0 = _status_mib()["RssAnon"]

    toy_root: list[Path] = []  # the toy fixture, built once for both loads
    memory = {"host_gb": args.host_gb, "max_population": args.max_population,
              "dir": str(Path(tempfile.mkdtemp()) / "population")}

    def load(merged: bool) -> LlmEvoProblem:
        model = {"merged_eval": merged}
        if args.llama100m:
            if not toy_root:
                toy_root.append(Path(tempfile.mkdtemp()) / "llama100m")
                toy_root.append(build_llama100m(toy_root[0], args.samples))  # type: ignore[arg-type]
            kw = dict(toy_root[1], threads=args.threads, batch_size=64, memory=memory)
            kw["model"] = {**kw["model"], **model}
            return LlmEvoProblem(**kw)
        if args.toy:
            from gfopt.problems.llm_evo.toy import build_toy, toy_kwargs

            if not toy_root:
                toy_root.append(build_toy(Path(tempfile.mkdtemp()) / "toy", n_valid=200, n_test=30))
            kw = toy_kwargs(toy_root[0], fitness={"samples": 200}, batch_size=256, threads=args.threads, memory=memory)
            kw["model"].update(model)  # toy_kwargs(model=...) would replace the toy's base and experts
            return LlmEvoProblem(**kw)
        return LlmEvoProblem(zoo={"preset": args.zoo, "seed": 0}, baselines=[], threads=args.threads, model=model,
                             memory=memory)

    def forward_rate(p: LlmEvoProblem) -> float:
        """Samples/s of the batched forward with one fixed adapter (no swaps)."""
        p.write(p.experts[0])
        for prep in p.valid.values():
            score(p.model, prep)  # warm-up
        t = time.perf_counter()
        for _ in range(args.reps):
            for prep in p.valid.values():
                score(p.model, prep)
        return args.reps * n_samples / (time.perf_counter() - t)

    def candidate_rate(p: LlmEvoProblem) -> tuple[float, float, float]:
        """(samples/s, s per candidate) with a fresh genome swapped in before each evaluation, and swap ms."""
        cands = [p.random_merge(range(len(p.experts)), np.random.default_rng(i)) for i in range(args.reps)]
        t = time.perf_counter()
        for g in cands:
            p.score_valid(g)
        cand_s = (time.perf_counter() - t) / args.reps
        t = time.perf_counter()
        for g in cands:
            p.write(g)
        return n_samples / cand_s, cand_s, 1e3 * (time.perf_counter() - t) / args.reps

    p = load(merged=True)  # the CPU fp32 default: candidates folded into the base weights
    rss_loaded = _rss_mib()
    print("memory plan (as logged before a run):")
    for line in p.memory_plan.lines():
        print("  " + line)
    print()
    memory_check(p, min(args.n, 20), anon0)
    print()
    if args.memory_only:
        return
    rng = np.random.default_rng(0)
    n_samples = sum(prep.n_samples for prep in p.valid.values())
    cand, cand_s, swap_ms = candidate_rate(p)

    # one GENOME+ generation's operators on N genomes vs evaluating its new individuals
    pop = p.initial(args.n, rng)
    scores = rng.random(args.n)
    rows = []
    for name, cross, mut in (
            ("genome (linear, per-layer)", LoraMerge("linear", 0.7, True, 20.0), GaussianMask(0.01, 0.01)),
            ("genome+ (linear, per-layer)", LoraMerge("linear", 0.7, True, 20.0), GaussianMask(0.1, 0.05)),
            ("genome+ with ties, per-layer", LoraMerge("ties", 0.7, True, 20.0), GaussianMask(0.1, 0.05))):
        cross.bind(p)
        t = time.perf_counter()
        children = []
        for _ in range(args.n // 2):
            if rng.random() < 0.8:
                pair = roulette(scores, 2, rng, replace=False)
                children.append(cross([pop[k] for k in pair], positive_weights(scores[pair]), rng))
        mutants = [mut(g, rng) for g in pop + children if rng.random() < 0.3]
        ops_s = time.perf_counter() - t
        new = len(children) + len(mutants)
        rows.append((name, ops_s, new, new * cand_s))
    store = np.stack(pop)
    rss_pop = _rss_mib()
    peak = _rss_mib("VmHWM")
    lora_p = load(merged=False)  # the LoRA branch (the bf16/GPU path, and the fixed-adapter reference)
    raw = forward_rate(lora_p)
    cand_lora, _, swap_lora_ms = candidate_rate(lora_p)

    base_params = sum(q.numel() for n, q in p.model.named_parameters() if "lora_" not in n)
    base_mib = base_params * p.dtype.itemsize / 2**20
    adapter_mib = p.layout.size * p.genome_dtype.itemsize / 2**20
    print(f"model: {base_params:,} base parameters ({p.dtype}, {p.device}), adapter P = {p.layout.size:,} "
          f"floats, K = {len(p.experts)} experts, {n_samples} validation samples per evaluation, "
          f"{torch.get_num_threads()} thread(s)")
    print()
    print(f"{'throughput':<52}{'samples/s':>12}")
    print(f"{'raw batched forward, fixed adapter (LoRA branch)':<52}{raw:>12.0f}")
    print(f"{'candidates, swap + forward, LoRA branch':<52}{cand_lora:>12.0f}")
    print(f"{'candidates, swap + fold + forward (fp32 default)':<52}{cand:>12.0f}")
    print(f"{'ratio LoRA branch / raw (target >= 0.8)':<52}{cand_lora / raw:>12.3f}")
    print(f"{'ratio folded / raw (target >= 0.8)':<52}{cand / raw:>12.3f}")
    print(f"{'swap alone, ms per candidate (LoRA branch / folded)':<52}{swap_lora_ms:>9.3f} /{swap_ms:>9.3f}")
    print()
    print(f"{'N=' + str(args.n) + ' generation':<30}{'ops s':>9}{'new':>6}{'eval s':>9}{'ops/eval':>10}")
    for name, ops_s, new, ev in rows:
        print(f"{name:<30}{ops_s:>9.4f}{new:>6d}{ev:>9.3f}{ops_s / ev:>10.2%}")
    print()
    print(f"{'memory (MiB)':<52}{'value':>10}")
    print(f"{'base model parameters':<52}{base_mib:>10.2f}")
    print(f"{'one adapter (' + p.genome_dtype.name + ' genome)':<52}{adapter_mib:>10.3f}")
    bound = base_mib + args.n * adapter_mib * 4
    print(f"{'base + N x adapter x 4':<52}{bound:>10.2f}")
    print(f"{'[N, P] population store':<52}{store.nbytes / 2**20:>10.3f}")
    print(f"{'RSS before loading (python + torch + libs)':<52}{rss0:>10.1f}")
    print(f"{'RSS after loading the model, experts, tasks':<52}{rss_loaded:>10.1f}")
    print(f"{'RSS after the N=' + str(args.n) + ' generation':<52}{rss_pop:>10.1f}")
    print(f"{'peak RSS (VmHWM)':<52}{peak:>10.1f}")
    print(f"{'peak - RSS before loading (model + population + overhead)':<52}{peak - rss0:>10.1f}")
    if torch.cuda.is_available():
        print(f"{'CUDA max allocated':<52}{torch.cuda.max_memory_allocated() / 2**20:>10.1f}")


if __name__ == "__main__":
    main()
