"""`LlmEvoProblem`: evolve LoRA adapters (flat genomes in the adapters' dtype) of one frozen base model on tasks.

Inputs are checked in the constructor before any evaluation. A genome is evaluated by copying it into the one
live PEFT model in place and scoring the target tasks' validation splits; scores are cached by genome content.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gfopt.core.engine import Comparison, RunResult
from gfopt.core.problem import Problem
from gfopt.core.space import RealVectorSpace
from gfopt.errors import InputError
from gfopt.problems.llm_evo.cache import genome_key
from gfopt.problems.llm_evo.data import Task, load_task
from gfopt.problems.llm_evo.layout import LiveAdapter, LoraLayout
from gfopt.problems.llm_evo.memory import GenomeStore, numpy_dtype, plan_memory
from gfopt.problems.llm_evo.merge import merge
from gfopt.problems.llm_evo.models import (
    check_inputs,
    load_model,
    load_vector,
    lora_scaling,
    read_adapter_config,
    resolve_device,
    stored_dtype,
)
from gfopt.problems.llm_evo.operators import LORA
from gfopt.problems.llm_evo.scoring import Prepared, fitness_of, generate, prepare, score, score_with_loss

COEFFICIENTS = "real/coefficients"

log = logging.getLogger("gfopt.llm_evo")


def _plain(x: Any) -> Any:
    """Structured-config objects (dataclasses / DictConfig) -> plain dicts and lists."""
    if dataclasses.is_dataclass(x):
        return dataclasses.asdict(x)
    if hasattr(x, "items"):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple) or type(x).__name__ == "ListConfig":
        return [_plain(v) for v in x]
    return x


def _mmap_dir(directory: str | None) -> Path:
    """Where memory-mapped genomes go: `problem.memory.dir`, else the Hydra run dir, else the temp dir."""
    if directory:
        return Path(directory)
    try:
        from hydra.core.hydra_config import HydraConfig

        return Path(HydraConfig.get().runtime.output_dir) / "population"
    except (ImportError, ValueError):
        import tempfile

        return Path(tempfile.gettempdir()) / "gfopt-population"


class GenomeSpace(RealVectorSpace):
    """LoRA parameter vectors kept by the problem's `GenomeStore`: checkpoints hold them in its dtype, and restored
    genomes go back into the store (memory-mapped when the plan says so)."""

    def __init__(self, store: GenomeStore) -> None:
        super().__init__(store.size, kind=LORA, dtype=store.dtype)
        self.store = store

    def from_array(self, array: np.ndarray) -> np.ndarray:
        return self.store.new(array)


class LlmEvoProblem(Problem):
    """Maximize the weighted validation fitness of a merged/mutated LoRA adapter over the target tasks.

    Two spaces: `params` (a genome is the whole LoRA parameter vector: GENOME) and `coefficients` (one merge weight
    per expert, per layer with `coefficients.layerwise`: LoraHub, evolutionary model merging). Either way the
    fitness is that of the adapter `params_of(genome)`, cached by its content.
    """

    sense = "max"
    space_kind = LORA

    @classmethod
    def kind_for(cls, config: Any) -> str:
        return COEFFICIENTS if config.get("space", "params") == "coefficients" else LORA

    def __init__(self, name: str = "llm_evo", space: str = "params", coefficients: Any = None, zoo: Any = None,
                 model: Any = None, tasks: Any = None,
                 target_tasks: Sequence[str] | None = None, fitness: Any = None, generation: Any = None,
                 init: Any = None, batch_size: int = 256, test_samples: int | None = None, ensemble_k: int = 5,
                 baselines: Sequence[str] = (), baseline_budget: int | None = None, lorahub_bound: float = 1.5,
                 lorahub_l1: float = 0.05, threads: int | None = None, memory: Any = None,
                 zero_shot_tasks: Sequence[str] | None = None, seed: int = 0) -> None:
        from gfopt.problems.llm_evo.config import LlmEvoConfig

        d = LlmEvoConfig()
        self.name = name
        self.space_name = space
        self.coef_cfg = {**_plain(d.coefficients), **(_plain(coefficients) or {})}
        self.fit_cfg = {**_plain(d.fitness), **(_plain(fitness) or {})}
        self.tiebreak_weight = float(self.fit_cfg["tiebreak_weight"]) if self.fit_cfg["tiebreak"] == "ce" else 0.0
        self.gen_cfg = {**_plain(d.generation), **(_plain(generation) or {})}
        self.init_cfg = {**_plain(d.init), **(_plain(init) or {})}
        self.batch_size, self.test_samples, self.ensemble_k = batch_size, test_samples, ensemble_k
        self.baselines, self.baseline_budget = list(baselines), baseline_budget
        self.lorahub_bound, self.lorahub_l1, self.seed = lorahub_bound, lorahub_l1, seed
        if threads:
            torch.set_num_threads(int(threads))
        m = {**_plain(d.model), **(_plain(model) or {})}
        tasks = {k: {"dir": v} if isinstance(v, str) else dict(v) for k, v in (_plain(tasks) or {}).items()}
        base, experts, shared, task_specs, targets = self._resolve(_plain(zoo) or {}, m, tasks, target_tasks,
                                                                   zero_shot_tasks)
        first_cfg = check_inputs(base, list(experts.values()) + ([shared] if shared else []))
        self.targets = targets
        n_valid, n_test = int(self.fit_cfg["samples"]), test_samples
        # validation samples per target: fitness.samples, or fewer where a task says so (multiple choice costs
        # one sequence per choice)
        self.valid_n = {t: min(n_valid, int(task_specs[t].get("samples") or n_valid)) for t in targets}
        self.tasks: dict[str, Task] = {}
        for tname, spec in task_specs.items():
            need = {"valid": self.valid_n.get(tname), "test": n_test}
            self.tasks[tname] = load_task(tname, spec["dir"], spec.get("kind", "generation"),
                                          float(spec.get("weight", 1.0)), need)
        self.device, self.dtype = resolve_device(m["device"], m["dtype"])
        self.expert_names = list(experts)
        self.tokenizer, self.model = load_model(base, next(iter(experts.values())), self.device, self.dtype)
        self.layout = LoraLayout.from_model(self.model, first_cfg.get("layers_pattern"))
        mem = {**_plain(d.memory), **(_plain(memory) or {})}
        gd = mem["genome_dtype"]
        self.genome_dtype = numpy_dtype(stored_dtype(next(iter(experts.values()))) if gd == "auto" else gd)
        live_scaling = lora_scaling(first_cfg)

        def vector(path: str) -> np.ndarray:  # in the storage dtype, B rescaled to the live adapter's scaling
            scale = lora_scaling(read_adapter_config(path)) / live_scaling
            return load_vector(self.layout, path, self.genome_dtype, scale)

        self.experts = np.stack([vector(p) for p in experts.values()])
        self.shared = vector(shared) if shared else None
        if self.init_cfg["anchor"] == "shared" and self.shared is None:
            raise InputError("problem.init.anchor: shared needs a shared adapter (model.shared_adapter); "
                             "use mean for experts without one")
        merged = m["merged_eval"]
        self.live = LiveAdapter(self.model, self.layout,
                                merged=self.dtype == torch.float32 if merged is None else bool(merged))
        pop = max(int(mem.get("population_size") or 0), int(mem.get("max_population") or 0), 2)
        self.memory_plan = plan_memory(self.model, self.layout.size, self.genome_dtype,
                                       len(self.experts) + (shared is not None), pop, self.live.merged,
                                       mem["host_gb"])
        for line in self.memory_plan.lines():
            log.info("memory plan: %s", line)
        self.store = GenomeStore(self.layout.size, self.genome_dtype,
                                 _mmap_dir(mem.get("dir")) if self.memory_plan.mapped else None)
        w = np.array([self.tasks[t].weight for t in targets], dtype=float)
        if w.sum() <= 0:
            raise InputError("problem.tasks: the target tasks' weights sum to 0")
        self.weights = dict(zip(targets, w / w.sum(), strict=True))
        self.valid = {t: self._prep(t, "valid", self.valid_n[t]) for t in targets}
        self.cache: dict[str, float] = {}
        self.records: dict[str, dict[str, dict[str, float]]] = {}
        self.n_forward = 0
        self.views: dict[str, LlmEvoProblem] = {}
        self.objective = "fitness"  # a view may search "cross_entropy" instead (LoraHub's original objective)
        self._space = self._make_space()

    # ------------------------------------------------------------------ inputs
    def _resolve(self, zoo: dict, m: dict, tasks: dict, target_tasks: Sequence[str] | None,
                 zero_shot: Sequence[str] | None = None) -> tuple:
        if m["base"] is None:
            from gfopt.problems.llm_evo.zoo import ensure_zoo, load_manifest

            root = ensure_zoo(zoo.get("preset", "default"), int(zoo.get("seed", 0)), progress=True)
            man = load_manifest(root)
            self.zoo_info = {"dir": str(root), "preset": man.get("preset"), "seed": man.get("seed"),
                             "zoo_version": man.get("zoo_version")}
            experts = {k: str(root / v) for k, v in man["experts"].items()}
            shared = str(root / man["shared_adapter"]) if man.get("shared_adapter") else None
            targets = list(target_tasks) if target_tasks else list(man["target_tasks"])
            # named targets: test those and the explicit zero-shot list; else every held-out task of the zoo
            tested = set(targets) | set(zero_shot or ()) if target_tasks else None
            specs = {t: {"dir": str(root / v["dir"]), "kind": v.get("kind", "generation"),
                         **({"samples": v["samples"]} if v.get("samples") else {})}
                     for t, v in man["tasks"].items()
                     if (t in tested if tested is not None else v.get("held_out", False) or t in targets)}
            for t, v in tasks.items():  # user overrides (weights) on zoo tasks
                specs.setdefault(t, {}).update(v)
            base = str(root / man["base"])
        else:
            self.zoo_info = None
            experts = {Path(p).name or f"expert{i}": str(p) for i, p in enumerate(m["experts"])}
            if len(experts) != len(m["experts"]):
                experts = {f"expert{i}": str(p) for i, p in enumerate(m["experts"])}
            shared, specs = m["shared_adapter"], dict(tasks)
            targets = list(target_tasks) if target_tasks else list(specs)
            base = m["base"]
        unknown = [t for t in targets if t not in specs]
        if unknown:
            raise InputError(f"problem.target_tasks: unknown task(s) {unknown}; known: {sorted(specs)}")
        unknown = [t for t in zero_shot or () if t not in specs]
        if unknown:
            raise InputError(f"problem.zero_shot_tasks: unknown task(s) {unknown}; known: {sorted(specs)}")
        return base, experts, shared, specs, targets

    def _prep(self, task: str, split: str, n: int | None) -> Prepared:
        t = self.tasks[task]
        samples = t.splits[split][:n] if n else t.splits[split]
        return prepare(self.tokenizer, samples, t.kind, self.device, self.batch_size)

    # ------------------------------------------------------------------ spaces
    def _make_space(self) -> RealVectorSpace:
        if self.space_name == "coefficients":
            b = float(self.coef_cfg["bound"])
            return RealVectorSpace(self.n_coefficients, lower=-b, upper=b, kind=COEFFICIENTS)
        return GenomeSpace(self.store)

    @property
    def space(self) -> RealVectorSpace:
        """LoRA parameter vectors (`params`) or merge coefficients in [-bound, bound] (`coefficients`)."""
        return self._space

    @property
    def n_coefficients(self) -> int:
        """K weights, or K x layer groups with `coefficients.layerwise` (expert-major)."""
        groups = self.layout.n_groups if self.coef_cfg["layerwise"] else 1
        return len(self.experts) * groups

    def params_of(self, genome: np.ndarray) -> np.ndarray:
        """The LoRA parameter vector a genome stands for (itself in the params space)."""
        if self.space_name != "coefficients":
            return np.asarray(genome)  # in its storage dtype; the live adapter and the cache key take any
        w = np.asarray(genome, dtype=np.float64).reshape(len(self.experts), -1)
        w = self.layout.expand(w) if w.shape[1] > 1 else w[:, 0]
        return merge(self.experts, w, "linear")

    def view(self, space: str | None = None, **changes: Any) -> LlmEvoProblem:
        """The same loaded model, tasks and cache under other search settings (a baseline's problem).

        `space` picks the space; `coefficients` / `init` update those settings; `objective` is `fitness` or
        `cross_entropy`.
        """
        v = copy.copy(self)
        v.space_name = space or self.space_name
        v.objective = changes.get("objective", self.objective)
        v.coef_cfg = {**self.coef_cfg, **changes.get("coefficients", {})}
        v.init_cfg = {**self.init_cfg, **changes.get("init", {})}
        v._space = v._make_space()
        return v

    # ------------------------------------------------------------------ Problem contract
    def initial(self, n: int, rng: np.random.Generator) -> list[np.ndarray]:
        """GENOME's init: the raw experts and/or shuffled expert pairs merged with random weights summing to 1.

        In the coefficients space the same starts as weight vectors (one-hot experts, random pairs), or
        `dirichlet` (random weights over all experts) or `uniform` (1/K each).
        """
        if self.space_name == "coefficients":
            return self._coefficient_starts(n, rng)
        ic = self.init_cfg
        anchor = int(ic["anchor"] != "none" and n >= 2)
        out = self._experts_then_pairs(n - anchor, rng, ic["mode"], lambda e: self.store.new(self.experts[e]),
                                       lambda pair: self.random_merge(pair, rng, ic["method"], ic["layerwise"]))
        return out + [self.anchor()] if anchor else out

    def anchor(self) -> np.ndarray:
        """`problem.init.anchor`'s genome: the shared adapter, or the element-wise mean of the experts."""
        if self.init_cfg["anchor"] == "shared":
            return self.store.new(self.shared)
        return self.store.new(self.experts.astype(np.float32).mean(axis=0))

    def _experts_then_pairs(self, n: int, rng: np.random.Generator, mode: str, expert: Any, pair: Any) -> list:
        """`expert(e)` for the raw experts (modes experts, experts+pairs), then `pair((a, b))` over the shuffled
        expert pairs (cycled) until there are n."""
        k = len(self.experts)
        out = [expert(e) for e in range(min(k, n))] if mode in ("experts", "experts+pairs") else []
        if mode == "experts" and len(out) >= n:
            return out
        pairs = list(itertools.combinations(range(k), 2))
        order = rng.permutation(len(pairs))
        for i in range(n - len(out)):
            out.append(pair(pairs[order[i % len(pairs)]]))
        return out

    def random_merge(self, members: Sequence[int], rng: np.random.Generator, method: str = "linear",
                     layerwise: bool = False, density: float = 0.7) -> np.ndarray:
        """Merge the given experts with Dirichlet(1) weights (one draw per layer when `layerwise`)."""
        members = list(members)
        if layerwise:
            w = self.layout.expand(rng.dirichlet(np.ones(len(members)), size=self.layout.n_groups).T)
        else:
            w = rng.dirichlet(np.ones(len(members)))
        return self.store.new(merge(self.experts[members], w, method, base=self.shared, density=density,
                                    segments=self.layout.segments, rng=rng))

    def new_genome(self, values: np.ndarray) -> np.ndarray:
        """A new genome holding `values`, in the genome dtype and memory-mapped when the plan says so."""
        return self.store.new(values)

    def _coefficient_starts(self, n: int, rng: np.random.Generator) -> list[np.ndarray]:
        k = len(self.experts)
        g = self.n_coefficients // k
        mode = self.coef_cfg["init"]

        def weights(members: Sequence[int], alpha: np.ndarray | None = None) -> np.ndarray:
            w = np.zeros((k, g))
            members = list(members)
            w[members] = rng.dirichlet(np.ones(len(members)), size=g).T if alpha is None else alpha[:, None]
            return w.reshape(-1).astype(np.float32)

        if mode == "uniform":
            return [np.full(k * g, 1.0 / k, dtype=np.float32) for _ in range(n)]
        if mode == "dirichlet":
            return [weights(range(k)) for _ in range(n)]
        return self._experts_then_pairs(n, rng, mode, lambda e: weights([e], np.ones(1)), weights)

    def evaluate(self, genomes: Sequence[np.ndarray]) -> np.ndarray:
        """Weighted validation fitness of each genome over the target tasks (cached by content), minus
        `coefficients.l1` x mean|w| in the coefficients space. Under `objective="cross_entropy"` (LoraHub's own
        objective) the value is minus the weighted cross-entropy of the gold answers instead, before the penalty."""
        out = np.array([self._value(self.params_of(g)) for g in genomes], dtype=float)
        l1 = float(self.coef_cfg["l1"]) if self.space_name == "coefficients" else 0.0
        if l1:
            out -= l1 * np.array([np.mean(np.abs(g)) for g in genomes])
        return out

    def remote_batch(self, genomes: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Only the LoRA vectors not in the cache (once each) go to parallel workers."""
        todo: dict[str, np.ndarray] = {}
        for g in genomes:
            v = self.params_of(g)
            key = genome_key(v)
            if key not in self.cache:
                todo.setdefault(key, v)
        return list(todo.values())

    def evaluate_remote(self, genomes: Sequence[np.ndarray]) -> tuple[np.ndarray, list[Any]]:
        """In a worker: fitness of LoRA vectors (whatever this worker's space) and their per-task records."""
        fitness = np.array([self._fitness(g) for g in genomes], dtype=float)
        return fitness, [self.records[genome_key(g)] for g in genomes]

    def absorb(self, genomes: Sequence[np.ndarray], fitness: np.ndarray, extras: list[Any]) -> None:
        """Fill the cache and the per-task records from the workers; `evaluate` then reads them."""
        records = [r for chunk in extras for r in chunk]
        for g, f, rec in zip(genomes, fitness, records, strict=True):
            key = genome_key(g)
            self.cache[key], self.records[key] = float(f), rec
        return None

    def _value(self, genome: np.ndarray) -> float:
        """The searched objective of a LoRA vector: its fitness, or minus its cross-entropy."""
        fitness = self._fitness(genome)
        if self.objective == "fitness":
            return fitness
        per_task = self.records[genome_key(genome)]
        return -float(sum(self.weights[t] * per_task[t]["loss"] for t in self.targets))

    def _fitness(self, genome: np.ndarray) -> float:
        key = genome_key(genome)
        if key not in self.cache:
            per_task = self.score_valid(genome)
            self.records[key] = per_task
            self.cache[key] = float(sum(self.weights[t] * per_task[t]["fitness"] for t in self.targets))
        return self.cache[key]

    def score_valid(self, genome: np.ndarray) -> dict[str, dict[str, float]]:
        """Per target task: exact, partial, fitness and the gold answers' cross-entropy (`loss`) on the validation
        split (no cache)."""
        self.live.write(genome)
        out = {}
        for t, prep in self.valid.items():
            exact, partial, loss = score_with_loss(self.model, prep)
            self.n_forward += prep.n_samples
            out[t] = {"exact": float(exact.mean()), "partial": float(partial.mean()), "loss": loss,
                      "fitness": fitness_of(exact, partial, self.fit_cfg["metric"], self.fit_cfg["partial_weight"],
                                            loss, self.tiebreak_weight)}
        return out

    def write(self, genome: np.ndarray) -> None:
        """Put `genome` into the live model."""
        self.live.write(genome)

    def save(self, genome: np.ndarray, path: Path) -> None:
        """Save `genome` as a PEFT adapter dir `best_adapter/` beside `path` (loads with PeftModel.from_pretrained);
        in the coefficients space also the weights, as `best_coefficients.json` (expert -> weight(s))."""
        self.save_adapter(self.params_of(genome), Path(path).parent / "best_adapter")
        if self.space_name == "coefficients":
            from gfopt.core.checkpoint import atomic_write_json

            w = np.asarray(genome, float).reshape(len(self.experts), -1)
            atomic_write_json(Path(path).parent / "best_coefficients.json",
                              {e: (row.tolist() if len(row) > 1 else float(row[0]))
                               for e, row in zip(self.expert_names, w, strict=True)})

    def save_adapter(self, genome: np.ndarray, directory: Path) -> None:
        """Write `genome` into the live model and `save_pretrained` it to `directory`."""
        self.live.write(genome)
        self.model.save_pretrained(str(directory))

    # ------------------------------------------------------------------ reporting
    def report_tasks(self) -> list[str]:
        """Tasks reported on test: the targets first, then the zero-shot ones the fitness never saw."""
        return self.targets + [t for t in self.tasks if t not in self.targets]

    def test_exact(self, genome: np.ndarray, preps: dict[str, Prepared]) -> dict[str, float]:
        """Exact match per task on prepared (test) splits."""
        self.live.write(genome)
        return {t: float(score(self.model, p)[0].mean()) for t, p in preps.items()}

    def answers(self, genome: np.ndarray, task: str, split: str, n: int | None) -> list[str]:
        """Predicted answers of `genome` (greedy generation, or the argmax choice for multiple choice)."""
        self.live.write(genome)
        t = self.tasks[task]
        samples = t.splits[split][:n] if n else t.splits[split]
        if t.kind == "multiple_choice":
            prep = prepare(self.tokenizer, samples, t.kind, self.device, self.batch_size)
            return [str(c) for c in _mc_choices(self.model, prep)]
        max_new = self.gen_cfg["max_new_tokens"] or 4 + max(
            len(self.tokenizer.encode(s.answer, add_special_tokens=False)) for s in samples)
        return generate(self.model, self.tokenizer, samples, self.device, self.batch_size, max_new,
                        self.gen_cfg["extract"])

    def gold(self, task: str, split: str, n: int | None) -> list[str]:
        """Gold answers in the form `answers` returns."""
        t = self.tasks[task]
        samples = t.splits[split][:n] if n else t.splits[split]
        return [str(s.label) if t.kind == "multiple_choice" else s.answer.strip() for s in samples]

    def comparisons(self, result: RunResult) -> list[Comparison]:
        """The configured baselines, each a run with at most the main run's evaluations (`baseline_budget`)."""
        from gfopt.problems.llm_evo.baselines import baseline_runs

        budget = int(self.baseline_budget or result.evaluations)
        runs = baseline_runs(self, budget)
        self.views = {c.name: c.problem for c in runs}
        return runs

    def finalize(self, result: RunResult, outdir: Path, comparisons: dict[str, RunResult] | None = None
                 ) -> dict[str, Any]:
        """Test the best individual, the top-k ensemble and every baseline's best; write fitness.png."""
        from gfopt.problems.llm_evo.report import finalize_run

        return finalize_run(self, result, Path(outdir), comparisons or {})


def _mc_choices(model: Any, prep: Prepared) -> np.ndarray:
    from gfopt.problems.llm_evo.scoring import choice_loglik

    ll = choice_loglik(model, prep)
    return np.array([int(np.argmax(ll[prep.owner == i])) for i in range(prep.n_samples)])
