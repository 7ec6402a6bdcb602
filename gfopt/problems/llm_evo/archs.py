"""Small causal LMs of the common architectures, built from their transformers configs with random weights, and
random PEFT LoRA experts for them: fixtures for per-architecture tests and the mechanics benchmark.

Nothing here is trained: these check that layouts, in-place swaps and folds are right on every architecture
(Llama/Mistral/Qwen2 `q_proj`..., GPT-2's Conv1D `c_attn` with `fan_in_fan_out`, Phi, GPT-NeoX
`query_key_value`), not that a model is any good.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch


@dataclass(frozen=True)
class Arch:
    """How to build one architecture small: its config class, size keys and LoRA target modules."""

    config: str  # transformers config class name
    targets: tuple[str, ...]
    fan_in_fan_out: bool = False  # GPT-2's Conv1D stores weights as (in, out)


ARCHS: dict[str, Arch] = {
    "llama": Arch("LlamaConfig", ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")),
    "mistral": Arch("MistralConfig", ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")),
    "qwen2": Arch("Qwen2Config", ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")),
    "gpt2": Arch("GPT2Config", ("c_attn", "c_proj", "c_fc"), fan_in_fan_out=True),
    "phi": Arch("PhiConfig", ("q_proj", "k_proj", "v_proj", "dense", "fc1", "fc2")),
    "gpt_neox": Arch("GPTNeoXConfig", ("query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h")),
}


def make_config(arch: str, vocab_size: int, hidden: int = 32, layers: int = 2, heads: int = 4,
                intermediate: int | None = None, max_positions: int = 128, **special: Any) -> Any:
    """A transformers config of `arch` with the given sizes (`special`: bos/eos/pad token ids)."""
    import transformers

    cls = getattr(transformers, ARCHS[arch].config)
    inter = intermediate or 4 * hidden
    if arch == "gpt2":
        return cls(vocab_size=vocab_size, n_embd=hidden, n_layer=layers, n_head=heads, n_inner=inter,
                   n_positions=max_positions, **special)
    kw: dict[str, Any] = dict(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=layers,
                              num_attention_heads=heads, intermediate_size=inter, max_position_embeddings=max_positions)
    if arch in ("llama", "mistral", "qwen2"):
        kw["num_key_value_heads"] = max(1, heads // 2)
    return cls(**kw, **special)


def build_base(arch: str, directory: str | Path, hidden: int = 32, layers: int = 2, heads: int = 4,
               intermediate: int | None = None, seed: int = 0, tokenizer: Any = None,
               vocab_size: int | None = None) -> Path:
    """Save a random-weight `arch` model (and `tokenizer`, default the toy character tokenizer) to `directory`."""
    from transformers import AutoModelForCausalLM

    from gfopt.problems.llm_evo.toy import CHARS
    from gfopt.problems.llm_evo.zoo.tokenizer import build_tokenizer

    tok = tokenizer if tokenizer is not None else build_tokenizer("".join(CHARS))
    special = dict(bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    cfg = make_config(arch, vocab_size or len(tok), hidden, layers, heads, intermediate, **special)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(cfg)
    d = Path(directory)
    model.save_pretrained(d)
    tok.save_pretrained(d)
    return d


def make_expert(base_dir: str | Path, directory: str | Path, arch: str, r: int = 4, alpha: float = 8,
                use_rslora: bool = False, seed: int = 0, std: float = 0.1, dtype: torch.dtype = torch.float32,
                **lora: Any) -> Path:
    """Save a PEFT LoRA adapter with random A and B (so its delta is not zero) for the base in `base_dir`."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    a = ARCHS[arch]
    model = AutoModelForCausalLM.from_pretrained(str(base_dir))
    cfg = LoraConfig(r=r, lora_alpha=alpha, use_rslora=use_rslora, target_modules=list(a.targets),
                     fan_in_fan_out=a.fan_in_fan_out, lora_dropout=0.0, **lora)
    peft_model = get_peft_model(model, cfg)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_" in name:
                p.copy_(std * torch.randn(p.shape, generator=gen))
    peft_model.to(dtype)
    d = Path(directory)
    peft_model.save_pretrained(d)
    return d
