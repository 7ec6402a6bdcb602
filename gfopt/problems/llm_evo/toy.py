"""A throwaway on-disk fixture for tests and benchmarks: a tiny random Llama, a character tokenizer, random
LoRA experts around one shared adapter and digit-string tasks. Seconds to build; makes no premise true."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from gfopt.problems.llm_evo.zoo.tokenizer import build_tokenizer

CHARS = list("0123456789abcdefghijklmnopqrstuvwxyz:>|=+- ")


def _tasks(root: Path, rng: np.random.Generator, n_valid: int, n_test: int) -> None:
    fns = {"rev": lambda s: s[::-1], "inc": lambda s: "".join(str((int(c) + 1) % 10) for c in s)}
    for name, fn in fns.items():
        d = root / "tasks" / name
        d.mkdir(parents=True)
        for split, n in (("train", n_valid), ("valid", n_valid), ("test", n_test)):
            lines = []
            for _ in range(n):
                s = "".join(str(x) for x in rng.integers(0, 10, rng.integers(2, 6)))
                lines.append(json.dumps({"prompt": f"{name}:{s}>", "answer": fn(s)}))
            (d / f"{split}.jsonl").write_text("\n".join(lines) + "\n")


def _pretrain(model: torch.nn.Module, tok: object, root: Path, steps: int) -> None:
    """A few Adam steps on the toy tasks' train splits so that greedy generation ends with eos."""
    from gfopt.problems.llm_evo.text import encode_pair

    seqs = []
    for name in ("rev", "inc"):
        for line in (root / "tasks" / name / "train.jsonl").read_text().splitlines():
            d = json.loads(line)
            seqs.append(encode_pair(tok, d["prompt"], d["answer"])[0])
    length = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), length), tok.pad_token_id)
    labels = torch.full((len(seqs), length), -100)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
        labels[i, :len(s)] = torch.tensor(s)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        loss = model(input_ids=ids, attention_mask=(labels != -100).long(), labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()


def build_toy(root: str | Path, n_experts: int = 3, seed: int = 0, rank: int = 4, hidden: int = 32,
              layers: int = 2, n_valid: int = 20, n_test: int = 30, train_steps: int = 60) -> Path:
    """Write base/, adapters/shared/, experts/e<k>/, tasks/{rev,inc}/ and a zoo-style manifest.json."""
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    root = Path(root)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    tok = build_tokenizer("".join(CHARS))
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    base = LlamaForCausalLM(cfg)
    _tasks(root, rng, n_valid, n_test)
    _pretrain(base, tok, root, train_steps)
    base.save_pretrained(root / "base")
    tok.save_pretrained(root / "base")
    lcfg = LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=["q_proj", "v_proj", "down_proj"], lora_dropout=0.0)
    model = get_peft_model(base, lcfg)
    lora = [p for n, p in model.named_parameters() if "lora_" in n]
    with torch.no_grad():
        for p in lora:
            p.normal_(0.0, 0.05)
    shared = [p.detach().clone() for p in lora]
    model.save_pretrained(root / "adapters" / "shared")
    experts = {}
    for k in range(n_experts):
        with torch.no_grad():
            for p, s in zip(lora, shared, strict=True):
                p.copy_(s + 0.05 * torch.randn_like(s))
        model.save_pretrained(root / "experts" / f"e{k}")
        experts[f"e{k}"] = f"experts/e{k}"
    manifest = {
        "preset": "toy", "seed": seed, "base": "base", "shared_adapter": "adapters/shared", "experts": experts,
        "tasks": {t: {"dir": f"tasks/{t}", "kind": "generation", "held_out": True} for t in ("rev", "inc")},
        "target_tasks": ["rev"], "build_seconds": 0.0,
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return root


def toy_kwargs(root: str | Path, **over: object) -> dict:
    """`LlmEvoProblem` arguments for a toy dir (user-path mode, no zoo); `over` replaces top-level keys."""
    root = Path(root)
    n = len(json.loads((root / "manifest.json").read_text())["experts"])
    kw: dict = dict(
        model=dict(base=str(root / "base"), experts=[str(root / "experts" / f"e{i}") for i in range(n)],
                   shared_adapter=str(root / "adapters" / "shared")),
        tasks={"rev": {"dir": str(root / "tasks" / "rev")}, "inc": {"dir": str(root / "tasks" / "inc")}},
        target_tasks=["rev"], fitness={"samples": 20}, batch_size=8, baselines=[], threads=1,
    )
    kw.update(over)
    return kw
