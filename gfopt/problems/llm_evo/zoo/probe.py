"""A quick harness to check the zoo's premise without the llm_evo backend.

Loads a built zoo through `from_pretrained`, stacks the experts' LoRA B matrices (A is shared by construction),
and scores merges `B = sum_k w[k, layer] * B_k` by teacher-forced exact match on a task split.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from gfopt.problems.llm_evo.zoo import load_manifest
from gfopt.problems.llm_evo.zoo.training import collate


def read_jsonl(path: Path) -> list[dict[str, str]]:
    """Records of one JSONL split."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _adapter_tensors(adapter_dir: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(adapter_dir / "adapter_model.safetensors"))


class ZooProbe:
    """Live PEFT model of a zoo plus the experts' B matrices as one [K, P] tensor, for fast merge scoring."""

    def __init__(self, zoo: str | Path) -> None:
        from peft import PeftModel
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from gfopt.problems.llm_evo.models import quiet_loading

        self.root = Path(zoo)
        self.manifest = load_manifest(self.root)
        with quiet_loading():
            self.tokenizer = AutoTokenizer.from_pretrained(self.root / self.manifest["base"])
            base = AutoModelForCausalLM.from_pretrained(self.root / self.manifest["base"])
            self.model = PeftModel.from_pretrained(base, self.root / self.manifest["shared_adapter"]).eval()
        live = dict(self.model.named_parameters())
        self.b_names = [n for n in live if "lora_B" in n]
        self.params = [live[n] for n in self.b_names]
        self.shapes = [p.shape for p in self.params]
        self.layer_of = np.concatenate([
            np.full(p.numel(), int(n.split(".layers.")[1].split(".")[0])) for n, p in zip(self.b_names, self.params,
                                                                                         strict=True)])
        self.n_layers = int(self.layer_of.max()) + 1
        self.expert_names = list(self.manifest["experts"])
        self.shared_b = torch.cat([p.detach().reshape(-1) for p in self.params])
        rows = []
        for name in self.expert_names:
            tensors = _adapter_tensors(self.root / self.manifest["experts"][name])
            rows.append(torch.cat([tensors[n.replace(".default", "")].reshape(-1) for n in self.b_names]))
        self.experts = torch.stack(rows)  # [K, P]
        self._layer_index = torch.as_tensor(self.layer_of)
        self._batches: dict[tuple[str, str], dict[str, torch.Tensor]] = {}

    def batch(self, task: str, split: str) -> dict[str, torch.Tensor]:
        """The collated (cached) split of a task."""
        key = (task, split)
        if key not in self._batches:
            records = read_jsonl(self.root / self.manifest["tasks"][task]["dir"] / f"{split}.jsonl")
            self._batches[key] = collate(self.tokenizer, records)
        return self._batches[key]

    def merged(self, weights: np.ndarray) -> torch.Tensor:
        """Flat B of a merge: weights [K] (global) or [K, layers] (per layer)."""
        w = torch.as_tensor(np.asarray(weights), dtype=self.experts.dtype)
        if w.ndim == 1:
            return w @ self.experts
        return (w[:, self._layer_index] * self.experts).sum(0)

    @torch.no_grad()
    def load(self, flat_b: torch.Tensor) -> None:
        """Copy a flat B vector into the live model in place."""
        at = 0
        for p in self.params:
            p.copy_(flat_b[at : at + p.numel()].view_as(p))
            at += p.numel()

    @torch.no_grad()
    def scores(self, flat_b: torch.Tensor, task: str, split: str) -> tuple[np.ndarray, np.ndarray]:
        """Per-sample exact match and per-sample answer-token accuracy of the adapter with this B."""
        self.load(flat_b)
        b = self.batch(task, split)
        logits = self.model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
        pred, target = logits[:, :-1].argmax(-1), b["labels"][:, 1:]
        scored = target != -100
        hit = (pred == target) & scored
        em = (hit | ~scored).all(-1).numpy().astype(float)
        tok = (hit.sum(-1) / scored.sum(-1)).numpy()
        return em, tok

    def exact_match(self, flat_b: torch.Tensor, task: str, split: str) -> float:
        """Mean exact match on a split."""
        return float(self.scores(flat_b, task, split)[0].mean())


def valid_fitness(probe: ZooProbe, w: np.ndarray, tasks: str | list[str]) -> float:
    """Mean validation exact match over `tasks`, plus 1e-3 x token accuracy to break ties."""
    tasks = [tasks] if isinstance(tasks, str) else tasks
    flat = probe.merged(w)
    total = 0.0
    for task in tasks:
        em, tok = probe.scores(flat, task, "valid")
        total += em.mean() + 1e-3 * tok.mean()
    return float(total / len(tasks))


def random_search(
    probe: ZooProbe, task: str | list[str], budget: int, rng: np.random.Generator, per_layer: bool = False
) -> tuple[np.ndarray, float]:
    """Best of `budget` Dirichlet(1) weight vectors (global, or per layer) on validation fitness."""
    k = len(probe.expert_names)
    best_w, best_f = None, -1.0
    for _ in range(budget):
        w = rng.dirichlet(np.ones(k)) if not per_layer else rng.dirichlet(np.ones(k), size=probe.n_layers).T
        f = valid_fitness(probe, w, task)
        if f > best_f:
            best_w, best_f = w, f
    return best_w, best_f


def pair_search(
    probe: ZooProbe, task: str | list[str], budget: int, rng: np.random.Generator, pop: int = 20, sigma: float = 0.05
) -> tuple[np.ndarray, float]:
    """A small GENOME-like search over per-layer weights: pairwise-merge init, fitness-weighted crossover,
    sparse Gaussian mutation, elitist truncation; fitness = validation exact match (ties: token accuracy)."""
    k, n_layers = len(probe.expert_names), probe.n_layers

    def fit(w: np.ndarray) -> float:
        return valid_fitness(probe, w, task)

    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    order = rng.permutation(len(pairs))[:pop]
    population = []
    for idx in order:
        i, j = pairs[idx]
        w = np.zeros((k, n_layers))
        a = rng.random()
        w[i], w[j] = a, 1 - a
        population.append(w)
    fitness = [fit(w) for w in population]
    used = len(population)
    while used < budget:
        f = np.asarray(fitness)
        p = f - f.min() + 1e-6
        p = p / p.sum()
        i, j = rng.choice(len(population), size=2, replace=False, p=p)
        a = fitness[i] / max(fitness[i] + fitness[j], 1e-9) if fitness[i] + fitness[j] > 0 else 0.5
        child = a * population[i] + (1 - a) * population[j]
        mask = rng.random(child.shape) < 0.1
        child = child + mask * rng.normal(0, sigma * 4, child.shape)
        population.append(child)
        fitness.append(fit(child))
        used += 1
        if len(population) > pop:
            worst = int(np.argmin(fitness))
            population.pop(worst)
            fitness.pop(worst)
    best = int(np.argmax(fitness))
    return population[best], fitness[best]
