"""Build a zoo deterministically from (preset, seed) into a temp dir, then rename it into place atomically."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from gfopt.core.checkpoint import atomic_write_json
from gfopt.problems.llm_evo.zoo.presets import ZOO_VERSION, ZooPreset
from gfopt.problems.llm_evo.zoo.tasks import (
    LETTERS,
    SYMBOLS,
    PretrainMixture,
    choice_records,
    copy_pairs,
    distractors,
    family_pairs,
    make_family,
    sample_focus_strings,
    sample_strings,
)
from gfopt.rundir import pid_alive

log = logging.getLogger("gfopt.llm_evo")


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    """One JSON object per line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def remove_stale_temps(out: Path) -> list[Path]:
    """Delete `.tmp-<name>-<pid>` / `.old-<name>-<pid>` dirs that builds of `out` left when they were stopped
    (their pid is gone); a live build's temp dir is kept."""
    removed = []
    for prefix in (".tmp-", ".old-"):
        for d in out.parent.glob(f"{prefix}{out.name}-*"):
            pid = d.name.rsplit("-", 1)[-1]
            if pid.isdigit() and (int(pid) == os.getpid() or not pid_alive(int(pid))):
                shutil.rmtree(d, ignore_errors=True)
                removed.append(d)
    return removed


class _Phases:
    """Progress of a build: the tqdm bar on a terminal, else one log line per phase (base, adapter, experts)."""

    def __init__(self, bar: Any, show_bar: bool, name: str, total: int) -> None:
        self.bar, self.show_bar, self.name, self.total = bar, show_bar, name, total
        self.done = 0
        self.t0 = time.perf_counter()

    def tick(self, n: int = 1) -> None:
        """One training step done."""
        self.done += n
        self.bar.update(n)

    def phase(self, label: str) -> None:
        self.bar.set_postfix_str(label)
        if not self.show_bar:
            log.info("zoo %s: %s (step %d/%d, %.0f s so far)", self.name, label, self.done, self.total,
                     time.perf_counter() - self.t0)


def _task_splits(
    rng: np.random.Generator, letters: str, sizes: dict[str, int], preset: ZooPreset, probs: np.ndarray | None = None
) -> dict[str, list[str]]:
    """Disjoint train/valid/test input strings over `letters` (drawn with `probs`) and digits."""
    total = sum(sizes.values())
    inputs = sample_strings(rng, letters, total, preset.lengths, preset.letter_prob, probs=probs)
    out, at = {}, 0
    for split, n in sizes.items():
        out[split] = inputs[at : at + n]
        at += n
    return out


