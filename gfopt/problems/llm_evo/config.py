"""Structured-config schema of `problem=llm_evo` (torch-free, so Hydra can type configs without loading torch)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gfopt.core.config import check, check_rate

METRICS = ("exact", "partial", "blend", "likelihood")
TIEBREAKS = ("none", "ce")
TASK_KINDS = ("generation", "multiple_choice")
GENOME_DTYPES = ("auto", "float32", "bfloat16", "float16")
BASELINES = ("best_expert", "shared", "uniform", "random_search", "lorahub", "lorahub_ce", "model_swarms")


@dataclass
class ZooRef:
    """The built-in zoo used when `model.base` is null."""

    preset: str = "default"
    seed: int = 0


@dataclass
class ModelConfig:
    """A user's base model and LoRA experts (local Hugging Face / PEFT directories)."""

    base: str | None = None
    experts: list[str] = field(default_factory=list)
    shared_adapter: str | None = None
    device: str = "auto"  # auto | cpu | cuda | cuda:0 ...
    dtype: str = "auto"  # auto (bf16 on CUDA, fp32 on CPU) | float32 | bfloat16 | float16
    # fold each candidate into the base weights for evaluation (same scores, base-model speed); null: on for fp32
    merged_eval: bool | None = None


@dataclass
class TaskConfig:
    """One task: a folder with train/valid/test JSONL files."""

    dir: str = "???"
    kind: str = "generation"
    weight: float = 1.0
    samples: int | None = None  # validation samples of this task (null: problem.fitness.samples; the smaller wins)


@dataclass
class FitnessConfig:
    """How validation samples are scored into one fitness.

    `blend` (default) = per sample 1 for an exact match, else `partial_weight` x the fraction of answer tokens
    right: exact match decides whenever it separates candidates, partial credit only breaks its ties.
    `likelihood` = exp(-cross-entropy of the gold answers): the geometric-mean probability of a gold answer token,
    in (0, 1], smooth where exact match is flat (LoraHub's objective made a positive fitness).
    `tiebreak: ce` subtracts `tiebreak_weight` x the gold answers' cross-entropy (nats per answer token, from the
    same forward pass) from each task's metric, so candidates that tie on exact match still differ.
    """

    metric: str = "blend"
    partial_weight: float = 0.2
    tiebreak: str = "none"  # none | ce: metric - tiebreak_weight x cross-entropy
    tiebreak_weight: float = 0.01
    samples: int = 200  # validation samples per task (error when a split has fewer)


@dataclass
class GenerationConfig:
    """Free generation (ensemble votes, real chat models): answer extraction and length."""

    extract: str = "eos"  # eos: text up to end-of-sequence | answer: after the last 'Answer:' up to a newline
    max_new_tokens: int | None = None  # null: longest gold answer + 4


@dataclass
class InitConfig:
    """Initial population: the raw experts, then merges of shuffled expert pairs with random weights (GENOME).

    `experts+pairs` (default) keeps every expert in a population of N >= K, so no skill is missing from the start
    (with pairs only, N = 20 of C(16,2) = 120 pairs can leave out a needed expert's pairs).
    `anchor` puts one more start in place of the last: `shared`, the shared starting adapter (`model.shared_adapter`
    or the zoo's), or `mean`, the element-wise mean of the experts (their uniform merge). Crossing a merge with it
    scales the experts' deltas down toward it, which convex merges of raw experts cannot (each keeps >= 1/2).
    """

    mode: str = "experts+pairs"  # pairs | experts | experts+pairs
    method: str = "linear"
    layerwise: bool = False  # one random weight vector per transformer layer
    anchor: str = "none"  # none | shared | mean


INIT_ANCHORS = ("none", "shared", "mean")
SPACES = ("params", "coefficients")
COEFFICIENT_INITS = ("experts+pairs", "experts", "pairs", "dirichlet", "uniform")


@dataclass
class CoefficientsConfig:
    """`space: coefficients`: a genome is one merge weight per expert (per layer with `layerwise`), the child
    adapter is sum_k w_k x_k (LoraHub, evolutionary model merging). Weights lie in [-bound, bound]; `l1` subtracts
    l1 * mean|w| from the fitness (LoraHub's regulariser). `init` as problem.init.mode (one-hot experts, random
    pairs), or `dirichlet` (random weights over all experts) or `uniform` (1/K each: CMA-ES's natural mean)."""

    layerwise: bool = False
    bound: float = 1.5
    l1: float = 0.0
    init: str = "experts+pairs"


@dataclass
class MemoryConfig:
    """Where genomes live: their dtype, and a host budget above which the population is memory-mapped."""

    genome_dtype: str = "auto"  # auto: the experts' saved dtype | float32 | bfloat16 | float16
    host_gb: float | None = None  # memory-map the population in the run dir when it would exceed this (null: never)
    dir: str | None = None  # where the memory-mapped genomes go (null: <run dir>/population)
    population_size: int | None = None  # the engine's sizes, for the plan (the YAML reads them from engine.*)
    max_population: int | None = None


