"""Batching and the three training stages of the zoo: base pre-training, the shared adapter, the experts.

Experts are B-only fine-tunes of the shared adapter (A stays shared), trained with their delta scaled by a random
factor in [scale_min, 1] so that a merge giving an expert only part of the weight still carries its skill.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from gfopt.problems.llm_evo.text import encode_pair

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def collate(tokenizer: Any, records: Sequence[dict[str, str]]) -> dict[str, torch.Tensor]:
    """Right-padded input ids, attention mask and labels (-100 except on answer tokens and eos)."""
    encoded = [encode_pair(tokenizer, r["prompt"], r["answer"]) for r in records]
    width = max(len(ids) for ids, _ in encoded)
    pad = tokenizer.pad_token_id
    input_ids = torch.full((len(encoded), width), pad, dtype=torch.long)
    labels = torch.full((len(encoded), width), -100, dtype=torch.long)
    mask = torch.zeros((len(encoded), width), dtype=torch.long)
    for i, (ids, start) in enumerate(encoded):
        input_ids[i, : len(ids)] = torch.tensor(ids)
        labels[i, start : len(ids)] = torch.tensor(ids[start:])
        mask[i, : len(ids)] = 1
    return {"input_ids": input_ids, "attention_mask": mask, "labels": labels}


def answer_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy over the scored (answer + eos) positions."""
    return torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100
    )


def _adam_loop(
    params: list[torch.Tensor], steps: int, lr: float, loss_at: Callable[[int], torch.Tensor],
    tick: Callable[[], None], weight_decay: float = 0.0,
) -> None:
    """AdamW with linear warm-up (10%) and cosine decay; `loss_at(step)` returns the loss to minimise."""
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, betas=(0.9, 0.98))
    warm = max(1, steps // 10)

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + np.cos(np.pi * (step - warm) / max(1, steps - warm))) * 0.9 + 0.1

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    for step in range(steps):
        loss = loss_at(step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        tick()


def train_full(
    model: Any, sample_batch: Callable[[int], dict[str, torch.Tensor]], steps: int, lr: float,
    tick: Callable[[], None],
) -> None:
    """Pre-train every weight of the base model on batches from `sample_batch(step)`."""
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]

    def loss_at(step: int) -> torch.Tensor:
        b = sample_batch(step)
        return answer_loss(model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits, b["labels"])

    _adam_loop(params, steps, lr, loss_at, tick, weight_decay=0.01)
    model.eval()


def train_lora(
    peft_model: Any, sample_batch: Callable[[int], dict[str, torch.Tensor]], steps: int, lr: float,
    tick: Callable[[], None],
) -> None:
    """Train the LoRA A and B matrices of the active adapter (the shared starting adapter)."""
    peft_model.train()
    params = [p for n, p in peft_model.named_parameters() if "lora_" in n]
    for p in params:
        p.requires_grad_(True)

    def loss_at(step: int) -> torch.Tensor:
        b = sample_batch(step)
        out = peft_model(input_ids=b["input_ids"], attention_mask=b["attention_mask"])
        return answer_loss(out.logits, b["labels"])

    _adam_loop(params, steps, lr, loss_at, tick)
    peft_model.eval()


def lora_b_names(peft_model: Any) -> list[str]:
    """Names of the LoRA B weights of the live PEFT model, in module order."""
    return [n for n, _ in peft_model.named_parameters() if "lora_B" in n]


def train_expert_delta(
    peft_model: Any, start_b: dict[str, torch.Tensor], sample_batch: Callable[[int], dict[str, torch.Tensor]],
    steps: int, lr: float, scale_min: float, generator: torch.Generator, tick: Callable[[], None],
) -> dict[str, torch.Tensor]:
    """Learn dB on top of the shared B (A frozen), training at B = B_shared + s * dB with s ~ U[scale_min, 1]."""
    from torch.func import functional_call

    peft_model.eval()  # no dropout; gradients still flow through functional_call
    delta = {n: torch.zeros_like(b, requires_grad=True) for n, b in start_b.items()}

    def loss_at(step: int) -> torch.Tensor:
        b = sample_batch(step)
        s = scale_min + (1 - scale_min) * float(torch.rand((), generator=generator))
        weights = {n: start_b[n] + s * delta[n] for n in start_b}
        out = functional_call(peft_model, weights, args=(), kwargs={
            "input_ids": b["input_ids"], "attention_mask": b["attention_mask"]})
        return answer_loss(out.logits, b["labels"])

    _adam_loop(list(delta.values()), steps, lr, loss_at, tick)
    return {n: (start_b[n] + d).detach() for n, d in delta.items()}