def plan_tasks(preset: ZooPreset, seed: int) -> dict[str, Any]:
    """The cipher family, every task's splits, and which experts each held-out task needs (no torch)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    family = make_family(rng, preset.n_groups, preset.group_size)
    expert_names = [f"dom{g:02d}" for g in range(preset.n_groups)]
    tasks: dict[str, dict[str, Any]] = {}
    eval_sizes = {"train": preset.n_expert_train, "valid": preset.n_valid, "test": preset.n_valid}
    shared = _task_splits(rng, LETTERS, eval_sizes, preset)
    tasks["copy"] = {"records": {k: copy_pairs(v) for k, v in shared.items()}, "held_out": False, "experts": []}
    for name, letters in zip(expert_names, family.groups, strict=True):
        inputs = sample_focus_strings(rng, letters, sum(eval_sizes.values()), preset.lengths, preset.letter_prob,
                                      preset.focus_prob)
        at = np.cumsum([0, *eval_sizes.values()])
        records = {split: family_pairs(family, inputs[at[i] : at[i + 1]], letters)
                   for i, split in enumerate(eval_sizes)}
        tasks[name] = {"records": records, "held_out": False, "experts": [name]}
    held_sizes = {"train": preset.n_heldout_train, "valid": preset.n_valid, "test": preset.n_test}
    pool = [int(g) for g in rng.choice(preset.n_groups, size=preset.pool, replace=False)]
    for i, shares in enumerate(preset.held_out):
        members = [m for m, share in enumerate(shares) if share > 0]
        pick = [pool[m] for m in members]
        letters = "".join(family.groups[g] for g in pick)
        probs = np.repeat([shares[m] for m in members], preset.group_size).astype(float)
        splits = _task_splits(rng, letters, held_sizes, preset, probs / probs.sum())
        tasks[f"mix{i}"] = {"records": {k: family_pairs(family, v) for k, v in splits.items()}, "held_out": True,
                            "experts": [expert_names[g] for g in pick],
                            "shares": {expert_names[pool[m]]: shares[m] for m in members}}
    # multiple-choice tasks: their own random stream, so every file above is the same as in a zoo without them
    mc_rng = np.random.default_rng(np.random.SeedSequence([seed, 6]))
    mc_sizes = {"train": preset.n_heldout_train, "valid": preset.mc_valid, "test": preset.n_test}
    for i, shares in enumerate(preset.mc_held_out):
        members = [m for m, share in enumerate(shares) if share > 0]
        groups = [family.groups[pool[m]] for m in members]
        probs = np.repeat([shares[m] for m in members], preset.group_size).astype(float)
        inputs = _choice_inputs(mc_rng, family, groups, sum(mc_sizes.values()), preset, probs / probs.sum())
        at = np.cumsum([0, *mc_sizes.values()])
        tasks[f"mc{i}"] = {
            "records": {split: choice_records(family, inputs[at[j]:at[j + 1]], groups, preset.mc_choices, mc_rng)
                        for j, split in enumerate(mc_sizes)},
            "held_out": True, "kind": "multiple_choice", "samples": preset.mc_valid,
            "experts": [expert_names[pool[m]] for m in members],
            "shares": {expert_names[pool[m]]: shares[m] for m in members}}
    return {"family": family, "expert_names": expert_names, "tasks": tasks}


def _choice_inputs(rng: np.random.Generator, family: Any, groups: list[str], n: int, preset: ZooPreset,
                   probs: np.ndarray) -> list[str]:
    """n distinct inputs over the groups' letters (drawn with `probs`) that have enough distinct distractors."""
    letters = "".join(groups)
    out: list[str] = []
    for _ in range(100):
        fresh = sample_strings(rng, letters, n, preset.lengths, preset.letter_prob, exclude=set(out), probs=probs)
        out += [s for s in fresh if len(distractors(family, s, groups, preset.mc_choices)) >= preset.mc_choices - 1]
        if len(out) >= n:
            return out[:n]
    raise RuntimeError(f"cannot draw {n} multiple-choice inputs over {letters!r}; widen lengths or lower mc_choices")