@dataclass
class LlmEvoConfig:
    _target_: str = "gfopt.problems.llm_evo.problem.LlmEvoProblem"
    name: str = "llm_evo"
    space: str = "params"  # params: the full LoRA vector (GENOME) | coefficients: one weight per expert (per layer)
    coefficients: CoefficientsConfig = field(default_factory=CoefficientsConfig)
    zoo: ZooRef = field(default_factory=ZooRef)
    model: ModelConfig = field(default_factory=ModelConfig)
    tasks: dict[str, Any] = field(default_factory=dict)  # name -> dir, or {dir, kind, weight} (see TaskConfig)
    target_tasks: list[str] | None = None  # null: the zoo's target tasks, or every user task
    zero_shot_tasks: list[str] | None = None  # zoo tasks tested (never evolved on) besides named target_tasks
    fitness: FitnessConfig = field(default_factory=FitnessConfig)
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    init: InitConfig = field(default_factory=InitConfig)
    batch_size: int = 256
    test_samples: int | None = None  # null: the whole test split
    ensemble_k: int = 5
    baselines: list[str] = field(default_factory=lambda: list(BASELINES))
    baseline_budget: int | None = None  # null: the run's own number of evaluations
    lorahub_bound: float = 1.5
    lorahub_l1: float = 0.05
    threads: int | None = None  # torch CPU threads (null: leave torch's default)
    memory: MemoryConfig = field(default_factory=MemoryConfig)
    seed: int = 0  # seeds the baselines' searches (the YAML sets ${seed})

    def __post_init__(self) -> None:
        check(self.space in SPACES, "problem.space", f"must be one of {SPACES}, got {self.space!r}")
        c = self.coefficients
        check(c.bound > 0, "problem.coefficients.bound", f"must be > 0, got {c.bound}")
        check(c.l1 >= 0, "problem.coefficients.l1", f"must be >= 0, got {c.l1}")
        check(c.init in COEFFICIENT_INITS, "problem.coefficients.init", f"must be one of {COEFFICIENT_INITS}")
        check(self.fitness.metric in METRICS, "problem.fitness.metric", f"must be one of {METRICS}")
        check_rate(self.fitness.partial_weight, "problem.fitness.partial_weight")
        check(self.fitness.tiebreak in TIEBREAKS, "problem.fitness.tiebreak", f"must be one of {TIEBREAKS}")
        check(self.fitness.tiebreak_weight >= 0, "problem.fitness.tiebreak_weight", "must be >= 0")
        check(self.fitness.tiebreak == "none" or self.fitness.metric != "likelihood", "problem.fitness.tiebreak",
              "the likelihood metric is the cross-entropy already; use tiebreak=none")
        check(self.fitness.samples >= 1, "problem.fitness.samples", "must be >= 1")
        check(self.generation.extract in ("eos", "answer"), "problem.generation.extract", "must be eos or answer")
        check(self.init.mode in ("pairs", "experts", "experts+pairs"), "problem.init.mode",
              "must be pairs, experts or experts+pairs")
        check(self.init.anchor in INIT_ANCHORS, "problem.init.anchor", f"must be one of {INIT_ANCHORS}")
        from gfopt.problems.llm_evo.merge import METHODS  # numpy-only module

        check(self.init.method in METHODS, "problem.init.method", f"must be one of {METHODS}")
        check(self.memory.genome_dtype in GENOME_DTYPES, "problem.memory.genome_dtype",
              f"must be one of {GENOME_DTYPES}")
        check(self.memory.host_gb is None or self.memory.host_gb > 0, "problem.memory.host_gb", "must be > 0 or null")
        check(self.batch_size >= 1, "problem.batch_size", "must be >= 1")
        check(self.ensemble_k >= 1, "problem.ensemble_k", "must be >= 1")
        check(self.test_samples is None or self.test_samples >= 1, "problem.test_samples", "must be >= 1 or null")
        bad = [b for b in self.baselines if b not in BASELINES]
        check(not bad, "problem.baselines", f"unknown {bad}; choose from {BASELINES}")
        check(self.lorahub_bound > 0, "problem.lorahub_bound", "must be > 0")
        check(self.lorahub_l1 >= 0, "problem.lorahub_l1", "must be >= 0")
        for name, t in self.tasks.items():
            if isinstance(t, str):
                continue
            check(hasattr(t, "get") and isinstance(t.get("dir"), str), f"problem.tasks.{name}",
                  "must be a task dir or a mapping with dir (and optionally kind, weight, samples)")
            extra = set(t) - {"dir", "kind", "weight", "samples"}
            check(not extra, f"problem.tasks.{name}", f"unknown keys {sorted(extra)}; use dir, kind, weight, samples")
            check(t.get("samples") is None or int(t.get("samples")) >= 1, f"problem.tasks.{name}.samples",
                  "must be >= 1 or null")
            check(t.get("kind", "generation") in TASK_KINDS, f"problem.tasks.{name}.kind",
                  f"must be one of {TASK_KINDS}")
            check(float(t.get("weight", 1.0)) >= 0, f"problem.tasks.{name}.weight", "must be >= 0")
        if self.model.base is not None:
            check(len(self.model.experts) >= 2, "problem.model.experts", "give at least 2 PEFT adapter dirs")
            check(bool(self.tasks), "problem.tasks", "give at least one task dir when model.base is set")


def register(cs: Any) -> None:
    """Store the schema in Hydra's ConfigStore."""
    cs.store(group="schema/problem", name="llm_evo", node=LlmEvoConfig)