def build_zoo(preset: ZooPreset, seed: int, out: Path, progress: bool = True) -> Path:
    """Build the zoo of `preset` with `seed` into `out` atomically; an older zoo at `out` is replaced."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, LlamaConfig

    from gfopt.problems.llm_evo.models import quiet_loading
    from gfopt.problems.llm_evo.zoo.tokenizer import build_tokenizer
    from gfopt.problems.llm_evo.zoo.training import (
        LORA_TARGETS,
        collate,
        lora_b_names,
        train_expert_delta,
        train_full,
        train_lora,
    )

    t0 = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    for stale in remove_stale_temps(out):
        log.info("removed %s, left by a stopped build", stale)
    tmp = out.parent / f".tmp-{out.name}-{os.getpid()}"
    plan = plan_tasks(preset, seed)
    tasks = plan["tasks"]
    for name, task in tasks.items():
        for split, records in task["records"].items():
            write_jsonl(tmp / "tasks" / name / f"{split}.jsonl", records)

    tokenizer = build_tokenizer(SYMBOLS)
    tokenizer.save_pretrained(tmp / "base")
    total = preset.base_steps + preset.shared_steps + preset.n_groups * preset.expert_steps
    from tqdm.auto import tqdm

    from gfopt.core.callbacks import progress_enabled

    shown = progress and progress_enabled("auto")
    bar = tqdm(total=total, desc=f"zoo {preset.name}-s{seed}", unit="step", disable=not shown)
    phases = _Phases(bar, shown, f"{preset.name}-s{seed}", total)
    tick = phases.tick

    # 1. base model: a small Llama pre-trained on the mixture (copy, reverse, four unrelated ciphers)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=preset.hidden, intermediate_size=preset.intermediate,
        num_hidden_layers=preset.layers, num_attention_heads=preset.heads, num_key_value_heads=preset.heads,
        max_position_embeddings=64, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True, rope_theta=1000.0,
    )
    model = AutoModelForCausalLM.from_config(config)
    mixture = PretrainMixture(np.random.default_rng(np.random.SeedSequence([seed, 2])), preset.pretrain_lengths)
    phases.phase("pre-training the base model")
    train_full(model, lambda _: collate(tokenizer, mixture.sample(preset.base_batch)), preset.base_steps,
               preset.base_lr, tick)
    model.save_pretrained(tmp / "base")
    n_params = int(sum(p.numel() for p in model.parameters()))

    # 2. shared starting adapter: the family marker with identity answers on all letters (solves no held-out task)
    def sampler(records: list[dict[str, str]], batch: int, key: int) -> Any:
        rng = np.random.default_rng(np.random.SeedSequence([seed, 3, key]))
        return lambda _: collate(tokenizer, [records[i] for i in rng.integers(len(records), size=batch)])

    torch.manual_seed(seed + 1)
    lora = LoraConfig(r=preset.lora_rank, lora_alpha=preset.lora_alpha, target_modules=LORA_TARGETS,
                      lora_dropout=0.0, bias="none", task_type="CAUSAL_LM")
    with quiet_loading():
        peft_model = get_peft_model(model, lora)
    phases.phase("training the shared adapter")
    train_lora(peft_model, sampler(tasks["copy"]["records"]["train"], preset.expert_batch, 0),
               preset.shared_steps, preset.shared_lr, tick)
    peft_model.save_pretrained(tmp / "adapters" / "shared")

    # 3. experts: B-only fine-tunes of the shared adapter, one input domain (letter group) each
    params = dict(peft_model.named_parameters())
    start_b = {n: params[n].detach().clone() for n in lora_b_names(peft_model)}
    for p in peft_model.parameters():
        p.requires_grad_(False)
    for k, name in enumerate(plan["expert_names"]):
        phases.phase(f"training expert {name} ({k + 1}/{len(plan['expert_names'])})")
        gen = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, 4, k]).generate_state(1)[0]))
        trained = train_expert_delta(
            peft_model, start_b, sampler(tasks[name]["records"]["train"], preset.expert_batch, k + 1),
            preset.expert_steps, preset.expert_lr, preset.scale_min, gen, tick)
        with torch.no_grad():
            for n, b in trained.items():
                params[n].copy_(b)
        peft_model.save_pretrained(tmp / "experts" / name)
    with torch.no_grad():
        for n, b in start_b.items():
            params[n].copy_(b)
    phases.phase("writing the manifest")
    bar.close()

    family = plan["family"]
    manifest = {
        "preset": preset.name,
        "seed": seed,
        "zoo_version": ZOO_VERSION,
        "base": "base",
        "shared_adapter": "adapters/shared",
        "experts": {name: f"experts/{name}" for name in plan["expert_names"]},
        "tasks": {name: {"dir": f"tasks/{name}", "kind": t.get("kind", "generation"), "held_out": t["held_out"],
                         **({"samples": t["samples"]} if "samples" in t else {})}
                  for name, t in tasks.items()},
        "target_tasks": [name for name, t in tasks.items() if t["held_out"]],
        "experts_needed": {name: t["experts"] for name, t in tasks.items() if t["held_out"]},
        "letter_shares": {name: t["shares"] for name, t in tasks.items() if t["held_out"]},
        "family": {"cipher": "".join(family.cipher[c] for c in LETTERS), "letters": LETTERS,
                   "groups": dict(zip(plan["expert_names"], family.groups, strict=True))},
        "model": {"parameters": n_params, "architecture": "LlamaForCausalLM", "hidden": preset.hidden,
                  "layers": preset.layers, "lora_rank": preset.lora_rank},
        "torch_threads": torch.get_num_threads(),
        "build_seconds": round(time.perf_counter() - t0, 2),
    }
    atomic_write_json(tmp / "manifest.json", manifest)
    _swap_into_place(tmp, out)
    return out


def _swap_into_place(tmp: Path, out: Path) -> None:
    """Rename the finished temp dir to `out`; a stale `out` is moved aside first, a current one wins."""
    if out.exists():
        try:
            current = json.loads((out / "manifest.json").read_text()).get("zoo_version") == ZOO_VERSION
        except (OSError, ValueError):
            current = False
        if current:  # another process finished the same zoo first
            shutil.rmtree(tmp, ignore_errors=True)
            return
        old = out.parent / f".old-{out.name}-{os.getpid()}"
        os.rename(out, old)
        shutil.rmtree(old, ignore_errors=True)
    os.rename(tmp, out)
